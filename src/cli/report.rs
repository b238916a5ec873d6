//! `mailpatrol report`: writes the reports of any stored run again, in any format.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use mailpatrol::attribute::Attributor;
use mailpatrol::profile::Profile;
use mailpatrol::report::{self, Lang};

use super::history::{StateArgs, load_run};
use super::scan::trend;
use super::{Exit, report_error};

/// Which files to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Department CSVs, summary.csv, errors.csv and findings.json.
    Csv,
    /// Same as csv (findings.json is written with the CSVs).
    Json,
    /// summary.html.
    Html,
    /// summary.xlsx and a workbook per department.
    Xlsx,
}

/// Arguments of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run: `latest` (the latest completed run) or its number.
    #[arg(long, default_value = "latest")]
    run: String,
    /// Formats to write (repeatable or comma-separated) [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    format: Vec<Format>,
    /// The profile, to list its configured departments even when they have nothing.
    #[arg(long, short)]
    profile: Option<PathBuf>,
    #[command(flatten)]
    state: StateArgs,
    /// Where to write [default: a new dated folder under OUT].
    #[arg(long, value_name = "DIR")]
    to: Option<PathBuf>,
    /// Language of headers and class names.
    #[arg(long, value_parser = ["zh", "en"], default_value = "zh")]
    lang: String,
}

/// Regenerates a stored run's reports.
pub fn run(args: &ReportArgs) -> Exit {
    let attributor = match &args.profile {
        Some(p) => match Profile::load(p) {
            Ok(p) => Attributor::new(&p),
            Err(e) => {
                report_error(&e);
                return Exit::Config;
            }
        },
        None => Attributor::default(),
    };
    let Some(store) = args.state.open() else {
        return Exit::Runtime;
    };
    let Some(run) = load_run(&store, &args.run, &attributor) else {
        return Exit::Runtime;
    };
    let lang = if args.lang == "en" {
        Lang::En
    } else {
        Lang::Zh
    };
    let all = args.format.is_empty();
    let want = |f: Format| all || args.format.contains(&f);
    let dir = args
        .to
        .clone()
        .unwrap_or_else(|| report::run_dir(&args.state.out, &run));
    let mut files = Vec::new();
    if want(Format::Csv) || want(Format::Json) {
        match report::write_all(&run, &store.findings_of(&run), &dir, lang) {
            Ok(w) => files.extend(w.files),
            Err(e) => {
                report_error(&e);
                return Exit::Runtime;
            }
        }
    }
    if want(Format::Html) || want(Format::Xlsx) {
        let history = trend(&store, &run.profile);
        let xlsx = want(Format::Xlsx);
        match report::write_extra(
            &run,
            &store.findings_of(&run),
            &dir,
            lang,
            &history,
            xlsx,
            xlsx,
        ) {
            Ok(f) => files.extend(f),
            Err(e) => {
                report_error(&e);
                return Exit::Runtime;
            }
        }
    }
    println!(
        "Run {} ({}): {} files written to {}",
        run.id,
        run.started.to_rfc3339(),
        files.len(),
        dir.display()
    );
    Exit::Ok
}
