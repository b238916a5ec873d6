//! One scan, end to end: build the stages from a profile, crawl, and for every page decode,
//! extract, classify and attribute. The result is a [`ScanRun`]; writing it is `report`'s job.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::Local;
use tokio::sync::watch;
use url::Url;

use crate::attribute::{Attributor, is_home_page};
use crate::classify::Classifier;
use crate::crawl::fetch::{Fetcher, Resolve};
use crate::crawl::scope::Scope;
use crate::crawl::{CrawlOutcome, CrawledPage, Crawler, Miss, Progress, Visitor};
use crate::decode::decode;
use crate::error::ScanError;
use crate::extract;
use crate::model::{DepartmentId, Finding, Page, Problem, ScanRun};
use crate::profile::Profile;

/// Receives progress while the crawl runs (the CLI draws a bar from it).
pub type ProgressFn = dyn Fn(Progress) + Send + Sync;

/// Options that are not part of the profile.
#[derive(Default)]
pub struct ScanOptions {
    /// `--resolve` entries.
    pub resolve: Vec<Resolve>,
    /// Progress callback.
    pub progress: Option<Box<ProgressFn>>,
}

/// A finished scan and how the crawl ended.
#[derive(Debug)]
pub struct ScanResult {
    /// Everything found.
    pub run: ScanRun,
    /// How the crawl ended.
    pub outcome: CrawlOutcome,
}

#[derive(Default)]
struct Collected {
    pages: Vec<Page>,
    findings: Vec<Finding>,
    misses: Vec<Miss>,
    titles: BTreeMap<String, String>,
}

struct Collector {
    classifier: Classifier,
    attributor: Attributor,
    progress: Option<Box<ProgressFn>>,
    out: Mutex<Collected>,
}

impl Collector {
    fn lock(&self) -> std::sync::MutexGuard<'_, Collected> {
        // A panic while holding the lock cannot leave `Collected` half-updated in a way that
        // matters (every update is a push), so keep going with the data.
        self.out.lock().unwrap_or_else(PoisonError::into_inner)
    }
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

impl Visitor for Collector {
    fn page(&self, page: CrawledPage) -> Vec<Url> {
        let span = tracing::debug_span!("page", url = %page.url);
        let _guard = span.enter();
        let html = looks_like_html(page.content_type.as_deref(), &page.body);
        let tld = page.url.host_str().and_then(|h| h.rsplit('.').next());
        let text = decode(&page.body, page.content_type.as_deref(), tld, html).text;
        let doc = if html {
            extract::html(&page.url, &text)
        } else {
            extract::text(&text)
        };
        let department = self.attributor.attribute(&page.url);
        let mut on_page: BTreeMap<String, Finding> = BTreeMap::new();
        for c in doc.emails {
            let key = c.address.to_string();
            if let Some(f) = on_page.get_mut(&key) {
                f.occurrences += 1;
                continue;
            }
            let verdict = self.classifier.classify(&c.address);
            on_page.insert(
                key,
                Finding {
                    department: department.clone(),
                    email: c.address,
                    class: verdict.class,
                    severity: verdict.severity,
                    rule: verdict.rule,
                    page: page.url.clone(),
                    page_title: doc.title.clone(),
                    form: c.form,
                    raw: c.raw,
                    context: c.context,
                    occurrences: 1,
                },
            );
        }
        tracing::debug!(addresses = on_page.len(), links = doc.links.len(), "read");
        let mut out = self.lock();
        if is_home_page(&page.url)
            && let (Some(host), Some(title)) = (page.url.host_str(), doc.title.as_ref())
        {
            out.titles
                .entry(host.to_string())
                .or_insert_with(|| title.clone());
        }
        out.pages.push(Page {
            url: page.url,
            title: doc.title,
            department,
            depth: page.depth,
        });
        out.findings.extend(on_page.into_values());
        doc.links
    }

    fn miss(&self, miss: Miss) {
        tracing::info!(url = %miss.url, code = %miss.code, "{}", miss.detail);
        self.lock().misses.push(miss);
    }

    fn progress(&self, progress: Progress) {
        if let Some(p) = &self.progress {
            p(progress);
        }
    }
}

/// Scans the profile's sites. `stop` turning true ends the crawl early; what was found so
/// far is kept and the run is marked incomplete.
pub async fn scan(
    profile: &Profile,
    classifier: Classifier,
    options: ScanOptions,
    stop: watch::Receiver<bool>,
) -> Result<ScanResult, ScanError> {
    let started = Local::now();
    let fetcher = Fetcher::new(&profile.crawl, &options.resolve)?;
    let crawler = Crawler::new(profile.crawl.clone(), fetcher, Scope::new(profile));
    let attributor = Attributor::new(profile);
    let collector = Arc::new(Collector {
        classifier,
        attributor: attributor.clone(),
        progress: options.progress,
        out: Mutex::new(Collected::default()),
    });
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
    let outcome = crawler.run(&seeds, &visitor, stop).await;
    drop(visitor);
    let collected = std::mem::take(&mut *collector.lock());
    let Collected {
        mut pages,
        mut findings,
        misses,
        titles,
    } = collected;
    let mut problems: Vec<Problem> = misses
        .into_iter()
        .map(|m| Problem {
            department: attributor.attribute(&m.url),
            url: m.url,
            found_on: m.found_on,
            kind: m.kind,
            code: m.code,
            detail: m.detail,
        })
        .collect();
    let used: BTreeSet<&DepartmentId> = pages
        .iter()
        .map(|p| &p.department)
        .chain(problems.iter().map(|p| &p.department))
        .collect();
    let departments = attributor.departments(used, &titles);
    pages.sort_by(|a, b| (&a.department, a.url.as_str()).cmp(&(&b.department, b.url.as_str())));
    findings.sort_by(|a, b| {
        (&a.department, &a.email, a.page.as_str()).cmp(&(&b.department, &b.email, b.page.as_str()))
    });
    problems.sort_by(|a, b| {
        (&a.department, a.url.as_str(), &a.code).cmp(&(&b.department, b.url.as_str(), &b.code))
    });
    Ok(ScanResult {
        run: ScanRun {
            profile: profile.name.clone(),
            started,
            finished: Local::now(),
            complete: outcome.complete,
            departments,
            pages,
            findings,
            problems,
        },
        outcome,
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
