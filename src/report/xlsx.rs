//! Excel workbooks (rust_xlsxwriter): `summary.xlsx` with a summary sheet, one sheet per
//! department and a sheet of what could not be read; and, on request, one workbook per
//! department beside its CSV.
//!
//! Every text cell is written with `write_string`, never as a formula, so a context such as
//! `=HYPERLINK(...)` taken from a hostile page stays text; cells starting with `=`, `+`, `-`
//! or `@` also get Excel's quote prefix, so editing the cell does not turn it into a formula
//! either. Sheets have a frozen header row and an autofilter; column widths count CJK
//! characters as two. Page URLs become hyperlinks only for http and https.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Timelike};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Url, Workbook, Worksheet, XlsxError};
use unicode_width::UnicodeWidthStr;

use super::Lang;
use super::csv::{FINDING_COLUMNS, class_name, header, severity_name, source_name, status_name};
use crate::error::ReportError;
use crate::model::{
    Department, DepartmentId, Finding, FindingSource, Problem, ProblemKind, ScanRun,
};

const SUMMARY_COLUMNS: [(&str, &str); 15] = [
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
    ("仍存在", "still_present"),
    ("最久违规（周）", "oldest_violation_weeks"),
    ("工作表", "sheet"),
];

const PROBLEM_COLUMNS: [(&str, &str); 6] = [
    ("部门", "department"),
    ("网址", "url"),
    ("来源页面", "found_on"),
    ("类型", "kind"),
    ("代码", "code"),
    ("说明", "detail"),
];

/// Excel's limit of characters in a cell (UTF-16 units).
const MAX_CELL: usize = 32_767;
/// Excel's limit of hyperlinks in a worksheet; later URLs are written as text.
const MAX_LINKS: u32 = 65_530;
/// Excel's limit of characters in a hyperlink.
const MAX_URL: usize = 2_079;

fn tr(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    if lang == Lang::Zh { zh } else { en }
}

fn encode_err(path: &Path) -> impl Fn(XlsxError) -> ReportError + '_ {
    move |e| ReportError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A valid, unique Excel sheet name for `name`: at most 31 UTF-16 units, none of
/// `[ ] : * ? / \`, no control characters, not starting or ending with `'`, not `History`,
/// and not equal (ignoring case, as Excel does) to a name in `used`, which it joins.
#[must_use]
pub fn sheet_name(name: &str, used: &mut BTreeSet<String>) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || "[]:*?/\\".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_matches('\'').trim();
    let base = if cleaned.is_empty() || cleaned.eq_ignore_ascii_case("history") {
        format!("_{cleaned}")
    } else {
        cleaned.to_string()
    };
    let mut n = 1;
    loop {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("_{n}")
        };
        let mut candidate = String::new();
        for c in base.chars() {
            if candidate.encode_utf16().count() + c.len_utf16() + suffix.len() > 31 {
                break;
            }
            candidate.push(c);
        }
        // Cutting may leave an apostrophe or a space at the end.
        let mut candidate = candidate.trim_end_matches(['\'', ' ']).to_string();
        candidate.push_str(&suffix);
        if used.insert(candidate.to_lowercase()) {
            return candidate;
        }
        n += 1;
    }
}

/// A sheet being filled: tracks column widths and the number of hyperlinks.
struct SheetWriter<'a> {
    ws: &'a mut Worksheet,
    widths: Vec<usize>,
    row: u32,
    links: u32,
    bold: Format,
    quoted: Format,
    path: &'a Path,
}

impl<'a> SheetWriter<'a> {
    fn new(ws: &'a mut Worksheet, header: &[&str], path: &'a Path) -> Result<Self, ReportError> {
        let mut s = SheetWriter {
            ws,
            widths: vec![0; header.len()],
            row: 0,
            links: 0,
            bold: Format::new().set_bold().set_background_color("#EEF0F4"),
            quoted: Format::new().set_quote_prefix(),
            path,
        };
        for (col, h) in header.iter().enumerate() {
            let col = col16(col);
            s.ws.write_string_with_format(0, col, *h, &s.bold)
                .map_err(encode_err(path))?;
            s.measure(col, h);
        }
        s.row = 1;
        Ok(s)
    }

    fn measure(&mut self, col: u16, text: &str) {
        // Width in Excel units ≈ display columns; CJK counts as two (unicode-width).
        let w = text.lines().map(UnicodeWidthStr::width).max().unwrap_or(0);
        if let Some(slot) = self.widths.get_mut(usize::from(col)) {
            *slot = (*slot).max(w);
        }
    }

    fn text(&mut self, col: usize, text: &str) -> Result<(), ReportError> {
        let col = col16(col);
        let text = clip_utf16(text, MAX_CELL);
        let res = if text.starts_with(['=', '+', '-', '@']) {
            self.ws
                .write_string_with_format(self.row, col, text.as_ref(), &self.quoted)
        } else {
            self.ws.write_string(self.row, col, text.as_ref())
        };
        res.map_err(encode_err(self.path))?;
        self.measure(col, &text);
        Ok(())
    }

    fn number(&mut self, col: usize, n: impl Into<f64>) -> Result<(), ReportError> {
        let n = n.into();
        let col = col16(col);
        self.ws
            .write_number(self.row, col, n)
            .map_err(encode_err(self.path))?;
        self.measure(col, &n.to_string());
        Ok(())
    }

    /// A hyperlink for http and https URLs within Excel's limits, else the URL as text.
    fn url(&mut self, col: usize, url: &str) -> Result<(), ReportError> {
        let web = url.starts_with("http://") || url.starts_with("https://");
        if !web || url.encode_utf16().count() > MAX_URL || self.links >= MAX_LINKS {
            return self.text(col, url);
        }
        let c = col16(col);
        self.ws
            .write_url_with_text(self.row, c, Url::new(url), url)
            .map_err(encode_err(self.path))?;
        self.links += 1;
        self.measure(c, url);
        Ok(())
    }

    fn internal_link(&mut self, col: usize, sheet: &str, text: &str) -> Result<(), ReportError> {
        let c = col16(col);
        let target = format!("internal:'{}'!A1", sheet.replace('\'', "''"));
        self.ws
            .write_url_with_text(self.row, c, Url::new(target), text)
            .map_err(encode_err(self.path))?;
        self.measure(c, text);
        Ok(())
    }

    fn next_row(&mut self) {
        self.row += 1;
    }

    /// Frozen header, autofilter over the data, widths that fit (between 6 and 60).
    fn finish(self) -> Result<(), ReportError> {
        let err = encode_err(self.path);
        self.ws.set_freeze_panes(1, 0).map_err(&err)?;
        let last_col = u16::try_from(self.widths.len().saturating_sub(1)).unwrap_or(u16::MAX);
        self.ws
            .autofilter(0, 0, self.row.saturating_sub(1), last_col)
            .map_err(&err)?;
        for (col, w) in self.widths.iter().enumerate() {
            let width = u32::try_from((*w).clamp(4, 58) + 2).unwrap_or(60);
            self.ws
                .set_column_width(u16::try_from(col).unwrap_or(u16::MAX), width)
                .map_err(&err)?;
        }
        Ok(())
    }
}

fn col16(col: usize) -> u16 {
    u16::try_from(col).unwrap_or(u16::MAX)
}

/// Cuts `s` to at most `max` UTF-16 units (Excel's measure).
fn clip_utf16(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max || s.encode_utf16().count() <= max {
        return s.into();
    }
    let mut out = String::new();
    let mut n = 0;
    for c in s.chars() {
        n += c.len_utf16();
        if n > max - 1 {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out.into()
}

fn kind_name(k: ProblemKind, lang: Lang) -> &'static str {
    match k {
        ProblemKind::Skipped => tr(lang, "跳过", "skipped"),
        ProblemKind::Failed => tr(lang, "失败", "failed"),
    }
}

fn weeks(run: &ScanRun, f: &Finding) -> i64 {
    (run.started.date_naive() - f.first_seen).num_days().max(0) / 7
}

/// One department's findings (current, then resolved), one row per address and page.
fn findings_sheet(
    ws: &mut Worksheet,
    run: &ScanRun,
    findings: &dyn FindingSource,
    dept: &Department,
    lang: Lang,
    path: &Path,
) -> Result<(), ReportError> {
    let mut s = SheetWriter::new(ws, &header(&FINDING_COLUMNS, lang), path)?;
    let mine = super::department_findings(findings, dept)?;
    for f in mine.current.iter().chain(&mine.resolved) {
        s.text(0, &dept.name)?;
        s.text(1, &f.email.to_string())?;
        s.text(2, class_name(f.class, lang))?;
        s.text(3, severity_name(f.severity, lang))?;
        s.text(4, &f.rule)?;
        s.url(5, f.page.as_str())?;
        s.text(6, f.page_title.as_deref().unwrap_or_default())?;
        s.text(7, f.location.as_deref().unwrap_or_default())?;
        s.url(8, f.linked_from.as_ref().map_or("", url::Url::as_str))?;
        s.text(9, f.form.as_str())?;
        s.text(10, &f.raw)?;
        s.text(11, &f.context)?;
        s.number(12, f.occurrences)?;
        s.text(13, status_name(f, lang))?;
        s.text(14, &f.first_seen.to_string())?;
        s.text(15, &f.last_seen.to_string())?;
        // Weeks fit an f64 exactly.
        s.number(16, u32::try_from(weeks(run, f)).unwrap_or(u32::MAX))?;
        s.text(17, source_name(f.source, lang))?;
        s.text(18, f.evidence.as_deref().unwrap_or_default())?;
        s.next_row();
    }
    s.finish()
}

fn problems_sheet<'p>(
    ws: &mut Worksheet,
    run: &ScanRun,
    problems: impl Iterator<Item = &'p Problem>,
    lang: Lang,
    path: &Path,
) -> Result<(), ReportError> {
    let mut s = SheetWriter::new(ws, &header(&PROBLEM_COLUMNS, lang), path)?;
    for p in problems {
        let name = run
            .departments
            .iter()
            .find(|d| d.id == p.department)
            .map_or(p.department.0.as_str(), |d| d.name.as_str());
        s.text(0, name)?;
        s.url(1, p.url.as_str())?;
        match &p.found_on {
            Some(u) => s.url(2, u.as_str())?,
            None => s.text(2, "")?,
        }
        s.text(3, kind_name(p.kind, lang))?;
        s.text(4, &p.code)?;
        s.text(5, &p.detail)?;
        s.next_row();
    }
    s.finish()
}

/// A new workbook whose properties come from the run (title, creation time = the scan's
/// start), so the same run gives the same bytes.
fn new_workbook(run: &ScanRun, path: &Path) -> Result<Workbook, ReportError> {
    let t = run.started.with_timezone(&chrono::Utc);
    let created = u16::try_from(t.year())
        .ok()
        .and_then(|y| {
            ExcelDateTime::from_ymd(
                y,
                u8::try_from(t.month()).ok()?,
                u8::try_from(t.day()).ok()?,
            )
            .ok()
        })
        .and_then(|d| {
            d.and_hms(
                u16::try_from(t.hour()).ok()?,
                u8::try_from(t.minute()).ok()?,
                t.second(),
            )
            .ok()
        })
        .ok_or_else(|| ReportError::Encode {
            path: path.to_path_buf(),
            message: format!("run start {} is outside Excel's dates", run.started),
        })?;
    let mut wb = Workbook::new();
    wb.set_properties(
        &DocProperties::new()
            .set_title(&run.profile)
            .set_creation_datetime(&created),
    );
    Ok(wb)
}

fn summary_sheet_name(lang: Lang) -> &'static str {
    tr(lang, "汇总", "Summary")
}

fn problems_sheet_name(lang: Lang) -> &'static str {
    tr(lang, "未能读取", "Not read")
}

/// The bytes of `summary.xlsx`: a summary sheet (one row per department, linked to its
/// sheet, and a total), one sheet per department, and the URLs that could not be read.
pub(super) fn workbook_bytes(
    run: &ScanRun,
    findings: &dyn FindingSource,
    lang: Lang,
    path: &Path,
) -> Result<Vec<u8>, ReportError> {
    let err = encode_err(path);
    let mut used = BTreeSet::new();
    let summary_name = sheet_name(summary_sheet_name(lang), &mut used);
    let problems_name = sheet_name(problems_sheet_name(lang), &mut used);
    let names: Vec<String> = run
        .departments
        .iter()
        .map(|d| sheet_name(&d.name, &mut used))
        .collect();
    let mut wb = new_workbook(run, path)?;
    {
        let ws = wb.add_worksheet();
        ws.set_name(&summary_name).map_err(&err)?;
        let mut s = SheetWriter::new(ws, &header(&SUMMARY_COLUMNS, lang), path)?;
        let mut total = crate::model::DepartmentStats::default();
        let mut total_still = 0u32;
        let today = run.started.date_naive();
        for ((d, st), sheet) in run.department_stats().zip(&names) {
            let still = st.still_present;
            let oldest = st
                .oldest_violation
                .map(|first| (today - first).num_days().max(0) / 7);
            s.internal_link(0, sheet, &d.name)?;
            s.text(
                1,
                if d.configured {
                    tr(lang, "配置", "configured")
                } else {
                    tr(lang, "自动发现", "discovered")
                },
            )?;
            for (i, n) in st.columns().into_iter().enumerate() {
                s.number(2 + i, n)?;
            }
            s.number(12, still)?;
            match oldest {
                Some(w) => s.number(13, u32::try_from(w).unwrap_or(u32::MAX))?,
                None => s.text(13, "")?,
            }
            s.text(14, sheet)?;
            s.next_row();
            total.add(st);
            total_still += still;
        }
        total.addresses = run.addresses;
        s.text(0, tr(lang, "合计", "TOTAL"))?;
        for (i, n) in total.columns().into_iter().enumerate() {
            s.number(2 + i, n)?;
        }
        s.number(12, total_still)?;
        s.next_row();
        s.finish()?;
    }
    for (d, name) in run.departments.iter().zip(&names) {
        let ws = wb.add_worksheet();
        ws.set_name(name).map_err(&err)?;
        findings_sheet(ws, run, findings, d, lang, path)?;
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name(&problems_name).map_err(&err)?;
        problems_sheet(ws, run, run.problems.iter(), lang, path)?;
    }
    wb.save_to_buffer().map_err(&err)
}

/// The bytes of one department's workbook: its findings, and its URLs that could not be read.
pub(super) fn department_bytes(
    run: &ScanRun,
    findings: &dyn FindingSource,
    department: &DepartmentId,
    lang: Lang,
    path: &Path,
) -> Result<Vec<u8>, ReportError> {
    let err = encode_err(path);
    let dept = run
        .departments
        .iter()
        .find(|d| &d.id == department)
        .ok_or_else(|| ReportError::Encode {
            path: path.to_path_buf(),
            message: format!("no department {department} in run {}", run.id),
        })?;
    let mut used = BTreeSet::new();
    let problems_name = sheet_name(problems_sheet_name(lang), &mut used);
    let name = sheet_name(&dept.name, &mut used);
    let mut wb = new_workbook(run, path)?;
    let ws = wb.add_worksheet();
    ws.set_name(&name).map_err(&err)?;
    findings_sheet(ws, run, findings, dept, lang, path)?;
    let ws = wb.add_worksheet();
    ws.set_name(&problems_name).map_err(&err)?;
    problems_sheet(
        ws,
        run,
        run.problems.iter().filter(|p| &p.department == department),
        lang,
        path,
    )?;
    wb.save_to_buffer().map_err(&err)
}

/// Writes `summary.xlsx`-style workbook of the whole run to `path` (atomically): a summary
/// sheet, one sheet per department, and a sheet of the URLs that could not be read.
pub fn write_workbook(
    run: &ScanRun,
    findings: &dyn FindingSource,
    path: &Path,
    lang: Lang,
) -> Result<(), ReportError> {
    let bytes = workbook_bytes(run, findings, lang, path)?;
    super::write_atomic(path, &bytes)
}

/// Writes one department's workbook to `path` (atomically): its findings and its URLs that
/// could not be read. Fails when the run has no such department.
pub fn write_department_workbook(
    run: &ScanRun,
    findings: &dyn FindingSource,
    department_id: &DepartmentId,
    path: &Path,
    lang: Lang,
) -> Result<(), ReportError> {
    let bytes = department_bytes(run, findings, department_id, lang, path)?;
    super::write_atomic(path, &bytes)
}

/// The file name of each department's workbook: its CSV name with `.xlsx`.
pub(super) fn department_files(run: &ScanRun) -> Vec<PathBuf> {
    super::csv::department_files(run)
        .into_iter()
        .map(|csv| Path::new(&csv).with_extension("xlsx"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_valid_and_unique() {
        let mut used = BTreeSet::new();
        assert_eq!(sheet_name("计算机学院", &mut used), "计算机学院");
        assert_eq!(sheet_name("计算机学院", &mut used), "计算机学院_2");
        assert_eq!(sheet_name("A/B [x]: *?\\", &mut used), "A_B _x__ ___");
        assert_eq!(sheet_name("'quoted'", &mut used), "quoted");
        assert_eq!(sheet_name("History", &mut used), "_History");
        assert_eq!(sheet_name("", &mut used), "_");
        assert_eq!(sheet_name("SUMMARY", &mut used), "SUMMARY");
        assert_eq!(sheet_name("summary", &mut used), "summary_2");
        let long = "信息科学与工程学院计算机科学与技术系软件工程研究所实验室办公室";
        let a = sheet_name(long, &mut used);
        let b = sheet_name(long, &mut used);
        assert!(a.encode_utf16().count() <= 31 && b.encode_utf16().count() <= 31);
        assert_ne!(a, b);
        assert!(b.ends_with("_2"));
        // Astral characters count two UTF-16 units.
        let emoji = "😀".repeat(20);
        assert!(sheet_name(&emoji, &mut used).encode_utf16().count() <= 31);
    }

    #[test]
    fn cells_are_clipped_to_excel_limit() {
        let long = "字".repeat(40_000);
        let c = clip_utf16(&long, MAX_CELL);
        assert_eq!(c.encode_utf16().count(), MAX_CELL);
        assert_eq!(clip_utf16("short", MAX_CELL), "short");
    }
}
