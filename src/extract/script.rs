//! Inline JavaScript that assembles an address at run time: string concatenation
//! (`'li' + '@' + 'x.edu.cn'`), `String.fromCharCode(...)`, reversed strings
//! (`'nc.ude.x@il'.split('').reverse().join('')`), `unescape(...)`, and `document.write` or
//! `innerHTML` of any of these, through simple `var` assignments. This is not a JavaScript
//! engine: it evaluates string expressions made of literals and the few operations above,
//! and treats everything else as unknown. Script text is never treated as visible text; a
//! lone string literal that is neither assembled nor written to the page is left alone,
//! because scripts carry configuration, not contact details. Finding the addresses in the
//! evaluated strings is the text finder's job.

use std::collections::{BTreeSet, HashMap};

use crate::model::Email;

/// Tokens read from one script; a longer script is read only this far.
const MAX_TOKENS: usize = 50_000;
/// Characters kept of one evaluated value; a page address is far shorter.
const MAX_VALUE: usize = 4_096;
/// Nesting of parentheses the evaluator follows.
const MAX_DEPTH: u8 = 16;
/// Calls that write their argument into the page.
const WRITERS: &[&str] = &[
    "write",
    "writeln",
    "insertAdjacentHTML",
    "append",
    "html",
    "text",
    "alert",
];

/// Variables remembered per script.
const MAX_VARS: usize = 1_024;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Num(f64),
    Ident(String),
    Punct(char),
}

/// The distinct addresses that `script` assembles, in order of first appearance.
pub(super) fn addresses(script: &str) -> Vec<Email> {
    let toks = tokens(script);
    let mut eval = Eval {
        toks: &toks,
        vars: HashMap::new(),
        outputs: Vec::new(),
    };
    eval.run();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for value in &eval.outputs {
        let decoded = html_escape::decode_html_entities(value);
        for c in super::find_addresses(&decoded) {
            if seen.insert(c.address.clone()) {
                out.push(c.address);
            }
        }
    }
    out
}

/// Whether `script` could assemble anything: evaluation is skipped for the analytics and
/// menu scripts that make up most inline JavaScript.
pub(super) fn worth_reading(script: &str) -> bool {
    script.contains("fromCharCode")
        || script.contains("reverse")
        || script.contains("unescape")
        || script.contains("decodeURIComponent")
        || script.contains('@')
        || script.contains("%40")
        || script.contains("\\x40")
        || script.contains("\\u0040")
        || script.contains("&#")
}

fn tokens(src: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if out.len() >= MAX_TOKENS {
            break;
        }
        match c {
            c if c.is_whitespace() => {}
            '/' if src[i + 1..].starts_with('/') => {
                while chars.next_if(|&(_, c)| c != '\n').is_some() {}
            }
            '/' if src[i + 1..].starts_with('*') => {
                chars.next();
                let mut prev = ' ';
                for (_, c) in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            '\'' | '"' | '`' => {
                let quote = c;
                let mut s = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        c if c == quote => break,
                        '\n' if quote != '`' => break,
                        '\\' => {
                            if let Some(e) = escape(&mut chars) {
                                s.push(e);
                            }
                        }
                        c if s.len() < MAX_VALUE => s.push(c),
                        _ => {}
                    }
                }
                out.push(Tok::Str(s));
            }
            c if c.is_ascii_digit() => {
                let mut s = String::from(c);
                while let Some((_, d)) =
                    chars.next_if(|&(_, d)| d.is_ascii_alphanumeric() || d == '.')
                {
                    s.push(d);
                }
                let n = s
                    .strip_prefix("0x")
                    .or_else(|| s.strip_prefix("0X"))
                    .map_or_else(
                        || s.parse::<f64>().ok(),
                        |h| u32::from_str_radix(h, 16).ok().map(f64::from),
                    );
                out.push(n.map_or(Tok::Punct('?'), Tok::Num));
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let mut s = String::from(c);
                while let Some((_, d)) =
                    chars.next_if(|&(_, d)| d.is_alphanumeric() || d == '_' || d == '$')
                {
                    s.push(d);
                }
                out.push(Tok::Ident(s));
            }
            c => out.push(Tok::Punct(c)),
        }
    }
    out
}

fn escape(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> Option<char> {
    let (_, c) = chars.next()?;
    let hex = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, n: usize| {
        let mut v = 0u32;
        for _ in 0..n {
            let d = chars
                .next_if(|&(_, c)| c.is_ascii_hexdigit())?
                .1
                .to_digit(16)?;
            v = v * 16 + d;
        }
        char::from_u32(v)
    };
    Some(match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'x' => hex(chars, 2)?,
        'u' if chars.next_if(|&(_, c)| c == '{').is_some() => {
            let mut v = 0u32;
            while let Some((_, d)) = chars.next_if(|&(_, c)| c.is_ascii_hexdigit()) {
                v = v.saturating_mul(16).saturating_add(d.to_digit(16)?);
            }
            chars.next_if(|&(_, c)| c == '}');
            char::from_u32(v)?
        }
        'u' => hex(chars, 4)?,
        c => c,
    })
}

/// A value the evaluator understands.
#[derive(Debug, Clone)]
enum Val {
    Str(String),
    List(Vec<String>),
    Unknown,
}

impl Val {
    fn into_string(self) -> Option<String> {
        match self {
            Val::Str(s) => Some(s),
            Val::List(l) => Some(l.join(",")),
            Val::Unknown => None,
        }
    }
}

struct Eval<'a> {
    toks: &'a [Tok],
    vars: HashMap<String, String>,
    /// Values that were assembled or written to the page.
    outputs: Vec<String>,
}

impl Eval<'_> {
    fn punct(&self, i: usize, c: char) -> bool {
        matches!(self.toks.get(i), Some(Tok::Punct(p)) if *p == c)
    }

    fn ident(&self, i: usize, name: &str) -> bool {
        matches!(self.toks.get(i), Some(Tok::Ident(s)) if s == name)
    }

    fn run(&mut self) {
        let mut i = 0;
        while i < self.toks.len() {
            // `name = expr`, `name += expr` (not `==`).
            if let Some(Tok::Ident(name)) = self.toks.get(i) {
                let plus = self.punct(i + 1, '+') && self.punct(i + 2, '=');
                let assign = self.punct(i + 1, '=') && !self.punct(i + 2, '=');
                if assign || plus {
                    let from = if plus { i + 3 } else { i + 2 };
                    let written = matches!(
                        name.as_str(),
                        "innerHTML" | "innerText" | "textContent" | "outerHTML"
                    );
                    let name = name.clone();
                    if let Some((v, next, assembled)) = self.expr(from, 0) {
                        if let Some(s) = v.into_string() {
                            let s = if plus {
                                let mut old = self.vars.get(&name).cloned().unwrap_or_default();
                                old.push_str(&s);
                                old
                            } else {
                                s
                            };
                            if assembled || written || plus {
                                self.outputs.push(s.clone());
                            }
                            if self.vars.len() < MAX_VARS || self.vars.contains_key(&name) {
                                self.vars.insert(name, truncate(s));
                            }
                        }
                        i = next.max(i + 1);
                        continue;
                    }
                }
                // `document.write(expr)`, `$(..).html(expr)`... any call writing its argument
                // into the page. Checked from the object, before the generic expression
                // below swallows the whole call as an unknown method.
                let (writer, open) = if self.punct(i + 1, '.') {
                    match self.toks.get(i + 2) {
                        Some(Tok::Ident(m)) => (m.as_str(), i + 3),
                        _ => ("", i),
                    }
                } else {
                    (name.as_str(), i + 1)
                };
                if WRITERS.contains(&writer) && self.punct(open, '(') {
                    let mut from = open + 1;
                    if writer == "insertAdjacentHTML" {
                        // Skip the position argument.
                        from += 2;
                    }
                    if let Some((v, next, _)) = self.expr(from, 0) {
                        if let Some(s) = v.into_string() {
                            self.outputs.push(s);
                        }
                        i = next.max(i + 1);
                        continue;
                    }
                }
            }
            if let Some((v, next, assembled)) = self.expr(i, 0) {
                if assembled && let Some(s) = v.into_string() {
                    self.outputs.push(s);
                }
                i = next.max(i + 1);
            } else {
                i += 1;
            }
        }
    }

    /// `term (+ term)*`. Returns the value, the next token and whether any operation (not a
    /// lone literal) produced it.
    fn expr(&self, i: usize, depth: u8) -> Option<(Val, usize, bool)> {
        let (mut v, mut i, mut assembled) = self.term(i, depth)?;
        while self.punct(i, '+') && !self.punct(i + 1, '=') && !self.punct(i + 1, '+') {
            let Some((rhs, next, _)) = self.term(i + 1, depth) else {
                break;
            };
            v = concat(v, rhs);
            i = next;
            assembled = true;
        }
        Some((v, i, assembled))
    }

    fn term(&self, i: usize, depth: u8) -> Option<(Val, usize, bool)> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let (mut v, mut i, mut assembled) = match self.toks.get(i)? {
            Tok::Str(s) => (Val::Str(s.clone()), i + 1, false),
            Tok::Punct('(') => {
                let (v, next, a) = self.expr(i + 1, depth + 1)?;
                let next = if self.punct(next, ')') {
                    next + 1
                } else {
                    next
                };
                (v, next, a)
            }
            Tok::Punct('[') => {
                let (items, next) = self.list(i + 1, ']', depth)?;
                (Val::List(items), next, false)
            }
            Tok::Ident(s)
                if s == "String" && self.punct(i + 1, '.') && self.ident(i + 2, "fromCharCode") =>
            {
                let (codes, next) = self.numbers(i + 3)?;
                (Val::Str(codes), next, true)
            }
            Tok::Ident(s)
                if matches!(s.as_str(), "unescape" | "decodeURIComponent" | "decodeURI")
                    && self.punct(i + 1, '(') =>
            {
                let (v, next, _) = self.expr(i + 2, depth + 1)?;
                let s = v.into_string()?;
                let decoded = percent_encoding::percent_decode_str(&s)
                    .decode_utf8_lossy()
                    .into_owned();
                let next = if self.punct(next, ')') {
                    next + 1
                } else {
                    next
                };
                (Val::Str(decoded), next, true)
            }
            Tok::Ident(s) => match self.vars.get(s) {
                Some(v) => (Val::Str(v.clone()), i + 1, false),
                None => (Val::Unknown, i + 1, false),
            },
            _ => return None,
        };
        // Method chains: `.split(s)`, `.reverse()`, `.join(s)`, `.replace(a, b)`, `.concat(x)`.
        while self.punct(i, '.') && self.punct(i + 2, '(') {
            let Some(Tok::Ident(method)) = self.toks.get(i + 1) else {
                break;
            };
            let args_at = i + 3;
            let (args, next) = self.list(args_at, ')', depth)?;
            v = method_call(v, method, &args);
            assembled = true;
            i = next;
        }
        Some((v, i, assembled))
    }

    /// Comma-separated string expressions up to `close`; unknown items become empty.
    fn list(&self, mut i: usize, close: char, depth: u8) -> Option<(Vec<String>, usize)> {
        let mut items = Vec::new();
        if self.punct(i, close) {
            return Some((items, i + 1));
        }
        loop {
            let (v, next, _) = self.expr(i, depth + 1)?;
            items.push(v.into_string().unwrap_or_default());
            i = next;
            if self.punct(i, ',') {
                i += 1;
            } else if self.punct(i, close) {
                return Some((items, i + 1));
            } else {
                return None;
            }
        }
    }

    /// `(n, n, ...)` of `fromCharCode`, also `.apply(null, [n, ...])`.
    fn numbers(&self, mut i: usize) -> Option<(String, usize)> {
        if self.punct(i, '.') && self.ident(i + 1, "apply") {
            i += 2;
        }
        if !self.punct(i, '(') {
            return None;
        }
        i += 1;
        let mut s = String::new();
        while let Some(t) = self.toks.get(i) {
            match t {
                Tok::Num(n) if s.len() < MAX_VALUE => {
                    // `as` is exact here: the value is checked to be a small whole number.
                    #[allow(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "range checked"
                    )]
                    let code =
                        (n.fract() == 0.0 && (0.0..=1_114_111.0).contains(n)).then_some(*n as u32);
                    s.extend(code.and_then(char::from_u32));
                }
                Tok::Punct(')') => return Some((s, i + 1)),
                Tok::Punct(',' | '[' | ']') | Tok::Ident(_) | Tok::Num(_) => {}
                _ => return None,
            }
            i += 1;
        }
        None
    }
}

fn concat(a: Val, b: Val) -> Val {
    match (a.into_string(), b.into_string()) {
        (Some(mut a), Some(b)) => {
            a.push_str(&b);
            Val::Str(truncate(a))
        }
        // An unknown part is a gap: the known parts must not glue into a false address.
        (Some(mut a), None) => {
            a.push(' ');
            Val::Str(a)
        }
        (None, Some(b)) => Val::Str(format!(" {b}")),
        (None, None) => Val::Unknown,
    }
}

fn method_call(v: Val, method: &str, args: &[String]) -> Val {
    let first = args.first().map_or("", String::as_str);
    match (v, method) {
        (Val::Str(s), "split") => Val::List(if first.is_empty() {
            s.chars().map(String::from).collect()
        } else {
            s.split(first).map(String::from).collect()
        }),
        (Val::List(mut l), "reverse") => {
            l.reverse();
            Val::List(l)
        }
        (Val::List(l), "join") => Val::Str(l.join(if args.is_empty() { "," } else { first })),
        (Val::Str(s), "replace") => {
            let to = args.get(1).map_or("", String::as_str);
            Val::Str(if first.is_empty() {
                s
            } else {
                s.replacen(first, to, 1)
            })
        }
        (Val::Str(s), "replaceAll") => {
            let to = args.get(1).map_or("", String::as_str);
            Val::Str(if first.is_empty() {
                s
            } else {
                s.replace(first, to)
            })
        }
        (Val::Str(mut s), "concat") => {
            for a in args {
                s.push_str(a);
            }
            Val::Str(truncate(s))
        }
        (Val::Str(s), "toLowerCase" | "trim" | "toString") => Val::Str(s),
        _ => Val::Unknown,
    }
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_VALUE {
        let mut end = MAX_VALUE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(script: &str) -> Vec<String> {
        addresses(script).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn each_way_of_assembling() {
        assert_eq!(found("var m = 'li' + '@' + 'x.edu.cn';"), ["li@x.edu.cn"]);
        assert_eq!(
            found(
                "var u=\"li\", d=\"x.edu.cn\"; document.write('<a href=\"mailto:' + u + '@' + d + '\">' + u + '&#64;' + d + '</a>');"
            ),
            ["li@x.edu.cn"]
        );
        assert_eq!(
            found("document.write(String.fromCharCode(108,105,64,120,46,101,100,117,46,99,110))"),
            ["li@x.edu.cn"]
        );
        assert_eq!(
            found("e = 'nc.ude.x@il'.split('').reverse().join('');"),
            ["li@x.edu.cn"]
        );
        assert_eq!(
            found("document.write(unescape('li%40x.edu.cn'))"),
            ["li@x.edu.cn"]
        );
        assert_eq!(
            found("el.innerHTML = \"li\\x40x.edu.cn\";"),
            ["li@x.edu.cn"]
        );
        assert_eq!(
            found("var s = ''; s += 'li'; s += '@x.edu.cn';"),
            ["li@x.edu.cn"]
        );
    }

    #[test]
    fn lone_literals_and_unknowns_are_not_addresses() {
        assert!(found("var m = 'js@x.edu.cn';").is_empty());
        assert!(found("var a = user + '@' + 'x.edu.cn';").is_empty());
        assert!(found("import x from 'jquery@3.6.0'; '/* ' + '@media'").is_empty());
        for s in [
            "'",
            "\"\\",
            "String.fromCharCode(",
            "((((((((((((((((((((((((a",
            "'a'.split('').reverse(",
            "\\u{FFFFFFFF}",
        ] {
            let _ = addresses(s);
        }
    }
}
