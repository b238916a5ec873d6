//! Word and PowerPoint 2007+ (docx, pptx): `zip` + `quick-xml`, no OOXML crate.
//!
//! The crates that read these formats either are writers first (docx-rs), read docx only
//! (docx-rust) or are young and heavy (office_oxide, 80 dependencies); the text itself is a
//! few elements (`w:t`, `a:t`, paragraph and break marks), which the shared walker reads in
//! about a millisecond. Run boundaries (`w:r`, `a:r`) are joined with nothing between them, so
//! an address whose characters change font stays whole. `mc:Fallback` copies of text boxes
//! and deleted text (`w:delText`) are skipped; field codes (`w:instrText`) are not text a
//! reader sees.

use super::archive::Zip;
use super::xml::{Item, attr, local, walk};
use super::{Ctx, DocProblem, Sink};

const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Refuses an OOXML file that is really an encrypted OLE package.
fn not_encrypted(bytes: &[u8], what: &str) -> Result<(), DocProblem> {
    if bytes.starts_with(OLE_MAGIC) {
        return Err(DocProblem::new(
            "",
            "encrypted",
            format!("{what} is password-protected"),
        ));
    }
    Ok(())
}

/// Text of one WordprocessingML or DrawingML part: `t` elements, paragraphs as lines.
pub(crate) fn part_text(
    ctx: &Ctx<'_>,
    xml: &[u8],
    what: &str,
    part: &str,
) -> Result<String, DocProblem> {
    let mut out = String::new();
    let mut in_text = false;
    let mut skip = 0usize; // depth inside mc:Fallback
    walk(ctx, xml, what, part, |item| match item {
        Item::Start(e) => {
            let name = local(e);
            if skip > 0 || name == "Fallback" {
                skip += 1;
                return;
            }
            match name.as_str() {
                "t" => in_text = true,
                "tab" => out.push('\t'),
                "br" | "cr" => out.push('\n'),
                _ => {}
            }
        }
        Item::End(name) => {
            if skip > 0 {
                skip -= 1;
                return;
            }
            match name {
                "t" => in_text = false,
                "p" => out.push('\n'),
                "tc" => out.push('\t'),
                _ => {}
            }
        }
        Item::Text(t) => {
            if in_text && skip == 0 {
                out.push_str(t);
            }
        }
    })?;
    Ok(out)
}

/// DOCX: the body, then headers, footers, footnotes, endnotes and comments.
pub(crate) fn extract_docx(ctx: &Ctx<'_>, bytes: &[u8], sink: &mut Sink) -> Result<(), DocProblem> {
    not_encrypted(bytes, "DOCX")?;
    let mut zip = Zip::open(bytes, "DOCX")?;
    let body = zip
        .read(ctx, "word/document.xml")?
        .ok_or_else(|| DocProblem::new("", "corrupt", "DOCX: word/document.xml is missing"))?;
    sink.push("body", part_text(ctx, &body, "DOCX", "word/document.xml")?);
    let mut others: Vec<String> = zip
        .names()
        .into_iter()
        .filter(|n| {
            let Some(rest) = n.strip_prefix("word/") else {
                return false;
            };
            !rest.contains('/')
                && std::path::Path::new(rest)
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("xml"))
                && ["header", "footer", "footnotes", "endnotes", "comments"]
                    .iter()
                    .any(|p| rest.starts_with(p))
        })
        .collect();
    others.sort_by_key(|n| (part_rank(n), natural_key(n)));
    for name in others {
        ctx.check_time(&name)?;
        if let Some(xml) = zip.read(ctx, &name)? {
            let location = name
                .trim_start_matches("word/")
                .trim_end_matches(".xml")
                .to_string();
            let location = split_number(&location);
            sink.push(location, part_text(ctx, &xml, "DOCX", &name)?);
        }
    }
    Ok(())
}

fn part_rank(name: &str) -> u8 {
    let n = name.trim_start_matches("word/");
    ["header", "footer", "footnotes", "endnotes", "comments"]
        .iter()
        .position(|p| n.starts_with(p))
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(9)
}

/// `header12` → `header 12`.
fn split_number(s: &str) -> String {
    match s.find(|c: char| c.is_ascii_digit()) {
        Some(i) if i > 0 => format!("{} {}", &s[..i], &s[i..]),
        _ => s.to_string(),
    }
}

/// Sort key with the number in a name compared as a number (`slide2` before `slide10`).
fn natural_key(name: &str) -> (String, u64) {
    let digits: String = name.chars().filter(char::is_ascii_digit).collect();
    let stem: String = name.chars().filter(|c| !c.is_ascii_digit()).collect();
    (stem, digits.parse().unwrap_or(0))
}

/// PPTX: slides in presentation order (`p:sldIdLst` through the relationships), one segment
/// per slide.
pub(crate) fn extract_pptx(ctx: &Ctx<'_>, bytes: &[u8], sink: &mut Sink) -> Result<(), DocProblem> {
    not_encrypted(bytes, "PPTX")?;
    let mut zip = Zip::open(bytes, "PPTX")?;
    let mut slides = slide_order(ctx, &mut zip).unwrap_or_default();
    if slides.is_empty() {
        // No usable presentation.xml: fall back to the slide parts by number.
        slides = zip
            .names()
            .into_iter()
            .filter(|n| {
                n.starts_with("ppt/slides/slide")
                    && std::path::Path::new(n)
                        .extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("xml"))
            })
            .collect();
        slides.sort_by_key(|n| natural_key(n));
    }
    if slides.is_empty() {
        return Err(DocProblem::new("", "corrupt", "PPTX: no slides found"));
    }
    for (i, part) in slides.iter().enumerate() {
        let location = format!("slide {}", i + 1);
        if i >= ctx.limits.max_pages {
            sink.problem(DocProblem::new(
                location,
                "too-large",
                format!(
                    "PPTX has {} slides; only the first {} were read",
                    slides.len(),
                    ctx.limits.max_pages
                ),
            ));
            break;
        }
        ctx.check_time(&location)?;
        match zip.read(ctx, part) {
            Ok(Some(xml)) => match part_text(ctx, &xml, "PPTX", part) {
                Ok(text) => sink.push(location, text),
                Err(p) => sink.problem(p.within(&location)),
            },
            Ok(None) => sink.problem(DocProblem::new(
                location,
                "corrupt",
                format!("PPTX: {part} is missing"),
            )),
            Err(p) => sink.problem(p.within(&location)),
        }
    }
    Ok(())
}

/// Slide part names in the order of `ppt/presentation.xml`.
fn slide_order(ctx: &Ctx<'_>, zip: &mut Zip<'_>) -> Result<Vec<String>, DocProblem> {
    let Some(rels) = zip.read(ctx, "ppt/_rels/presentation.xml.rels")? else {
        return Ok(Vec::new());
    };
    let mut targets = std::collections::HashMap::new();
    walk(ctx, &rels, "PPTX", "presentation.xml.rels", |item| {
        if let Item::Start(e) = item
            && local(e) == "Relationship"
            && let (Some(id), Some(target)) = (attr(e, "Id"), attr(e, "Target"))
        {
            let target = target.trim_start_matches('/').to_string();
            let target = if target.starts_with("ppt/") {
                target
            } else {
                format!("ppt/{target}")
            };
            targets.insert(id, target);
        }
    })?;
    let Some(pres) = zip.read(ctx, "ppt/presentation.xml")? else {
        return Ok(Vec::new());
    };
    let mut order = Vec::new();
    walk(ctx, &pres, "PPTX", "presentation.xml", |item| {
        if let Item::Start(e) = item
            && local(e) == "sldId"
            && let Some(t) = attr_rid(e)
            && let Some(target) = targets.get(&t)
        {
            order.push(target.clone());
        }
    })?;
    Ok(order)
}

/// The `r:id` attribute (namespaced, local name `id`, but not the plain `id`).
fn attr_rid(e: &quick_xml::events::BytesStart<'_>) -> Option<String> {
    e.attributes()
        .filter_map(Result::ok)
        .find(|a| {
            let key: &str = a.key.as_ref();
            key.ends_with(":id")
        })
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(std::borrow::Cow::into_owned)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::documents::Limits;

    #[test]
    fn runs_are_joined_and_paragraphs_are_lines() {
        let limits = Limits::default();
        let ctx = Ctx::new(&limits);
        let xml = r#"<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>邮箱：zhang@</w:t></w:r><w:r><w:rPr><w:i/></w:rPr><w:t>ustl</w:t></w:r><w:r><w:t>.edu.cn</w:t></w:r></w:p><w:p><w:r><w:instrText>HYPERLINK x</w:instrText><w:delText>old@x.cn</w:delText><w:t>二</w:t></w:r></w:p></w:body></w:document>"#;
        let text = part_text(&ctx, xml.as_bytes(), "DOCX", "document.xml").expect("xml");
        assert_eq!(text, "邮箱：zhang@ustl.edu.cn\n二\n");
    }

    #[test]
    fn encrypted_ooxml_is_reported() {
        let err = extract_docx(
            &Ctx::new(&Limits::default()),
            OLE_MAGIC,
            &mut Sink::new(100),
        )
        .expect_err("enc");
        assert_eq!(err.code, "encrypted");
    }

    #[test]
    fn natural_order_of_parts() {
        let mut v = vec!["slide10.xml", "slide2.xml", "slide1.xml"];
        v.sort_by_key(|n| natural_key(n));
        assert_eq!(v, ["slide1.xml", "slide2.xml", "slide10.xml"]);
        assert_eq!(split_number("header12"), "header 12");
    }
}
