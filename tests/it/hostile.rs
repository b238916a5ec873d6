//! Hostile and broken servers (issue 7): each misbehaviour ends as a problem with a clear
//! code, the scan finishes within a bound, and the healthy pages' findings are all there.
//!
//! Healthy pages come from a `SiteServer` tree in a tempdir; the misbehaving host
//! `bad.hostile-univ.edu.cn` is a raw `TcpListener` on 127.0.0.1 reached through a
//! `--resolve`-style entry. Nothing leaves loopback.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mailpatrol::classify::Classifier;
use mailpatrol::crawl::fetch::Resolve;
use mailpatrol::model::{Finding, ProblemKind, ScanRun};
use mailpatrol::profile::Profile;
use mailpatrol::scan::ScanOptions;
use mailpatrol::site::{SiteFiles, SiteServer};
use mailpatrol::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const WWW: &str = "http://www.hostile-univ.edu.cn";
const DEPT: &str = "http://dept.hostile-univ.edu.cn";
const BAD_HOST: &str = "bad.hostile-univ.edu.cn";
const BAD: &str = "http://bad.hostile-univ.edu.cn";

/// The safety net around every scan; the suite never asserts on speed.
const BOUND: Duration = Duration::from_secs(60);

const PROFILE: &str = r#"
schema_version = 1
name = "hostile"
seeds = ["http://www.hostile-univ.edu.cn/"]
domains = ["hostile-univ.edu.cn"]
[crawl]
max_pages = 2000
max_depth = 5
delay_ms = 0
timeout_secs = 2
connect_timeout_secs = 2
retries = 1
retry_backoff_ms = 50
max_bytes = 2097152
max_document_bytes = 2097152
per_host_concurrency = 4
concurrency = 16
max_redirects = 10
max_query_variants = 20
max_links_per_page = 1000
host_failure_limit = 0
sitemaps = false
[[departments]]
name = "Office"
hosts = ["www.hostile-univ.edu.cn"]
"#;

/// What the raw server does for one path.
#[derive(Clone)]
enum Act {
    /// Accepts, reads the request, never answers.
    Hang,
    /// Headers, then one body byte per second.
    Trickle,
    /// `Transfer-Encoding: chunked` for ever (or until the client hangs up).
    Endless,
    /// Declares 1 GB with `Content-Length` and starts sending it.
    HugeDeclared,
    /// A gzip bomb: small on the wire, far over the cap decompressed.
    GzipBomb(Arc<Vec<u8>>),
    /// A redirect.
    Redirect(String),
    /// A body with a content type.
    Body(&'static str, Vec<u8>),
    /// Part of a declared body, then a TCP reset.
    Reset,
    /// Part of a declared body, then a clean close.
    Short,
    /// Pages whose links mint new URLs for ever, built from the request target.
    Generate(fn(&str) -> String),
}

/// A misbehaving HTTP server on 127.0.0.1, answering by path (longest matching prefix).
struct Raw {
    port: u16,
    hits: Arc<AtomicU32>,
}

impl Raw {
    async fn start(routes: Vec<(&'static str, Act)>) -> Raw {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes = Arc::new(routes);
        let hits = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&hits);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let routes = Arc::clone(&routes);
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let _ = serve(stream, &routes).await;
                });
            }
        });
        Raw { port, hits }
    }

    fn resolve(&self, host: &str) -> Resolve {
        format!("{host}:80:127.0.0.1:{}", self.port)
            .parse()
            .unwrap()
    }
}

async fn serve(mut stream: TcpStream, routes: &[(&'static str, Act)]) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.first() != Some(&0x16) {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    if head.first() == Some(&0x16) {
        // A TLS ClientHello on a plain-HTTP port: answer in plain HTTP, as servers do.
        return stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            .await;
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.split(' ').nth(1).unwrap_or("/");
    // Proxy-routed requests arrive in absolute form.
    let target = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    }
    .to_string();
    let act = routes
        .iter()
        .filter(|(p, _)| target.starts_with(p))
        .max_by_key(|(p, _)| p.len())
        .map(|(_, a)| a.clone());
    let Some(act) = act else {
        let body = "not found";
        let head = format!(
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return stream.write_all(head.as_bytes()).await;
    };
    let ok = |ct: &str, extra: &str| {
        format!("HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\n{extra}Connection: close\r\n\r\n")
    };
    match act {
        Act::Hang => tokio::time::sleep(Duration::from_secs(300)).await,
        Act::Trickle => {
            stream
                .write_all(ok("text/html", "Content-Length: 1000\r\n").as_bytes())
                .await?;
            for _ in 0..1000 {
                stream.write_all(b"a").await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Act::Endless => {
            stream
                .write_all(ok("text/html", "Transfer-Encoding: chunked\r\n").as_bytes())
                .await?;
            let chunk = format!("10000\r\n{}\r\n", "<p>x</p>".repeat(0x10000 / 8));
            loop {
                stream.write_all(chunk.as_bytes()).await?;
            }
        }
        Act::HugeDeclared => {
            stream
                .write_all(ok("text/html", "Content-Length: 1073741824\r\n").as_bytes())
                .await?;
            let chunk = vec![b'a'; 64 * 1024];
            // At most 1 GB, but the client hangs up long before.
            for _ in 0..(1 << 14) {
                stream.write_all(&chunk).await?;
            }
        }
        Act::GzipBomb(body) => {
            let extra = format!(
                "Content-Encoding: gzip\r\nContent-Length: {}\r\n",
                body.len()
            );
            stream.write_all(ok("text/html", &extra).as_bytes()).await?;
            stream.write_all(&body).await?;
        }
        Act::Redirect(to) => {
            let head = format!(
                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
        }
        Act::Body(ct, body) => {
            let extra = format!("Content-Length: {}\r\n", body.len());
            stream.write_all(ok(ct, &extra).as_bytes()).await?;
            stream.write_all(&body).await?;
        }
        Act::Reset | Act::Short => {
            stream
                .write_all(ok("text/html", "Content-Length: 100000\r\n").as_bytes())
                .await?;
            stream.write_all(&[b'a'; 1000]).await?;
            stream.flush().await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
            if matches!(act, Act::Reset) {
                // SO_LINGER 0: closing sends a RST instead of a FIN.
                stream.set_zero_linger()?;
            }
            drop(stream);
        }
        Act::Generate(page) => {
            let body = page(&target);
            let extra = format!("Content-Length: {}\r\n", body.len());
            stream
                .write_all(ok("text/html; charset=utf-8", &extra).as_bytes())
                .await?;
            stream.write_all(body.as_bytes()).await?;
        }
    }
    Ok(())
}

/// Raw deflate of `n` zero bytes with fixed Huffman codes (a literal, then length 258 /
/// distance 1 repeated), wrapped in gzip. The trailer's CRC is left at 0: a correct client
/// stops at its byte cap long before reading it.
fn gzip_bomb(n: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        len: u32,
    }
    impl Bits {
        /// Writes `len` bits of `v`, least significant first.
        fn put(&mut self, v: u64, len: u32) {
            self.acc |= v << self.len;
            self.len += len;
            while self.len >= 8 {
                self.out.push((self.acc & 0xff) as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }
        /// Writes a Huffman code, most significant bit first.
        fn code(&mut self, code: u64, len: u32) {
            let mut rev = 0;
            for i in 0..len {
                rev |= ((code >> i) & 1) << (len - 1 - i);
            }
            self.put(rev, len);
        }
    }
    let mut b = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
        acc: 0,
        len: 0,
    };
    b.put(1, 1); // BFINAL
    b.put(1, 2); // fixed Huffman
    b.code(0x30, 8); // literal 0
    for _ in 0..(n - 1) / 258 {
        b.code(0b1100_0101, 8); // length 258 (symbol 285)
        b.code(0, 5); // distance 1
    }
    b.code(0, 7); // end of block
    b.put(0, 7);
    b.out.extend_from_slice(&[0, 0, 0, 0]);
    b.out
        .extend_from_slice(&u32::try_from(n % (1 << 32)).unwrap().to_le_bytes());
    b.out
}

/// One scan: healthy pages on `www` and `dept` (from a `SiteServer`), the home page linking
/// to every `links` entry, and `bad` served by `raw`.
struct Outcome {
    run: ScanRun,
    findings: Vec<Finding>,
    complete: bool,
}

impl Outcome {
    fn problem(&self, url: &str) -> (ProblemKind, &str, &str) {
        let p = self
            .run
            .problems
            .iter()
            .find(|p| p.url.as_str() == url)
            .unwrap_or_else(|| {
                let all: Vec<_> = self
                    .run
                    .problems
                    .iter()
                    .map(|p| format!("{} {} {}", p.url, p.code, p.detail))
                    .collect();
                panic!("no problem recorded for {url}; problems: {all:#?}")
            });
        (p.kind, p.code.as_str(), p.detail.as_str())
    }

    fn codes(&self) -> HashMap<String, usize> {
        let mut n = HashMap::new();
        for p in &self.run.problems {
            *n.entry(p.code.clone()).or_default() += 1;
        }
        n
    }

    fn has_finding(&self, email: &str, page: &str) -> bool {
        self.findings
            .iter()
            .any(|f| f.email.to_string() == email && f.page.as_str() == page)
    }

    /// The healthy pages' findings are all there.
    fn assert_healthy(&self) {
        for (email, page) in [
            ("office@hostile-univ.edu.cn", format!("{WWW}/")),
            ("people@hostile-univ.edu.cn", format!("{WWW}/people.html")),
            ("dept@hostile-univ.edu.cn", format!("{DEPT}/")),
        ] {
            assert!(
                self.has_finding(email, &page),
                "missing healthy finding {email} on {page}; findings: {:?}",
                self.findings
                    .iter()
                    .map(|f| format!("{} {}", f.email, f.page))
                    .collect::<Vec<_>>()
            );
        }
    }
}

async fn scenario(
    links: &[String],
    raw: &Raw,
    extra_resolve: Vec<Resolve>,
    tweak: impl FnOnce(&mut Profile),
) -> Outcome {
    let tree = tempfile::tempdir().unwrap();
    let www = tree.path().join("www.hostile-univ.edu.cn");
    let dept = tree.path().join("dept.hostile-univ.edu.cn");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&dept).unwrap();
    let mut home = String::from(
        "<html><head><title>Hostile University</title></head><body>\
         <p>Office: office@hostile-univ.edu.cn</p>\
         <a href=\"/people.html\">People</a> <a href=\"http://dept.hostile-univ.edu.cn/\">Dept</a>\
         <a href=\"ftp://files.hostile-univ.edu.cn/pub/a.pdf\">FTP</a>\
         <a href=\"javascript:void(0)\">JS</a> <a href=\"gopher://hostile-univ.edu.cn/\">G</a>\n",
    );
    for l in links {
        writeln!(home, "<a href=\"{l}\">x</a>").unwrap();
    }
    home.push_str("</body></html>");
    std::fs::write(www.join("index.html"), home).unwrap();
    std::fs::write(
        www.join("people.html"),
        "<html><body><p>People: people@hostile-univ.edu.cn</p></body></html>",
    )
    .unwrap();
    std::fs::write(
        dept.join("index.html"),
        "<html><head><title>Dept</title></head><body>dept@hostile-univ.edu.cn</body></html>",
    )
    .unwrap();
    let server = SiteServer::start(SiteFiles::from_dir(tree.path()).unwrap())
        .await
        .unwrap();
    let mut resolve: Vec<Resolve> = server
        .resolve_entries()
        .iter()
        .map(|r| r.parse().unwrap())
        .collect();
    resolve.push(raw.resolve(BAD_HOST));
    resolve.extend(extra_resolve);

    let mut profile = Profile::parse(Path::new("hostile.toml"), PROFILE).unwrap();
    tweak(&mut profile);
    let classifier = Classifier::from_profile(&profile, chrono::Local::now().date_naive()).unwrap();
    let state = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&state.path().join("state.sqlite")).unwrap());
    let options = ScanOptions {
        resolve,
        progress: None,
        resume: false,
    };
    let (_tx, rx) = watch::channel(false);
    let result = tokio::time::timeout(
        BOUND,
        mailpatrol::scan::scan(&profile, classifier, Arc::clone(&store), options, rx),
    )
    .await
    .expect("the scan finishes within the bound")
    .unwrap();
    drop(server);
    let findings = store.findings_of(&result.run).load_all().unwrap().current;
    Outcome {
        run: result.run,
        findings,
        complete: result.outcome.complete,
    }
}

fn bad(path: &str) -> String {
    format!("{BAD}{path}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn silent_and_trickling_servers_time_out() {
    let raw = Raw::start(vec![("/never", Act::Hang), ("/trickle", Act::Trickle)]).await;
    let out = scenario(&[bad("/never"), bad("/trickle")], &raw, vec![], |_| {}).await;
    out.assert_healthy();
    for path in ["/never", "/trickle"] {
        let (kind, code, detail) = out.problem(&bad(path));
        assert_eq!(
            (kind, code),
            (ProblemKind::Failed, "timeout"),
            "{path}: {detail}"
        );
        assert!(detail.contains("crawl.timeout_secs"), "{detail}");
    }
    assert!(out.complete);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn endless_huge_and_compressed_bodies_stop_at_the_cap() {
    let bomb = Arc::new(gzip_bomb(64 << 20));
    assert!(bomb.len() < 1 << 20, "the bomb is small on the wire");
    let raw = Raw::start(vec![
        ("/endless", Act::Endless),
        ("/huge-declared", Act::HugeDeclared),
        // Chunked with no length: the same stream as /endless, bounded only by the cap.
        ("/huge-chunked", Act::Endless),
        ("/bomb", Act::GzipBomb(bomb)),
    ])
    .await;
    let links = ["/endless", "/huge-declared", "/huge-chunked", "/bomb"].map(bad);
    let out = scenario(&links, &raw, vec![], |_| {}).await;
    out.assert_healthy();
    for path in ["/endless", "/huge-declared", "/huge-chunked", "/bomb"] {
        let (kind, code, detail) = out.problem(&bad(path));
        assert_eq!(
            (kind, code),
            (ProblemKind::Skipped, "too-large"),
            "{path}: {detail}"
        );
        assert!(detail.contains("crawl.max_bytes"), "{detail}");
    }
    // Declared sizes are refused before reading.
    let (_, _, detail) = out.problem(&bad("/huge-declared"));
    assert!(detail.contains("1073741824 bytes"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redirect_loops_chains_and_escapes_are_listed() {
    let mut routes = vec![
        ("/loop-a", Act::Redirect("/loop-b".into())),
        ("/loop-b", Act::Redirect("/loop-a".into())),
        ("/self", Act::Redirect(bad("/self#again"))),
        (
            "/internal",
            Act::Redirect("http://127.0.0.1:9/admin".into()),
        ),
        ("/private", Act::Redirect("http://10.1.2.3/intranet".into())),
        ("/localhost", Act::Redirect("http://localhost/".into())),
        (
            "/offscope",
            Act::Redirect("http://evil.example.org/landing".into()),
        ),
        (
            "/ftp",
            Act::Redirect("ftp://files.hostile-univ.edu.cn/a.pdf".into()),
        ),
    ];
    let hops: Vec<&'static str> = (0..30)
        .map(|i| &*Box::leak(format!("/chain/{i}/").into_boxed_str()))
        .collect();
    for (i, hop) in hops.iter().enumerate() {
        routes.push((hop, Act::Redirect(format!("/chain/{}/", i + 1))));
    }
    let raw = Raw::start(routes).await;
    let paths = [
        "/loop-a",
        "/self",
        "/internal",
        "/private",
        "/localhost",
        "/offscope",
        "/ftp",
        "/chain/0/",
    ];
    let out = scenario(&paths.map(bad), &raw, vec![], |_| {}).await;
    out.assert_healthy();
    let expect = [
        ("/loop-b", ProblemKind::Failed, "redirect-loop"),
        ("/self", ProblemKind::Failed, "redirect-loop"),
        ("/internal", ProblemKind::Skipped, "redirect-internal"),
        ("/private", ProblemKind::Skipped, "redirect-internal"),
        ("/localhost", ProblemKind::Skipped, "redirect-internal"),
        ("/offscope", ProblemKind::Skipped, "redirect-out-of-scope"),
        ("/ftp", ProblemKind::Skipped, "unsupported-scheme"),
        ("/chain/10/", ProblemKind::Failed, "too-many-redirects"),
    ];
    for (path, kind, code) in expect {
        let (k, c, detail) = out.problem(&bad(path));
        assert_eq!((k, c), (kind, code), "{path}: {detail}");
    }
    // Nothing past the tenth hop was requested, and nothing outside loopback was touched.
    assert!(
        !out.run
            .pages
            .iter()
            .any(|p| p.url.as_str().contains("/chain/"))
    );
    assert!(out.complete);
}

/// `/f/` is a page of 100,000 links (`/f/0` …); every other page is a leaf.
fn flood(target: &str) -> String {
    if target != "/f/" {
        return "<p>leaf</p>".to_string();
    }
    let mut page = String::from("<html><body>");
    for i in 0..100_000 {
        write!(page, "<a href={i}>").unwrap();
    }
    page.push_str("</body></html>");
    page
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn link_floods_and_runaway_hosts_are_capped() {
    let raw = Raw::start(vec![("/f/", Act::Generate(flood))]).await;
    let out = scenario(&[bad("/f/")], &raw, vec![], |p| {
        p.crawl.max_pages_per_host = 50;
    })
    .await;
    out.assert_healthy();
    let (kind, code, detail) = out.problem(&bad("/f/"));
    assert_eq!(
        (kind, code),
        (ProblemKind::Skipped, "too-many-links"),
        "{detail}"
    );
    assert!(detail.contains("100000 distinct links"), "{detail}");
    assert!(detail.contains("crawl.max_links_per_page"), "{detail}");
    let codes = out.codes();
    // 1,000 links followed, 50 pages on the host: the rest hit the host budget.
    assert_eq!(
        codes.get("host-page-limit"),
        Some(&(1000 + 1 - 50)),
        "{codes:?}"
    );
    let on_bad = out
        .run
        .pages
        .iter()
        .filter(|p| p.url.as_str().starts_with(BAD))
        .count();
    assert_eq!(on_bad, 50);
    assert!(!out.complete, "a budget cut the run short");
    assert!(raw.hits.load(Ordering::Relaxed) <= 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_types_and_broken_encodings() {
    let mut invalid = b"<html><body><p>\xff\xfe\xc3(broken \x80\x81 bytes</p>".to_vec();
    invalid.extend_from_slice(b"<p>bad-utf8@hostile-univ.edu.cn</p></body></html>");
    // UTF-8 text, then GBK bytes of "\xe8\x81\x94\xe7\xb3\xbb" (contact), then an address.
    let mut mixed = "<html><body><p>邮箱：</p>".as_bytes().to_vec();
    mixed.extend_from_slice(
        b"<p>\xc1\xaa\xcf\xb5</p><p>mixed@hostile-univ.edu.cn</p></body></html>",
    );
    let raw = Raw::start(vec![
        (
            "/picture",
            Act::Body("image/png", b"<p>img@hostile-univ.edu.cn</p>".to_vec()),
        ),
        ("/invalid", Act::Body("text/html; charset=utf-8", invalid)),
        ("/mixed", Act::Body("text/html", mixed)),
    ])
    .await;
    let out = scenario(
        &["/picture", "/invalid", "/mixed"].map(bad),
        &raw,
        vec![],
        |_| {},
    )
    .await;
    out.assert_healthy();
    let (kind, code, detail) = out.problem(&bad("/picture"));
    assert_eq!(
        (kind, code),
        (ProblemKind::Skipped, "not-a-page"),
        "{detail}"
    );
    assert!(out.has_finding("bad-utf8@hostile-univ.edu.cn", &bad("/invalid")));
    assert!(out.has_finding("mixed@hostile-univ.edu.cn", &bad("/mixed")));
    // Non-HTTP links on the home page are dropped by the extractor, not fetched or listed.
    assert!(!out.run.problems.iter().any(|p| p.url.scheme() != "http"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resets_and_truncated_bodies_fail_cleanly() {
    let raw = Raw::start(vec![("/reset", Act::Reset), ("/short", Act::Short)]).await;
    let out = scenario(&[bad("/reset"), bad("/short")], &raw, vec![], |_| {}).await;
    out.assert_healthy();
    let (kind, code, detail) = out.problem(&bad("/reset"));
    assert_eq!(
        (kind, code),
        (ProblemKind::Failed, "connection-reset"),
        "{detail}"
    );
    let (kind, code, detail) = out.problem(&bad("/short"));
    assert_eq!((kind, code), (ProblemKind::Failed, "truncated"), "{detail}");
}

fn calendar(target: &str) -> String {
    let month: i64 = target
        .split("month=")
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    format!(
        "<a href=\"/cal?month={}\">next</a><a href=\"/cal?month={}\">prev</a>",
        month + 1,
        month - 1
    )
}

fn session(target: &str) -> String {
    // A new session id in every link, as a badly configured Java or PHP site does.
    let n = target.len() * 7919 + usize::from(target.ends_with('a'));
    format!(
        "<a href=\"/sess/list.jsp;jsessionid={n:032X}\">list</a>\
         <a href=\"/sess/page.php?PHPSESSID={n:040x}&amp;page=1\">page</a>\
         <a href=\"/sess/page.php?page=1&amp;sid={n:024x}\">page</a>"
    )
}

fn deeper(target: &str) -> String {
    format!("<a href=\"{target}next/\">deeper</a>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calendar_session_and_path_traps_end() {
    let raw = Raw::start(vec![
        ("/cal", Act::Generate(calendar)),
        ("/sess/", Act::Generate(session)),
        ("/deep/", Act::Generate(deeper)),
    ])
    .await;
    let links = ["/cal?month=0", "/sess/start.jsp", "/deep/"].map(bad);
    let out = scenario(&links, &raw, vec![], |p| p.crawl.max_depth = 40).await;
    out.assert_healthy();
    let codes = out.codes();
    assert!(codes.get("trap").is_some_and(|&n| n >= 1), "{codes:?}");
    let trap = out.run.problems.iter().find(|p| p.code == "trap").unwrap();
    assert!(
        trap.detail.contains("crawl.max_query_variants"),
        "{}",
        trap.detail
    );
    assert!(
        codes.get("depth-limit").is_some_and(|&n| n >= 1),
        "{codes:?}"
    );
    // Session ids are stripped: each page is fetched once, under its clean URL.
    let sess: Vec<&str> = out
        .run
        .pages
        .iter()
        .map(|p| p.url.as_str())
        .filter(|u| u.contains("/sess/"))
        .collect();
    assert_eq!(sess.len(), 3, "{sess:?}");
    assert!(
        sess.contains(&format!("{BAD}/sess/list.jsp").as_str()),
        "{sess:?}"
    );
    assert!(
        sess.contains(&format!("{BAD}/sess/page.php?page=1").as_str()),
        "{sess:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_host_is_given_up() {
    let raw = Raw::start(vec![("/dead/", Act::Hang)]).await;
    let links: Vec<String> = (0..10).map(|i| bad(&format!("/dead/{i}"))).collect();
    let out = scenario(&links, &raw, vec![], |p| {
        p.crawl.host_failure_limit = 3;
        p.crawl.per_host_concurrency = 2;
        p.crawl.retries = 0;
    })
    .await;
    out.assert_healthy();
    let codes = out.codes();
    let timeouts = codes.get("timeout").copied().unwrap_or(0);
    let given_up = codes.get("host-failing").copied().unwrap_or(0);
    assert_eq!(timeouts + given_up, 10, "{codes:?}");
    assert!((3..=4).contains(&timeouts), "{codes:?}");
    let p = out
        .run
        .problems
        .iter()
        .find(|p| p.code == "host-failing")
        .unwrap();
    assert_eq!(p.kind, ProblemKind::Skipped);
    assert!(
        p.detail.contains("crawl.host_failure_limit"),
        "{}",
        p.detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_errors_are_listed() {
    // A plain-HTTP server on a port the link says is HTTPS: the handshake fails.
    let raw = Raw::start(vec![("/", Act::Body("text/html", b"plain".to_vec()))]).await;
    let host = "tls.hostile-univ.edu.cn";
    let url = format!("https://{host}:{}/", raw.port);
    let same_port: Resolve = format!("{host}:{}:127.0.0.1", raw.port).parse().unwrap();
    let out = scenario(std::slice::from_ref(&url), &raw, vec![same_port], |p| {
        p.crawl.respect_robots = false;
    })
    .await;
    out.assert_healthy();
    let (kind, code, detail) = out.problem(&url);
    assert_eq!((kind, code), (ProblemKind::Failed, "tls"), "{detail}");
}
