//! Word 97-2003 (.doc) and WPS writer (.wps), PowerPoint 97-2003 (.ppt) and WPS presentation
//! (.dps): the OLE container is opened with `cfb`, the text is read by hand.
//!
//! Why hand-written: the one crate that reads .doc and .ppt text, office_oxide (0.1.x), is
//! young and brings 80 dependencies for what is, for text alone, a short walk. For .doc the
//! text lives in the `WordDocument` stream as pieces listed by the piece table (the `Clx` in
//! the `0Table`/`1Table` stream): each piece is either UTF-16LE or "compressed" 8-bit text
//! (Windows-1252 by the spec; GBK when the document's language is Chinese and the bytes are
//! not plain ASCII). For .ppt the text is in `TextCharsAtom`/`TextBytesAtom` records of the
//! `PowerPoint Document` stream, grouped by slide container. Word 6/95 files, native
//! pre-2005 Kingsoft WPS files and encrypted files are reported, not guessed at.

use std::io::{Cursor, Read};

use super::{Ctx, DocProblem, Format, Sink};

fn open<'b>(
    bytes: &'b [u8],
    what: &str,
) -> Result<cfb::CompoundFile<Cursor<&'b [u8]>>, DocProblem> {
    cfb::CompoundFile::open(Cursor::new(bytes)).map_err(|e| {
        DocProblem::new(
            "",
            "corrupt",
            format!("{what}: OLE container unreadable: {e}"),
        )
    })
}

/// Reads a whole stream, refusing one larger than the remaining uncompressed budget.
fn stream(
    ctx: &Ctx<'_>,
    file: &mut cfb::CompoundFile<Cursor<&[u8]>>,
    name: &str,
    what: &str,
) -> Result<Option<Vec<u8>>, DocProblem> {
    if !file.exists(name) {
        return Ok(None);
    }
    let s = file.open_stream(name).map_err(|e| {
        DocProblem::new(
            "",
            "corrupt",
            format!("{what}: stream {name} unreadable: {e}"),
        )
    })?;
    let room = ctx
        .limits
        .max_total_uncompressed
        .saturating_sub(ctx.uncompressed.get());
    if s.len() > room {
        return Err(DocProblem::new(
            "",
            "too-large",
            format!(
                "{what}: stream {name} of {} bytes is over the budget",
                s.len()
            ),
        ));
    }
    let mut out = Vec::new();
    s.take(room).read_to_end(&mut out).map_err(|e| {
        DocProblem::new(
            "",
            "corrupt",
            format!("{what}: stream {name} unreadable: {e}"),
        )
    })?;
    ctx.uncompressed
        .set(ctx.uncompressed.get() + out.len() as u64);
    Ok(Some(out))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// DOC and WPS: one `body` segment with all stories (main text, headers, footnotes).
pub(crate) fn extract_doc(
    ctx: &Ctx<'_>,
    bytes: &[u8],
    format: Format,
    sink: &mut Sink,
) -> Result<(), DocProblem> {
    let what = format.as_str().to_uppercase();
    let what = what.as_str();
    let mut file = open(bytes, what)?;
    let word = stream(ctx, &mut file, "/WordDocument", what)?.ok_or_else(|| {
        DocProblem::new(
            "",
            "unsupported",
            format!("{what}: no WordDocument stream (not a Word 97+ layout)"),
        )
    })?;
    let corrupt = |d: &str| DocProblem::new("", "corrupt", format!("{what}: {d}"));
    if u16_at(&word, 0) != Some(0xA5EC) {
        return Err(corrupt("file information block has a wrong signature"));
    }
    let n_fib = u16_at(&word, 2).unwrap_or(0);
    if n_fib < 0x00C1 {
        return Err(DocProblem::new(
            "",
            "unsupported",
            format!("{what}: Word 6/95 format (nFib {n_fib}) is not read"),
        ));
    }
    let lid = u16_at(&word, 6).unwrap_or(0);
    let flags = u16_at(&word, 0x0A).unwrap_or(0);
    if flags & 0x0100 != 0 {
        return Err(DocProblem::new(
            "",
            "encrypted",
            format!("{what} is password-protected"),
        ));
    }
    let table_name = if flags & 0x0200 != 0 {
        "/1Table"
    } else {
        "/0Table"
    };
    let table = stream(ctx, &mut file, table_name, what)?
        .ok_or_else(|| corrupt(&format!("{} stream is missing", &table_name[1..])))?;
    let fc_clx = u32_at(&word, 0x01A2)
        .ok_or_else(|| corrupt("file information block is truncated"))? as usize;
    let lcb_clx = u32_at(&word, 0x01A6)
        .ok_or_else(|| corrupt("file information block is truncated"))? as usize;
    let clx = table
        .get(fc_clx..fc_clx.saturating_add(lcb_clx))
        .ok_or_else(|| corrupt("piece table unreadable (Clx outside the table stream)"))?;
    let pieces = piece_table(clx).ok_or_else(|| corrupt("piece table unreadable"))?;
    let chinese = matches!(lid, 0x0804 | 0x0404 | 0x0C04 | 0x1004 | 0x1404);
    let mut raw = String::new();
    for (n, (cp_start, cp_end, fc, compressed)) in pieces.into_iter().enumerate() {
        if n % 1024 == 1023 {
            ctx.check_time("")?;
        }
        let chars = (cp_end.saturating_sub(cp_start)) as usize;
        if compressed {
            let start = fc as usize;
            let bytes = word
                .get(start..start.saturating_add(chars))
                .ok_or_else(|| corrupt("piece table unreadable (piece outside the text)"))?;
            let enc = if chinese && !bytes.is_ascii() {
                encoding_rs::GBK
            } else {
                encoding_rs::WINDOWS_1252
            };
            raw.push_str(&enc.decode_without_bom_handling(bytes).0);
        } else {
            let start = fc as usize;
            let bytes = word
                .get(start..start.saturating_add(chars * 2))
                .ok_or_else(|| corrupt("piece table unreadable (piece outside the text)"))?;
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            raw.push_str(&String::from_utf16_lossy(&units));
        }
    }
    sink.push("body", clean_word_text(&raw));
    Ok(())
}

/// `(cp_start, cp_end, fc, compressed)` for each piece of a `Clx`.
fn piece_table(clx: &[u8]) -> Option<Vec<(u32, u32, u32, bool)>> {
    let mut i = 0usize;
    // Skip Prc entries (formatting), then expect the Pcdt (0x02).
    while *clx.get(i)? == 0x01 {
        let cb = u16_at(clx, i + 1)? as usize;
        i += 3 + cb;
    }
    if *clx.get(i)? != 0x02 {
        return None;
    }
    let lcb = u32_at(clx, i + 1)? as usize;
    let plc = clx.get(i + 5..i + 5 + lcb)?;
    // n+1 CPs (4 bytes) and n PCDs (8 bytes): 4(n+1) + 8n = lcb.
    if lcb < 4 || !(lcb - 4).is_multiple_of(12) {
        return None;
    }
    let n = (lcb - 4) / 12;
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let start = u32_at(plc, 4 * k)?;
        let end = u32_at(plc, 4 * (k + 1))?;
        let pcd = 4 * (n + 1) + 8 * k;
        let fc_raw = u32_at(plc, pcd + 2)?;
        let compressed = fc_raw & 0x4000_0000 != 0;
        let fc = if compressed {
            (fc_raw & !0x4000_0000) / 2
        } else {
            fc_raw
        };
        if end < start {
            return None;
        }
        out.push((start, end, fc, compressed));
    }
    Some(out)
}

/// Word's control characters to what a reader sees; field codes (between 0x13 and 0x14) are
/// dropped, their results kept.
fn clean_word_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut fields: Vec<bool> = Vec::new(); // true while inside a field's code part
    for c in raw.chars() {
        match c {
            '\u{13}' => fields.push(true),
            '\u{14}' => {
                if let Some(top) = fields.last_mut() {
                    *top = false;
                }
            }
            '\u{15}' => {
                fields.pop();
            }
            _ if fields.iter().any(|&code| code) => {}
            '\r' | '\u{0B}' | '\u{0C}' => out.push('\n'),
            '\u{07}' | '\t' => out.push('\t'),
            '\u{1E}' => out.push('-'),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

const SLIDE_CONTAINER: u16 = 0x03EE;
const SLIDE_LIST_WITH_TEXT: u16 = 0x0FF0;
const SLIDE_PERSIST_ATOM: u16 = 0x03F3;
const TEXT_CHARS_ATOM: u16 = 0x0FA0;
const TEXT_BYTES_ATOM: u16 = 0x0FA8;

/// PPT and DPS: one segment per slide (`slide N`, in the order the slides are stored).
pub(crate) fn extract_ppt(
    ctx: &Ctx<'_>,
    bytes: &[u8],
    format: Format,
    sink: &mut Sink,
) -> Result<(), DocProblem> {
    let what = format.as_str().to_uppercase();
    let what = what.as_str();
    let mut file = open(bytes, what)?;
    if file.exists("/EncryptedSummary") {
        return Err(DocProblem::new(
            "",
            "encrypted",
            format!("{what} is password-protected"),
        ));
    }
    let doc = stream(ctx, &mut file, "/PowerPoint Document", what)?.ok_or_else(|| {
        DocProblem::new(
            "",
            "unsupported",
            format!("{what}: no PowerPoint Document stream"),
        )
    })?;
    let mut walker = PptWalker::default();
    walker.walk(&doc, 0, None, false).ok_or_else(|| {
        DocProblem::new(
            "",
            "corrupt",
            format!("{what}: record structure unreadable"),
        )
    })?;
    // Placeholder text listed per slide in the SlideListWithText, and shape text inside each
    // slide container; merged by slide number, lines seen in both kept once.
    let count = walker.listed.len().max(walker.containers.len());
    for i in 0..count {
        let location = format!("slide {}", i + 1);
        if i >= ctx.limits.max_pages {
            sink.problem(DocProblem::new(
                location,
                "too-large",
                format!(
                    "{what} has {count} slides; only the first {} were read",
                    ctx.limits.max_pages
                ),
            ));
            break;
        }
        ctx.check_time(&location)?;
        let mut lines: Vec<String> = Vec::new();
        for source in [walker.listed.get(i), walker.containers.get(i)]
            .into_iter()
            .flatten()
        {
            for t in source {
                for line in t.split(['\r', '\n', '\u{0B}']) {
                    if !line.trim().is_empty() && !lines.iter().any(|l| l == line) {
                        lines.push(line.to_string());
                    }
                }
            }
        }
        sink.push(location, lines.join("\n"));
    }
    Ok(())
}

#[derive(Default)]
struct PptWalker {
    /// Text atoms of SlideListWithText (instance 0), per slide.
    listed: Vec<Vec<String>>,
    /// Text atoms inside each SlideContainer, in stream order.
    containers: Vec<Vec<String>>,
}

impl PptWalker {
    /// Walks records; `slide` is the index of the enclosing slide container, `in_list` whether
    /// we are inside a slide-text list. `None` on a malformed record.
    fn walk(
        &mut self,
        data: &[u8],
        depth: usize,
        slide: Option<usize>,
        in_list: bool,
    ) -> Option<()> {
        if depth > 32 {
            return None;
        }
        let mut i = 0usize;
        while i + 8 <= data.len() {
            let ver_inst = u16_at(data, i)?;
            let rec_type = u16_at(data, i + 2)?;
            let len = u32_at(data, i + 4)? as usize;
            let body = data.get(i + 8..(i + 8).checked_add(len)?)?;
            let is_container = ver_inst & 0x000F == 0x000F;
            match rec_type {
                SLIDE_CONTAINER => {
                    self.containers.push(Vec::new());
                    let idx = self.containers.len() - 1;
                    self.walk(body, depth + 1, Some(idx), false)?;
                }
                // Instance 0 lists slides; 1 masters, 2 notes.
                SLIDE_LIST_WITH_TEXT if ver_inst >> 4 == 0 => {
                    self.walk(body, depth + 1, None, true)?;
                }
                SLIDE_PERSIST_ATOM if in_list => self.listed.push(Vec::new()),
                TEXT_CHARS_ATOM | TEXT_BYTES_ATOM => {
                    let text = if rec_type == TEXT_CHARS_ATOM {
                        let units: Vec<u16> = body
                            .chunks_exact(2)
                            .map(|c| u16::from_le_bytes([c[0], c[1]]))
                            .collect();
                        String::from_utf16_lossy(&units)
                    } else {
                        body.iter().map(|&b| char::from(b)).collect()
                    };
                    if in_list {
                        if let Some(last) = self.listed.last_mut() {
                            last.push(text);
                        }
                    } else if let Some(s) = slide
                        && let Some(c) = self.containers.get_mut(s)
                    {
                        c.push(text);
                    }
                }
                // Masters and notes hold template text ("Click to edit..."), not the notice;
                // the other slide lists are those of masters and notes.
                SLIDE_LIST_WITH_TEXT | 0x03F8 | 0x03F0 | 0x0FC8 => {}
                _ if is_container => self.walk(body, depth + 1, slide, in_list)?,
                _ => {}
            }
            i += 8 + len;
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_codes_are_dropped_results_kept() {
        let raw = "邮箱：\u{13} HYPERLINK \"mailto:a@b.cn\" \u{14}a@b.cn\u{15}\r第二段\u{07}";
        assert_eq!(clean_word_text(raw), "邮箱：a@b.cn\n第二段\t");
    }

    #[test]
    fn piece_table_reads_compressed_and_unicode_pieces() {
        let mut plc = Vec::new();
        for cp in [0u32, 5, 9] {
            plc.extend_from_slice(&cp.to_le_bytes());
        }
        for fc in [0x4000_0000u32 | 2048, 4096] {
            plc.extend_from_slice(&[0, 0]);
            plc.extend_from_slice(&fc.to_le_bytes());
            plc.extend_from_slice(&[0, 0]);
        }
        let mut clx = vec![0x01, 2, 0, 9, 9, 0x02];
        clx.extend_from_slice(&u32::try_from(plc.len()).expect("small").to_le_bytes());
        clx.extend_from_slice(&plc);
        let got = piece_table(&clx).expect("plc");
        assert_eq!(got, [(0, 5, 1024, true), (5, 9, 4096, false)]);
        assert_eq!(piece_table(&[0x02, 1, 0, 0, 0, 0]), None);
    }
}
