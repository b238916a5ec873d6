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

pub mod documents;
mod forms;
mod html;
mod script;
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
        problems: Vec::new(),
        attachment: false,
        render: None,
        images: Vec::new(),
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

/// Reads a document (PDF, Office file, OFD, RTF, archive, ...) whose real format is sniffed
/// from its bytes, then its file name, then its Content-Type. `None` when the body is not a
/// document this build recognises. Parts that cannot be read come back as
/// [`Document::problems`]; every address carries its location inside the document.
#[must_use]
pub fn document(
    body: &[u8],
    file_name: Option<&str>,
    content_type: Option<&str>,
    limits: &documents::Limits,
) -> Option<Document> {
    let format = documents::sniff(body, file_name, content_type)?;
    let mut doc = Document {
        title: file_name.map(str::to_string),
        attachment: true,
        ..Document::default()
    };
    let problem = |p: &documents::DocProblem| crate::model::ReadProblem {
        skipped: matches!(p.code, "needs-ocr" | "unsupported" | "too-large"),
        code: p.code.to_string(),
        detail: format!("{} document: {p}", format.as_str()),
    };
    // The parsers catch their own panics; this is the last line of defence for the scan.
    let extracted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        documents::extract(body, format, limits)
    }))
    .unwrap_or_else(|_| {
        Err(documents::DocProblem::new(
            "",
            "panic",
            "the document parser crashed; please report this file",
        ))
    });
    let mut problems = match extracted {
        Ok(x) => {
            for segment in &x.segments {
                for mut c in find_addresses(&segment.text) {
                    c.location = Some(segment.location.clone());
                    doc.emails.push(c);
                }
            }
            x.problems
        }
        Err(p) => vec![p],
    };
    if let Some(ocr) = &limits.ocr {
        ocr_pass(ocr, body, format, &mut problems, &mut doc, limits.max_pages);
    }
    doc.problems.extend(problems.iter().map(problem));
    Some(doc)
}

/// Reads with OCR what the parsers marked `needs-ocr`: a whole image, a whole PDF without
/// text, or single PDF pages without text. Pages read leave the problem list; pages that
/// cannot be read keep their problem, with OCR's reason added.
fn ocr_pass(
    ocr: &crate::ocr::Ocr,
    body: &[u8],
    format: documents::Format,
    problems: &mut Vec<documents::DocProblem>,
    doc: &mut Document,
    max_pages: usize,
) {
    let mut kept = Vec::new();
    for p in problems.drain(..) {
        if p.code != "needs-ocr" {
            kept.push(p);
            continue;
        }
        // What to read: (location, page number for PDFs).
        let pages: Vec<(String, Option<u32>)> = match (format, p.location.as_str()) {
            (documents::Format::Image, _) => vec![("image".to_string(), None)],
            (documents::Format::Pdf, "") => (1..=pdf_pages(body).min(max_pages))
                .filter_map(|n| u32::try_from(n).ok())
                .map(|n| (format!("page {n}"), Some(n)))
                .collect(),
            (documents::Format::Pdf, loc) => loc
                .strip_prefix("page ")
                .and_then(|n| n.parse().ok())
                .map(|n| vec![(loc.to_string(), Some(n))])
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        if pages.is_empty() {
            kept.push(p);
            continue;
        }
        if let Some(why) = ocr.unavailable() {
            let mut p = p;
            p.detail = format!("{}; not read: {why}", p.detail);
            kept.push(p);
            continue;
        }
        let mut failed = Vec::new();
        for (location, page) in pages {
            let read = match page {
                Some(n) => ocr.pdf_page(body, n),
                None => ocr.image(body),
            };
            match read {
                Ok(readings) => {
                    let (found, doubts) = ocr.candidates(&readings, &location);
                    doc.emails.extend(found);
                    kept.extend(doubts.into_iter().map(|detail| documents::DocProblem {
                        location: location.clone(),
                        code: "ocr-uncertain",
                        detail,
                    }));
                }
                Err(why) => failed.push(format!("{location}: {why}")),
            }
        }
        if !failed.is_empty() {
            let mut p = p;
            p.detail = format!("{}; not read by OCR: {}", p.detail, failed.join("; "));
            kept.push(p);
        }
    }
    *problems = kept;
}

/// Pages of a PDF (0 when it cannot be loaded).
fn pdf_pages(body: &[u8]) -> usize {
    std::panic::catch_unwind(|| lopdf::Document::load_mem(body).map(|d| d.get_pages().len()))
        .ok()
        .and_then(Result::ok)
        .unwrap_or(0)
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
