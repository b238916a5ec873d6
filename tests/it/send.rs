//! `mailpatrol send`: the dry run's `.eml` files (headers, RFC 2047 Chinese subject, body,
//! attachments), departments without contact listed, a real send to a small SMTP server on
//! 127.0.0.1 started here, no second send on a repeat, and no way to pass a password on the
//! command line.

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use mailpatrol::model::{DepartmentStats, ScanRun};
use mailpatrol::store::Store;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::support;

/// One message as the fake server received it.
#[derive(Debug, Clone, Default)]
struct Mail {
    /// The `AUTH` line of the session, if any.
    auth: Option<String>,
    from: String,
    rcpts: Vec<String>,
    data: String,
}

/// A minimal SMTP responder on 127.0.0.1: 220 greeting, 250 to EHLO/HELO/MAIL/RCPT (EHLO
/// offers AUTH PLAIN), 235 to AUTH, 354 to DATA and the message up to `\r\n.\r\n`, 221 to QUIT. Returns its port and what it received.
async fn smtp_server() -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&mails);
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
                let mut mail = Mail::default();
                let mut auth = None;
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-fake\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("AUTH") {
                        auth = Some(line.trim().to_string());
                        b"235 ok\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        mail = Mail {
                            auth: auth.clone(),
                            from: line[10..].trim().to_string(),
                            ..Mail::default()
                        };
                        b"250 ok\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        mail.rcpts.push(line[8..].trim().to_string());
                        b"250 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        write.write_all(b"354 go on\r\n").await.unwrap();
                        loop {
                            line.clear();
                            if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" {
                                break;
                            }
                            mail.data.push_str(&line);
                        }
                        seen.lock().unwrap().push(std::mem::take(&mut mail));
                        b"250 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, mails)
}

fn mailpatrol() -> Command {
    let mut c = Command::cargo_bin("mailpatrol").unwrap();
    c.env_remove("RUST_LOG")
        .env_remove("MAILPATROL_SMTP_URL")
        .env_remove("MAILPATROL_SMTP_FROM")
        .env_remove("MAILPATROL_SMTP_USER")
        .env_remove("MAILPATROL_SMTP_PASSWORD");
    c
}

fn send_cmd(out: &Path) -> Command {
    let mut c = mailpatrol();
    c.args(["send", "--profile"])
        .arg(support::profile_path())
        .arg("--out")
        .arg(out);
    c
}

async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Scans the fixture site into `out/state.sqlite` and releases the database.
async fn scanned(out: &Path) -> ScanRun {
    let server = support::server().await;
    let store = Arc::new(Store::open(&out.join("state.sqlite")).unwrap());
    let result = support::scan(&server, &store, false).await;
    assert!(result.run.complete);
    drop(store);
    result.run
}

/// 甲学院's counts in the run.
fn jia(run: &ScanRun) -> DepartmentStats {
    run.department_stats()
        .find(|(d, _)| d.name == "甲学院")
        .unwrap()
        .1
        .clone()
}

fn base64(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap());
        }
    }
    out
}

/// The header `name` of a message, unfolded, RFC 2047 base64 words decoded.
fn header(eml: &str, name: &str) -> (String, String) {
    let head = eml.split("\r\n\r\n").next().unwrap();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let raw = unfolded
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {head}"))
        .to_string();
    // Whitespace between two encoded words is dropped (RFC 2047 6.2), any other is kept.
    let mut decoded = String::new();
    let mut previous_encoded = None;
    for word in raw.split_whitespace() {
        let lower = word.to_ascii_lowercase();
        let encoded = lower.starts_with("=?utf-8?b?") && word.ends_with("?=");
        if previous_encoded.is_some() && !(encoded && previous_encoded == Some(true)) {
            decoded.push(' ');
        }
        if encoded {
            decoded.push_str(&text(&base64(&word[10..word.len() - 2])));
        } else {
            decoded.push_str(word);
        }
        previous_encoded = Some(encoded);
    }
    (raw, decoded)
}

/// The MIME parts of a multipart message: (headers, decoded body).
fn parts(eml: &str) -> Vec<(String, Vec<u8>)> {
    let (ct, _) = header(eml, "Content-Type");
    let boundary = ct.split("boundary=").nth(1).unwrap().trim_matches('"');
    eml.split(&format!("--{boundary}"))
        .skip(1)
        .filter(|p| !p.starts_with("--"))
        .map(|p| {
            let (head, body) = p.trim_start_matches("\r\n").split_once("\r\n\r\n").unwrap();
            let body = if head
                .to_ascii_lowercase()
                .contains("content-transfer-encoding: base64")
            {
                base64(body)
            } else {
                body.as_bytes().to_vec()
            };
            (head.to_string(), body)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_one_eml_per_department_with_contacts_and_lists_the_others() {
    let out = tempfile::tempdir().unwrap();
    let stats = jia(&scanned(out.path()).await);
    assert!(
        stats.violations > 0,
        "the fixture gives 甲学院 something to fix"
    );
    let eml_dir = out.path().join("outbox");
    let mut cmd = send_cmd(out.path());
    cmd.arg("--dry-run")
        .arg(&eml_dir)
        .args(["--attach", "csv,xlsx"]);
    let o = run(cmd).await;
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let mut files: Vec<_> = std::fs::read_dir(&eml_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["甲学院.eml"]);
    // The departments without contact are named on stdout and stderr.
    for out in [&stdout, &stderr] {
        assert!(out.contains("no contact"), "{out}");
        for d in [
            "党政办公室",
            "财务处",
            "乙学院 (dept-b.fixture-univ.edu.cn)",
        ] {
            assert!(out.contains(d), "{d} missing in {out}");
        }
    }
    assert!(
        stdout.contains("1 written, 0 already sent, 3 without contact, 0 failed"),
        "{stdout}"
    );

    let eml = std::fs::read_to_string(eml_dir.join("甲学院.eml")).unwrap();
    assert_eq!(header(&eml, "To").1, "jia@fixture-univ.edu.cn");
    assert_eq!(header(&eml, "From").1, "mailpatrol@localhost");
    assert!(header(&eml, "Message-ID").1.starts_with('<'));
    let (raw_subject, subject) = header(&eml, "Subject");
    assert!(raw_subject.is_ascii(), "{raw_subject}");
    assert!(
        raw_subject.to_ascii_lowercase().starts_with("=?utf-8?b?"),
        "{raw_subject}"
    );
    assert!(subject.starts_with("【邮箱公布检查】甲学院："), "{subject}");
    assert!(
        subject.contains(&format!("违规 {} 项", stats.violations)),
        "{subject}"
    );
    let parts = parts(&eml);
    assert_eq!(parts.len(), 3, "body, csv, xlsx");
    let body = text(&parts[0].1);
    for line in [
        format!("违规（须整改）：{} 项", stats.violations),
        format!("待核查：{} 项", stats.reviews),
        format!("本次新发现：{} 项", stats.new),
        format!("已整改（上次有、本次已无）：{} 项", stats.resolved),
    ] {
        assert!(body.contains(&line), "{line} missing in {body}");
    }
    assert!(body.contains("请整改"), "{body}");
    assert!(body.contains("jia_teacher@qq.com"), "{body}");
    assert!(
        body.contains("http://dept-a.fixture-univ.edu.cn/gbk.html"),
        "{body}"
    );
    let (csv_head, csv) = &parts[1];
    assert!(csv_head.contains("text/csv"), "{csv_head}");
    assert!(csv_head.contains("attachment"), "{csv_head}");
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "CSV keeps its BOM");
    let csv = text(csv);
    for a in [
        "jia@fixture-univ.edu.cn",
        "wang@",
        "zhao@",
        "jia_teacher@qq.com",
    ] {
        assert!(csv.contains(a), "{a} missing in the CSV");
    }
    assert!(!csv.contains("财务处"), "only the department's own rows");
    let (xlsx_head, xlsx) = &parts[2];
    assert!(xlsx_head.contains("spreadsheetml"), "{xlsx_head}");
    assert!(xlsx.starts_with(b"PK"), "a zip container");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_over_smtp_once_and_never_twice() {
    let out = tempfile::tempdir().unwrap();
    scanned(out.path()).await;
    let (port, mails) = smtp_server().await;
    let url = format!("smtp://127.0.0.1:{port}");
    let send = || {
        let mut c = send_cmd(out.path());
        c.args(["--smtp-url", &url, "--from", "patrol@fixture-univ.edu.cn"]);
        c
    };
    let o = run(send()).await;
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("sent: 甲学院 -> jia@fixture-univ.edu.cn"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 sent, 0 already sent, 3 without contact"),
        "{stdout}"
    );
    {
        let mails = mails.lock().unwrap();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].from, "<patrol@fixture-univ.edu.cn>");
        assert_eq!(mails[0].rcpts, ["<jia@fixture-univ.edu.cn>"]);
        let eml = &mails[0].data;
        assert!(header(eml, "Subject").1.contains("甲学院"));
        let parts = parts(eml);
        assert_eq!(parts.len(), 2, "body and the CSV (the default)");
        assert!(parts[1].0.contains("text/csv"));
        assert!(text(&parts[1].1).contains("jia_teacher@qq.com"));
    }

    // Again: everything was delivered, nothing goes out.
    let o = run(send()).await;
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{stdout}");
    assert!(stdout.contains("already sent: 甲学院"), "{stdout}");
    assert!(stdout.contains("0 sent, 1 already sent"), "{stdout}");
    assert_eq!(mails.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_cannot_come_from_the_command_line() {
    let out = tempfile::tempdir().unwrap();
    scanned(out.path()).await;
    let (port, mails) = smtp_server().await;
    // No such flag.
    for flag in ["--password", "--smtp-password", "--pass"] {
        let mut c = send_cmd(out.path());
        c.args([flag, "secret", "--dry-run"])
            .arg(out.path().join("x"));
        let o = run(c).await;
        assert_eq!(o.status.code(), Some(2), "{flag}");
        assert!(text(&o.stderr).contains("unexpected argument"), "{flag}");
    }
    // Nor inside the URL.
    let mut c = send_cmd(out.path());
    c.args([
        "--smtp-url",
        &format!("smtp://user:secret@127.0.0.1:{port}"),
        "--from",
        "patrol@fixture-univ.edu.cn",
    ]);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o.stderr).contains("password in --smtp-url is refused"),
        "{}",
        text(&o.stderr)
    );
    // A file (first line) or the environment are the ways in; to a relay on this machine
    // credentials may go without TLS.
    let pw = out.path().join("pw");
    std::fs::write(&pw, "secret\n").unwrap();
    let mut c = send_cmd(out.path());
    c.args([
        "--smtp-url",
        &format!("smtp://user@127.0.0.1:{port}"),
        "--from",
        "patrol@fixture-univ.edu.cn",
        "--password-file",
    ])
    .arg(&pw);
    let o = run(c).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let plain = |user: &str, pw: &str| {
        let b = base64_encode(format!("\0{user}\0{pw}").as_bytes());
        format!("AUTH PLAIN {b}")
    };
    {
        let mails = mails.lock().unwrap();
        assert_eq!(mails.len(), 1);
        assert_eq!(
            mails[0].auth.as_deref(),
            Some(plain("user", "secret").as_str())
        );
    }
    // From the environment, with the user from MAILPATROL_SMTP_USER (a new run of the state is
    // not needed: a fresh state folder).
    let out2 = tempfile::tempdir().unwrap();
    scanned(out2.path()).await;
    let mut c = send_cmd(out2.path());
    c.args([
        "--smtp-url",
        &format!("smtp://127.0.0.1:{port}"),
        "--from",
        "patrol@fixture-univ.edu.cn",
    ])
    .env("MAILPATROL_SMTP_USER", "envuser")
    .env("MAILPATROL_SMTP_PASSWORD", "envsecret");
    let o = run(c).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mails = mails.lock().unwrap();
    assert_eq!(mails.len(), 2);
    assert_eq!(
        mails[1].auth.as_deref(),
        Some(plain("envuser", "envsecret").as_str())
    );
}

fn base64_encode(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
