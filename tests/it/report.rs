//! The inspection office's reports: `summary.html` (escaping of hostile page text, charts,
//! tables, the trend with 0, 1 or many points; rendered in headless Chromium when it is
//! installed) and the Excel workbooks (read back with calamine).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use calamine::{Data, Reader, Xlsx, open_workbook};
use chrono::{Local, NaiveDate, TimeZone};
use mailpatrol::classify::Classifier;
use mailpatrol::model::{
    Class, Department, DepartmentId, Email, Finding, Form, LoadedFindings, Page, Problem,
    ProblemKind, RunCounters, ScanRun, Severity, Status,
};
use mailpatrol::report::html::{escape, summary_html};
use mailpatrol::report::xlsx::write_department_workbook;
use mailpatrol::report::{Lang, TrendPoint, write_extra};
use mailpatrol::scan::ScanOptions;
use mailpatrol::store::Store;
use url::Url;

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";
const FORMULA: &str = "=HYPERLINK(\"http://evil.example/\",\"点此\")";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[allow(clippy::too_many_arguments, reason = "a fixture row")]
fn finding(
    dept: &str,
    email: &str,
    class: Class,
    severity: Severity,
    status: Status,
    page: &str,
    title: Option<&str>,
    raw: &str,
    context: &str,
    first_seen: NaiveDate,
) -> Finding {
    Finding {
        fingerprint: format!("{dept}|{email}|{page}"),
        status,
        verified: true,
        first_seen,
        last_seen: day(2026, 11, 23),
        department: DepartmentId(dept.to_string()),
        email: Email::parse(email).unwrap(),
        class,
        severity,
        rule: format!("{}:{}", class.as_str(), email.rsplit('@').next().unwrap()),
        page: Url::parse(page).unwrap(),
        page_title: title.map(str::to_string),
        form: Form::Plain,
        raw: raw.to_string(),
        context: context.to_string(),
        occurrences: 1,
        location: None,
        linked_from: None,
        source: mailpatrol::model::Source::Served,
        evidence: None,
    }
}

/// A run with three departments, one of them discovered from a hostile page title.
fn hostile_run() -> (ScanRun, LoadedFindings) {
    let dept = |id: &str, name: &str, configured| Department {
        id: DepartmentId(id.to_string()),
        name: name.to_string(),
        configured,
    };
    let page = |url: &str, title: &str, d: &str| Page {
        url: Url::parse(url).unwrap(),
        title: Some(title.to_string()),
        department: DepartmentId(d.to_string()),
        depth: 1,
    };
    let started = Local
        .with_ymd_and_hms(2026, 11, 23, 2, 0, 0)
        .single()
        .unwrap();
    let mut resolved = finding(
        "cs",
        "old@163.com",
        Class::FreeWebmail,
        Severity::Violation,
        Status::Resolved,
        "https://cs.ustl.edu.cn/old.html",
        Some("旧通知"),
        "old@163.com",
        "联系 old@163.com",
        day(2026, 10, 1),
    );
    resolved.last_seen = day(2026, 11, 16);
    let departments = vec![
        dept("office", "校长办公室", true),
        dept("cs", "计算机学院", true),
        dept("evil.ustl.edu.cn", SCRIPT, false),
    ];
    let pages = vec![
        page("https://www.ustl.edu.cn/", "首页", "office"),
        page("https://cs.ustl.edu.cn/", "计算机学院", "cs"),
        page("https://cs.ustl.edu.cn/contact.html", "联系我们", "cs"),
        page("https://evil.ustl.edu.cn/", SCRIPT, "evil.ustl.edu.cn"),
    ];
    let problems = vec![
        Problem {
            url: Url::parse("https://cs.ustl.edu.cn/files/a.pdf").unwrap(),
            found_on: Some(Url::parse("https://cs.ustl.edu.cn/").unwrap()),
            department: DepartmentId("cs".to_string()),
            kind: ProblemKind::Failed,
            code: "encrypted".to_string(),
            detail: format!("文档已加密 {IMG}"),
        },
        Problem {
            url: Url::parse("javascript:alert(2)").unwrap(),
            found_on: None,
            department: DepartmentId("evil.ustl.edu.cn".to_string()),
            kind: ProblemKind::Skipped,
            code: "not-a-page".to_string(),
            detail: SCRIPT.to_string(),
        },
    ];
    let current = vec![
        finding(
            "cs",
            "zhang@qq.com",
            Class::FreeWebmail,
            Severity::Violation,
            Status::StillPresent,
            "https://cs.ustl.edu.cn/contact.html",
            Some("联系我们"),
            "zhang#qq.com",
            "办公室邮箱：zhang#qq.com（请将#换成@）",
            day(2026, 9, 7),
        ),
        finding(
            "cs",
            "li@ustl.edu.cn",
            Class::Institutional,
            Severity::Ok,
            Status::New,
            "https://cs.ustl.edu.cn/",
            Some("计算机学院"),
            "li@ustl.edu.cn",
            FORMULA,
            day(2026, 11, 23),
        ),
        finding(
            "evil.ustl.edu.cn",
            "x@gmail.com",
            Class::FreeWebmail,
            Severity::Violation,
            Status::New,
            "javascript:alert(1)",
            Some(SCRIPT),
            IMG,
            &format!("{SCRIPT} {IMG} x@gmail.com"),
            day(2026, 11, 23),
        ),
        finding(
            "evil.ustl.edu.cn",
            "y@gmail.com",
            Class::FreeWebmail,
            Severity::Violation,
            Status::New,
            "https://evil.ustl.edu.cn/a?q=\"><img src=x onerror=alert(1)>",
            Some(IMG),
            "y@gmail.com",
            "y@gmail.com",
            day(2026, 11, 23),
        ),
        finding(
            "evil.ustl.edu.cn",
            "z@partner.com",
            Class::External,
            Severity::Review,
            Status::New,
            "https://evil.ustl.edu.cn/",
            None,
            "z@partner.com",
            "z@partner.com",
            day(2026, 11, 23),
        ),
    ];
    let mut findings = LoadedFindings {
        current,
        resolved: vec![resolved],
    };
    findings.sort();
    let run = ScanRun {
        id: 7,
        previous: Some(6),
        counters: RunCounters::default(),
        profile: "辽宁科技学院".to_string(),
        started,
        finished: started + chrono::Duration::minutes(12),
        complete: true,
        stats: findings.stats(&departments, &pages, &problems),
        addresses: findings.addresses(),
        departments,
        pages,
        problems,
    };
    (run, findings)
}

fn history() -> Vec<TrendPoint> {
    (1..=6)
        .map(|i| TrendPoint {
            run: i64::from(i),
            day: day(2026, 10, 5) + chrono::Duration::weeks(i64::from(i) - 1),
            violations: 10 - i,
            open: 14 - i,
        })
        .collect()
}

fn assert_no_live_markup(html: &str) {
    assert!(!html.contains("<img"), "an <img> element got through");
    assert!(!html.contains("<script>alert"), "a script got through");
    assert!(!html.to_lowercase().contains("href=\"javascript:"));
    assert!(
        !html.contains("onerror=alert(1)>"),
        "an unescaped attribute"
    );
    assert_eq!(html.matches("<script").count(), 1, "only our own script");
}

#[test]
fn html_escapes_hostile_text_and_has_tables_and_charts() {
    let (run, found) = hostile_run();
    let dir = tempfile::tempdir().unwrap();
    let files = write_extra(&run, &found, dir.path(), Lang::Zh, &history(), false, false).unwrap();
    assert_eq!(files, vec![PathBuf::from("summary.html")]);
    let html = std::fs::read_to_string(dir.path().join("summary.html")).unwrap();

    assert_no_live_markup(&html);
    // The hostile text is there, as text.
    assert!(html.contains(&escape(SCRIPT)));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains(&format!(
        "<span class=\"nolink\">{} (javascript:alert(1))</span>",
        escape(SCRIPT)
    )));
    assert!(html.contains("<span class=\"nolink\">javascript:alert(2)</span>"));
    // Safe links are links.
    assert!(html.contains("<a href=\"https://cs.ustl.edu.cn/contact.html\""));
    // Self-contained: nothing is loaded from anywhere.
    for external in ["<link", "src=\"http", "@import", "url(http"] {
        assert!(!html.contains(external), "{external}");
    }
    assert!(html.contains("Content-Security-Policy"));

    // Headline, table, charts, drill-down, problems.
    assert!(html.contains("<html lang=\"zh-CN\">"));
    assert!(html.contains("已扫描页面"));
    assert!(html.contains("id=\"dept-table\""));
    assert!(html.contains("id=\"class-chart\""));
    assert!(html.contains("id=\"trend-chart\""));
    assert!(html.contains("<polyline class=\"violations\""));
    assert_eq!(html.matches("<details id=\"dept-").count(), 3);
    assert!(html.contains("id=\"problem-list\""));
    assert!(html.contains("文档已加密"));
    assert!(html.contains("<mark>zhang#qq.com</mark>"));
    // Default order: violations descending (the hostile department has 2, 计算机学院 1,
    // 校长办公室 0).
    let table = &html[html.find("id=\"dept-table\"").unwrap()..];
    let evil = table.find(&escape(SCRIPT)).unwrap();
    let cs = table.find("计算机学院").unwrap();
    let office = table.find("校长办公室").unwrap();
    assert!(evil < cs && cs < office, "rows sorted by violations");
    // Oldest open violation: first seen 2026-09-07, run on 2026-11-23 = 11 weeks.
    assert!(table.contains("data-v=\"11\">11</td>"));
}

#[test]
fn html_in_english() {
    let (run, found) = hostile_run();
    let html = summary_html(&run, &found, Lang::En, &[]).unwrap();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("Departments (click a header to sort)"));
    assert!(html.contains("pages scanned"));
    assert!(!html.contains("各部门"));
    assert_no_live_markup(&html);
}

#[test]
fn trend_renders_with_zero_one_or_many_points() {
    let (run, found) = hostile_run();
    // No history: the current run is the only point; a dot, no line, and a note.
    let none = summary_html(&run, &found, Lang::Zh, &[]).unwrap();
    assert!(none.contains("id=\"trend-chart\""));
    assert!(!none.contains("<polyline"));
    assert!(none.contains("<circle"));
    assert!(none.contains("下次扫描后即可看到趋势"));
    // History that already holds the current run: not counted twice.
    let me = TrendPoint {
        run: 7,
        day: day(2026, 11, 23),
        violations: 3,
        open: 4,
    };
    let one = summary_html(&run, &found, Lang::Zh, &[me]).unwrap();
    assert_eq!(one.matches("<circle").count(), 2, "one point per series");
    // Many points, also all zero (no division by zero, no NaN).
    let zeros: Vec<TrendPoint> = (1..=40)
        .map(|i| TrendPoint {
            run: i,
            day: day(2026, 1, 5) + chrono::Duration::weeks(i),
            violations: 0,
            open: 0,
        })
        .collect();
    let many = summary_html(&run, &found, Lang::Zh, &zeros).unwrap();
    assert_eq!(many.matches("<polyline").count(), 2);
    assert!(!many.contains("NaN") && !many.contains("inf"));
}

fn read_sheet(path: &Path, sheet: &str) -> Vec<Vec<Data>> {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let range = wb.worksheet_range(sheet).unwrap();
    let formulas = wb.worksheet_formula(sheet).unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "no formulas in {sheet}"
    );
    range.rows().map(<[Data]>::to_vec).collect()
}

fn sheet_names(path: &Path) -> Vec<String> {
    let wb: Xlsx<_> = open_workbook(path).unwrap();
    wb.sheet_names()
}

/// The hyperlink targets in the workbook's relationship parts.
fn link_targets(path: &Path) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut all = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        if f.name().unwrap().contains("worksheets/_rels/") {
            f.read_to_string(&mut all).unwrap();
        }
    }
    all
}

#[test]
fn xlsx_workbooks_read_back() {
    let (run, found) = hostile_run();
    let dir = tempfile::tempdir().unwrap();
    let files = write_extra(&run, &found, dir.path(), Lang::Zh, &[], true, true).unwrap();
    assert_eq!(
        files,
        vec![
            PathBuf::from("summary.html"),
            PathBuf::from("summary.xlsx"),
            PathBuf::from("departments/office.xlsx"),
            PathBuf::from("departments/cs.xlsx"),
            PathBuf::from("departments/evil.ustl.edu.cn.xlsx"),
        ]
    );
    let book = dir.path().join("summary.xlsx");
    let names = sheet_names(&book);
    assert_eq!(
        names,
        [
            "汇总",
            "校长办公室",
            "计算机学院",
            "<script>alert(1)<_script>",
            "未能读取"
        ]
    );

    let summary = read_sheet(&book, "汇总");
    assert_eq!(summary[0][0], Data::String("部门".into()));
    assert_eq!(summary[0][6], Data::String("违规".into()));
    let cs = summary
        .iter()
        .find(|r| r[0] == Data::String("计算机学院".into()))
        .unwrap();
    assert_eq!(cs[6], Data::Float(1.0), "violations are numbers");
    assert_eq!(cs[11], Data::Float(1.0), "one resolved");
    assert_eq!(cs[13], Data::Float(11.0), "oldest violation, weeks");
    let total = summary.last().unwrap();
    assert_eq!(total[0], Data::String("合计".into()));
    assert_eq!(total[6], Data::Float(3.0));

    let sheet = read_sheet(&book, "计算机学院");
    assert_eq!(sheet[0][1], Data::String("邮箱地址".into()));
    assert_eq!(sheet.len(), 4, "header, two findings, one resolved");
    let formula_row = sheet
        .iter()
        .find(|r| r[1] == Data::String("li@ustl.edu.cn".into()))
        .unwrap();
    assert_eq!(
        formula_row[11],
        Data::String(FORMULA.into()),
        "kept as text"
    );
    assert!(
        sheet
            .iter()
            .any(|r| r[11] == Data::String("办公室邮箱：zhang#qq.com（请将#换成@）".into()))
    );
    assert!(sheet.iter().any(|r| r[13] == Data::String("已整改".into())));

    let evil = read_sheet(&book, "<script>alert(1)<_script>");
    assert!(
        evil.iter()
            .any(|r| r[5] == Data::String("javascript:alert(1)".into()))
    );
    let links = link_targets(&book);
    assert!(links.contains("https://cs.ustl.edu.cn/contact.html"));
    assert!(!links.contains("javascript:"), "no javascript: hyperlink");

    let problems = read_sheet(&book, "未能读取");
    assert_eq!(problems.len(), 3);

    // A department's own workbook: its findings and its unread URLs only.
    let cs_book = dir.path().join("departments/cs.xlsx");
    assert_eq!(sheet_names(&cs_book), ["计算机学院", "未能读取"]);
    assert_eq!(read_sheet(&cs_book, "计算机学院").len(), 4);
    assert_eq!(read_sheet(&cs_book, "未能读取").len(), 2);

    // English headers, and an unknown department is an error, not an empty file.
    let en = dir.path().join("en.xlsx");
    write_department_workbook(&run, &found, &DepartmentId("cs".into()), &en, Lang::En).unwrap();
    assert_eq!(
        read_sheet(&en, "计算机学院")[0][1],
        Data::String("address".into())
    );
    let missing = dir.path().join("missing.xlsx");
    assert!(
        write_department_workbook(
            &run,
            &found,
            &DepartmentId("nope".into()),
            &missing,
            Lang::Zh
        )
        .is_err()
    );
    assert!(!missing.exists());

    // The same run gives the same bytes.
    let again = tempfile::tempdir().unwrap();
    write_extra(&run, &found, again.path(), Lang::Zh, &[], true, true).unwrap();
    for f in &files {
        assert_eq!(
            std::fs::read(dir.path().join(f)).unwrap(),
            std::fs::read(again.path().join(f)).unwrap(),
            "{}",
            f.display()
        );
    }
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// The DOM of `file` after Chromium loaded it (scripts run), or `None` when Chromium is
/// not installed.
fn chromium_dom(file: &Path) -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("SKIPPED: {CHROMIUM} is not installed (apt-get install chromium)");
        return None;
    }
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

fn assert_dom(dom: &str) {
    assert!(dom.contains("<svg id=\"class-chart\""), "class chart");
    assert!(dom.contains("<svg id=\"trend-chart\""), "trend chart");
    assert!(dom.contains("<table class=\"sortable\" id=\"dept-table\""));
    assert!(!dom.contains("<img"), "an <img> element was created");
    assert_eq!(dom.matches("<script").count(), 1, "only our own script");
}

#[test]
fn hostile_summary_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let (run, found) = hostile_run();
    write_extra(&run, &found, dir.path(), Lang::Zh, &history(), false, false).unwrap();
    let Some(dom) = chromium_dom(&dir.path().join("summary.html")) else {
        return;
    };
    assert_dom(&dom);
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

/// Scans the bundled demo university and renders its summary in Chromium. Set
/// `MAILPATROL_SUMMARY_OUT=DIR` to keep the reports (for the screenshot in `docs/`).
#[tokio::test(flavor = "multi_thread")]
async fn demo_summary_in_chromium() {
    let profile = mailpatrol::demo::profile().unwrap();
    let server = mailpatrol::demo::serve().await.unwrap();
    let state = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&state.path().join("state.sqlite")).unwrap());
    let classifier = Classifier::from_profile(&profile, Local::now().date_naive()).unwrap();
    let options = ScanOptions {
        resolve: crate::support::resolve(&server),
        progress: None,
        resume: false,
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let result = mailpatrol::scan::scan(&profile, classifier, Arc::clone(&store), options, rx)
        .await
        .unwrap();
    let run = result.run;
    let found = store.findings_of(&run);
    // Earlier weeks for the trend (the store provides them in the CLI).
    let today = run.started.date_naive();
    let past: Vec<TrendPoint> = [9u32, 9, 8, 6, 7]
        .into_iter()
        .zip(1i64..)
        .map(|(v, i)| TrendPoint {
            run: run.id - 10 + i,
            day: today - chrono::Duration::weeks(6 - i),
            violations: v,
            open: v + 3,
        })
        .collect();
    let out = std::env::var_os("MAILPATROL_SUMMARY_OUT").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = out.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let files = write_extra(&run, &found, &dir, Lang::Zh, &past, true, true).unwrap();
    assert!(files.len() >= 2 + run.departments.len());
    let html = std::fs::read_to_string(dir.join("summary.html")).unwrap();
    assert_no_live_markup(&html);
    assert!(html.contains("<polyline"));
    let Some(dom) = chromium_dom(&dir.join("summary.html")) else {
        return;
    };
    assert_dom(&dom);
}

/// Converts a file with LibreOffice headless (`soffice`), as a department would open it;
/// `None` (with a note) when LibreOffice is not installed.
fn libreoffice_csv(input: &Path, infilter: Option<&str>, outdir: &Path) -> Option<String> {
    if Command::new("soffice").arg("--version").output().is_err() {
        eprintln!("note: soffice (LibreOffice) not installed; spreadsheet round trip skipped");
        return None;
    }
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("soffice");
    cmd.arg(format!(
        "-env:UserInstallation=file://{}",
        profile.path().display()
    ))
    .args([
        "--headless",
        "--convert-to",
        "csv:Text - txt - csv (StarCalc):44,34,76,1",
    ]);
    if let Some(f) = infilter {
        cmd.arg(format!("--infilter={f}"));
    }
    let status = cmd.arg("--outdir").arg(outdir).arg(input).output().unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let stem = input.file_stem().unwrap().to_string_lossy().into_owned();
    Some(std::fs::read_to_string(outdir.join(format!("{stem}.csv"))).unwrap())
}

/// The CSV and the workbook, opened by a real spreadsheet program, give back the Chinese
/// text, the numbers, and the formula-looking evidence as inert text. See: #6
#[test]
fn a_spreadsheet_program_reads_the_reports_back() {
    let (run, found) = hostile_run();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    mailpatrol::report::write_all(&run, &found, &dir, Lang::Zh).unwrap();
    write_extra(&run, &found, &dir, Lang::Zh, &history(), true, false).unwrap();
    let out = tmp.path().join("lo");
    std::fs::create_dir_all(&out).unwrap();

    // Department CSV, imported as UTF-8 (what Excel and WPS do on seeing the BOM).
    let csv_in = dir.join("departments/cs.csv");
    std::fs::copy(&csv_in, tmp.path().join("dept.csv")).unwrap();
    let Some(back) = libreoffice_csv(&tmp.path().join("dept.csv"), Some("CSV:44,34,76,1"), &out)
    else {
        return;
    };
    assert!(back.contains("计算机学院"), "{back}");
    assert!(back.contains("li@ustl.edu.cn"), "{back}");
    assert!(
        back.contains(&format!("'{FORMULA}").replace('"', "\"\"")),
        "formula stays text:\n{back}"
    );

    // The workbook's first sheet (the summary): Chinese headers and plain numbers.
    let Some(summary) = libreoffice_csv(&dir.join("summary.xlsx"), None, &out) else {
        return;
    };
    let mut lines = summary.lines();
    // LibreOffice quotes text cells and leaves numbers bare.
    assert!(
        lines.next().is_some_and(|h| h.starts_with("\"部门\",")),
        "{summary}"
    );
    assert!(
        summary
            .lines()
            .any(|l| l.starts_with("\"计算机学院\",") && l.split(',').nth(6) == Some("1")),
        "{summary}"
    );
}
