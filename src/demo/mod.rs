//! The bundled demo university: a small site of several virtual hosts (homepage, department
//! sub-sites, GBK pages, robots.txt rules, a broken link, an off-scope link, a calendar trap)
//! and its profile, both compiled into the binary, so `mailpatrol demo` needs no network and
//! no files. The demo is scanned by the same code path as a real site.

use std::path::Path;

use include_dir::{Dir, include_dir};

use crate::error::ConfigError;
use crate::profile::Profile;
use crate::site::{SiteError, SiteFiles, SiteServer};

/// The demo site's files: `<host>/<path>` plus `site.toml`.
pub static SITE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/src/demo/site");

/// The demo profile, `rules/demo.toml`.
pub const PROFILE: &str = include_str!("../../rules/demo.toml");

/// The demo profile, validated. Its lists are the built-in ones, whatever the current folder
/// holds, so the demo gives the same result everywhere.
pub fn profile() -> Result<Profile, ConfigError> {
    Profile::parse(Path::new("<built-in>/demo.toml"), PROFILE)
}

/// Serves the demo site on 127.0.0.1 (a free port).
pub async fn serve() -> Result<SiteServer, SiteError> {
    SiteServer::start(SiteFiles::from_include_dir(&SITE)?).await
}
