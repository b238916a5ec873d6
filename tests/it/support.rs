//! Helpers: the fixture site server and its profile.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use mailpatrol::classify::Classifier;
use mailpatrol::crawl::CrawlOutcome;
use mailpatrol::crawl::fetch::Resolve;
use mailpatrol::model::{Finding, ScanRun};
use mailpatrol::profile::Profile;
use mailpatrol::scan::ScanOptions;
use mailpatrol::site::{SiteFiles, SiteServer};
use mailpatrol::store::Store;
use tokio::sync::watch;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn profile_path() -> PathBuf {
    fixtures().join("rules/site.toml")
}

/// The fixture profile; retries wait 50 ms instead of a second so the suite stays quick.
pub fn profile() -> Profile {
    let mut p = Profile::load(&profile_path()).expect("fixture profile is valid");
    p.crawl.retry_backoff_ms = 50;
    p
}

pub async fn server() -> SiteServer {
    let files = SiteFiles::from_dir(&fixtures().join("site")).expect("fixture site loads");
    SiteServer::start(files).await.expect("server starts")
}

pub fn resolve(server: &SiteServer) -> Vec<Resolve> {
    server
        .resolve_entries()
        .iter()
        .map(|r| r.parse().expect("valid resolve entry"))
        .collect()
}

/// Scans the fixture site served by `server` into `store`.
/// A finished scan with all its findings loaded (test runs are small; reports read them per
/// department instead).
pub struct Scanned {
    pub run: ScanRun,
    pub outcome: CrawlOutcome,
    /// Present in the run, sorted by department, address and page.
    pub findings: Vec<Finding>,
    /// Gone since the previous completed run.
    pub resolved: Vec<Finding>,
}

impl std::ops::Deref for Scanned {
    type Target = ScanRun;
    fn deref(&self) -> &ScanRun {
        &self.run
    }
}

/// Loads every finding of `run`.
pub fn loaded(store: &Store, run: ScanRun, outcome: CrawlOutcome) -> Scanned {
    let all = store.findings_of(&run).load_all().unwrap();
    Scanned {
        run,
        outcome,
        findings: all.current,
        resolved: all.resolved,
    }
}

pub async fn scan(server: &SiteServer, store: &Arc<Store>, resume: bool) -> Scanned {
    let profile = profile();
    let classifier = Classifier::from_profile(&profile, chrono::Local::now().date_naive()).unwrap();
    let options = ScanOptions {
        resolve: resolve(server),
        progress: None,
        resume,
    };
    let (_tx, rx) = watch::channel(false);
    let result = mailpatrol::scan::scan(&profile, classifier, Arc::clone(store), options, rx)
        .await
        .unwrap();
    loaded(store, result.run, result.outcome)
}

/// Runs `mailpatrol files DIR --profile PROFILE --out OUT` plus `extra`, asserts exit 0 and
/// returns the run's report folder.
pub fn files_command(dir: &Path, profile: &Path, out: &Path, extra: &[&str]) -> PathBuf {
    let result = assert_cmd::Command::cargo_bin("mailpatrol")
        .unwrap()
        .arg("files")
        .args(extra)
        .arg(dir)
        .arg("--profile")
        .arg(profile)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert_eq!(
        result.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    crate::cli::run_dirs(out).pop().unwrap()
}
