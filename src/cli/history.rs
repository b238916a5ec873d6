//! `mailpatrol diff` (what changed between two runs) and `mailpatrol prune` (retention).

use std::path::{Path, PathBuf};

use chrono::{Duration, Local, NaiveDate};
use clap::{Args, ValueEnum};

use super::scan::open_store;
use super::{Exit, report_error};
use mailpatrol::attribute::Attributor;
use mailpatrol::model::{Finding, RunCounters, ScanRun};
use mailpatrol::scan::load;
use mailpatrol::store::diff::{Delta, diff};
use mailpatrol::store::{RunInfo, Store};

/// Where the history lives.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// The reports folder.
    #[arg(long, short, default_value = "reports")]
    pub out: PathBuf,
    /// The state database [default: OUT/state.sqlite].
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
}

impl StateArgs {
    /// Opens the existing state database, or says clearly that there is none.
    pub fn open(&self) -> Option<Store> {
        let path = self
            .state
            .clone()
            .unwrap_or_else(|| self.out.join("state.sqlite"));
        if !path.is_file() {
            eprintln!(
                "error: no state database at {}; run a scan first, or point --out/--state at the folder of an earlier one",
                path.display()
            );
            return None;
        }
        open_store(&path)
    }
}

/// The run `which` names: `latest` (the latest completed run) or a run number. When there is
/// none, says so with the runs the database holds.
pub fn pick_run(store: &Store, which: &str) -> Option<RunInfo> {
    let runs = match store.runs() {
        Ok(r) => r,
        Err(e) => {
            report_error(&e);
            return None;
        }
    };
    let found = if which == "latest" {
        runs.iter().rev().find(|r| r.completed)
    } else {
        which
            .parse::<i64>()
            .ok()
            .and_then(|id| runs.iter().find(|r| r.id == id))
    };
    if found.is_none() {
        let known: Vec<String> = runs.iter().map(|r| r.id.to_string()).collect();
        eprintln!(
            "error: no run {which:?} in {}; runs there: {}",
            store.path().display(),
            known.join(", ")
        );
    }
    found.cloned()
}

/// Loads the run `which` names (see [`pick_run`]) with its statuses, departments named by
/// `attributor`; prints the error and returns `None` when it cannot.
pub fn load_run(store: &Store, which: &str, attributor: &Attributor) -> Option<ScanRun> {
    let info = pick_run(store, which)?;
    let started = chrono::DateTime::parse_from_rfc3339(&info.started)
        .map_or_else(|_| Local::now(), |t| t.with_timezone(&Local));
    match load(
        store,
        info.id,
        &info.profile,
        attributor,
        RunCounters::default(),
        started,
    ) {
        Ok(r) => Some(r),
        Err(e) => {
            report_error(&e);
            None
        }
    }
}

/// Output format of `diff`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum DiffFormat {
    /// A Markdown report.
    Md,
    /// JSON, for other tools.
    Json,
}

/// Arguments of `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    state: StateArgs,
    /// The earlier run [default: the completed run before --to].
    #[arg(long, value_name = "RUN")]
    from: Option<i64>,
    /// The later run [default: the latest completed run].
    #[arg(long, value_name = "RUN")]
    to: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    format: DiffFormat,
    /// Also write the changes to this file.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Arguments of `prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    state: StateArgs,
    /// Keep runs and report folders from the last N days (notices require 100 or more).
    #[arg(long, default_value_t = 100)]
    keep_days: u32,
    /// Say what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
}

fn day(r: &RunInfo) -> String {
    r.started.get(..10).unwrap_or(&r.started).to_string()
}

fn markdown(delta: &Delta, runs: &[RunInfo]) -> String {
    let label = |id: Option<i64>| match id.and_then(|id| runs.iter().find(|r| r.id == id)) {
        Some(r) => format!("run {} ({})", r.id, day(r)),
        None => "nothing (first run)".to_string(),
    };
    let mut s = format!(
        "# Changes from {} to {}\n\nNew: {}, resolved: {}, unchanged: {}\n",
        label(delta.from),
        label(Some(delta.to)),
        delta.new.len(),
        delta.resolved.len(),
        delta.unchanged
    );
    for (title, list) in [("New", &delta.new), ("Resolved", &delta.resolved)] {
        s.push_str("\n## ");
        s.push_str(title);
        s.push_str("\n\n");
        if list.is_empty() {
            s.push_str("None.\n");
            continue;
        }
        s.push_str("| department | address | class | severity | page | first seen |\n|---|---|---|---|---|---|\n");
        for f in list {
            s.push_str(&row(f));
        }
    }
    s
}

fn row(f: &Finding) -> String {
    // Table cells come from crawled pages: keep them on one line and without pipes.
    let cell = |t: &str| t.replace(['|', '\n', '\r'], " ");
    format!(
        "| {} | {} | {} | {} | {} | {} |\n",
        cell(&f.department.0),
        f.email,
        f.class.as_str(),
        f.severity.as_str(),
        cell(f.page.as_str()),
        f.first_seen
    )
}

/// `mailpatrol diff`.
pub fn run_diff(args: &DiffArgs) -> Exit {
    let Some(store) = args.state.open() else {
        return Exit::Runtime;
    };
    let runs = match store.runs() {
        Ok(r) => r,
        Err(e) => {
            report_error(&e);
            return Exit::Runtime;
        }
    };
    let to = args
        .to
        .or_else(|| runs.iter().rev().find(|r| r.completed).map(|r| r.id));
    let Some(to) = to.filter(|id| runs.iter().any(|r| r.id == *id)) else {
        eprintln!(
            "error: no such run; runs in this database: {}",
            runs.iter()
                .map(|r| r.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Exit::Runtime;
    };
    if let Some(from) = args.from
        && !runs.iter().any(|r| r.id == from)
    {
        eprintln!("error: there is no run {from} in this database");
        return Exit::Runtime;
    }
    let delta = match diff(&store, args.from, to) {
        Ok(d) => d,
        Err(e) => {
            report_error(&e);
            return Exit::Runtime;
        }
    };
    let text = match args.format {
        DiffFormat::Md => markdown(&delta, &runs),
        DiffFormat::Json => {
            let json = serde_json::json!({
                "from": delta.from, "to": delta.to, "unchanged": delta.unchanged,
                "new": delta.new, "resolved": delta.resolved,
            });
            format!(
                "{}\n",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            )
        }
    };
    print!("{text}");
    if let Some(path) = &args.output
        && let Err(e) = std::fs::write(path, &text)
    {
        eprintln!("error: cannot write {}: {e}", path.display());
        return Exit::Runtime;
    }
    Exit::Ok
}

/// The date a report folder is named after (`2026-11-24` or `2026-11-24_2`).
fn folder_day(name: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(name.get(..10)?, "%Y-%m-%d").ok()
}

/// `mailpatrol prune`.
pub fn run_prune(args: &PruneArgs) -> Exit {
    let Some(store) = args.state.open() else {
        return Exit::Runtime;
    };
    let cutoff = Local::now() - Duration::days(i64::from(args.keep_days));
    if args.keep_days < 100 {
        eprintln!(
            "warning: keeping less than 100 days; the notices require 100 days or more of records"
        );
    }
    let runs = match store.runs() {
        Ok(r) => r,
        Err(e) => {
            report_error(&e);
            return Exit::Runtime;
        }
    };
    // Report folders of runs the store keeps are kept whatever their age.
    let kept_dirs: Vec<PathBuf> = runs
        .iter()
        .filter_map(|r| r.report_dir.as_ref().map(PathBuf::from))
        .collect();
    let old_dirs: Vec<PathBuf> = std::fs::read_dir(&args.state.out)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .and_then(folder_day)
                        .is_some_and(|d| d < cutoff.date_naive())
                })
                .collect()
        })
        .unwrap_or_default();
    if args.dry_run {
        let old_runs = runs
            .iter()
            .filter(|r| r.started.as_str() < cutoff.to_rfc3339().as_str())
            .count();
        println!(
            "Would remove {} report folders and up to {old_runs} runs older than {}.",
            old_dirs.len(),
            cutoff.date_naive()
        );
        for d in &old_dirs {
            println!("  {}", d.display());
        }
        return Exit::Ok;
    }
    let removed = match store.prune(cutoff) {
        Ok(r) => r,
        Err(e) => {
            report_error(&e);
            return Exit::Runtime;
        }
    };
    let still_kept: Vec<PathBuf> = kept_dirs
        .into_iter()
        .filter(|d| {
            !removed
                .iter()
                .any(|r| r.report_dir.as_deref() == d.to_str())
        })
        .collect();
    let mut folders = 0;
    for d in old_dirs
        .iter()
        .filter(|d| !still_kept.iter().any(|k| same(k, d)))
    {
        match std::fs::remove_dir_all(d) {
            Ok(()) => folders += 1,
            Err(e) => eprintln!("warning: cannot remove {}: {e}", d.display()),
        }
    }
    println!(
        "Removed {} runs and {folders} report folders older than {} (open findings and the latest completed run are always kept).",
        removed.len(),
        cutoff.date_naive()
    );
    Exit::Ok
}

fn same(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
