//! `mailpatrol classify ADDRESS...`: the class of each address and the rule that decided it.

use std::path::PathBuf;

use clap::Args;

use super::{Exit, report_error};
use mailpatrol::classify::Classifier;
use mailpatrol::model::Email;
use mailpatrol::profile::Profile;

/// Arguments of `classify`.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// The institution profile whose rules apply (e.g. rules/ustl.toml).
    #[arg(long, short)]
    profile: PathBuf,
    /// Addresses to classify.
    #[arg(required = true)]
    addresses: Vec<String>,
}

/// Prints `address<TAB>class<TAB>severity<TAB>rule` per address. An argument that is not an
/// address is reported and makes the exit code 2.
pub fn run(args: &ClassifyArgs) -> Exit {
    let today = chrono::Local::now().date_naive();
    let classifier =
        match Profile::load(&args.profile).and_then(|p| Classifier::from_profile(&p, today)) {
            Ok(c) => c,
            Err(e) => {
                report_error(&e);
                return Exit::Config;
            }
        };
    let mut exit = Exit::Ok;
    for a in &args.addresses {
        if let Some(email) = Email::parse(a) {
            let v = classifier.classify(&email);
            println!(
                "{email}\t{}\t{}\t{}",
                v.class.as_str(),
                v.severity.as_str(),
                v.rule
            );
        } else {
            eprintln!("error: {a:?} is not an email address (expected name@domain)");
            exit = Exit::Runtime;
        }
    }
    exit
}
