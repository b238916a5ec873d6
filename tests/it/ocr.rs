//! OCR of address images and scanned notices (tests/fixtures/ocr/, made by make.py with the
//! exact addresses in manifest.json). With the `ocr` feature the test set is read through the
//! same path as a scan; without it, images and scans must end as `needs-ocr` problems that
//! say how to enable OCR. See #9. Accuracy and speed figures: examples/bench_ocr.rs.

use std::path::Path;

use crate::support;

fn fixture(name: &str) -> std::path::PathBuf {
    support::fixtures().join("ocr").join(name)
}

/// `mailpatrol files` over a folder with one address image and one two-page scan; returns
/// the department CSV and errors.csv.
fn files_run(tmp: &Path) -> (String, String) {
    let uploads = tmp.join("uploads/信息中心");
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::copy(fixture("images/correct0.png"), uploads.join("contact.png")).unwrap();
    std::fs::copy(
        fixture("scans/two_pages_300dpi.pdf"),
        uploads.join("scan.pdf"),
    )
    .unwrap();
    let profile = tmp.join("p.toml");
    std::fs::write(
        &profile,
        "name = \"辽宁科技大学\"\nseeds = [\"https://www.ustl.edu.cn/\"]\ndomains = [\"ustl.edu.cn\"]\n",
    )
    .unwrap();
    let day = support::files_command(
        &tmp.join("uploads"),
        &profile,
        &tmp.join("reports"),
        &["--lang", "en"],
    );
    (
        std::fs::read_to_string(day.join("departments/信息中心.csv")).unwrap_or_default(),
        std::fs::read_to_string(day.join("errors.csv")).unwrap(),
    )
}

/// A crawl of a page with an address drawn as an image next to 联系邮箱 and a campus photo;
/// returns the run, its findings and the server (for hit counts).
async fn crawl_images() -> (support::Scanned, mailpatrol::site::SiteServer) {
    use std::sync::Arc;
    let site = tempfile::tempdir().unwrap();
    let www = site.path().join("www.img-univ.edu.cn");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(
        www.join("index.html"),
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>学院</title></head><body>\
         <p>学院办公室负责日常行政事务。</p><p>联系邮箱：<img src=\"/mail.png\"></p>\
         <img src=\"/campus.jpg\" alt=\"校园风光\"><a href=\"/a.html\">通知</a> <a href=\"/b.html\">简介</a></body></html>",
    )
    .unwrap();
    // The same address image in the footer of every page: fetched and read once.
    for name in ["a.html", "b.html"] {
        std::fs::write(
            www.join(name),
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>学院</title></head><body>\
             <p>学院新闻。</p><p>联系邮箱：<img src=\"/mail.png\"></p></body></html>",
        )
        .unwrap();
    }
    std::fs::copy(fixture("images/correct0.png"), www.join("mail.png")).unwrap();
    std::fs::copy(
        fixture("images/photo_no_address.jpg"),
        www.join("campus.jpg"),
    )
    .unwrap();
    let server = mailpatrol::site::SiteServer::start(
        mailpatrol::site::SiteFiles::from_dir(site.path()).unwrap(),
    )
    .await
    .unwrap();
    let profile = mailpatrol::profile::Profile::parse(
        Path::new("img.toml"),
        "name = \"图片大学\"\nseeds = [\"http://www.img-univ.edu.cn/\"]\ndomains = [\"img-univ.edu.cn\"]\n[crawl]\ndelay_ms = 0\nsitemaps = false\n",
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let store = Arc::new(mailpatrol::store::Store::open(&state.path().join("s.sqlite")).unwrap());
    let classifier =
        mailpatrol::classify::Classifier::from_profile(&profile, chrono::Local::now().date_naive())
            .unwrap();
    let options = mailpatrol::scan::ScanOptions {
        resolve: support::resolve(&server),
        progress: None,
        resume: false,
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let result = mailpatrol::scan::scan(&profile, classifier, Arc::clone(&store), options, rx)
        .await
        .unwrap();
    (support::loaded(&store, result.run, result.outcome), server)
}

#[cfg(not(feature = "ocr"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_ocr_page_images_that_may_hold_an_address_are_listed_as_needs_ocr() {
    let (run, server) = crawl_images().await;
    let p = run
        .problems
        .iter()
        .find(|p| p.url.path() == "/mail.png")
        .expect("the address image is listed");
    assert_eq!(p.code, "needs-ocr", "{p:?}");
    assert_eq!(
        server.hits("www.img-univ.edu.cn", "/campus.jpg"),
        0,
        "photos are not fetched"
    );
}

#[cfg(not(feature = "ocr"))]
#[test]
fn without_ocr_images_and_scans_are_listed_as_needs_ocr() {
    let tmp = tempfile::tempdir().unwrap();
    let (csv, errors) = files_run(tmp.path());
    for file in ["contact.png", "scan.pdf"] {
        let line = errors
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file} missing from errors.csv:\n{errors}"));
        assert!(line.contains("needs-ocr"), "{line}");
        assert!(
            line.contains("--features ocr"),
            "says how to enable OCR: {line}"
        );
    }
    assert!(
        !csv.contains("ustl.edu.cn,"),
        "nothing read without OCR:\n{csv}"
    );
}

#[cfg(feature = "ocr")]
mod with_ocr {
    use std::collections::BTreeSet;

    use mailpatrol::extract::{self, documents::Limits};
    use mailpatrol::model::Source;
    use mailpatrol::ocr::Ocr;
    use mailpatrol::profile::OcrSettings;

    use super::*;

    fn limits() -> Limits {
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
        let ocr = Ocr::new(&OcrSettings::default(), known).unwrap();
        assert_eq!(ocr.unavailable(), None, "tesseract-ocr-eng is installed");
        Limits {
            ocr: Some(ocr),
            ..Limits::default()
        }
    }

    /// (location, address, evidence) read from one fixture file.
    fn read(name: &str) -> Vec<(Option<String>, String, Option<String>, Source)> {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let doc = extract::document(&bytes, Some(name), None, &limits()).unwrap();
        doc.emails
            .into_iter()
            .map(|c| (c.location, c.address.to_string(), c.evidence, c.source))
            .collect()
    }

    #[test]
    fn a_misread_domain_is_corrected_with_the_raw_reading_kept() {
        let got = read("images/correct0.png");
        assert_eq!(got.len(), 1, "{got:?}");
        let (location, address, evidence, source) = &got[0];
        assert_eq!(address, "zhang.wei@qq.com");
        assert_eq!(location.as_deref(), Some("image"));
        assert_eq!(*source, Source::Ocr);
        let evidence = evidence.as_deref().unwrap_or_default();
        assert!(
            evidence.starts_with("OCR ")
                && evidence
                    .to_lowercase()
                    .contains("read as zhang.wei@qq.corn, corrected"),
            "{evidence}"
        );
    }

    #[test]
    fn a_photo_yields_no_address() {
        assert_eq!(read("images/photo_no_address.jpg"), Vec::new());
    }

    #[test]
    fn a_multi_page_scan_keeps_page_numbers() {
        let got = read("scans/two_pages_300dpi.pdf");
        assert!(!got.is_empty());
        assert!(
            got.iter()
                .all(|(l, ..)| matches!(l.as_deref(), Some("page 1" | "page 2"))),
            "{got:?}"
        );
        let page2: BTreeSet<&str> = got
            .iter()
            .filter(|(l, ..)| l.as_deref() == Some("page 2"))
            .map(|(_, a, ..)| a.as_str())
            .collect();
        assert_eq!(page2, BTreeSet::from(["li.ming61@sina.com"]), "{got:?}");
    }

    /// Every scanned notice of the set (300 and 150 dpi) gives exactly the addresses of
    /// each of its pages: none missed, none misread.
    #[test]
    fn scanned_notices_give_exactly_their_addresses_page_by_page() {
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fixture("manifest.json")).unwrap()).unwrap();
        let scans = manifest["scans"].as_array().unwrap();
        assert!(scans.len() >= 6);
        for scan in scans {
            let file = scan["file"].as_str().unwrap();
            let mut expected = BTreeSet::new();
            for (page, addresses) in scan["pages"].as_object().unwrap() {
                for a in addresses.as_array().unwrap() {
                    expected.insert((format!("page {page}"), a.as_str().unwrap().to_string()));
                }
            }
            let got: BTreeSet<(String, String)> = read(file)
                .into_iter()
                .map(|(l, a, ..)| (l.unwrap_or_default(), a))
                .collect();
            assert_eq!(got, expected, "{file}");
        }
    }

    /// Where OCR is not sure, it reports no address rather than a wrong one, and says so:
    /// every image of 14 px or more gives either its own address or, when its readings
    /// disagree (or a thin-stroke reading shows a lost separator: `ma.qiang35`, which every
    /// usual reading gives as `maqiang35`), an `ocr-uncertain` problem.
    #[test]
    fn an_unsure_reading_gives_an_ocr_uncertain_problem_not_an_address() {
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fixture("manifest.json")).unwrap()).unwrap();
        let mut uncertain = 0;
        for item in manifest["images"].as_array().unwrap() {
            let file = item["file"].as_str().unwrap();
            if item["px"].as_u64().unwrap_or(0) < 14
                || item["addresses"].as_array().unwrap().is_empty()
            {
                continue;
            }
            let bytes = std::fs::read(fixture(file)).unwrap();
            let doc = extract::document(&bytes, Some(file), None, &limits()).unwrap();
            let found: BTreeSet<String> =
                doc.emails.iter().map(|c| c.address.to_string()).collect();
            let expected: BTreeSet<String> = item["addresses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            assert!(found.is_subset(&expected), "{file}: {found:?}");
            if found != expected {
                let p = doc.problems.iter().find(|p| p.code == "ocr-uncertain");
                let p = p.unwrap_or_else(|| panic!("{file}: missed without a word"));
                assert!(p.detail.contains("check the image by eye"), "{p:?}");
                uncertain += 1;
            }
        }
        // A bound so the test cannot pass by reading nothing (2 when this was written:
        // `ma.qiang35` and the `wu.xiaoli56` / `wu.xiaolis6` tie).
        assert!(uncertain <= 3, "{uncertain} images of 14 px or more unread");
    }

    /// A regression floor, not the goal (95%): the figure is measured by
    /// examples/bench_ocr.rs and quoted in bench/README.md (36 of 38 when this was written;
    /// here without the two `corrected` images: 34 of 36, 94.4%; the floor leaves one image).
    #[test]
    fn most_addresses_in_images_of_14_px_and_more_are_read_exactly() {
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fixture("manifest.json")).unwrap()).unwrap();
        let (mut expected, mut exact) = (0, 0);
        for item in manifest["images"].as_array().unwrap() {
            if item["px"].as_u64().unwrap_or(0) < 14 || item["style"] == "corrected" {
                continue;
            }
            let file = item["file"].as_str().unwrap();
            let found: BTreeSet<String> = read(file).into_iter().map(|(_, a, ..)| a).collect();
            for a in item["addresses"].as_array().unwrap() {
                expected += 1;
                exact += usize::from(found.contains(a.as_str().unwrap()));
            }
        }
        assert!(expected >= 30);
        assert!(exact * 100 >= expected * 90, "{exact} of {expected}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_address_image_on_a_page_is_read_and_photos_are_not_fetched() {
        let (run, server) = crawl_images().await;
        let f = run
            .findings
            .iter()
            .find(|f| f.email.to_string() == "zhang.wei@qq.com")
            .unwrap_or_else(|| panic!("{:?} {:?}", run.findings, run.problems));
        assert_eq!(f.page.path(), "/mail.png");
        assert_eq!(f.source, Source::Ocr);
        assert_eq!(f.linked_from.as_ref().map(url::Url::path), Some("/"));
        assert_eq!(server.hits("www.img-univ.edu.cn", "/campus.jpg"), 0);
        assert_eq!(server.hits("www.img-univ.edu.cn", "/b.html"), 1);
        assert_eq!(server.hits("www.img-univ.edu.cn", "/mail.png"), 1);
        assert_eq!(run.counters.ocr_images, 1);
    }

    #[test]
    fn uploaded_scans_and_images_give_findings_marked_ocr() {
        let tmp = tempfile::tempdir().unwrap();
        let (csv, errors) = files_run(tmp.path());
        let line = csv
            .lines()
            .find(|l| l.contains("zhang.wei@qq.com"))
            .unwrap_or_else(|| panic!("{csv}\n{errors}"));
        assert!(
            line.contains(",ocr,") && line.contains("corrected"),
            "{line}"
        );
        assert!(
            csv.lines()
                .any(|l| l.contains("li.ming61@sina.com") && l.contains(",page 2,")),
            "{csv}"
        );
    }
}
