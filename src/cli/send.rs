//! `mailpatrol send`: emails each department its own report of a stored run, or writes the
//! messages as `.eml` files with `--dry-run`. Reads the SMTP password from the environment or
//! a file only; the library's `deliver` builds, sends and records.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use mailpatrol::attribute::Attributor;
use mailpatrol::deliver::{self, AttachKind, Options, Sink};
use mailpatrol::profile::Profile;
use mailpatrol::report::Lang;

use super::history::{StateArgs, load_run};
use super::{Exit, report_error};

const SEND_HELP: &str = "\
SMTP (--smtp-url or MAILPATROL_SMTP_URL):
  smtp://HOST[:25]                     plain SMTP, for a relay on this machine or network
  smtp://HOST[:587]?tls=required       STARTTLS, refused if the server does not offer it
  smtp://HOST[:587]?tls=opportunistic  STARTTLS when offered, else plain
  smtps://HOST[:465]                   TLS from the first byte

Credentials: the user from the URL (smtps://USER@HOST) or MAILPATROL_SMTP_USER; the password
from MAILPATROL_SMTP_PASSWORD or --password-file, never from the command line (a password in
the URL is refused). Credentials are only sent over TLS (smtps:// or tls=required), or to a
relay on localhost.

Each department receives one message, to the `contacts` of its [[departments]] entry in the
profile. A department without contacts is listed, not sent. What the server accepted is
recorded in the state database per (run, department, recipient): running send again sends
only what is missing. --dry-run writes DIR/<department>.eml instead and records nothing.";

/// What to attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Attach {
    /// The department CSV.
    Csv,
    /// The department Excel workbook.
    Xlsx,
}

/// Arguments of `send`.
#[derive(Debug, Args)]
#[command(after_help = SEND_HELP)]
pub struct SendArgs {
    /// The run: `latest` (the latest completed run) or its number.
    #[arg(long, default_value = "latest")]
    run: String,
    /// The profile: departments and their `contacts`.
    #[arg(long, short)]
    profile: PathBuf,
    #[command(flatten)]
    state: StateArgs,
    /// Write each message to DIR/<department>.eml instead of sending it.
    #[arg(long, value_name = "DIR")]
    dry_run: Option<PathBuf>,
    /// Files to attach (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "csv")]
    attach: Vec<Attach>,
    /// The SMTP server (see below). Required unless --dry-run.
    #[arg(long, value_name = "URL", env = "MAILPATROL_SMTP_URL")]
    smtp_url: Option<String>,
    /// The sender address. Required unless --dry-run.
    #[arg(long, value_name = "ADDR", env = "MAILPATROL_SMTP_FROM")]
    from: Option<String>,
    /// A file holding the SMTP password (first line); else MAILPATROL_SMTP_PASSWORD.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Language of subject, body and attachments.
    #[arg(long, value_parser = ["zh", "en"], default_value = "zh")]
    lang: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Sends (or writes) the messages of a stored run.
pub fn run(args: &SendArgs) -> Exit {
    let profile = match Profile::load(&args.profile) {
        Ok(p) => p,
        Err(e) => {
            report_error(&e);
            return Exit::Config;
        }
    };
    let from = match (&args.from, &args.dry_run) {
        (Some(f), _) => f.clone(),
        (None, Some(_)) => "mailpatrol@localhost".to_string(),
        (None, None) => {
            eprintln!("error: --from ADDR (or MAILPATROL_SMTP_FROM) is required to send");
            return Exit::Config;
        }
    };
    let from = match deliver::mailbox(&from) {
        Ok(m) => m,
        Err(e) => {
            report_error(&e);
            return Exit::Config;
        }
    };
    let transport = match (&args.dry_run, &args.smtp_url) {
        (Some(_), _) => None,
        (None, None) => {
            eprintln!(
                "error: --smtp-url URL (or MAILPATROL_SMTP_URL) is required to send; or use --dry-run DIR"
            );
            return Exit::Config;
        }
        (None, Some(url)) => {
            let password = match &args.password_file {
                Some(path) => match std::fs::read_to_string(path) {
                    Ok(s) => Some(s.lines().next().unwrap_or_default().to_string()),
                    Err(e) => {
                        eprintln!("error: cannot read {}: {e}", path.display());
                        return Exit::Config;
                    }
                },
                None => env("MAILPATROL_SMTP_PASSWORD"),
            };
            match deliver::transport(url, env("MAILPATROL_SMTP_USER"), password) {
                Ok(t) => Some(t),
                Err(e) => {
                    report_error(&e);
                    return Exit::Config;
                }
            }
        }
    };
    let Some(store) = args.state.open() else {
        return Exit::Runtime;
    };
    let attributor = Attributor::new(&profile);
    let Some(run) = load_run(&store, &args.run, &attributor) else {
        return Exit::Runtime;
    };
    let options = Options {
        from,
        lang: if args.lang == "en" {
            Lang::En
        } else {
            Lang::Zh
        },
        attach: args
            .attach
            .iter()
            .map(|a| match a {
                Attach::Csv => AttachKind::Csv,
                Attach::Xlsx => AttachKind::Xlsx,
            })
            .collect(),
    };
    if let Some(dir) = &args.dry_run
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return Exit::Runtime;
    }
    let sink = match (&args.dry_run, &transport) {
        (Some(dir), _) => Sink::DryRun(dir),
        (None, Some(t)) => Sink::Smtp(t),
        (None, None) => return Exit::Config,
    };
    let scratch =
        std::env::temp_dir().join(format!("mailpatrol-send-{}-{}", std::process::id(), run.id));
    let result = deliver::deliver(&run, &profile, &store, &sink, &options, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            report_error(&e);
            return Exit::Runtime;
        }
    };
    let verb = if args.dry_run.is_some() {
        "written"
    } else {
        "sent"
    };
    for d in &outcome.sent {
        let to = d.recipients.join(", ");
        match &d.file {
            Some(f) => println!("{verb}: {} -> {to} ({})", d.department, f.display()),
            None => println!("{verb}: {} -> {to}", d.department),
        }
    }
    for d in &outcome.already {
        println!("already sent: {}", d.department);
    }
    let no_contact: Vec<String> = outcome.no_contact.iter().map(deliver::label).collect();
    if !no_contact.is_empty() {
        println!("no contact: {}", no_contact.join(", "));
        eprintln!(
            "warning: no contact for {} department(s), their reports were not sent: {} (add contacts = [...] to their [[departments]] in the profile)",
            no_contact.len(),
            no_contact.join(", ")
        );
    }
    for (d, e) in &outcome.failed {
        eprintln!("error: {d}: {e}");
    }
    println!(
        "Run {} ({}): {} {verb}, {} already sent, {} without contact, {} failed",
        run.id,
        run.started.to_rfc3339(),
        outcome.sent.len(),
        outcome.already.len(),
        outcome.no_contact.len(),
        outcome.failed.len()
    );
    if outcome.failed.is_empty() {
        Exit::Ok
    } else {
        Exit::Runtime
    }
}
