//! The one XML walker the zip-of-XML formats share (quick-xml 0.42).
//!
//! quick-xml never expands entities itself: it hands `&name;` over as `GeneralRef` events, and
//! this walker resolves only the five predefined ones and character references. Office
//! documents never declare entities, so a part whose DOCTYPE declares any (`<!ENTITY`, the
//! billion-laughs bomb) is refused outright as a `bomb` before its body is read.

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::{Ctx, DocProblem};

/// One step of the walk.
pub(crate) enum Item<'e> {
    /// An element opens (empty elements give a `Start` then an `End`).
    Start(&'e BytesStart<'e>),
    /// An element closes; the local name.
    End(&'e str),
    /// Character data, entities resolved.
    Text(&'e str),
}

/// Walks `bytes` as XML, calling `f` for each item. `what` and `part` name the document and
/// part in problem details.
pub(crate) fn walk(
    ctx: &Ctx<'_>,
    bytes: &[u8],
    what: &str,
    part: &str,
    mut f: impl FnMut(Item<'_>),
) -> Result<(), DocProblem> {
    let mut reader = Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut events: u32 = 0;
    loop {
        events = events.wrapping_add(1);
        if events.is_multiple_of(8192) {
            ctx.check_time(part)?;
        }
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            DocProblem::new(
                part,
                "corrupt",
                format!(
                    "{what}: XML part {part} is malformed at byte {}: {e}",
                    reader.error_position()
                ),
            )
        })?;
        match event {
            Event::Start(ref e) => f(Item::Start(e)),
            Event::Empty(ref e) => {
                f(Item::Start(e));
                let name = e.local_name();
                f(Item::End(name.as_ref()));
            }
            Event::End(ref e) => {
                let name = e.local_name();
                f(Item::End(name.as_ref()));
            }
            Event::Text(ref t) => f(Item::Text(t)),
            Event::CData(ref t) => f(Item::Text(t)),
            Event::GeneralRef(ref r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    _ => match &**r {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => None,
                    },
                };
                if let Some(c) = resolved {
                    let mut tmp = [0u8; 4];
                    f(Item::Text(c.encode_utf8(&mut tmp)));
                }
            }
            Event::DocType(ref d) => {
                let decl: &str = d;
                if decl.contains("ENTITY") {
                    return Err(DocProblem::new(
                        part,
                        "bomb",
                        format!("{what}: XML part {part} declares entities (billion-laughs guard)"),
                    ));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(())
}

/// The unescaped value of attribute `name` (local name) of an element.
pub(crate) fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .filter_map(Result::ok)
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(std::borrow::Cow::into_owned)
        })
}

/// The local name of an element.
pub(crate) fn local(e: &BytesStart<'_>) -> String {
    let name = e.local_name();
    let s: &str = name.as_ref();
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::documents::Limits;

    fn text_of(xml: &str) -> Result<String, DocProblem> {
        let limits = Limits::default();
        let ctx = Ctx::new(&limits);
        let mut out = String::new();
        walk(&ctx, xml.as_bytes(), "TEST", "part.xml", |i| {
            if let Item::Text(t) = i {
                out.push_str(t);
            }
        })?;
        Ok(out)
    }

    #[test]
    fn resolves_predefined_and_char_refs_only() {
        assert_eq!(
            text_of("<a>x&amp;y&#64;&#x40;&lt;&unknown;</a>").expect("xml"),
            "x&y@@<"
        );
    }

    #[test]
    fn entity_declarations_are_a_bomb() {
        let err = text_of("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>").expect_err("bomb");
        assert_eq!(err.code, "bomb");
    }

    #[test]
    fn malformed_xml_is_corrupt() {
        assert_eq!(text_of("<a><b></a>").expect_err("corrupt").code, "corrupt");
    }
}
