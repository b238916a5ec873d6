//! OCR accuracy and speed on the committed test set (issue #9):
//!
//!     cargo run --release --features ocr --example bench_ocr
//!
//! Reads every image and scan of `tests/fixtures/ocr/manifest.json` through the same path as
//! a scan (`extract::document` with OCR on) and prints, per group, the share of expected
//! addresses recovered exactly, the addresses read that are not expected (false), and
//! images/s or pages/s.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use mailpatrol::extract::{self, documents::Limits};
use mailpatrol::ocr::Ocr;
use mailpatrol::profile::OcrSettings;

#[derive(Default)]
struct Group {
    expected: u32,
    found: u32,
    false_addresses: Vec<String>,
    items: u32,
    seconds: f64,
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ocr");
    let Some(manifest) = std::fs::read(root.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    else {
        eprintln!("cannot read tests/fixtures/ocr/manifest.json (run tests/fixtures/ocr/make.py)");
        std::process::exit(2);
    };
    let known = [
        "qq.com",
        "163.com",
        "126.com",
        "ustl.edu.cn",
        "gmail.com",
        "sina.com",
    ]
    .map(String::from)
    .to_vec();
    let settings = OcrSettings {
        languages: std::env::var("OCR_LANG").unwrap_or_else(|_| "eng".to_string()),
        ..OcrSettings::default()
    };
    let Some(ocr) = Ocr::new(&settings, known) else {
        return;
    };
    if let Some(why) = ocr.unavailable() {
        eprintln!("OCR unavailable: {why}");
        std::process::exit(2);
    }
    let limits = Limits {
        ocr: Some(ocr),
        ..Limits::default()
    };
    let mut groups: Vec<(String, Group)> = Vec::new();
    let mut group = |name: &str| -> usize {
        groups
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| {
                groups.push((name.to_string(), Group::default()));
                groups.len() - 1
            })
    };
    let mut results = Vec::new();
    for item in manifest["images"].as_array().into_iter().flatten() {
        let px = item["px"].as_u64().unwrap_or(0);
        let name = match px {
            0 => "images without address".to_string(),
            p if p >= 14 => "images >= 14 px".to_string(),
            _ => "images 12-13 px".to_string(),
        };
        let expected: BTreeSet<String> = item["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(String::from))
            .collect();
        results.push((
            group(&name),
            item["file"].as_str().unwrap_or("").to_string(),
            vec![(None, expected)],
        ));
    }
    for item in manifest["scans"].as_array().into_iter().flatten() {
        let dpi = item["dpi"].as_u64().unwrap_or(0);
        let pages: Vec<(Option<String>, BTreeSet<String>)> = item["pages"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(n, a)| {
                (
                    Some(format!("page {n}")),
                    a.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str().map(String::from))
                        .collect(),
                )
            })
            .collect();
        results.push((
            group(&format!("scans {dpi} dpi")),
            item["file"].as_str().unwrap_or("").to_string(),
            pages,
        ));
    }
    for (g, file, pages) in results {
        let bytes = std::fs::read(root.join(&file)).unwrap_or_default();
        let start = Instant::now();
        let doc = extract::document(&bytes, Some(&file), None, &limits);
        let seconds = start.elapsed().as_secs_f64();
        let found: BTreeSet<(Option<String>, String)> = doc
            .iter()
            .flat_map(|d| d.emails.iter())
            .map(|c| {
                let loc = c.location.clone().filter(|l| l.starts_with("page"));
                (loc, c.address.to_string())
            })
            .collect();
        for p in doc.iter().flat_map(|d| d.problems.iter()) {
            if p.code == "ocr-uncertain" {
                println!("uncertain {file}: {}", p.detail);
            }
        }
        let grp = &mut groups[g].1;
        grp.items += u32::try_from(pages.len()).unwrap_or(0);
        grp.seconds += seconds;
        let mut expected_all = BTreeSet::new();
        for (loc, expected) in &pages {
            for a in expected {
                grp.expected += 1;
                if found.contains(&(loc.clone(), a.clone())) {
                    grp.found += 1;
                } else {
                    println!("missed  {file} {} {a}", loc.as_deref().unwrap_or(""));
                }
                expected_all.insert(a.clone());
            }
        }
        for (_, a) in &found {
            if !expected_all.contains(a) {
                grp.false_addresses.push(format!("{file}: {a}"));
            }
        }
    }
    println!();
    println!(
        "{:<24} {:>9} {:>9} {:>8} {:>6} {:>8}",
        "group", "expected", "exact", "rate", "false", "items/s"
    );
    for (name, g) in &groups {
        let rate = if g.expected == 0 {
            100.0
        } else {
            100.0 * f64::from(g.found) / f64::from(g.expected)
        };
        println!(
            "{:<24} {:>9} {:>9} {:>7.1}% {:>6} {:>8.2}",
            name,
            g.expected,
            g.found,
            rate,
            g.false_addresses.len(),
            f64::from(g.items) / g.seconds.max(1e-9)
        );
        for f in &g.false_addresses {
            println!("    false: {f}");
        }
    }
}
