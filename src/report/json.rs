//! `findings.json`: the whole run, for other tools. The shape is versioned.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::ser::{Error as _, SerializeSeq as _};
use serde::{Serialize, Serializer};

use super::AtomicFile;
use crate::error::ReportError;
use crate::model::{Department, DepartmentStats, FindingSource, Page, Problem, ScanRun};

#[derive(Serialize)]
struct Json<'a> {
    schema_version: u32,
    profile: &'a str,
    started: String,
    finished: String,
    complete: bool,
    departments: Vec<DepartmentJson<'a>>,
    findings: AllFindings<'a>,
    problems: &'a [Problem],
    pages: &'a [Page],
}

#[derive(Serialize)]
struct DepartmentJson<'a> {
    #[serde(flatten)]
    department: &'a Department,
    stats: &'a DepartmentStats,
}

/// The current findings of every department, in department order, each department read
/// from the source only while it is being written.
struct AllFindings<'a> {
    run: &'a ScanRun,
    source: &'a dyn FindingSource,
}

impl Serialize for AllFindings<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for d in &self.run.departments {
            let mine = self
                .source
                .department(&d.id)
                .map_err(|e| S::Error::custom(format!("findings of {}: {e}", d.name)))?;
            for f in &mine.current {
                seq.serialize_element(f)?;
            }
        }
        seq.end()
    }
}

/// Streams `findings.json` to `path` (pretty-printed, with a final newline).
pub(super) fn findings(
    run: &ScanRun,
    source: &dyn FindingSource,
    path: &Path,
) -> Result<(), ReportError> {
    let doc = Json {
        schema_version: 1,
        profile: &run.profile,
        started: run.started.to_rfc3339(),
        finished: run.finished.to_rfc3339(),
        complete: run.complete,
        departments: run
            .department_stats()
            .map(|(department, stats)| DepartmentJson { department, stats })
            .collect(),
        findings: AllFindings { run, source },
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
