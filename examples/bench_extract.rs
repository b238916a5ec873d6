//! Throughput of the address finder, side by side with ripgrep finding plain addresses over
//! the same bytes (issue #3). A benchmark, not a test: timings depend on the machine.
//!
//! ```text
//! cargo run --release --example bench_extract -- [--mb 200] [--page-mb 50] [--keep]
//! cargo run --release --example bench_extract -- --mb 200 --profile-only   # for `perf record`
//! ```
//!
//! It generates `--mb` megabytes of page-like text (Chinese notices and English prose from
//! the corpus seeds, markup noise, CSS at-rules, Weibo handles, package pins, retina names,
//! and an address every ~3 KB in every supported form), writes it to a temp file, and times
//! on one core: `extract::find_addresses` over the text, `extract::html` over whole pages
//! (parse + visible text + extraction), and `rg -j1 -o` with a plain address regex (pinned
//! with `taskset -c 0` when available).

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::Command;
use std::time::Instant;

use mailpatrol::extract;
use mailpatrol::model::Form;
use url::Url;

const SEEDS: &str = include_str!("../tests/fixtures/corpus/seeds.txt");

const RG_REGEX: &str = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}";

/// Deterministic xorshift: the benchmark must generate the same bytes on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n as u64)).unwrap_or(0)
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const LOCALS: &[&str] = &[
    "zhang",
    "li.ming",
    "wang_xiao",
    "chen-hui",
    "zhao2019",
    "office",
    "jwc",
    "yjsy",
    "kyc",
    "liuwei88",
    "12345678",
];
const DOMAINS: &[&str] = &[
    "ustl.edu.cn",
    "mail.ustl.edu.cn",
    "163.com",
    "qq.com",
    "kust.edu.cn",
    "gmail.com",
    "whut.edu.cn",
    "126.com",
    "sina.com",
];
const ENGLISH: &[&str] = &[
    "The department will hold its annual meeting at the main hall. ",
    "Applications are reviewed on a rolling basis; please include a CV and two letters. ",
    "More information at www.ustl.edu.cn or by phone. ",
    "We met at noon. The hall was full of students and staff. ",
    "Office hours: Monday to Friday, 8:30-11:30 and 13:30-17:00. ",
];
const NOISE: &[&str] = &[
    "<div class=\"nav\"><ul><li><a href=\"/index.html\">首页</a></li><li><a href=\"/news/\">新闻</a></li></ul></div>\n",
    "@media screen and (max-width: 768px) { .nav { display: none } }\n",
    "@font-face { font-family: 'SimSun'; src: url(/f.woff2) }\n",
    "<img src=\"/images/logo@2x.png\" alt=\"logo\">\n",
    "<script src=\"https://cdn.jsdelivr.net/npm/jquery@3.6.0/dist/jquery.min.js\"></script>\n",
    "转发 @人民日报：好消息！关注@辽宁科技大学 官方微博 @全体成员 \n",
    "Follow us on Twitter @USTL_news #campus #2024\n",
    "color: #333; background: #fff url(bg@2x.jpg);\n",
    "<table><tr><td>序号</td><td>姓名</td><td>电话</td></tr></table>\n",
];

/// One address in a form picked by the caller's dice: mostly plain, as on real pages.
fn address(rng: &mut Rng) -> String {
    let (l, d) = (rng.pick(LOCALS), rng.pick(DOMAINS));
    match rng.below(20) {
        0 => format!("{l}＠{}", d.replace('.', "．")),
        1 => format!("{l}#{d}（请将#替换为@）"),
        2 => format!("{l}[at]{d}"),
        3 => format!("{l} at {}", d.replace('.', " dot ")),
        4 => format!("{l}艾特{}", d.replace('.', "点")),
        5 => format!("{l} @ {d}"),
        6 => format!("{l}@{}", d.replace('.', "。")),
        _ => format!("{l}@{d}"),
    }
}

/// Page text of at least `bytes` bytes.
fn generate(bytes: usize, rng: &mut Rng) -> String {
    let lines: Vec<&str> = SEEDS.lines().filter(|l| l.len() > 20).collect();
    let mut s = String::with_capacity(bytes + 4096);
    while s.len() < bytes {
        // About 3 KB between addresses: the density of a contact-heavy university site.
        let mut block = 0;
        while block < 2_800 {
            let piece = match rng.below(10) {
                0..=4 => lines[rng.below(lines.len())],
                5 | 6 => rng.pick(ENGLISH),
                _ => rng.pick(NOISE),
            };
            s.push_str(piece);
            s.push('\n');
            block += piece.len() + 1;
        }
        let _ = writeln!(
            s,
            "联系邮箱：{}，电话：0411-5992{:04}",
            address(rng),
            rng.below(10_000)
        );
    }
    s
}

/// The same text cut into HTML pages of about 40 KB.
fn pages(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = &text[..floor(text, limit.min(text.len()))];
    while !rest.is_empty() {
        let cut = floor(rest, 40_000.min(rest.len()));
        let cut = rest[..cut].rfind('\n').map_or(cut, |i| i + 1).max(1);
        let cut = floor(rest, cut.max(1)).max(rest.chars().next().map_or(1, char::len_utf8));
        let body = rest[..cut]
            .replace('&', "&amp;")
            .replace("<script", "&lt;script")
            .replace("<style", "&lt;style");
        out.push(format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>通知公告</title></head><body><div class=\"article\"><p>{}</p></div></body></html>",
            body.replace("\n\n", "</p><p>")
        ));
        rest = &rest[cut..];
    }
    out
}

fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[allow(clippy::cast_precision_loss, reason = "megabytes for display")]
fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut total_mb, mut page_mb, mut keep) = (200usize, 50usize, false);
    let mut profile_only = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--mb" => total_mb = args.next().and_then(|v| v.parse().ok()).unwrap_or(total_mb),
            "--page-mb" => page_mb = args.next().and_then(|v| v.parse().ok()).unwrap_or(page_mb),
            "--keep" => keep = true,
            "--profile-only" => profile_only = true,
            other => {
                eprintln!(
                    "unknown argument {other}; usage: bench_extract [--mb N] [--page-mb N] [--keep] [--profile-only]"
                );
                std::process::exit(2);
            }
        }
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let t = Instant::now();
    let text = generate(total_mb * 1_000_000, &mut rng);
    if profile_only {
        // Only the finder, several times, so a profile is not diluted by generation,
        // ripgrep or the page pass.
        for _ in 0..5 {
            let t = Instant::now();
            let n = extract::find_addresses(&text).len();
            println!("finder: {:.3} s, {n} addresses", t.elapsed().as_secs_f64());
        }
        return;
    }
    let path = std::env::temp_dir().join("mailpatrol_bench_extract.txt");
    let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        eprintln!("cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
    println!(
        "corpus: {:.1} MB, {} '@', generated in {:.1} s, file {}",
        mb(text.len()),
        text.bytes().filter(|&b| b == b'@').count(),
        t.elapsed().as_secs_f64(),
        path.display()
    );

    // The finder over the text, best of three.
    let mut best = f64::MAX;
    let mut found = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        found = extract::find_addresses(&text);
        best = best.min(t.elapsed().as_secs_f64());
    }
    let mut by_form = std::collections::BTreeMap::<Form, usize>::new();
    for c in &found {
        *by_form.entry(c.form).or_default() += 1;
    }
    let finder_mbs = mb(text.len()) / best;
    println!(
        "finder  extract::find_addresses: {:>8.3} s  {:>8.1} MB/s  {} addresses {:?}",
        best,
        finder_mbs,
        found.len(),
        by_form
            .iter()
            .map(|(f, n)| format!("{}={n}", f.as_str()))
            .collect::<Vec<_>>()
    );

    // ripgrep, one thread, pinned to one core when taskset exists.
    let rg = format!("rg -j1 -o '{RG_REGEX}' '{}' | wc -l", path.display());
    let pinned = Command::new("taskset").arg("--version").output().is_ok();
    let cmd = if pinned {
        format!("taskset -c 0 {rg}")
    } else {
        rg
    };
    let mut rg_best = f64::MAX;
    let mut rg_count = String::new();
    for _ in 0..3 {
        let t = Instant::now();
        match Command::new("sh").arg("-c").arg(&cmd).output() {
            Ok(out) if out.status.success() => {
                rg_best = rg_best.min(t.elapsed().as_secs_f64());
                rg_count = String::from_utf8_lossy(&out.stdout).trim().to_string();
            }
            Ok(out) => {
                eprintln!("ripgrep failed: {}", String::from_utf8_lossy(&out.stderr));
                break;
            }
            Err(e) => {
                eprintln!("cannot run sh: {e}");
                break;
            }
        }
    }
    if rg_best < f64::MAX {
        println!(
            "ripgrep {cmd}:\n        {:>8.3} s  {:>8.1} MB/s  {rg_count} matches (plain form only)",
            rg_best,
            mb(text.len()) / rg_best
        );
        println!(
            "finder / ripgrep speed: {:.2}x",
            (mb(text.len()) / best) / (mb(text.len()) / rg_best)
        );
    }

    // Whole pages: parse + visible text + extraction, one page at a time.
    let pages = pages(&text, page_mb * 1_000_000);
    let page_bytes: usize = pages.iter().map(String::len).sum();
    let base = Url::parse("https://www.ustl.edu.cn/notice/index.html").ok();
    if let Some(base) = base {
        let t = Instant::now();
        let mut n = 0;
        for p in &pages {
            n += extract::html(&base, p).emails.len();
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "pages   extract::html over {} pages ({:.1} MB): {:>8.3} s  {:>8.1} MB/s  {n} addresses",
            pages.len(),
            mb(page_bytes),
            secs,
            mb(page_bytes) / secs
        );
    }
    if !keep {
        let _ = std::fs::remove_file(&path);
    }
}
