//! One scan, end to end: build the stages from a profile, crawl, and for every page decode,
//! extract, classify and attribute, recording each step in the state database as it happens
//! (so a killed scan resumes and nothing found is lost). The result is a [`ScanRun`] loaded
//! back from the store with statuses; writing it is `report`'s job. `folder.rs` runs the same
//! reading and recording over a folder of uploaded notice documents instead of a crawl.

mod folder;

pub use folder::{FolderOptions, scan_folder};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Local, NaiveDate};
use tokio::sync::watch;
use url::Url;

use crate::attribute::{Attributor, is_home_page};
use crate::classify::Classifier;
use crate::crawl::fetch::{Fetcher, Resolve};
use crate::crawl::scope::Scope;
use crate::crawl::{CrawlOutcome, CrawledPage, Crawler, Miss, Progress, Resume, Visitor};
use crate::decode::decode;
use crate::error::ScanError;
use crate::extract;
use crate::model::{
    DepartmentId, Document, Finding, FrontierEntry, Page, Problem, ProblemKind, ReadProblem,
    RunCounters, ScanRun, Status, Validators,
};
use crate::profile::Profile;
use crate::store::{PageRecord, Store, StoreError, content_hash, fingerprint};

/// Receives progress while the crawl runs (the CLI draws a bar from it).
pub type ProgressFn = dyn Fn(Progress) + Send + Sync;

/// Options that are not part of the profile.
#[derive(Default)]
pub struct ScanOptions {
    /// `--resolve` entries.
    pub resolve: Vec<Resolve>,
    /// Progress callback.
    pub progress: Option<Box<ProgressFn>>,
    /// Continue the interrupted run of this profile instead of starting a new one.
    pub resume: bool,
}

/// A finished scan and how the crawl ended.
#[derive(Debug)]
pub struct ScanResult {
    /// Everything found.
    pub run: ScanRun,
    /// How the crawl ended.
    pub outcome: CrawlOutcome,
    /// True when this continued an interrupted run.
    pub resumed: bool,
}

/// Who owns what was read: web pages by URL (`attribute`), uploaded files by their top-level
/// sub-folder.
enum Owner {
    Web,
    Folder(folder::FolderOwner),
}

struct Collector {
    owner: Owner,
    store: Arc<Store>,
    run: i64,
    day: NaiveDate,
    classifier: Classifier,
    attributor: Attributor,
    limits: crate::extract::documents::Limits,
    progress: Option<Box<ProgressFn>>,
    extracted: AtomicU32,
    reused: AtomicU32,
    /// The first store failure; the scan reports it instead of claiming success.
    failure: Mutex<Option<StoreError>>,
}

/// True for bodies to be parsed as HTML: by type, or by a sniff when the type is missing or
/// plain text that really is markup.
fn looks_like_html(content_type: Option<&str>, body: &[u8]) -> bool {
    let ct = content_type.unwrap_or_default().to_ascii_lowercase();
    if ct.contains("html") {
        return true;
    }
    let head = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    head.starts_with("<!doctype html")
        || head.starts_with("<html")
        || (ct.is_empty() && head.starts_with('<'))
}

impl Collector {
    fn new(
        owner: Owner,
        store: Arc<Store>,
        (run, day): (i64, NaiveDate),
        classifier: Classifier,
        attributor: Attributor,
        profile: &Profile,
        progress: Option<Box<ProgressFn>>,
    ) -> Collector {
        Collector {
            owner,
            store,
            run,
            day,
            classifier,
            attributor,
            limits: profile.documents.limits(profile.crawl.max_document_bytes),
            progress,
            extracted: AtomicU32::new(0),
            reused: AtomicU32::new(0),
            failure: Mutex::new(None),
        }
    }

    fn fail(&self, e: StoreError) {
        tracing::error!("{e}");
        let mut f = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        f.get_or_insert(e);
    }

    fn read(&self, page: &CrawledPage) -> Document {
        let ct = page.content_type.as_deref();
        let html = looks_like_html(ct, &page.body);
        let tld = page.url.host_str().and_then(|h| h.rsplit('.').next());
        if html {
            let text = decode(&page.body, ct, tld, true).text;
            return extract::html(&page.url, &text);
        }
        let plain = ct.is_some_and(|c| c.to_ascii_lowercase().starts_with("text/plain"));
        let name = page.file_name.clone().or_else(|| file_name_of(&page.url));
        if !plain
            && let Some(doc) = extract::document(&page.body, name.as_deref(), ct, &self.limits)
        {
            return doc;
        }
        if plain || std::str::from_utf8(&page.body[..page.body.len().min(1024)]).is_ok() {
            return extract::text(&decode(&page.body, ct, tld, false).text);
        }
        Document {
            problems: vec![ReadProblem {
                skipped: true,
                code: "unsupported-type".to_string(),
                detail: format!(
                    "not a page or a document this version reads (content type {})",
                    ct.unwrap_or("none")
                ),
            }],
            attachment: true,
            ..Document::default()
        }
    }

    /// Classifies and attributes a page's addresses: one finding per address, counting its
    /// occurrences and keeping the first one's evidence. A document belongs to the
    /// department of the page that links it.
    fn findings(&self, visit: &Visit<'_>, doc: &Document) -> (DepartmentId, Vec<Finding>) {
        let department = match &self.owner {
            Owner::Folder(f) => f.department(visit.url),
            Owner::Web if doc.attachment => self
                .attributor
                .attribute(visit.found_on.unwrap_or(visit.url)),
            Owner::Web => self.attributor.attribute(visit.url),
        };
        let url = visit.url;
        let mut on_page: BTreeMap<String, Finding> = BTreeMap::new();
        for c in &doc.emails {
            let key = c.address.to_string();
            if let Some(f) = on_page.get_mut(&key) {
                f.occurrences += 1;
                continue;
            }
            let verdict = self.classifier.classify(&c.address);
            on_page.insert(
                key,
                Finding {
                    fingerprint: fingerprint(&department, &c.address, url),
                    status: Status::New,
                    verified: true,
                    first_seen: self.day,
                    last_seen: self.day,
                    department: department.clone(),
                    email: c.address.clone(),
                    class: verdict.class,
                    severity: verdict.severity,
                    rule: verdict.rule,
                    page: url.clone(),
                    page_title: doc.title.clone(),
                    form: c.form,
                    raw: c.raw.clone(),
                    context: c.context.clone(),
                    occurrences: 1,
                    location: c.location.clone(),
                    linked_from: if doc.attachment {
                        visit.found_on.cloned()
                    } else {
                        None
                    },
                },
            );
        }
        (department, on_page.into_values().collect())
    }

    fn record(&self, visit: &Visit<'_>, doc: &Document, new_doc: bool) {
        let (department, findings) = self.findings(visit, doc);
        if !doc.problems.is_empty() {
            // One row per URL in errors.csv: the parts that could not be read, together.
            let failed = doc.problems.iter().any(|p| !p.skipped);
            let first = &doc.problems[0];
            self.store.record_problem(
                self.run,
                &Problem {
                    url: visit.url.clone(),
                    found_on: visit.found_on.cloned(),
                    department: department.clone(),
                    kind: if failed {
                        ProblemKind::Failed
                    } else {
                        ProblemKind::Skipped
                    },
                    code: first.code.clone(),
                    detail: doc
                        .problems
                        .iter()
                        .map(|p| p.detail.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                },
            );
        }
        let page = Page {
            url: visit.url.clone(),
            title: doc.title.clone(),
            department,
            depth: visit.depth,
        };
        tracing::debug!(url = %visit.url, addresses = findings.len(), links = doc.links.len(), "read");
        let rec = PageRecord {
            page,
            http_status: visit.status,
            validators: visit.validators.clone(),
            content_hash: visit.hash.to_string(),
            document: new_doc.then(|| doc.clone()),
            findings,
        };
        self.store.record_page(self.run, self.day, rec);
    }
}

/// One fetched URL, as `Collector::record` needs it.
struct Visit<'a> {
    url: &'a Url,
    found_on: Option<&'a Url>,
    depth: u16,
    status: u16,
    validators: &'a Validators,
    hash: &'a str,
}

/// The last path segment of a URL, percent-decoded: the file name of a linked document.
fn file_name_of(url: &Url) -> Option<String> {
    let last = url.path_segments()?.next_back()?;
    let name = percent_encoding::percent_decode_str(last)
        .decode_utf8_lossy()
        .into_owned();
    (!name.is_empty()).then_some(name)
}

impl Visitor for Collector {
    fn page(&self, page: CrawledPage) -> Vec<Url> {
        let span = tracing::debug_span!("page", url = %page.url);
        let _guard = span.enter();
        let hash = content_hash(&page.body);
        // Unchanged bytes (same hash as a stored extraction) are not parsed again.
        let (doc, new_doc) = match self.store.extraction(&hash) {
            Ok(Some(doc)) => {
                self.reused.fetch_add(1, Ordering::Relaxed);
                (doc, false)
            }
            other => {
                if let Err(e) = other {
                    self.fail(e);
                }
                self.extracted.fetch_add(1, Ordering::Relaxed);
                (self.read(&page), true)
            }
        };
        let visit = Visit {
            url: &page.url,
            found_on: page.found_on.as_ref(),
            depth: page.depth,
            status: page.status,
            validators: &page.validators,
            hash: &hash,
        };
        self.record(&visit, &doc, new_doc);
        doc.links
    }

    fn not_modified(&self, url: &Url, depth: u16, found_on: Option<&Url>) -> Option<Vec<Url>> {
        let hash = self.store.stored_hash(url.as_str()).ok().flatten()?;
        let doc = self.store.extraction(&hash).ok().flatten()?;
        let visit = Visit {
            url,
            found_on,
            depth,
            status: 304,
            validators: &Validators::default(),
            hash: &hash,
        };
        self.record(&visit, &doc, false);
        Some(doc.links)
    }

    fn validators(&self, url: &Url) -> Option<Validators> {
        match self.store.validators(url.as_str()) {
            Ok(v) => v,
            Err(e) => {
                self.fail(e);
                None
            }
        }
    }

    fn miss(&self, miss: Miss) {
        tracing::info!(url = %miss.url, code = %miss.code, "{}", miss.detail);
        let problem = Problem {
            department: self.attributor.attribute(&miss.url),
            url: miss.url,
            found_on: miss.found_on,
            kind: miss.kind,
            code: miss.code,
            detail: miss.detail,
        };
        self.store.record_problem(self.run, &problem);
    }

    fn frontier(&self, queued: &[FrontierEntry], done: Option<&Url>) {
        if queued.is_empty() && done.is_none() {
            return;
        }
        self.store
            .record_frontier(self.run, queued, done.map(Url::as_str));
    }

    fn progress(&self, progress: Progress) {
        if let Some(p) = &self.progress {
            p(progress);
        }
    }
}

/// Scans the profile's sites, recording everything in `store`. `stop` turning true ends
/// the crawl early; what was found so far is kept, the run is marked interrupted and can be
/// resumed.
pub async fn scan(
    profile: &Profile,
    classifier: Classifier,
    store: Arc<Store>,
    options: ScanOptions,
    stop: watch::Receiver<bool>,
) -> Result<ScanResult, ScanError> {
    let fetcher = Fetcher::new(&profile.crawl, &options.resolve)?;
    let crawler = Crawler::new(profile.crawl.clone(), fetcher, Scope::new(profile));
    let attributor = Attributor::new(profile);
    let (run, started, resume) = if options.resume {
        let Some(info) = store.resumable_run(&profile.name)? else {
            return Err(ScanError::NothingToResume {
                profile: profile.name.clone(),
                state: store.path().to_path_buf(),
            });
        };
        let (seen, pending) = store.frontier(info.id)?;
        let pages_done = store.pages_read(info.id)?;
        let started = DateTime::parse_from_rfc3339(&info.started)
            .map_or_else(|_| Local::now(), |t| t.with_timezone(&Local));
        tracing::info!(
            run = info.id,
            pending = pending.len(),
            pages_done,
            "resuming"
        );
        (
            info.id,
            started,
            Some(Resume {
                seen,
                pending,
                pages_done,
            }),
        )
    } else {
        let started = Local::now();
        (store.begin_run(&profile.name, started)?, started, None)
    };
    let collector = Arc::new(Collector::new(
        Owner::Web,
        Arc::clone(&store),
        (run, started.date_naive()),
        classifier,
        attributor.clone(),
        profile,
        options.progress,
    ));
    // Department sites are seeds too: a sub-site nobody links to is still audited.
    let mut seeds = profile.seeds.clone();
    for d in &profile.departments {
        seeds.extend(
            d.hosts
                .iter()
                .filter_map(|h| Url::parse(&format!("http://{h}/")).ok()),
        );
        seeds.extend(d.prefixes.iter().filter_map(|p| Url::parse(p).ok()));
    }
    let visitor: Arc<dyn Visitor> = collector.clone();
    let clock = std::time::Instant::now();
    let outcome = crawler.run(&seeds, &visitor, stop, resume.clone()).await;
    tracing::info!(elapsed = ?clock.elapsed(), pages = outcome.pages, "crawl finished");
    drop(visitor);
    share_documents(&store, run, started.date_naive())?;
    store.flush()?;
    if let Some(e) = collector
        .failure
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        return Err(e.into());
    }
    let clock = std::time::Instant::now();
    store.finish_run(run, Local::now(), outcome.complete, outcome.interrupted)?;
    tracing::info!(elapsed = ?clock.elapsed(), "run finished");
    let counters = RunCounters {
        extracted: collector.extracted.load(Ordering::Relaxed),
        reused: collector.reused.load(Ordering::Relaxed),
        not_modified: outcome.not_modified,
    };
    let clock = std::time::Instant::now();
    let run = load(&store, run, &profile.name, &attributor, counters, started)?;
    tracing::info!(elapsed = ?clock.elapsed(), "run loaded");
    Ok(ScanResult {
        run,
        outcome,
        resumed: resume.is_some(),
    })
}

/// A document linked from pages of several departments concerns each of them: its findings,
/// recorded under the department of the first page that linked it, are added for every other
/// department whose pages link it, with that department's linking page. Uses the links stored
/// with each page's extraction, so it works the same after a resume or on 304s.
fn share_documents(store: &Store, run: i64, day: NaiveDate) -> Result<(), StoreError> {
    let mut docs: Vec<Finding> = store
        .run_findings(run)?
        .into_iter()
        .filter(|f| f.location.is_some() && f.verified)
        .collect();
    // The collect reuses the buffer of every finding of the run: give it back.
    docs.shrink_to_fit();
    if docs.is_empty() {
        return Ok(());
    }
    let targets: BTreeSet<&str> = docs.iter().map(|f| f.page.as_str()).collect();
    // Document URL -> department -> its first linking page.
    let mut linkers: BTreeMap<String, BTreeMap<String, Url>> = BTreeMap::new();
    for (page, department, links) in store.page_links(run)? {
        let Ok(page) = Url::parse(&page) else {
            continue;
        };
        for link in links.iter().filter(|l| targets.contains(l.as_str())) {
            linkers
                .entry(link.to_string())
                .or_default()
                .entry(department.clone())
                .or_insert_with(|| page.clone());
        }
    }
    let mut extra = Vec::new();
    for f in &docs {
        let Some(by_department) = linkers.get(f.page.as_str()) else {
            continue;
        };
        for (department, page) in by_department.iter().filter(|(d, _)| **d != f.department.0) {
            let department = DepartmentId(department.clone());
            let mut shared = f.clone();
            shared.fingerprint = fingerprint(&department, &f.email, &f.page);
            shared.department = department;
            shared.linked_from = Some(page.clone());
            extra.push(shared);
        }
    }
    if !extra.is_empty() {
        tracing::info!(
            findings = extra.len(),
            "shared documents attributed to more departments"
        );
        store.add_findings(run, day, extra);
    }
    Ok(())
}

/// Loads a stored run as a [`ScanRun`], with departments named and everything sorted.
pub fn load(
    store: &Store,
    id: i64,
    profile: &str,
    attributor: &Attributor,
    counters: RunCounters,
    started: DateTime<Local>,
) -> Result<ScanRun, StoreError> {
    let loaded = store.load_run(id, None)?;
    let crate::store::LoadedRun {
        previous,
        mut pages,
        mut findings,
        mut resolved,
        mut problems,
    } = loaded;
    let info = store.runs()?.into_iter().find(|r| r.id == id);
    let titles: BTreeMap<String, String> = pages
        .iter()
        .filter(|p| is_home_page(&p.url))
        .filter_map(|p| Some((p.url.host_str()?.to_string(), p.title.clone()?)))
        .collect();
    let used: BTreeSet<&DepartmentId> = pages
        .iter()
        .map(|p| &p.department)
        .chain(problems.iter().map(|p| &p.department))
        .chain(findings.iter().map(|f| &f.department))
        .chain(resolved.iter().map(|f| &f.department))
        .collect();
    let departments = attributor.departments(used, &titles);
    pages.sort_by(|a, b| (&a.department, a.url.as_str()).cmp(&(&b.department, b.url.as_str())));
    let order = |a: &Finding, b: &Finding| {
        (&a.department, &a.email, a.page.as_str()).cmp(&(&b.department, &b.email, b.page.as_str()))
    };
    findings.sort_by(order);
    resolved.sort_by(order);
    problems.sort_by(|a, b| {
        (&a.department, a.url.as_str(), &a.code).cmp(&(&b.department, b.url.as_str(), &b.code))
    });
    let finished = info
        .as_ref()
        .and_then(|i| i.finished.as_deref())
        .and_then(|f| DateTime::parse_from_rfc3339(f).ok())
        .map_or_else(Local::now, |t| t.with_timezone(&Local));
    Ok(ScanRun {
        id,
        previous,
        counters,
        profile: profile.to_string(),
        started,
        finished,
        complete: info.as_ref().is_some_and(|i| i.completed),
        departments,
        pages,
        findings,
        resolved,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_sniffing() {
        assert!(looks_like_html(Some("text/html; charset=gbk"), b""));
        assert!(looks_like_html(None, b"  <p>hi"));
        assert!(looks_like_html(
            Some("text/plain"),
            b"<!DOCTYPE html><html>"
        ));
        assert!(!looks_like_html(Some("text/plain"), b"zhang@ustl.edu.cn"));
    }
}
