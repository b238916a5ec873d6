//! Helpers: the fixture site server and its profile.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use mailpatrol::classify::Classifier;
use mailpatrol::crawl::fetch::Resolve;
use mailpatrol::profile::Profile;
use mailpatrol::scan::{ScanOptions, ScanResult};
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
pub async fn scan(server: &SiteServer, store: &Arc<Store>, resume: bool) -> ScanResult {
    let profile = profile();
    let classifier = Classifier::from_profile(&profile, chrono::Local::now().date_naive()).unwrap();
    let options = ScanOptions {
        resolve: resolve(server),
        progress: None,
        resume,
    };
    let (_tx, rx) = watch::channel(false);
    mailpatrol::scan::scan(&profile, classifier, Arc::clone(store), options, rx)
        .await
        .unwrap()
}
