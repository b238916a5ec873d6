//! The data that crosses stage boundaries: addresses, candidates, documents, findings and
//! the record of one scan. Stages depend on this module, never on each other's internals.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Local, NaiveDate};
use serde::{Deserialize, Serialize};
use url::Url;

/// An email address in normal form: the domain is lowercased and in ASCII (IDNA), the local
/// part is lowercased too, because institutions treat mailbox names case-insensitively and a
/// report that lists `Zhang@` and `zhang@` separately is noise.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email {
    local: String,
    domain: String,
}

/// RFC 5321 limits: 64 octets of local part, 255 of domain, 63 per label.
const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 253;
const MAX_LABEL: usize = 63;

impl Email {
    /// Parses `local@domain`, normalising case and IDNA. Returns `None` for anything that is
    /// not a syntactically valid address (lengths, label rules, characters).
    #[must_use]
    pub fn parse(s: &str) -> Option<Email> {
        let (local, domain) = s.trim().rsplit_once('@')?;
        if local.is_empty() || local.len() > MAX_LOCAL {
            return None;
        }
        let local_ok = local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._%+-!#$&'*/=?^`{|}~".contains(&b));
        if !local_ok || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return None;
        }
        let domain = idna::domain_to_ascii(domain.trim_end_matches('.')).ok()?;
        if domain.is_empty() || domain.len() > MAX_DOMAIN || !domain.contains('.') {
            return None;
        }
        let labels_ok = domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= MAX_LABEL
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if !labels_ok {
            return None;
        }
        Some(Email {
            local: local.to_ascii_lowercase(),
            domain,
        })
    }

    /// The part before the `@`.
    #[must_use]
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The domain, lowercase ASCII.
    #[must_use]
    pub fn domain(&self) -> &str {
        &self.domain
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Email::parse(&s).ok_or_else(|| format!("not an email address: {s}"))
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.to_string()
    }
}

/// How an address was written where it was found. Every finding records it, so a department
/// can find the address on its page even when it is hidden from plain search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// Written out as `name@domain` in the visible text.
    Plain,
    /// In a `mailto:` link (possibly URL-encoded or with `?subject=`).
    Mailto,
    /// In an attribute such as `title`, `alt`, `value`, `content` or `data-*`.
    Attribute,
    /// Written with HTML character references (`&#64;`, `&#x40;`, `&commat;`).
    HtmlEntity,
    /// Split across tags, e.g. `name<span>@</span>domain`.
    SplitByTags,
    /// Full-width characters (`＠`, `．`) or the Chinese full stop `。` as a dot.
    FullWidth,
    /// `#` in place of `@`, often with a note asking the reader to replace it.
    HashForAt,
    /// A word in brackets in place of `@` or `.`: `[at]`, `(at)`, `{at}`, `[dot]`, `(dot)`.
    AtWord,
    /// Spaces around the `@` or the dots.
    Spaced,
    /// Chinese words in place of `@` or `.`: 「艾特」, 「圈a」, 「点」.
    ChineseWord,
    /// Assembled by inline JavaScript: string concatenation, `String.fromCharCode`, reversed
    /// strings, `document.write`.
    #[serde(rename = "javascript", alias = "java_script")]
    JavaScript,
    /// Cloudflare email protection: `data-cfemail` or `/cdn-cgi/l/email-protection#hex`.
    Cloudflare,
}

impl Form {
    /// The stable name used in reports.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Plain => "plain",
            Form::Mailto => "mailto",
            Form::Attribute => "attribute",
            Form::HtmlEntity => "html_entity",
            Form::SplitByTags => "split_by_tags",
            Form::FullWidth => "full_width",
            Form::HashForAt => "hash_for_at",
            Form::AtWord => "at_word",
            Form::Spaced => "spaced",
            Form::ChineseWord => "chinese_word",
            Form::JavaScript => "javascript",
            Form::Cloudflare => "cloudflare",
        }
    }
}

/// One occurrence of an address in a document, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailCandidate {
    /// The normalised address.
    pub address: Email,
    /// The text as it appeared (after HTML decoding), e.g. `zhang[at]ustl.edu.cn`.
    pub raw: String,
    /// How it was written.
    pub form: Form,
    /// A short snippet of the surrounding text, on one line.
    pub context: String,
    /// Where inside a document (`page 3`, `sheet 名单!B4`, `archive a.zip › page 1`);
    /// `None` on web pages.
    #[serde(default)]
    pub location: Option<String>,
    /// Where the text came from: the served HTML or file, the rendered page, or OCR.
    #[serde(default)]
    pub source: Source,
    /// What backs an address that was not read as text: OCR confidence, the raw reading
    /// before a correction. `None` for text read as served.
    #[serde(default)]
    pub evidence: Option<String>,
}

/// Where the text holding an address came from.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The body as the server sent it (HTML, text or document).
    #[default]
    Served,
    /// The page after a browser ran its scripts; absent from the served HTML.
    Rendered,
    /// Read by OCR from an image or a scanned page.
    Ocr,
}

impl Source {
    /// Stable name used in the state database and reports.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Served => "served",
            Source::Rendered => "rendered",
            Source::Ocr => "ocr",
        }
    }

    /// Parses [`Source::as_str`] output; unknown names are `Served`.
    #[must_use]
    pub fn parse(s: &str) -> Source {
        match s {
            "rendered" => Source::Rendered,
            "ocr" => Source::Ocr,
            _ => Source::Served,
        }
    }
}

/// What extraction made of one fetched body. Stored per content hash, so an unchanged
/// page is never parsed twice.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Document {
    /// The `<title>`, trimmed, if the body had one.
    pub title: Option<String>,
    /// Absolute links to follow (http and https only), in document order, deduplicated.
    pub links: Vec<Url>,
    /// Every address occurrence, in document order.
    pub emails: Vec<EmailCandidate>,
    /// What could not be read (a document's encrypted part, a page without a text layer).
    #[serde(default)]
    pub problems: Vec<ReadProblem>,
    /// True for a document (PDF, Office file, archive), which belongs to the department of
    /// the page that links it; false for a web page.
    #[serde(default)]
    pub attachment: bool,
    /// Why the page was rendered in a browser (e.g. `auto: empty app root #app`), or `None`
    /// when only the served HTML was read.
    #[serde(default)]
    pub render: Option<String>,
    /// Images of a web page that may show an address (OCR reads them when it is on): the
    /// URL, and whether it looks like it holds one (a name or alt text about mail, a
    /// text-line shape, an address label right before it) or is just an image.
    #[serde(default)]
    pub images: Vec<(Url, bool)>,
}

/// A part of a body that could not be read; the rest of it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadProblem {
    /// Skipped by design (`needs-ocr`, `unsupported`, `too-large`) or failed.
    pub skipped: bool,
    /// Stable code: `encrypted`, `corrupt`, `unsupported`, `needs-ocr`, `ocr-uncertain`,
    /// `too-large`, `bomb`, `timeout`, `panic`.
    pub code: String,
    /// For people, with the location inside the document.
    pub detail: String,
}

/// The class of an address, decided by `classify`. The order of the variants is the order in
/// which the classifier tries them; the first match wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// On the allowlist (exact address or domain), not expired.
    Allowed,
    /// A template or example address (`example.com`, `xxx@xxx.com`, `yourname@...`).
    Placeholder,
    /// On a student domain, which is not meant for office contacts.
    Student,
    /// On a retired institutional domain, after its retirement date.
    Legacy,
    /// On an institutional domain.
    Institutional,
    /// On a free or public webmail provider.
    FreeWebmail,
    /// Any other domain.
    External,
}

impl Class {
    /// Every class, in decision order.
    pub const ALL: [Class; 7] = [
        Class::Allowed,
        Class::Placeholder,
        Class::Student,
        Class::Legacy,
        Class::Institutional,
        Class::FreeWebmail,
        Class::External,
    ];

    /// The stable name used in reports and rules.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Allowed => "allowed",
            Class::Placeholder => "placeholder",
            Class::Student => "student",
            Class::Legacy => "legacy",
            Class::Institutional => "institutional",
            Class::FreeWebmail => "free_webmail",
            Class::External => "external",
        }
    }

    /// The class's name in Chinese, for reports in `zh`.
    #[must_use]
    pub fn zh(self) -> &'static str {
        match self {
            Class::Allowed => "白名单",
            Class::Placeholder => "示例地址",
            Class::Student => "学生邮箱",
            Class::Legacy => "已停用域名",
            Class::Institutional => "学校邮箱",
            Class::FreeWebmail => "免费/公共邮箱",
            Class::External => "外部邮箱",
        }
    }
}

/// How much a class matters to the inspection office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Counted, not reported as a problem (placeholders).
    Ignored,
    /// Compliant.
    Ok,
    /// A person should look at it.
    Review,
    /// Breaks the rule; the department must fix it.
    Violation,
}

impl Severity {
    /// The stable name used in reports and rules.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ignored => "ignored",
            Severity::Ok => "ok",
            Severity::Review => "review",
            Severity::Violation => "violation",
        }
    }

    /// The severity's name in Chinese.
    #[must_use]
    pub fn zh(self) -> &'static str {
        match self {
            Severity::Ignored => "忽略",
            Severity::Ok => "合规",
            Severity::Review => "待核查",
            Severity::Violation => "违规",
        }
    }
}

/// The verdict on one address, naming the rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// The class.
    pub class: Class,
    /// The severity configured for the class.
    pub severity: Severity,
    /// Which rule fired, e.g. `institutional:ustl.edu.cn` or `free_webmail:qq.com (QQ Mail)`.
    pub rule: String,
}

/// A department's stable identifier: the configured name, or the host of a discovered
/// sub-site.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DepartmentId(pub String);

impl fmt::Display for DepartmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A department as it appears in the reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Department {
    /// Identifier (also the report file name).
    pub id: DepartmentId,
    /// Display name.
    pub name: String,
    /// True when it came from the profile, false when the crawl discovered the sub-site.
    pub configured: bool,
}

/// One page that was fetched and read.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// The URL as requested (normalised).
    pub url: Url,
    /// The page's `<title>`.
    pub title: Option<String>,
    /// The department the page belongs to.
    pub department: DepartmentId,
    /// Link depth from the nearest seed.
    pub depth: u16,
}

/// Whether a URL was left out on purpose or could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Not fetched by design: robots.txt, limits, scope, not a readable type.
    Skipped,
    /// Fetching or reading failed.
    Failed,
}

/// A URL that was not scanned, and why. Coverage matters: "no findings" must never be
/// mistaken for "compliant".
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// The URL concerned.
    pub url: Url,
    /// The page whose link led here, if any.
    pub found_on: Option<Url>,
    /// The department the URL belongs to.
    pub department: DepartmentId,
    /// Skipped or failed.
    pub kind: ProblemKind,
    /// A stable kebab-case code, e.g. `robots-disallowed`, `http-404`, `timeout`.
    pub code: String,
    /// A sentence for people: what went wrong and, where useful, what to do.
    pub detail: String,
}

/// HTTP validators of a fetched resource, for conditional requests on the next run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag`.
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
}

/// A frontier entry, as the crawl persists it so that a killed scan can resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontierEntry {
    /// URL.
    pub url: String,
    /// Depth.
    pub depth: u16,
    /// Linking page.
    pub found_on: Option<String>,
    /// Redirect hops so far.
    pub hops: u8,
    /// `page`, `sitemap` or `sitemap-guess`.
    pub kind: String,
}

/// Where a finding stands relative to the previous completed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not present in the previous completed run (or there is none).
    New,
    /// Present in the previous completed run too.
    StillPresent,
    /// Present in the previous completed run, gone now.
    Resolved,
}

impl Status {
    /// The stable name used in reports.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::StillPresent => "still_present",
            Status::Resolved => "resolved",
        }
    }

    /// The status's name in Chinese.
    #[must_use]
    pub fn zh(self) -> &'static str {
        match self {
            Status::New => "新发现",
            Status::StillPresent => "仍存在",
            Status::Resolved => "已整改",
        }
    }
}

/// One address published on one page, classified and attributed.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable identity across runs: a hash of department, address and page (no dates, no
    /// line numbers, so editing the page around it does not change it).
    pub fingerprint: String,
    /// New, still present or resolved.
    pub status: Status,
    /// False when the page could not be fetched this run (timeout, 5xx) and the finding was
    /// carried over from the last run: still present, but unverified.
    pub verified: bool,
    /// The day of the first run that saw it.
    pub first_seen: NaiveDate,
    /// The day of the last run that saw it.
    pub last_seen: NaiveDate,
    /// The department responsible for the page.
    pub department: DepartmentId,
    /// The address.
    pub email: Email,
    /// Its class.
    pub class: Class,
    /// Its severity.
    pub severity: Severity,
    /// The rule that decided the class.
    pub rule: String,
    /// The page where it was published.
    pub page: Url,
    /// The page's title.
    pub page_title: Option<String>,
    /// How it was written (the first occurrence on the page).
    pub form: Form,
    /// The text as written (first occurrence).
    pub raw: String,
    /// Surrounding text (first occurrence).
    pub context: String,
    /// How many times it occurs on the page.
    pub occurrences: u32,
    /// Where inside a document it was found (first occurrence), e.g. `page 2`.
    pub location: Option<String>,
    /// For a document: the page of this department that links it.
    pub linked_from: Option<Url>,
    /// Where the text came from (first occurrence): served, rendered page or OCR.
    pub source: Source,
    /// What backs it when it was not read as served text (OCR confidence, raw reading).
    pub evidence: Option<String>,
}

/// Per-department counts for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DepartmentStats {
    /// Pages fetched and read.
    pub pages_scanned: u32,
    /// URLs skipped by robots.txt, limits or type.
    pub pages_skipped: u32,
    /// URLs that failed.
    pub pages_failed: u32,
    /// Distinct addresses found.
    pub addresses: u32,
    /// Findings (address and page) with severity `violation`.
    pub violations: u32,
    /// Findings with severity `review`.
    pub reviews: u32,
    /// Findings with severity `ok`.
    pub ok: u32,
    /// Findings with severity `ignored`.
    pub ignored: u32,
    /// Findings that are new since the previous completed run.
    pub new: u32,
    /// Findings of the previous completed run that are gone.
    pub resolved: u32,
    /// Current findings that were in the previous completed run too.
    pub still_present: u32,
    /// Current findings per class.
    pub by_class: BTreeMap<Class, u32>,
    /// The first-seen day of the oldest current violation, if there is one.
    pub oldest_violation: Option<NaiveDate>,
}

/// Work counters of a run: how much was fetched, parsed, or reused from the last run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunCounters {
    /// Bodies parsed (HTML or text).
    pub extracted: u32,
    /// Bodies whose bytes were unchanged since a stored extraction (not parsed again).
    pub reused: u32,
    /// Answers 304 Not Modified to a conditional request (not downloaded, not parsed).
    pub not_modified: u32,
    /// Pages rendered in headless Chromium.
    pub rendered: u32,
    /// Images and scanned pages read by OCR.
    pub ocr_images: u32,
}

impl DepartmentStats {
    /// The counts in report column order: pages scanned, skipped, failed, addresses,
    /// violations, reviews, ok, ignored, new, resolved.
    #[must_use]
    pub fn columns(&self) -> [u32; 10] {
        [
            self.pages_scanned,
            self.pages_skipped,
            self.pages_failed,
            self.addresses,
            self.violations,
            self.reviews,
            self.ok,
            self.ignored,
            self.new,
            self.resolved,
        ]
    }

    /// Adds another department's counts (for totals).
    pub fn add(&mut self, o: &DepartmentStats) {
        self.pages_scanned += o.pages_scanned;
        self.pages_skipped += o.pages_skipped;
        self.pages_failed += o.pages_failed;
        self.addresses += o.addresses;
        self.violations += o.violations;
        self.reviews += o.reviews;
        self.ok += o.ok;
        self.ignored += o.ignored;
        self.new += o.new;
        self.resolved += o.resolved;
        self.still_present += o.still_present;
        for (class, n) in &o.by_class {
            *self.by_class.entry(*class).or_insert(0) += n;
        }
        self.oldest_violation = match (self.oldest_violation, o.oldest_violation) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Counts a run's pages, problems and findings per department, one item at a time (a run
/// can be far larger than memory allows to hold at once).
#[derive(Debug)]
pub struct StatsBuilder {
    positions: HashMap<DepartmentId, usize>,
    stats: Vec<DepartmentStats>,
    /// The last current address counted per department: findings come sorted by address
    /// within a department, so distinct addresses are counted without a set.
    last_address: Vec<Option<Email>>,
}

impl StatsBuilder {
    /// Counts for `departments`, in their order; items of other departments are ignored.
    #[must_use]
    pub fn new(departments: &[Department]) -> StatsBuilder {
        StatsBuilder {
            positions: departments
                .iter()
                .enumerate()
                .map(|(i, d)| (d.id.clone(), i))
                .collect(),
            stats: vec![DepartmentStats::default(); departments.len()],
            last_address: vec![None; departments.len()],
        }
    }

    fn of(&mut self, id: &DepartmentId) -> Option<usize> {
        self.positions.get(id).copied()
    }

    /// A page read.
    pub fn page(&mut self, department: &DepartmentId) {
        if let Some(i) = self.of(department) {
            self.stats[i].pages_scanned += 1;
        }
    }

    /// A URL not read.
    pub fn problem(&mut self, p: &Problem) {
        if let Some(i) = self.of(&p.department) {
            match p.kind {
                ProblemKind::Skipped => self.stats[i].pages_skipped += 1,
                ProblemKind::Failed => self.stats[i].pages_failed += 1,
            }
        }
    }

    /// A current finding (new or still present). Within a department, findings must come
    /// sorted by address.
    pub fn finding(&mut self, f: &Finding) {
        let Some(i) = self.of(&f.department) else {
            return;
        };
        let s = &mut self.stats[i];
        if self.last_address[i].as_ref() != Some(&f.email) {
            s.addresses += 1;
            self.last_address[i] = Some(f.email.clone());
        }
        match f.severity {
            Severity::Violation => {
                s.violations += 1;
                s.oldest_violation = Some(
                    s.oldest_violation
                        .map_or(f.first_seen, |d| d.min(f.first_seen)),
                );
            }
            Severity::Review => s.reviews += 1,
            Severity::Ok => s.ok += 1,
            Severity::Ignored => s.ignored += 1,
        }
        match f.status {
            Status::New => s.new += 1,
            Status::StillPresent => s.still_present += 1,
            Status::Resolved => {}
        }
        *s.by_class.entry(f.class).or_insert(0) += 1;
    }

    /// A finding of the previous completed run that is gone.
    pub fn resolved(&mut self, f: &Finding) {
        if let Some(i) = self.of(&f.department) {
            self.stats[i].resolved += 1;
        }
    }

    /// The counts, in the order of the departments given to [`StatsBuilder::new`].
    #[must_use]
    pub fn finish(self) -> Vec<DepartmentStats> {
        self.stats
    }
}

/// One department's findings, as the reports read them.
#[derive(Debug, Clone, Default)]
pub struct DepartmentFindings {
    /// Present in this run (new or still present), sorted by address and page.
    pub current: Vec<Finding>,
    /// Of the previous completed run and gone now, same order.
    pub resolved: Vec<Finding>,
}

/// Where reports read a run's findings from, one department at a time, so that no report
/// holds more than one department's findings (the state database streams them; tests and
/// small tools hold them in memory with [`LoadedFindings`]).
pub trait FindingSource {
    /// The findings of department `id`.
    ///
    /// # Errors
    /// What kept them from being read (a damaged or locked state database).
    fn department(
        &self,
        id: &DepartmentId,
    ) -> Result<DepartmentFindings, Box<dyn std::error::Error + Send + Sync>>;
}

/// Findings held in memory.
#[derive(Debug, Clone, Default)]
pub struct LoadedFindings {
    /// Present in this run, sorted by department, address and page.
    pub current: Vec<Finding>,
    /// Gone since the previous completed run, same order.
    pub resolved: Vec<Finding>,
}

impl LoadedFindings {
    /// Sorts both lists by department, address and page (the order reports and
    /// [`StatsBuilder`] expect).
    pub fn sort(&mut self) {
        let order = |a: &Finding, b: &Finding| {
            (&a.department, &a.email, a.page.as_str()).cmp(&(
                &b.department,
                &b.email,
                b.page.as_str(),
            ))
        };
        self.current.sort_by(order);
        self.resolved.sort_by(order);
    }

    /// Distinct current addresses.
    #[must_use]
    pub fn addresses(&self) -> u32 {
        let set: std::collections::BTreeSet<&Email> =
            self.current.iter().map(|f| &f.email).collect();
        u32::try_from(set.len()).unwrap_or(u32::MAX)
    }

    /// Per-department counts of `pages`, `problems` and these findings, in the order of
    /// `departments`.
    #[must_use]
    pub fn stats(
        &self,
        departments: &[Department],
        pages: &[Page],
        problems: &[Problem],
    ) -> Vec<DepartmentStats> {
        let mut b = StatsBuilder::new(departments);
        for p in pages {
            b.page(&p.department);
        }
        for p in problems {
            b.problem(p);
        }
        for f in &self.current {
            b.finding(f);
        }
        for f in &self.resolved {
            b.resolved(f);
        }
        b.finish()
    }
}

impl FindingSource for LoadedFindings {
    fn department(
        &self,
        id: &DepartmentId,
    ) -> Result<DepartmentFindings, Box<dyn std::error::Error + Send + Sync>> {
        let mine = |list: &[Finding]| {
            list.iter()
                .filter(|f| &f.department == id)
                .cloned()
                .collect()
        };
        Ok(DepartmentFindings {
            current: mine(&self.current),
            resolved: mine(&self.resolved),
        })
    }
}

/// Everything one scan produced. Reports are written from this alone.
#[derive(Debug, Clone, Serialize)]
pub struct ScanRun {
    /// The run's number in the state database.
    pub id: i64,
    /// The previous completed run that statuses are relative to, if any.
    pub previous: Option<i64>,
    /// Work counters.
    pub counters: RunCounters,
    /// The profile's `name`.
    pub profile: String,
    /// When the scan started.
    pub started: DateTime<Local>,
    /// When it ended.
    pub finished: DateTime<Local>,
    /// False when the scan was interrupted or stopped by a limit before the frontier emptied.
    pub complete: bool,
    /// Every department, configured first, then discovered, each once.
    pub departments: Vec<Department>,
    /// Counts per department, in the order of `departments`. The findings themselves are
    /// read per department from a [`FindingSource`].
    pub stats: Vec<DepartmentStats>,
    /// Distinct addresses over the whole run (not the sum of the departments').
    pub addresses: u32,
    /// Pages read.
    pub pages: Vec<Page>,
    /// URLs not scanned, sorted by department and URL.
    pub problems: Vec<Problem>,
}

impl ScanRun {
    /// Each department with its counts, in the order of `departments`.
    pub fn department_stats(&self) -> impl Iterator<Item = (&Department, &DepartmentStats)> {
        self.departments.iter().zip(&self.stats)
    }

    /// The counts of all departments together.
    #[must_use]
    pub fn totals(&self) -> DepartmentStats {
        let mut total = DepartmentStats::default();
        self.stats.iter().for_each(|s| total.add(s));
        total.addresses = self.addresses;
        total
    }

    /// Current findings with at least `severity`.
    #[must_use]
    pub fn at_least(&self, severity: Severity) -> u32 {
        let t = self.totals();
        [
            (Severity::Violation, t.violations),
            (Severity::Review, t.reviews),
            (Severity::Ok, t.ok),
            (Severity::Ignored, t.ignored),
        ]
        .into_iter()
        .filter(|(s, _)| *s >= severity)
        .map(|(_, n)| n)
        .sum()
    }

    /// Current findings (new or still present).
    #[must_use]
    pub fn current(&self) -> u32 {
        self.at_least(Severity::Ignored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The state database stores `as_str` and reads it back through serde.
    #[test]
    fn forms_round_trip_through_their_names() {
        for f in [
            Form::Plain,
            Form::Mailto,
            Form::Attribute,
            Form::HtmlEntity,
            Form::SplitByTags,
            Form::FullWidth,
            Form::HashForAt,
            Form::AtWord,
            Form::Spaced,
            Form::ChineseWord,
            Form::JavaScript,
            Form::Cloudflare,
        ] {
            let back: Form = serde_json::from_value(serde_json::Value::String(f.as_str().into()))
                .expect("known name");
            assert_eq!(back, f);
        }
        let old: Form = serde_json::from_str("\"java_script\"").expect("old name still read");
        assert_eq!(old, Form::JavaScript);
    }

    #[test]
    fn email_parse_normalises_and_rejects() {
        let e = Email::parse("Zhang.San@USTL.edu.CN").expect("valid");
        assert_eq!(e.to_string(), "zhang.san@ustl.edu.cn");
        assert_eq!(
            Email::parse("li@清华大学.cn").map(|e| e.to_string()),
            Some("li@xn--xkry9kk1bz66a.cn".to_string())
        );
        for bad in [
            "a@b",
            "@x.com",
            "a@",
            "a..b@x.com",
            ".a@x.com",
            "a@-x.com",
            "a@x..com",
            "a b@x.com",
        ] {
            assert_eq!(Email::parse(bad), None, "{bad}");
        }
        let long_local = format!("{}@x.com", "a".repeat(65));
        assert_eq!(Email::parse(&long_local), None);
    }
}
