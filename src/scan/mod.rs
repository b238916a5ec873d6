//! One scan, end to end: build the stages from a profile, crawl, and for every page decode,
//! extract, classify and attribute, recording each step in the state database as it happens
//! (so a killed scan resumes and nothing found is lost). The result is a [`ScanRun`] loaded
//! back from the store with statuses; writing it is `report`'s job. `folder.rs` runs the same
//! reading and recording over a folder of uploaded notice documents instead of a crawl.

mod collect;
mod folder;
mod rendering;

pub use folder::{FolderOptions, scan_folder};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use chrono::{DateTime, Local, NaiveDate};
use tokio::sync::watch;
use url::Url;

use crate::attribute::{Attributor, is_home_page};
use crate::classify::Classifier;
use crate::crawl::fetch::{Fetcher, Resolve};
use crate::crawl::scope::Scope;
use crate::crawl::{CrawlOutcome, Crawler, Progress, Resume, Visitor};
use crate::error::ScanError;
use crate::model::{DepartmentId, RunCounters, ScanRun, StatsBuilder};
use crate::profile::{Mode, Profile};
use crate::render::{Options as RenderOptions, Renderer, Unavailable};
use crate::store::{Store, StoreError, Which, fingerprint};
use collect::{Collector, Owner};

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

/// The scan's renderer. When a host's mode is `always`, Chromium must start now (the scan
/// refuses to run without it); with `auto`, a missing browser is only noted.
async fn rendering_for(
    profile: &Profile,
    resolve: &[Resolve],
) -> Result<rendering::Rendering, ScanError> {
    let s = &profile.render;
    let modes = || std::iter::once(s.mode).chain(s.hosts.values().copied());
    let renderer = if modes().any(|m| m != Mode::Never) {
        Renderer::new(RenderOptions::new(s, resolve, &Scope::new(profile)))
    } else {
        Err(Unavailable("rendering is off".to_string()))
    };
    if modes().any(|m| m == Mode::Always) {
        let started = match &renderer {
            Ok(r) => r.start().await,
            Err(e) => Err(e.clone()),
        };
        started.map_err(|e| ScanError::Render(e.0))?;
    }
    Ok(rendering::Rendering::new(
        s.clone(),
        renderer,
        tokio::runtime::Handle::current(),
    ))
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
    let rendering = rendering_for(profile, &options.resolve).await?;
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
    let mut collector = Collector::new(
        Owner::Web,
        Arc::clone(&store),
        (run, started.date_naive()),
        classifier,
        attributor.clone(),
        profile,
        options.progress,
    );
    collector.rendering = Some(rendering);
    let collector = Arc::new(collector);
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
        rendered: collector.rendered.load(Ordering::Relaxed),
        ocr_images: collector.ocr_pages(),
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
    let docs = store.document_findings(run)?;
    if docs.is_empty() {
        return Ok(());
    }
    let targets: BTreeSet<&str> = docs.iter().map(|f| f.page.as_str()).collect();
    // Document URL -> department -> its first linking page.
    let mut linkers: BTreeMap<String, BTreeMap<String, Url>> = BTreeMap::new();
    store.each_page_links(run, |page, department, links| {
        for link in links.iter().filter(|l| targets.contains(l.as_str())) {
            let Ok(page) = Url::parse(page) else {
                return;
            };
            linkers
                .entry(link.to_string())
                .or_default()
                .entry(department.to_string())
                .or_insert(page);
        }
    })?;
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

/// Loads a stored run as a [`ScanRun`]: departments named, pages and problems sorted, and
/// per-department counts computed in one pass over the findings, which are not kept (reports
/// read them per department from [`Store::findings_of`]).
pub fn load(
    store: &Store,
    id: i64,
    profile: &str,
    attributor: &Attributor,
    counters: RunCounters,
    started: DateTime<Local>,
) -> Result<ScanRun, StoreError> {
    let previous = store.previous_of(id)?;
    let mut pages = store.run_pages(id)?;
    let mut problems = store.run_problems(id)?;
    let with_findings = store.finding_departments(id, previous)?;
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
        .chain(&with_findings)
        .collect();
    let departments = attributor.departments(used, &titles);
    pages.sort_by(|a, b| (&a.department, a.url.as_str()).cmp(&(&b.department, b.url.as_str())));
    problems.sort_by(|a, b| {
        (&a.department, a.url.as_str(), &a.code).cmp(&(&b.department, b.url.as_str(), &b.code))
    });
    let mut stats = StatsBuilder::new(&departments);
    for p in &pages {
        stats.page(&p.department);
    }
    for p in &problems {
        stats.problem(p);
    }
    // Per department: each read follows the (department, email, page) index, so SQLite
    // never sorts (and holds) the whole run.
    for d in &departments {
        store.each_finding(id, previous, Which::Current, Some(&d.id), |f| {
            stats.finding(&f);
            Ok(())
        })?;
        store.each_finding(id, previous, Which::Resolved, Some(&d.id), |f| {
            stats.resolved(&f);
            Ok(())
        })?;
    }
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
        stats: stats.finish(),
        addresses: store.run_addresses(id)?,
        pages,
        problems,
    })
}
