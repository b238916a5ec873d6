//! The labelled extraction corpus (`tests/fixtures/corpus/*.toml`): every case is run
//! through the public entry points and scored as a whole. See: #3
//!
//! Scoring: a case expects a multiset of `(address, form)` pairs. A found pair that matches
//! an expected one (same normalised address AND same form) is a true positive; a found pair
//! with no match is a false positive; an expected pair never found is a false negative. So
//! the right address reported with the wrong form counts twice against the finder: once in
//! precision, once in recall. Negative cases expect nothing, so anything found there is a
//! false positive.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use mailpatrol::classify::Classifier;
use mailpatrol::extract;
use mailpatrol::model::{Class, Document, Email};
use mailpatrol::profile::Profile;
use serde::Deserialize;
use url::Url;

/// Issue #3: both must reach this.
const THRESHOLD: f64 = 0.99;

#[derive(Deserialize)]
struct File {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    kind: String,
    input: String,
    expect: Vec<String>,
    #[serde(default)]
    placeholder: Vec<String>,
}

fn load() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let file: File = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        cases.extend(file.case);
    }
    cases
}

fn run(case: &Case) -> Document {
    match case.kind.as_str() {
        "html" => extract::html(
            &Url::parse("https://www.ustl.edu.cn/a/index.html").unwrap(),
            &case.input,
        ),
        "text" => extract::text(&case.input),
        other => panic!("{}: unknown kind {other}", case.name),
    }
}

fn multiset<'a>(pairs: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for p in pairs {
        *m.entry(p.to_string()).or_insert(0) += 1;
    }
    m
}

#[test]
fn corpus_precision_and_recall() {
    let cases = load();
    assert!(cases.len() >= 400, "the corpus has {} cases", cases.len());
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for case in &cases {
        let doc = run(case);
        let found: Vec<String> = doc
            .emails
            .iter()
            .map(|c| format!("{} {}", c.address, c.form.as_str()))
            .collect();
        let mut want = multiset(case.expect.iter().map(String::as_str));
        let mut extra = Vec::new();
        for f in &found {
            match want.get_mut(f) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    tp += 1;
                }
                _ => extra.push(f.clone()),
            }
        }
        let missing: Vec<_> = want
            .into_iter()
            .flat_map(|(k, n)| std::iter::repeat_n(k, n))
            .collect();
        fp += extra.len();
        fneg += missing.len();
        if !extra.is_empty() || !missing.is_empty() {
            failures.push(format!(
                "{}\n    input:   {:?}\n    missing: {missing:?}\n    extra:   {extra:?}",
                case.name, case.input
            ));
        }
    }
    #[allow(clippy::cast_precision_loss, reason = "counts are small")]
    let ratio = |num: usize, den: usize| {
        if den == 0 {
            1.0
        } else {
            num as f64 / den as f64
        }
    };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fneg);
    println!(
        "corpus: {} cases, tp {tp}, fp {fp}, fn {fneg}: precision {precision:.4}, recall {recall:.4}",
        cases.len()
    );
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(
        precision >= THRESHOLD && recall >= THRESHOLD,
        "precision {precision:.4}, recall {recall:.4} (need {THRESHOLD}); {} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Placeholders are extracted (above) and then classed `placeholder` by the shipped rules,
/// never dropped silently.
#[test]
fn corpus_placeholders_are_classed_placeholder() {
    let profile =
        Profile::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/demo.toml")).unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let classifier = Classifier::from_profile(&profile, today).unwrap();
    let mut checked = 0;
    for case in load() {
        for p in &case.placeholder {
            let email = Email::parse(p).unwrap();
            assert_eq!(
                classifier.classify(&email).class,
                Class::Placeholder,
                "{}: {p}",
                case.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} placeholder cases");
}

/// Property tests: any valid address, in any supported text form, embedded in arbitrary
/// text, is found with its form; no input makes the extractor panic; normalising is
/// idempotent. See: #3
mod properties {
    use mailpatrol::extract;
    use mailpatrol::model::{Email, Form};
    use proptest::prelude::*;
    use url::Url;

    /// Characters that end an address on every side in real pages: Chinese punctuation and
    /// line breaks. (A letter or a dot would legitimately extend the address.)
    const SEPARATORS: &[&str] = &["\n", "，", "；", "（", "）", "：", "、", "\n\n"];

    fn local() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9]{0,9}([._-][a-z0-9]{1,6})?"
    }

    fn domain() -> impl Strategy<Value = String> {
        (
            "[a-z][a-z0-9]{1,9}",
            prop::sample::select(vec![
                "edu.cn", "com", "cn", "net", "org", "com.cn", "gov.cn",
            ]),
        )
            .prop_map(|(label, suffix)| format!("{label}.{suffix}"))
            // `it.com` or `co.com` are themselves public suffixes: no mailbox can live there,
            // and the finder rightly refuses them.
            .prop_filter("registrable under a known suffix", |d| {
                psl::domain(d.as_bytes())
                    .is_some_and(|r| r.suffix().is_known() && r.as_bytes() == d.as_bytes())
            })
    }

    fn full_width(s: &str) -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c)
                } else if c == '.' {
                    '．'
                } else {
                    c
                }
            })
            .collect()
    }

    /// Writes `local@domain` in form number `k`; returns the text and the form to expect.
    fn write(local: &str, domain: &str, k: usize) -> (String, Form) {
        let spelled = |dot: &str| domain.replace('.', dot);
        match k {
            0 => (format!("{local}@{domain}"), Form::Plain),
            1 => (format!("{local}＠{}", spelled("．")), Form::FullWidth),
            2 => (
                format!("{}＠{}", full_width(local), full_width(domain)),
                Form::FullWidth,
            ),
            3 => (format!("{local}﹫{domain}"), Form::FullWidth),
            4 => (format!("{local}#{domain}"), Form::HashForAt),
            5 => (format!("{local}[at]{domain}"), Form::AtWord),
            6 => (format!("{local} (at) {}", spelled("(dot)")), Form::AtWord),
            7 => (format!("{local} at {}", spelled(" dot ")), Form::AtWord),
            8 => (format!("{local} AT {}", spelled(" DOT ")), Form::AtWord),
            9 => (format!("{local}艾特{}", spelled("点")), Form::ChineseWord),
            10 => (format!("{local}圈a{domain}"), Form::ChineseWord),
            11 => (format!("{local} @ {domain}"), Form::Spaced),
            12 => (format!("{local}@@{domain}"), Form::Spaced),
            _ => (format!("{local}@{}", spelled("。")), Form::FullWidth),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn any_address_in_any_form_is_found(
            local in local(),
            domain in domain(),
            k in 0usize..14,
            before in any::<String>(),
            after in any::<String>(),
            sep_before in prop::sample::select(SEPARATORS),
            sep_after in prop::sample::select(SEPARATORS),
        ) {
            let want = Email::parse(&format!("{local}@{domain}")).unwrap();
            let (written, form) = write(&local, &domain, k);
            let text = format!("{before}{sep_before}{written}{sep_after}{after}");
            let found = extract::find_addresses(&text);
            prop_assert!(
                found.iter().any(|c| c.address == want && c.form == form),
                "{want} as {form:?} not in {found:?}\ntext: {text:?}"
            );
        }

        #[test]
        fn html_forms_are_found(
            local in local(),
            domain in domain(),
            k in 0usize..4,
            words in "[^<>&]{0,40}",
        ) {
            let want = Email::parse(&format!("{local}@{domain}")).unwrap();
            let (body, form) = match k {
                0 => (format!("<p>{words}</p><p>{local}&#64;{domain}</p>"), Form::HtmlEntity),
                1 => (format!("<p>{words}</p><a href=\"mailto:{local}%40{domain}?subject=x\">{words}</a>"), Form::Mailto),
                2 => (format!("<p>{words}</p><p>{local}<span>@</span>{domain}</p>"), Form::SplitByTags),
                _ => (format!("<p>{words}</p><script>document.write('{local}' + '@' + '{domain}');</script>"), Form::JavaScript),
            };
            let base = Url::parse("https://www.ustl.edu.cn/").unwrap();
            let doc = extract::html(&base, &body);
            prop_assert!(
                doc.emails.iter().any(|c| c.address == want && c.form == form),
                "{want} as {form:?} not in {:?}\nbody: {body:?}", doc.emails
            );
        }

        #[test]
        fn arbitrary_text_never_panics(s in any::<String>()) {
            let doc = extract::text(&s);
            for c in doc.emails {
                prop_assert!(!c.raw.is_empty());
            }
        }

        #[test]
        fn marker_soup_never_panics(parts in prop::collection::vec(prop::sample::select(vec![
            "@", "#", "。", "．", "＠", "﹫", "[at]", "(dot)", " at ", " dot ", " AT ", "艾特", "圈a", "点",
            "a", "x.edu.cn", ".", "-", "中", "ｚ", "\n", " ", "@@", "【at】", "请将#替换为@", "2x", ".png",
            "\u{3000}", "...", "…", "<span>", "</span>", "<script>", "</script>", "'+'", "String.fromCharCode(",
            "108,", ")", "'.split('').reverse().join('')", "&#64;", "mailto:", "<a href=\"", "\">",
            "data-cfemail=\"", "00ff", "<noscript>",
        ]), 0..60)) {
            let s: String = parts.concat();
            let _ = extract::text(&s);
            let base = Url::parse("https://www.ustl.edu.cn/").unwrap();
            let _ = extract::html(&base, &s);
        }

        #[test]
        fn arbitrary_html_never_panics(s in any::<String>()) {
            let base = Url::parse("https://www.ustl.edu.cn/").unwrap();
            let _ = extract::html(&base, &s);
        }

        #[test]
        fn normalising_twice_is_normalising_once(local in "[A-Za-z0-9._%+-]{1,20}", domain in "[A-Za-z0-9-]{1,10}\\.[A-Za-z]{2,6}") {
            if let Some(once) = Email::parse(&format!("{local}@{domain}")) {
                let twice = Email::parse(&once.to_string());
                prop_assert_eq!(Some(once), twice);
            }
        }
    }
}
