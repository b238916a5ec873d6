//! Document extraction benchmark (not a test): `cargo run --release --example bench_documents`.
//!
//! Generates a 300-page Chinese PDF the way Word and WPS write them (a Type0 font with
//! Identity-H codes and a ToUnicode map, 12,000 lines, one address on each, every institutional
//! address switching to Helvetica in the middle of the word), then measures per-format
//! throughput (MB/s and documents/s) over it and over every fixture in
//! `tests/fixtures/documents/`, and runs poppler's `pdftotext` on the same PDFs side by side,
//! checking that both find the same addresses. Timings are wall-clock on this machine; the
//! ratio is what matters.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark, not library code"
)]
#![allow(clippy::cast_precision_loss, reason = "rates")]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lopdf::{Document, Object, Stream, dictionary};
use mailpatrol::extract::documents::{Limits, extract, sniff};
use mailpatrol::extract::find_addresses;

const PAGES: usize = 300;
const LINES: usize = 40;

/// Writes the generated PDF and returns its bytes.
fn make_pdf() -> Vec<u8> {
    // The characters the text uses, each given a CID (its index + 1).
    let lines: Vec<(String, &str, String)> = (0..PAGES * LINES)
        .map(|i| {
            if i % 2 == 0 {
                (
                    format!("第{i}条：联系人张老师，邮箱：staff{i}@"),
                    "ustl",
                    ".edu.cn，电话：0412-5929000。".to_string(),
                )
            } else {
                (
                    format!("以往收集材料使用的邮箱{i}@qq.com不再接收材料，请各单位排查。"),
                    "",
                    String::new(),
                )
            }
        })
        .collect();
    let mut chars: Vec<char> = lines
        .iter()
        .flat_map(|(a, _, c)| a.chars().chain(c.chars()))
        .collect();
    chars.sort_unstable();
    chars.dedup();
    let cid: BTreeMap<char, u16> = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| (c, u16::try_from(i + 1).unwrap()))
        .collect();
    let encode = |s: &str| -> Vec<u8> { s.chars().flat_map(|c| cid[&c].to_be_bytes()).collect() };

    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Bench-UCS def /CMapType 2 def\n\
         1 begincodespacerange <0000> <FFFF> endcodespacerange\n",
    );
    for chunk in chars.chunks(100) {
        let _ = writeln!(cmap, "{} beginbfchar", chunk.len());
        for c in chunk {
            let mut u = [0u16; 2];
            let mut units = String::new();
            for x in c.encode_utf16(&mut u).iter() {
                let _ = write!(units, "{x:04X}");
            }
            let _ = writeln!(cmap, "<{:04X}> <{units}>", cid[c]);
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap CMapName currentdict /CMap defineresource pop end end\n");
    let to_unicode = doc.add_object(Stream::new(dictionary! {}, cmap.into_bytes()));
    let widths: Vec<Object> = chars
        .iter()
        .map(|c| Object::Integer(if c.is_ascii() { 500 } else { 1000 }))
        .collect();
    let descendant = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "CIDFontType2", "BaseFont" => "SimSun",
        "CIDSystemInfo" => dictionary! { "Registry" => Object::string_literal("Adobe"), "Ordering" => Object::string_literal("Identity"), "Supplement" => 0 },
        "DW" => 1000, "W" => vec![Object::Integer(1), Object::Array(widths)],
    });
    let f1 = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type0", "BaseFont" => "SimSun", "Encoding" => "Identity-H",
        "DescendantFonts" => vec![Object::Reference(descendant)], "ToUnicode" => to_unicode,
    });
    let f2 = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding" });
    let resources =
        doc.add_object(dictionary! { "Font" => dictionary! { "F1" => f1, "F2" => f2 } });
    let mut kids = Vec::new();
    for p in 0..PAGES {
        let mut content = Vec::new();
        for l in 0..LINES {
            let (a, latin, c) = &lines[p * LINES + l];
            let y = 800 - 19 * l;
            content.extend_from_slice(format!("BT /F1 10 Tf 40 {y} Td <").as_bytes());
            content.extend(
                encode(a)
                    .iter()
                    .flat_map(|b| format!("{b:02X}").into_bytes()),
            );
            content.extend_from_slice(b"> Tj");
            if !latin.is_empty() {
                content
                    .extend_from_slice(format!(" /F2 10 Tf ({latin}) Tj /F1 10 Tf <").as_bytes());
                content.extend(
                    encode(c)
                        .iter()
                        .flat_map(|b| format!("{b:02X}").into_bytes()),
                );
                content.extend_from_slice(b"> Tj");
            }
            content.extend_from_slice(b" ET\n");
        }
        let mut stream = Stream::new(dictionary! {}, content);
        stream.compress().expect("compress");
        let contents = doc.add_object(stream);
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "Contents" => contents, "Resources" => resources,
        });
        kids.push(Object::Reference(page));
    }
    let count = i64::try_from(kids.len()).unwrap();
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save");
    out
}

/// Runs `f` until at least `min` has passed (and at least 3 times); returns the mean time.
fn time<F: FnMut()>(min: Duration, mut f: F) -> Duration {
    let start = Instant::now();
    let mut n = 0u32;
    while n < 3 || start.elapsed() < min {
        f();
        n += 1;
    }
    start.elapsed() / n
}

fn addresses_ours(bytes: &[u8], name: &str) -> Vec<String> {
    let format = sniff(bytes, Some(name), None).expect("format");
    let ex = extract(bytes, format, &Limits::default()).expect("extract");
    let mut v: Vec<String> = ex
        .segments
        .iter()
        .flat_map(|s| {
            find_addresses(&s.text)
                .into_iter()
                .map(|c| c.address.to_string())
        })
        .collect();
    v.sort();
    v
}

fn pdftotext(path: &Path) -> Option<String> {
    let out = Command::new("pdftotext")
        .arg("-q")
        .arg(path)
        .arg("-")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn main() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/documents");
    let tmp = std::env::temp_dir().join(format!("mailpatrol-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("tmp");
    let t = Instant::now();
    let big = make_pdf();
    let big_path = tmp.join("big300.pdf");
    std::fs::write(&big_path, &big).expect("write");
    println!(
        "generated big300.pdf: {PAGES} pages, {:.1} MB, in {:.2} s\n",
        big.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let mut files: Vec<(String, PathBuf)> = vec![("big300.pdf".into(), big_path.clone())];
    let mut names: Vec<_> = std::fs::read_dir(&fixtures)
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e != "py"))
        .collect();
    names.sort();
    for p in names {
        files.push((p.file_name().unwrap().to_string_lossy().into_owned(), p));
    }

    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>9}",
        "file", "KB", "ms/doc", "docs/s", "MB/s"
    );
    let min = Duration::from_millis(400);
    for (name, path) in &files {
        let bytes = std::fs::read(path).expect("read");
        let Some(format) = sniff(&bytes, Some(name), None) else {
            continue;
        };
        let limits = Limits::default();
        let per = time(min, || {
            let _ = std::hint::black_box(extract(&bytes, format, &limits));
        });
        let s = per.as_secs_f64();
        println!(
            "{:<22} {:>10.1} {:>10.3} {:>10.1} {:>9.2}",
            name,
            bytes.len() as f64 / 1e3,
            s * 1e3,
            1.0 / s,
            bytes.len() as f64 / 1e6 / s
        );
    }

    println!("\nPDF side by side with poppler pdftotext (process start included for pdftotext):");
    println!(
        "{:<20} {:>12} {:>14} {:>8} {:>10}",
        "file", "ours ms", "pdftotext ms", "speedup", "addresses"
    );
    for (name, path) in files
        .iter()
        .filter(|(_, p)| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf")))
    {
        let bytes = std::fs::read(path).expect("read");
        let Some(theirs_text) = pdftotext(path) else {
            println!(
                "{name:<20} pdftotext failed or is not installed (apt-get install poppler-utils)"
            );
            continue;
        };
        let ours = time(min, || {
            let _ = std::hint::black_box(extract(
                &bytes,
                sniff(&bytes, None, None).expect("pdf"),
                &Limits::default(),
            ));
        });
        let theirs = time(min, || {
            let _ = std::hint::black_box(pdftotext(path));
        });
        let Ok(_) = sniff(&bytes, None, None)
            .map(|f| extract(&bytes, f, &Limits::default()))
            .expect("fmt")
        else {
            println!("{name:<20} (no text layer: needs OCR)");
            continue;
        };
        let a = addresses_ours(&bytes, name);
        let mut b: Vec<String> = find_addresses(&theirs_text)
            .into_iter()
            .map(|c| c.address.to_string())
            .collect();
        b.sort();
        println!(
            "{:<20} {:>12.2} {:>14.2} {:>7.1}x {:>10}",
            name,
            ours.as_secs_f64() * 1e3,
            theirs.as_secs_f64() * 1e3,
            theirs.as_secs_f64() / ours.as_secs_f64(),
            if a == b {
                format!("same {}", a.len())
            } else {
                format!("DIFFER {}/{}", a.len(), b.len())
            }
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
