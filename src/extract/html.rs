//! HTML pages: one walk over the tree scraper builds, collecting the title, the links to
//! follow, the visible text (handed to the text finder), `mailto:` links and the attributes
//! addresses hide in. It also tells, from the raw source, whether a plain-looking address was
//! really written with entities or split across tags. Which links are in scope is `crawl`'s
//! business, not this module's.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use percent_encoding::percent_decode_str;
use scraper::node::Element;
use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use super::script;
use super::text::{self, one_line};
use crate::model::{Document, Email, EmailCandidate, Form};

/// Never shown to the reader: their text is code or inert markup.
const SKIPPED: &[&str] = &["script", "style", "template"];

/// Elements that start a new line when rendered. Their text gets a line break on each side
/// so adjacent table cells never glue into one address; every other element (span, b, a,
/// font...) adds nothing, which is what rejoins `li<span>u</span>wei@x.edu.cn`.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "br",
    "button",
    "caption",
    "center",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hr",
    "html",
    "legend",
    "li",
    "main",
    "nav",
    "noscript",
    "ol",
    "option",
    "p",
    "pre",
    "section",
    "select",
    "summary",
    "table",
    "tbody",
    "td",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "ul",
];

/// Attributes whose values are shown to people or carry data, where addresses turn up.
const ADDRESS_ATTRIBUTES: &[&str] = &["title", "alt", "value", "content", "placeholder"];

/// With scripting on (scraper's default) `<noscript>` holds raw markup, which is parsed
/// again; the limit stops a page of nested `<noscript>` from recursing without end.
const MAX_NOSCRIPT_DEPTH: u8 = 2;

/// Longest excerpt of a script kept as the raw text and context of what it assembles.
const SCRIPT_EXCERPT_CHARS: usize = 120;

/// Longest `mailto:` link text kept as context.
const LINK_TEXT_CHARS: usize = 80;

const XHTML: &str = "http://www.w3.org/1999/xhtml";

/// Cloudflare's scraper shield writes addresses XOR-encoded in hex.
const CLOUDFLARE_PATH: &str = "/cdn-cgi/l/email-protection#";

static BASE: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("base[href]").expect("literal selector"));

/// Parses `body` once and extracts everything a [`Document`] holds.
pub(super) fn extract(base: &Url, body: &str) -> Document {
    let doc = Html::parse_document(body);
    let base = document_base(&doc, base);
    let mut walk = Walk::new(&base);
    walk.tree(&doc, 0);
    walk.finish(body)
}

/// The first `<base href>`, resolved against the page, applies to every link on the page.
fn document_base(doc: &Html, page: &Url) -> Url {
    doc.select(&BASE)
        .next()
        .and_then(|b| b.attr("href"))
        .and_then(|href| page.join(href).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .unwrap_or_else(|| page.clone())
}

struct Walk<'a> {
    base: &'a Url,
    title: Option<String>,
    /// Only the first `<title>` counts, even when it is empty.
    title_seen: bool,
    text: String,
    links: Vec<Url>,
    /// `<img>` sources, and whether each may show an address.
    images: Vec<(Url, bool)>,
    seen: HashSet<Url>,
    /// Candidates found in markup, with the offset in `text` where their element starts, so
    /// they can be merged with the text candidates in document order.
    marked: Vec<(usize, EmailCandidate)>,
    mailtos: Vec<Mailto>,
}

/// A `mailto:` link whose text (the context) is still being collected.
struct Mailto {
    offset: usize,
    href: String,
    addresses: Vec<Email>,
}

/// The explicit stack replaces recursion: a page of deeply nested tags must not overflow it.
enum Step<N> {
    Enter(N),
    Leave { block: bool, mailto: bool },
}

impl<'a> Walk<'a> {
    fn new(base: &'a Url) -> Self {
        Walk {
            base,
            title: None,
            title_seen: false,
            text: String::new(),
            links: Vec::new(),
            images: Vec::new(),
            seen: HashSet::new(),
            marked: Vec::new(),
            mailtos: Vec::new(),
        }
    }

    fn tree(&mut self, doc: &Html, depth: u8) {
        let mut stack = vec![Step::Enter(doc.tree.root())];
        while let Some(step) = stack.pop() {
            let node = match step {
                Step::Leave { block, mailto } => {
                    if mailto {
                        self.close_mailto();
                    }
                    if block {
                        self.text.push('\n');
                    }
                    continue;
                }
                Step::Enter(node) => node,
            };
            match node.value() {
                Node::Text(t) => {
                    let in_noscript = node
                        .parent()
                        .and_then(|p| p.value().as_element())
                        .is_some_and(|e| e.name() == "noscript");
                    if in_noscript && depth < MAX_NOSCRIPT_DEPTH {
                        self.tree(&Html::parse_fragment(t), depth + 1);
                    } else {
                        self.text.push_str(t);
                    }
                }
                Node::Element(el) => {
                    let name = el.name();
                    if SKIPPED.contains(&name) {
                        if name == "script" {
                            let code: String = node
                                .children()
                                .filter_map(|c| c.value().as_text().map(|t| &**t))
                                .collect();
                            self.script(&code);
                        }
                        continue;
                    }
                    let block = BLOCKS.contains(&name);
                    if block {
                        self.text.push('\n');
                    }
                    if name == "title" && &*el.name.ns == XHTML && !self.title_seen {
                        self.title_seen = true;
                        self.title = ElementRef::wrap(node)
                            .map(|e| one_line(&e.text().collect::<String>()))
                            .filter(|t| !t.is_empty());
                    }
                    let mailto = self.element(el);
                    stack.push(Step::Leave { block, mailto });
                    stack.extend(node.children().rev().map(Step::Enter));
                }
                Node::Document | Node::Fragment => {
                    stack.extend(node.children().rev().map(Step::Enter));
                }
                _ => {}
            }
        }
    }

    /// Links and addresses carried by the element's attributes. Returns true when a
    /// `mailto:` link was opened and waits for its text.
    fn element(&mut self, el: &Element) -> bool {
        let offset = self.text.len();
        let link = match el.name() {
            "a" | "area" => el.attr("href"),
            "frame" | "iframe" => el.attr("src"),
            _ => None,
        };
        if el.name() == "img" {
            self.image(el);
        }
        let mut opened = false;
        if let Some(href) = link {
            if let Some(addresses) = mailto_addresses(href) {
                let pending = Mailto {
                    offset,
                    href: href.trim().to_string(),
                    addresses,
                };
                if el.name() == "a" {
                    self.mailtos.push(pending);
                    opened = true;
                } else {
                    self.emit_mailto(pending, "");
                }
            } else if let Some((_, hex)) = href.split_once(CLOUDFLARE_PATH) {
                self.cloudflare(offset, hex, href);
            } else if href
                .trim_start()
                .get(..11)
                .is_some_and(|s| s.eq_ignore_ascii_case("javascript:"))
            {
                self.script(href);
            } else {
                self.link(href);
            }
        }
        for (name, value) in el.attrs() {
            if name == "data-cfemail" {
                self.cloudflare(offset, value, value);
            } else if name.starts_with("on") {
                self.script(value);
            } else if ADDRESS_ATTRIBUTES.contains(&name) || name.starts_with("data-") {
                for mut c in super::find_addresses(value) {
                    if c.form == Form::Plain {
                        c.form = Form::Attribute;
                    }
                    self.marked.push((offset, c));
                }
            }
        }
        opened
    }

    /// An `<img>`: kept with whether it looks like an address drawn as an image.
    fn image(&mut self, el: &Element) {
        const MAX_IMAGES: usize = 50;
        const MAILISH: &[&str] = &["mail", "邮箱", "邮件", "contact", "联系"];
        const LABELS: &[&str] = &["邮箱", "e-mail", "email", "联系方式", "邮件", "mail"];
        let Some(src) = el.attr("src") else { return };
        let Ok(mut url) = self.base.join(src) else {
            return;
        };
        if !matches!(url.scheme(), "http" | "https") || self.images.len() >= MAX_IMAGES {
            return;
        }
        url.set_fragment(None);
        let words = [
            src,
            el.attr("alt").unwrap_or(""),
            el.attr("title").unwrap_or(""),
        ]
        .join(" ")
        .to_lowercase();
        let size = |a: &str| {
            el.attr(a)
                .and_then(|v| v.trim().trim_end_matches("px").parse::<u32>().ok())
        };
        let line_shaped =
            matches!((size("width"), size("height")), (Some(w), Some(h)) if h <= 40 && w >= 3 * h);
        // The label must be in the same block, right before the image.
        let line = self.text.rsplit('\n').next().unwrap_or_default();
        let before: String = line
            .chars()
            .rev()
            .take(24)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let before = before.to_lowercase();
        let candidate = MAILISH.iter().any(|w| words.contains(w))
            || line_shaped
            || LABELS.iter().any(|l| before.contains(l));
        if !self.images.iter().any(|(u, _)| *u == url) {
            self.images.push((url, candidate));
        }
    }

    fn link(&mut self, href: &str) {
        let Ok(mut url) = self.base.join(href) else {
            return;
        };
        if !matches!(url.scheme(), "http" | "https") {
            return;
        }
        url.set_fragment(None);
        if self.seen.insert(url.clone()) {
            self.links.push(url);
        }
    }

    fn close_mailto(&mut self) {
        if let Some(m) = self.mailtos.pop() {
            let link_text = one_line(self.text.get(m.offset..).unwrap_or_default());
            let link_text: String = link_text.chars().take(LINK_TEXT_CHARS).collect();
            self.emit_mailto(m, &link_text);
        }
    }

    fn emit_mailto(&mut self, m: Mailto, link_text: &str) {
        let context = if link_text.is_empty() {
            m.href.clone()
        } else {
            link_text.to_string()
        };
        for address in m.addresses {
            let c = EmailCandidate {
                address,
                raw: m.href.clone(),
                form: Form::Mailto,
                context: context.clone(),
                location: None,
                source: crate::model::Source::Served,
                evidence: None,
            };
            self.marked.push((m.offset, c));
        }
    }

    /// Addresses assembled by a script (inline, an event handler or a `javascript:` link).
    fn script(&mut self, code: &str) {
        if !script::worth_reading(code) {
            return;
        }
        let offset = self.text.len();
        let excerpt: String = one_line(code).chars().take(SCRIPT_EXCERPT_CHARS).collect();
        for address in script::addresses(code) {
            let c = EmailCandidate {
                address,
                raw: excerpt.clone(),
                form: Form::JavaScript,
                context: excerpt.clone(),
                location: None,
                source: crate::model::Source::Served,
                evidence: None,
            };
            self.marked.push((offset, c));
        }
    }

    fn cloudflare(&mut self, offset: usize, hex: &str, raw: &str) {
        if let Some(address) = cloudflare_decode(hex)
            .as_deref()
            .and_then(text::parse_address)
        {
            let c = EmailCandidate {
                address,
                raw: raw.to_string(),
                form: Form::Cloudflare,
                context: raw.to_string(),
                location: None,
                source: crate::model::Source::Served,
                evidence: None,
            };
            self.marked.push((offset, c));
        }
    }

    /// Runs the text finder over the visible text and merges everything in document order.
    fn finish(self, body: &str) -> Document {
        let mut source = Source::new(body);
        let mut all: Vec<(usize, u8, EmailCandidate)> =
            self.marked.into_iter().map(|(o, c)| (o, 0, c)).collect();
        for found in text::find(&self.text) {
            let offset = found.start;
            let mut c = found.into_candidate(&self.text);
            if c.form == Form::Plain {
                c.form = source.form_of(&c.raw);
            }
            all.push((offset, 1, c));
        }
        // Markup candidates sort before text at the same offset: a mailto link before its text.
        all.sort_by_key(|&(offset, rank, _)| (offset, rank));
        Document {
            title: self.title,
            links: self.links,
            emails: all.into_iter().map(|(_, _, c)| c).collect(),
            problems: Vec::new(),
            attachment: false,
            render: None,
            images: self.images,
        }
    }
}

/// The addresses of a `mailto:` href, or `None` when the href is not a `mailto:` link.
/// Besides the path, the `to`, `cc` and `bcc` query fields may name recipients.
fn mailto_addresses(href: &str) -> Option<Vec<Email>> {
    let href = href.trim();
    let rest = href
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("mailto:"))
        .and_then(|_| href.get(7..))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let fields = std::iter::once(path).chain(query.split('&').filter_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        ["to", "cc", "bcc"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
            .then_some(value)
    }));
    let mut addresses = Vec::new();
    for field in fields {
        let decoded = percent_decode_str(field).decode_utf8_lossy();
        for part in decoded.split([',', ';']) {
            // `Name <addr>` is allowed in mailto links.
            let part = match part.split_once('<') {
                Some((_, rest)) => rest.split('>').next().unwrap_or_default(),
                None => part,
            };
            addresses.extend(text::parse_address(part.trim()));
        }
    }
    Some(addresses)
}

/// Cloudflare email protection: hex bytes, the first is the XOR key for the rest.
fn cloudflare_decode(hex: &str) -> Option<String> {
    let hex = hex.trim();
    if !hex.len().is_multiple_of(2) || hex.len() < 4 {
        return None;
    }
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    let (key, rest) = bytes.split_first()?;
    String::from_utf8(rest.iter().map(|b| b ^ key).collect()).ok()
}

/// The raw page source, lowercased and entity-decoded only when a plain-looking address needs
/// checking, and then only once per page. Answers are cached: a directory page repeats the
/// same addresses, and each lookup scans the whole source.
struct Source<'a> {
    raw: &'a str,
    lower: Option<String>,
    decoded: Option<String>,
    seen: HashMap<String, Form>,
}

impl<'a> Source<'a> {
    fn new(raw: &'a str) -> Self {
        Source {
            raw,
            lower: None,
            decoded: None,
            seen: HashMap::new(),
        }
    }

    /// A text hit the source does not contain verbatim was hidden by the markup: with
    /// entities if decoding them reveals it, otherwise by tags between its characters.
    fn form_of(&mut self, written: &str) -> Form {
        let needle = written.to_ascii_lowercase();
        if let Some(&form) = self.seen.get(&needle) {
            return form;
        }
        let form = self.look_up(&needle);
        self.seen.insert(needle, form);
        form
    }

    fn look_up(&mut self, needle: &str) -> Form {
        let raw = self.raw;
        let lower = self.lower.get_or_insert_with(|| raw.to_ascii_lowercase());
        if lower.contains(needle) {
            return Form::Plain;
        }
        let decoded = self
            .decoded
            .get_or_insert_with(|| html_escape::decode_html_entities(raw).to_ascii_lowercase());
        if decoded.contains(needle) {
            Form::HtmlEntity
        } else {
            Form::SplitByTags
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(body: &str) -> Document {
        let base = Url::parse("https://www.ustl.edu.cn/dept/index.html").expect("literal url");
        extract(&base, body)
    }

    fn emails(body: &str) -> Vec<(String, Form)> {
        page(body)
            .emails
            .into_iter()
            .map(|c| (c.address.to_string(), c.form))
            .collect()
    }

    fn pairs(want: &[(&str, Form)]) -> Vec<(String, Form)> {
        want.iter().map(|(a, f)| ((*a).to_string(), *f)).collect()
    }

    #[test]
    fn one_case_per_form() {
        let cases: &[(&str, &[(&str, Form)])] = &[
            (
                "<p>zhang@ustl.edu.cn</p>",
                &[("zhang@ustl.edu.cn", Form::Plain)],
            ),
            (
                "<p>&#122;&#104;&#97;&#110;&#103;&#64;ustl.edu.cn</p>",
                &[("zhang@ustl.edu.cn", Form::HtmlEntity)],
            ),
            (
                "<p>zhang&commat;ustl.edu.cn</p>",
                &[("zhang@ustl.edu.cn", Form::HtmlEntity)],
            ),
            (
                "<p>zhang&#x40;ustl.edu.cn</p>",
                &[("zhang@ustl.edu.cn", Form::HtmlEntity)],
            ),
            (
                "<p>li<span>u</span>wei@x.edu.cn</p>",
                &[("liuwei@x.edu.cn", Form::SplitByTags)],
            ),
            (
                "<p>name<span>@</span>x.edu.cn</p>",
                &[("name@x.edu.cn", Form::SplitByTags)],
            ),
            (
                "<a href=\"mailto:%7A%68ang@ustl.edu.cn?subject=hi\">write</a>",
                &[("zhang@ustl.edu.cn", Form::Mailto)],
            ),
            (
                "<a href=\"MAILTO:a@x.edu.cn,b@x.edu.cn\"></a>",
                &[("a@x.edu.cn", Form::Mailto), ("b@x.edu.cn", Form::Mailto)],
            ),
            (
                "<a href=\"mailto:a@x.edu.cn?cc=b%40x.edu.cn&bcc=c@x.edu.cn;d@x.edu.cn\"></a>",
                &[
                    ("a@x.edu.cn", Form::Mailto),
                    ("b@x.edu.cn", Form::Mailto),
                    ("c@x.edu.cn", Form::Mailto),
                    ("d@x.edu.cn", Form::Mailto),
                ],
            ),
            (
                "<img alt=\"contact: a@x.edu.cn\">",
                &[("a@x.edu.cn", Form::Attribute)],
            ),
            (
                "<input placeholder=\"b@x.edu.cn\"><b data-mail=\"c[at]x.edu.cn\"></b>",
                &[
                    ("b@x.edu.cn", Form::Attribute),
                    ("c@x.edu.cn", Form::AtWord),
                ],
            ),
            (
                "<a href=\"/cdn-cgi/l/email-protection#42382a232c25023731362e6c2726376c212c\">[email&#160;protected]</a>",
                &[("zhang@ustl.edu.cn", Form::Cloudflare)],
            ),
            (
                "<span class=\"__cf_email__\" data-cfemail=\"42382a232c25023731362e6c2726376c212c\">[email&#160;protected]</span>",
                &[("zhang@ustl.edu.cn", Form::Cloudflare)],
            ),
            (
                "<p>zhang＠ustl．edu．cn</p>",
                &[("zhang@ustl.edu.cn", Form::FullWidth)],
            ),
            (
                "<p>office#ustl.edu.cn</p>",
                &[("office@ustl.edu.cn", Form::HashForAt)],
            ),
            (
                "<p>zhang [at] ustl.edu.cn</p>",
                &[("zhang@ustl.edu.cn", Form::AtWord)],
            ),
            (
                "<p>zhang @ ustl.edu.cn</p>",
                &[("zhang@ustl.edu.cn", Form::Spaced)],
            ),
            (
                "<p>zhang&nbsp;@&nbsp;ustl.edu.cn</p>",
                &[("zhang@ustl.edu.cn", Form::Spaced)],
            ),
        ];
        for (body, want) in cases {
            assert_eq!(emails(body), pairs(want), "{body}");
        }
    }

    #[test]
    fn mailto_with_its_address_as_text_keeps_both_occurrences() {
        let doc = page("<a href=\"mailto:zhang@ustl.edu.cn\">Zhang@ustl.edu.cn</a>");
        let got: Vec<_> = doc.emails.iter().map(|c| c.form).collect();
        assert_eq!(got, [Form::Mailto, Form::Plain]);
        assert_eq!(doc.emails[0].context, "Zhang@ustl.edu.cn");
        assert_eq!(doc.emails[0].raw, "mailto:zhang@ustl.edu.cn");
        assert!(page("<a href=\"mailto:\">x</a>").emails.is_empty());
    }

    #[test]
    fn table_cells_do_not_glue() {
        assert_eq!(
            emails("<table><tr><td>a@x.edu.cn</td><td>b@y.edu.cn</td></tr></table>"),
            pairs(&[("a@x.edu.cn", Form::Plain), ("b@y.edu.cn", Form::Plain)])
        );
        assert_eq!(
            emails("<p>wang</p><p>@x.edu.cn</p>a@x.edu.cn<br>cn"),
            pairs(&[("a@x.edu.cn", Form::Plain)])
        );
    }

    #[test]
    fn scripts_styles_templates_are_ignored_noscript_is_read() {
        let doc = page(
            "<html><head><style>@media screen { a { color: red } } .x{background:url(logo@2x.png)}</style>\
             <script>var m = 'js@x.edu.cn'; document.write('<a href=\"/js\">');</script></head>\
             <body><template><a href=\"/tpl\">t@x.edu.cn</a></template>\
             <noscript><a href=\"/nojs\">n@x.edu.cn</a></noscript></body></html>",
        );
        let addrs: Vec<_> = doc.emails.iter().map(|c| c.address.to_string()).collect();
        assert_eq!(addrs, ["n@x.edu.cn"]);
        let links: Vec<_> = doc.links.iter().map(Url::as_str).collect();
        assert_eq!(links, ["https://www.ustl.edu.cn/nojs"]);
    }

    #[test]
    fn links_resolve_filter_and_dedupe() {
        let doc = page(
            "<a href=\"a.html#top\">1</a><a href=\"a.html\">2</a>\
             <a href=\"/b\">3</a><area href=\"http://other.cn/c\"><iframe src=\"frame.html\"></iframe>\
             <frame src=\"f.html\"><a href=\"javascript:void(0)\">j</a><a href=\"tel:123\">t</a>\
             <a href=\"data:text/html,hi\">d</a><a href=\"mailto:a@x.edu.cn\">m</a>\
             <a href=\"http://[::1\">bad</a><a href=\"ftp://x.cn/\">ftp</a><a>none</a>",
        );
        let links: Vec<_> = doc.links.iter().map(Url::as_str).collect();
        assert_eq!(
            links,
            [
                "https://www.ustl.edu.cn/dept/a.html",
                "https://www.ustl.edu.cn/b",
                "http://other.cn/c",
                "https://www.ustl.edu.cn/dept/frame.html",
            ]
        );
    }

    #[test]
    fn base_href_wins() {
        let doc = page(
            "<head><base href=\"http://cdn.ustl.edu.cn/news/\"></head>\
             <a href=\"item.html\">x</a><a href=\"../up\">y</a>",
        );
        let links: Vec<_> = doc.links.iter().map(Url::as_str).collect();
        assert_eq!(
            links,
            [
                "http://cdn.ustl.edu.cn/news/item.html",
                "http://cdn.ustl.edu.cn/up"
            ]
        );
    }

    #[test]
    fn title_is_trimmed_and_collapsed() {
        assert_eq!(
            page("<title>\n  计算机学院 \n - 首页 </title>")
                .title
                .as_deref(),
            Some("计算机学院 - 首页")
        );
        assert_eq!(page("<title>  </title>").title, None);
        assert_eq!(page("<p>no title</p>").title, None);
        assert_eq!(
            page("<title>Main</title><body><svg><title>icon</title></svg></body>")
                .title
                .as_deref(),
            Some("Main")
        );
    }

    #[test]
    fn document_order_and_context() {
        let doc = page(
            "<p>first a@x.edu.cn</p><p><img title=\"b@x.edu.cn\"></p>\
             <p>联系人：张老师，<a href=\"mailto:c@x.edu.cn\">  发邮件\n 给我 </a></p>",
        );
        let got: Vec<_> = doc
            .emails
            .iter()
            .map(|c| (c.address.to_string(), c.context.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                // Context crosses block boundaries on purpose: a label often sits in the
                // neighbouring cell.
                (
                    "a@x.edu.cn".to_string(),
                    "first a@x.edu.cn 联系人：张老师， 发邮件 给我"
                ),
                ("b@x.edu.cn".to_string(), "b@x.edu.cn"),
                ("c@x.edu.cn".to_string(), "发邮件 给我"),
            ]
        );
    }

    #[test]
    fn negatives_in_markup_find_nothing() {
        let doc = page(
            "<img src=\"logo@2x.png\" srcset=\"icon@3x.webp 3x\">\
             <link href=\"https://cdn.x.cn/jquery@3.6.0/dist/jquery.min.js\">\
             <p>@所有人 请注意 @scope/pkg jquery@3.6.0</p><a href=\"mailto:x@y.zz\">x</a>",
        );
        assert!(doc.emails.is_empty(), "{:?}", doc.emails);
    }

    #[test]
    fn broken_html_never_panics() {
        for body in [
            "",
            "<",
            "<a href=",
            "<noscript><noscript><noscript>a@x.edu.cn",
            "<a href=\"mailto:%ZZ%\">",
            "<span data-cfemail=\"zz\"></span><span data-cfemail=\"4\"></span>",
            "<title>",
            &"<div>".repeat(3_000),
        ] {
            let _ = page(body);
        }
    }
}
