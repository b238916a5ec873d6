//! The crawl's visitor: reads every fetched body (decode, extract), classifies and
//! attributes its addresses and records the page, its findings and its problems in the store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDate;
use url::Url;

use super::ProgressFn;
use super::folder;
use crate::attribute::Attributor;
use crate::classify::Classifier;
use crate::crawl::{CrawledPage, Miss, Progress, Visitor};
use crate::decode::decode;
use crate::extract;
use crate::model::{
    DepartmentId, Document, Finding, FrontierEntry, Page, Problem, ProblemKind, ReadProblem,
    Status, Validators,
};
use crate::profile::Profile;
use crate::store::{PageRecord, Store, StoreError, content_hash, fingerprint};

/// Who owns what was read: web pages by URL (`attribute`), uploaded files by their top-level
/// sub-folder.
pub(super) enum Owner {
    Web,
    Folder(folder::FolderOwner),
}

pub(super) struct Collector {
    pub(super) owner: Owner,
    pub(super) store: Arc<Store>,
    pub(super) run: i64,
    pub(super) day: NaiveDate,
    pub(super) classifier: Classifier,
    pub(super) attributor: Attributor,
    pub(super) limits: crate::extract::documents::Limits,
    pub(super) progress: Option<Box<ProgressFn>>,
    pub(super) extracted: AtomicU32,
    pub(super) reused: AtomicU32,
    /// Pages rendered in a browser.
    pub(super) rendered: AtomicU32,
    /// The browser for pages built by JavaScript (crawls only).
    pub(super) rendering: Option<super::rendering::Rendering>,
    /// Images handed to the crawler for OCR (fetched although they are media).
    ocr_images: Mutex<std::collections::HashSet<String>>,
    /// The first store failure; the scan reports it instead of claiming success.
    pub(super) failure: Mutex<Option<StoreError>>,
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
    pub(super) fn new(
        owner: Owner,
        store: Arc<Store>,
        (run, day): (i64, NaiveDate),
        classifier: Classifier,
        attributor: Attributor,
        profile: &Profile,
        progress: Option<Box<ProgressFn>>,
    ) -> Collector {
        let ocr = crate::ocr::Ocr::new(&profile.ocr, classifier.known_domains());
        Collector {
            owner,
            store,
            run,
            day,
            classifier,
            attributor,
            limits: crate::extract::documents::Limits {
                ocr,
                ..profile.documents.limits(profile.crawl.max_document_bytes)
            },
            progress,
            extracted: AtomicU32::new(0),
            reused: AtomicU32::new(0),
            rendered: AtomicU32::new(0),
            rendering: None,
            ocr_images: Mutex::new(std::collections::HashSet::new()),
            failure: Mutex::new(None),
        }
    }

    /// The links to follow from a page: its links, and the images OCR should read (with
    /// `auto`, those that may show an address; with `always`, all), remembered so that the
    /// crawler fetches them although they are media.
    fn follow(&self, doc: &Document) -> Vec<Url> {
        let mut links = doc.links.clone();
        let Some(ocr) = self
            .limits
            .ocr
            .as_ref()
            .filter(|_| matches!(self.owner, Owner::Web))
        else {
            return links;
        };
        let mut wanted = self
            .ocr_images
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (url, candidate) in &doc.images {
            let mode = ocr.mode_for(url.host_str().unwrap_or_default());
            if mode == crate::profile::Mode::Always
                || (mode == crate::profile::Mode::Auto && *candidate)
            {
                let url = crate::crawl::scope::normalise(url);
                wanted.insert(url.to_string());
                links.push(url);
            }
        }
        links
    }

    /// Images and scanned pages read by OCR so far.
    pub(super) fn ocr_pages(&self) -> u32 {
        self.limits.ocr.as_ref().map_or(0, |o| o.pages_read())
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
            let mut doc = extract::html(&page.url, &text);
            if let Some(r) = &self.rendering {
                r.apply(&page.url, &text, &mut doc, &self.rendered);
            }
            return doc;
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
                    source: c.source,
                    evidence: c.evidence.clone(),
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
        // Unchanged bytes (same hash as a stored extraction) are not parsed again — unless
        // the page was rendered: what its scripts load can change while its HTML does not.
        let (doc, new_doc) = match self.store.extraction(&hash) {
            Ok(Some(doc)) if doc.render.is_none() => {
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
        self.follow(&doc)
    }

    fn not_modified(&self, url: &Url, depth: u16, found_on: Option<&Url>) -> Option<Vec<Url>> {
        let (hash, doc) = self
            .store
            .stored_extraction(url.as_str())
            .ok()
            .flatten()
            .filter(|(_, d)| d.render.is_none())?;
        let visit = Visit {
            url,
            found_on,
            depth,
            status: 304,
            validators: &Validators::default(),
            hash: &hash,
        };
        self.record(&visit, &doc, false);
        Some(self.follow(&doc))
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

    fn wants_media(&self, url: &Url) -> bool {
        self.ocr_images
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(url.as_str())
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
