//! Library errors a caller must branch on. Per-URL failures during a crawl are not errors:
//! they are recorded as [`crate::model::Problem`]s and the scan goes on.

use std::path::PathBuf;

/// A profile or rules file that cannot be used. The scan does not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but is not valid. Every problem found is listed, not only the first.
    #[error("invalid {}:\n{}", path.display(), errors.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// One sentence per problem, each naming the line and what is expected.
        errors: Vec<String>,
    },
}

/// A scan that could not run at all (as opposed to URLs that failed, which are recorded).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The HTTP client could not be built (bad proxy variable, bad `--resolve`).
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Rendering was required (`always`) but the browser cannot run.
    #[error(
        "cannot render pages: {0}. `--render always` (or a host set to always in [render]) needs headless Chromium: install it with `apt-get install chromium`, set render.chromium to its path, or use --render auto"
    )]
    Render(String),
    /// `--resume` was given but there is no interrupted run of this profile.
    #[error("there is no interrupted scan of {profile:?} to resume in {}; run without --resume to start a new one", state.display())]
    NothingToResume {
        /// The profile's name.
        profile: String,
        /// The state database.
        state: std::path::PathBuf,
    },
    /// The folder given to `files` cannot be read.
    #[error("cannot scan {}: {reason}", path.display())]
    Folder {
        /// The folder.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A `--resolve` entry is not `HOST:PORT:ADDR`.
    #[error(
        "bad --resolve entry {entry:?}: {reason} (expected HOST:PORT:ADDR, e.g. www.example.edu.cn:80:127.0.0.1)"
    )]
    Resolve {
        /// The entry as given.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Writing reports failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The findings of a department could not be read back from the state database.
    #[error(
        "cannot read the findings of {department} from the state database: {message}; check the disk and rerun `mailpatrol report`"
    )]
    Read {
        /// The department's name.
        department: String,
        /// What failed.
        message: String,
    },
    /// A file or folder could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Serialising a report failed.
    #[error("cannot encode {}: {message}", path.display())]
    Encode {
        /// The path.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}
