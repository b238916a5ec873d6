//! Helpers: the fixture site server and its profile.

use std::path::{Path, PathBuf};

use mailpatrol::crawl::fetch::Resolve;
use mailpatrol::profile::Profile;
use mailpatrol::site::{SiteFiles, SiteServer};

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
