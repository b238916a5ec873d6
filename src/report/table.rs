//! The one-screen summary printed after a scan: a row per department with something to say,
//! aligned for Chinese text (double-width characters are counted as two columns).

use unicode_width::UnicodeWidthStr;

use super::Lang;
use crate::model::ScanRun;

fn pad(s: &str, width: usize) -> String {
    let w = UnicodeWidthStr::width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// The summary table as text, one line per department, plus totals.
#[must_use]
pub fn summary_table(run: &ScanRun, lang: Lang) -> String {
    let head: [&str; 6] = match lang {
        Lang::Zh => ["部门", "页面", "跳过/失败", "地址", "违规", "待核查"],
        Lang::En => [
            "department",
            "pages",
            "skipped/failed",
            "addresses",
            "violations",
            "reviews",
        ],
    };
    let mut rows: Vec<[String; 6]> = Vec::new();
    for (d, s) in run.department_stats() {
        rows.push([
            d.name.clone(),
            s.pages_scanned.to_string(),
            format!("{}/{}", s.pages_skipped, s.pages_failed),
            s.addresses.to_string(),
            s.violations.to_string(),
            s.reviews.to_string(),
        ]);
    }
    let mut widths = head.map(UnicodeWidthStr::width);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(UnicodeWidthStr::width(c.as_str()));
        }
    }
    let line = |cells: &[&str]| -> String {
        let parts: Vec<String> = cells.iter().zip(widths).map(|(c, w)| pad(c, w)).collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut out = String::new();
    out.push_str(&line(&head));
    out.push('\n');
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
        out.push('\n');
    }
    out
}
