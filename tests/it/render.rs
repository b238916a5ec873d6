//! Pages that build their content with JavaScript, rendered in headless Chromium: addresses
//! inserted by a script, loaded by XHR, shown by a hash-routed app, links that exist only in
//! the rendered DOM; dialogs, a hanging page, the `auto` decision, a missing browser. See #8.
//! The browser tests skip with a note when /usr/bin/chromium is not installed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use mailpatrol::classify::Classifier;
use mailpatrol::model::{Finding, Source};
use mailpatrol::profile::{Mode, Profile};
use mailpatrol::scan::ScanOptions;
use mailpatrol::site::{SiteFiles, SiteServer};
use mailpatrol::store::Store;
use tokio::sync::watch;

use crate::support::{self, Scanned};

const CHROMIUM: &str = "/usr/bin/chromium";

/// One browser test at a time, so counting this process's browsers means one scan's.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn have_chromium() -> bool {
    let ok = Path::new(CHROMIUM).exists();
    if !ok {
        eprintln!("SKIPPED: {CHROMIUM} is not installed (apt-get install chromium)");
    }
    ok
}

fn profile(mode: Mode) -> Profile {
    let mut p = Profile::load(&support::fixtures().join("rules/render.toml")).unwrap();
    p.render.mode = mode;
    p
}

/// One scan of the render fixture site with `profile`.
async fn try_scan(
    profile: &Profile,
) -> (
    Result<mailpatrol::scan::ScanResult, mailpatrol::error::ScanError>,
    SiteServer,
    Arc<Store>,
    tempfile::TempDir,
) {
    let server =
        SiteServer::start(SiteFiles::from_dir(&support::fixtures().join("render")).unwrap())
            .await
            .unwrap();
    let state = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&state.path().join("state.sqlite")).unwrap());
    let classifier = Classifier::from_profile(profile, chrono::Local::now().date_naive()).unwrap();
    let options = ScanOptions {
        resolve: support::resolve(&server),
        progress: None,
        resume: false,
    };
    let (_tx, rx) = watch::channel(false);
    let result = mailpatrol::scan::scan(profile, classifier, Arc::clone(&store), options, rx).await;
    (result, server, store, state)
}

async fn scan(profile: &Profile) -> (Scanned, SiteServer, tempfile::TempDir) {
    let _one = BROWSER.lock().await;
    let (result, server, store, state) = try_scan(profile).await;
    let result = result.unwrap();
    (
        support::loaded(&store, result.run, result.outcome),
        server,
        state,
    )
}

/// address -> (page path, source, location)
fn by_address(findings: &[Finding]) -> BTreeMap<String, (String, Source, Option<String>)> {
    findings
        .iter()
        .map(|f| {
            (
                f.email.to_string(),
                (f.page.path().to_string(), f.source, f.location.clone()),
            )
        })
        .collect()
}

/// Chromium processes started by this test process, after giving killed ones a moment to
/// go.
async fn our_browsers() -> usize {
    for _ in 0..20 {
        if browsers_of(std::process::id()) == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    browsers_of(std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_renders_script_built_pages_and_follows_their_links() {
    if !have_chromium() {
        return;
    }
    let (run, server, _state) = scan(&profile(Mode::Auto)).await;
    let got = by_address(&run.findings);
    let want = [
        ("office@spa-univ.edu.cn", "/", Source::Served, None),
        ("jsonly@qq.com", "/script.html", Source::Rendered, None),
        // Reached only through a link the script built.
        (
            "hidden@spa-univ.edu.cn",
            "/hidden.html",
            Source::Served,
            None,
        ),
        ("xhr_contact@163.com", "/xhr.html", Source::Rendered, None),
        ("dialog_ok@qq.com", "/dialog.html", Source::Rendered, None),
        (
            "spa_route@126.com",
            "/app/",
            Source::Rendered,
            Some("#/contact"),
        ),
        (
            "about_route@spa-univ.edu.cn",
            "/app/",
            Source::Rendered,
            Some("#/about"),
        ),
        // Arrived after the page had been quiet longer than render.quiet_ms: a timer, a
        // slow answer, a slow script inserted after the load.
        ("late_timer@qq.com", "/late.html", Source::Rendered, None),
        ("slow_xhr@qq.com", "/late.html", Source::Rendered, None),
        ("late_script@qq.com", "/late.html", Source::Rendered, None),
    ];
    for (address, path, source, location) in want {
        assert_eq!(
            got.get(address),
            Some(&(path.to_string(), source, location.map(str::to_string))),
            "{address}: {got:?} {:?}",
            run.problems
        );
    }
    assert_eq!(got.len(), want.len(), "{got:?}");
    // The off-scope host was never asked, so its address was not seen.
    assert_eq!(server.hits("cdn.other-site.com", "/data.json"), 0);
    // Rendered: the script, XHR, app, dialog, late and off-scope pages (the hanging one
    // failed); none of the server-built ones.
    assert_eq!(
        run.counters.rendered, 6,
        "{:?} {:?}",
        run.counters, run.problems
    );
    let hang = run
        .problems
        .iter()
        .find(|p| p.url.path() == "/hang.html")
        .expect("the hanging page is reported");
    assert_eq!(hang.code, "render-timeout", "{hang:?}");
    assert!(hang.detail.contains("render.timeout_secs"), "{hang:?}");
    let _one = BROWSER.lock().await;
    assert_eq!(
        our_browsers().await,
        0,
        "no Chromium process outlives the scan"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_says_what_was_not_in_the_served_html() {
    if !have_chromium() {
        return;
    }
    let (run, _server, state) = scan(&profile(Mode::Auto)).await;
    let store = Store::open(&state.path().join("state.sqlite")).unwrap();
    let out = state.path().join("reports");
    let written = mailpatrol::report::write_all(
        &run.run,
        &store.findings_of(&run.run),
        &out,
        mailpatrol::report::Lang::Zh,
    )
    .unwrap();
    let csv = written
        .files
        .iter()
        .filter(|f| f.starts_with("departments"))
        .map(|f| std::fs::read_to_string(written.dir.join(f)).unwrap())
        .collect::<String>();
    let line = |address: &str| {
        csv.lines()
            .find(|l| l.contains(address))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("jsonly@qq.com").contains("浏览器渲染（源码中没有）"),
        "{csv}"
    );
    assert!(
        line("office@spa-univ.edu.cn").contains("网页源码或文件"),
        "{csv}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offscope_resources_load_only_when_allowed() {
    if !have_chromium() {
        return;
    }
    let mut p = profile(Mode::Auto);
    p.render.allow_offscope_resources = true;
    let (run, server, _state) = scan(&p).await;
    assert!(server.hits("cdn.other-site.com", "/data.json") > 0);
    let got = by_address(&run.findings);
    assert_eq!(
        got.get("offscope_data@qq.com"),
        Some(&("/offscope.html".to_string(), Source::Rendered, None)),
        "{got:?}"
    );
    // Never crawled: the data host is not in the scope.
    assert!(
        !run.pages
            .iter()
            .any(|p| p.url.host_str() == Some("cdn.other-site.com"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_reads_only_the_served_html() {
    let (run, _server, _state) = scan(&profile(Mode::Never)).await;
    let got = by_address(&run.findings);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        ["office@spa-univ.edu.cn"],
        "{got:?}"
    );
    assert_eq!(run.counters.rendered, 0);
    assert!(!run.pages.iter().any(|p| p.url.path() == "/hidden.html"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_browser_auto_goes_on_and_always_refuses() {
    let mut p = profile(Mode::Auto);
    p.render.chromium = Some("/nonexistent/chromium".into());
    let (run, _server, _state) = scan(&p).await;
    assert!(run.complete);
    assert_eq!(run.counters.rendered, 0);
    let needs: Vec<&str> = run
        .problems
        .iter()
        .filter(|p| p.code == "needs-render")
        .map(|p| p.url.path())
        .collect();
    assert!(needs.contains(&"/script.html"), "{needs:?}");
    assert!(!needs.contains(&"/"), "server-built pages need no browser");

    p.render.mode = Mode::Always;
    let (result, server, _store, _state) = try_scan(&p).await;
    let err = result.expect_err("always needs a browser").to_string();
    assert!(err.contains("apt-get install chromium"), "{err}");
    assert_eq!(
        server.hits("www.spa-univ.edu.cn", "/"),
        0,
        "refused before crawling"
    );
}

/// One tab renders page after page: nothing a page leaves in the tab (session storage,
/// `window.name`) reaches the next, and a tab whose page hung is replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_tabs_forget_the_last_page_and_survive_a_hang() {
    if !have_chromium() {
        return;
    }
    let _one = BROWSER.lock().await;
    let server =
        SiteServer::start(SiteFiles::from_dir(&support::fixtures().join("render")).unwrap())
            .await
            .unwrap();
    let profile = profile(Mode::Auto);
    let mut settings = profile.render.clone();
    settings.concurrency = 1;
    settings.timeout_secs = 2;
    let options = mailpatrol::render::Options::new(
        &settings,
        &support::resolve(&server),
        &mailpatrol::crawl::scope::Scope::new(&profile),
    );
    let renderer = mailpatrol::render::Renderer::new(options).unwrap();
    let url = |path: &str| url::Url::parse(&format!("http://www.spa-univ.edu.cn{path}")).unwrap();
    let stored = renderer.render(&url("/remember.html")).await.unwrap();
    assert!(stored.html.contains("已记住"), "{}", stored.html);
    let recalled = renderer.render(&url("/recall.html")).await.unwrap();
    assert!(recalled.html.contains("上一页：无 无"), "{}", recalled.html);
    let hung = renderer.render(&url("/hang.html")).await.unwrap_err();
    assert_eq!(hung.code, "render-timeout", "{hung:?}");
    let after = renderer.render(&url("/script.html")).await.unwrap();
    assert!(after.html.contains("jsonly@qq.com"), "{}", after.html);
    // Idle tabs are blanked after a second; the tab still works afterwards.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let again = renderer.render(&url("/xhr.html")).await.unwrap();
    assert!(again.html.contains("xhr_contact@163.com"), "{}", again.html);
    drop(renderer);
    assert_eq!(
        our_browsers().await,
        0,
        "the browser is gone with the renderer"
    );
}

/// `auto` renders none of the demo university's server-built pages.
#[test]
fn auto_renders_nothing_on_the_demo_site() {
    let out = tempfile::tempdir().unwrap();
    let assert = assert_cmd::Command::cargo_bin("mailpatrol")
        .unwrap()
        .args(["demo", "-q", "--render", "auto", "--out"])
        .arg(out.path())
        .assert();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains(", 0 rendered"), "{stdout}");
}

/// Browsers whose profile folder names process `pid`.
fn browsers_of(pid: u32) -> usize {
    let marker = format!("mailpatrol-chromium-{pid}-");
    std::fs::read_dir("/proc").map_or(0, |d| {
        d.flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .filter(|c| String::from_utf8_lossy(c).contains(&marker))
            .count()
    })
}

/// Ctrl-C (SIGINT) and SIGKILL in the middle of rendering: no Chromium process survives
/// mailpatrol (the first by dropping the browser, the second by its parent-death signal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_browser_outlives_mailpatrol_on_ctrl_c_or_kill() {
    if !have_chromium() {
        return;
    }
    let _one = BROWSER.lock().await;
    let server =
        SiteServer::start(SiteFiles::from_dir(&support::fixtures().join("render")).unwrap())
            .await
            .unwrap();
    for signal in ["INT", "KILL"] {
        let out = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("mailpatrol"));
        cmd.args([
            "scan",
            "--no-progress",
            "-q",
            "--render",
            "always",
            "--profile",
        ])
        .arg(support::fixtures().join("rules/render.toml"))
        .arg("--out")
        .arg(out.path())
        .args(["--delay-ms", "300", "--per-host-concurrency", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        for e in server.resolve_entries() {
            cmd.args(["--resolve", &e]);
        }
        let mut child = cmd.spawn().unwrap();
        let pid = child.id();
        let leftover = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            while browsers_of(pid) == 0 && started.elapsed() < std::time::Duration::from_secs(20) {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            assert!(browsers_of(pid) > 0, "the browser started");
            std::thread::sleep(std::time::Duration::from_millis(500));
            let sent = std::process::Command::new("kill")
                .args([&format!("-{signal}"), &pid.to_string()])
                .status()
                .unwrap();
            assert!(sent.success());
            let _ = child.wait();
            for _ in 0..50 {
                if browsers_of(pid) == 0 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            browsers_of(pid)
        })
        .await
        .unwrap();
        assert_eq!(leftover, 0, "SIG{signal}: Chromium processes left behind");
    }
}
