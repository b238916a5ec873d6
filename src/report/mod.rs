//! Reports: everything here is written from a finished [`ScanRun`] and nothing is computed
//! beyond counting and formatting. One file per format:
//!
//! - `csv.rs`: `departments/<department>.csv`, `summary.csv`, `errors.csv` (UTF-8 with BOM
//!   so Excel and WPS show Chinese; cells neutralised against formula injection);
//! - `json.rs`: `findings.json`, everything, for other tools;
//! - `html.rs`: `summary.html`, the inspection office's self-contained page (charts, trend,
//!   drill-down), every crawled string escaped;
//! - `xlsx.rs`: `summary.xlsx` and per-department workbooks (rust_xlsxwriter);
//! - `table.rs`: the one-screen summary the CLI prints.
//!
//! Files are written to a temporary name and renamed, so a crash never leaves a half-written
//! report that looks complete. Given the same run, the files are byte-identical.

mod csv;
pub mod html;
mod json;
mod table;
pub mod xlsx;

use std::path::{Path, PathBuf};

use crate::error::ReportError;
use crate::model::{Department, DepartmentFindings, FindingSource, ScanRun};

pub use html::TrendPoint;
pub use table::summary_table;

/// Language of column headers and class names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Chinese (default: the departments read it).
    #[default]
    Zh,
    /// English.
    En,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    /// The run folder.
    pub dir: PathBuf,
    /// Every file, relative to `dir`, in the order written.
    pub files: Vec<PathBuf>,
}

/// Picks the folder for a run under `out`: `<out>/<YYYY-MM-DD>`, or `<out>/<YYYY-MM-DD>_2`,
/// `_3`, ... when a report of that day already exists, so a second run never overwrites the
/// first.
#[must_use]
pub fn run_dir(out: &Path, run: &ScanRun) -> PathBuf {
    let day = run.started.format("%Y-%m-%d").to_string();
    let first = out.join(&day);
    if !first.exists() {
        return first;
    }
    (2..10_000)
        .map(|n| out.join(format!("{day}_{n}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// One department's findings from `findings`.
fn department_findings(
    findings: &dyn FindingSource,
    d: &Department,
) -> Result<DepartmentFindings, ReportError> {
    findings.department(&d.id).map_err(|e| ReportError::Read {
        department: d.name.clone(),
        message: e.to_string(),
    })
}

/// Writes every report of a run into `dir`, reading its findings one department at a time.
pub fn write_all(
    run: &ScanRun,
    findings: &dyn FindingSource,
    dir: &Path,
    lang: Lang,
) -> Result<Written, ReportError> {
    let mut files = Vec::new();
    let dept_dir = dir.join("departments");
    std::fs::create_dir_all(&dept_dir).map_err(|source| ReportError::Write {
        path: dept_dir.clone(),
        source,
    })?;
    // Every file is streamed to disk row by row: a large run is never held twice in memory.
    for name in csv::departments(run, findings, lang, &dept_dir)? {
        files.push(Path::new("departments").join(name));
    }
    csv::summary(run, lang, &dir.join("summary.csv"))?;
    files.push(PathBuf::from("summary.csv"));
    csv::errors(run, lang, &dir.join("errors.csv"))?;
    files.push(PathBuf::from("errors.csv"));
    json::findings(run, findings, &dir.join("findings.json"))?;
    files.push(PathBuf::from("findings.json"));
    Ok(Written {
        dir: dir.to_path_buf(),
        files,
    })
}

/// Writes the reports beyond [`write_all`]'s into `dir`: `summary.html` always (with the
/// trend over `history`, past runs from the store), `summary.xlsx` when `xlsx`, and
/// `departments/<department>.xlsx` beside each CSV when `department_xlsx`. Returns the files
/// written, relative to `dir`, in the order written.
pub fn write_extra(
    run: &ScanRun,
    findings: &dyn FindingSource,
    dir: &Path,
    lang: Lang,
    history: &[TrendPoint],
    xlsx: bool,
    department_xlsx: bool,
) -> Result<Vec<PathBuf>, ReportError> {
    let mut files = Vec::new();
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join("summary.html");
    let mut page = AtomicFile::create(&path)?;
    html::write_summary_html(run, findings, lang, history, (&mut page, &path))?;
    page.commit()?;
    files.push(PathBuf::from("summary.html"));
    if xlsx {
        xlsx::write_workbook(run, findings, &dir.join("summary.xlsx"), lang)?;
        files.push(PathBuf::from("summary.xlsx"));
    }
    if department_xlsx {
        let dept_dir = dir.join("departments");
        std::fs::create_dir_all(&dept_dir).map_err(|source| ReportError::Write {
            path: dept_dir.clone(),
            source,
        })?;
        for (d, name) in run.departments.iter().zip(xlsx::department_files(run)) {
            let rel = Path::new("departments").join(name);
            xlsx::write_department_workbook(run, findings, &d.id, &dir.join(&rel), lang)?;
            files.push(rel);
        }
    }
    Ok(files)
}

/// Writes to `<path>.tmp`, then renames over `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let err = |source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// A file being written through a buffer to `<path>.tmp`; [`AtomicFile::commit`] flushes it
/// and renames it over `path`. Dropped without a commit, it leaves only the `.tmp` file.
pub(crate) struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl AtomicFile {
    /// Creates (or truncates) `<path>.tmp`.
    pub(crate) fn create(path: &Path) -> Result<AtomicFile, ReportError> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let file = std::fs::File::create(&tmp).map_err(|source| ReportError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            out: std::io::BufWriter::with_capacity(64 * 1024, file),
        })
    }

    /// The error for a failed write to this file.
    pub(crate) fn error(&self, source: std::io::Error) -> ReportError {
        ReportError::Write {
            path: self.path.clone(),
            source,
        }
    }

    /// Flushes the buffer and renames the file into place.
    pub(crate) fn commit(self) -> Result<(), ReportError> {
        let AtomicFile { path, tmp, out } = self;
        let err = |source| ReportError::Write {
            path: path.clone(),
            source,
        };
        let file = out.into_inner().map_err(|e| err(e.into_error()))?;
        drop(file);
        std::fs::rename(&tmp, &path).map_err(err)
    }
}

impl std::io::Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.out.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A department id as a file name: characters that Windows or Unix refuse become `_`.
#[must_use]
pub fn file_name(id: &str) -> String {
    let cleaned: String = id
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_matches('.').to_string();
    if cleaned.is_empty() {
        "_".to_string()
    } else {
        cleaned
    }
}
