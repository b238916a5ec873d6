//! The address finder: one ASCII regex over the text as written, then the same regex over each
//! de-obfuscated rewrite from [`super::forms`], with every hit mapped back to the span of the
//! original text it came from. It also owns the validation every address must pass, which is
//! what keeps `logo@2x.png` and `jquery@3.6.0` out of the reports.

use std::collections::BTreeMap;
use std::ops::Range;

use super::forms::{self, OffsetMap};
use crate::model::{Email, EmailCandidate, Form};

/// The address pattern both passes look for, in regex form:
///
/// `[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`
///
/// ASCII-only on purpose: the non-ASCII spellings are folded to ASCII by the rewrites first.
/// The final label is letters only, so a phone number glued to the address
/// (`x.edu.cn0411-8765432`) is left out. [`next_match`] finds exactly the matches the regex
/// engine would (leftmost-first, greedy; a test checks the two agree), but by hand: page text
/// has an `@` every few hundred bytes (CSS, handles, asset names), and at that density the
/// engine's literal-then-verify strategy costs more than the whole rest of the finder.
fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// The first match of the address pattern in `text[from..]`, as the regex engine's
/// `find_at` would report it.
fn next_match(text: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut pos = from;
    while let Some(i) = memchr::memchr(b'@', bytes.get(pos..)?) {
        let at = pos + i;
        // The local part: the longest run of local bytes before the `@`. Runs before
        // different at-signs are disjoint, so the first `@` that works gives the leftmost
        // match.
        if let Some(m) = match_at(bytes, from, at) {
            return Some(m);
        }
        pos = at + 1;
    }
    None
}

/// The match around the `@` at `at`, if any, with its local part starting no earlier than
/// `from`.
fn match_at(bytes: &[u8], from: usize, at: usize) -> Option<(usize, usize)> {
    let mut start = at;
    while start > from && is_local_byte(bytes[start - 1]) {
        start -= 1;
    }
    if start == at {
        return None;
    }
    Some((start, domain_end(bytes, at + 1)?))
}

/// End of the longest `label(.label)*.letters{2,}` starting at `from`: labels are whole
/// dot-separated runs, and the last one counts up to the end of its leading letters.
fn domain_end(bytes: &[u8], from: usize) -> Option<usize> {
    let run = |mut i: usize, f: fn(u8) -> bool| {
        while bytes.get(i).copied().is_some_and(f) {
            i += 1;
        }
        i
    };
    let mut i = run(from, is_label_byte);
    if i == from {
        return None;
    }
    let mut best = None;
    while bytes.get(i) == Some(&b'.') {
        let label = i + 1;
        let letters = run(label, |b| b.is_ascii_alphabetic());
        if letters - label >= 2 {
            best = Some(letters);
        }
        let next = run(letters, is_label_byte);
        if next == label {
            break;
        }
        i = next;
    }
    best
}

/// Every match of the address pattern, left to right, not overlapping.
fn matches(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        let (start, end) = next_match(text, from)?;
        from = end;
        Some((start, end))
    })
}

/// Retina image names (`logo@2x.png`): a first domain label like `2x` is never a mail host.
/// Checked by hand, not by a regex: it runs for every `@` the plain pass meets.
fn is_retina_label(label: &str) -> bool {
    label.strip_suffix('x').is_some_and(|scale| {
        let (whole, fraction) = scale.split_once('.').unwrap_or((scale, "1"));
        [whole, fraction]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// File extensions that are also top-level domains (`.zip`, `.mov`) or look like one: after an
/// `@` they are file names, not mail hosts.
const FILE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "ico", "css", "js", "json", "zip", "mov",
    "mp4", "mp3", "pdf",
];

/// Characters of context kept on each side of an occurrence.
const CONTEXT_CHARS: usize = 40;

/// An occurrence located by its byte span in the text that was searched.
#[derive(Debug)]
pub(super) struct Found {
    pub start: usize,
    pub end: usize,
    pub address: Email,
    pub form: Form,
    /// The evidence, taken when the occurrence is kept, while its text is still in the CPU
    /// cache: read back after the whole text has been scanned, every occurrence cost a cache
    /// miss, and that was a tenth of the finder's time on a large text.
    raw: String,
    context: String,
}

impl Found {
    fn new(text: &str, start: usize, end: usize, address: Email, form: Form) -> Self {
        Found {
            start,
            end,
            address,
            form,
            raw: text.get(start..end).unwrap_or_default().to_string(),
            context: context(text, start, end),
        }
    }

    /// Attaches the evidence: the text as written and its surroundings. `text` is the text
    /// [`find`] searched.
    pub fn into_candidate(self, text: &str) -> EmailCandidate {
        debug_assert_eq!(text.get(self.start..self.end), Some(self.raw.as_str()));
        EmailCandidate {
            raw: self.raw,
            context: self.context,
            location: None,
            source: crate::model::Source::Served,
            evidence: None,
            address: self.address,
            form: self.form,
        }
    }
}

/// Every occurrence in `text`, ordered by position, no two overlapping.
///
/// The plain pass runs the ASCII regex over the whole text. The rewrites are much slower
/// (they copy text and run several regexes), so they only run inside the windows
/// [`forms::windows`] opens around disguised at-signs; on an ordinary page that is a few
/// hundred bytes out of many kilobytes.
pub(super) fn find(text: &str) -> Vec<Found> {
    let mut found = Spans::new(text);
    let signs = scan(text, &mut found);
    for window in forms::windows_around(text, signs) {
        if let Some(sub) = text.get(window.clone()) {
            let bytes = text.as_bytes();
            let hard_start = window.start == 0 || bytes.get(window.start - 1) == Some(&b'\n');
            let hard_end = window.end == text.len() || bytes.get(window.end) == Some(&b'\n');
            find_obfuscated(sub, window.start, (hard_start, hard_end), &mut found);
        }
    }
    found.into_vec()
}

/// One rewrite of a window and the form an address owes to it.
struct Layer<'a> {
    map: &'a OffsetMap,
    form: Form,
}

/// Runs the fold and every rewrite of the table, in sequence, over one window, and scans
/// the result. `offset` is where the window starts in the whole text; an edge is hard when
/// the text (or its line) ends there, so an address touching it is not cut short.
fn find_obfuscated(
    window: &str,
    offset: usize,
    (hard_start, hard_end): (bool, bool),
    found: &mut Spans,
) {
    let folded = forms::fold(window);
    let mut rewritten: Vec<(forms::Rewritten, Form)> =
        Vec::with_capacity(forms::OBFUSCATIONS.len());
    for ob in forms::OBFUSCATIONS {
        let current = rewritten.last().map_or_else(
            || folded.as_ref().map_or(window, |f| f.text.as_str()),
            |(r, _)| r.text.as_str(),
        );
        if !(ob.marker)(current) {
            continue;
        }
        if let Some(rw) = (ob.rewrite)(current) {
            rewritten.push((rw, ob.form));
        }
    }
    // Innermost (last applied) first, as `scan` walks them back to the window.
    let mut layers: Vec<Layer<'_>> = rewritten
        .iter()
        .rev()
        .map(|(rw, form)| Layer {
            map: &rw.map,
            form: *form,
        })
        .collect();
    if let Some(f) = &folded {
        layers.push(Layer {
            map: &f.map,
            form: Form::FullWidth,
        });
    }
    if layers.is_empty() {
        return;
    }
    let last = rewritten
        .last()
        .map(|(r, _)| r.text.as_str())
        .or(folded.as_ref().map(|f| f.text.as_str()))
        .unwrap_or(window);
    // Hits touching the window's edges may be cut short by it; the text's own edges and
    // line breaks are fine.
    let end = offset + window.len();
    let inner = Range {
        start: if hard_start { offset } else { offset + 1 },
        end: if hard_end { end } else { end.saturating_sub(1) },
    };
    scan_layers(last, &layers, offset, inner, found);
}

/// Scans the fully rewritten window; a hit counts only if some layer touched it, and that
/// layer (the earliest in table order, fold last) names its form.
fn scan_layers(
    text: &str,
    layers: &[Layer<'_>],
    offset: usize,
    inner: Range<usize>,
    found: &mut Spans,
) {
    for (m_start, m_end) in matches(text) {
        let Some((mut start, mut end, address)) = validate(text, m_start, m_end) else {
            continue;
        };
        let mut form = None;
        for layer in layers {
            if layer.map.touches(start, end) {
                // Layers are innermost first; the outer (earlier) ones overwrite, except that
                // the fold only names the form when no rewrite did.
                if layer.form != Form::FullWidth || form.is_none() {
                    form = Some(layer.form);
                }
            }
            (start, end) = (layer.map.start(start), layer.map.end(end));
        }
        let Some(form) = form else {
            continue;
        };
        let (start, end) = (start + offset, end + offset);
        if start < inner.start || end > inner.end {
            continue;
        }
        found.insert(start, end, address, form);
    }
}

/// Runs the address pattern over the text as written (the plain form), and on the way notes
/// the `@` and `#` signs that call for a window of rewrites: one pass over the text for both.
fn scan(text: &str, found: &mut Spans) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut signs = Vec::new();
    let mut from = 0;
    for at in memchr::memchr2_iter(b'@', b'#', bytes) {
        if forms::sign_opens_window(text, at) {
            signs.push(at);
        }
        if bytes[at] != b'@' {
            continue;
        }
        // Every `@` is tried in order, as in [`matches`]: a match ends before the next `@`
        // (its domain has none), so `at >= from`.
        let Some((m_start, m_end)) = match_at(bytes, from, at) else {
            continue;
        };
        from = m_end;
        if let Some((start, end, address)) = validate(text, m_start, m_end) {
            found.insert(start, end, address, Form::Plain);
        }
    }
    signs
}

/// Trims what the regex over-matched and checks the address; returns the kept span.
fn validate(text: &str, start: usize, end: usize) -> Option<(usize, usize, Email)> {
    let m = text.get(start..end)?;
    let trimmed_front = m.trim_start_matches('.');
    if cut_before(text.get(..start)?) || trimmed_front.len() + 2 < m.len() {
        // `...hen@x.edu.cn`: the local part was cut short; its true start is unknown.
        return None;
    }
    let start = start + (m.len() - trimmed_front.len());
    let m = trimmed_front.trim_end_matches(['.', '-']);
    let (local, domain) = m.rsplit_once('@')?;
    if cut_after(text, start + local.len() + 1) {
        return None;
    }
    let kept = known_domain_prefix(domain)?;
    let address = Email::parse(&format!("{local}@{}", &domain[..kept]))?;
    Some((start, start + local.len() + 1 + kept, address))
}

/// Characters that end a text cut short ("…", "⋯", or three dots).
const ELLIPSES: &[char] = &['…', '⋯'];

/// Whether the domain starting at `from` runs into an ellipsis: `chen@x.edu.c...` is some
/// address the page did not show in full, and reporting `chen@x.edu` would name a different
/// one.
fn cut_after(text: &str, from: usize) -> bool {
    let Some(rest) = text.get(from..) else {
        return false;
    };
    let run = rest
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
        .unwrap_or(rest.len());
    rest[..run].ends_with("..") || rest[run..].starts_with(ELLIPSES)
}

/// Whether the text before a local part ends in an ellipsis.
fn cut_before(before: &str) -> bool {
    before.ends_with(ELLIPSES)
}

/// Length of the longest prefix of `domain`, cut at a dot, that can be a mail host. The
/// shorter prefixes rescue `a@x.edu.cn.Qwerty` when the next word runs into the address (a
/// next word that is itself a top-level domain, like `Next`, cannot be told apart).
pub(super) fn known_domain_prefix(domain: &str) -> Option<usize> {
    let ends = std::iter::once(domain.len()).chain(domain.rmatch_indices('.').map(|(i, _)| i));
    ends.take_while(|&end| domain[..end].contains('.'))
        .find(|&end| is_mail_domain(&domain[..end]))
}

/// Whether `domain` has a registrable part under a known public suffix and is not a file name.
fn is_mail_domain(domain: &str) -> bool {
    let first = domain.split('.').next().unwrap_or_default();
    let last = domain.rsplit('.').next().unwrap_or_default();
    // Compared without copying: most domains are written in lowercase.
    let retina = is_retina_label(first)
        || (first.ends_with('X') && is_retina_label(&first.to_ascii_lowercase()));
    if retina
        || FILE_EXTENSIONS
            .iter()
            .any(|ext| ext.eq_ignore_ascii_case(last))
    {
        return false;
    }
    let lower: std::borrow::Cow<'_, str> = if domain.bytes().any(|b| b.is_ascii_uppercase()) {
        domain.to_ascii_lowercase().into()
    } else {
        domain.into()
    };
    psl::domain(lower.as_bytes()).is_some_and(|d| d.suffix().is_known())
}

/// Parses one address written out in full (as in a `mailto:` link) with the same rules the
/// finder applies.
pub(super) fn parse_address(s: &str) -> Option<Email> {
    let email = Email::parse(s)?;
    is_mail_domain(email.domain()).then_some(email)
}

/// Up to [`CONTEXT_CHARS`] characters on each side of `start..end`, on one line.
fn context(text: &str, start: usize, end: usize) -> String {
    if start > end || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
        return String::new();
    }
    // Counted on bytes (a character starts at every byte that is not a continuation byte):
    // this runs for every occurrence found.
    let bytes = text.as_bytes();
    let starts_char = |b: u8| !(0x80..0xC0).contains(&b);
    let (mut from, mut n) = (start, 0);
    while from > 0 && n < CONTEXT_CHARS {
        from -= 1;
        if starts_char(bytes[from]) {
            n += 1;
        }
    }
    let (mut to, mut n) = (end, 0);
    while to < bytes.len() {
        if starts_char(bytes[to]) {
            if n == CONTEXT_CHARS {
                break;
            }
            n += 1;
        }
        to += 1;
    }
    one_line(text.get(from..to).unwrap_or_default())
}

/// Collapses every run of whitespace to one space and trims the ends.
pub(super) fn one_line(s: &str) -> String {
    // One buffer, words copied whole, whitespace recognised on bytes: this runs for every
    // occurrence found.
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut word: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        // Skip what cannot start a whitespace character (most of any text) in a tight loop.
        let from = i;
        while bytes.get(i).is_some_and(|&b| {
            (b > b' ' && b < 0x80) || (b >= 0x80 && !matches!(b, 0xC2 | 0xE1..=0xE3))
        }) {
            i += 1;
        }
        if i > from {
            word.get_or_insert(from);
            continue;
        }
        let blank = whitespace_len(&bytes[i..]);
        if blank == 0 {
            word.get_or_insert(i);
            i += 1;
            continue;
        }
        if let Some(w) = word.take() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&s[w..i]);
        }
        i += blank;
    }
    if let Some(w) = word {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&s[w..]);
    }
    out
}

/// Length of the whitespace character (Unicode `White_Space`, as `char::is_whitespace`) that
/// `b` starts with, or 0.
fn whitespace_len(b: &[u8]) -> usize {
    match *b {
        [b'\t'..=b'\r' | b' ', ..] => 1,
        [0xC2, 0x85 | 0xA0, ..] => 2,
        [0xE1, 0x9A, 0x80, ..]
        | [0xE2, 0x80, 0x80..=0x8A | 0xA8 | 0xA9 | 0xAF, ..]
        | [0xE2, 0x81, 0x9F, ..]
        | [0xE3, 0x80, 0x80, ..] => 3,
        _ => 0,
    }
}

/// Occurrences keyed by start. The first pass to claim a span keeps it, so a plain hit is
/// never reported again through a rewrite.
struct Spans<'t> {
    /// The whole text the spans point into.
    text: &'t str,
    kept: BTreeMap<usize, Found>,
}

impl<'t> Spans<'t> {
    fn new(text: &'t str) -> Self {
        Spans {
            text,
            kept: BTreeMap::new(),
        }
    }

    /// Keeps `f` unless it overlaps a span already kept. A hit that strictly contains every
    /// span it overlaps replaces them: the plain pass reads `zhang@ustl.edu．cn` as
    /// `zhang@ustl.edu`, and the fold then finds the whole address.
    fn insert(&mut self, start: usize, end: usize, address: Email, form: Form) {
        if start >= end {
            return;
        }
        // Spans never overlap, so those overlapping `f` are contiguous in the map.
        let overlapping: Vec<usize> = self
            .kept
            .range(..end)
            .rev()
            .take_while(|(_, prev)| prev.end > start)
            .map(|(&s, _)| s)
            .collect();
        // ... but a Chinese full stop right after a complete address ends the sentence:
        // `zhang@ustl.edu.cn。Tel` is not `zhang@ustl.edu.cn.tel`.
        let covers = overlapping.iter().all(|s| {
            self.kept.get(s).is_some_and(|p| {
                start <= p.start
                    && p.end <= end
                    && p.end - p.start < end - start
                    && !self.text.get(p.end..).is_some_and(|t| t.starts_with('。'))
            })
        });
        if !covers {
            return;
        }
        for s in overlapping {
            self.kept.remove(&s);
        }
        self.kept
            .insert(start, Found::new(self.text, start, end, address, form));
    }

    fn into_vec(self) -> Vec<Found> {
        self.kept.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pattern [`next_match`] implements by hand.
    const ADDRESS: &str = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}";

    fn assert_matches_like_the_regex(text: &str) {
        let re = regex::Regex::new(ADDRESS).expect("literal regex");
        let want: Vec<(usize, usize)> = re.find_iter(text).map(|m| (m.start(), m.end())).collect();
        let got: Vec<(usize, usize)> = matches(text).collect();
        assert_eq!(got, want, "{text:?}");
    }

    #[test]
    fn hand_matcher_agrees_with_the_regex() {
        for text in [
            "",
            "@",
            "a@b",
            "a@b.cc",
            "a@b.c",
            "a@b..cc",
            "a@b.cc..dd",
            "a@b.cc.d1",
            "wang@x.edu.cn0411-8765432",
            "a@b@c.com",
            "..zhang@ustl.edu.cn.",
            "x@-.-.ab-",
            "a@b.c1d.ef9.g",
            "中a@b.cn中",
            "@x.com a@@b.com a@b.com@c.org",
            "logo@2x.png jquery@3.6.0 a.b@c.d.ee.f",
        ] {
            assert_matches_like_the_regex(text);
        }
        // Random strings over the bytes that matter.
        let pieces = [
            "a", "Z", "1", ".", "-", "_", "@", " ", "中", "cn", "..", "@@", "x9",
        ];
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..(seed % 30) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = usize::try_from(seed % pieces.len() as u64).unwrap_or(0);
                s.push_str(pieces[i]);
            }
            assert_matches_like_the_regex(&s);
        }
    }

    fn found(text: &str) -> Vec<(String, Form)> {
        find(text)
            .into_iter()
            .map(|f| (f.address.to_string(), f.form))
            .collect()
    }

    fn one(addr: &str, form: Form) -> Vec<(String, Form)> {
        vec![(addr.to_string(), form)]
    }

    #[test]
    fn one_case_per_form() {
        let cases: &[(&str, &str, Form)] = &[
            (
                "mail zhang@ustl.edu.cn now",
                "zhang@ustl.edu.cn",
                Form::Plain,
            ),
            (
                "Zhang.San@USTL.edu.CN",
                "zhang.san@ustl.edu.cn",
                Form::Plain,
            ),
            ("zhang＠ustl．edu．cn", "zhang@ustl.edu.cn", Form::FullWidth),
            (
                "ｚｈａｎｇ@ustl.edu.cn",
                "zhang@ustl.edu.cn",
                Form::FullWidth,
            ),
            ("zhang﹫ustl.edu.cn", "zhang@ustl.edu.cn", Form::FullWidth),
            (
                "邮箱li。ming@163。com。",
                "li.ming@163.com",
                Form::FullWidth,
            ),
            (
                "请将#替换为@：office#ustl.edu.cn",
                "office@ustl.edu.cn",
                Form::HashForAt,
            ),
            (
                "office#ustl.edu.cn（#改为@）",
                "office@ustl.edu.cn",
                Form::HashForAt,
            ),
            (
                "邮箱：office#ustl.edu.cn",
                "office@ustl.edu.cn",
                Form::HashForAt,
            ),
            ("zhang[at]ustl.edu.cn", "zhang@ustl.edu.cn", Form::AtWord),
            ("zhang (AT) ustl.edu.cn", "zhang@ustl.edu.cn", Form::AtWord),
            (
                "zhang{at}ustl{dot}edu{dot}cn",
                "zhang@ustl.edu.cn",
                Form::AtWord,
            ),
            (
                "zhang <at> ustl [dot] edu (dot) cn",
                "zhang@ustl.edu.cn",
                Form::AtWord,
            ),
            ("zhang［at］ustl.edu.cn", "zhang@ustl.edu.cn", Form::AtWord),
            (
                "write to zhang at ustl dot edu dot cn",
                "zhang@ustl.edu.cn",
                Form::AtWord,
            ),
            (
                "zhang AT ustl DOT edu DOT cn",
                "zhang@ustl.edu.cn",
                Form::AtWord,
            ),
            ("name @ x.edu.cn", "name@x.edu.cn", Form::Spaced),
            ("name @x.edu.cn", "name@x.edu.cn", Form::Spaced),
            ("name@ x.edu.cn", "name@x.edu.cn", Form::Spaced),
            ("name @ ustl . edu . cn", "name@ustl.edu.cn", Form::Spaced),
            ("name@@ustl.edu.cn", "name@ustl.edu.cn", Form::Spaced),
            (
                "name\u{3000}@\u{3000}ustl.edu.cn",
                "name@ustl.edu.cn",
                Form::Spaced,
            ),
        ];
        for (input, addr, form) in cases {
            assert_eq!(found(input), one(addr, *form), "{input}");
        }
    }

    #[test]
    fn chinese_surroundings() {
        assert_eq!(
            found("联系邮箱：zhang@ustl.edu.cn，电话0411-12345678"),
            one("zhang@ustl.edu.cn", Form::Plain)
        );
        assert_eq!(
            found("邮箱wang@x.edu.cn0411-8765432"),
            one("wang@x.edu.cn", Form::Plain)
        );
        // A sentence-ending 。 is not a dot, and the plain hit is not reported twice.
        assert_eq!(
            found("请联系zhang@ustl.edu.cn。谢谢"),
            one("zhang@ustl.edu.cn", Form::Plain)
        );
        assert_eq!(
            found("Email: zhang@ustl.edu.cn。Tel"),
            one("zhang@ustl.edu.cn", Form::Plain)
        );
    }

    #[test]
    fn negatives_find_nothing() {
        for input in [
            "x@y.zz",
            "logo@2x.png",
            "icon@3x.webp",
            "<img src=\"banner@2x.jpg\">",
            "jquery@3.6.0",
            "vue@2.6.14.min.js",
            "@media screen",
            "npm i @scope/pkg",
            "@所有人 请注意",
            "a@b",
            "user@localhost",
            "@",
            "@@@@",
            "a @ b",
            "see page.html#news.cn",
            "http://x.edu.cn/index.html#top.com",
            "C#.NET",
            "color: #fff.",
            "more information at www dot ustl",
            "more information at www.ustl.edu.cn",
            "meet (at) noon",
            "li。ming",
            "a@edu.cn",
            "file@backup.zip",
        ] {
            assert_eq!(found(input), Vec::new(), "{input}");
        }
    }

    #[test]
    fn rare_tlds_after_hash_need_a_note() {
        assert_eq!(found("div#nav.menu"), Vec::new());
        assert_eq!(
            found("office#ustl.menu (请将#替换为@)"),
            one("office@ustl.menu", Form::HashForAt)
        );
    }

    #[test]
    fn trims_dots_and_sentence_runs() {
        assert_eq!(
            found("..zhang@ustl.edu.cn."),
            one("zhang@ustl.edu.cn", Form::Plain)
        );
        let f = find("see zhang@ustl.edu.cn.Qwerty time");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].address.to_string(), "zhang@ustl.edu.cn");
    }

    #[test]
    fn several_addresses_keep_their_order_and_forms() {
        let got = found("a@x.edu.cn, b[at]x.edu.cn, c＠x．edu．cn; d#x.edu.cn, a@x.edu.cn");
        let want = [
            ("a@x.edu.cn", Form::Plain),
            ("b@x.edu.cn", Form::AtWord),
            ("c@x.edu.cn", Form::FullWidth),
            ("d@x.edu.cn", Form::HashForAt),
            ("a@x.edu.cn", Form::Plain),
        ];
        let want: Vec<_> = want.iter().map(|(a, f)| (a.to_string(), *f)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn raw_and_context_point_at_the_original() {
        let text = "办公室　　联系方式：zhang［at］ustl．edu．cn\n\n 电话：0411";
        let c = super::super::find_addresses(text);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].raw, "zhang［at］ustl．edu．cn");
        assert_eq!(c[0].form, Form::AtWord);
        assert_eq!(
            c[0].context,
            "办公室 联系方式：zhang［at］ustl．edu．cn 电话：0411"
        );

        let long = format!("{}zhang@ustl.edu.cn{}", "前".repeat(100), "后".repeat(100));
        let c = super::super::find_addresses(&long);
        assert_eq!(c[0].raw, "zhang@ustl.edu.cn");
        assert_eq!(
            c[0].context,
            format!("{}zhang@ustl.edu.cn{}", "前".repeat(40), "后".repeat(40))
        );
    }

    #[test]
    fn one_line_collapses_like_split_whitespace() {
        for s in [
            "",
            " ",
            "a",
            " a b ",
            "a\u{3000}\u{3000}b\n\n c\u{0B}d\u{A0}",
            "中 文\t\r\n英",
            "\u{85}a\u{1680}b\u{2000}\u{200A}c\u{2028}\u{2029}d\u{202F}e\u{205F}f\u{200B}g",
            "\u{1F}\u{7F}x\u{180E}y\u{FEFF}",
        ] {
            assert_eq!(
                one_line(s),
                s.split_whitespace().collect::<Vec<_>>().join(" "),
                "{s:?}"
            );
        }
    }

    #[test]
    fn retina_labels() {
        for yes in ["2x", "3x", "1.5x"] {
            assert!(is_retina_label(yes), "{yes}");
        }
        for no in ["x", "2", "ax", "2.x", ".5x", "2xx", "mx"] {
            assert!(!is_retina_label(no), "{no}");
        }
    }

    #[test]
    fn parse_address_applies_the_same_rules() {
        assert!(parse_address("zhang@ustl.edu.cn").is_some());
        assert!(parse_address("logo@2x.png").is_none());
        assert!(parse_address("x@y.zz").is_none());
    }

    #[test]
    fn never_panics_on_odd_input() {
        // A cheap deterministic fuzz: mixes markers, multi-byte characters and address parts.
        let pieces = [
            "@",
            "#",
            "。",
            "．",
            "＠",
            "[at]",
            "(dot)",
            " ",
            "a",
            "x.edu.cn",
            ".",
            "-",
            "中",
            "\u{10348}",
            "ｚ",
            "\n",
            "AT",
            " dot ",
            "@@",
            "【at】",
            "﹫",
            "请将#替换为@",
            "2x",
            ".png",
            "\u{3000}",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..3000 {
            let mut s = String::new();
            for _ in 0..(seed % 24) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = usize::try_from(seed % pieces.len() as u64).unwrap_or(0);
                s.push_str(pieces[i]);
            }
            for c in super::super::find_addresses(&s) {
                assert!(s.contains(&c.raw), "{s:?} {c:?}");
            }
        }
        let huge = "@".repeat(100_000) + &"a.".repeat(50_000);
        assert!(find(&huge).is_empty());
    }
}
