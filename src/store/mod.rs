//! State across runs, in an embedded SQLite database (`reports/state.sqlite` by default):
//! every run, the frontier of the running scan (so a killed scan resumes), every page fetched
//! with its HTTP validators and content hash, stored extractions (so an unchanged page is
//! never parsed twice), and every finding with a stable fingerprint and its first and last
//! run. Statuses (new, still present, resolved) are computed against the previous completed
//! run. The store judges nothing: classes come from `classify`, departments from `attribute`.
//!
//! One process at a time: the database is guarded by an OS file lock (`<db>.lock`, released
//! by the kernel even on SIGKILL) holding the owner's pid for the error message.

mod deliveries;
pub mod diff;
mod schema;
mod writer;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Local, NaiveDate};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use url::Url;
use writer::{Op, Writer};

pub use crate::model::FrontierEntry;
use crate::model::{
    Class, DepartmentFindings, DepartmentId, Document, Email, Finding, FindingSource, Form,
    LoadedFindings, Page, Problem, ProblemKind, ScanRun, Severity, Source, Status, Validators,
};

/// Errors of the state database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("state database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file could not be created or opened.
    #[error("cannot open {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another process holds the lock.
    #[error("{} is in use by another mailpatrol (pid {pid}); wait for it to finish or stop it, then try again", path.display())]
    Locked {
        /// The database.
        path: PathBuf,
        /// The holder's pid, as it wrote it.
        pid: String,
    },
    /// The database was written by a newer mailpatrol.
    #[error(
        "the state database has schema version {found}, newer than this mailpatrol supports ({supported}); upgrade mailpatrol or use another --state file"
    )]
    TooNew {
        /// Version found.
        found: i64,
        /// Version supported.
        supported: i64,
    },
    /// A queued write failed (reported when the writes are flushed).
    #[error("state database write failed: {0}")]
    Write(String),
    /// Stored data could not be decoded.
    #[error("state database holds unreadable data: {0}")]
    Corrupt(String),
}

/// A run in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// Id.
    pub id: i64,
    /// Profile name.
    pub profile: String,
    /// Start time (RFC 3339).
    pub started: String,
    /// End time, `None` if it never ended (killed).
    pub finished: Option<String>,
    /// Whether the crawl emptied its frontier.
    pub completed: bool,
    /// Whether it was interrupted.
    pub interrupted: bool,
    /// Report folder, if written.
    pub report_dir: Option<String>,
}

/// What a page produced, for [`Store::record_page`].
#[derive(Debug, Clone)]
pub struct PageRecord {
    /// The page.
    pub page: Page,
    /// HTTP status (200, or 304 when reused).
    pub http_status: u16,
    /// Validators from the response.
    pub validators: Validators,
    /// Hash of the body.
    pub content_hash: String,
    /// A new extraction to store under the hash (`None` when it was reused).
    pub document: Option<Document>,
    /// The findings on the page.
    pub findings: Vec<Finding>,
}

/// The stable fingerprint of a finding: department, address, page. Dates and positions are
/// left out so that editing a page around an address does not make it a "new" finding.
#[must_use]
pub fn fingerprint(department: &DepartmentId, email: &Email, page: &Url) -> String {
    let mut h = Sha256::new();
    for part in [department.0.as_str(), &email.to_string(), page.as_str()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize()[..16])
}

/// Hex SHA-256 of a body.
#[must_use]
pub fn content_hash(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Connection settings. WAL with NORMAL sync: each committed transaction survives a killed
/// process; a power loss may lose the last few, which a resume simply redoes. A 16 MiB page
/// cache per connection: perf showed read() syscalls on the database file in a re-scan.
fn tune(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // 4 MiB of page cache per connection (two are open): the writer's batches and the
    // report's reads are sequential enough that a bigger cache buys little time.
    conn.pragma_update(None, "cache_size", -4 * 1024)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
}

/// Settings of a read-only connection: the page cache only (the others are about writes),
/// 2 MiB: up to [`READERS`] are open, and their reads are point lookups or one sequential
/// pass.
fn tune_reader(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.pragma_update(None, "cache_size", -2 * 1024)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
}

/// Read connections open at most; a reader beyond that waits for one to come back (each
/// holds its own page cache: four raised a 5,000-page scan's peak RSS by ~8 MB).
const READERS: usize = 3;

/// The read-only connections: the idle ones, and how many exist.
#[derive(Default)]
struct Readers {
    idle: Vec<Connection>,
    open: usize,
}

/// A read-only connection borrowed from [`Store`]'s pool.
struct Reader<'s> {
    pool: &'s (Mutex<Readers>, Condvar),
    conn: Option<Connection>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        // Only `drop` takes the connection out.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        let (lock, freed) = self.pool;
        let mut pool = lock.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = self.conn.take() {
            pool.idle.push(c);
        }
        freed.notify_one();
    }
}

/// The open, locked state database.
pub struct Store {
    /// The few writes that start or end a run (after a flush), and reads that go with them.
    conn: Mutex<Connection>,
    /// The read-only connections: the crawl's lookups run in parallel, and every read runs
    /// beside the writer (WAL), each on a connection of its own.
    readers: (Mutex<Readers>, Condvar),
    /// Everything written while a scan runs.
    writer: Writer,
    path: PathBuf,
    _lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn kind_str(k: ProblemKind) -> &'static str {
    match k {
        ProblemKind::Skipped => "skipped",
        ProblemKind::Failed => "failed",
    }
}

fn parse_enum<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|e| StoreError::Corrupt(format!("{s:?}: {e}")))
}

fn parse_url(s: &str) -> Result<Url, StoreError> {
    Url::parse(s).map_err(|e| StoreError::Corrupt(format!("{s:?}: {e}")))
}

fn parse_date(s: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| StoreError::Corrupt(format!("{s:?}: {e}")))
}

/// A finding row as stored, before its status is known.
struct Row {
    fingerprint: String,
    department: String,
    email: String,
    page: String,
    first_seen: String,
    last_seen: String,
    class: String,
    severity: String,
    rule: String,
    page_title: Option<String>,
    form: String,
    raw: String,
    context: String,
    occurrences: u32,
    verified: bool,
    location: Option<String>,
    linked_from: Option<String>,
    source: String,
    evidence: Option<String>,
}

impl Row {
    fn into_finding(self, status: Status) -> Result<Finding, StoreError> {
        Ok(Finding {
            status,
            verified: self.verified,
            first_seen: parse_date(&self.first_seen)?,
            last_seen: parse_date(&self.last_seen)?,
            department: DepartmentId(self.department),
            email: Email::parse(&self.email)
                .ok_or_else(|| StoreError::Corrupt(format!("address {:?}", self.email)))?,
            class: parse_enum::<Class>(&self.class)?,
            severity: parse_enum::<Severity>(&self.severity)?,
            rule: self.rule,
            page: parse_url(&self.page)?,
            page_title: self.page_title,
            form: parse_enum::<Form>(&self.form)?,
            raw: self.raw,
            context: self.context,
            occurrences: self.occurrences,
            location: self.location,
            linked_from: self.linked_from.as_deref().and_then(|u| Url::parse(u).ok()),
            fingerprint: self.fingerprint,
            source: Source::parse(&self.source),
            evidence: self.evidence,
        })
    }
}

const ROW_COLUMNS: &str = "SELECT f.fingerprint, f.department, f.email, f.page, f.first_seen, f.last_seen,
        o.class, o.severity, o.rule, o.page_title, o.form, o.raw, o.context, o.occurrences, o.verified, o.location,
        o.linked_from, o.source, o.evidence";

const ROW_SQL: &str = concat!(
    "SELECT f.fingerprint, f.department, f.email, f.page, f.first_seen, f.last_seen,
        o.class, o.severity, o.rule, o.page_title, o.form, o.raw, o.context, o.occurrences, o.verified, o.location,
        o.linked_from, o.source, o.evidence",
    " FROM occurrences o JOIN findings f ON f.fingerprint = o.fingerprint WHERE o.run_id = ?1"
);

/// A stored run's findings, read from the database one department at a time (what the
/// reports read, so that a run of any size is never held in memory at once).
#[derive(Debug, Clone, Copy)]
pub struct StoredFindings<'s> {
    store: &'s Store,
    run: i64,
    previous: Option<i64>,
}

impl FindingSource for StoredFindings<'_> {
    fn department(
        &self,
        id: &DepartmentId,
    ) -> Result<DepartmentFindings, Box<dyn std::error::Error + Send + Sync>> {
        let mut out = DepartmentFindings::default();
        for (which, list) in [
            (Which::Current, &mut out.current),
            (Which::Resolved, &mut out.resolved),
        ] {
            self.store
                .each_finding(self.run, self.previous, which, Some(id), |f| {
                    list.push(f);
                    Ok(())
                })?;
        }
        Ok(out)
    }
}

impl StoredFindings<'_> {
    /// Every finding of the run at once (for tools and tests on small runs; reports read
    /// per department).
    pub fn load_all(&self) -> Result<LoadedFindings, StoreError> {
        let mut out = LoadedFindings::default();
        for (which, list) in [
            (Which::Current, &mut out.current),
            (Which::Resolved, &mut out.resolved),
        ] {
            self.store
                .each_finding(self.run, self.previous, which, None, |f| {
                    list.push(f);
                    Ok(())
                })?;
        }
        Ok(out)
    }
}

/// Which findings of a run [`Store::each_finding`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Present in the run (new or still present).
    Current,
    /// In the previous run, gone from this one.
    Resolved,
}

/// What [`Store::load_run`] returns: the run's content with statuses.
#[derive(Debug, Clone)]
pub struct LoadedRun {
    /// The previous completed run, if any.
    pub previous: Option<i64>,
    /// Pages read.
    pub pages: Vec<Page>,
    /// Findings present (verified or carried over).
    pub findings: Vec<Finding>,
    /// Findings of the previous run that are gone.
    pub resolved: Vec<Finding>,
    /// URLs not read.
    pub problems: Vec<Problem>,
}

impl Store {
    /// Opens (creating if needed) and locks the database, and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let mut lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        if lock.try_lock().is_err() {
            let pid = std::fs::read_to_string(&lock_path)
                .unwrap_or_default()
                .trim()
                .to_string();
            return Err(StoreError::Locked {
                path: path.to_path_buf(),
                pid: if pid.is_empty() {
                    "unknown".to_string()
                } else {
                    pid
                },
            });
        }
        lock.set_len(0).map_err(io(&lock_path))?;
        write!(lock, "{}", std::process::id()).map_err(io(&lock_path))?;
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        tune(&conn)?;
        schema::migrate(&mut conn)?;
        let write_conn = Connection::open(path)?;
        tune(&write_conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
            readers: (Mutex::new(Readers::default()), Condvar::new()),
            writer: Writer::start(write_conn),
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// Where the database lives.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // Every write is one transaction, so a panic elsewhere cannot leave the connection
        // half-way; keep using it.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A read-only connection from the pool (opened when none is idle), given back when the
    /// [`Reader`] is dropped.
    fn reader(&self) -> Result<Reader<'_>, StoreError> {
        let (lock, freed) = &self.readers;
        let mut pool = lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(conn) = pool.idle.pop() {
                return Ok(Reader {
                    pool: &self.readers,
                    conn: Some(conn),
                });
            }
            if pool.open < READERS {
                break;
            }
            pool = freed.wait(pool).unwrap_or_else(PoisonError::into_inner);
        }
        // Opened without holding the pool's lock; counted first so no other thread overshoots.
        pool.open += 1;
        drop(pool);
        let opened = Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|c| tune_reader(&c).map(|()| c));
        match opened {
            Ok(conn) => Ok(Reader {
                pool: &self.readers,
                conn: Some(conn),
            }),
            Err(e) => {
                lock.lock().unwrap_or_else(PoisonError::into_inner).open -= 1;
                freed.notify_one();
                Err(e.into())
            }
        }
    }

    /// Starts a run.
    pub fn begin_run(&self, profile: &str, started: DateTime<Local>) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO runs (profile, started) VALUES (?1, ?2)",
            params![profile, started.to_rfc3339()],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// The most recent run of this profile that was interrupted or killed, if it is the last
    /// run of the profile (a newer run means it was abandoned).
    pub fn resumable_run(&self, profile: &str) -> Result<Option<RunInfo>, StoreError> {
        let last = self
            .runs()?
            .into_iter()
            .rev()
            .find(|r| r.profile == profile);
        Ok(last.filter(|r| !r.completed && (r.interrupted || r.finished.is_none())))
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunInfo>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id, profile, started, finished, completed, interrupted, report_dir FROM runs ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(RunInfo {
                id: r.get(0)?,
                profile: r.get(1)?,
                started: r.get(2)?,
                finished: r.get(3)?,
                completed: r.get(4)?,
                interrupted: r.get(5)?,
                report_dir: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The frontier of a run: every URL it has seen, and those still to do.
    pub fn frontier(&self, run: i64) -> Result<(Vec<String>, Vec<FrontierEntry>), StoreError> {
        self.flush()?;
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT url, depth, found_on, hops, kind, done FROM frontier WHERE run_id = ?1 ORDER BY rowid")?;
        let mut seen = Vec::new();
        let mut pending = Vec::new();
        let rows = stmt.query_map([run], |r| {
            Ok((
                FrontierEntry {
                    url: r.get(0)?,
                    depth: r.get(1)?,
                    found_on: r.get(2)?,
                    hops: r.get(3)?,
                    kind: r.get(4)?,
                },
                r.get::<_, bool>(5)?,
            ))
        })?;
        for row in rows {
            let (entry, done) = row?;
            seen.push(entry.url.clone());
            if !done {
                pending.push(entry);
            }
        }
        Ok((seen, pending))
    }

    /// Records frontier changes: new entries, and one URL finished. Writes are queued to
    /// the writer thread, which commits them in order, in batches; the links of a page and
    /// its "done" mark arrive in one call, so no commit can hold one without the other.
    pub fn record_frontier(&self, run: i64, queued: &[FrontierEntry], done: Option<&str>) {
        self.writer.send(Op::Frontier {
            run,
            queued: queued.to_vec(),
            done: done.map(str::to_string),
        });
    }

    /// Records a URL that was not read, and marks it done in the frontier.
    pub fn record_problem(&self, run: i64, problem: &Problem) {
        self.writer.send(Op::Problem {
            run,
            problem: Box::new(problem.clone()),
        });
    }

    /// Records a page read in a run: its resource row, a new extraction if any, and its
    /// findings. Idempotent: recording the same page again (after a resume) replaces, never
    /// duplicates.
    pub fn record_page(&self, run: i64, day: NaiveDate, record: PageRecord) {
        self.writer.send(Op::Page(Box::new((run, day, record))));
    }

    /// Adds findings to a run whose page was recorded already (a shared document attributed
    /// to one more department).
    pub fn add_findings(&self, run: i64, day: NaiveDate, findings: Vec<Finding>) {
        self.writer.send(Op::Findings { run, day, findings });
    }

    /// Waits until every queued write is committed; returns the first write error, if any.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.writer.flush()
    }

    /// The validators stored for a URL, for a conditional request.
    pub fn validators(&self, url: &str) -> Result<Option<Validators>, StoreError> {
        let conn = self.reader()?;
        let v = conn
            .prepare_cached(
                "SELECT etag, last_modified FROM resources WHERE url = ?1 AND content_hash IS NOT NULL
                   AND content_hash IN (SELECT content_hash FROM extractions)",
            )?
            .query_row([url], |r| {
                    Ok(Validators {
                        etag: r.get(0)?,
                    last_modified: r.get(1)?,
                })
            })
            .optional()?;
        Ok(v.filter(|v| v.etag.is_some() || v.last_modified.is_some()))
    }

    /// The stored extraction of a body with this hash.
    pub fn extraction(&self, content_hash: &str) -> Result<Option<Document>, StoreError> {
        let json: Option<String> = self
            .reader()?
            .prepare_cached("SELECT document FROM extractions WHERE content_hash = ?1")?
            .query_row([content_hash], |r| r.get(0))
            .optional()?;
        // Decoded after the connection went back to the pool.
        json.map(|j| {
            serde_json::from_str(&j)
                .map_err(|e| StoreError::Corrupt(format!("extraction {content_hash}: {e}")))
        })
        .transpose()
    }

    /// The content hash last stored for a URL and the extraction stored under it (for a
    /// 304), in one lookup.
    pub fn stored_extraction(&self, url: &str) -> Result<Option<(String, Document)>, StoreError> {
        let row: Option<(String, String)> = self
            .reader()?
            .prepare_cached(
                "SELECT r.content_hash, e.document FROM resources r
                 JOIN extractions e ON e.content_hash = r.content_hash WHERE r.url = ?1",
            )?
            .query_row([url], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        // Decoded after the connection went back to the pool.
        row.map(|(hash, json)| {
            serde_json::from_str(&json)
                .map(|doc| (hash.clone(), doc))
                .map_err(|e| StoreError::Corrupt(format!("extraction {hash}: {e}")))
        })
        .transpose()
    }

    fn previous_completed(conn: &Connection, run: i64) -> Result<Option<i64>, StoreError> {
        let profile: String =
            conn.query_row("SELECT profile FROM runs WHERE id = ?1", [run], |r| {
                r.get(0)
            })?;
        Ok(conn
            .query_row(
                "SELECT id FROM runs WHERE id < ?1 AND profile = ?2 AND completed = 1 ORDER BY id DESC LIMIT 1",
                params![run, profile],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Ends a run: findings of the previous completed run whose page could not be checked
    /// this time (it failed with something other than 404/410, or was skipped by a limit, or
    /// the run is incomplete) are carried over as unverified instead of counting as resolved.
    pub fn finish_run(
        &self,
        run: i64,
        finished: DateTime<Local>,
        completed: bool,
        interrupted: bool,
    ) -> Result<(), StoreError> {
        self.flush()?;
        let mut conn = self.conn();
        let previous = Self::previous_completed(&conn, run)?;
        let tx = conn.transaction()?;
        if let Some(prev) = previous {
            let unverified_pages = if completed {
                "SELECT url FROM problems WHERE run_id = ?1 AND code NOT IN ('http-404', 'http-410')"
            } else {
                // An incomplete run cannot tell "gone" from "not reached": nothing resolves.
                "SELECT f.page FROM findings f"
            };
            tx.execute(
                &format!(
                    "INSERT INTO occurrences (run_id, fingerprint, class, severity, rule, page_title, form, raw, context, occurrences, verified, location, linked_from, source, evidence)
                     SELECT ?1, o.fingerprint, o.class, o.severity, o.rule, o.page_title, o.form, o.raw, o.context, o.occurrences, 0, o.location, o.linked_from, o.source, o.evidence
                     FROM occurrences o JOIN findings f ON f.fingerprint = o.fingerprint
                     WHERE o.run_id = ?2
                       AND o.fingerprint NOT IN (SELECT fingerprint FROM occurrences WHERE run_id = ?1)
                       AND f.page NOT IN (SELECT url FROM pages WHERE run_id = ?1)
                       AND f.page IN ({unverified_pages})"
                ),
                params![run, prev],
            )?;
        }
        let count = |table: &str| -> Result<i64, rusqlite::Error> {
            tx.query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE run_id = ?1"),
                [run],
                |r| r.get(0),
            )
        };
        let (pages, findings, problems) =
            (count("pages")?, count("occurrences")?, count("problems")?);
        let (violations, reviews) = Self::severity_counts(&tx, run)?;
        tx.execute(
            "UPDATE runs SET finished = ?2, completed = ?3, interrupted = ?4, pages = ?5, findings = ?6, problems = ?7,
               violations = ?8, reviews = ?9 WHERE id = ?1",
            params![run, finished.to_rfc3339(), completed, interrupted, pages, findings, problems, violations, reviews],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The links of every page read in a run, with the page's department (from the stored
    /// extractions), for attributing shared documents.
    pub fn each_page_links(
        &self,
        run: i64,
        mut each: impl FnMut(&str, &str, Vec<Url>),
    ) -> Result<(), StoreError> {
        /// Only the links of a stored extraction (the addresses are skipped unparsed).
        #[derive(serde::Deserialize)]
        struct Links {
            links: Vec<Url>,
        }
        self.flush()?;
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT p.url, p.department, e.document FROM pages p
             JOIN resources r ON r.url = p.url JOIN extractions e ON e.content_hash = r.content_hash
             WHERE p.run_id = ?1",
        )?;
        let rows = stmt.query_map([run], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (url, department, json) = row?;
            // A stored document that fails to decode has no links.
            let links = serde_json::from_str::<Links>(&json)
                .map(|d| d.links)
                .unwrap_or_default();
            each(&url, &department, links);
        }
        Ok(())
    }

    /// The verified findings of a run read from documents (those with a location), no
    /// statuses: what `scan` shares with every department that links the document.
    pub fn document_findings(&self, run: i64) -> Result<Vec<Finding>, StoreError> {
        self.flush()?;
        let conn = self.conn();
        Self::rows(&conn, run, "AND o.location IS NOT NULL AND o.verified = 1")?
            .into_iter()
            .map(|r| r.into_finding(Status::New))
            .collect()
    }

    /// Per completed run of a profile, oldest first: `(run, day, violations, reviews)`
    /// present in it, for the trend in `summary.html`.
    pub fn trend(&self, profile: &str) -> Result<Vec<(i64, NaiveDate, u32, u32)>, StoreError> {
        self.flush()?;
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, started, violations, reviews FROM runs
             WHERE profile = ?1 AND completed = 1 ORDER BY id",
        )?;
        let rows = stmt.query_map([profile], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<u32>>(2)?,
                r.get::<_, Option<u32>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, started, violations, reviews) = row?;
            let day = started.get(..10).map_or(Ok(NaiveDate::MIN), parse_date)?;
            // Runs finished by a version before schema 7 have no stored counts.
            let (violations, reviews) = match (violations, reviews) {
                (Some(v), Some(r)) => (v, r),
                _ => Self::severity_counts(&conn, id)?,
            };
            out.push((id, day, violations, reviews));
        }
        Ok(out)
    }

    /// How many of a run's findings are violations and how many need review.
    fn severity_counts(conn: &Connection, run: i64) -> Result<(u32, u32), rusqlite::Error> {
        conn.query_row(
            "SELECT COUNT(CASE WHEN severity = 'violation' THEN 1 END),
                    COUNT(CASE WHEN severity = 'review' THEN 1 END)
             FROM occurrences WHERE run_id = ?1",
            [run],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// How many pages a run has read so far.
    pub fn pages_read(&self, run: i64) -> Result<u32, StoreError> {
        self.flush()?;
        let n: i64 =
            self.conn()
                .query_row("SELECT COUNT(*) FROM pages WHERE run_id = ?1", [run], |r| {
                    r.get(0)
                })?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Records where a run's reports were written.
    pub fn set_report_dir(&self, run: i64, dir: &Path) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE runs SET report_dir = ?2 WHERE id = ?1",
            params![run, dir.to_string_lossy()],
        )?;
        Ok(())
    }

    /// The finding rows of `run`; `filter` adds SQL conditions on `o` (occurrences) and `f`
    /// (findings), starting with `AND`, or is empty.
    fn rows(conn: &Connection, run: i64, filter: &str) -> Result<Vec<Row>, StoreError> {
        let mut stmt = conn.prepare_cached(&format!("{ROW_SQL} {filter}"))?;
        let rows = stmt.query_map([run], Self::row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn row(r: &rusqlite::Row<'_>) -> Result<Row, rusqlite::Error> {
        Ok(Row {
            fingerprint: r.get(0)?,
            department: r.get(1)?,
            email: r.get(2)?,
            page: r.get(3)?,
            first_seen: r.get(4)?,
            last_seen: r.get(5)?,
            class: r.get(6)?,
            severity: r.get(7)?,
            rule: r.get(8)?,
            page_title: r.get(9)?,
            form: r.get(10)?,
            raw: r.get(11)?,
            context: r.get(12)?,
            occurrences: r.get(13)?,
            verified: r.get(14)?,
            location: r.get(15)?,
            linked_from: r.get(16)?,
            source: r.get(17)?,
            evidence: r.get(18)?,
        })
    }

    /// The findings of a loaded run, read per department.
    #[must_use]
    pub fn findings_of(&self, run: &ScanRun) -> StoredFindings<'_> {
        StoredFindings {
            store: self,
            run: run.id,
            previous: run.previous,
        }
    }

    /// The previous completed run of the same profile: what statuses are relative to.
    pub fn previous_of(&self, run: i64) -> Result<Option<i64>, StoreError> {
        self.flush()?;
        Self::previous_completed(&self.conn(), run)
    }

    /// Calls `each` for the findings of `run` (current, or resolved since `previous`),
    /// with statuses against `previous`, sorted by department, address and page; only
    /// `department`'s when given. Nothing is held but the row being read; `each` must not
    /// use the store.
    pub fn each_finding(
        &self,
        run: i64,
        previous: Option<i64>,
        which: Which,
        department: Option<&DepartmentId>,
        each: impl FnMut(Finding) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.flush()?;
        let conn = self.reader()?;
        Self::each_row(&conn, run, previous, which, department, each)
    }

    /// The departments that have findings in `run` or `previous`.
    pub fn finding_departments(
        &self,
        run: i64,
        previous: Option<i64>,
    ) -> Result<Vec<DepartmentId>, StoreError> {
        self.flush()?;
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT DISTINCT f.department FROM occurrences o JOIN findings f ON f.fingerprint = o.fingerprint
             WHERE o.run_id = ?1 OR o.run_id = ?2",
        )?;
        let rows = stmt.query_map(params![run, previous], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(DepartmentId(r?))).collect()
    }

    fn each_row(
        conn: &Connection,
        run: i64,
        previous: Option<i64>,
        which: Which,
        department: Option<&DepartmentId>,
        mut each: impl FnMut(Finding) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // Current rows are this run's occurrences, "still present" when the previous run had
        // them; resolved rows are the previous run's occurrences this run lacks.
        let (of, other, status) = match which {
            Which::Current => (
                "o.run_id = ?1",
                "EXISTS (SELECT 1 FROM occurrences p WHERE p.run_id = ?2 AND p.fingerprint = o.fingerprint)",
                None,
            ),
            Which::Resolved => (
                "o.run_id = ?2",
                "NOT EXISTS (SELECT 1 FROM occurrences c WHERE c.run_id = ?1 AND c.fingerprint = o.fingerprint)",
                Some(Status::Resolved),
            ),
        };
        let filter = match (which, department) {
            (Which::Current, Some(_)) => format!("{of} AND f.department = ?3"),
            (Which::Current, None) => of.to_string(),
            (Which::Resolved, Some(_)) => format!("{of} AND {other} AND f.department = ?3"),
            (Which::Resolved, None) => format!("{of} AND {other}"),
        };
        let flag = match which {
            Which::Current => other,
            Which::Resolved => "1",
        };
        let mut stmt = conn.prepare_cached(&format!(
            "{ROW_COLUMNS}, {flag} FROM occurrences o JOIN findings f ON f.fingerprint = o.fingerprint
             WHERE {filter} ORDER BY f.department, f.email, f.page"
        ))?;
        let department = department.map_or("", |d| d.0.as_str());
        let mut rows = if filter.contains("?3") {
            stmt.query(params![run, previous, department])?
        } else {
            stmt.query(params![run, previous])?
        };
        while let Some(r) = rows.next()? {
            let before: bool = r.get(19)?;
            let status = status.unwrap_or(if before {
                Status::StillPresent
            } else {
                Status::New
            });
            each(Self::row(r)?.into_finding(status)?)?;
        }
        Ok(())
    }

    /// The pages read in a run.
    pub fn run_pages(&self, run: i64) -> Result<Vec<Page>, StoreError> {
        self.flush()?;
        Self::pages(&self.conn(), run)
    }

    /// The URLs a run did not read, and why.
    pub fn run_problems(&self, run: i64) -> Result<Vec<Problem>, StoreError> {
        self.flush()?;
        Self::problems(&self.conn(), run)
    }

    /// Distinct addresses present in a run.
    pub fn run_addresses(&self, run: i64) -> Result<u32, StoreError> {
        self.flush()?;
        Ok(self.conn().query_row(
            "SELECT COUNT(DISTINCT f.email) FROM occurrences o JOIN findings f ON f.fingerprint = o.fingerprint
             WHERE o.run_id = ?1",
            [run],
            |r| r.get(0),
        )?)
    }

    fn pages(conn: &Connection, run: i64) -> Result<Vec<Page>, StoreError> {
        let mut stmt =
            conn.prepare("SELECT url, department, title, depth FROM pages WHERE run_id = ?1")?;
        stmt.query_map([run], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, u16>(3)?,
            ))
        })?
        .map(|row| {
            let (url, dept, title, depth) = row?;
            Ok(Page {
                url: parse_url(&url)?,
                department: DepartmentId(dept),
                title,
                depth,
            })
        })
        .collect()
    }

    fn problems(conn: &Connection, run: i64) -> Result<Vec<Problem>, StoreError> {
        let mut stmt = conn.prepare(
            "SELECT url, found_on, department, kind, code, detail FROM problems WHERE run_id = ?1",
        )?;
        stmt.query_map([run], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?
        .map(|row| {
            let (url, found_on, dept, kind, code, detail) = row?;
            Ok(Problem {
                url: parse_url(&url)?,
                found_on: found_on.as_deref().map(parse_url).transpose()?,
                department: DepartmentId(dept),
                kind: if kind == "failed" {
                    ProblemKind::Failed
                } else {
                    ProblemKind::Skipped
                },
                code,
                detail,
            })
        })
        .collect()
    }

    /// Everything a run holds, with statuses against `previous` (by default the previous
    /// completed run of the same profile).
    pub fn load_run(
        &self,
        run: i64,
        previous: Option<Option<i64>>,
    ) -> Result<LoadedRun, StoreError> {
        self.flush()?;
        let conn = self.conn();
        let previous = match previous {
            Some(p) => p,
            None => Self::previous_completed(&conn, run)?,
        };
        let mut findings = Vec::new();
        Self::each_row(&conn, run, previous, Which::Current, None, |f| {
            findings.push(f);
            Ok(())
        })?;
        let mut resolved = Vec::new();
        Self::each_row(&conn, run, previous, Which::Resolved, None, |f| {
            resolved.push(f);
            Ok(())
        })?;
        let pages = Self::pages(&conn, run)?;
        let problems = Self::problems(&conn, run)?;
        Ok(LoadedRun {
            previous,
            pages,
            findings,
            resolved,
            problems,
        })
    }

    /// Deletes runs that started before `cutoff`, except the latest completed run of each
    /// profile (statuses are computed against it). Findings still open keep their rows and
    /// their first-seen dates; stored pages and extractions no run refers to are dropped.
    /// Returns the deleted run ids.
    pub fn prune(&self, cutoff: DateTime<Local>) -> Result<Vec<RunInfo>, StoreError> {
        self.flush()?;
        let runs = self.runs()?;
        let keep: BTreeSet<i64> = runs
            .iter()
            .filter(|r| r.completed)
            .fold(BTreeMap::new(), |mut m, r| {
                m.insert(r.profile.clone(), r.id);
                m
            })
            .into_values()
            .chain(runs.last().map(|r| r.id))
            .collect();
        let doomed: Vec<RunInfo> = runs
            .into_iter()
            .filter(|r| !keep.contains(&r.id))
            .filter(|r| DateTime::parse_from_rfc3339(&r.started).is_ok_and(|s| s < cutoff))
            .collect();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for r in &doomed {
            for table in ["frontier", "pages", "occurrences", "problems", "deliveries"] {
                tx.execute(&format!("DELETE FROM {table} WHERE run_id = ?1"), [r.id])?;
            }
            tx.execute("DELETE FROM runs WHERE id = ?1", [r.id])?;
        }
        tx.execute(
            "DELETE FROM findings WHERE fingerprint NOT IN (SELECT fingerprint FROM occurrences)",
            [],
        )?;
        tx.execute(
            "DELETE FROM resources WHERE last_run NOT IN (SELECT id FROM runs)",
            [],
        )?;
        tx.execute("DELETE FROM extractions WHERE content_hash NOT IN (SELECT content_hash FROM resources WHERE content_hash IS NOT NULL)", [])?;
        tx.commit()?;
        Ok(doomed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_versions_and_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let store = Store::open(&path).unwrap();
        // A second open while the first holds the lock names the holder.
        match Store::open(&path) {
            Err(StoreError::Locked { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
            other => panic!("{other:?}"),
        }
        drop(store);
        // A database from the future is refused.
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute(
                "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
                [],
            )
            .unwrap();
        }
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::TooNew { found: 99, .. })
        ));
    }

    #[test]
    fn older_database_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            // A database with no schema at all counts as version 0.
            Connection::open(&path)
                .unwrap()
                .execute_batch("CREATE TABLE unrelated (x)")
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let v: String = store
            .conn()
            .query_row(
                "SELECT value FROM meta WHERE key='schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(v, schema::VERSION.to_string());
    }

    #[test]
    fn readers_are_shared_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.sqlite")).unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let store = &store;
                s.spawn(move || {
                    for n in 0..50 {
                        let url = format!("http://x.edu.cn/{t}/{n}");
                        assert!(store.validators(&url).unwrap().is_none());
                        assert!(store.stored_extraction(&url).unwrap().is_none());
                    }
                });
            }
        });
        let pool = store.readers.0.lock().unwrap();
        assert!(pool.open >= 1 && pool.open <= READERS, "{} open", pool.open);
        // Every connection came back.
        assert_eq!(pool.idle.len(), pool.open);
    }

    #[test]
    fn trend_counts_are_kept_with_the_run_and_computed_for_older_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.sqlite")).unwrap();
        let mut expected = Vec::new();
        for (violations, reviews) in [(3_u32, 1_u32), (1, 2)] {
            let run = store.begin_run("p", Local::now()).unwrap();
            {
                let conn = store.conn();
                let rows = (0..violations)
                    .map(|_| "violation")
                    .chain((0..reviews).map(|_| "review"))
                    .chain(["ok"]);
                for (n, severity) in rows.enumerate() {
                    conn.execute(
                        "INSERT INTO occurrences (run_id, fingerprint, class, severity, rule, form, raw, context, occurrences, verified)
                         VALUES (?1, ?2, 'webmail', ?3, 'r', 'plain', '', '', 1, 1)",
                        params![run, format!("f{n}"), severity],
                    )
                    .unwrap();
                }
            }
            store.finish_run(run, Local::now(), true, false).unwrap();
            expected.push((run, violations, reviews));
        }
        let counts = |t: Vec<(i64, NaiveDate, u32, u32)>| -> Vec<(i64, u32, u32)> {
            t.into_iter().map(|(r, _, v, n)| (r, v, n)).collect()
        };
        assert_eq!(counts(store.trend("p").unwrap()), expected);
        // A run finished before the counts were stored (schema 6) is counted from its rows.
        store
            .conn()
            .execute(
                "UPDATE runs SET violations = NULL, reviews = NULL WHERE id = ?1",
                [expected[0].0],
            )
            .unwrap();
        assert_eq!(counts(store.trend("p").unwrap()), expected);
    }

    #[test]
    fn fingerprint_ignores_everything_but_where() {
        let d = DepartmentId("教务处".into());
        let e = Email::parse("a@qq.com").unwrap();
        let u = Url::parse("http://x.edu.cn/a.html").unwrap();
        assert_eq!(fingerprint(&d, &e, &u), fingerprint(&d, &e, &u));
        assert_ne!(
            fingerprint(&d, &e, &u),
            fingerprint(&DepartmentId("x".into()), &e, &u)
        );
        assert_eq!(fingerprint(&d, &e, &u).len(), 32);
    }
}
