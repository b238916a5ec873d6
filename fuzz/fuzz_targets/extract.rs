//! Arbitrary bytes, decoded lossily as a crawled page would be, through both extraction entry
//! points. Run with `cargo +nightly fuzz run extract` from the repository root. See: #3
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailpatrol::extract;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let base = url::Url::parse("https://www.ustl.edu.cn/a/index.html").expect("literal url");
    let page = extract::html(&base, &text);
    for c in &page.emails {
        assert!(!c.raw.is_empty());
    }
    let plain = extract::text(&text);
    for c in &plain.emails {
        // The finder's raw text is a slice of what it was given.
        assert!(text.contains(c.raw.as_str()), "{c:?}");
    }
});
