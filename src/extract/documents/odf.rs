//! OpenDocument text (odt): `content.xml` through the shared zip and XML readers.
//!
//! No crate reads ODT text (office_oxide, the only office crate with a .doc reader, has no ODF
//! support), and the markup is small: `text:p`/`text:h` are lines, `text:span` runs are joined,
//! `text:s` stands for spaces, `text:tab` and `text:line-break` for a tab and a line break.
//! ODS goes through calamine in `sheets`.

use super::archive::Zip;
use super::xml::{Item, attr, local, walk};
use super::{Ctx, DocProblem, Sink};

/// ODT: one `body` segment from `content.xml`.
pub(crate) fn extract_odt(ctx: &Ctx<'_>, bytes: &[u8], sink: &mut Sink) -> Result<(), DocProblem> {
    let mut zip = Zip::open(bytes, "ODT")?;
    if let Some(manifest) = zip.read(ctx, "META-INF/manifest.xml")?
        && String::from_utf8_lossy(&manifest).contains("encryption-data")
    {
        return Err(DocProblem::new(
            "",
            "encrypted",
            "ODT is password-protected",
        ));
    }
    let content = zip
        .read(ctx, "content.xml")?
        .ok_or_else(|| DocProblem::new("", "corrupt", "ODT: content.xml is missing"))?;
    let mut out = String::new();
    let mut in_body = false;
    walk(ctx, &content, "ODT", "content.xml", |item| match item {
        Item::Start(e) => match local(e).as_str() {
            "body" => in_body = true,
            "s" if in_body => {
                let n = attr(e, "c")
                    .and_then(|c| c.parse::<usize>().ok())
                    .unwrap_or(1);
                out.extend(std::iter::repeat_n(' ', n.min(100)));
            }
            "tab" if in_body => out.push('\t'),
            "line-break" if in_body => out.push('\n'),
            _ => {}
        },
        Item::End(name) => match name {
            "p" | "h" if in_body => out.push('\n'),
            "body" => in_body = false,
            _ => {}
        },
        Item::Text(t) => {
            if in_body {
                out.push_str(t);
            }
        }
    })?;
    sink.push("body", out);
    Ok(())
}
