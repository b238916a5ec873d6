//! Notice documents: the same Chinese notice saved in every format by a real office program
//! (tests/fixtures/documents/make.py), and hostile files. For each format the exact addresses,
//! their locations and the Chinese text around them are checked; each hostile file must end as
//! exactly the expected problem code within a generous time bound.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mailpatrol::extract::documents::{DocProblem, Extracted, Format, Limits, extract, sniff};
use mailpatrol::extract::find_addresses;

fn dir() -> PathBuf {
    super::support::fixtures().join("documents")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn load(name: &str) -> (Format, Result<Extracted, DocProblem>) {
    let bytes = read(name);
    run(&bytes, name)
}

fn run(bytes: &[u8], name: &str) -> (Format, Result<Extracted, DocProblem>) {
    let format = sniff(bytes, Some(name), None).unwrap_or_else(|| panic!("{name}: not recognised"));
    (format, extract(bytes, format, &Limits::default()))
}

/// `(address, location, form, context)` of every address found, in order.
fn found(ex: &Extracted) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for s in &ex.segments {
        for c in find_addresses(&s.text) {
            out.push((
                c.address.to_string(),
                s.location.clone(),
                c.form.as_str().to_string(),
                c.context.clone(),
            ));
        }
    }
    out
}

/// Asserts the three notice addresses at the given locations, each with its Chinese context.
fn assert_notice(name: &str, expected_format: Format, locations: [&str; 3]) {
    let (format, got) = load(name);
    assert_eq!(format, expected_format, "{name}: format");
    let ex = got.unwrap_or_else(|p| panic!("{name}: {p}"));
    assert!(ex.problems.is_empty(), "{name}: problems {:?}", ex.problems);
    let f = found(&ex);
    let brief: Vec<(&str, &str, &str)> = f
        .iter()
        .map(|(a, l, form, _)| (a.as_str(), l.as_str(), form.as_str()))
        .collect();
    assert_eq!(
        brief,
        [
            ("zhang@ustl.edu.cn", locations[0], "plain"),
            ("12345678@qq.com", locations[1], "plain"),
            ("li@ustl.edu.cn", locations[2], "hash_for_at"),
        ],
        "{name}: addresses and locations"
    );
    let contexts: Vec<&str> = f.iter().map(|(_, _, _, c)| c.as_str()).collect();
    for (ctx, needle) in
        contexts
            .iter()
            .zip(["zhang@ustl.edu.cn", "12345678@qq.com", "li#ustl.edu.cn"])
    {
        assert!(
            ctx.contains(needle),
            "{name}: context {ctx:?} lacks {needle}"
        );
    }
    let all: String = ex
        .segments
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for phrase in ["联系人：张老师", "邮箱", "li#ustl.edu.cn（请将#替换为@）"] {
        assert!(
            all.contains(phrase),
            "{name}: text lacks {phrase:?}:\n{all}"
        );
    }
}

#[test]
#[ignore = "prints what every fixture yields; run with --ignored --nocapture"]
fn dump() {
    let mut names: Vec<_> = std::fs::read_dir(dir())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let path = dir().join(&name);
        if !path.is_file()
            || path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("py"))
        {
            continue;
        }
        let (format, got) = load(&name);
        println!("===== {name} ({format:?})");
        match got {
            Ok(ex) => {
                for s in &ex.segments {
                    println!("--- {}\n{}", s.location, s.text);
                }
                for p in &ex.problems {
                    println!("!!! {p}");
                }
                for a in found(&ex) {
                    println!(">>> {a:?}");
                }
            }
            Err(p) => println!("ERR {p}"),
        }
    }
}

#[test]
#[ignore = "prints what every hostile fixture yields; run with --ignored --nocapture"]
fn dump_hostile() {
    for name in [
        "bomb.zip",
        "nested.zip",
        "truncated.pdf",
        "loop.pdf",
        "lol.docx",
        "encrypted.pdf",
    ] {
        let t = Instant::now();
        let (format, got) = load(&format!("hostile/{name}"));
        println!("===== {name} ({format:?}) {:?}", t.elapsed());
        match got {
            Ok(ex) => {
                for s in &ex.segments {
                    println!("--- {}: {:?}", s.location, s.text);
                }
                for p in &ex.problems {
                    println!("!!! {p}");
                }
            }
            Err(p) => println!("ERR {p}"),
        }
    }
}

#[test]
fn every_format_yields_the_notice_addresses_with_locations() {
    let flow = ["body", "body", "body"];
    let paged = ["page 1", "page 2", "page 2"];
    let slides = ["slide 1", "slide 2", "slide 2"];
    let cells = ["sheet 通知!A3", "sheet 联系人!B2", "sheet 联系人!B3"];
    assert_notice("notice.docx", Format::Docx, flow);
    assert_notice("notice.doc", Format::Doc, flow);
    assert_notice("notice.wps", Format::Wps, flow);
    assert_notice("notice.odt", Format::Odt, flow);
    assert_notice("notice.rtf", Format::Rtf, flow);
    assert_notice("notice.txt", Format::Text, ["text", "text", "text"]);
    // LibreOffice's PDF: simple TrueType subsets with ToUnicode; "ustl" is in DejaVu Serif
    // Italic inside the address.
    assert_notice("notice.pdf", Format::Pdf, paged);
    // fpdf2: Identity-H CID font, "ustl" in Helvetica placed by its own BT/ET.
    assert_notice("notice-cid.pdf", Format::Pdf, paged);
    // reportlab: non-embedded STSong-Light with UniGB-UCS2-H.
    assert_notice("notice-stsong.pdf", Format::Pdf, paged);
    assert_notice("notice.ofd", Format::Ofd, paged);
    assert_notice("notice.pptx", Format::Pptx, slides);
    assert_notice("notice.ppt", Format::Ppt, slides);
    assert_notice("notice.xlsx", Format::Xlsx, cells);
    assert_notice("notice.xls", Format::Xls, cells);
    assert_notice("notice.et", Format::Et, cells);
    assert_notice("notice.ods", Format::Ods, cells);
}

#[test]
fn dps_is_the_ppt_layout_under_the_wps_name() {
    let bytes = read("notice.ppt");
    let (format, got) = run(&bytes, "通知.dps");
    assert_eq!(format, Format::Dps);
    let f = found(&got.expect("dps"));
    let addrs: Vec<_> = f
        .iter()
        .map(|(a, l, _, _)| (a.as_str(), l.as_str()))
        .collect();
    assert_eq!(
        addrs,
        [
            ("zhang@ustl.edu.cn", "slide 1"),
            ("12345678@qq.com", "slide 2"),
            ("li@ustl.edu.cn", "slide 2")
        ]
    );
}

#[test]
fn font_change_inside_an_address_is_rejoined() {
    for name in ["notice.pdf", "notice-cid.pdf"] {
        let ex = load(name).1.expect("pdf");
        let page1 = &ex.segments[0];
        assert!(
            page1
                .text
                .contains("联系人：张老师，邮箱：zhang@ustl.edu.cn，电话：0412-5929000。"),
            "{name}: {:?}",
            page1.text
        );
    }
}

#[test]
fn gbk_csv_is_decoded() {
    let (format, got) = load("notice-gbk.csv");
    assert_eq!(format, Format::Text);
    let f = found(&got.expect("csv"));
    let addrs: Vec<_> = f.iter().map(|(a, _, _, _)| a.as_str()).collect();
    assert_eq!(
        addrs,
        ["zhang@ustl.edu.cn", "li@ustl.edu.cn", "12345678@qq.com"]
    );
    assert!(
        f[0].3.contains("张老师,zhang@ustl.edu.cn,办公室"),
        "{:?}",
        f[0].3
    );
}

#[test]
fn zip_entries_are_read_recursively_with_locations() {
    let (format, got) = load("attachments.zip");
    assert_eq!(format, Format::Zip);
    let ex = got.expect("zip");
    assert!(ex.problems.is_empty(), "{:?}", ex.problems);
    let f = found(&ex);
    let addrs: Vec<_> = f
        .iter()
        .map(|(a, l, _, _)| (a.as_str(), l.as_str()))
        .collect();
    assert_eq!(
        addrs,
        [
            ("zhang@ustl.edu.cn", "archive 附件/通知.docx › body"),
            ("12345678@qq.com", "archive 附件/通知.docx › body"),
            ("li@ustl.edu.cn", "archive 附件/通知.docx › body"),
            ("zhang@ustl.edu.cn", "archive 附件/说明.txt › text"),
            ("12345678@qq.com", "archive 附件/说明.txt › text"),
            ("li@ustl.edu.cn", "archive 附件/说明.txt › text"),
            (
                "zhang@ustl.edu.cn",
                "archive 归档/inner.zip › archive 名单.xlsx › sheet 通知!A3"
            ),
            (
                "12345678@qq.com",
                "archive 归档/inner.zip › archive 名单.xlsx › sheet 联系人!B2"
            ),
            (
                "li@ustl.edu.cn",
                "archive 归档/inner.zip › archive 名单.xlsx › sheet 联系人!B3"
            ),
        ]
    );
}

/// Every problem a document produced, whether it failed or partly succeeded.
fn problems(got: &Result<Extracted, DocProblem>) -> Vec<DocProblem> {
    match got {
        Ok(ex) => ex.problems.clone(),
        Err(p) => vec![p.clone()],
    }
}

/// The time bound for hostile files: generous for a loaded CI machine; never a speed check.
const BOUND: Duration = Duration::from_secs(20);

fn assert_one_problem(name: &str, bytes: &[u8], code: &str) -> DocProblem {
    let t = Instant::now();
    let (_, got) = run(bytes, name);
    assert!(t.elapsed() < BOUND, "{name}: took {:?}", t.elapsed());
    let p = problems(&got);
    assert_eq!(p.len(), 1, "{name}: {p:?}");
    assert_eq!(p[0].code, code, "{name}: {p:?}");
    p.into_iter().next().expect("one")
}

#[test]
fn hostile_files_each_end_as_one_problem() {
    let p = assert_one_problem("bomb.zip", &read("hostile/bomb.zip"), "bomb");
    assert_eq!(p.location, "archive zeros.txt");
    let p = assert_one_problem("nested.zip", &read("hostile/nested.zip"), "bomb");
    assert!(p.detail.contains("nested deeper"), "{p}");
    let p = assert_one_problem("truncated.pdf", &read("hostile/truncated.pdf"), "corrupt");
    assert!(p.detail.contains("truncated"), "{p}");
    let p = assert_one_problem("loop.pdf", &read("hostile/loop.pdf"), "corrupt");
    assert!(p.detail.contains("loop"), "{p}");
    let p = assert_one_problem("lol.docx", &read("hostile/lol.docx"), "bomb");
    assert!(p.detail.contains("entities"), "{p}");
    let p = assert_one_problem("encrypted.pdf", &read("hostile/encrypted.pdf"), "encrypted");
    assert_eq!(p.detail, "PDF is password-protected");
    let p = assert_one_problem("scan.pdf", &read("scan.pdf"), "needs-ocr");
    assert!(p.detail.contains("no text layer"), "{p}");
    assert_one_problem("notice.rar", &read("notice.rar"), "unsupported");
    assert_one_problem("notice.7z", &read("notice.7z"), "unsupported");
}

#[test]
fn a_200_mb_file_is_refused_as_too_large() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("big.pdf");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        f.write_all(b"%PDF-1.4\n").expect("write");
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..200 {
            f.write_all(&chunk).expect("write");
        }
    }
    let bytes = std::fs::read(&path).expect("read");
    let p = assert_one_problem("big.pdf", &bytes, "too-large");
    assert!(p.detail.contains("over the"), "{p}");
}

#[test]
fn a_tight_time_budget_ends_as_timeout() {
    let limits = Limits {
        time_budget: Duration::ZERO,
        ..Limits::default()
    };
    let got = extract(&read("notice-cid.pdf"), Format::Pdf, &limits);
    assert_eq!(problems(&got).first().map(|p| p.code), Some("timeout"));
}
