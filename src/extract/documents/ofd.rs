//! OFD (GB/T 33190-2016), China's fixed-layout format: a zip of XML files.
//!
//! No Rust crate (and no Debian tool) reads OFD, so this is written by hand on the shared zip
//! and XML readers: `OFD.xml` → `DocBody/DocRoot` (each document) → its `Document.xml` →
//! `Pages/Page@BaseLoc` → each page's `Content.xml`, whose `TextObject/TextCode` elements hold
//! the text. A page places text objects one per run; objects whose `Boundary` starts on the
//! same baseline as the previous one continue its line (so a font change in the middle of an
//! address does not split it), others start a new line. One segment per page.

use super::archive::Zip;
use super::xml::{Item, attr, local, walk};
use super::{Ctx, DocProblem, Sink};

/// Resolves `loc` (absolute in the package, or relative to the folder of `base`).
fn resolve(base: &str, loc: &str) -> String {
    let loc = loc.trim();
    if let Some(abs) = loc.strip_prefix('/') {
        return abs.to_string();
    }
    let dir = base.rsplit_once('/').map_or("", |(d, _)| d);
    let mut parts: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for p in loc.split('/') {
        match p {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// Reads `name`, or a `corrupt` problem naming the missing part.
fn need(ctx: &Ctx<'_>, zip: &mut Zip<'_>, name: &str) -> Result<Vec<u8>, DocProblem> {
    zip.read(ctx, name)?
        .ok_or_else(|| DocProblem::new("", "corrupt", format!("OFD: {name} is missing")))
}

/// OFD: one segment per page (`page N`, numbered across all documents of the package).
pub(crate) fn extract(ctx: &Ctx<'_>, bytes: &[u8], sink: &mut Sink) -> Result<(), DocProblem> {
    let mut zip = Zip::open(bytes, "OFD")?;
    let root = need(ctx, &mut zip, "OFD.xml")?;
    let mut doc_roots = Vec::new();
    let mut in_root = false;
    walk(ctx, &root, "OFD", "OFD.xml", |item| match item {
        Item::Start(e) => in_root = local(e) == "DocRoot",
        Item::End(_) => in_root = false,
        Item::Text(t) => {
            if in_root && !t.trim().is_empty() {
                doc_roots.push(t.trim().to_string());
            }
        }
    })?;
    if doc_roots.is_empty() {
        return Err(DocProblem::new(
            "",
            "corrupt",
            "OFD: OFD.xml names no DocRoot",
        ));
    }
    let mut page_no = 0usize;
    for doc_root in doc_roots {
        let doc_path = resolve("", &doc_root);
        let doc = need(ctx, &mut zip, &doc_path)?;
        let mut pages = Vec::new();
        walk(ctx, &doc, "OFD", &doc_path, |item| {
            if let Item::Start(e) = item
                && local(e) == "Page"
                && let Some(loc) = attr(e, "BaseLoc")
            {
                pages.push(resolve(&doc_path, &loc));
            }
        })?;
        for page in pages {
            page_no += 1;
            let location = format!("page {page_no}");
            if page_no > ctx.limits.max_pages {
                sink.problem(DocProblem::new(
                    location,
                    "too-large",
                    format!(
                        "OFD has more than {} pages; the rest were not read",
                        ctx.limits.max_pages
                    ),
                ));
                return Ok(());
            }
            ctx.check_time(&location)?;
            match zip.read(ctx, &page) {
                Ok(Some(xml)) => match page_text(ctx, &xml, &page) {
                    Ok(text) => sink.push(location, text),
                    Err(p) => sink.problem(p.within(&location)),
                },
                Ok(None) => sink.problem(DocProblem::new(
                    location,
                    "corrupt",
                    format!("OFD: {page} is missing"),
                )),
                Err(p) => sink.problem(p.within(&location)),
            }
        }
    }
    Ok(())
}

/// The text of one page's `Content.xml`, runs on one baseline joined.
fn page_text(ctx: &Ctx<'_>, xml: &[u8], part: &str) -> Result<String, DocProblem> {
    let mut out = String::new();
    let mut in_code = false;
    let mut last_y: Option<f64> = None;
    let mut object_y = 0.0f64;
    let num = |s: Option<String>, i: usize| {
        s.and_then(|b| {
            b.split_whitespace()
                .nth(i)
                .and_then(|v| v.parse::<f64>().ok())
        })
    };
    walk(ctx, xml, "OFD", part, |item| match item {
        Item::Start(e) => match local(e).as_str() {
            "TextObject" => object_y = num(attr(e, "Boundary"), 1).unwrap_or(0.0),
            "TextCode" => {
                in_code = true;
                // The baseline of this code: the object's top plus the code's Y.
                let y = object_y + num(attr(e, "Y"), 0).unwrap_or(0.0);
                let same_line = last_y.is_some_and(|l| (l - y).abs() < 1.0);
                if !out.is_empty() && !same_line {
                    out.push('\n');
                }
                last_y = Some(y);
            }
            _ => {}
        },
        Item::End(name) => {
            if name == "TextCode" {
                in_code = false;
            }
        }
        Item::Text(t) => {
            if in_code {
                out.push_str(t);
            }
        }
    })?;
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_document() {
        assert_eq!(
            resolve("Doc_0/Document.xml", "Pages/Page_0/Content.xml"),
            "Doc_0/Pages/Page_0/Content.xml"
        );
        assert_eq!(
            resolve("Doc_0/Document.xml", "/Doc_0/Pages/P.xml"),
            "Doc_0/Pages/P.xml"
        );
        assert_eq!(resolve("", "Doc_0/Document.xml"), "Doc_0/Document.xml");
        assert_eq!(resolve("a/b/Document.xml", "../c.xml"), "a/c.xml");
    }
}
