//! The CSV reports. Column sets are declared once per file, in both languages.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{AtomicFile, Lang, department_findings, file_name};
use crate::error::ReportError;
use crate::model::{Class, Finding, FindingSource, ProblemKind, ScanRun, Severity, Source, Status};
use url::Url;

/// Excel and WPS need the BOM to read UTF-8 Chinese correctly.
const BOM: &[u8] = "\u{feff}".as_bytes();

pub(super) const FINDING_COLUMNS: [(&str, &str); 19] = [
    ("部门", "department"),
    ("邮箱地址", "address"),
    ("类别", "class"),
    ("严重程度", "severity"),
    ("判定规则", "rule"),
    ("页面地址", "page_url"),
    ("页面标题", "page_title"),
    ("文档内位置", "location"),
    ("链接页面", "linked_from"),
    ("写法", "form"),
    ("原文", "as_written"),
    ("上下文", "context"),
    ("出现次数", "occurrences"),
    ("状态", "status"),
    ("首次发现", "first_seen"),
    ("最近发现", "last_seen"),
    ("已存在周数", "weeks_open"),
    ("读取方式", "read_from"),
    ("依据", "evidence"),
];

const SUMMARY_COLUMNS: [(&str, &str); 13] = [
    ("部门", "department"),
    ("来源", "source"),
    ("已扫描页面", "pages_scanned"),
    ("跳过页面", "pages_skipped"),
    ("失败页面", "pages_failed"),
    ("邮箱地址数", "addresses"),
    ("违规", "violations"),
    ("待核查", "reviews"),
    ("合规", "ok"),
    ("忽略", "ignored"),
    ("新发现", "new"),
    ("已整改", "resolved"),
    ("报告文件", "report_file"),
];

const ERROR_COLUMNS: [(&str, &str); 6] = [
    ("部门", "department"),
    ("网址", "url"),
    ("来源页面", "found_on"),
    ("类型", "kind"),
    ("代码", "code"),
    ("说明", "detail"),
];

pub(super) fn header(cols: &[(&'static str, &'static str)], lang: Lang) -> Vec<&'static str> {
    cols.iter()
        .map(|&(zh, en)| if lang == Lang::Zh { zh } else { en })
        .collect()
}

/// Neutralises a cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR):
/// text taken from hostile pages must not execute in a department's Excel.
#[must_use]
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

pub(super) fn status_name(f: &Finding, lang: Lang) -> &'static str {
    match (f.status, f.verified, lang) {
        (Status::StillPresent | Status::New, false, Lang::Zh) => "仍存在（本次未能核实）",
        (Status::StillPresent | Status::New, false, Lang::En) => "still_present_unverified",
        (s, true, Lang::Zh) | (s @ Status::Resolved, _, Lang::Zh) => s.zh(),
        (s, _, Lang::En) => s.as_str(),
    }
}

/// Where the address was read: the served HTML or file, the page rendered by a browser
/// (the address is not in the served HTML), or OCR of an image or scan.
pub(super) fn source_name(s: Source, lang: Lang) -> &'static str {
    match (s, lang) {
        (Source::Served, Lang::Zh) => "网页源码或文件",
        (Source::Rendered, Lang::Zh) => "浏览器渲染（源码中没有）",
        (Source::Ocr, Lang::Zh) => "图片文字识别（OCR）",
        (Source::Served, Lang::En) => "served",
        (Source::Rendered, Lang::En) => "rendered (not in the served HTML)",
        (Source::Ocr, Lang::En) => "ocr",
    }
}

pub(super) fn class_name(c: Class, lang: Lang) -> &'static str {
    if lang == Lang::Zh { c.zh() } else { c.as_str() }
}

pub(super) fn severity_name(s: Severity, lang: Lang) -> &'static str {
    if lang == Lang::Zh { s.zh() } else { s.as_str() }
}

/// A CSV file streamed to disk (through [`AtomicFile`]), row by row.
struct Sheet {
    name: PathBuf,
    writer: csv::Writer<AtomicFile>,
}

impl Sheet {
    fn new(path: &Path, header: &[&str]) -> Result<Sheet, ReportError> {
        let mut file = AtomicFile::create(path)?;
        file.write_all(BOM).map_err(|e| file.error(e))?;
        let mut s = Sheet {
            name: PathBuf::from(path.file_name().unwrap_or(path.as_os_str())),
            writer: csv::Writer::from_writer(file),
        };
        s.row(header.iter().copied())?;
        Ok(s)
    }

    fn row<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) -> Result<(), ReportError> {
        let cells: Vec<String> = cells.into_iter().map(neutralise).collect();
        self.writer.write_record(&cells).map_err(|e| self.error(&e))
    }

    fn error(&self, e: &dyn std::fmt::Display) -> ReportError {
        ReportError::Encode {
            path: self.name.clone(),
            message: e.to_string(),
        }
    }

    fn finish(self) -> Result<(), ReportError> {
        let name = self.name.clone();
        let file = self.writer.into_inner().map_err(|e| ReportError::Encode {
            path: name,
            message: e.to_string(),
        })?;
        file.commit()
    }
}

/// The file name of each department's CSV, unique even when two ids clean to the same name.
pub(super) fn department_files(run: &ScanRun) -> Vec<String> {
    let mut used = BTreeSet::new();
    run.departments
        .iter()
        .map(|d| {
            let base = file_name(&d.id.0);
            let mut name = format!("{base}.csv");
            let mut n = 2;
            while !used.insert(name.clone()) {
                name = format!("{base}_{n}.csv");
                n += 1;
            }
            name
        })
        .collect()
}

/// One CSV per department in `dir`, header only when it has no findings ("scanned, clean"
/// must be told apart from "not scanned"). Returns the file names written.
pub(super) fn departments(
    run: &ScanRun,
    findings: &dyn FindingSource,
    lang: Lang,
    dir: &Path,
) -> Result<Vec<String>, ReportError> {
    let header = header(&FINDING_COLUMNS, lang);
    run.departments
        .iter()
        .zip(department_files(run))
        .map(|(d, file)| {
            let mut sheet = Sheet::new(&dir.join(&file), &header)?;
            let mine = department_findings(findings, d)?;
            for f in mine.current.iter().chain(&mine.resolved) {
                let email = f.email.to_string();
                let occurrences = f.occurrences.to_string();
                let (first, last) = (f.first_seen.to_string(), f.last_seen.to_string());
                let weeks = ((run.started.date_naive() - f.first_seen).num_days() / 7).to_string();
                sheet.row([
                    d.name.as_str(),
                    &email,
                    class_name(f.class, lang),
                    severity_name(f.severity, lang),
                    &f.rule,
                    f.page.as_str(),
                    f.page_title.as_deref().unwrap_or_default(),
                    f.location.as_deref().unwrap_or_default(),
                    f.linked_from.as_ref().map_or("", Url::as_str),
                    f.form.as_str(),
                    &f.raw,
                    &f.context,
                    &occurrences,
                    status_name(f, lang),
                    &first,
                    &last,
                    &weeks,
                    source_name(f.source, lang),
                    f.evidence.as_deref().unwrap_or_default(),
                ])?;
            }
            sheet.finish()?;
            Ok(file)
        })
        .collect()
}

/// One row per department plus a total.
pub(super) fn summary(run: &ScanRun, lang: Lang, path: &Path) -> Result<(), ReportError> {
    let mut sheet = Sheet::new(path, &header(&SUMMARY_COLUMNS, lang))?;
    let mut total = crate::model::DepartmentStats::default();
    for ((d, s), file) in run.department_stats().zip(department_files(run)) {
        let source = match (d.configured, lang) {
            (true, Lang::Zh) => "配置",
            (false, Lang::Zh) => "自动发现",
            (true, Lang::En) => "configured",
            (false, Lang::En) => "discovered",
        };
        let nums = s.columns().map(|n| n.to_string());
        let file = format!("departments/{file}");
        sheet.row(
            [d.name.as_str(), source]
                .into_iter()
                .chain(nums.iter().map(String::as_str))
                .chain([file.as_str()]),
        )?;
        total.add(s);
    }
    // Distinct addresses over the whole run, not the sum of the departments'.
    total.addresses = run.addresses;
    let t = total.columns().map(|n| n.to_string());
    let label = if lang == Lang::Zh { "合计" } else { "TOTAL" };
    sheet.row(
        [label, ""]
            .into_iter()
            .chain(t.iter().map(String::as_str))
            .chain([""]),
    )?;
    sheet.finish()
}

/// Every URL that was skipped or could not be read, and why.
pub(super) fn errors(run: &ScanRun, lang: Lang, path: &Path) -> Result<(), ReportError> {
    let mut sheet = Sheet::new(path, &header(&ERROR_COLUMNS, lang))?;
    for p in &run.problems {
        let name = run
            .departments
            .iter()
            .find(|d| d.id == p.department)
            .map_or(p.department.0.as_str(), |d| d.name.as_str());
        let kind = match (p.kind, lang) {
            (ProblemKind::Skipped, Lang::Zh) => "跳过",
            (ProblemKind::Failed, Lang::Zh) => "失败",
            (ProblemKind::Skipped, Lang::En) => "skipped",
            (ProblemKind::Failed, Lang::En) => "failed",
        };
        sheet.row([
            name,
            p.url.as_str(),
            p.found_on.as_ref().map_or("", url::Url::as_str),
            kind,
            &p.code,
            &p.detail,
        ])?;
    }
    sheet.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(neutralise("+86 411"), "'+86 411");
        assert_eq!(neutralise("-1"), "'-1");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("\tx"), "'\tx");
        assert_eq!(neutralise("zhang@ustl.edu.cn"), "zhang@ustl.edu.cn");
        assert_eq!(neutralise(""), "");
    }
}
