//! `summary.html`: the inspection office's one-page report, a single self-contained file
//! (inline CSS, inline SVG charts drawn here, a few lines of inline JavaScript for sorting;
//! no fonts, scripts, styles or images from anywhere else, so it renders the same offline).
//!
//! Every string that came from a crawled page (titles, addresses as written, context,
//! locations, URLs, department names discovered from page titles, problem details) goes
//! through [`escape`] before it reaches the output, and a URL becomes an `href` only when its
//! scheme is http, https or file ([`safe_href`]). The page is built with `write!` and a small
//! hand-written, tested `escape` rather than a template engine: most of the output is computed
//! geometry (SVG) and loops over findings, which a template would only move around, and one
//! five-character escape used for both text and quoted attributes is easy to audit. As a second
//! line of defence the page carries a Content-Security-Policy that allows no network access
//! and runs only the one inline script whose hash it names, so an injected `<script>` or
//! `onerror=` would not run even if escaping were ever missed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use std::path::Path;

use super::Lang;
use super::csv::source_name;
use crate::error::ReportError;
use crate::model::{
    Class, Department, DepartmentStats, Finding, FindingSource, ProblemKind, ScanRun, Severity,
    Source, Status,
};

/// One past run, for the trend chart of open violations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrendPoint {
    /// The run's number in the state database.
    pub run: i64,
    /// The day the run started.
    pub day: NaiveDate,
    /// Findings with severity `violation` present in that run (the open violations).
    pub violations: u32,
    /// Findings that needed action in that run: violations plus reviews.
    pub open: u32,
}

/// Escapes text for HTML element content and for double- or single-quoted attribute values:
/// `&`, `<`, `>`, `"` and `'` become character references. Everything else, Chinese
/// included, is kept as it is (the file is UTF-8).
#[must_use]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline are not allowed in HTML text.
            c if c.is_control() && c != '\t' && c != '\n' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The URL, escaped for an `href`, when its scheme is http, https or file; `None` for
/// anything else (`javascript:`, `data:`, ...), which must then be shown as text only.
#[must_use]
pub fn safe_href(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https" | "file").then(|| escape(parsed.as_str()))
}

/// A link to `url` showing `text` when the URL is safe, else `text` (and the URL) as text.
fn link(url: &str, text: &str) -> String {
    match safe_href(url) {
        Some(href) => format!(
            "<a href=\"{href}\" rel=\"noopener noreferrer\">{}</a>",
            escape(text)
        ),
        None if text == url => format!("<span class=\"nolink\">{}</span>", escape(text)),
        None => format!(
            "<span class=\"nolink\">{} ({})</span>",
            escape(text),
            escape(url)
        ),
    }
}

/// Cuts `s` to at most `max` characters, adding `…` when it was longer.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn tr(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    if lang == Lang::Zh { zh } else { en }
}

fn count<T>(it: impl Iterator<Item = T>) -> u32 {
    u32::try_from(it.count()).unwrap_or(u32::MAX)
}

/// Whole weeks from `since` to `day`.
fn weeks(day: NaiveDate, since: NaiveDate) -> i64 {
    (day - since).num_days().max(0) / 7
}

/// Colour of each class in the charts (violation-like classes warm, compliant ones cool).
fn class_colour(c: Class) -> &'static str {
    match c {
        Class::FreeWebmail => "#d7301f",
        Class::Legacy => "#fc8d59",
        Class::Student => "#fdbb84",
        Class::External => "#e6c74c",
        Class::Institutional => "#4daf4a",
        Class::Allowed => "#80b1d3",
        Class::Placeholder => "#bdbdbd",
    }
}

fn class_name(c: Class, lang: Lang) -> &'static str {
    if lang == Lang::Zh { c.zh() } else { c.as_str() }
}

fn severity_name(s: Severity, lang: Lang) -> &'static str {
    if lang == Lang::Zh { s.zh() } else { s.as_str() }
}

fn status_name(f: &Finding, lang: Lang) -> &'static str {
    match (f.status, f.verified) {
        (Status::Resolved, _) => tr(lang, "已整改", "resolved"),
        (_, false) => tr(lang, "仍存在（本次未能核实）", "still present (unverified)"),
        (Status::New, true) => tr(lang, "新发现", "new"),
        (Status::StillPresent, true) => tr(lang, "仍存在", "still present"),
    }
}

/// One department's row: the counts of the summary plus what the office asks about.
struct Row<'a> {
    dept: &'a Department,
    stats: &'a DepartmentStats,
    still_present: u32,
    /// Weeks the oldest open violation has been published, if there is one.
    oldest_weeks: Option<i64>,
    by_class: &'a BTreeMap<Class, u32>,
}

fn rows(run: &ScanRun) -> Vec<Row<'_>> {
    let today = run.started.date_naive();
    let mut rows: Vec<Row<'_>> = run
        .department_stats()
        .map(|(dept, stats)| Row {
            dept,
            stats,
            still_present: stats.still_present,
            oldest_weeks: stats.oldest_violation.map(|d| weeks(today, d)),
            by_class: &stats.by_class,
        })
        .collect();
    // Worst first: violations, then reviews, then the name; stable for equal keys.
    rows.sort_by(|a, b| {
        b.stats
            .violations
            .cmp(&a.stats.violations)
            .then(b.stats.reviews.cmp(&a.stats.reviews))
            .then(a.dept.name.cmp(&b.dept.name))
    });
    rows
}

const STYLE: &str = "
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,\"Segoe UI\",\"PingFang SC\",\"Microsoft YaHei\",\"Noto Sans CJK SC\",\"WenQuanYi Micro Hei\",sans-serif;margin:0;padding:24px 32px;color:#222;background:#f6f7f9;line-height:1.45}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 10px;border-bottom:2px solid #dde;padding-bottom:4px}
.meta{color:#555;font-size:13px}.warn{background:#fff3cd;border:1px solid #e0c060;padding:8px 12px;border-radius:4px;margin:10px 0}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #dde;border-radius:6px;padding:10px 16px;min-width:120px}
.card .n{font-size:26px;font-weight:600}.card .l{font-size:13px;color:#555}
.card.bad .n{color:#c0281b}.card.mid .n{color:#b06d00}.card.good .n{color:#2e7d32}
table{border-collapse:collapse;background:#fff;font-size:13px;width:100%}
th,td{border:1px solid #dde;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4;white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer;user-select:none}table.sortable th:after{content:' \\2195';color:#99a}
table.sortable th[data-dir=asc]:after{content:' \\2191'}table.sortable th[data-dir=desc]:after{content:' \\2193'}
tfoot td{font-weight:600;background:#f3f4f7}
td.v{color:#c0281b;font-weight:600}
.chart{background:#fff;border:1px solid #dde;border-radius:6px;padding:8px}.chart svg{max-width:100%;height:auto}
details{background:#fff;border:1px solid #dde;border-radius:6px;margin:6px 0;padding:6px 10px}
summary{cursor:pointer;font-weight:600}summary .c{font-weight:400;color:#555;margin-left:8px}
.sev-violation{color:#c0281b;font-weight:600}.sev-review{color:#b06d00}.sev-ok{color:#2e7d32}.sev-ignored{color:#777}
.ev{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.src{font-family:system-ui,sans-serif;color:#8a4b00}
mark{background:#ffe08a}.url{word-break:break-all}.nolink{color:#666;word-break:break-all}
.muted{color:#777}.nw{white-space:nowrap}
";

/// Click a header to sort by it (numbers by `data-v`, first click descending).
const SCRIPT: &str = "document.querySelectorAll('table.sortable').forEach(function(t){var hs=t.tHead.rows[0].cells;Array.prototype.forEach.call(hs,function(th,i){th.addEventListener('click',function(){var d=th.getAttribute('data-dir')==='desc'?'asc':'desc';Array.prototype.forEach.call(hs,function(h){h.removeAttribute('data-dir')});th.setAttribute('data-dir',d);var b=t.tBodies[0],rs=Array.prototype.slice.call(b.rows);rs.sort(function(x,y){var a=x.cells[i].getAttribute('data-v'),c=y.cells[i].getAttribute('data-v'),r=(a!==null&&c!==null)?parseFloat(a)-parseFloat(c):x.cells[i].textContent.localeCompare(y.cells[i].textContent);return d==='asc'?r:-r});rs.forEach(function(r){b.appendChild(r)})})})});";

/// Standard base64 (for the CSP hash of the script).
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(A[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Where the page goes: text gathers in a buffer handed to the writer every 64 KiB, so a
/// report of any size needs about that much memory. The first write error is kept.
struct Out<'w> {
    buf: String,
    w: &'w mut dyn std::io::Write,
    err: Option<std::io::Error>,
}

impl Out<'_> {
    const SPILL: usize = 64 * 1024;

    fn push_str(&mut self, s: &str) {
        self.buf.push_str(s);
        if self.buf.len() >= Self::SPILL {
            self.drain();
        }
    }

    fn drain(&mut self) {
        if self.err.is_none()
            && let Err(e) = self.w.write_all(self.buf.as_bytes())
        {
            self.err = Some(e);
        }
        self.buf.clear();
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.drain();
        self.err.take().map_or(Ok(()), Err)
    }
}

impl std::fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

/// Renders `summary.html` for `run` as a string (see [`write_summary_html`]).
///
/// # Errors
/// When the findings cannot be read.
pub fn summary_html(
    run: &ScanRun,
    findings: &dyn FindingSource,
    lang: Lang,
    history: &[TrendPoint],
) -> Result<String, ReportError> {
    let mut bytes = Vec::new();
    write_summary_html(
        run,
        findings,
        lang,
        history,
        (&mut bytes, Path::new("summary.html")),
    )?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Writes `summary.html` for `run` to `out` (a writer and the path it writes, for errors),
/// streamed: findings are read one department at a time. `history` holds past runs for the
/// trend chart (any order; the current run is added from `run` when it is not among them).
///
/// # Errors
/// When the findings cannot be read, or the first error of the writer.
pub fn write_summary_html(
    run: &ScanRun,
    findings: &dyn FindingSource,
    lang: Lang,
    history: &[TrendPoint],
    (w, path): (&mut dyn std::io::Write, &Path),
) -> Result<(), ReportError> {
    let mut h = Out {
        buf: String::with_capacity(Out::SPILL + 4096),
        w,
        err: None,
    };
    let rows = rows(run);
    let script_hash = base64(&Sha256::digest(SCRIPT.as_bytes()));
    let title = format!(
        "{} — {}",
        run.profile,
        tr(
            lang,
            "邮箱公开情况检查汇总",
            "published email address audit"
        )
    );
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{script_hash}'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        tr(lang, "zh-CN", "en"),
        escape(&title)
    );
    let _ = writeln!(h, "<h1>{}</h1>", escape(&title));
    let _ = writeln!(
        h,
        "<div class=\"meta\">{} #{} · {} {} · {} {}</div>",
        tr(lang, "第", "run"),
        run.id,
        tr(lang, "开始", "started"),
        run.started.format("%Y-%m-%d %H:%M"),
        tr(lang, "结束", "finished"),
        run.finished.format("%Y-%m-%d %H:%M"),
    );
    if !run.complete {
        let _ = writeln!(
            h,
            "<div class=\"warn\">{}</div>",
            tr(
                lang,
                "本次扫描未完成（被中断或达到上限），以下结果只覆盖已扫描的页面。",
                "This scan did not complete (interrupted or stopped by a limit): the results cover only the pages scanned."
            )
        );
    }
    headline(&mut h, run, lang);
    department_table(&mut h, run, &rows, lang);
    let _ = writeln!(
        h,
        "<h2 id=\"classes\">{}</h2>",
        tr(lang, "各部门邮箱类别", "Addresses by class, per department")
    );
    class_chart(&mut h, &rows, lang);
    let _ = writeln!(
        h,
        "<h2 id=\"trend\">{}</h2>",
        tr(lang, "违规数量趋势", "Open violations over past runs")
    );
    trend_chart(&mut h, run, history, lang);
    drill_down(&mut h, run, findings, &rows, lang)?;
    problems(&mut h, run, lang);
    let _ = write!(h, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    h.finish().map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn headline(h: &mut Out<'_>, run: &ScanRun, lang: Lang) {
    let skipped = count(
        run.problems
            .iter()
            .filter(|p| p.kind == ProblemKind::Skipped),
    );
    let failed = count(
        run.problems
            .iter()
            .filter(|p| p.kind == ProblemKind::Failed),
    );
    let totals = run.totals();
    let addresses = totals.addresses;
    let new = totals.new;
    let violations = totals.violations;
    let cards = [
        (
            count(run.pages.iter()),
            tr(lang, "已扫描页面", "pages scanned"),
            "",
        ),
        (skipped, tr(lang, "跳过", "skipped"), ""),
        (
            failed,
            tr(lang, "失败", "failed"),
            if failed > 0 { "mid" } else { "" },
        ),
        (addresses, tr(lang, "邮箱地址", "addresses"), ""),
        (
            violations,
            tr(lang, "违规", "violations"),
            if violations > 0 { "bad" } else { "good" },
        ),
        (totals.reviews, tr(lang, "待核查", "to review"), "mid"),
        (new, tr(lang, "新发现", "new"), ""),
        (totals.resolved, tr(lang, "已整改", "resolved"), "good"),
    ];
    h.push_str("<div class=\"cards\">\n");
    for (n, label, class) in cards {
        let _ = writeln!(
            h,
            "<div class=\"card {class}\"><div class=\"n\">{n}</div><div class=\"l\">{label}</div></div>"
        );
    }
    h.push_str("</div>\n");
}

fn department_table(h: &mut Out<'_>, run: &ScanRun, rows: &[Row<'_>], lang: Lang) {
    let _ = writeln!(
        h,
        "<h2 id=\"departments\">{}</h2>\n<table class=\"sortable\" id=\"dept-table\">\n<thead><tr>",
        tr(
            lang,
            "各部门情况（点击表头排序）",
            "Departments (click a header to sort)"
        )
    );
    for head in [
        tr(lang, "部门", "department"),
        tr(lang, "已扫描页面", "pages"),
        tr(lang, "违规", "violations"),
        tr(lang, "待核查", "reviews"),
        tr(lang, "新发现", "new"),
        tr(lang, "仍存在", "still present"),
        tr(lang, "已整改", "resolved"),
        tr(lang, "最久违规（周）", "oldest violation (weeks)"),
        tr(lang, "跳过/失败", "skipped/failed"),
    ] {
        let _ = write!(h, "<th>{head}</th>");
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    let mut total = DepartmentStats::default();
    let mut total_still = 0;
    for (i, r) in rows.iter().enumerate() {
        let s = &r.stats;
        total.add(s);
        total_still += r.still_present;
        let v = if s.violations > 0 { " v" } else { "" };
        let (oldest_v, oldest) = r
            .oldest_weeks
            .map_or((-1, "—".to_string()), |w| (w, w.to_string()));
        let _ = writeln!(
            h,
            "<tr><td><a href=\"#dept-{i}\">{}</a></td><td class=\"n\" data-v=\"{}\">{}</td>\
             <td class=\"n{v}\" data-v=\"{}\">{}</td><td class=\"n\" data-v=\"{}\">{}</td>\
             <td class=\"n\" data-v=\"{}\">{}</td><td class=\"n\" data-v=\"{}\">{}</td>\
             <td class=\"n\" data-v=\"{}\">{}</td><td class=\"n\" data-v=\"{oldest_v}\">{oldest}</td>\
             <td class=\"n\" data-v=\"{}\">{} / {}</td></tr>",
            escape(&r.dept.name),
            s.pages_scanned,
            s.pages_scanned,
            s.violations,
            s.violations,
            s.reviews,
            s.reviews,
            s.new,
            s.new,
            r.still_present,
            r.still_present,
            s.resolved,
            s.resolved,
            s.pages_skipped + s.pages_failed,
            s.pages_skipped,
            s.pages_failed,
        );
    }
    let oldest = rows.iter().filter_map(|r| r.oldest_weeks).max();
    let _ = writeln!(
        h,
        "</tbody>\n<tfoot><tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
         <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{total_still}</td>\
         <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{} / {}</td></tr></tfoot>\n</table>",
        tr(lang, "合计", "total"),
        count(run.pages.iter()),
        total.violations,
        total.reviews,
        total.new,
        total.resolved,
        oldest.map_or("—".to_string(), |w| w.to_string()),
        total.pages_skipped,
        total.pages_failed,
    );
}

/// A horizontal stacked bar per department: how many findings of each class.
fn class_chart(h: &mut Out<'_>, rows: &[Row<'_>], lang: Lang) {
    let present: BTreeSet<Class> = rows
        .iter()
        .flat_map(|r| r.by_class.keys().copied())
        .collect();
    if present.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"muted\">{}</p>",
            tr(
                lang,
                "本次未发现邮箱地址。",
                "No addresses were found in this run."
            )
        );
        return;
    }
    let max = rows
        .iter()
        .map(|r| r.by_class.values().sum::<u32>())
        .max()
        .unwrap_or(1)
        .max(1);
    let (label_w, bar_w, row_h, top) = (220.0, 620.0, 26.0, 34.0);
    let width = label_w + bar_w + 60.0;
    let height = top + row_h * f64::from(count(rows.iter())) + 10.0;
    let _ = writeln!(
        h,
        "<div class=\"chart\"><svg id=\"class-chart\" xmlns=\"http://www.w3.org/2000/svg\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" \
         role=\"img\" font-size=\"12\">"
    );
    // Legend.
    let mut x = label_w;
    for &c in &present {
        let name = class_name(c, lang);
        let _ = writeln!(
            h,
            "<rect x=\"{x:.1}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"16\">{}</text>",
            class_colour(c),
            x + 16.0,
            escape(name)
        );
        x += 16.0 + 13.0 * f64::from(count(name.chars())) + 18.0;
    }
    for (i, r) in rows.iter().enumerate() {
        let y = top + row_h * f64::from(u32::try_from(i).unwrap_or(u32::MAX));
        let _ = writeln!(
            h,
            "<g><title>{}</title><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            escape(&r.dept.name),
            label_w - 8.0,
            y + 15.0,
            escape(&clip(&r.dept.name, 16))
        );
        let mut x = label_w;
        for (&c, &n) in r.by_class {
            let w = bar_w * f64::from(n) / f64::from(max);
            let _ = writeln!(
                h,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{}\">\
                 <title>{}: {n}</title></rect>",
                y + 3.0,
                row_h - 8.0,
                class_colour(c),
                escape(class_name(c, lang))
            );
            x += w;
        }
        let total: u32 = r.by_class.values().sum();
        let _ = writeln!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#555\">{total}</text></g>",
            x + 6.0,
            y + 15.0
        );
    }
    h.push_str("</svg></div>\n");
}

/// A number at or above `n` that makes round axis ticks (1, 2, 5 times a power of ten).
fn nice_ceiling(n: u32) -> u32 {
    let n = n.max(1);
    let mut step = 1u32;
    loop {
        for m in [1, 2, 5] {
            if let Some(v) = step.checked_mul(m)
                && v >= n
            {
                return v;
            }
        }
        match step.checked_mul(10) {
            Some(s) => step = s,
            None => return u32::MAX,
        }
    }
}

/// The line chart of open violations (and of everything needing action) per run.
fn trend_chart(h: &mut Out<'_>, run: &ScanRun, history: &[TrendPoint], lang: Lang) {
    let mut points: Vec<TrendPoint> = history.to_vec();
    if !points.iter().any(|p| p.run == run.id) {
        let totals = run.totals();
        points.push(TrendPoint {
            run: run.id,
            day: run.started.date_naive(),
            violations: totals.violations,
            open: totals.violations.saturating_add(totals.reviews),
        });
    }
    points.sort_by_key(|p| (p.day, p.run));
    let max = nice_ceiling(
        points
            .iter()
            .map(|p| p.violations.max(p.open))
            .max()
            .unwrap_or(0),
    );
    let (left, right, top, plot_h, width) = (50.0, 20.0, 30.0, 200.0, 900.0);
    let plot_w = width - left - right;
    let height = top + plot_h + 40.0;
    let _ = writeln!(
        h,
        "<div class=\"chart\"><svg id=\"trend-chart\" xmlns=\"http://www.w3.org/2000/svg\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" \
         role=\"img\" font-size=\"12\">"
    );
    // Legend and axes.
    let _ = writeln!(
        h,
        "<line x1=\"{left}\" y1=\"14\" x2=\"{:.0}\" y2=\"14\" stroke=\"#c0281b\" stroke-width=\"2.5\"/>\
         <text x=\"{:.0}\" y=\"18\">{}</text>\
         <line x1=\"{:.0}\" y1=\"14\" x2=\"{:.0}\" y2=\"14\" stroke=\"#e08a00\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/>\
         <text x=\"{:.0}\" y=\"18\">{}</text>",
        left + 24.0,
        left + 30.0,
        tr(lang, "违规", "violations"),
        left + 150.0,
        left + 174.0,
        left + 180.0,
        tr(lang, "违规+待核查", "violations + reviews"),
    );
    for k in 0..=4u32 {
        let v = f64::from(max) * f64::from(k) / 4.0;
        let y = top + plot_h - plot_h * f64::from(k) / 4.0;
        let _ = writeln!(
            h,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e4e6eb\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>",
            left + plot_w,
            left - 6.0,
            y + 4.0,
            if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        );
    }
    let n = points.len();
    let x_of = |i: usize| {
        if n <= 1 {
            left + plot_w / 2.0
        } else {
            let i = f64::from(u32::try_from(i).unwrap_or(u32::MAX));
            let last = f64::from(u32::try_from(n - 1).unwrap_or(u32::MAX));
            left + 10.0 + (plot_w - 20.0) * i / last
        }
    };
    let y_of = |v: u32| top + plot_h - plot_h * f64::from(v) / f64::from(max);
    // At most about ten date labels, always the last one.
    let every = n.div_ceil(10).max(1);
    for (i, p) in points.iter().enumerate() {
        if i % every == 0 || i + 1 == n {
            let _ = writeln!(
                h,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
                x_of(i),
                top + plot_h + 18.0,
                p.day.format("%m-%d")
            );
        }
    }
    for (series, colour, dash, pick) in [
        (
            "open",
            "#e08a00",
            " stroke-dasharray=\"5 3\"",
            (|p: &TrendPoint| p.open) as fn(&TrendPoint) -> u32,
        ),
        ("violations", "#c0281b", "", |p: &TrendPoint| p.violations),
    ] {
        if n > 1 {
            let pts: Vec<String> = points
                .iter()
                .enumerate()
                .map(|(i, p)| format!("{:.1},{:.1}", x_of(i), y_of(pick(p))))
                .collect();
            let _ = writeln!(
                h,
                "<polyline class=\"{series}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\"{dash} points=\"{}\"/>",
                pts.join(" ")
            );
        }
        for (i, p) in points.iter().enumerate() {
            let _ = writeln!(
                h,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{colour}\"><title>#{} {}: {}</title></circle>",
                x_of(i),
                y_of(pick(p)),
                p.run,
                p.day,
                pick(p)
            );
        }
    }
    if let Some(last) = points.last() {
        let _ = writeln!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"600\" fill=\"#c0281b\">{}</text>",
            x_of(n - 1).min(left + plot_w - 12.0),
            y_of(last.violations) - 8.0,
            last.violations
        );
    }
    h.push_str("</svg>");
    if n <= 1 {
        let _ = write!(
            h,
            "<p class=\"muted\">{}</p>",
            tr(
                lang,
                "目前只有本次扫描的数据，下次扫描后即可看到趋势。",
                "Only this run so far: the trend appears after the next run."
            )
        );
    }
    h.push_str("</div>\n");
}

/// The context with the address as written marked, escaped.
fn evidence(f: &Finding, lang: Lang) -> String {
    let context = clip(&f.context, 300);
    let shown = match (f.raw.is_empty(), context.find(&f.raw)) {
        (false, Some(at)) => format!(
            "{}<mark>{}</mark>{}",
            escape(&context[..at]),
            escape(&f.raw),
            escape(&context[at + f.raw.len()..])
        ),
        _ => format!("<mark>{}</mark> {}", escape(&f.raw), escape(&context)),
    };
    match (f.source, &f.evidence) {
        (Source::Served, None) => shown,
        (source, evidence) => format!(
            "{shown}<br><span class=\"src\">{}{}</span>",
            source_name(source, lang),
            evidence
                .as_deref()
                .map(|e| format!(": {}", escape(e)))
                .unwrap_or_default()
        ),
    }
}

fn drill_down(
    h: &mut Out<'_>,
    run: &ScanRun,
    findings: &dyn FindingSource,
    rows: &[Row<'_>],
    lang: Lang,
) -> Result<(), ReportError> {
    let today = run.started.date_naive();
    let _ = writeln!(
        h,
        "<h2 id=\"findings\">{}</h2>",
        tr(lang, "各部门明细", "Findings per department")
    );
    for (i, r) in rows.iter().enumerate() {
        let s = &r.stats;
        let mine = super::department_findings(findings, r.dept)?;
        let mut list: Vec<&Finding> = mine.current.iter().chain(&mine.resolved).collect();
        // Worst first; resolved last.
        list.sort_by(|a, b| {
            (a.status == Status::Resolved)
                .cmp(&(b.status == Status::Resolved))
                .then(b.severity.cmp(&a.severity))
                .then(a.email.cmp(&b.email))
        });
        let _ = writeln!(
            h,
            "<details id=\"dept-{i}\"{}><summary>{}<span class=\"c\">{} {} · {} {} · {} {} · {} {}</span></summary>",
            // The worst department is open: that is where the office looks first.
            if i == 0 && s.violations > 0 {
                " open"
            } else {
                ""
            },
            escape(&r.dept.name),
            tr(lang, "违规", "violations"),
            s.violations,
            tr(lang, "待核查", "reviews"),
            s.reviews,
            tr(lang, "新发现", "new"),
            s.new,
            tr(lang, "已整改", "resolved"),
            s.resolved,
        );
        if list.is_empty() {
            let _ = writeln!(
                h,
                "<p class=\"muted\">{} {}</p></details>",
                tr(
                    lang,
                    "未发现邮箱地址；已扫描页面：",
                    "No addresses found; pages scanned:"
                ),
                s.pages_scanned
            );
            continue;
        }
        h.push_str("<table><thead><tr>");
        for head in [
            tr(lang, "严重程度", "severity"),
            tr(lang, "状态", "status"),
            tr(lang, "邮箱地址", "address"),
            tr(lang, "类别", "class"),
            tr(lang, "页面", "page"),
            tr(lang, "文档内位置", "location"),
            tr(lang, "写法", "form"),
            tr(lang, "原文与上下文", "evidence"),
            tr(lang, "首次发现", "first seen"),
            tr(lang, "周数", "weeks"),
        ] {
            let _ = write!(h, "<th>{head}</th>");
        }
        h.push_str("</tr></thead><tbody>\n");
        for f in list {
            let title = f.page_title.as_deref().filter(|t| !t.trim().is_empty());
            let page = match title {
                Some(t) => format!(
                    "{}<br><span class=\"url\">{}</span>",
                    link(f.page.as_str(), &clip(t, 60)),
                    escape(f.page.as_str())
                ),
                None => link(f.page.as_str(), f.page.as_str()),
            };
            let _ = writeln!(
                h,
                "<tr><td class=\"nw sev-{}\">{}</td><td class=\"nw\">{}</td><td class=\"ev\">{}</td><td class=\"nw\">{}</td>\
                 <td>{page}</td><td>{}</td><td>{}</td><td class=\"ev\">{}</td><td class=\"nw\">{}</td><td class=\"n\">{}</td></tr>",
                f.severity.as_str(),
                severity_name(f.severity, lang),
                status_name(f, lang),
                escape(&f.email.to_string()),
                class_name(f.class, lang),
                escape(f.location.as_deref().unwrap_or("")),
                f.form.as_str(),
                evidence(f, lang),
                f.first_seen,
                weeks(today, f.first_seen),
            );
        }
        h.push_str("</tbody></table></details>\n");
    }
    Ok(())
}

/// At most this many rows of unread URLs in the page; `errors.csv` has them all.
const MAX_PROBLEM_ROWS: usize = 2000;

fn problems(h: &mut Out<'_>, run: &ScanRun, lang: Lang) {
    let _ = writeln!(
        h,
        "<h2 id=\"problems\">{}</h2>",
        tr(
            lang,
            "未能读取的页面和文档",
            "Pages and documents that could not be read"
        )
    );
    if run.problems.is_empty() {
        let _ = writeln!(h, "<p class=\"muted\">{}</p>", tr(lang, "无。", "None."));
        return;
    }
    // Counts per kind and code first: the office reads the totals, not a thousand rows.
    let mut by_code: BTreeMap<(ProblemKind, &str), u32> = BTreeMap::new();
    for p in &run.problems {
        *by_code.entry((p.kind, p.code.as_str())).or_insert(0) += 1;
    }
    let kind_name = |k| match k {
        ProblemKind::Skipped => tr(lang, "跳过", "skipped"),
        ProblemKind::Failed => tr(lang, "失败", "failed"),
    };
    let _ = write!(
        h,
        "<table id=\"problem-codes\" style=\"width:auto\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        tr(lang, "类型", "kind"),
        tr(lang, "代码", "code"),
        tr(lang, "数量", "count")
    );
    for ((kind, code), n) in &by_code {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{n}</td></tr>",
            kind_name(*kind),
            escape(code)
        );
    }
    h.push_str("</tbody></table>\n");
    let dept_name = |id| {
        run.departments
            .iter()
            .find(|d| &d.id == id)
            .map_or_else(|| escape(&format!("{id}")), |d| escape(&d.name))
    };
    let _ = writeln!(
        h,
        "<details id=\"problem-list\"><summary>{} ({})</summary>\
         <table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        tr(lang, "全部列表", "Full list"),
        run.problems.len(),
        tr(lang, "部门", "department"),
        tr(lang, "网址", "URL"),
        tr(lang, "来源页面", "found on"),
        tr(lang, "类型", "kind"),
        tr(lang, "代码", "code"),
        tr(lang, "说明", "detail"),
    );
    for p in run.problems.iter().take(MAX_PROBLEM_ROWS) {
        let found_on = p
            .found_on
            .as_ref()
            .map_or(String::new(), |u| link(u.as_str(), u.as_str()));
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"url\">{}</td><td class=\"url\">{found_on}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            dept_name(&p.department),
            link(p.url.as_str(), p.url.as_str()),
            kind_name(p.kind),
            escape(&p.code),
            escape(&p.detail),
        );
    }
    h.push_str("</tbody></table>");
    if run.problems.len() > MAX_PROBLEM_ROWS {
        let _ = write!(
            h,
            "<p class=\"muted\">{} {} {}</p>",
            tr(lang, "另有", "and"),
            run.problems.len() - MAX_PROBLEM_ROWS,
            tr(lang, "条，见 errors.csv。", "more in errors.csv.")
        );
    }
    h.push_str("</details>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            escape("\"><img src=x onerror='a'>&"),
            "&quot;&gt;&lt;img src=x onerror=&#39;a&#39;&gt;&amp;"
        );
        assert_eq!(escape("通知 a@qq.com"), "通知 a@qq.com");
        assert_eq!(escape("a\u{0}b\nc"), "a\u{fffd}b\nc");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn only_web_and_file_urls_become_links() {
        assert_eq!(
            safe_href("https://x.edu.cn/a?b=1&c=\"2\"").as_deref(),
            Some("https://x.edu.cn/a?b=1&amp;c=%222%22")
        );
        assert!(safe_href("file:///tmp/a.pdf").is_some());
        for bad in [
            "javascript:alert(1)",
            " JavaScript:alert(1)",
            "data:text/html,<script>",
            "vbscript:x",
            "not a url",
        ] {
            assert_eq!(safe_href(bad), None, "{bad}");
        }
        assert_eq!(
            link("javascript:alert(1)", "javascript:alert(1)"),
            "<span class=\"nolink\">javascript:alert(1)</span>"
        );
    }

    #[test]
    fn base64_matches_known_values() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }

    #[test]
    fn nice_ceiling_rounds_up() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(250), 500);
        assert_eq!(nice_ceiling(u32::MAX), u32::MAX);
    }

    #[test]
    fn clip_counts_characters() {
        assert_eq!(clip("计算机学院", 10), "计算机学院");
        assert_eq!(clip("计算机科学与技术学院", 4), "计算机…");
    }
}
