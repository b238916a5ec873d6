//! The binary as a user runs it: exit codes, stdout/stderr separation, error messages.

use std::process::Output;

use assert_cmd::Command;

use crate::support;

fn mailpatrol() -> Command {
    let mut c = Command::cargo_bin("mailpatrol").unwrap();
    c.env_remove("RUST_LOG").env("NO_COLOR", "1");
    c
}

/// The report folders under an output folder, sorted (the state database sits beside them).
pub fn run_dirs(out: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs the binary on a blocking thread while the fixture server runs on the test runtime.
async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn scan_cmd(server: &mailpatrol::site::SiteServer, out: &std::path::Path) -> Command {
    let mut c = mailpatrol();
    c.args(["scan", "--profile"])
        .arg(support::profile_path())
        .arg("--out")
        .arg(out);
    for r in server.resolve_entries() {
        c.args(["--resolve", &r]);
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_writes_reports_and_exit_codes_follow_fail_on() {
    let server = support::server().await;
    let tmp = tempfile::tempdir().unwrap();
    let out = run(scan_cmd(&server, tmp.path())).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("甲学院"), "{stdout}");
    assert!(stdout.contains("Reports:"), "{stdout}");
    assert!(!text(&out.stderr).contains("panicked"));
    let day = run_dirs(tmp.path())[0].clone();
    assert!(day.join("departments/甲学院.csv").is_file());
    assert!(day.join("errors.csv").is_file());

    let mut fail = scan_cmd(&server, tmp.path());
    fail.args(["--fail-on", "violation", "--lang", "en", "-q"]);
    let out = run(fail).await;
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("department"), "English table");
    assert_eq!(run_dirs(tmp.path()).len(), 2, "second run, own folder");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_seed_is_a_clear_runtime_error() {
    let tmp = tempfile::tempdir().unwrap();
    // Nothing listens on port 1 of loopback: connection refused at once.
    let mut c = mailpatrol();
    c.args(["scan", "--profile"])
        .arg(support::profile_path())
        .arg("--out")
        .arg(tmp.path())
        .args([
            "--retries",
            "0",
            "--resolve",
            "www.fixture-univ.edu.cn:80:127.0.0.1:1",
        ])
        .args(["--resolve", "dept-a.fixture-univ.edu.cn:80:127.0.0.1:1"]);
    let out = run(c).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("nothing could be read"), "{stderr}");
    assert!(stderr.contains("proxy"), "{stderr}");
    assert!(stderr.contains("errors.csv"), "{stderr}");
}

#[test]
fn missing_or_invalid_profile_exits_3_naming_file_and_line() {
    let out = mailpatrol()
        .args(["scan", "--profile", "does/not/exist.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("does/not/exist.toml"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "errors never go to stdout");

    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nseeds = [\"https://www.a.edu.cn/\"]\ndomains = [\"a.edu.cn\"]\n[[legacy]]\ndomain = \"old.edu.cn\"\nretired_on = \"someday\"\n").unwrap();
    let out = mailpatrol()
        .args(["scan", "--profile"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("line 6") && stderr.contains("YYYY-MM-DD"),
        "{stderr}"
    );

    let out = mailpatrol()
        .args(["scan", "--profile"])
        .arg(support::profile_path())
        .args(["--resolve", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("HOST:PORT:ADDR"));
}

#[test]
fn classify_prints_class_and_rule() {
    let out = mailpatrol()
        .args(["classify", "--profile"])
        .arg(support::profile_path())
        .args([
            "Wang@QQ.com",
            "2020123@stu.fixture-univ.edu.cn",
            "a@fixture-univ.edu.cn",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].starts_with("wang@qq.com\tfree_webmail\tviolation\tfree_webmail:qq.com"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("2020123@stu.fixture-univ.edu.cn\tstudent\treview\tstudent:"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("a@fixture-univ.edu.cn\tinstitutional\tok"),
        "{stdout}"
    );

    let out = mailpatrol()
        .args(["classify", "--profile"])
        .arg(support::profile_path())
        .arg("not-an-address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn demo_scans_the_bundled_university() {
    let tmp = tempfile::tempdir().unwrap();
    let out = mailpatrol()
        .args(["demo", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let day = run_dirs(tmp.path())[0].clone();
    let cs = std::fs::read_to_string(day.join("departments/计算机学院.csv")).unwrap();
    assert!(cs.contains("wangwei1988@qq.com,免费/公共邮箱,违规"), "{cs}");
    // Attachments: a PDF (per page), a DOCX behind download.jsp named by Content-Disposition,
    // an XLSX (per cell), each attributed to the department of the page that links it.
    let hr = std::fs::read_to_string(day.join("departments/人事处.csv")).unwrap();
    assert!(
        hr.lines()
            .any(|l| l.contains("hr_zhaopin@163.com") && l.contains("notice.pdf,page 2,")),
        "{hr}"
    );
    let jwc = std::fs::read_to_string(day.join("departments/教务处.csv")).unwrap();
    assert!(
        jwc.lines().any(|l| l.contains("kaowu@demo-univ.edu.cn")
            && l.contains(
                "考务通知.docx,body,http://www.demo-univ.edu.cn/jwc/exam.html,hash_for_at"
            )),
        "{jwc}"
    );
    let math = std::fs::read_to_string(day.join("departments/数学学院.csv")).unwrap();
    assert!(
        math.lines()
            .any(|l| l.contains("math_lab@126.com") && l.contains("sheet 名单!C3")),
        "{math}"
    );
    let errors = std::fs::read_to_string(day.join("errors.csv")).unwrap();
    assert!(errors.contains("robots-disallowed"));
    assert!(
        !std::fs::read_to_string(day.join("findings.json"))
            .unwrap()
            .contains("secret-should-not-appear")
    );
}
