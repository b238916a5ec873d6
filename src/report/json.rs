//! `findings.json`: the whole run, for other tools. The shape is versioned.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::AtomicFile;
use crate::error::ReportError;
use crate::model::{Department, DepartmentStats, Finding, Page, Problem, ScanRun};

#[derive(Serialize)]
struct Json<'a> {
    schema_version: u32,
    profile: &'a str,
    started: String,
    finished: String,
    complete: bool,
    departments: Vec<DepartmentJson<'a>>,
    findings: &'a [Finding],
    problems: &'a [Problem],
    pages: &'a [Page],
}

#[derive(Serialize)]
struct DepartmentJson<'a> {
    #[serde(flatten)]
    department: &'a Department,
    stats: DepartmentStats,
}

/// Streams `findings.json` to `path` (pretty-printed, with a final newline).
pub(super) fn findings(run: &ScanRun, path: &Path) -> Result<(), ReportError> {
    let doc = Json {
        schema_version: 1,
        profile: &run.profile,
        started: run.started.to_rfc3339(),
        finished: run.finished.to_rfc3339(),
        complete: run.complete,
        departments: run
            .department_stats()
            .into_iter()
            .map(|(department, stats)| DepartmentJson { department, stats })
            .collect(),
        findings: &run.findings,
        problems: &run.problems,
        pages: &run.pages,
    };
    let mut out = AtomicFile::create(path)?;
    serde_json::to_writer_pretty(&mut out, &doc).map_err(|e| match e.io_error_kind() {
        Some(_) => out.error(std::io::Error::other(e)),
        None => ReportError::Encode {
            path: PathBuf::from("findings.json"),
            message: e.to_string(),
        },
    })?;
    out.write_all(b"\n").map_err(|e| out.error(e))?;
    out.commit()
}
