//! Extraction: a body already decoded to text goes in, a [`Document`] (title, links to follow,
//! every address occurrence with the form it was written in) comes out. Everything here is a
//! pure function: no I/O, no logging of findings, and no judgement about whether an address is
//! compliant, which is `classify`'s job. Fetching and decoding bytes belong to `crawl` and
//! `decode`.
//!
//! - [`html`] walks the parsed tree once: title, links, visible text, `mailto:` links and
//!   attributes.
//! - [`find_addresses`] is the text finder both entry points share. It sees through the
//!   obfuscations listed in DESIGN.md (full-width characters, `#` for `@`, `[at]`, spaces) and
//!   rejects look-alikes such as `logo@2x.png` or `jquery@3.6.0`.

mod forms;
mod html;
mod text;

use url::Url;

use crate::model::{Document, EmailCandidate};

/// Extracts the title, the links to follow and every address occurrence from an HTML page.
/// `base` is the page's final URL; a `<base href>` in the page takes precedence for links.
#[must_use]
pub fn html(base: &Url, body: &str) -> Document {
    html::extract(base, body)
}

/// Extracts the addresses from a plain-text body (`text/plain`). Plain text has no links and
/// no title.
#[must_use]
pub fn text(body: &str) -> Document {
    Document {
        title: None,
        links: Vec::new(),
        emails: find_addresses(body),
    }
}

/// Finds every address written in `text`, plainly or obfuscated, in order of appearance.
/// Each occurrence is reported once, with the most specific form that explains it.
#[must_use]
pub fn find_addresses(text: &str) -> Vec<EmailCandidate> {
    text::find(text)
        .into_iter()
        .map(|f| f.into_candidate(text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Form;

    #[test]
    fn plain_text_has_addresses_only() {
        let doc =
            text("<a href=\"https://x.cn/\">邮箱：zhang@ustl.edu.cn</a>\nwang＠ustl．edu．cn");
        assert_eq!(doc.title, None);
        assert!(doc.links.is_empty());
        let got: Vec<_> = doc
            .emails
            .iter()
            .map(|c| (c.address.to_string(), c.form, c.raw.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "zhang@ustl.edu.cn".to_string(),
                    Form::Plain,
                    "zhang@ustl.edu.cn"
                ),
                (
                    "wang@ustl.edu.cn".to_string(),
                    Form::FullWidth,
                    "wang＠ustl．edu．cn"
                ),
            ]
        );
    }

    #[test]
    fn html_entry_point_reads_a_whole_page() {
        let base = Url::parse("https://www.ustl.edu.cn/").expect("literal url");
        let doc = html(
            &base,
            "<title>首页</title><p>办公室：<a href=\"mailto:office@ustl.edu.cn\">office@ustl.edu.cn</a></p>\
             <a href=\"/about\">关于</a>",
        );
        assert_eq!(doc.title.as_deref(), Some("首页"));
        assert_eq!(doc.links.len(), 1);
        assert_eq!(doc.emails.len(), 2);
    }
}
