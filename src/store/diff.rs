//! The changes between two runs: findings that appeared and findings that went away.

use crate::model::Finding;
use crate::store::{LoadedRun, Store, StoreError};

/// What changed from one run to another.
#[derive(Debug, Clone)]
pub struct Delta {
    /// The earlier run.
    pub from: Option<i64>,
    /// The later run.
    pub to: i64,
    /// Present in `to`, not in `from`.
    pub new: Vec<Finding>,
    /// Present in `from`, not in `to`.
    pub resolved: Vec<Finding>,
    /// Present in both.
    pub unchanged: usize,
}

/// Compares run `to` with run `from` (by default the completed run before `to`).
pub fn diff(store: &Store, from: Option<i64>, to: i64) -> Result<Delta, StoreError> {
    let LoadedRun {
        previous,
        findings,
        resolved,
        ..
    } = store.load_run(to, from.map(Some))?;
    let (new, unchanged): (Vec<Finding>, Vec<Finding>) = findings
        .into_iter()
        .partition(|f| f.status == crate::model::Status::New);
    Ok(Delta {
        from: previous,
        to,
        new,
        resolved,
        unchanged: unchanged.len(),
    })
}
