//! The state database's schema and its migrations. Each migration is applied once, in order,
//! inside a transaction; `meta.schema_version` records how far a database has come. A
//! database from a newer mailpatrol is refused rather than guessed at.

use rusqlite::{Connection, OptionalExtension};

use super::StoreError;

/// Migrations, in order; index + 1 is the version each one brings the database to.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        profile TEXT NOT NULL,
        started TEXT NOT NULL,
        finished TEXT,
        completed INTEGER NOT NULL DEFAULT 0,
        interrupted INTEGER NOT NULL DEFAULT 0,
        pages INTEGER NOT NULL DEFAULT 0,
        findings INTEGER NOT NULL DEFAULT 0,
        problems INTEGER NOT NULL DEFAULT 0,
        report_dir TEXT
    );
    CREATE TABLE frontier (
        run_id INTEGER NOT NULL,
        url TEXT NOT NULL,
        depth INTEGER NOT NULL,
        found_on TEXT,
        hops INTEGER NOT NULL DEFAULT 0,
        kind TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, url)
    );
    CREATE INDEX frontier_pending ON frontier (run_id, done);
    CREATE TABLE resources (
        url TEXT PRIMARY KEY,
        department TEXT NOT NULL,
        http_status INTEGER NOT NULL,
        etag TEXT,
        last_modified TEXT,
        content_hash TEXT,
        last_run INTEGER NOT NULL
    );
    CREATE TABLE extractions (
        content_hash TEXT PRIMARY KEY,
        document TEXT NOT NULL
    );
    CREATE TABLE pages (
        run_id INTEGER NOT NULL,
        url TEXT NOT NULL,
        department TEXT NOT NULL,
        title TEXT,
        depth INTEGER NOT NULL,
        PRIMARY KEY (run_id, url)
    );
    CREATE TABLE findings (
        fingerprint TEXT PRIMARY KEY,
        department TEXT NOT NULL,
        email TEXT NOT NULL,
        page TEXT NOT NULL,
        first_run INTEGER NOT NULL,
        first_seen TEXT NOT NULL,
        last_run INTEGER NOT NULL,
        last_seen TEXT NOT NULL
    );
    CREATE TABLE occurrences (
        run_id INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        class TEXT NOT NULL,
        severity TEXT NOT NULL,
        rule TEXT NOT NULL,
        page_title TEXT,
        form TEXT NOT NULL,
        raw TEXT NOT NULL,
        context TEXT NOT NULL,
        occurrences INTEGER NOT NULL,
        verified INTEGER NOT NULL,
        PRIMARY KEY (run_id, fingerprint)
    );
    CREATE TABLE problems (
        run_id INTEGER NOT NULL,
        url TEXT NOT NULL,
        found_on TEXT,
        department TEXT NOT NULL,
        kind TEXT NOT NULL,
        code TEXT NOT NULL,
        detail TEXT NOT NULL,
        PRIMARY KEY (run_id, url)
    );
    ",
    // 2: where inside a document a finding was seen.
    "ALTER TABLE occurrences ADD COLUMN location TEXT;",
    // 3: for a document, the page that links it.
    "ALTER TABLE occurrences ADD COLUMN linked_from TEXT;",
    // 4: which report of which run went to whom (`mailpatrol send` never sends one twice).
    r"
    CREATE TABLE deliveries (
        run_id INTEGER NOT NULL,
        department TEXT NOT NULL,
        recipient TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        message_id TEXT NOT NULL,
        PRIMARY KEY (run_id, department, recipient)
    );
    ",
    // 5: where the text of a finding came from (served, rendered page, OCR) and what backs it.
    r"
    ALTER TABLE occurrences ADD COLUMN source TEXT NOT NULL DEFAULT 'served';
    ALTER TABLE occurrences ADD COLUMN evidence TEXT;
    ",
    // 6: reports read findings one department at a time, in address order.
    "CREATE INDEX findings_department ON findings (department, email, page);",
    // 7: a finished run's violation and review counts, for the trend chart (counting every
    // run's occurrences each time grew with the history). NULL for runs finished before.
    r"
    ALTER TABLE runs ADD COLUMN violations INTEGER;
    ALTER TABLE runs ADD COLUMN reviews INTEGER;
    ",
];

/// The version this build writes (the number of migrations).
pub const VERSION: i64 = 7;
const _: () = assert!(
    MIGRATIONS.len() as u64 == VERSION.cast_unsigned(),
    "VERSION must count MIGRATIONS"
);

fn current(conn: &Connection) -> Result<i64, rusqlite::Error> {
    let has_meta: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if !has_meta {
        return Ok(0);
    }
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Brings a database up to [`VERSION`].
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found = current(conn)?;
    if found > VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: VERSION,
        });
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [(i + 1).to_string()],
        )?;
        tx.commit()?;
    }
    Ok(())
}
