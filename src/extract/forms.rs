//! The obfuscation table: each entry is a cheap marker check, a rewrite that turns one way of
//! hiding an address back into `name@domain`, and the [`Form`] to report for what the rewrite
//! uncovers. Rewrites keep an [`OffsetMap`] so the finder can point at the text as it was
//! written. Adding a new obfuscation is one function and one table row; validating and
//! deduplicating the hits is the finder's job, not the rewrite's.

use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::text::known_domain_prefix;
use crate::model::Form;

/// One way of hiding an address.
pub(super) struct Obfuscation {
    /// Reported for addresses this rewrite uncovers.
    pub form: Form,
    /// False when the rewrite certainly changes nothing; lets windows skip the regexes.
    pub marker: fn(&str) -> bool,
    /// The de-obfuscated text, or `None` when nothing was rewritten.
    pub rewrite: fn(&str) -> Option<Rewritten>,
}

/// Applied, in this order, each to the output of the one before, after [`fold`]. When an
/// address owes something to several rows, the first row that touched it names its form.
pub(super) const OBFUSCATIONS: &[Obfuscation] = &[
    Obfuscation {
        form: Form::HashForAt,
        marker: |t| t.contains('#'),
        rewrite: hash_for_at,
    },
    Obfuscation {
        form: Form::AtWord,
        marker: |t| t.contains(['[', '(', '{', '<', '【', '〔']),
        rewrite: bracketed_words,
    },
    Obfuscation {
        form: Form::AtWord,
        marker: |t| {
            t.as_bytes()
                .windows(2)
                .any(|w| w.eq_ignore_ascii_case(b"at"))
        },
        rewrite: spelled_words,
    },
    Obfuscation {
        form: Form::ChineseWord,
        marker: |t| t.contains(['艾', '圈', '点']),
        rewrite: chinese_words,
    },
    Obfuscation {
        form: Form::Spaced,
        // The rewrite's own scan is the check: a separate `is_match` would scan twice.
        marker: |_| true,
        rewrite: spaced,
    },
];

/// Every way of writing `@` (or a word for it), plus the spelled ` dot ` that gives away a
/// spelled ` at `. Each obfuscated address contains one, so windows around these are the
/// only places the rewrites need to run: a page of plain text and plain addresses costs two
/// cheap passes and no rewrite at all.
///
/// The markers are split by length because the regex engine's SIMD literal matcher (Teddy)
/// only takes literals of three bytes or more: `@` and `#` are found with `memchr2`, the
/// rest by [`MARKER`], literals only (a case-insensitive
/// ` at ` or any class would push it onto a slower path, and ` at ` is on every line of
/// English prose). The checks that need context are done by [`worth_a_window`] on the hits.
static MARKER: LazyLock<Markers> = LazyLock::new(|| {
    let mut literals: Vec<String> = ["＠", "﹫", "艾特", "圈a", "圈A", "ａｔ", "ＡＴ"]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
    // `[at]`, `( AT )`, `【at】`...: the word and its closing bracket, in the common cases.
    for word in ["at", "AT", "At"] {
        for close in [
            "]", ")", "}", ">", "】", "〕", "］", "）", "｝", "＞", " ]", " )",
        ] {
            literals.push(format!("{word}{close}"));
        }
    }
    literals.extend([" dot ", " DOT ", " Dot ", " AT "].map(String::from));
    // The regex engine wraps its literal matcher in a DFA that re-checks every candidate;
    // the packed searcher alone reports the same leftmost-first matches at a fraction of
    // the cost. It is only missing without SIMD, where the regex does the job.
    let mut config = aho_corasick::packed::Config::new();
    config.match_kind(aho_corasick::packed::MatchKind::LeftmostFirst);
    let packed = config.builder().extend(&literals).build();
    packed.map_or_else(
        || {
            let alternation: Vec<String> = literals.iter().map(|l| regex::escape(l)).collect();
            Markers::Regex(Regex::new(&alternation.join("|")).expect("literal regex"))
        },
        Markers::Packed,
    )
});

/// The multi-byte markers' matcher, see [`MARKER`].
enum Markers {
    Packed(aho_corasick::packed::Searcher),
    Regex(Regex),
}

impl Markers {
    /// Pushes the span of every marker in `text` (leftmost-first, not overlapping).
    fn find_all(&self, text: &str, out: &mut Vec<(usize, usize)>) {
        match self {
            Markers::Packed(s) => out.extend(s.find_iter(text).map(|m| (m.start(), m.end()))),
            Markers::Regex(r) => out.extend(r.find_iter(text).map(|m| (m.start(), m.end()))),
        }
    }
}

/// Bytes of context a window keeps before and after its marker: a local part of 64
/// full-width characters is 192 bytes, and a domain spelled with ` dot ` words is longer
/// than its 253 octets.
const WINDOW_BEFORE: usize = 256;
const WINDOW_AFTER: usize = 384;

/// How far a spelled ` dot ` looks back for the ` at ` or `@` that makes it an address.
const SPELLED_DOT_REACH: usize = 160;

/// Byte ranges of `text` (on char boundaries, sorted, disjoint) where an obfuscated address
/// may be. Everything outside them is left to the plain pass. A window ends at a line break
/// or after a fixed reach; only in the second case can it cut an address short.
#[cfg(test)]
pub(super) fn windows(text: &str) -> Vec<Range<usize>> {
    let signs = memchr::memchr2_iter(b'@', b'#', text.as_bytes())
        .filter(|&i| sign_opens_window(text, i))
        .collect();
    windows_around(text, signs)
}

/// Whether the `@` or `#` at byte `i` of `text` calls for a window.
pub(super) fn sign_opens_window(text: &str, i: usize) -> bool {
    worth_a_window(text, i, i + 1)
}

/// [`windows`], given the positions (sorted) of the `@` and `#` signs that call for one: the
/// finder notes them in its plain pass, which visits every `@` anyway, and the text is not
/// scanned for them a second time.
pub(super) fn windows_around(text: &str, signs: Vec<usize>) -> Vec<Range<usize>> {
    let mut hits: Vec<(usize, usize)> = signs.into_iter().map(|i| (i, i + 1)).collect();
    let signs = hits.len();
    let mut markers = Vec::new();
    MARKER.find_all(text, &mut markers);
    hits.extend(
        markers
            .into_iter()
            .filter(|&(s, e)| worth_a_window(text, s, e)),
    );
    if signs > 0 && signs < hits.len() {
        hits.sort_unstable();
    }
    let mut out: Vec<Range<usize>> = Vec::new();
    for (hit_start, hit_end) in hits {
        // A `#` may be explained by a note anywhere within NOTE_WINDOW.
        let reach = if &text[hit_start..hit_end] == "#" {
            NOTE_WINDOW
        } else {
            0
        };
        let mut start = floor_char_boundary(text, hit_start.saturating_sub(WINDOW_BEFORE + reach));
        let mut end = ceil_char_boundary(text, hit_end.saturating_add(WINDOW_AFTER + reach));
        if reach == 0 {
            // No rewrite reaches across a line break, so the window can stop at the line's
            // ends: page text is mostly short lines, and every byte cut here is a byte
            // five rewrites do not copy.
            let bytes = text.as_bytes();
            if let Some(nl) = bytes[start..hit_start].iter().rposition(|&b| b == b'\n') {
                start += nl + 1;
            }
            if let Some(nl) = bytes[hit_end..end].iter().position(|&b| b == b'\n') {
                end = hit_end + nl;
            }
        }
        match out.last_mut() {
            Some(last) if last.end >= start => last.end = last.end.max(end),
            _ => out.push(start..end),
        }
    }
    out
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._%+-".contains(&b)
}

fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b".-".contains(&b)
}

fn is_full_width_alnum(c: char) -> bool {
    matches!(c, '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}')
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{A0}' | '\u{3000}')
}

/// The context checks the marker regex leaves out. A plain `@` with ASCII on both sides is
/// the plain pass's business unless what follows its domain (or precedes its local part)
/// shows a disguised dot or full-width letters; a lowercase ` at ` is prose unless a ` dot `
/// follows; a `#` must sit between a local part and a domain.
fn worth_a_window(text: &str, start: usize, end: usize) -> bool {
    let hit = &text[start..end];
    let bytes = text.as_bytes();
    match hit {
        "@" => {
            let local_from = bytes[..start]
                .iter()
                .rposition(|&b| !is_local_byte(b))
                .map_or(0, |i| i + 1);
            let before = text[..local_from].chars().next_back();
            let domain_to = bytes[end..]
                .iter()
                .position(|&b| !is_domain_byte(b))
                .map_or(text.len(), |i| end + i);
            let after_run = &text[domain_to..];
            let mut after = after_run.chars();
            let next = after.next();
            let past_blanks = || after_run.trim_start_matches(is_blank).chars().next();
            let domain_empty = domain_to == end;
            if before.is_some_and(|c| is_full_width_alnum(c) || matches!(c, '。' | '．' | '@')) {
                return true;
            }
            if local_from == start {
                // `name @x.edu.cn` and `name @ x.edu.cn`, but not `tel 0411 @media screen`:
                // a word must precede the blanks and a dotted host (or more blanks) follow.
                let word_before = text[..start]
                    .trim_end_matches(is_blank)
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || is_full_width_alnum(c));
                let host_after = text[end..domain_to].contains('.')
                    || (domain_empty && next.is_some_and(is_blank));
                return before.is_some_and(is_blank) && word_before && host_after;
            }
            (domain_empty
                && next.is_some_and(|c| is_blank(c) || c == '@' || is_full_width_alnum(c)))
                || next.is_some_and(|c| {
                    matches!(
                        c,
                        '．' | '。'
                            | '﹒'
                            | '点'
                            | '['
                            | '('
                            | '{'
                            | '<'
                            | '【'
                            | '［'
                            | '（'
                            | '〔'
                    ) || is_full_width_alnum(c)
                })
                || (next.is_some_and(is_blank)
                    && past_blanks().is_some_and(|c| {
                        matches!(
                            c,
                            '.' | '．'
                                | '['
                                | '('
                                | '{'
                                | '<'
                                | '【'
                                | '［'
                                | '（'
                                | '点'
                                | 'd'
                                | 'D'
                        )
                    }))
        }
        "#" => {
            let before = bytes[..start].last().copied();
            let after = bytes.get(end).copied();
            before.is_some_and(is_local_byte) && after.is_some_and(|b| b.is_ascii_alphanumeric())
        }
        // `zhang AT ustl.edu.cn`: a host must follow.
        " AT " => bytes.get(end).is_some_and(u8::is_ascii_alphanumeric),
        // A spelled dot counts only after an at-sign or a spelled ` at `.
        " dot " | " DOT " | " Dot " => {
            let from = floor_char_boundary(text, start.saturating_sub(SPELLED_DOT_REACH));
            bytes[from..start].contains(&b'@')
                || bytes[from..start].windows(4).any(|w| {
                    is_blank_byte(w[0])
                        && w[1..3].eq_ignore_ascii_case(b"at")
                        && is_blank_byte(w[3])
                })
        }
        _ => true,
    }
}

fn is_blank_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t')
}

/// A rewritten text and the way back to the original.
pub(super) struct Rewritten {
    pub text: String,
    pub map: OffsetMap,
}

/// Where each replaced piece of a rewritten text came from. Only the edits are stored, so the
/// map costs nothing for the long unchanged stretches between them.
#[derive(Debug, Default)]
pub(super) struct OffsetMap {
    edits: Vec<Edit>,
}

#[derive(Debug)]
struct Edit {
    new_start: usize,
    new_end: usize,
    orig_start: usize,
    orig_end: usize,
}

enum Place<'a> {
    Inside(&'a Edit),
    Outside(usize),
}

impl OffsetMap {
    fn locate(&self, p: usize) -> Place<'_> {
        let i = self.edits.partition_point(|e| e.new_start <= p);
        match i.checked_sub(1).map(|i| &self.edits[i]) {
            None => Place::Outside(p),
            Some(e) if p < e.new_end => Place::Inside(e),
            Some(e) => Place::Outside(e.orig_end + (p - e.new_end)),
        }
    }

    /// The original offset of a span starting at `p`.
    pub fn start(&self, p: usize) -> usize {
        match self.locate(p) {
            Place::Inside(e) => e.orig_start,
            Place::Outside(o) => o,
        }
    }

    /// The original offset of a span ending (exclusive) at `p`.
    pub fn end(&self, p: usize) -> usize {
        let Some(last) = p.checked_sub(1) else {
            return 0;
        };
        match self.locate(last) {
            Place::Inside(e) => e.orig_end,
            Place::Outside(o) => o + 1,
        }
    }

    /// Whether any edit lies within `start..end` of the rewritten text.
    pub fn touches(&self, start: usize, end: usize) -> bool {
        // Edits are sorted and disjoint: the last one starting before `end` ends last.
        let i = self.edits.partition_point(|e| e.new_start < end);
        i.checked_sub(1)
            .is_some_and(|i| self.edits[i].new_end > start)
    }
}

/// Builds a rewritten text from left-to-right replacements.
struct Builder<'a> {
    src: &'a str,
    out: String,
    map: OffsetMap,
    copied: usize,
}

impl<'a> Builder<'a> {
    fn new(src: &'a str) -> Self {
        Builder {
            src,
            out: String::with_capacity(src.len()),
            map: OffsetMap::default(),
            copied: 0,
        }
    }

    /// Replaces `src[start..end]` with a non-empty `with`. Calls must go left to right;
    /// anything else is ignored rather than allowed to corrupt the map.
    fn replace(&mut self, start: usize, end: usize, with: &str) {
        let Some(between) = self.src.get(self.copied..start) else {
            return;
        };
        if end <= start || with.is_empty() || !self.src.is_char_boundary(end) {
            return;
        }
        self.out.push_str(between);
        let new_start = self.out.len();
        self.out.push_str(with);
        self.map.edits.push(Edit {
            new_start,
            new_end: self.out.len(),
            orig_start: start,
            orig_end: end,
        });
        self.copied = end;
    }

    fn finish(mut self) -> Option<Rewritten> {
        if self.map.edits.is_empty() {
            return None;
        }
        self.out
            .push_str(self.src.get(self.copied..).unwrap_or_default());
        Some(Rewritten {
            text: self.out,
            map: self.map,
        })
    }
}

/// The full-width form: full-width ASCII (`＠`, `．`, `ｚ`, `１`) and the small `﹫` become
/// ASCII, and the Chinese full stop `。` becomes `.` between ASCII letters or digits only, so a
/// sentence ending right after an address does not glue onto it. Every other rewrite runs on
/// this folded text, so `zhang［at］ustl．edu．cn` needs no rule of its own.
pub(super) fn fold(text: &str) -> Option<Rewritten> {
    if text.is_ascii() {
        return None;
    }
    let mut b = Builder::new(text);
    let mut prev = ' ';
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let folded = match c {
            '\u{3002}' | '\u{FE52}' => {
                let next = chars.peek().map_or(' ', |&(_, n)| fold_char(n));
                (prev.is_ascii_alphanumeric() && next.is_ascii_alphanumeric()).then_some('.')
            }
            _ => Some(fold_char(c)).filter(|&f| f != c),
        };
        if let Some(f) = folded {
            b.replace(i, i + c.len_utf8(), f.encode_utf8(&mut [0; 4]));
        }
        prev = folded.unwrap_or(c);
    }
    b.finish()
}

fn fold_char(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{FE6B}' => '@',
        _ => c,
    }
}

static HASH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+\-]+#([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})")
        .expect("literal regex")
});

/// "(请将#替换为@)", "(#改为@)", "replace # with @" and the like.
static HASH_NOTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)#[^\n@]{0,15}?(?:替换|换成|换为|改为|改成|更换|with|by|to)[^\n#]{0,15}?@|@[^\n#]{0,8}?(?:代替|替代|instead)[^\n@]{0,8}?#",
    )
    .expect("literal regex")
});

/// How far (bytes) a note may be from the `#` it explains.
const NOTE_WINDOW: usize = 400;

/// Without a note, only the suffixes mail is actually published under on our sites count;
/// CSS selectors such as `div#nav.menu` would otherwise pass for addresses.
const COMMON_TLDS: &[&str] = &[
    "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz",
];

/// `#` can only stand for `@` in a local part, never after a path or in a query.
const URL_PUNCTUATION: &[char] = &['/', '?', '=', '&', '#', '~', '\\'];

/// Web page names before a `#` are fragment links (`page.html#news.cn`), not mailboxes.
const PAGE_EXTENSIONS: &[&str] = &["html", "htm", "shtml", "php", "asp", "aspx", "jsp", "do"];

/// The hash form: `office#ustl.edu.cn`, with or without a note asking to replace the `#`.
fn hash_for_at(text: &str) -> Option<Rewritten> {
    let notes: Vec<usize> = HASH_NOTE.find_iter(text).map(|m| m.start()).collect();
    let mut b = Builder::new(text);
    for caps in HASH.captures_iter(text) {
        let (Some(whole), Some(domain)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        let hash = domain.start() - 1;
        let local = &text[whole.start()..hash];
        let after_url = text[..whole.start()].ends_with(URL_PUNCTUATION);
        let page_name = local
            .rsplit_once('.')
            .is_some_and(|(_, ext)| PAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()));
        if after_url || page_name {
            continue;
        }
        let Some(kept) = known_domain_prefix(domain.as_str()) else {
            continue;
        };
        let tld = domain.as_str()[..kept]
            .rsplit('.')
            .next()
            .unwrap_or_default();
        let common = tld.len() == 2 || COMMON_TLDS.contains(&tld.to_ascii_lowercase().as_str());
        if common || note_near(&notes, hash) {
            b.replace(hash, hash + 1, "@");
        }
    }
    b.finish()
}

/// Whether a note starts within [`NOTE_WINDOW`] of `at`; `notes` is sorted.
fn note_near(notes: &[usize], at: usize) -> bool {
    let i = notes.partition_point(|&n| n < at.saturating_sub(NOTE_WINDOW));
    notes.get(i).is_some_and(|&n| n <= at + NOTE_WINDOW)
}

static BRACKETED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[ \t\u{A0}]*[\[({<【〔][ \t]*(at|dot)[ \t]*[\])}>】〕][ \t\u{A0}]*")
        .expect("literal regex")
});

/// The at-word form in brackets: `[at]`, `(at)`, `{at}`, `<at>`, `【at】`, and the same with
/// `dot`, spaces allowed around them.
fn bracketed_words(text: &str) -> Option<Rewritten> {
    let mut b = Builder::new(text);
    for caps in BRACKETED.captures_iter(text) {
        if let Some(m) = caps.get(0) {
            b.replace(m.start(), m.end(), at_or_dot(&caps));
        }
    }
    b.finish()
}

fn at_or_dot(caps: &Captures<'_>) -> &'static str {
    let at = caps
        .get(1)
        .is_some_and(|w| w.as_str().eq_ignore_ascii_case("at"));
    if at { "@" } else { "." }
}

/// `name at ustl dot edu dot cn`. At least one spelled `dot` is required: "more information
/// at www.ustl.edu.cn" is prose, not an address.
static SPELLED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)[A-Za-z0-9._%+\-]+[ \t]+at[ \t]+[A-Za-z0-9\-]+(?:(?:[ \t]+dot[ \t]+|\.)[A-Za-z0-9\-]+)+",
    )
    .expect("literal regex")
});

static SPELLED_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)[ \t]+(at|dot)[ \t]+").expect("literal regex"));

/// The at-word form spelled out without brackets.
fn spelled_words(text: &str) -> Option<Rewritten> {
    let mut b = Builder::new(text);
    for region in SPELLED.find_iter(text) {
        let words: Vec<_> = SPELLED_WORD.captures_iter(region.as_str()).collect();
        let has_dot = words.iter().any(|c| {
            c.get(1)
                .is_some_and(|w| w.as_str().eq_ignore_ascii_case("dot"))
        });
        // Capitals are deliberate: `zhang AT ustl.edu.cn` is an address, while a lowercase
        // `at` before a host name is usually prose ("available at www.ustl.edu.cn").
        let shouted_at = words
            .iter()
            .any(|c| c.get(1).is_some_and(|w| w.as_str() == "AT"));
        if !has_dot && !shouted_at {
            continue;
        }
        for caps in &words {
            if let Some(m) = caps.get(0) {
                let start = region.start() + m.start();
                b.replace(start, region.start() + m.end(), at_or_dot(caps));
            }
        }
    }
    b.finish()
}

/// A Chinese word for `@` (「艾特」, 「圈a」) or for `.` (「点」), optionally bracketed, with the
/// blanks around it.
static CHINESE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"[ \t\u{A0}\u{3000}]*(?:[\[({<【〔][ \t]*)?(艾特|圈[aA]|点)(?:[ \t]*[\])}>】〕])?[ \t\u{A0}\u{3000}]*",
    )
    .expect("literal regex")
});

/// The Chinese-word form: `zhang艾特ustl点edu点cn`, `zhang圈austl.edu.cn`. 「点」 is an
/// everyday character (「3点」, 「重点」), so it stands for a dot only between ASCII letters
/// or digits, where no Chinese sentence puts it.
fn chinese_words(text: &str) -> Option<Rewritten> {
    let mut b = Builder::new(text);
    for caps in CHINESE.captures_iter(text) {
        let (Some(m), Some(word)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        let with = if word.as_str() == "点" {
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            if !(before.is_some_and(|c| c.is_ascii_alphanumeric())
                && after.is_some_and(|c| c.is_ascii_alphanumeric()))
            {
                continue;
            }
            "."
        } else {
            "@"
        };
        b.replace(m.start(), m.end(), with);
    }
    b.finish()
}

/// Blanks around `@` (ASCII, no-break and ideographic spaces, not line breaks), a doubled
/// `@@`, or blanks on both sides of a dot.
static SPACED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"[ \t\u{A0}\u{3000}]+@@?[ \t\u{A0}\u{3000}]*|@@?[ \t\u{A0}\u{3000}]+|@@|[ \t\u{A0}]+\.[ \t\u{A0}]+",
    )
    .expect("literal regex")
});

/// The spaced form: `name @ ustl.edu.cn`, `name @ ustl . edu . cn`, `name@@ustl.edu.cn`.
fn spaced(text: &str) -> Option<Rewritten> {
    let mut b = Builder::new(text);
    for m in SPACED.find_iter(text) {
        let with = if m.as_str().contains('@') { "@" } else { "." };
        b.replace(m.start(), m.end(), with);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_map_leads_back_to_the_original() {
        let text = "a［at］b．cn!";
        let folded = fold(text).expect("full-width text");
        assert_eq!(folded.text, "a[at]b.cn!");
        let at = folded.text.find('[').expect("bracket");
        assert_eq!(folded.map.start(at), text.find('［').expect("bracket"));
        assert_eq!(
            folded.map.end(at + 1),
            text.find('a').expect("a") + 1 + '［'.len_utf8()
        );
        assert_eq!(folded.map.end(folded.text.len()), text.len());
        assert!(folded.map.touches(0, 2));
        assert!(!folded.map.touches(0, 1));
        assert!(!folded.map.touches(9, 10));
    }

    #[test]
    fn fold_keeps_sentence_ends() {
        assert_eq!(fold("ab。cd").map(|r| r.text).as_deref(), Some("ab.cd"));
        assert!(fold("ab。").is_none());
        assert!(fold("中。ab").is_none());
        assert!(fold("plain ascii").is_none());
        assert_eq!(
            fold("ｌｉ。ｍｉｎｇ").map(|r| r.text).as_deref(),
            Some("li.ming")
        );
    }

    #[test]
    fn rewrites_only_their_own_markers() {
        let r = |f: fn(&str) -> Option<Rewritten>, t: &str| f(t).map(|r| r.text);
        assert_eq!(r(bracketed_words, "a [AT] b(dot)c"), Some("a@b.c".into()));
        assert_eq!(r(spelled_words, "a at b dot c"), Some("a@b.c".into()));
        assert_eq!(r(spelled_words, "look at www.x.cn"), None);
        assert_eq!(r(spaced, "a @ b . c"), Some("a@b.c".into()));
        assert_eq!(r(spaced, "a@b.c"), None);
        assert_eq!(r(hash_for_at, "a#b.edu.cn"), Some("a@b.edu.cn".into()));
        assert_eq!(r(hash_for_at, "/a#b.edu.cn"), None);
    }

    #[test]
    fn windows_open_only_around_disguised_at_signs() {
        let w = |t: &str| !windows(t).is_empty();
        assert!(!w("zhang@ustl.edu.cn, tel 0411 @media screen"));
        assert!(!w("we met at noon. The hall"));
        assert!(!w("color:#fff; 3点30分"));
        assert!(w("zhang @ ustl.edu.cn"));
        assert!(w("zhang@ustl．edu．cn"));
        assert!(w("zhang@ustl dot edu dot cn"));
        assert!(w("zhang at ustl dot edu dot cn"));
        assert!(w("zhang AT ustl.edu.cn"));
        assert!(w("zhang[at]ustl.edu.cn"));
        assert!(w("zhang艾特ustl.edu.cn"));
        assert!(w("ｚｈａｎｇ@ustl.edu.cn"));
        assert!(w("office#ustl.edu.cn"));
        let text = format!("{}a＠b.cn{}", "中".repeat(500), "文".repeat(500));
        for r in windows(&text) {
            assert!(text.get(r.clone()).is_some(), "{r:?}");
            assert!(r.len() < 1000);
        }
    }

    #[test]
    fn chinese_words_need_ascii_around_the_dot() {
        let r = |t: &str| chinese_words(t).map(|r| r.text);
        assert_eq!(r("a艾特b点cn"), Some("a@b.cn".into()));
        assert_eq!(r("a 圈a b.cn"), Some("a@b.cn".into()));
        assert_eq!(r("下午3点开会"), None);
        assert_eq!(r("重点x"), None);
    }
}
