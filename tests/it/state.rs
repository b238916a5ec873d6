//! Weekly runs against a site that changes between them: statuses, cheap re-scans, diff,
//! resume after SIGKILL, the lock, retention. See: #5

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use mailpatrol::model::Status;
use mailpatrol::store::Store;
use mailpatrol::store::diff::diff;

use crate::cli::run_dirs;
use crate::support::{self, Scanned};

const WWW: &str = "www.fixture-univ.edu.cn";

fn status_of(run: &Scanned, email: &str) -> Option<(Status, bool)> {
    run.findings
        .iter()
        .chain(&run.resolved)
        .find(|f| f.email.to_string() == email)
        .map(|f| (f.status, f.verified))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_site_is_rescanned_without_parsing_anything() {
    let server = support::server().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("state.sqlite")).unwrap());
    let first = support::scan(&server, &store, false).await;
    assert!(first.counters.extracted > 0);
    assert!(first.findings.iter().all(|f| f.status == Status::New));

    let news_hits = server.hits(WWW, "/news.html");
    let second = support::scan(&server, &store, false).await;
    assert_eq!(second.previous, Some(first.id));
    // Every page came back 304 (files with an ETag) or with bytes whose extraction is stored.
    assert_eq!(second.counters.extracted, 0, "{:?}", second.counters);
    assert!(second.counters.not_modified >= 5, "{:?}", second.counters);
    assert_eq!(
        server.hits(WWW, "/news.html"),
        news_hits + 1,
        "one conditional request"
    );
    assert_eq!(second.findings.len(), first.findings.len());
    assert!(
        second
            .findings
            .iter()
            .all(|f| f.status == Status::StillPresent && f.verified)
    );
    assert!(second.resolved.is_empty());
    let fps = |r: &Scanned| {
        r.findings
            .iter()
            .map(|f| f.fingerprint.clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(fps(&first), fps(&second), "fingerprints are stable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_between_runs_get_their_status() {
    let server = support::server().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("state.sqlite")).unwrap());
    let first = support::scan(&server, &store, false).await;

    // An address added, one removed, a page deleted, a page failing this week.
    let dept_b = "dept-b.fixture-univ.edu.cn";
    let page = std::fs::read_to_string(
        support::fixtures().join("site/dept-b.fixture-univ.edu.cn/index.html"),
    )
    .unwrap();
    assert!(page.contains("contact@some-company.com.cn"));
    let edited = page.replace("contact@some-company.com.cn", "newcomer@qq.com");
    server.set_file(dept_b, "/index.html", edited);
    server.remove_file(WWW, "/office/fees.html");
    server.force_status(WWW, "/unlinked.html", Some(503));

    let second = support::scan(&server, &store, false).await;
    assert_eq!(
        status_of(&second, "newcomer@qq.com"),
        Some((Status::New, true))
    );
    assert_eq!(
        status_of(&second, "contact@some-company.com.cn"),
        Some((Status::Resolved, true))
    );
    assert_eq!(
        status_of(&second, "caiwu_fees@126.com"),
        Some((Status::Resolved, true)),
        "page deleted (404)"
    );
    assert_eq!(
        status_of(&second, "sitemap-only@fixture-univ.edu.cn"),
        Some((Status::StillPresent, false)),
        "page failed (503): still present, unverified"
    );
    assert_eq!(
        status_of(&second, "admin@fixture-univ.edu.cn"),
        Some((Status::StillPresent, true))
    );
    let first_seen = second
        .findings
        .iter()
        .find(|f| f.email.to_string() == "admin@fixture-univ.edu.cn")
        .unwrap()
        .first_seen;
    assert_eq!(first_seen, first.started.date_naive());

    let delta = diff(&store, None, second.id).unwrap();
    assert_eq!(delta.from, Some(first.id));
    let emails = |v: &[mailpatrol::model::Finding]| {
        v.iter()
            .map(|f| f.email.to_string())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        emails(&delta.new),
        BTreeSet::from(["newcomer@qq.com".to_string()])
    );
    assert_eq!(
        emails(&delta.resolved),
        BTreeSet::from([
            "caiwu_fees@126.com".to_string(),
            "contact@some-company.com.cn".to_string()
        ])
    );

    // The department CSV shows statuses and the summary counts them.
    let out = dir.path().join("reports");
    let written = mailpatrol::report::write_all(
        &second.run,
        &store.findings_of(&second.run),
        &out,
        mailpatrol::report::Lang::En,
    )
    .unwrap();
    let csv = std::fs::read_to_string(
        written
            .dir
            .join("departments/dept-b.fixture-univ.edu.cn.csv"),
    )
    .unwrap();
    assert!(
        csv.lines()
            .any(|l| l.contains("newcomer@qq.com") && l.contains(",new,")),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l.contains("contact@some-company.com.cn") && l.contains(",resolved,")),
        "{csv}"
    );
    let office = std::fs::read_to_string(written.dir.join("departments/党政办公室.csv")).unwrap();
    assert!(
        office
            .lines()
            .any(|l| l.contains("sitemap-only@") && l.contains("still_present_unverified")),
        "{office}"
    );
}

/// Runs the binary against the fixture site, killing it with SIGKILL after `kill_after` if
/// given. Returns the exit code (None when killed).
fn scan_process(
    entries: &[String],
    out: &std::path::Path,
    resume: bool,
    kill_after: Option<Duration>,
) -> Option<i32> {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("mailpatrol"));
    cmd.args(["scan", "-q", "--profile"])
        .arg(support::profile_path())
        .arg("--out")
        .arg(out)
        // Slow enough that a kill lands mid-crawl.
        .args(["--delay-ms", "60", "--per-host-concurrency", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for e in entries {
        cmd.args(["--resolve", e]);
    }
    if resume {
        cmd.arg("--resume");
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(after) = kill_after {
        std::thread::sleep(after);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL on Unix: no chance to clean up.
            child.wait().unwrap();
            return None;
        }
    }
    child.wait().unwrap().code()
}

fn findings_of(out: &std::path::Path) -> BTreeSet<(String, String, String, String)> {
    let dir = run_dirs(out).pop().unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("findings.json")).unwrap()).unwrap();
    assert_eq!(json["complete"], serde_json::Value::Bool(true));
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("email"), s("class"), s("department"), s("page"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_scan_resumes_to_the_same_findings_without_refetching() {
    let reference = {
        let server = support::server().await;
        let out = tempfile::tempdir().unwrap();
        let entries = server.resolve_entries();
        let path = out.path().to_path_buf();
        let code = tokio::task::spawn_blocking(move || scan_process(&entries, &path, false, None))
            .await
            .unwrap();
        assert_eq!(code, Some(0));
        findings_of(out.path())
    };
    assert_eq!(reference.len(), 21);

    let mut killed = 0;
    for kill_ms in [250, 700, 1300] {
        let server = support::server().await;
        let out = tempfile::tempdir().unwrap();
        let entries = server.resolve_entries();
        let path = out.path().to_path_buf();
        let code = tokio::task::spawn_blocking(move || {
            scan_process(&entries, &path, false, Some(Duration::from_millis(kill_ms)))
        })
        .await
        .unwrap();
        if code.is_some() {
            // Finished before the kill: nothing to resume at this point of the crawl.
            continue;
        }
        killed += 1;
        // What the killed process had finished, according to its own saved frontier.
        let done: Vec<String> = {
            let store = Store::open(&out.path().join("state.sqlite")).unwrap();
            let run = store.runs().unwrap().last().unwrap().id;
            let (seen, pending) = store.frontier(run).unwrap();
            let pending: BTreeSet<String> = pending.into_iter().map(|e| e.url).collect();
            seen.into_iter().filter(|u| !pending.contains(u)).collect()
        };
        eprintln!(
            "kill at {kill_ms} ms: {} URLs done before the kill",
            done.len()
        );
        let before = server.all_hits();
        let entries = server.resolve_entries();
        let path = out.path().to_path_buf();
        let code = tokio::task::spawn_blocking(move || scan_process(&entries, &path, true, None))
            .await
            .unwrap();
        assert_eq!(code, Some(0), "resume after kill at {kill_ms} ms");
        assert_eq!(findings_of(out.path()), reference, "kill at {kill_ms} ms");
        let after = server.all_hits();
        let count = |hits: &[(String, String, u32)], url: &str| -> u32 {
            let u = url::Url::parse(url).unwrap();
            let pq = match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            };
            hits.iter()
                .filter(|(h, p, _)| Some(h.as_str()) == u.host_str() && *p == pq)
                .map(|(_, _, n)| n)
                .sum()
        };
        for url in &done {
            assert_eq!(
                count(&after, url),
                count(&before, url),
                "{url} was done before the kill but fetched again (kill at {kill_ms} ms)"
            );
        }
    }
    assert!(
        killed >= 2,
        "only {killed} kill points landed mid-crawl; slow the crawl down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_scan_on_the_same_state_is_refused_and_resume_needs_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let held = Store::open(&dir.path().join("state.sqlite")).unwrap();
    let out = assert_cmd::Command::cargo_bin("mailpatrol")
        .unwrap()
        .args(["scan", "--profile"])
        .arg(support::profile_path())
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("pid {}", std::process::id())),
        "{stderr}"
    );
    drop(held);

    let out = assert_cmd::Command::cargo_bin("mailpatrol")
        .unwrap()
        .args(["scan", "--resume", "--profile"])
        .arg(support::profile_path())
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no interrupted scan"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_cleanly_and_says_how_to_resume() {
    let server = support::server().await;
    let out = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("mailpatrol"));
    cmd.args(["scan", "--no-progress", "--profile"])
        .arg(support::profile_path())
        .arg("--out")
        .arg(out.path())
        .args(["--delay-ms", "60", "--per-host-concurrency", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for e in server.resolve_entries() {
        cmd.args(["--resolve", &e]);
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id().to_string();
    let output = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(400));
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--resume"), "{stderr}");
    // Partial reports were written, marked incomplete.
    let dir = run_dirs(out.path()).pop().unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("findings.json")).unwrap()).unwrap();
    assert_eq!(json["complete"], serde_json::Value::Bool(false));

    let entries = server.resolve_entries();
    let path = out.path().to_path_buf();
    let code = tokio::task::spawn_blocking(move || scan_process(&entries, &path, true, None))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
    assert_eq!(findings_of(out.path()).len(), 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_prune_and_schedule_commands() {
    let server = support::server().await;
    let out = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let entries = server.resolve_entries();
        let path = out.path().to_path_buf();
        let code = tokio::task::spawn_blocking(move || scan_process(&entries, &path, false, None))
            .await
            .unwrap();
        assert_eq!(code, Some(0));
        // The second run will not find the news page.
        server.remove_file(WWW, "/news.html");
    }
    let bin = || assert_cmd::Command::cargo_bin("mailpatrol").unwrap();
    let out_dir = out.path().to_str().unwrap();
    let diff = bin().args(["diff", "--out", out_dir]).output().unwrap();
    assert_eq!(
        diff.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&diff.stderr)
    );
    let md = String::from_utf8_lossy(&diff.stdout);
    assert!(md.contains("# Changes from run 1"), "{md}");
    assert!(md.contains("New: 0, resolved: 2"), "{md}");
    assert!(
        md.contains("partner@allowed-partner.com") && md.contains("editor@expired-partner.com"),
        "{md}"
    );
    let json_file = out.path().join("changes.json");
    let diff = bin()
        .args([
            "diff", "--out", out_dir, "--from", "1", "--to", "2", "--format", "json", "--output",
        ])
        .arg(&json_file)
        .output()
        .unwrap();
    assert_eq!(diff.status.code(), Some(0));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_file).unwrap()).unwrap();
    assert_eq!(json["resolved"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        bin()
            .args(["diff", "--out", out_dir, "--to", "9"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );

    // Every scan wrote summary.html; any stored run can be written again in any format.
    assert!(
        run_dirs(out.path())
            .iter()
            .all(|d| d.join("summary.html").is_file())
    );
    let again = out.path().join("again");
    let report = bin()
        .args([
            "report",
            "--out",
            out_dir,
            "--run",
            "1",
            "--format",
            "xlsx,html",
            "--profile",
        ])
        .arg(support::profile_path())
        .arg("--to")
        .arg(&again)
        .output()
        .unwrap();
    assert_eq!(
        report.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert!(again.join("summary.html").is_file() && again.join("summary.xlsx").is_file());
    assert!(again.join("departments/甲学院.xlsx").is_file());
    assert!(
        !again.join("summary.csv").exists(),
        "only the formats asked for"
    );
    let html = std::fs::read_to_string(again.join("summary.html")).unwrap();
    assert!(
        html.contains("partner@allowed-partner.com"),
        "run 1 still had the news page"
    );
    assert_eq!(
        bin()
            .args(["report", "--out", out_dir, "--run", "9"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
    std::fs::remove_dir_all(&again).unwrap();

    // Nothing is old enough to prune with the default 100 days.
    let prune = bin().args(["prune", "--out", out_dir]).output().unwrap();
    assert_eq!(prune.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&prune.stdout).contains("Removed 0 runs and 0 report folders"));
    // An old report folder goes; the runs' own folders and the latest run stay.
    std::fs::create_dir(out.path().join("2020-01-06")).unwrap();
    let prune = bin()
        .args(["prune", "--out", out_dir, "--keep-days", "100"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&prune.stdout).contains("and 1 report folders"),
        "{}",
        String::from_utf8_lossy(&prune.stdout)
    );
    assert!(!out.path().join("2020-01-06").exists());
    assert_eq!(run_dirs(out.path()).len(), 2);

    for (kind, needle) in [("systemd", "OnCalendar="), ("cron", "0 2 * * 1 ")] {
        let s = bin()
            .args(["schedule", "--print", kind, "--out", out_dir, "--profile"])
            .arg(support::profile_path())
            .output()
            .unwrap();
        assert_eq!(s.status.code(), Some(0));
        let text = String::from_utf8_lossy(&s.stdout);
        assert!(text.contains(needle), "{text}");
        assert!(
            text.contains(
                &support::profile_path()
                    .canonicalize()
                    .unwrap()
                    .display()
                    .to_string()
            ),
            "{text}"
        );
    }
}
