//! `findings.json`: the whole run, for other tools. The shape is versioned.

use std::path::PathBuf;

use serde::Serialize;

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

pub(super) fn findings(run: &ScanRun) -> Result<Vec<u8>, ReportError> {
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
    let mut out = serde_json::to_vec_pretty(&doc).map_err(|e| ReportError::Encode {
        path: PathBuf::from("findings.json"),
        message: e.to_string(),
    })?;
    out.push(b'\n');
    Ok(out)
}
