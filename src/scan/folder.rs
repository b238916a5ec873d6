//! A folder of uploaded notice documents (`mailpatrol files DIR`): the paper and e-mailed
//! notices the rule also covers. Every file under the folder is read with the same extractors
//! and classifier as a crawled page and recorded as a run of its own (the profile's name plus
//! ` [files]`, so its history never mixes with the web scans'). A file belongs to the
//! department named by its top-level sub-folder: one listed in a department's `folders`, or
//! else the sub-folder's own name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::Local;
use url::Url;

use super::{Collector, Owner, ProgressFn, ScanResult, load};
use crate::attribute::Attributor;
use crate::classify::Classifier;
use crate::crawl::{CrawlOutcome, CrawledPage, Progress, Visitor};
use crate::error::ScanError;
use crate::model::{DepartmentId, Problem, ProblemKind, RunCounters, Validators};
use crate::profile::Profile;
use crate::store::Store;

/// Files at the top of the folder, outside any department's sub-folder.
pub const UNASSIGNED: &str = "(未分类 unassigned)";

/// Limits and callbacks of a folder scan.
pub struct FolderOptions {
    /// Files read at most.
    pub max_files: usize,
    /// Sub-folders entered at most this deep.
    pub max_depth: usize,
    /// Progress callback.
    pub progress: Option<Box<ProgressFn>>,
}

impl Default for FolderOptions {
    fn default() -> Self {
        FolderOptions {
            max_files: 100_000,
            max_depth: 32,
            progress: None,
        }
    }
}

/// Maps a file to the department of its top-level sub-folder.
pub(super) struct FolderOwner {
    root: PathBuf,
    map: BTreeMap<String, DepartmentId>,
}

impl FolderOwner {
    fn new(root: &Path, profile: &Profile) -> FolderOwner {
        let mut map = BTreeMap::new();
        for d in &profile.departments {
            map.insert(d.name.clone(), DepartmentId(d.name.clone()));
            for f in &d.folders {
                map.insert(f.clone(), DepartmentId(d.name.clone()));
            }
        }
        FolderOwner {
            root: root.to_path_buf(),
            map,
        }
    }

    pub(super) fn department(&self, url: &Url) -> DepartmentId {
        let path = url.to_file_path().unwrap_or_default();
        let mut parts = path.strip_prefix(&self.root).unwrap_or(&path).components();
        let top = parts
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        match (top, parts.next()) {
            (Some(folder), Some(_)) => self
                .map
                .get(&folder)
                .cloned()
                .unwrap_or(DepartmentId(folder)),
            _ => DepartmentId(UNASSIGNED.to_string()),
        }
    }
}

/// Lists the files to read: no hidden entries, no symbolic links (an upload folder must not
/// lead the scan elsewhere on the machine), at most `max_files`.
fn walk(
    root: &Path,
    options: &FolderOptions,
    problems: &mut Vec<(PathBuf, String)>,
) -> (Vec<PathBuf>, bool) {
    let mut files = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    let mut complete = true;
    while let Some((dir, depth)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                problems.push((dir, format!("cannot list the folder: {e}")));
                continue;
            }
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if depth < options.max_depth {
                    stack.push((path, depth + 1));
                } else {
                    problems.push((
                        path,
                        format!("deeper than {} sub-folders; not read", options.max_depth),
                    ));
                }
            } else if kind.is_file() {
                if files.len() >= options.max_files {
                    complete = false;
                    problems.push((
                        path,
                        format!("more than {} files; not read", options.max_files),
                    ));
                    return (files, complete);
                }
                files.push(path);
            }
        }
    }
    files.sort();
    (files, complete)
}

/// Scans every file under `dir` and records the run in `store`.
pub fn scan_folder(
    profile: &Profile,
    classifier: Classifier,
    store: &Arc<Store>,
    dir: &Path,
    options: FolderOptions,
) -> Result<ScanResult, ScanError> {
    let root = dir.canonicalize().map_err(|e| ScanError::Folder {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    if !root.is_dir() {
        return Err(ScanError::Folder {
            path: dir.to_path_buf(),
            reason: "not a folder".to_string(),
        });
    }
    let name = format!("{} [files]", profile.name);
    let started = Local::now();
    let run = store.begin_run(&name, started)?;
    let attributor = Attributor::new(profile);
    let owner = FolderOwner::new(&root, profile);
    let mut walk_problems = Vec::new();
    let (files, complete) = walk(&root, &options, &mut walk_problems);
    let collector = Collector::new(
        Owner::Folder(owner),
        Arc::clone(store),
        (run, started.date_naive()),
        classifier,
        attributor.clone(),
        profile,
        options.progress,
    );
    let problem = |path: &Path, kind: ProblemKind, code: &str, detail: String| {
        let Ok(url) = Url::from_file_path(path) else {
            return;
        };
        let department = match &collector.owner {
            Owner::Folder(f) => f.department(&url),
            Owner::Web => attributor.attribute(&url),
        };
        collector.store.record_problem(
            run,
            &Problem {
                url,
                found_on: None,
                department,
                kind,
                code: code.to_string(),
                detail,
            },
        );
    };
    for (path, detail) in walk_problems {
        problem(&path, ProblemKind::Skipped, "limit", detail);
    }
    let queue = Mutex::new(files.into_iter());
    let done = AtomicU32::new(0);
    let cap = profile.crawl.max_document_bytes;
    // Two readers: the machine this runs on has two cores, and parsing is the work.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some(path) = next else { break };
                    read_one(&collector, &path, cap, &problem);
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    collector.progress(Progress {
                        pages_done: n,
                        ..Progress::default()
                    });
                }
            });
        }
    });
    store.flush()?;
    if let Some(e) = collector
        .failure
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        return Err(e.into());
    }
    store.finish_run(run, Local::now(), complete, false)?;
    let counters = RunCounters {
        extracted: collector.extracted.load(Ordering::Relaxed),
        reused: collector.reused.load(Ordering::Relaxed),
        not_modified: 0,
        rendered: collector.rendered.load(Ordering::Relaxed),
        ocr_images: collector.ocr_pages(),
    };
    let pages = done.load(Ordering::Relaxed);
    let scan_run = load(store, run, &name, &attributor, counters, started)?;
    Ok(ScanResult {
        run: scan_run,
        outcome: CrawlOutcome {
            complete,
            pages,
            ..CrawlOutcome::default()
        },
        resumed: false,
    })
}

fn read_one(
    collector: &Collector,
    path: &Path,
    cap: u64,
    problem: &dyn Fn(&Path, ProblemKind, &str, String),
) {
    let Ok(url) = Url::from_file_path(path) else {
        return;
    };
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    if size > cap {
        let detail = format!("file is {size} bytes, over crawl.max_document_bytes ({cap} bytes)");
        return problem(path, ProblemKind::Skipped, "too-large", detail);
    }
    let body = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return problem(
                path,
                ProblemKind::Failed,
                "read-failed",
                format!("cannot read the file: {e}"),
            );
        }
    };
    let page = CrawledPage {
        url,
        depth: 0,
        found_on: None,
        status: 200,
        content_type: None,
        validators: Validators::default(),
        file_name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
        body,
    };
    // Documents in an upload folder have no links to follow.
    let _links = collector.page(page);
}
