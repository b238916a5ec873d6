//! PDF text layer, per page: lopdf parses the file and the content streams; the text layout
//! is ours.
//!
//! Why lopdf and not pdf_oxide: pdf_oxide gives cleaner text but brings 165 crates and most of
//! a 17-minute release build (shared/CRATES.md); lopdf is the fastest extractor measured there
//! and brings few crates beyond what we already build. Its own `extract_text` puts every
//! text-show operator on its own line, so an address whose characters change font comes out
//! split; this module therefore walks the content stream itself, tracks the text and graphics
//! matrices, measures each run with the font's widths (`/W` and `/DW` of CID fonts,
//! `/Widths` of simple fonts, Helvetica's metrics for the standard fonts without widths) and
//! rejoins runs that continue on the same baseline, putting a space only where the gap is
//! wider than a fifth of the font size.
//!
//! Text decoding: a `/ToUnicode` CMap wins (parsed here, as poppler does, even when a simple
//! font also names an `/Encoding`, which LibreOffice's subset fonts do), then the predefined
//! Chinese CMaps (`UniGB-UCS2-H`, `UniGB-UTF16-H` as UTF-16; `GBK-EUC-H`, `GBKp-EUC-H`,
//! `GB-EUC-H` as GBK; `B5pc-H`, `ETen-B5-H` as Big5), then lopdf's simple encodings.
//!
//! Hostile files: the page tree is walked by lopdf with its own cycle limit and pages seen
//! twice are skipped; form XObjects are followed with a stack of the forms being drawn, so a
//! form that draws itself is cut and reported; every stream is inflated with a limit.

use std::collections::{HashMap, HashSet};

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Encoding, LoadOptions, Object, ObjectId};

use super::{Ctx, DocProblem, Sink};

type Matrix = [f64; 6];
const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

fn mul(m1: &Matrix, m2: &Matrix) -> Matrix {
    [
        m1[0] * m2[0] + m1[1] * m2[2],
        m1[0] * m2[1] + m1[1] * m2[3],
        m1[2] * m2[0] + m1[3] * m2[2],
        m1[2] * m2[1] + m1[3] * m2[3],
        m1[4] * m2[0] + m1[5] * m2[2] + m2[4],
        m1[4] * m2[1] + m1[5] * m2[3] + m2[5],
    ]
}

fn apply(m: &Matrix, x: f64, y: f64) -> (f64, f64) {
    (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])
}

/// Helvetica advance widths for 32..=126 (the standard 14 fonts carry no `/Widths`).
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// How a font's string bytes become text.
enum Decoder<'d> {
    /// A `/ToUnicode` CMap.
    ToUnicode(CMap),
    /// A predefined CMap whose codes are text in a known encoding.
    Charset(&'static encoding_rs::Encoding),
    /// lopdf's simple-font encodings.
    Simple(Encoding<'d>),
    /// Nothing usable: no text.
    None,
}

/// One font as the layout needs it.
struct Font<'d> {
    decoder: Decoder<'d>,
    /// Composite (Type0) fonts default to two-byte codes.
    composite: bool,
    /// Glyph widths in thousandths of the font size, by code.
    widths: HashMap<u32, f64>,
    default_width: f64,
    /// Codespace ranges `(bytes, lo, hi)` from the ToUnicode CMap or the predefined CMap.
    codespace: Vec<(usize, u32, u32)>,
}

/// A parsed `/ToUnicode` CMap.
#[derive(Default)]
struct CMap {
    map: HashMap<(usize, u32), String>,
    codespace: Vec<(usize, u32, u32)>,
}

fn hex_bytes(tok: &[u8]) -> Option<Vec<u8>> {
    let inner: Vec<u8> = tok.iter().copied().filter(u8::is_ascii_hexdigit).collect();
    let mut out = Vec::with_capacity(inner.len() / 2 + 1);
    for pair in inner.chunks(2) {
        let s = std::str::from_utf8(pair).ok()?;
        let v = u8::from_str_radix(s, 16).ok()?;
        out.push(if pair.len() == 1 { v << 4 } else { v });
    }
    Some(out)
}

fn code_of(b: &[u8]) -> u32 {
    b.iter()
        .take(4)
        .fold(0u32, |acc, &x| (acc << 8) | u32::from(x))
}

fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
        .collect();
    String::from_utf16_lossy(&units)
}

impl CMap {
    /// Parses `bfchar`, `bfrange` and `codespacerange` sections; ranges are capped at 65536
    /// codes so a hostile CMap cannot make a huge table.
    #[allow(clippy::many_single_char_names, reason = "CMap tokens and code ranges")]
    fn parse(data: &[u8]) -> CMap {
        let mut tokens: Vec<&[u8]> = Vec::new();
        let mut i = 0;
        while i < data.len() {
            let c = data[i];
            if c == b'<' {
                let end = data[i..]
                    .iter()
                    .position(|&b| b == b'>')
                    .map_or(data.len(), |p| i + p + 1);
                tokens.push(&data[i..end]);
                i = end;
            } else if c == b'[' || c == b']' {
                tokens.push(&data[i..=i]);
                i += 1;
            } else if c.is_ascii_whitespace() {
                i += 1;
            } else {
                let start = i;
                while i < data.len()
                    && !data[i].is_ascii_whitespace()
                    && !matches!(data[i], b'<' | b'[' | b']')
                {
                    i += 1;
                }
                tokens.push(&data[start..i]);
            }
        }
        let mut cmap = CMap::default();
        let mut k = 0;
        let mut mode = 0u8;
        while k < tokens.len() {
            let t = tokens[k];
            match t {
                b"begincodespacerange" => mode = 1,
                b"beginbfchar" => mode = 2,
                b"beginbfrange" => mode = 3,
                b"endcodespacerange" | b"endbfchar" | b"endbfrange" => mode = 0,
                _ if t.starts_with(b"<") => match mode {
                    1 => {
                        if let (Some(lo), Some(hi)) =
                            (hex_bytes(t), tokens.get(k + 1).and_then(|h| hex_bytes(h)))
                        {
                            cmap.codespace.push((lo.len(), code_of(&lo), code_of(&hi)));
                        }
                        k += 1;
                    }
                    2 => {
                        if let (Some(src), Some(dst)) =
                            (hex_bytes(t), tokens.get(k + 1).and_then(|d| hex_bytes(d)))
                        {
                            cmap.map.insert((src.len(), code_of(&src)), utf16(&dst));
                        }
                        k += 1;
                    }
                    3 => {
                        let lo = hex_bytes(t);
                        let hi = tokens.get(k + 1).and_then(|h| hex_bytes(h));
                        if let (Some(lo), Some(hi)) = (lo, hi) {
                            let (len, a, b) = (lo.len(), code_of(&lo), code_of(&hi));
                            let b = b.min(a.saturating_add(65_535));
                            match tokens.get(k + 2) {
                                Some(&b"[") => {
                                    let mut j = k + 3;
                                    let mut code = a;
                                    while let Some(tok) = tokens.get(j) {
                                        if *tok == b"]" {
                                            break;
                                        }
                                        if let Some(d) = hex_bytes(tok)
                                            && code <= b
                                        {
                                            cmap.map.insert((len, code), utf16(&d));
                                        }
                                        code = code.saturating_add(1);
                                        j += 1;
                                    }
                                    k = j;
                                }
                                Some(dst) => {
                                    if let Some(mut d) = hex_bytes(dst)
                                        && !d.is_empty()
                                    {
                                        for code in a..=b {
                                            cmap.map.insert((len, code), utf16(&d));
                                            // Increment the last byte (the spec's rule).
                                            if let Some(last) = d.last_mut() {
                                                *last = last.wrapping_add(1);
                                            }
                                        }
                                    }
                                    k += 2;
                                }
                                None => {}
                            }
                        }
                    }
                    _ => {}
                },
                _ => {}
            }
            k += 1;
        }
        cmap
    }
}

impl<'d> Font<'d> {
    fn load(doc: &'d Document, font: &'d Dictionary, limit: usize) -> Font<'d> {
        let composite = font
            .get(b"Subtype")
            .and_then(Object::as_name)
            .is_ok_and(|n| n == b"Type0");
        let encoding_name: Option<Vec<u8>> = font
            .get(b"Encoding")
            .ok()
            .and_then(|o| doc.dereference(o).ok())
            .and_then(|(_, o)| o.as_name().ok().map(<[u8]>::to_vec));
        let to_unicode = font
            .get(b"ToUnicode")
            .ok()
            .and_then(|o| doc.dereference(o).ok())
            .and_then(|(_, o)| o.as_stream().ok())
            .and_then(|s| s.get_plain_content_with_limit(limit).ok())
            .map(|c| CMap::parse(&c))
            .filter(|c| !c.map.is_empty());
        let mut codespace = Vec::new();
        let decoder = if let Some(cmap) = to_unicode {
            codespace.clone_from(&cmap.codespace);
            Decoder::ToUnicode(cmap)
        } else if composite {
            match encoding_name.as_deref() {
                Some(
                    b"UniGB-UCS2-H" | b"UniGB-UTF16-H" | b"UniCNS-UCS2-H" | b"UniCNS-UTF16-H"
                    | b"UniJIS-UCS2-H" | b"UniKS-UCS2-H",
                ) => Decoder::Charset(encoding_rs::UTF_16BE),
                Some(b"GBK-EUC-H" | b"GBKp-EUC-H" | b"GB-EUC-H" | b"GBK2K-H") => {
                    codespace = vec![(1, 0x00, 0x80), (2, 0x8140, 0xFEFE)];
                    Decoder::Charset(encoding_rs::GBK)
                }
                Some(b"B5pc-H" | b"ETen-B5-H") => {
                    codespace = vec![(1, 0x00, 0x80), (2, 0xA140, 0xFEFE)];
                    Decoder::Charset(encoding_rs::BIG5)
                }
                _ => Decoder::None,
            }
        } else {
            font.get_font_encoding_with_limit(doc, limit)
                .map_or(Decoder::None, Decoder::Simple)
        };
        let mut widths = HashMap::new();
        let mut default_width = if composite { 1000.0 } else { 500.0 };
        if composite {
            let desc = font
                .get(b"DescendantFonts")
                .ok()
                .and_then(|o| doc.dereference(o).ok())
                .and_then(|(_, o)| o.as_array().ok())
                .and_then(|a| a.first())
                .and_then(|o| doc.dereference(o).ok())
                .and_then(|(_, o)| o.as_dict().ok());
            if let Some(desc) = desc {
                if let Some(dw) = desc.get(b"DW").ok().and_then(|o| num(doc, o)) {
                    default_width = dw;
                }
                if let Some(w) = desc
                    .get(b"W")
                    .ok()
                    .and_then(|o| doc.dereference(o).ok())
                    .and_then(|(_, o)| o.as_array().ok())
                {
                    read_cid_widths(doc, w, &mut widths);
                }
            }
        } else {
            let first = font
                .get(b"FirstChar")
                .ok()
                .and_then(|o| num(doc, o))
                .unwrap_or(0.0);
            let list = font
                .get(b"Widths")
                .ok()
                .and_then(|o| doc.dereference(o).ok())
                .and_then(|(_, o)| o.as_array().ok());
            if let Some(list) = list {
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "PDF code numbers"
                )]
                let first = first.max(0.0) as u32;
                for (i, w) in list.iter().enumerate().take(256) {
                    if let Some(w) = num(doc, w) {
                        widths.insert(first + u32::try_from(i).unwrap_or(0), w);
                    }
                }
            } else {
                let base = font
                    .get(b"BaseFont")
                    .and_then(Object::as_name)
                    .unwrap_or(b"");
                let mono = base.windows(7).any(|w| w == b"Courier");
                for c in 32u32..=126 {
                    let w = if mono {
                        600
                    } else {
                        HELVETICA[(c - 32) as usize]
                    };
                    widths.insert(c, f64::from(w));
                }
            }
        }
        Font {
            decoder,
            composite,
            widths,
            default_width,
            codespace,
        }
    }

    /// Splits string bytes into codes.
    fn codes(&self, bytes: &[u8]) -> Vec<(usize, u32)> {
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        let default = if self.composite { 2 } else { 1 };
        while i < bytes.len() {
            let mut len = 0;
            for n in 1..=4usize {
                if i + n > bytes.len() {
                    break;
                }
                let code = code_of(&bytes[i..i + n]);
                if self
                    .codespace
                    .iter()
                    .any(|&(l, lo, hi)| l == n && code >= lo && code <= hi)
                {
                    len = n;
                    break;
                }
            }
            if len == 0 {
                len = default.min(bytes.len() - i);
            }
            out.push((len, code_of(&bytes[i..i + len])));
            i += len;
        }
        out
    }

    /// The text of a string and its advance in thousandths of the font size (plus the number
    /// of single-byte spaces, for `Tw`, and of codes, for `Tc`).
    fn show(&self, bytes: &[u8]) -> (String, f64, usize, usize) {
        let codes = self.codes(bytes);
        let mut width = 0.0;
        let mut spaces = 0;
        for &(len, code) in &codes {
            width += self
                .widths
                .get(&code)
                .copied()
                .unwrap_or(self.default_width);
            if len == 1 && code == 32 {
                spaces += 1;
            }
        }
        let text = match &self.decoder {
            Decoder::ToUnicode(cmap) => {
                let mut s = String::new();
                for &(len, code) in &codes {
                    if let Some(t) = cmap.map.get(&(len, code)) {
                        s.push_str(t);
                    }
                }
                s
            }
            Decoder::Charset(enc) => enc.decode_without_bom_handling(bytes).0.into_owned(),
            Decoder::Simple(enc) => enc
                .bytes_to_string(bytes)
                .unwrap_or_else(|_| bytes.iter().map(|&b| char::from(b)).collect()),
            Decoder::None => String::new(),
        };
        (text, width, spaces, codes.len())
    }
}

fn num(doc: &Document, o: &Object) -> Option<f64> {
    match doc.dereference(o).ok()?.1 {
        #[allow(clippy::cast_precision_loss, reason = "PDF numbers are small")]
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(f64::from(*r)),
        _ => None,
    }
}

/// `/W` array: `c [w1 w2 ...]` or `c_first c_last w`.
fn read_cid_widths(doc: &Document, w: &[Object], out: &mut HashMap<u32, f64>) {
    let mut i = 0;
    while i < w.len() {
        let Some(first) = num(doc, &w[i]) else { break };
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "CIDs"
        )]
        let first = first.max(0.0) as u32;
        match w.get(i + 1).map(|o| doc.dereference(o).map(|(_, o)| o)) {
            Some(Ok(Object::Array(list))) => {
                for (k, v) in list.iter().enumerate().take(65_536) {
                    if let Some(v) = num(doc, v) {
                        out.insert(first + u32::try_from(k).unwrap_or(0), v);
                    }
                }
                i += 2;
            }
            Some(Ok(last)) => {
                let Some(last) = num(doc, last) else { break };
                let Some(v) = w.get(i + 2).and_then(|o| num(doc, o)) else {
                    break;
                };
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "CIDs"
                )]
                let last = (last.max(0.0) as u32).min(first.saturating_add(65_535));
                for c in first..=last {
                    out.insert(c, v);
                }
                i += 3;
            }
            _ => break,
        }
    }
}

/// A piece of text placed on the page.
struct Run {
    x0: f64,
    y: f64,
    x1: f64,
    size: f64,
    text: String,
}

/// Per-document state: fonts by dictionary, problems seen.
struct Reader<'d> {
    doc: &'d Document,
    fonts: HashMap<usize, Font<'d>>,
    limit: usize,
    loops: HashSet<String>,
    ops: usize,
}

#[derive(Clone)]
struct TextState {
    ctm: Matrix,
    font: Option<usize>,
    size: f64,
    char_space: f64,
    word_space: f64,
    scale: f64,
    leading: f64,
    rise: f64,
}

impl<'d> Reader<'d> {
    fn font_key(&mut self, dict: &'d Dictionary) -> usize {
        let key = std::ptr::from_ref(dict) as usize;
        let (doc, limit) = (self.doc, self.limit);
        self.fonts
            .entry(key)
            .or_insert_with(|| Font::load(doc, dict, limit));
        key
    }

    /// Runs the operators of one content stream (a page or a form), appending runs.
    #[allow(clippy::many_single_char_names, reason = "PDF operator operands")]
    fn run(
        &mut self,
        content: &[u8],
        resources: &[&'d Dictionary],
        ctm: Matrix,
        forms: &mut Vec<ObjectId>,
        runs: &mut Vec<Run>,
    ) -> Result<(), String> {
        let content =
            Content::decode(content).map_err(|e| format!("content stream unreadable: {e}"))?;
        let doc = self.doc;
        let font_dicts = |name: &[u8]| -> Option<&'d Dictionary> {
            resources.iter().find_map(|r| {
                let fonts = r
                    .get(b"Font")
                    .ok()
                    .and_then(|o| doc.dereference(o).ok())?
                    .1
                    .as_dict()
                    .ok()?;
                doc.dereference(fonts.get(name).ok()?)
                    .ok()?
                    .1
                    .as_dict()
                    .ok()
            })
        };
        let mut st = TextState {
            ctm,
            font: None,
            size: 0.0,
            char_space: 0.0,
            word_space: 0.0,
            scale: 1.0,
            leading: 0.0,
            rise: 0.0,
        };
        let mut stack: Vec<TextState> = Vec::new();
        let mut tm = IDENTITY;
        let mut tlm = IDENTITY;
        for op in &content.operations {
            self.ops += 1;
            let a = &op.operands;
            let f = |i: usize| {
                a.get(i)
                    .and_then(|o| o.as_float().ok())
                    .map_or(0.0, f64::from)
            };
            match op.operator.as_str() {
                "q" => stack.push(st.clone()),
                "Q" => {
                    if let Some(s) = stack.pop() {
                        st = s;
                    }
                }
                "cm" => st.ctm = mul(&[f(0), f(1), f(2), f(3), f(4), f(5)], &st.ctm),
                "BT" => {
                    tm = IDENTITY;
                    tlm = IDENTITY;
                }
                "Tf" => {
                    st.size = f(1);
                    st.font = a
                        .first()
                        .and_then(|o| o.as_name().ok())
                        .and_then(font_dicts)
                        .map(|d| self.font_key(d));
                }
                "Tc" => st.char_space = f(0),
                "Tw" => st.word_space = f(0),
                "Tz" => st.scale = f(0) / 100.0,
                "TL" => st.leading = f(0),
                "Ts" => st.rise = f(0),
                "Td" | "TD" => {
                    if op.operator == "TD" {
                        st.leading = -f(1);
                    }
                    tlm = mul(&[1.0, 0.0, 0.0, 1.0, f(0), f(1)], &tlm);
                    tm = tlm;
                }
                "Tm" => {
                    tlm = [f(0), f(1), f(2), f(3), f(4), f(5)];
                    tm = tlm;
                }
                "T*" => {
                    tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -st.leading], &tlm);
                    tm = tlm;
                }
                "Tj" | "'" | "\"" | "TJ" => {
                    if op.operator == "'" || op.operator == "\"" {
                        if op.operator == "\"" {
                            st.word_space = f(0);
                            st.char_space = f(1);
                        }
                        tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -st.leading], &tlm);
                        tm = tlm;
                    }
                    let items: Vec<&Object> = match op.operator.as_str() {
                        "TJ" => a
                            .first()
                            .and_then(|o| o.as_array().ok())
                            .map(|v| v.iter().collect())
                            .unwrap_or_default(),
                        _ => a.last().into_iter().collect(),
                    };
                    for item in items {
                        match item {
                            Object::String(bytes, _) => {
                                let Some(font) = st.font.and_then(|k| self.fonts.get(&k)) else {
                                    continue;
                                };
                                let (text, w, spaces, n) = font.show(bytes);
                                #[allow(clippy::cast_precision_loss, reason = "glyph counts")]
                                let tx = (w / 1000.0 * st.size
                                    + st.char_space * n as f64
                                    + st.word_space * spaces as f64)
                                    * st.scale;
                                let trm = mul(&tm, &st.ctm);
                                let (x0, y) = apply(&trm, 0.0, st.rise);
                                let (x1, _) = apply(&trm, tx, st.rise);
                                let size = st.size * (trm[2].hypot(trm[3])).max(1e-6);
                                if !text.is_empty() {
                                    runs.push(Run {
                                        x0,
                                        y,
                                        x1,
                                        size,
                                        text,
                                    });
                                }
                                tm = mul(&[1.0, 0.0, 0.0, 1.0, tx, 0.0], &tm);
                            }
                            other => {
                                if let Ok(n) = other.as_float() {
                                    let tx = -f64::from(n) / 1000.0 * st.size * st.scale;
                                    tm = mul(&[1.0, 0.0, 0.0, 1.0, tx, 0.0], &tm);
                                }
                            }
                        }
                    }
                }
                "Do" => {
                    let Some(name) = a.first().and_then(|o| o.as_name().ok()) else {
                        continue;
                    };
                    let found = resources.iter().find_map(|r| {
                        let x = r
                            .get(b"XObject")
                            .ok()
                            .and_then(|o| doc.dereference(o).ok())?
                            .1
                            .as_dict()
                            .ok()?;
                        let (id, obj) = doc.dereference(x.get(name).ok()?).ok()?;
                        Some((id, obj.as_stream().ok()?))
                    });
                    let Some((id, stream)) = found else { continue };
                    if stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form") {
                        continue;
                    }
                    let id = id.unwrap_or((0, 0));
                    if forms.contains(&id) || forms.len() >= 16 {
                        self.loops.insert(format!(
                            "form XObject {} {} draws itself (content loop cut)",
                            id.0, id.1
                        ));
                        continue;
                    }
                    let Ok(data) =
                        stream
                            .decompressed_content_with_limit(self.limit)
                            .or_else(|e| {
                                if stream.dict.get(b"Filter").is_err() {
                                    Ok(stream.content.clone())
                                } else {
                                    Err(e)
                                }
                            })
                    else {
                        continue;
                    };
                    let matrix = stream
                        .dict
                        .get(b"Matrix")
                        .ok()
                        .and_then(|o| o.as_array().ok())
                        .map_or(IDENTITY, |v| {
                            let g = |i: usize| {
                                v.get(i)
                                    .and_then(|o| o.as_float().ok())
                                    .map_or(0.0, f64::from)
                            };
                            [g(0), g(1), g(2), g(3), g(4), g(5)]
                        });
                    let own = stream
                        .dict
                        .get(b"Resources")
                        .ok()
                        .and_then(|o| doc.dereference(o).ok())
                        .and_then(|(_, o)| o.as_dict().ok());
                    let mut res: Vec<&'d Dictionary> = own.into_iter().collect();
                    res.extend_from_slice(resources);
                    forms.push(id);
                    let r = self.run(&data, &res, mul(&matrix, &st.ctm), forms, runs);
                    forms.pop();
                    r?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Joins runs into lines: a run on the baseline of the previous one continues its line
/// (with a space only across a real gap), anything else starts a new line.
fn layout(runs: &[Run]) -> String {
    let mut out = String::new();
    let mut prev: Option<&Run> = None;
    for r in runs {
        if let Some(p) = prev {
            let size = r.size.max(p.size).max(1.0);
            let same_line = (r.y - p.y).abs() < 0.4 * size;
            if same_line {
                // Fake bold: the same text drawn again with a tiny offset.
                if r.text == p.text && (r.x0 - p.x0).abs() < 0.3 * size {
                    continue;
                }
                let gap = r.x0 - p.x1;
                if gap > 0.2 * size || r.x0 < p.x0 - size {
                    out.push(' ');
                }
            } else {
                out.push('\n');
            }
        }
        out.push_str(&r.text);
        prev = Some(r);
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// PDF: one segment per page with text; `needs-ocr` when no page has any.
pub(crate) fn extract(ctx: &Ctx<'_>, bytes: &[u8], sink: &mut Sink) -> Result<(), DocProblem> {
    let limit = usize::try_from(ctx.limits.max_total_uncompressed).unwrap_or(usize::MAX);
    let truncated =
        !find(&bytes[bytes.len().saturating_sub(4096)..], b"%%EOF") && !find(bytes, b"%%EOF");
    let options = LoadOptions {
        max_decompressed_size: Some(limit),
        ..LoadOptions::default()
    };
    let doc = match Document::load_mem_with_options(bytes, options) {
        Ok(d) => d,
        Err(e) => {
            let text = e.to_string();
            return Err(
                if matches!(
                    e,
                    lopdf::Error::InvalidPassword | lopdf::Error::Decryption(_)
                ) || text.contains("assword")
                    || text.contains("ecrypt")
                {
                    DocProblem::new("", "encrypted", "PDF is password-protected")
                } else if truncated {
                    DocProblem::new(
                        "",
                        "corrupt",
                        format!("PDF is truncated (no %%EOF marker): {text}"),
                    )
                } else if matches!(e, lopdf::Error::Decompress(_)) {
                    DocProblem::new(
                        "",
                        "bomb",
                        format!("PDF stream inflates past the limit: {text}"),
                    )
                } else {
                    DocProblem::new("", "corrupt", format!("PDF unreadable: {text}"))
                },
            );
        }
    };
    if doc.is_encrypted() {
        return Err(DocProblem::new(
            "",
            "encrypted",
            "PDF is password-protected",
        ));
    }
    let mut reader = Reader {
        doc: &doc,
        fonts: HashMap::new(),
        limit,
        loops: HashSet::new(),
        ops: 0,
    };
    let mut seen = HashSet::new();
    let mut pages = 0usize;
    let mut image_only_pages = Vec::new();
    let mut any_text = false;
    for page_id in doc.page_iter() {
        if !seen.insert(page_id) {
            reader
                .loops
                .insert("page tree lists a page twice (page tree loop cut)".to_string());
            continue;
        }
        pages += 1;
        let location = format!("page {pages}");
        if pages > ctx.limits.max_pages {
            sink.problem(DocProblem::new(
                location,
                "too-large",
                format!(
                    "PDF has more than {} pages; the rest were not read",
                    ctx.limits.max_pages
                ),
            ));
            break;
        }
        if sink.is_full() {
            break;
        }
        ctx.check_time(&location)?;
        let content = match doc.get_page_content_with_limit(page_id, limit) {
            Ok(c) => c,
            Err(e) => {
                sink.problem(DocProblem::new(
                    location,
                    "corrupt",
                    format!("PDF: page content unreadable: {e}"),
                ));
                continue;
            }
        };
        let (own, inherited) = doc
            .get_page_resources(page_id)
            .unwrap_or((None, Vec::new()));
        let mut resources: Vec<&Dictionary> = own.into_iter().collect();
        resources.extend(
            inherited
                .iter()
                .filter_map(|id| doc.get_dictionary(*id).ok()),
        );
        let mut runs = Vec::new();
        let mut forms = Vec::new();
        if let Err(e) = reader.run(&content, &resources, IDENTITY, &mut forms, &mut runs) {
            sink.problem(DocProblem::new(
                location.clone(),
                "corrupt",
                format!("PDF: {e}"),
            ));
        }
        let text = layout(&runs);
        if text.trim().is_empty() {
            if resources.iter().any(|r| r.get(b"XObject").is_ok()) {
                image_only_pages.push(location);
            }
        } else {
            any_text = true;
            sink.push(location, text);
        }
    }
    if !reader.loops.is_empty() {
        let mut notes: Vec<_> = reader.loops.into_iter().collect();
        notes.sort();
        sink.problem(DocProblem::new(
            "",
            "corrupt",
            format!("PDF: {}", notes.join("; ")),
        ));
    }
    if truncated && any_text {
        sink.problem(DocProblem::new(
            "",
            "corrupt",
            "PDF is truncated (no %%EOF marker)",
        ));
    }
    if pages == 0 {
        return Err(DocProblem::new("", "corrupt", "PDF has no readable pages"));
    }
    if !any_text && truncated {
        return Err(DocProblem::new(
            "",
            "corrupt",
            "PDF is truncated (no %%EOF marker) and no text could be read",
        ));
    }
    if !any_text {
        return Err(DocProblem::new(
            "",
            "needs-ocr",
            format!("PDF has no text layer ({pages} page(s), scanned images?)"),
        ));
    }
    for location in image_only_pages {
        sink.problem(DocProblem::new(
            location,
            "needs-ocr",
            "PDF page has images but no text layer",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmap_bfchar_and_bfrange() {
        let cmap = CMap::parse(
            b"1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
              2 beginbfchar <0003> <0020> <0011> <90AE> endbfchar\n\
              1 beginbfrange <0020> <0022> <0061> endbfrange\n\
              1 beginbfrange <0030> <0031> [<7BB1> <0040>] endbfrange",
        );
        assert_eq!(cmap.codespace, [(2, 0, 0xFFFF)]);
        assert_eq!(cmap.map.get(&(2, 0x11)).map(String::as_str), Some("邮"));
        assert_eq!(cmap.map.get(&(2, 0x22)).map(String::as_str), Some("c"));
        assert_eq!(cmap.map.get(&(2, 0x31)).map(String::as_str), Some("@"));
    }

    #[test]
    fn runs_on_one_baseline_are_joined() {
        let run = |x0: f64, x1: f64, y: f64, t: &str| Run {
            x0,
            y,
            x1,
            size: 10.0,
            text: t.to_string(),
        };
        let runs = [
            run(0.0, 50.0, 100.0, "邮箱：zhang@"),
            run(50.2, 70.0, 100.3, "ustl"),
            run(70.0, 100.0, 100.0, ".edu.cn"),
            run(140.0, 160.0, 100.0, "电话"),
            run(0.0, 30.0, 86.0, "第二行"),
            run(0.1, 30.1, 86.0, "第二行"),
        ];
        assert_eq!(layout(&runs), "邮箱：zhang@ustl.edu.cn 电话\n第二行");
    }
}
