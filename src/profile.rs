//! The institution profile (`rules/<institution>.toml`): seeds, scope, institutional, student
//! and legacy domains, departments, allowlist, severities and crawl limits.
//!
//! Loading has two steps, as in cargo-deny and gitleaks: a raw serde struct with
//! `deny_unknown_fields`, then [`Profile::load`] validates it into compiled, normalised values,
//! collecting every problem (with its line) in one pass instead of stopping at the first.
//! The webmail and placeholder lists are data files of their own, loaded by `classify`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::error::ConfigError;
use crate::model::{Class, Email, Severity};

/// The schema version this build reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Crawl limits and politeness. Every limit is explicit; the defaults suit a weekly scan of a
/// university site from one small machine.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct CrawlSettings {
    /// Pages (HTML or text) fetched at most in one run.
    pub max_pages: u32,
    /// Links followed at most from a seed.
    pub max_depth: u16,
    /// Bytes read at most from one web page; larger ones are skipped and listed.
    pub max_bytes: u64,
    /// Bytes read at most from one document (PDF, Office file, archive); larger ones are
    /// skipped and listed.
    pub max_document_bytes: u64,
    /// Seconds for one whole request, body included.
    pub timeout_secs: u64,
    /// Seconds to establish a connection.
    pub connect_timeout_secs: u64,
    /// Retries after a timeout, connection error, 5xx or 429.
    pub retries: u32,
    /// Milliseconds before the first retry; each further retry waits twice as long.
    pub retry_backoff_ms: u64,
    /// A `Retry-After` longer than this many seconds is not waited for; the URL fails.
    pub max_retry_after_secs: u64,
    /// Requests in flight at once to one host.
    pub per_host_concurrency: u32,
    /// Requests in flight at once overall.
    pub concurrency: u32,
    /// Milliseconds between two requests to the same host (robots.txt `Crawl-delay` wins when
    /// it is longer).
    pub delay_ms: u64,
    /// Obey robots.txt (each host's own).
    pub respect_robots: bool,
    /// Read the sitemaps that robots.txt names, or `/sitemap.xml`.
    pub sitemaps: bool,
    /// The User-Agent; the default names the tool and its version.
    pub user_agent: Option<String>,
    /// Distinct query strings followed at most per path; more are a trap (calendars,
    /// session ids) and are skipped.
    pub max_query_variants: u32,
    /// Redirect hops followed at most from one URL.
    pub max_redirects: u8,
    /// URLs longer than this are skipped as traps.
    pub max_url_len: usize,
    /// URLs taken at most from one sitemap file.
    pub max_sitemap_urls: u32,
    /// Distinct links followed at most from one page; the rest are not followed and the page
    /// is listed (`too-many-links`). Guards against generated pages with huge link lists.
    pub max_links_per_page: u32,
    /// Pages fetched at most from one host (scheme, name and port), so one runaway host
    /// cannot eat the run; further pages of that host are listed (`host-page-limit`).
    /// 0 means no limit of its own (only `max_pages` applies).
    pub max_pages_per_host: u32,
    /// Failures in a row (timeouts, connection errors, resets, 5xx) after which a host is
    /// given up: its remaining URLs are listed (`host-failing`) instead of fetched. Each
    /// failure also pauses the host (doubling `retry_backoff_ms`, at most 30 s). 0 never
    /// gives up.
    pub host_failure_limit: u32,
}

impl Default for CrawlSettings {
    fn default() -> Self {
        CrawlSettings {
            max_pages: 5_000,
            max_depth: 10,
            max_bytes: 10 * 1024 * 1024,
            max_document_bytes: 64 * 1024 * 1024,
            timeout_secs: 30,
            connect_timeout_secs: 10,
            retries: 2,
            retry_backoff_ms: 1_000,
            max_retry_after_secs: 120,
            per_host_concurrency: 2,
            concurrency: 16,
            delay_ms: 250,
            respect_robots: true,
            sitemaps: true,
            user_agent: None,
            max_query_variants: 50,
            max_redirects: 10,
            max_url_len: 2_048,
            max_sitemap_urls: 50_000,
            max_links_per_page: 10_000,
            max_pages_per_host: 0,
            host_failure_limit: 10,
        }
    }
}

/// Bounds on reading one document (PDF, Office file, archive). A document that crosses one
/// is listed in `errors.csv` with the reason; the scan goes on.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentSettings {
    /// Bytes decompressed at most from all archive entries and XML parts of one document.
    pub max_total_uncompressed: u64,
    /// Entries read at most from one archive.
    pub max_entries: usize,
    /// Archives nested at most this deep are opened.
    pub max_depth: usize,
    /// Highest compression ratio accepted for an archive entry (a zip bomb has thousands).
    pub max_ratio: u64,
    /// PDF pages or slides read at most per document.
    pub max_pages: usize,
    /// Text kept at most per document, in bytes.
    pub max_text_bytes: usize,
    /// Seconds one document may take.
    pub time_budget_secs: u64,
}

impl Default for DocumentSettings {
    fn default() -> Self {
        let l = crate::extract::documents::Limits::default();
        DocumentSettings {
            max_total_uncompressed: l.max_total_uncompressed,
            max_entries: l.max_entries,
            max_depth: l.max_depth,
            max_ratio: l.max_ratio,
            max_pages: l.max_pages,
            max_text_bytes: l.max_text_bytes,
            time_budget_secs: l.time_budget.as_secs(),
        }
    }
}

impl DocumentSettings {
    /// The extractor's limits for documents of at most `max_bytes`.
    #[must_use]
    pub fn limits(&self, max_bytes: u64) -> crate::extract::documents::Limits {
        crate::extract::documents::Limits {
            max_bytes,
            max_total_uncompressed: self.max_total_uncompressed,
            max_entries: self.max_entries,
            max_depth: self.max_depth,
            max_ratio: self.max_ratio,
            max_pages: self.max_pages,
            max_text_bytes: self.max_text_bytes,
            time_budget: std::time::Duration::from_secs(self.time_budget_secs),
            ..crate::extract::documents::Limits::default()
        }
    }
}

/// When an optional, costly reader runs: never, when the page or file looks like it needs
/// it, or always.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Never.
    Never,
    /// Only where what was fetched suggests it is needed.
    #[default]
    Auto,
    /// Every page or file it applies to.
    Always,
}

impl Mode {
    /// The name used in profiles and on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Never => "never",
            Mode::Auto => "auto",
            Mode::Always => "always",
        }
    }
}

/// The mode for `host`: its own entry in `hosts` (exact host, or a parent domain), else
/// `mode`.
fn mode_for(mode: Mode, hosts: &BTreeMap<String, Mode>, host: &str) -> Mode {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let mut rest = host.as_str();
    loop {
        if let Some(m) = hosts.get(rest) {
            return *m;
        }
        match rest.split_once('.') {
            Some((_, parent)) if parent.contains('.') => rest = parent,
            _ => return mode,
        }
    }
}

/// Rendering pages in headless Chromium (`[render]`), for pages that build their content
/// with JavaScript.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RenderSettings {
    /// `never`, `auto` (pages whose served HTML looks script-built) or `always`.
    pub mode: Mode,
    /// Per-host modes, e.g. `{ "app.ustl.edu.cn" = "always" }` (a domain covers its
    /// subdomains).
    pub hosts: BTreeMap<String, Mode>,
    /// The browser to run; by default `chromium`, `chromium-browser` or `google-chrome` on
    /// `PATH`.
    pub chromium: Option<PathBuf>,
    /// Pages rendered at once (browser tabs).
    pub concurrency: usize,
    /// Seconds one page may take to load and settle.
    pub timeout_secs: u64,
    /// Milliseconds without DOM changes after which a page with no request, inserted
    /// script or short timer under way counts as settled.
    pub quiet_ms: u64,
    /// Milliseconds of unchanged DOM size and loaded resources after which a page counts as
    /// settled even with work under way (a long poll, a timer loop); timers of up to this
    /// long are waited for.
    pub settle_ms: u64,
    /// Whether a rendered page may load scripts, styles and data from hosts outside the
    /// scope (they are never crawled either way).
    pub allow_offscope_resources: bool,
    /// Pages rendered at most in one run.
    pub max_renders: u32,
}

impl Default for RenderSettings {
    fn default() -> Self {
        RenderSettings {
            mode: Mode::Auto,
            hosts: BTreeMap::new(),
            chromium: None,
            concurrency: 2,
            timeout_secs: 20,
            quiet_ms: 150,
            settle_ms: 500,
            allow_offscope_resources: false,
            max_renders: 5_000,
        }
    }
}

impl RenderSettings {
    /// The mode for pages on `host`.
    #[must_use]
    pub fn mode_for(&self, host: &str) -> Mode {
        mode_for(self.mode, &self.hosts, host)
    }
}

/// Reading addresses drawn as images and scanned notices with OCR (`[ocr]`; needs a build
/// with the `ocr` feature and Tesseract's language data).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct OcrSettings {
    /// `never`, `auto` (images that look like they hold an address, scans without a text
    /// layer) or `always` (every in-scope image).
    pub mode: Mode,
    /// Per-host modes, as in `[render]`.
    pub hosts: BTreeMap<String, Mode>,
    /// Tesseract languages, e.g. `eng` or `chi_sim+eng`.
    pub languages: String,
    /// Further Tesseract models that read every address image and every scanned line that
    /// holds an `@` again, so that the readings can be voted on (default `["Latin"]`, Debian
    /// package `tesseract-ocr-script-latn`; a model that is not installed is left out with
    /// a warning; `[]` reads with `languages` only).
    pub vote_languages: Vec<String>,
    /// Models asked for a second opinion, only on an address line whose usual readings have
    /// no majority: other Latin-script models whose misreadings differ from those of `eng`
    /// and `Latin` (default `["deu", "ita", "fra"]`, Debian packages `tesseract-ocr-deu` and
    /// so on; those not installed are left out silently; `[]` for none).
    pub second_opinion_languages: Vec<String>,
    /// Seconds one image or scanned page may take: rasterising, then readings (no further
    /// reading starts once they have run out; a 300 dpi page with two addresses takes about
    /// 6 s on a 2-core machine).
    pub image_timeout_secs: u64,
    /// Images and scanned pages read at most in one run.
    pub max_images: u32,
    /// Resolution scanned PDF pages are rasterised at.
    pub dpi: u32,
    /// Largest image read, in pixels (width × height).
    pub max_pixels: u64,
}

impl Default for OcrSettings {
    fn default() -> Self {
        OcrSettings {
            mode: Mode::Auto,
            hosts: BTreeMap::new(),
            languages: "eng".to_string(),
            vote_languages: vec!["Latin".to_string()],
            second_opinion_languages: ["deu", "ita", "fra"].map(str::to_string).to_vec(),
            image_timeout_secs: 30,
            max_images: 2_000,
            dpi: 300,
            max_pixels: 40_000_000,
        }
    }
}

impl OcrSettings {
    /// The mode for images on `host`.
    #[must_use]
    pub fn mode_for(&self, host: &str) -> Mode {
        mode_for(self.mode, &self.hosts, host)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    schema_version: Option<Spanned<u32>>,
    name: Spanned<String>,
    seeds: Vec<Spanned<String>>,
    domains: Vec<Spanned<String>>,
    #[serde(default = "yes")]
    include_subdomains: bool,
    #[serde(default)]
    student_domains: Vec<Spanned<String>>,
    #[serde(default)]
    legacy: Vec<RawLegacy>,
    #[serde(default)]
    scope: RawScope,
    #[serde(default)]
    crawl: CrawlSettings,
    #[serde(default)]
    documents: DocumentSettings,
    #[serde(default)]
    render: RenderSettings,
    #[serde(default)]
    ocr: OcrSettings,
    #[serde(default)]
    severity: BTreeMap<Class, Severity>,
    #[serde(default)]
    departments: Vec<RawDepartment>,
    #[serde(default)]
    allow: Vec<RawAllow>,
    webmail: Option<PathBuf>,
    placeholders: Option<PathBuf>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLegacy {
    domain: Spanned<String>,
    retired_on: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    #[serde(default)]
    extra_hosts: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDepartment {
    name: Spanned<String>,
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    #[serde(default)]
    prefixes: Vec<Spanned<String>>,
    #[serde(default)]
    contacts: Vec<Spanned<String>>,
    #[serde(default)]
    folders: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    address: Option<Spanned<String>>,
    domain: Option<Spanned<String>>,
    reason: Option<String>,
    expires: Option<Spanned<String>>,
}

/// A retired institutional domain.
#[derive(Debug, Clone)]
pub struct Legacy {
    /// The domain (normalised).
    pub domain: String,
    /// From this day on, addresses on it are `legacy`.
    pub retired_on: NaiveDate,
}

/// A configured department.
#[derive(Debug, Clone)]
pub struct DepartmentRule {
    /// Display name, also its id.
    pub name: String,
    /// Hosts that belong to it entirely.
    pub hosts: Vec<String>,
    /// URL prefixes that belong to it (longest prefix wins over a host).
    pub prefixes: Vec<String>,
    /// Who receives its report.
    pub contacts: Vec<Email>,
    /// Sub-folders of an upload folder (`mailpatrol files DIR`) that belong to it.
    pub folders: Vec<String>,
}

/// What an allowlist entry matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowTarget {
    /// One address.
    Address(Email),
    /// Every address on a domain (and its subdomains).
    Domain(String),
}

/// An allowlist entry.
#[derive(Debug, Clone)]
pub struct Allow {
    /// What it matches.
    pub target: AllowTarget,
    /// Why it is allowed (required).
    pub reason: String,
    /// The last day it applies, if any.
    pub expires: Option<NaiveDate>,
}

/// A validated institution profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The institution's name.
    pub name: String,
    /// Where the crawl starts.
    pub seeds: Vec<Url>,
    /// Institutional mail domains (normalised).
    pub domains: Vec<String>,
    /// Whether subdomains of `domains` are institutional too.
    pub include_subdomains: bool,
    /// Student mail domains.
    pub student_domains: Vec<String>,
    /// Retired domains.
    pub legacy: Vec<Legacy>,
    /// Hosts in scope beyond the institution's registrable domains.
    pub extra_hosts: Vec<String>,
    /// URLs matching any of these are not fetched.
    pub exclude: Vec<Regex>,
    /// Crawl limits.
    pub crawl: CrawlSettings,
    /// Document reading limits.
    pub documents: DocumentSettings,
    /// Rendering in headless Chromium.
    pub render: RenderSettings,
    /// OCR of images and scans.
    pub ocr: OcrSettings,
    /// Severity overrides per class.
    pub severity: BTreeMap<Class, Severity>,
    /// Configured departments.
    pub departments: Vec<DepartmentRule>,
    /// Allowlist.
    pub allow: Vec<Allow>,
    /// The webmail list to use instead of the one beside the profile or the built-in one.
    pub webmail: Option<PathBuf>,
    /// The placeholder list to use instead of the one beside the profile or the built-in one.
    pub placeholders: Option<PathBuf>,
}

impl Profile {
    /// Reads and validates a profile file.
    pub fn load(path: &Path) -> Result<Profile, ConfigError> {
        let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Profile::parse(path, &source)
    }

    /// Validates a profile from its text; `path` is used for messages and relative paths.
    pub fn parse(path: &Path, source: &str) -> Result<Profile, ConfigError> {
        let invalid = |errors| ConfigError::Invalid {
            path: path.to_path_buf(),
            errors,
        };
        let raw: RawProfile = toml::from_str(source).map_err(|e| invalid(vec![toml_error(&e)]))?;
        let mut v = Validator {
            source,
            errors: Vec::new(),
        };
        let profile = v.profile(path, raw);
        if v.errors.is_empty() {
            Ok(profile)
        } else {
            Err(invalid(v.errors))
        }
    }

    /// The folder the profile lives in; relative paths in it are resolved from here.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or_else(|| Path::new("."))
    }
}

/// Formats a TOML error as one line plus the offending source line.
fn toml_error(e: &toml::de::Error) -> String {
    e.to_string().trim_end().to_string()
}

struct Validator<'a> {
    source: &'a str,
    errors: Vec<String>,
}

impl Validator<'_> {
    fn line<T>(&self, s: &Spanned<T>) -> usize {
        let start = s.span().start.min(self.source.len());
        self.source
            .get(..start)
            .map_or(1, |before| before.matches('\n').count() + 1)
    }

    fn err<T>(&mut self, at: &Spanned<T>, msg: impl std::fmt::Display) {
        let line = self.line(at);
        self.errors.push(format!("line {line}: {msg}"));
    }

    fn domain(&mut self, what: &str, d: &Spanned<String>) -> Option<String> {
        let n = normalise_domain(d.get_ref());
        if n.is_none() {
            self.err(
                d,
                format!(
                    "{what} {:?} is not a domain name (expected e.g. \"ustl.edu.cn\")",
                    d.get_ref()
                ),
            );
        }
        n
    }

    fn date(&mut self, what: &str, d: &Spanned<String>) -> Option<NaiveDate> {
        if let Ok(date) = NaiveDate::parse_from_str(d.get_ref(), "%Y-%m-%d") {
            Some(date)
        } else {
            self.err(
                d,
                format!(
                    "{what} {:?} is not a date (expected YYYY-MM-DD, e.g. \"2023-07-03\")",
                    d.get_ref()
                ),
            );
            None
        }
    }

    fn url(&mut self, what: &str, u: &Spanned<String>) -> Option<Url> {
        match Url::parse(u.get_ref()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
                Some(url)
            }
            Ok(_) => {
                self.err(
                    u,
                    format!("{what} {:?} must be an http or https URL", u.get_ref()),
                );
                None
            }
            Err(e) => {
                self.err(
                    u,
                    format!(
                        "{what} {:?} is not a URL ({e}); expected e.g. \"https://www.ustl.edu.cn/\"",
                        u.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn domains(&mut self, what: &str, list: &[Spanned<String>]) -> Vec<String> {
        list.iter().filter_map(|d| self.domain(what, d)).collect()
    }

    fn profile(&mut self, path: &Path, raw: RawProfile) -> Profile {
        if let Some(v) = &raw.schema_version
            && *v.get_ref() != SCHEMA_VERSION
        {
            self.err(
                v,
                format!(
                    "schema_version {} is not supported by this mailpatrol (it reads version {SCHEMA_VERSION})",
                    v.get_ref()
                ),
            );
        }
        if raw.name.get_ref().trim().is_empty() {
            self.err(&raw.name, "name must not be empty");
        }
        let seeds: Vec<Url> = raw
            .seeds
            .iter()
            .filter_map(|s| self.url("seed", s))
            .collect();
        let domains = self.domains("domain", &raw.domains);
        if raw.domains.is_empty() {
            self.errors.push(
                "domains is empty: list the institution's mail domains, e.g. domains = [\"ustl.edu.cn\"]"
                    .to_string(),
            );
        }
        let student_domains = self.domains("student domain", &raw.student_domains);
        let legacy = raw
            .legacy
            .iter()
            .filter_map(|l| {
                let domain = self.domain("legacy domain", &l.domain);
                let retired_on = self.date("retired_on", &l.retired_on);
                Some(Legacy {
                    domain: domain?,
                    retired_on: retired_on?,
                })
            })
            .collect();
        let extra_hosts = self.domains("extra host", &raw.scope.extra_hosts);
        let exclude = raw
            .scope
            .exclude
            .iter()
            .filter_map(|r| match Regex::new(r.get_ref()) {
                Ok(re) => Some(re),
                Err(e) => {
                    self.err(
                        r,
                        format!(
                            "exclude pattern {:?} is not a valid regex: {e}",
                            r.get_ref()
                        ),
                    );
                    None
                }
            })
            .collect();
        self.crawl(&raw.crawl);
        self.readers(&raw.render, &raw.ocr);
        let departments = self.departments(&raw.departments);
        let allow = self.allow(&raw.allow);
        if seeds.is_empty()
            && departments
                .iter()
                .all(|d: &DepartmentRule| d.hosts.is_empty())
        {
            self.errors.push(
                "no seeds: give seeds = [\"https://www.example.edu.cn/\"] or departments with hosts"
                    .to_string(),
            );
        }
        Profile {
            path: path.to_path_buf(),
            name: raw.name.into_inner().trim().to_string(),
            seeds,
            domains,
            include_subdomains: raw.include_subdomains,
            student_domains,
            legacy,
            extra_hosts,
            exclude,
            crawl: raw.crawl,
            documents: raw.documents,
            render: raw.render,
            ocr: raw.ocr,
            severity: raw.severity,
            departments,
            allow,
            webmail: raw.webmail,
            placeholders: raw.placeholders,
        }
    }

    fn readers(&mut self, r: &RenderSettings, o: &OcrSettings) {
        for (name, value) in [
            ("render.concurrency", r.concurrency as u64),
            ("render.timeout_secs", r.timeout_secs),
            ("ocr.image_timeout_secs", o.image_timeout_secs),
            ("ocr.dpi", u64::from(o.dpi)),
            ("ocr.max_pixels", o.max_pixels),
        ] {
            if value == 0 {
                self.errors
                    .push(format!("{name} must be at least 1 (it is 0)"));
            }
        }
        if !(70..=1200).contains(&o.dpi) {
            self.errors.push(format!(
                "ocr.dpi {} is outside 70..=1200; 300 suits scanned notices",
                o.dpi
            ));
        }
        let valid_lang =
            |l: &str| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !o.languages.split('+').all(valid_lang) {
            self.errors.push(format!(
                "ocr.languages {:?} is not a Tesseract language list like \"eng\" or \"chi_sim+eng\"",
                o.languages
            ));
        }
        for (field, list) in [
            ("vote_languages", &o.vote_languages),
            ("second_opinion_languages", &o.second_opinion_languages),
        ] {
            for l in list {
                if !valid_lang(l) {
                    self.errors.push(format!(
                        "ocr.{field} entry {l:?} is not a Tesseract model name like \"Latin\" or \"deu\""
                    ));
                }
            }
        }
    }

    fn crawl(&mut self, c: &CrawlSettings) {
        let positive = [
            ("crawl.max_pages", u64::from(c.max_pages)),
            ("crawl.timeout_secs", c.timeout_secs),
            ("crawl.connect_timeout_secs", c.connect_timeout_secs),
            (
                "crawl.per_host_concurrency",
                u64::from(c.per_host_concurrency),
            ),
            ("crawl.concurrency", u64::from(c.concurrency)),
            ("crawl.max_bytes", c.max_bytes),
            ("crawl.max_query_variants", u64::from(c.max_query_variants)),
        ];
        for (name, value) in positive {
            if value == 0 {
                self.errors.push(format!("{name} must be at least 1"));
            }
        }
    }

    fn departments(&mut self, raw: &[RawDepartment]) -> Vec<DepartmentRule> {
        let mut seen = std::collections::BTreeSet::new();
        raw.iter()
            .map(|d| {
                let name = d.name.get_ref().trim().to_string();
                if name.is_empty() {
                    self.err(&d.name, "department name must not be empty");
                } else if !seen.insert(name.clone()) {
                    self.err(&d.name, format!("department {name:?} is listed twice"));
                }
                if d.hosts.is_empty() && d.prefixes.is_empty() && d.folders.is_empty() {
                    self.err(
                        &d.name,
                        format!("department {name:?} needs hosts = [..], prefixes = [..] or folders = [..] to own anything"),
                    );
                }
                let hosts = self.domains("department host", &d.hosts);
                let prefixes = d
                    .prefixes
                    .iter()
                    .filter_map(|p| self.url("department prefix", p))
                    .map(String::from)
                    .collect();
                let contacts = d
                    .contacts
                    .iter()
                    .filter_map(|c| {
                        let e = Email::parse(c.get_ref());
                        if e.is_none() {
                            self.err(c, format!("contact {:?} is not an email address", c.get_ref()));
                        }
                        e
                    })
                    .collect();
                DepartmentRule {
                    name,
                    hosts,
                    prefixes,
                    contacts,
                    folders: d.folders.iter().map(|f| f.get_ref().trim().to_string()).collect(),
                }
            })
            .collect()
    }

    fn allow(&mut self, raw: &[RawAllow]) -> Vec<Allow> {
        raw.iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let n = i + 1;
                let target = match (&a.address, &a.domain) {
                    (Some(addr), None) => {
                        let e = Email::parse(addr.get_ref());
                        if e.is_none() {
                            self.err(addr, format!("allow entry {n}: {:?} is not an email address", addr.get_ref()));
                        }
                        e.map(AllowTarget::Address)
                    }
                    (None, Some(d)) => self.domain(&format!("allow entry {n}: domain"), d).map(AllowTarget::Domain),
                    _ => {
                        self.errors.push(format!(
                            "allow entry {n}: give exactly one of address = \"..\" or domain = \"..\""
                        ));
                        None
                    }
                };
                let reason = a.reason.as_deref().map(str::trim).unwrap_or_default().to_string();
                if reason.is_empty() {
                    self.errors.push(format!(
                        "allow entry {n}: reason is required (who approved it and why)"
                    ));
                }
                let expires = a.expires.as_ref().and_then(|d| self.date("expires", d));
                if a.expires.is_some() && expires.is_none() {
                    return None;
                }
                Some(Allow {
                    target: target?,
                    reason,
                    expires,
                })
            })
            .collect()
    }
}

/// True when `domain` is `base` or a subdomain of it (`cs.ustl.edu.cn` under `ustl.edu.cn`,
/// but not `notustl.edu.cn`). Both are expected in normal form.
#[must_use]
pub fn is_within(domain: &str, base: &str) -> bool {
    domain
        .strip_suffix(base)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// Lowercases, trims dots and converts a domain to ASCII (IDNA). `None` if it is not a
/// plausible host name.
#[must_use]
pub fn normalise_domain(d: &str) -> Option<String> {
    let d = d.trim().trim_matches('.');
    let ascii = idna::domain_to_ascii(d).ok()?;
    let ok = !ascii.is_empty()
        && ascii.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    ok.then_some(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Profile, ConfigError> {
        Profile::parse(Path::new("rules/test.toml"), src)
    }

    const MINIMAL: &str = r#"
name = "Test"
seeds = ["https://www.ustl.edu.cn/"]
domains = ["USTL.edu.cn"]
"#;

    #[test]
    fn minimal_profile_gets_defaults() {
        let p = parse(MINIMAL).expect("valid");
        assert_eq!(p.domains, vec!["ustl.edu.cn"]);
        assert!(p.include_subdomains);
        assert_eq!(p.crawl, CrawlSettings::default());
    }

    fn errors(src: &str) -> Vec<String> {
        match parse(src) {
            Err(ConfigError::Invalid { errors, .. }) => errors,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn render_and_ocr_modes_per_host() {
        let p = parse(&format!(
            "{MINIMAL}[render]\nmode = \"never\"\nhosts = {{ \"app.ustl.edu.cn\" = \"always\" }}\n[ocr]\nmode = \"always\"\nlanguages = \"chi_sim+eng\"\nhosts = {{ \"ustl.edu.cn\" = \"never\" }}\n"
        ))
        .expect("valid");
        assert_eq!(p.render.mode_for("www.ustl.edu.cn"), Mode::Never);
        assert_eq!(p.render.mode_for("APP.ustl.edu.cn."), Mode::Always);
        assert_eq!(p.render.mode_for("x.app.ustl.edu.cn"), Mode::Always);
        assert_eq!(p.ocr.mode_for("news.ustl.edu.cn"), Mode::Never);
        assert_eq!(p.ocr.mode_for("other.edu.cn"), Mode::Always);
        assert_eq!(parse(MINIMAL).expect("valid").render.mode, Mode::Auto);
        let e = errors(&format!(
            "{MINIMAL}[render]\nconcurrency = 0\n[ocr]\nlanguages = \"eng;rm\"\ndpi = 20\n"
        ));
        assert_eq!(e.len(), 3, "{e:?}");
        let e = errors(&format!(
            "{MINIMAL}[ocr]\nvote_languages = [\"Latin\", \"../x\"]\nsecond_opinion_languages = [\"deu\", \"\"]\n"
        ));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].contains("ocr.vote_languages") && e[0].contains("../x"),
            "{e:?}"
        );
        assert!(e[1].contains("ocr.second_opinion_languages"), "{e:?}");
        let e = errors(&format!("{MINIMAL}[render]\nmode = \"sometimes\"\n"));
        assert!(e[0].contains("sometimes"), "{e:?}");
    }

    #[test]
    fn unknown_key_names_the_line() {
        let e = errors(&format!("{MINIMAL}\ncolour = 1\n"));
        assert!(e[0].contains("line 6"), "{e:?}");
        assert!(e[0].contains("colour"), "{e:?}");
    }

    #[test]
    fn wrong_type_names_the_line() {
        let e = errors("name = \"x\"\nseeds = \"https://a.cn/\"\ndomains = [\"a.cn\"]\n");
        assert!(e[0].contains("line 2"), "{e:?}");
    }

    #[test]
    fn every_validation_error_is_reported_with_its_line() {
        let src = format!(
            "{MINIMAL}[scope]\nexclude = [\"(unclosed\"]\n[[legacy]]\ndomain = \"old.cn\"\nretired_on = \"2020-13-01\"\n[[allow]]\naddress = \"x@y.cn\"\n"
        );
        let e = errors(&src);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].starts_with("line 9:") && e[0].contains("retired_on"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("line 6:") && e[1].contains("regex"),
            "{e:?}"
        );
        assert!(e[2].contains("reason is required"), "{e:?}");
    }
}
