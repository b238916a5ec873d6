//! Command-line interface: clap types, logging and progress on stderr, wiring the library's
//! stages together, and exit codes. Nothing here parses HTML, matches domains or formats CSV.

mod classify;
mod history;
mod progress;
mod report;
mod scan;
mod schedule;
mod send;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Exit codes, documented in README and `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The run finished (findings are the normal output of an audit).
    Ok = 0,
    /// The run finished and `--fail-on` was met.
    FailOn = 1,
    /// Runtime error, or the scan could not complete.
    Runtime = 2,
    /// Invalid profile or rules.
    Config = 3,
}

const AFTER_HELP: &str = "\
Exit codes:
  0  the run finished (findings are the normal output of an audit)
  1  the run finished and --fail-on was met
  2  runtime error, or the scan could not complete (interrupted, nothing readable)
  3  invalid profile or rules

Logs go to stderr (-v, -vv, or RUST_LOG=mailpatrol=debug); reports go to files.";

/// Audit where an organisation publishes email addresses: crawl its sites, find every
/// published address, flag free webmail and other non-institutional mail, per department.
#[derive(Debug, Parser)]
#[command(name = "mailpatrol", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors on stderr, no progress bar.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Never draw a progress bar (it is hidden anyway when stderr is not a terminal).
    #[arg(long, global = true)]
    no_progress: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Crawl an institution's sites and write the reports.
    Scan(scan::ScanArgs),
    /// Scan a folder of uploaded notice documents (PDF, Office, OFD, archives, ...).
    Files(scan::FilesArgs),
    /// Serve the bundled demo university on 127.0.0.1 and scan it end to end.
    Demo(scan::DemoArgs),
    /// Print the class of each address and the rule that decided it.
    Classify(classify::ClassifyArgs),
    /// Write the reports of a stored run again, in any format.
    Report(report::ReportArgs),
    /// Email each department its own report of a stored run (or write .eml files).
    Send(send::SendArgs),
    /// Show what changed between two runs: new and resolved findings.
    Diff(history::DiffArgs),
    /// Remove runs and report folders older than the retention period.
    Prune(history::PruneArgs),
    /// Print a systemd timer or a cron line for the weekly scan.
    Schedule(schedule::ScheduleArgs),
}

/// Parses arguments, runs, and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let progress = !cli.quiet && !cli.no_progress;
    let exit = match cli.command {
        Command::Scan(args) => scan::run_scan(&args, progress),
        Command::Files(args) => scan::run_files(&args, progress),
        Command::Demo(args) => scan::run_demo(&args, progress, cli.quiet),
        Command::Classify(args) => classify::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Send(args) => send::run(&args),
        Command::Diff(args) => history::run_diff(&args),
        Command::Prune(args) => history::run_prune(&args),
        Command::Schedule(args) => schedule::run(&args),
    };
    ExitCode::from(exit as u8)
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "mailpatrol=info,warn",
        (false, 2) => "mailpatrol=debug,info",
        _ => "trace",
    };
    // chromiumoxide logs the browser's connection ending as an error when mailpatrol stops
    // the browser on purpose; its real failures reach us as render errors.
    let level = format!("{level},chromiumoxide=off");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// Prints an error with its causes to stderr.
fn report_error(e: &dyn std::error::Error) {
    eprintln!("error: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        eprintln!("  caused by: {s}");
        source = s.source();
    }
}
