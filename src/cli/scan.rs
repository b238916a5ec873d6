//! `mailpatrol scan` and `mailpatrol demo`: load the profile, apply command-line overrides,
//! run the scan with a progress bar and Ctrl-C handling, write the reports, print the summary
//! and choose the exit code.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use tokio::sync::watch;
use url::Url;

use super::progress::Bar;
use super::{Exit, report_error};
use mailpatrol::classify::Classifier;
use mailpatrol::crawl::fetch::Resolve;
use mailpatrol::model::{ScanRun, Severity};
use mailpatrol::profile::{Mode, Profile};
use mailpatrol::report::{self, Lang};
use mailpatrol::scan::{FolderOptions, ScanOptions, ScanResult, scan, scan_folder};
use mailpatrol::store::Store;

/// Report language.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LangArg {
    /// Chinese headers and class names.
    Zh,
    /// English.
    En,
}

/// The severity that makes `--fail-on` exit with 1.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum FailOn {
    /// Any finding with severity `violation`.
    Violation,
    /// Any finding with severity `review` or `violation`.
    Review,
}

/// Where and how reports are written.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Folder for reports; each run gets a dated subfolder.
    #[arg(long, short, default_value = "reports")]
    out: PathBuf,
    /// The state database that remembers every run [default: OUT/state.sqlite].
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Language of report headers and class names.
    #[arg(long, value_enum, default_value = "zh")]
    lang: LangArg,
    /// Exit with code 1 when a finding of this severity (or worse) exists.
    #[arg(long, value_enum)]
    fail_on: Option<FailOn>,
    /// Also write summary.xlsx (a summary sheet and a sheet per department).
    #[arg(long)]
    xlsx: bool,
    /// Also write an Excel workbook beside each department's CSV.
    #[arg(long)]
    department_xlsx: bool,
}

/// Crawl settings that override the profile's `[crawl]` table for this run.
#[derive(Debug, Args)]
pub struct CrawlArgs {
    /// Connect to ADDR for HOST:PORT, as curl's --resolve (ADDR may carry a port:
    /// 127.0.0.1:8080). Repeatable.
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    resolve: Vec<String>,
    /// Fetch at most this many pages.
    #[arg(long)]
    max_pages: Option<u32>,
    /// Follow links at most this deep from a seed.
    #[arg(long)]
    max_depth: Option<u16>,
    /// Skip responses larger than this many bytes.
    #[arg(long)]
    max_bytes: Option<u64>,
    /// Milliseconds between requests to one host.
    #[arg(long)]
    delay_ms: Option<u64>,
    /// Requests in flight at once, overall.
    #[arg(long)]
    concurrency: Option<u32>,
    /// Requests in flight at once, per host.
    #[arg(long)]
    per_host_concurrency: Option<u32>,
    /// Seconds for one request, body included.
    #[arg(long)]
    timeout_secs: Option<u64>,
    /// Retries after a timeout, connection error, 5xx or 429.
    #[arg(long)]
    retries: Option<u32>,
    /// Ignore robots.txt (only with the site owner's permission).
    #[arg(long)]
    no_robots: bool,
    /// Do not read sitemaps.
    #[arg(long)]
    no_sitemaps: bool,
    /// User-Agent header (put a contact address in it).
    #[arg(long)]
    user_agent: Option<String>,
}

/// The optional, costly readers: a browser for script-built pages, OCR for images.
#[derive(Debug, Args)]
pub struct ReaderArgs {
    /// Render pages in headless Chromium: never, auto (pages whose served HTML looks
    /// script-built) or always. Overrides `[render] mode`.
    #[arg(long, value_enum, value_name = "MODE")]
    render: Option<Mode>,
    /// Read images and scanned pages with OCR: never, auto or always. Overrides `[ocr] mode`.
    #[arg(long, value_enum, value_name = "MODE")]
    ocr: Option<Mode>,
}

impl ReaderArgs {
    fn apply(&self, profile: &mut Profile) {
        if let Some(m) = self.render {
            profile.render.mode = m;
        }
        if let Some(m) = self.ocr {
            profile.ocr.mode = m;
        }
    }
}

/// Arguments of `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The institution profile (e.g. rules/ustl.toml).
    #[arg(long, short)]
    profile: PathBuf,
    /// Extra start URL, in addition to the profile's seeds. Repeatable.
    #[arg(long = "seed", value_name = "URL")]
    seeds: Vec<Url>,
    /// Continue the interrupted (or killed) scan of this profile where it stopped.
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    crawl: CrawlArgs,
    #[command(flatten)]
    readers: ReaderArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    readers: ReaderArgs,
    #[command(flatten)]
    output: OutputArgs,
}

impl CrawlArgs {
    fn apply(&self, profile: &mut Profile) {
        let c = &mut profile.crawl;
        if let Some(v) = self.max_pages {
            c.max_pages = v;
        }
        if let Some(v) = self.max_depth {
            c.max_depth = v;
        }
        if let Some(v) = self.max_bytes {
            c.max_bytes = v;
        }
        if let Some(v) = self.delay_ms {
            c.delay_ms = v;
        }
        if let Some(v) = self.concurrency {
            c.concurrency = v.max(1);
        }
        if let Some(v) = self.per_host_concurrency {
            c.per_host_concurrency = v.max(1);
        }
        if let Some(v) = self.timeout_secs {
            c.timeout_secs = v.max(1);
        }
        if let Some(v) = self.retries {
            c.retries = v;
        }
        if self.no_robots {
            c.respect_robots = false;
        }
        if self.no_sitemaps {
            c.sitemaps = false;
        }
        if let Some(v) = &self.user_agent {
            c.user_agent = Some(v.clone());
        }
    }
}

/// `mailpatrol scan`.
pub fn run_scan(args: &ScanArgs, progress: bool) -> Exit {
    let mut profile = match Profile::load(&args.profile) {
        Ok(p) => p,
        Err(e) => {
            report_error(&e);
            eprintln!(
                "hint: see README.md, section \"Writing a profile\", or rules/demo.toml for a complete example"
            );
            return Exit::Config;
        }
    };
    args.crawl.apply(&mut profile);
    args.readers.apply(&mut profile);
    profile.seeds.extend(args.seeds.iter().cloned());
    let resolve: Result<Vec<Resolve>, _> = args.crawl.resolve.iter().map(|r| r.parse()).collect();
    let resolve = match resolve {
        Ok(r) => r,
        Err(e) => {
            report_error(&e);
            return Exit::Config;
        }
    };
    let Some(rt) = runtime() else {
        return Exit::Runtime;
    };
    rt.block_on(execute(
        &profile,
        resolve,
        &args.output,
        progress,
        args.resume,
    ))
}

/// `mailpatrol demo`.
pub fn run_demo(args: &DemoArgs, progress: bool, quiet: bool) -> Exit {
    let mut profile = match mailpatrol::demo::profile() {
        Ok(p) => p,
        Err(e) => {
            report_error(&e);
            return Exit::Config;
        }
    };
    args.readers.apply(&mut profile);
    let Some(rt) = runtime() else {
        return Exit::Runtime;
    };
    rt.block_on(async {
        let server = match mailpatrol::demo::serve().await {
            Ok(s) => s,
            Err(e) => {
                report_error(&e);
                return Exit::Runtime;
            }
        };
        if !quiet {
            eprintln!(
                "Serving the demo university \"{}\" on {} ({} virtual hosts); scanning it now.",
                profile.name,
                server.addr(),
                server.hosts().len()
            );
        }
        let resolve: Vec<Resolve> = server
            .resolve_entries()
            .iter()
            .filter_map(|r| r.parse().ok())
            .collect();
        execute(&profile, resolve, &args.output, progress, false).await
    })
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            report_error(&e);
            None
        }
    }
}

impl OutputArgs {
    /// The state database path.
    pub fn state_path(&self) -> PathBuf {
        self.state
            .clone()
            .unwrap_or_else(|| self.out.join("state.sqlite"))
    }
}

/// Opens the state database, printing a clear error when it cannot be.
pub fn open_store(path: &Path) -> Option<Store> {
    match Store::open(path) {
        Ok(s) => Some(s),
        Err(e) => {
            report_error(&e);
            None
        }
    }
}

async fn execute(
    profile: &Profile,
    resolve: Vec<Resolve>,
    out: &OutputArgs,
    progress: bool,
    resume: bool,
) -> Exit {
    let today = chrono::Local::now().date_naive();
    let classifier = match Classifier::from_profile(profile, today) {
        Ok(c) => c,
        Err(e) => {
            report_error(&e);
            return Exit::Config;
        }
    };
    let Some(store) = open_store(&out.state_path()) else {
        return Exit::Runtime;
    };
    let store = Arc::new(store);
    if !resume && let Ok(Some(run)) = store.resumable_run(&profile.name) {
        eprintln!(
            "note: run {} of this profile (started {}) did not finish; this starts a new scan. Use --resume to continue it instead.",
            run.id, run.started
        );
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\nInterrupted: finishing up and writing what was found so far (press Ctrl-C again to abort)."
            );
            let _ = stop_tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(Exit::Runtime as i32);
            }
        }
    });
    let bar = Bar::new(progress);
    let updater = bar.clone();
    let options = ScanOptions {
        resolve,
        progress: Some(Box::new(move |p| updater.update(p))),
        resume,
    };
    let result = scan(profile, classifier, Arc::clone(&store), options, stop_rx).await;
    bar.finish();
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            report_error(&e);
            return Exit::Runtime;
        }
    };
    deliver(&store, &result, out, &profile.path)
}

/// The trend of a profile's completed runs, for `summary.html`. Without it the page still
/// renders, so a failure here is only logged.
pub fn trend(store: &Store, profile: &str) -> Vec<report::TrendPoint> {
    match store.trend(profile) {
        Ok(points) => points
            .into_iter()
            .map(|(run, day, violations, reviews)| report::TrendPoint {
                run,
                day,
                violations,
                open: violations + reviews,
            })
            .collect(),
        Err(e) => {
            tracing::warn!("cannot read the run history for the trend chart: {e}");
            Vec::new()
        }
    }
}

/// Writes the reports of a finished run, prints the summary and picks the exit code.
fn deliver(store: &Store, result: &ScanResult, out: &OutputArgs, profile: &Path) -> Exit {
    let lang = match out.lang {
        LangArg::Zh => Lang::Zh,
        LangArg::En => Lang::En,
    };
    let run = &result.run;
    let dir = report::run_dir(&out.out, run);
    let clock = std::time::Instant::now();
    let findings = store.findings_of(run);
    let written = match report::write_all(run, &findings, &dir, lang) {
        Ok(w) => w,
        Err(e) => {
            report_error(&e);
            return Exit::Runtime;
        }
    };
    let history = trend(store, &run.profile);
    if let Err(e) = report::write_extra(
        run,
        &findings,
        &written.dir,
        lang,
        &history,
        out.xlsx,
        out.department_xlsx,
    ) {
        report_error(&e);
        return Exit::Runtime;
    }
    tracing::info!(elapsed = ?clock.elapsed(), "reports written");
    if let Err(e) = store.set_report_dir(run.id, &written.dir) {
        report_error(&e);
    }
    print!("{}", report::summary_table(run, lang));
    println!();
    let totals = run.totals();
    println!(
        "Run {}{}: {} pages read ({} parsed, {} unchanged, {} not modified, {} rendered), {} findings ({} new, {} resolved), {} URLs skipped or failed. Reports: {}",
        run.id,
        if result.resumed { " (resumed)" } else { "" },
        run.pages.len(),
        run.counters.extracted,
        run.counters.reused,
        run.counters.not_modified,
        run.counters.rendered,
        run.current(),
        totals.new,
        totals.resolved,
        run.problems.len(),
        written.dir.display()
    );
    exit_code(run, &result.outcome, out.fail_on, &written.dir, profile)
}

/// Arguments of `files`.
#[derive(Debug, Args)]
pub struct FilesArgs {
    /// The folder of uploaded notice documents (any nesting; each top-level sub-folder is a
    /// department, or the department that lists it in `folders`).
    dir: PathBuf,
    /// The institution profile (e.g. rules/ustl.toml).
    #[arg(long, short)]
    profile: PathBuf,
    /// Read at most this many files.
    #[arg(long, default_value_t = 100_000)]
    max_files: usize,
    /// Read images and scans without a text layer with OCR: never, auto or always.
    /// Overrides `[ocr] mode`.
    #[arg(long, value_enum, value_name = "MODE")]
    ocr: Option<Mode>,
    #[command(flatten)]
    output: OutputArgs,
}

/// `mailpatrol files`.
pub fn run_files(args: &FilesArgs, progress: bool) -> Exit {
    let mut profile = match Profile::load(&args.profile) {
        Ok(p) => p,
        Err(e) => {
            report_error(&e);
            return Exit::Config;
        }
    };
    if let Some(m) = args.ocr {
        profile.ocr.mode = m;
    }
    let today = chrono::Local::now().date_naive();
    let classifier = match Classifier::from_profile(&profile, today) {
        Ok(c) => c,
        Err(e) => {
            report_error(&e);
            return Exit::Config;
        }
    };
    let Some(store) = open_store(&args.output.state_path()) else {
        return Exit::Runtime;
    };
    let store = Arc::new(store);
    let bar = Bar::new(progress);
    let updater = bar.clone();
    let options = FolderOptions {
        max_files: args.max_files,
        progress: Some(Box::new(move |p| updater.update(p))),
        ..FolderOptions::default()
    };
    let result = scan_folder(&profile, classifier, &store, &args.dir, options);
    bar.finish();
    match result {
        Ok(r) => deliver(&store, &r, &args.output, &profile.path),
        Err(e) => {
            report_error(&e);
            Exit::Runtime
        }
    }
}

fn exit_code(
    run: &ScanRun,
    outcome: &mailpatrol::crawl::CrawlOutcome,
    fail_on: Option<FailOn>,
    dir: &Path,
    profile: &Path,
) -> Exit {
    if outcome.interrupted {
        eprintln!(
            "The scan was interrupted; the reports in {} are partial. To continue where it stopped: mailpatrol scan --profile {} --resume",
            dir.display(),
            profile.display()
        );
        return Exit::Runtime;
    }
    if run.pages.is_empty() {
        let first = run.problems.first().map_or_else(String::new, |p| {
            format!(" First problem: {} — {}.", p.url, p.detail)
        });
        // Upload-folder runs are named "<profile> [files]" (scan::folder).
        let hint = if run.profile.ends_with(" [files]") {
            "Check that the folder holds the notice files and that they are readable"
        } else {
            "Check the seeds, the network or proxy (http_proxy / https_proxy)"
        };
        eprintln!(
            "error: nothing could be read, so nothing was audited.{first} {hint}, and see {}/errors.csv.",
            dir.display()
        );
        return Exit::Runtime;
    }
    if !outcome.complete {
        eprintln!(
            "warning: the crawl stopped at a limit (see errors.csv, code page-limit); raise crawl.max_pages to cover the whole site."
        );
    }
    let threshold = match fail_on {
        None => return Exit::Ok,
        Some(FailOn::Violation) => Severity::Violation,
        Some(FailOn::Review) => Severity::Review,
    };
    if run.at_least(threshold) > 0 {
        Exit::FailOn
    } else {
        Exit::Ok
    }
}
