//! The crawl: a frontier of URLs per host, robots.txt per host, sitemaps, politeness
//! (per-host concurrency and delay, a global cap), and the budget (depth, pages, traps).
//!
//! The crawl does not know what an email is. It hands each fetched page to a [`Visitor`]
//! (on a blocking thread, since parsing is CPU work) and gets back the links to follow.
//! Failures are data: every URL that was not read is reported to the visitor as a [`Miss`]
//! and the crawl goes on. As in lychee, this loop is the only concurrent part of the pipeline.
//!
//! Hostile or broken servers are bounded by explicit settings, each with its own problem
//! code: links taken per page (`too-many-links`), pages per host (`host-page-limit`), failures
//! in a row per host (each failure pauses the host with a growing back-off; after
//! `crawl.host_failure_limit` the rest of the host is listed as `host-failing`), redirect loops
//! (`redirect-loop`), redirects to internal addresses (`redirect-internal`) and to other
//! schemes (`unsupported-scheme`). Timeouts, the byte cap and connection errors are `fetch`'s.

pub mod fetch;
pub mod robots;
pub mod scope;
pub mod sitemap;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use url::Url;

use crate::model::{FrontierEntry, ProblemKind, Validators};
use crate::profile::CrawlSettings;
use fetch::{Fetch, Fetcher, Want};
use robots::Robots;
use scope::{Scope, normalise};

/// A page body handed to the visitor.
#[derive(Debug)]
pub struct CrawledPage {
    /// The URL fetched (after normalisation; redirects arrive as their own URL).
    pub url: Url,
    /// Link depth from the nearest seed.
    pub depth: u16,
    /// The page that linked here.
    pub found_on: Option<Url>,
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// `ETag` / `Last-Modified` of the response.
    pub validators: Validators,
    /// The file name from `Content-Disposition`, if any.
    pub file_name: Option<String>,
    /// The raw body.
    pub body: Vec<u8>,
}

/// Where an interrupted crawl stopped.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    /// Every URL the crawl had seen (done, queued or recorded as a problem).
    pub seen: Vec<String>,
    /// Entries still to do.
    pub pending: Vec<FrontierEntry>,
    /// Pages already read (they count against `max_pages`).
    pub pages_done: u32,
}

/// A URL that was not read.
#[derive(Debug, Clone)]
pub struct Miss {
    /// The URL.
    pub url: Url,
    /// The page whose link led here.
    pub found_on: Option<Url>,
    /// Skipped on purpose, or failed.
    pub kind: ProblemKind,
    /// Stable kebab-case code.
    pub code: String,
    /// What happened and what to do, for people.
    pub detail: String,
}

/// A snapshot for progress display.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Pages read.
    pub pages_done: u32,
    /// URLs waiting in the frontier.
    pub queued: usize,
    /// Requests in flight.
    pub in_flight: usize,
    /// URLs skipped or failed so far.
    pub misses: u32,
    /// Hosts seen.
    pub hosts: usize,
    /// Of the pages read, those that were documents (PDF, Office files, archives).
    pub documents: u32,
    /// Hosts with a request in flight.
    pub hosts_active: usize,
    /// Hosts given up after `crawl.host_failure_limit` failures in a row.
    pub hosts_given_up: usize,
}

/// Receives what the crawl finds. Implemented by the scan pipeline.
pub trait Visitor: Send + Sync + 'static {
    /// Reads one page and returns the links on it. Runs on a blocking thread.
    fn page(&self, page: CrawledPage) -> Vec<Url>;
    /// A URL that was not read, and why.
    fn miss(&self, miss: Miss);
    /// True for a URL whose body is wanted even when it is media (an image OCR should read).
    fn wants_media(&self, _url: &Url) -> bool {
        false
    }
    /// Called after every finished request.
    fn progress(&self, _progress: Progress) {}
    /// Validators stored by an earlier run, to make the request conditional.
    fn validators(&self, _url: &Url) -> Option<Validators> {
        None
    }
    /// The page answered 304 Not Modified: return its links from the stored extraction, or
    /// `None` when nothing usable is stored (the page is then fetched in full). Runs on a
    /// blocking thread.
    fn not_modified(&self, _url: &Url, _depth: u16, _found_on: Option<&Url>) -> Option<Vec<Url>> {
        None
    }
    /// Frontier changes, for persistence: entries added, and the URL that finished. The
    /// links of a finished page come in the same call, so recording both atomically means a
    /// killed crawl never loses them.
    fn frontier(&self, _queued: &[FrontierEntry], _done: Option<&Url>) {}
}

/// How the crawl ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrawlOutcome {
    /// True when the frontier emptied; false when a limit or a stop request cut it short.
    pub complete: bool,
    /// True when stopped from outside (Ctrl-C).
    pub interrupted: bool,
    /// Pages read (in this process; a resumed crawl does not count the earlier part).
    pub pages: u32,
    /// Pages answered 304 and reused.
    pub not_modified: u32,
    /// Links to hosts outside the scope (not followed).
    pub off_scope_links: u32,
    /// Links matching an exclude pattern (not followed).
    pub excluded_links: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobKind {
    Page,
    /// `guessed` sitemaps (`/sitemap.xml` without a robots.txt line) may be absent quietly.
    Sitemap {
        guessed: bool,
    },
}

#[derive(Debug, Clone)]
struct Job {
    url: Url,
    depth: u16,
    /// Shared by every link of one page (a queue holds many links of each page).
    found_on: Option<Arc<Url>>,
    hops: u8,
    kind: JobKind,
}

enum RobotsState {
    Unknown,
    Pending,
    Ready(Arc<Robots>),
}

struct Host {
    origin: Url,
    robots: RobotsState,
    queue: VecDeque<Job>,
    in_flight: u32,
    next_slot: Instant,
    delay: Duration,
    /// Pages started on this host (for `max_pages_per_host`).
    pages_started: u32,
    /// Failures in a row (timeouts, connection errors, 5xx).
    failures: u32,
    /// Set when the host was given up: why, for the URLs left.
    given_up: Option<String>,
}

enum Done {
    Robots {
        host: String,
        robots: Robots,
    },
    Page {
        job: Job,
        result: PageResult,
    },
    Sitemap {
        job: Job,
        result: Result<sitemap::Sitemap, Fetch>,
    },
}

enum PageResult {
    Read {
        links: Vec<Url>,
        not_modified: bool,
        document: bool,
    },
    Redirect(Url),
    Miss {
        kind: ProblemKind,
        code: String,
        detail: String,
    },
}

/// Runs crawls with one configuration.
pub struct Crawler {
    settings: CrawlSettings,
    fetcher: Fetcher,
    scope: Scope,
}

/// The crawl's seen-set: a 64-bit hash of each normalised URL instead of the URL itself
/// (about 10 bytes an entry instead of about 100). Two URLs share a hash with probability
/// about n²/2⁶⁵: 3·10⁻⁸ for a million URLs, so a URL wrongly taken for seen is negligible.
#[derive(Default)]
struct Seen(HashSet<u64, std::hash::BuildHasherDefault<KeyHasher>>);

impl Seen {
    /// SipHash with fixed keys (`DefaultHasher::new`): within a process, the same URL always
    /// gives the same key (the set is never stored).
    fn key(url: &str) -> u64 {
        use std::hash::{Hash as _, Hasher as _};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        url.hash(&mut h);
        h.finish()
    }

    /// Adds a URL; false if it was already there.
    fn insert(&mut self, url: &str) -> bool {
        self.0.insert(Self::key(url))
    }
}

impl Extend<String> for Seen {
    fn extend<T: IntoIterator<Item = String>>(&mut self, urls: T) {
        self.0.extend(urls.into_iter().map(|u| Seen::key(&u)));
    }
}

/// The keys of [`Seen`] are hashes already: the table uses them as they are.
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The mutable state of one crawl, owned by the loop alone.
struct State {
    hosts: HashMap<String, Host>,
    order: Vec<String>,
    rotate: usize,
    seen: Seen,
    query_variants: HashMap<String, u32>,
    in_flight: usize,
    pages_started: u32,
    pages_done: u32,
    misses: u32,
    limited: bool,
    off_scope: u32,
    excluded: u32,
    not_modified: u32,
    documents: u32,
    /// Redirect target → the URL that redirected there, to detect loops.
    redirected_from: HashMap<String, Url>,
    /// Entries accepted since the last `Visitor::frontier` call.
    fresh: Vec<FrontierEntry>,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::Page => "page",
            JobKind::Sitemap { guessed: false } => "sitemap",
            JobKind::Sitemap { guessed: true } => "sitemap-guess",
        }
    }

    fn parse(s: &str) -> JobKind {
        match s {
            "sitemap" => JobKind::Sitemap { guessed: false },
            "sitemap-guess" => JobKind::Sitemap { guessed: true },
            _ => JobKind::Page,
        }
    }
}

impl Crawler {
    /// A crawler for a scope with the given settings and HTTP client.
    #[must_use]
    pub fn new(settings: CrawlSettings, fetcher: Fetcher, scope: Scope) -> Crawler {
        Crawler {
            settings,
            fetcher,
            scope,
        }
    }

    /// Crawls from the seeds (or continues `resume`) until the frontier is empty, a limit is
    /// reached, or `stop` turns true.
    pub async fn run(
        &self,
        seeds: &[Url],
        visitor: &Arc<dyn Visitor>,
        mut stop: watch::Receiver<bool>,
        resume: Option<Resume>,
    ) -> CrawlOutcome {
        let mut st = State {
            hosts: HashMap::new(),
            order: Vec::new(),
            rotate: 0,
            seen: Seen::default(),
            query_variants: HashMap::new(),
            in_flight: 0,
            pages_started: 0,
            pages_done: 0,
            misses: 0,
            limited: false,
            off_scope: 0,
            excluded: 0,
            not_modified: 0,
            documents: 0,
            redirected_from: HashMap::new(),
            fresh: Vec::new(),
        };
        if let Some(resume) = resume {
            st.seen.extend(resume.seen);
            st.pages_started = resume.pages_done;
            for e in resume.pending {
                let Ok(url) = Url::parse(&e.url) else {
                    continue;
                };
                let job = Job {
                    url,
                    depth: e.depth,
                    found_on: e
                        .found_on
                        .as_deref()
                        .and_then(|u| Url::parse(u).ok())
                        .map(Arc::new),
                    hops: e.hops,
                    kind: JobKind::parse(&e.kind),
                };
                self.push(&mut st, job);
            }
        }
        for seed in seeds {
            self.enqueue(&mut st, visitor, seed, 0, None, 0, JobKind::Page);
        }
        visitor.frontier(&std::mem::take(&mut st.fresh), None);
        let mut tasks: JoinSet<Done> = JoinSet::new();
        let mut interrupted = false;
        loop {
            self.schedule(&mut st, visitor, &mut tasks);
            if tasks.is_empty() {
                break;
            }
            let joined = tokio::select! {
                j = tasks.join_next() => j,
                _ = stop.wait_for(|s| *s) => {
                    interrupted = true;
                    break;
                }
            };
            let Some(joined) = joined else { break };
            st.in_flight = st.in_flight.saturating_sub(1);
            match joined {
                Ok(done) => {
                    let finished = self.handle(&mut st, visitor, done);
                    visitor.frontier(&std::mem::take(&mut st.fresh), finished.as_ref());
                }
                // A task only panics through a bug of ours; the job is lost, the crawl goes on.
                Err(e) => tracing::error!("crawl task failed: {e}"),
            }
            visitor.progress(Progress {
                pages_done: st.pages_done,
                queued: st.hosts.values().map(|h| h.queue.len()).sum(),
                in_flight: st.in_flight,
                misses: st.misses,
                hosts: st.hosts.len(),
                documents: st.documents,
                hosts_active: st.hosts.values().filter(|h| h.in_flight > 0).count(),
                hosts_given_up: st.hosts.values().filter(|h| h.given_up.is_some()).count(),
            });
        }
        tasks.abort_all();
        CrawlOutcome {
            complete: !interrupted && !st.limited,
            interrupted,
            pages: st.pages_done,
            not_modified: st.not_modified,
            off_scope_links: st.off_scope,
            excluded_links: st.excluded,
        }
    }

    fn miss(
        st: &mut State,
        visitor: &Arc<dyn Visitor>,
        job: &Job,
        kind: ProblemKind,
        code: &str,
        detail: String,
    ) {
        st.misses += 1;
        visitor.miss(Miss {
            url: job.url.clone(),
            found_on: job.found_on.as_deref().cloned(),
            kind,
            code: code.to_string(),
            detail,
        });
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one private call site per job kind"
    )]
    fn enqueue(
        &self,
        st: &mut State,
        visitor: &Arc<dyn Visitor>,
        url: &Url,
        depth: u16,
        found_on: Option<Arc<Url>>,
        hops: u8,
        kind: JobKind,
    ) {
        let url = normalise(url);
        if !matches!(url.scheme(), "http" | "https") {
            // Page links are filtered by the extractor; what gets here comes from sitemaps.
            if st.seen.insert(url.as_str()) {
                let job = Job {
                    url,
                    depth,
                    found_on,
                    hops,
                    kind,
                };
                let detail = format!(
                    "{}: scheme is not HTTP(S); only web pages are crawled",
                    job.url.scheme()
                );
                Self::miss(
                    st,
                    visitor,
                    &job,
                    ProblemKind::Skipped,
                    "unsupported-scheme",
                    detail,
                );
            }
            return;
        }
        let Some(host) = url.host_str() else { return };
        if !self.scope.host_in_scope(host) {
            st.off_scope += 1;
            tracing::debug!(%url, "off scope, not followed");
            return;
        }
        if self.scope.excluded(&url) {
            st.excluded += 1;
            return;
        }
        if !st.seen.insert(url.as_str()) {
            return;
        }
        let job = Job {
            url,
            depth,
            found_on,
            hops,
            kind,
        };
        if job.url.as_str().len() > self.settings.max_url_len {
            let detail = format!(
                "URL longer than crawl.max_url_len ({}); probably a trap",
                self.settings.max_url_len
            );
            return Self::miss(
                st,
                visitor,
                &job,
                ProblemKind::Skipped,
                "url-too-long",
                detail,
            );
        }
        if kind == JobKind::Page && depth > self.settings.max_depth {
            let detail = format!(
                "more than crawl.max_depth ({}) links from a seed",
                self.settings.max_depth
            );
            return Self::miss(
                st,
                visitor,
                &job,
                ProblemKind::Skipped,
                "depth-limit",
                detail,
            );
        }
        if job.url.query().is_some() {
            let mut key = job.url.clone();
            key.set_query(None);
            let n = st.query_variants.entry(key.to_string()).or_insert(0);
            *n += 1;
            if *n > self.settings.max_query_variants {
                let detail = format!(
                    "more than crawl.max_query_variants ({}) query strings on {key}; looks like a calendar or session-id trap",
                    self.settings.max_query_variants
                );
                return Self::miss(st, visitor, &job, ProblemKind::Skipped, "trap", detail);
            }
        }
        st.fresh.push(FrontierEntry {
            url: job.url.to_string(),
            depth: job.depth,
            found_on: job.found_on.as_deref().map(Url::to_string),
            hops: job.hops,
            kind: kind.as_str().to_string(),
        });
        self.push(st, job);
    }

    /// Puts an admitted job in its host's queue.
    fn push(&self, st: &mut State, job: Job) {
        let kind = job.kind;
        let origin = job.url.origin().ascii_serialization();
        let h = st.hosts.entry(origin.clone()).or_insert_with(|| {
            st.order.push(origin.clone());
            let mut base = job.url.clone();
            base.set_path("/");
            base.set_query(None);
            Host {
                origin: base,
                robots: RobotsState::Unknown,
                queue: VecDeque::new(),
                in_flight: 0,
                next_slot: Instant::now(),
                delay: Duration::from_millis(self.settings.delay_ms),
                pages_started: 0,
                failures: 0,
                given_up: None,
            }
        });
        if kind == JobKind::Page {
            h.queue.push_back(job);
        } else {
            // Sitemaps first: they widen the frontier.
            h.queue.push_front(job);
        }
    }

    /// Starts as many requests as the limits allow, taking hosts in turn.
    fn schedule(&self, st: &mut State, visitor: &Arc<dyn Visitor>, tasks: &mut JoinSet<Done>) {
        let global = usize::try_from(self.settings.concurrency).unwrap_or(usize::MAX);
        let n = st.order.len();
        for i in 0..n {
            let key = st.order[(st.rotate + i) % n].clone();
            loop {
                if st.in_flight >= global {
                    st.rotate = (st.rotate + i) % n.max(1);
                    return;
                }
                let Some(host) = st.hosts.get_mut(&key) else {
                    break;
                };
                if host.queue.is_empty() || host.in_flight >= self.settings.per_host_concurrency {
                    break;
                }
                match &host.robots {
                    RobotsState::Pending => break,
                    RobotsState::Unknown => {
                        host.in_flight += 1;
                        st.in_flight += 1;
                        if self.settings.respect_robots {
                            host.robots = RobotsState::Pending;
                            let fetcher = self.fetcher.clone();
                            let origin = host.origin.clone();
                            tasks.spawn(async move {
                                let robots = fetch_robots(&fetcher, &origin).await;
                                Done::Robots {
                                    host: key.clone(),
                                    robots,
                                }
                            });
                        } else {
                            host.robots = RobotsState::Pending;
                            let host_key = key.clone();
                            tasks.spawn(async move {
                                Done::Robots {
                                    host: host_key,
                                    robots: Robots::AllowAll,
                                }
                            });
                        }
                        break;
                    }
                    RobotsState::Ready(robots) => {
                        let robots = Arc::clone(robots);
                        let Some(job) = host.queue.pop_front() else {
                            break;
                        };
                        if let Some(why) = &host.given_up {
                            let detail = why.clone();
                            Self::miss(
                                st,
                                visitor,
                                &job,
                                ProblemKind::Skipped,
                                "host-failing",
                                detail,
                            );
                            continue;
                        }
                        let per_host = self.settings.max_pages_per_host;
                        if job.kind == JobKind::Page
                            && per_host > 0
                            && host.pages_started >= per_host
                        {
                            st.limited = true;
                            let detail = format!(
                                "crawl.max_pages_per_host ({per_host}) reached on {}; raise it to cover more of this host",
                                host.origin
                            );
                            Self::miss(
                                st,
                                visitor,
                                &job,
                                ProblemKind::Skipped,
                                "host-page-limit",
                                detail,
                            );
                            continue;
                        }
                        if job.kind == JobKind::Page {
                            if !robots.allowed(job.url.as_str()) {
                                let (code, detail) = match robots.as_ref() {
                                    Robots::Unavailable(why) => (
                                        "robots-unavailable",
                                        format!(
                                            "robots.txt could not be read ({why}); RFC 9309 says to assume nothing may be crawled. Fix robots.txt or set crawl.respect_robots = false"
                                        ),
                                    ),
                                    _ => (
                                        "robots-disallowed",
                                        "disallowed by the host's robots.txt".to_string(),
                                    ),
                                };
                                Self::miss(st, visitor, &job, ProblemKind::Skipped, code, detail);
                                continue;
                            }
                            if st.pages_started >= self.settings.max_pages {
                                st.limited = true;
                                let detail = format!(
                                    "crawl.max_pages ({}) reached; raise it to cover more",
                                    self.settings.max_pages
                                );
                                Self::miss(
                                    st,
                                    visitor,
                                    &job,
                                    ProblemKind::Skipped,
                                    "page-limit",
                                    detail,
                                );
                                continue;
                            }
                            st.pages_started += 1;
                        }
                        let Some(host) = st.hosts.get_mut(&key) else {
                            break;
                        };
                        if job.kind == JobKind::Page {
                            host.pages_started += 1;
                        }
                        let now = Instant::now();
                        let start = host.next_slot.max(now);
                        host.next_slot = start + host.delay;
                        host.in_flight += 1;
                        st.in_flight += 1;
                        let fetcher = self.fetcher.clone();
                        let visitor = Arc::clone(visitor);
                        let max_sitemap =
                            usize::try_from(self.settings.max_sitemap_urls).unwrap_or(usize::MAX);
                        tasks.spawn(async move {
                            tokio::time::sleep_until(start).await;
                            match job.kind {
                                JobKind::Page => {
                                    let result = fetch_page(&fetcher, &job, visitor).await;
                                    Done::Page { job, result }
                                }
                                JobKind::Sitemap { .. } => {
                                    let result =
                                        fetch_sitemap(&fetcher, &job.url, max_sitemap).await;
                                    Done::Sitemap { job, result }
                                }
                            }
                        });
                    }
                }
            }
        }
        st.rotate = (st.rotate + 1) % n.max(1);
    }

    /// Applies a finished task to the state; returns the frontier URL it finished, if any.
    fn handle(&self, st: &mut State, visitor: &Arc<dyn Visitor>, done: Done) -> Option<Url> {
        match done {
            Done::Robots { host, robots } => {
                let mut sitemaps = Vec::new();
                if let Some(h) = st.hosts.get_mut(&host) {
                    h.in_flight = h.in_flight.saturating_sub(1);
                    if let Some(d) = robots.delay() {
                        h.delay = h.delay.max(d);
                    }
                    if self.settings.sitemaps {
                        let listed: Vec<Url> = robots
                            .sitemaps()
                            .iter()
                            .filter_map(|s| h.origin.join(s).ok())
                            .collect();
                        if listed.is_empty() {
                            if let Ok(guess) = h.origin.join("/sitemap.xml") {
                                sitemaps.push((guess, true));
                            }
                        } else {
                            sitemaps.extend(listed.into_iter().map(|u| (u, false)));
                        }
                    }
                    h.robots = RobotsState::Ready(Arc::new(robots));
                }
                for (url, guessed) in sitemaps {
                    self.enqueue(st, visitor, &url, 0, None, 0, JobKind::Sitemap { guessed });
                }
                None
            }
            Done::Page { job, result } => {
                Self::release(st, &job);
                self.host_health(st, &job, &result);
                match result {
                    PageResult::Read {
                        links,
                        not_modified,
                        document,
                    } => {
                        st.pages_done += 1;
                        st.not_modified += u32::from(not_modified);
                        st.documents += u32::from(document);
                        let links = self.cap_links(st, visitor, &job, links);
                        let from = Arc::new(job.url.clone());
                        for link in links {
                            self.enqueue(
                                st,
                                visitor,
                                &link,
                                job.depth.saturating_add(1),
                                Some(Arc::clone(&from)),
                                0,
                                JobKind::Page,
                            );
                        }
                    }
                    PageResult::Redirect(to) => self.redirect(st, visitor, &job, &to),
                    PageResult::Miss { kind, code, detail } => {
                        Self::miss(st, visitor, &job, kind, &code, detail);
                    }
                }
                Some(job.url)
            }
            Done::Sitemap { job, result } => {
                Self::release(st, &job);
                match result {
                    Ok(map) => {
                        let from = Arc::new(job.url.clone());
                        for page in map.pages.iter().filter_map(|p| job.url.join(p).ok()) {
                            self.enqueue(
                                st,
                                visitor,
                                &page,
                                1,
                                Some(Arc::clone(&from)),
                                0,
                                JobKind::Page,
                            );
                        }
                        for s in map.sitemaps.iter().filter_map(|p| job.url.join(p).ok()) {
                            self.enqueue(
                                st,
                                visitor,
                                &s,
                                0,
                                Some(Arc::clone(&from)),
                                0,
                                JobKind::Sitemap { guessed: false },
                            );
                        }
                    }
                    Err(Fetch::Redirect(to)) => self.redirect(st, visitor, &job, &to),
                    Err(Fetch::Failed { code, detail })
                        if job.kind != (JobKind::Sitemap { guessed: true }) =>
                    {
                        Self::miss(
                            st,
                            visitor,
                            &job,
                            ProblemKind::Failed,
                            &code,
                            format!("sitemap: {detail}"),
                        );
                    }
                    Err(Fetch::Skipped { code, detail }) => {
                        Self::miss(st, visitor, &job, ProblemKind::Skipped, &code, detail);
                    }
                    Err(_) => {}
                }
                Some(job.url)
            }
        }
    }

    /// True when `target` is `from` or a URL that redirected (directly or through other
    /// hops) to `from` in this crawl.
    fn in_redirect_chain(st: &State, from: &Url, target: &Url) -> bool {
        let mut at = from;
        for _ in 0..=MAX_CHAIN_WALK {
            if at == target {
                return true;
            }
            match st.redirected_from.get(at.as_str()) {
                Some(prev) => at = prev,
                None => return false,
            }
        }
        false
    }

    /// Follows at most `crawl.max_links_per_page` distinct links of a page; lists the page
    /// when it had more.
    fn cap_links(
        &self,
        st: &mut State,
        visitor: &Arc<dyn Visitor>,
        job: &Job,
        links: Vec<Url>,
    ) -> Vec<Url> {
        let max = usize::try_from(self.settings.max_links_per_page).unwrap_or(usize::MAX);
        let mut distinct = HashSet::new();
        let mut kept = Vec::new();
        let mut total = 0usize;
        for link in links {
            let link = normalise(&link);
            if distinct.insert(link.to_string()) {
                total += 1;
                if kept.len() < max {
                    kept.push(link);
                }
            }
        }
        if total > max {
            let detail = format!(
                "the page has {total} distinct links; only the first {max} (crawl.max_links_per_page) were followed"
            );
            let page = Job {
                url: job.url.clone(),
                depth: job.depth,
                found_on: job.found_on.clone(),
                hops: job.hops,
                kind: job.kind,
            };
            Self::miss(
                st,
                visitor,
                &page,
                ProblemKind::Skipped,
                "too-many-links",
                detail,
            );
        }
        kept
    }

    /// Counts failures in a row per host: each pauses the host (exponential back-off), and
    /// `crawl.host_failure_limit` of them give the host up.
    fn host_health(&self, st: &mut State, job: &Job, result: &PageResult) {
        let Some(h) = st.hosts.get_mut(&job.url.origin().ascii_serialization()) else {
            return;
        };
        let code = match result {
            PageResult::Miss {
                kind: ProblemKind::Failed,
                code,
                ..
            } if is_host_failure(code) => code,
            _ => {
                h.failures = 0;
                return;
            }
        };
        h.failures += 1;
        let backoff = Duration::from_millis(self.settings.retry_backoff_ms)
            .saturating_mul(1 << (h.failures - 1).min(16))
            .min(MAX_HOST_PAUSE);
        h.next_slot = h.next_slot.max(Instant::now() + backoff);
        let limit = self.settings.host_failure_limit;
        if limit > 0 && h.failures >= limit && h.given_up.is_none() {
            tracing::warn!(host = %h.origin, code, "host given up after {limit} failures in a row");
            h.given_up = Some(format!(
                "not fetched: {} failed {limit} requests in a row (crawl.host_failure_limit; last: {code}); the host looks down or hostile",
                h.origin
            ));
        }
    }

    fn release(st: &mut State, job: &Job) {
        if let Some(h) = st.hosts.get_mut(&job.url.origin().ascii_serialization()) {
            h.in_flight = h.in_flight.saturating_sub(1);
        }
    }

    fn redirect(&self, st: &mut State, visitor: &Arc<dyn Visitor>, job: &Job, to: &Url) {
        if job.hops >= self.settings.max_redirects {
            let detail = format!(
                "more than crawl.max_redirects ({}) redirects; last hop to {to}",
                self.settings.max_redirects
            );
            return Self::miss(
                st,
                visitor,
                job,
                ProblemKind::Failed,
                "too-many-redirects",
                detail,
            );
        }
        if !matches!(to.scheme(), "http" | "https") {
            let detail = format!(
                "redirects to {to}: scheme {} is not HTTP(S); not followed",
                to.scheme()
            );
            return Self::miss(
                st,
                visitor,
                job,
                ProblemKind::Skipped,
                "unsupported-scheme",
                detail,
            );
        }
        if !self.scope.allows(to) {
            let (code, detail) = if is_internal(to) {
                (
                    "redirect-internal",
                    format!(
                        "redirects to {to}, an internal (loopback, private or link-local) address outside the institution's scope; not followed"
                    ),
                )
            } else {
                (
                    "redirect-out-of-scope",
                    format!("redirects to {to}, outside the institution's scope; not followed"),
                )
            };
            return Self::miss(st, visitor, job, ProblemKind::Skipped, code, detail);
        }
        let target = normalise(to);
        if Self::in_redirect_chain(st, &job.url, &target) {
            let detail = format!(
                "redirect loop: {target} redirects back to a URL earlier in the same chain; fix the server's redirects"
            );
            return Self::miss(
                st,
                visitor,
                job,
                ProblemKind::Failed,
                "redirect-loop",
                detail,
            );
        }
        st.redirected_from
            .insert(target.to_string(), job.url.clone());
        // The target keeps the depth of the link that led to the redirect.
        self.enqueue(
            st,
            visitor,
            to,
            job.depth,
            Some(Arc::new(job.url.clone())),
            job.hops + 1,
            job.kind,
        );
    }
}

/// The longest pause one host gets after failures in a row.
const MAX_HOST_PAUSE: Duration = Duration::from_secs(30);

/// Hops walked back when looking for a redirect loop (more than `max_redirects` can be).
const MAX_CHAIN_WALK: usize = 256;

/// Failures that say something about the host (not about one URL).
fn is_host_failure(code: &str) -> bool {
    matches!(
        code,
        "timeout" | "connect" | "connection-reset" | "tls" | "truncated" | "body"
    ) || code.starts_with("http-5")
}

/// Loopback, private, link-local or unspecified IP literals and `localhost` names.
fn is_internal(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64
        }
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_private() || v4.is_link_local())
        }
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            let last = d.rsplit('.').next().unwrap_or_default();
            d == "localhost"
                || (d.contains('.') && matches!(last, "localhost" | "local" | "internal"))
        }
        None => false,
    }
}

async fn fetch_robots(fetcher: &Fetcher, origin: &Url) -> Robots {
    let Ok(mut url) = origin.join("/robots.txt") else {
        return Robots::AllowAll;
    };
    // RFC 9309: follow at least five redirects.
    for _ in 0..5 {
        match fetcher.get(&url, Want::Any, None).await {
            Fetch::Body { body, .. } => return Robots::parse(robots::AGENT_TOKEN, &body),
            Fetch::Redirect(to) => url = to,
            Fetch::Failed { code, detail } => {
                let client_error = code
                    .strip_prefix("http-")
                    .and_then(|c| c.parse::<u16>().ok())
                    .is_some_and(|c| (400..500).contains(&c) && c != 429);
                return if client_error {
                    Robots::AllowAll
                } else {
                    Robots::Unavailable(detail)
                };
            }
            Fetch::Skipped { .. } | Fetch::NotModified => return Robots::AllowAll,
        }
    }
    Robots::AllowAll
}

async fn fetch_page(fetcher: &Fetcher, job: &Job, visitor: Arc<dyn Visitor>) -> PageResult {
    let known = visitor.validators(&job.url);
    let want = if visitor.wants_media(&job.url) {
        Want::Any
    } else {
        Want::Page
    };
    let mut fetched = fetcher.get(&job.url, want, known.as_ref()).await;
    if matches!(fetched, Fetch::NotModified) {
        let v = Arc::clone(&visitor);
        let (url, depth, found_on) = (job.url.clone(), job.depth, job.found_on.clone());
        if let Ok(Some(links)) =
            tokio::task::spawn_blocking(move || v.not_modified(&url, depth, found_on.as_deref()))
                .await
        {
            return PageResult::Read {
                links,
                not_modified: true,
                document: false,
            };
        }
        // Nothing usable stored: fetch it in full.
        fetched = fetcher.get(&job.url, want, None).await;
    }
    match fetched {
        Fetch::Body {
            status,
            content_type,
            validators,
            file_name,
            body,
        } => {
            let document = !fetch::is_page_type(content_type.as_deref());
            let page = CrawledPage {
                url: job.url.clone(),
                depth: job.depth,
                found_on: job.found_on.as_deref().cloned(),
                status,
                content_type,
                validators,
                file_name,
                body,
            };
            match tokio::task::spawn_blocking(move || visitor.page(page)).await {
                Ok(links) => PageResult::Read {
                    links,
                    not_modified: false,
                    document,
                },
                Err(e) => PageResult::Miss {
                    kind: ProblemKind::Failed,
                    code: "read-failed".to_string(),
                    detail: format!("reading the page failed: {e}; please report this as a bug"),
                },
            }
        }
        Fetch::Redirect(to) => PageResult::Redirect(to),
        Fetch::Skipped { code, detail } => PageResult::Miss {
            kind: ProblemKind::Skipped,
            code,
            detail,
        },
        Fetch::Failed { code, detail } => PageResult::Miss {
            kind: ProblemKind::Failed,
            code,
            detail,
        },
        Fetch::NotModified => PageResult::Miss {
            kind: ProblemKind::Failed,
            code: "http-304".to_string(),
            detail: "HTTP 304 to an unconditional request".to_string(),
        },
    }
}

async fn fetch_sitemap(
    fetcher: &Fetcher,
    url: &Url,
    max: usize,
) -> Result<sitemap::Sitemap, Fetch> {
    match fetcher.get(url, Want::Any, None).await {
        Fetch::Body { body, .. } => tokio::task::spawn_blocking(move || sitemap::parse(&body, max))
            .await
            .map_err(|e| Fetch::Failed {
                code: "read-failed".to_string(),
                detail: format!("reading the sitemap failed: {e}"),
            }),
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses() {
        let internal = |s: &str| is_internal(&Url::parse(s).expect("url"));
        for s in [
            "http://127.0.0.1/",
            "http://10.1.2.3/",
            "http://192.168.0.1:8080/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://localhost/",
            "http://printer.local/",
        ] {
            assert!(internal(s), "{s}");
        }
        for s in [
            "http://8.8.8.8/",
            "http://www.ustl.edu.cn/",
            "http://[2001:db8::1]/",
        ] {
            assert!(!internal(s), "{s}");
        }
    }

    #[test]
    fn host_failures_are_host_level_codes() {
        assert!(is_host_failure("timeout"));
        assert!(is_host_failure("http-503"));
        assert!(is_host_failure("connection-reset"));
        assert!(!is_host_failure("http-404"));
        assert!(!is_host_failure("too-large"));
    }
}
