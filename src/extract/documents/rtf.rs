//! RTF, by a small hand parser.
//!
//! Written by hand because the one crate found (`rtf-parser` 0.4) targets Unicode-escaped
//! text and does not decode `\'hh` bytes in the document's ANSI code page, which is how
//! Chinese RTF carries its text (`\ansicpg936` with GBK bytes, or `\uN` with a GBK fallback).
//! The parser keeps a group stack for the `\ucN` skip count, skips destinations that are not
//! body text (`\*`, font and colour tables, styles, info, pictures, objects), decodes `\'hh`
//! runs with the declared code page and turns `\par`, `\line`, `\row` into line breaks and
//! `\tab`, `\cell` into tabs. One `body` segment.

use encoding_rs::Encoding;

use super::{Ctx, DocProblem, Sink};

/// Control words whose group is not body text.
const SKIP_DESTINATIONS: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "object",
    "themedata",
    "colorschememapping",
    "latentstyles",
    "datastore",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "xmlnstbl",
    "header",
    "footer",
    "headerl",
    "headerr",
    "headerf",
    "footerl",
    "footerr",
    "footerf",
    "fldinst",
    "bkmkstart",
    "bkmkend",
    "filetbl",
    "revtbl",
    "pgdsctbl",
];

#[derive(Clone, Copy)]
struct Group {
    skip: bool,
    uc: usize,
}

/// Extracts the body text of an RTF document.
pub(crate) fn extract(ctx: &Ctx<'_>, bytes: &[u8], sink: &mut Sink) -> Result<(), DocProblem> {
    if !bytes.starts_with(b"{\\rtf") {
        return Err(DocProblem::new("", "corrupt", "RTF: missing {\\rtf header"));
    }
    let mut encoding: &'static Encoding = encoding_rs::WINDOWS_1252;
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new(); // \'hh bytes awaiting decoding
    let mut stack: Vec<Group> = Vec::new();
    let mut cur = Group { skip: false, uc: 1 };
    let mut to_skip = 0usize; // fallback characters still to skip after \uN
    let mut i = 0usize;
    let flush = |pending: &mut Vec<u8>, out: &mut String, enc: &'static Encoding| {
        if !pending.is_empty() {
            out.push_str(&enc.decode_without_bom_handling(pending).0);
            pending.clear();
        }
    };
    while i < bytes.len() {
        if i.is_multiple_of(65_536) {
            ctx.check_time("")?;
        }
        let b = bytes[i];
        match b {
            b'{' => {
                flush(&mut pending, &mut out, encoding);
                if stack.len() > 10_000 {
                    return Err(DocProblem::new(
                        "",
                        "corrupt",
                        "RTF: groups nested deeper than 10000",
                    ));
                }
                stack.push(cur);
                i += 1;
            }
            b'}' => {
                flush(&mut pending, &mut out, encoding);
                cur = stack.pop().unwrap_or(cur);
                to_skip = 0;
                i += 1;
            }
            b'\\' => {
                i += 1;
                let Some(&c) = bytes.get(i) else { break };
                if c == b'\'' {
                    let hex = bytes
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok());
                    i += 3;
                    if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        if to_skip > 0 {
                            to_skip -= 1;
                        } else if !cur.skip {
                            pending.push(v);
                        }
                    }
                    continue;
                }
                flush(&mut pending, &mut out, encoding);
                if !c.is_ascii_alphabetic() {
                    i += 1;
                    match c {
                        b'*' => cur.skip = true,
                        b'~' if !cur.skip => out.push('\u{a0}'),
                        b'\\' | b'{' | b'}' if !cur.skip => out.push(char::from(c)),
                        b'\n' | b'\r' if !cur.skip => out.push('\n'),
                        _ => {}
                    }
                    continue;
                }
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                let word = std::str::from_utf8(&bytes[start..i]).unwrap_or("");
                let num_start = i;
                if i < bytes.len() && bytes[i] == b'-' {
                    i += 1;
                }
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                let param: Option<i64> = std::str::from_utf8(&bytes[num_start..i])
                    .ok()
                    .and_then(|s| s.parse().ok());
                if i < bytes.len() && bytes[i] == b' ' {
                    i += 1;
                }
                match word {
                    "ansicpg" => {
                        if let Some(enc) = param.and_then(code_page) {
                            encoding = enc;
                        }
                    }
                    "uc" => cur.uc = usize::try_from(param.unwrap_or(1)).unwrap_or(1),
                    "u" => {
                        if let Some(p) = param {
                            let code = if p < 0 { p + 65_536 } else { p };
                            if !cur.skip
                                && let Some(ch) = u32::try_from(code).ok().and_then(char::from_u32)
                            {
                                out.push(ch);
                            }
                            to_skip = cur.uc;
                        }
                    }
                    "par" | "line" | "row" | "sect" | "page" if !cur.skip => out.push('\n'),
                    "tab" | "cell" if !cur.skip => out.push('\t'),
                    w if SKIP_DESTINATIONS.contains(&w) => cur.skip = true,
                    _ => {}
                }
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                if to_skip > 0 {
                    to_skip -= 1;
                } else if !cur.skip {
                    pending.push(b);
                }
                i += 1;
            }
        }
    }
    flush(&mut pending, &mut out, encoding);
    sink.push("body", out);
    Ok(())
}

/// Windows code page number to encoding (936 GBK, 950 Big5, 65001 UTF-8, ...).
fn code_page(cp: i64) -> Option<&'static Encoding> {
    let label = match cp {
        936 => "gbk",
        950 => "big5",
        54_936 => "gb18030",
        65_001 => "utf-8",
        932 => "shift_jis",
        949 => "euc-kr",
        n => return Encoding::for_label(format!("windows-{n}").as_bytes()),
    };
    Encoding::for_label(label.as_bytes())
}

#[cfg(test)]
mod tests {
    use crate::extract::documents::{Format, Limits, extract as extract_doc};

    fn body(rtf: &str) -> String {
        let got = extract_doc(rtf.as_bytes(), Format::Rtf, &Limits::default()).expect("rtf");
        got.segments.into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn gbk_bytes_and_unicode_escapes() {
        // 邮箱 in GBK is D3 CA CF E4.
        let t = body(
            r"{\rtf1\ansi\ansicpg936{\fonttbl{\f0 SimSun;}}\f0 \'d3\'ca\'cf\'e4 a@b.cn\par\uc1\u37038?\u31665? x\tab y}",
        );
        assert_eq!(t, "邮箱 a@b.cn\n邮箱 x\ty");
    }

    #[test]
    fn skips_destinations() {
        let t = body(r"{\rtf1{\*\generator Writer;}{\info{\title T}}Hello}");
        assert_eq!(t, "Hello");
    }
}
