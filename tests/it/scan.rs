//! The library pipeline against the fixture site (tests/fixtures/site/EXPECTED.md).

use std::collections::BTreeSet;

use std::sync::Arc;

use mailpatrol::model::{LoadedFindings, ProblemKind};
use mailpatrol::report::{self, Lang};
use mailpatrol::store::Store;

use crate::support;

async fn run_fixture() -> (
    support::Scanned,
    mailpatrol::crawl::CrawlOutcome,
    mailpatrol::site::SiteServer,
) {
    let server = support::server().await;
    let state = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&state.path().join("state.sqlite")).unwrap());
    let result = support::scan(&server, &store, false).await;
    let outcome = result.outcome;
    (result, outcome, server)
}

const WWW: &str = "http://www.fixture-univ.edu.cn";
const A: &str = "http://dept-a.fixture-univ.edu.cn";
const B: &str = "http://dept-b.fixture-univ.edu.cn";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_finds_exactly_the_published_addresses() {
    let (run, outcome, server) = run_fixture().await;
    let got: BTreeSet<(String, &str, String, String, &str)> = run
        .findings
        .iter()
        .map(|f| {
            (
                f.email.to_string(),
                f.class.as_str(),
                f.department.0.clone(),
                f.page.to_string(),
                f.form.as_str(),
            )
        })
        .collect();
    let row = |a: &str, class: &'static str, dept: &str, page: String, form: &'static str| {
        (a.to_string(), class, dept.to_string(), page, form)
    };
    let want: BTreeSet<_> = [
        row(
            "admin@fixture-univ.edu.cn",
            "institutional",
            "党政办公室",
            format!("{WWW}/"),
            "plain",
        ),
        row(
            "partner@allowed-partner.com",
            "allowed",
            "党政办公室",
            format!("{WWW}/news.html"),
            "plain",
        ),
        row(
            "editor@expired-partner.com",
            "external",
            "党政办公室",
            format!("{WWW}/news.html"),
            "plain",
        ),
        row(
            "sitemap-only@fixture-univ.edu.cn",
            "institutional",
            "党政办公室",
            format!("{WWW}/unlinked.html"),
            "plain",
        ),
        row(
            "flaky_page@163.com",
            "free_webmail",
            "党政办公室",
            format!("{WWW}/flaky.html"),
            "plain",
        ),
        row(
            "retired@old-fixture.edu.cn",
            "legacy",
            "党政办公室",
            format!("{WWW}/busy.html"),
            "plain",
        ),
        row(
            "caiwu@fixture-univ.edu.cn",
            "institutional",
            "财务处",
            format!("{WWW}/office/"),
            "mailto",
        ),
        row(
            "xxx@xxx.com",
            "placeholder",
            "财务处",
            format!("{WWW}/office/"),
            "plain",
        ),
        row(
            "caiwu_fees@126.com",
            "free_webmail",
            "财务处",
            format!("{WWW}/office/fees.html"),
            "plain",
        ),
        row(
            "jia@fixture-univ.edu.cn",
            "institutional",
            "甲学院",
            format!("{A}/"),
            "plain",
        ),
        row(
            "wang@fixture-univ.edu.cn",
            "institutional",
            "甲学院",
            format!("{A}/gbk.html"),
            "full_width",
        ),
        row(
            "zhao@fixture-univ.edu.cn",
            "institutional",
            "甲学院",
            format!("{A}/gbk.html"),
            "hash_for_at",
        ),
        row(
            "jia_teacher@qq.com",
            "free_webmail",
            "甲学院",
            format!("{A}/gbk.html"),
            "plain",
        ),
        row(
            "2020123@stu.fixture-univ.edu.cn",
            "student",
            "dept-b.fixture-univ.edu.cn",
            format!("{B}/"),
            "plain",
        ),
        row(
            "contact@some-company.com.cn",
            "external",
            "dept-b.fixture-univ.edu.cn",
            format!("{B}/"),
            "plain",
        ),
    ]
    .into_iter()
    .collect();
    // A document linked by two departments is reported for both. See: #4
    let shared = format!("{WWW}/files/shared.docx");
    let mut want = want;
    for dept in ["党政办公室", "甲学院"] {
        want.insert(row(
            "zhang@ustl.edu.cn",
            "external",
            dept,
            shared.clone(),
            "plain",
        ));
        want.insert(row(
            "12345678@qq.com",
            "free_webmail",
            dept,
            shared.clone(),
            "plain",
        ));
        want.insert(row(
            "li@ustl.edu.cn",
            "external",
            dept,
            shared.clone(),
            "hash_for_at",
        ));
    }
    assert_eq!(got, want);
    assert_eq!(
        server.hits("www.fixture-univ.edu.cn", "/files/shared.docx"),
        1,
        "downloaded once"
    );
    let linked: BTreeSet<(String, Option<String>)> = run
        .findings
        .iter()
        .filter(|f| f.page.as_str() == shared)
        .map(|f| {
            (
                f.department.0.clone(),
                f.linked_from.as_ref().map(ToString::to_string),
            )
        })
        .collect();
    assert_eq!(
        linked,
        BTreeSet::from([
            ("党政办公室".to_string(), Some(format!("{WWW}/"))),
            ("甲学院".to_string(), Some(format!("{A}/"))),
        ])
    );
    assert!(outcome.complete, "{outcome:?}");

    // Robots.txt of each host is its own: www's disallows /private/, dept-b's /hidden/.
    assert_eq!(server.hits("www.fixture-univ.edu.cn", "/private/p.html"), 0);
    assert_eq!(
        server.hits("dept-b.fixture-univ.edu.cn", "/hidden/x.html"),
        0
    );
    assert_eq!(server.hits("evil.example.org", "/"), 0);
    assert_eq!(server.hits("evil.example.org", "/landing"), 0);
    // The 500 and the 429 were retried once each; the 404 was not retried.
    assert_eq!(server.hits("www.fixture-univ.edu.cn", "/flaky.html"), 2);
    assert_eq!(server.hits("www.fixture-univ.edu.cn", "/busy.html"), 2);
    assert_eq!(server.hits("www.fixture-univ.edu.cn", "/missing.html"), 1);
    // Each page was fetched once.
    assert_eq!(server.hits("www.fixture-univ.edu.cn", "/news.html"), 1);

    let problem = |url: &str| {
        run.problems
            .iter()
            .find(|p| p.url.as_str() == url)
            .map(|p| (p.kind, p.code.as_str()))
    };
    assert_eq!(
        problem(&format!("{WWW}/private/p.html")),
        Some((ProblemKind::Skipped, "robots-disallowed"))
    );
    assert_eq!(
        problem(&format!("{B}/hidden/x.html")),
        Some((ProblemKind::Skipped, "robots-disallowed"))
    );
    assert_eq!(
        problem(&format!("{WWW}/missing.html")),
        Some((ProblemKind::Failed, "http-404"))
    );
    assert_eq!(
        problem(&format!("{WWW}/go-away")),
        Some((ProblemKind::Skipped, "redirect-out-of-scope"))
    );
    assert_eq!(
        problem(&format!("{WWW}/files/report.pdf")),
        Some((ProblemKind::Failed, "corrupt"))
    );
    assert_eq!(problem(&format!("{WWW}/flaky.html")), None);
    assert_eq!(problem(&format!("{WWW}/busy.html")), None);
    assert!(
        run.problems
            .iter()
            .all(|p| p.url.host_str() != Some("evil.example.org"))
    );

    // The endless calendar is cut off by the depth limit: each level adds one month in
    // each direction, so at most two pages per level are read, and the cut is recorded.
    let max_depth = usize::from(support::profile().crawl.max_depth);
    let calendar_pages = run
        .pages
        .iter()
        .filter(|p| p.url.path() == "/calendar/")
        .count();
    assert!(
        calendar_pages <= 2 * max_depth + 1,
        "{calendar_pages} calendar pages"
    );
    assert!(
        run.problems
            .iter()
            .any(|p| p.url.path() == "/calendar/" && p.code == "depth-limit")
    );
    let other_pages: BTreeSet<String> = run
        .pages
        .iter()
        .filter(|p| p.url.path() != "/calendar/")
        .map(|p| p.url.to_string())
        .collect();
    // 10 pages, the shared DOCX, and the PDF attachment that was fetched and found corrupt.
    assert_eq!(other_pages.len(), 12, "{other_pages:#?}");

    // Discovered department named from its home page title.
    let b = run
        .departments
        .iter()
        .find(|d| d.id.0 == "dept-b.fixture-univ.edu.cn")
        .unwrap();
    assert_eq!((b.name.as_str(), b.configured), ("乙学院", false));
    // GBK page with a lying header still yields its Chinese title.
    let gbk = run
        .pages
        .iter()
        .find(|p| p.url.as_str() == format!("{A}/gbk.html"))
        .unwrap();
    assert!(
        gbk.title.as_deref().is_some_and(|t| t.contains("甲学院")),
        "{:?}",
        gbk.title
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_complete_and_safe_to_open() {
    let (scanned, _, _server) = run_fixture().await;
    let found = LoadedFindings {
        current: scanned.findings.clone(),
        resolved: scanned.resolved.clone(),
    };
    let run = scanned.run;
    let tmp = tempfile::tempdir().unwrap();
    let dir = report::run_dir(tmp.path(), &run);
    let written = report::write_all(&run, &found, &dir, Lang::Zh).unwrap();
    assert!(written.dir.starts_with(tmp.path()));

    // Every department gets a CSV, even one without findings; each starts with a BOM.
    let mut names: Vec<String> = std::fs::read_dir(dir.join("departments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "dept-b.fixture-univ.edu.cn.csv",
            "党政办公室.csv",
            "甲学院.csv",
            "财务处.csv"
        ]
    );
    let jia = std::fs::read_to_string(dir.join("departments/甲学院.csv")).unwrap();
    assert!(jia.starts_with('\u{feff}'));
    let mut lines = jia.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next(),
        Some(
            "部门,邮箱地址,类别,严重程度,判定规则,页面地址,页面标题,文档内位置,链接页面,写法,原文,上下文,出现次数,状态,首次发现,最近发现,已存在周数,读取方式,依据"
        )
    );
    assert_eq!(lines.count(), 7);
    assert!(
        jia.contains("jia_teacher@qq.com,免费/公共邮箱,违规"),
        "{jia}"
    );

    let summary = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    assert!(
        summary.contains(
            "\n乙学院,自动发现,1,1,0,2,0,2,0,0,2,0,departments/dept-b.fixture-univ.edu.cn.csv\n"
        ),
        "{summary}"
    );
    assert!(summary.contains("\n合计,"), "{summary}");

    let errors = std::fs::read_to_string(dir.join("errors.csv")).unwrap();
    assert!(errors.contains("http://www.fixture-univ.edu.cn/missing.html,http://www.fixture-univ.edu.cn/,失败,http-404"), "{errors}");
    assert!(errors.contains("robots-disallowed"));

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("findings.json")).unwrap()).unwrap();
    assert_eq!(json["findings"].as_array().map(Vec::len), Some(21));
    assert_eq!(json["complete"], serde_json::Value::Bool(true));

    // The same run written twice gives byte-identical files; a second run the same day gets
    // its own folder.
    let again = report::run_dir(tmp.path(), &run);
    assert_ne!(again, dir);
    report::write_all(&run, &found, &again, Lang::Zh).unwrap();
    for f in ["summary.csv", "errors.csv", "departments/甲学院.csv"] {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f}"
        );
    }

    // English headers on request.
    let en = tmp.path().join("en");
    report::write_all(&run, &found, &en, Lang::En).unwrap();
    let jia_en = std::fs::read_to_string(en.join("departments/甲学院.csv")).unwrap();
    assert!(jia_en.contains("department,address,class,severity,rule,page_url"));
    assert!(jia_en.contains("jia_teacher@qq.com,free_webmail,violation"));
}
