//! The `auto` decision: does the served HTML look like a page that builds its content with
//! JavaScript? Ordinary server-built pages must not be rendered (a browser costs about a
//! hundred times a parse), so every signal needs the page to show little text of its own.

use scraper::{Html, Selector};

/// Visible text below which a page counts as nearly empty.
const LITTLE_TEXT: usize = 200;
/// Inline script bytes above which scripts count as large.
const LARGE_SCRIPT: usize = 2_000;

/// Ids and attributes that app frameworks mount on.
const APP_ROOTS: &str = "#app, #root, #__next, #__nuxt, #main-app, [data-reactroot], [ng-app], [ng-version], [data-v-app], app-root";

/// Why the page should be rendered, or `None` for a page whose served HTML is the page.
#[must_use]
pub fn decide(html: &str) -> Option<String> {
    // Most pages are settled without building a DOM: no script (and no <noscript> asking for
    // one) means nothing to render, and plenty of text outside tags means the server built
    // the page.
    if !contains_ignore_case(html, "script") || rough_text_len(html) >= 4 * LITTLE_TEXT {
        return None;
    }
    let doc = Html::parse_document(html);
    let text = visible_text_len(&doc);
    if text >= 4 * LITTLE_TEXT {
        return None;
    }
    if let Ok(roots) = Selector::parse(APP_ROOTS)
        && let Some(root) = doc
            .select(&roots)
            .find(|e| e.text().map(str::trim).all(str::is_empty))
    {
        let v = root.value();
        let name = v
            .id()
            .map_or_else(|| v.name().to_string(), |id| format!("#{id}"));
        return Some(format!("auto: empty app root {name}"));
    }
    if text >= LITTLE_TEXT {
        return None;
    }
    let lower = html.to_ascii_lowercase();
    for marker in [
        "__next_data__",
        "window.__nuxt__",
        "ng-version",
        "data-server-rendered",
    ] {
        if lower.contains(marker) {
            return Some(format!("auto: framework marker {marker} and little text"));
        }
    }
    if let Ok(noscript) = Selector::parse("noscript") {
        let asks = doc.select(&noscript).any(|n| {
            let t = n.text().collect::<String>().to_lowercase();
            t.contains("javascript")
                && (t.contains("enable")
                    || t.contains("启用")
                    || t.contains("开启")
                    || t.contains("需要")
                    || t.contains("支持"))
        });
        if asks {
            return Some(
                "auto: <noscript> asks for JavaScript and the page shows little text".to_string(),
            );
        }
    }
    let (inline, external) = scripts(&doc);
    if inline >= LARGE_SCRIPT || external > 0 {
        return Some(format!(
            "auto: {text} characters of text with {inline} bytes of inline script and {external} script files"
        ));
    }
    None
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Characters outside tags, `<script>`, `<style>` and comments, counted up to `4 *
/// LITTLE_TEXT` (an over-estimate is fine: it only decides that a page has text).
fn rough_text_len(html: &str) -> usize {
    let enough = 4 * LITTLE_TEXT;
    let bytes = html.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < bytes.len() && n < enough {
        if bytes[i] == b'<' {
            let rest = &bytes[i..];
            let skip_to = |close: &[u8]| {
                rest.windows(close.len())
                    .position(|w| w.eq_ignore_ascii_case(close))
                    .map_or(bytes.len(), |p| i + p + close.len())
            };
            i = if rest.len() > 7 && rest[..7].eq_ignore_ascii_case(b"<script") {
                skip_to(b"</script>")
            } else if rest.len() > 6 && rest[..6].eq_ignore_ascii_case(b"<style") {
                skip_to(b"</style>")
            } else if rest.starts_with(b"<!--") {
                skip_to(b"-->")
            } else {
                skip_to(b">")
            };
            continue;
        }
        // One count per character (UTF-8 continuation bytes and whitespace are not counted).
        if bytes[i] & 0xC0 != 0x80 && !bytes[i].is_ascii_whitespace() {
            n += 1;
        }
        i += 1;
    }
    n
}

/// Characters of text a reader would see: the body without scripts, styles, templates.
fn visible_text_len(doc: &Html) -> usize {
    let Ok(body) = Selector::parse("body") else {
        return 0;
    };
    let Some(body) = doc.select(&body).next() else {
        return 0;
    };
    body.descendants()
        .filter_map(|n| {
            let t = n.value().as_text()?;
            let hidden = n.ancestors().any(|a| {
                a.value().as_element().is_some_and(|e| {
                    matches!(e.name(), "script" | "style" | "noscript" | "template")
                })
            });
            (!hidden).then(|| t.trim().chars().count())
        })
        .sum()
}

/// Inline script bytes and the number of script files.
fn scripts(doc: &Html) -> (usize, usize) {
    let Ok(sel) = Selector::parse("script") else {
        return (0, 0);
    };
    let mut inline = 0;
    let mut external = 0;
    for s in doc.select(&sel) {
        let ty = s.value().attr("type").unwrap_or("").to_ascii_lowercase();
        if !(ty.is_empty() || ty.contains("javascript") || ty == "module") {
            continue;
        }
        if s.value().attr("src").is_some() {
            external += 1;
        } else {
            inline += s.text().map(str::len).sum::<usize>();
        }
    }
    (inline, external)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_shells_are_rendered() {
        for (html, why) in [
            (
                r#"<html><body><div id="app"></div><script src="/app.js"></script></body></html>"#,
                "#app",
            ),
            (
                r#"<html><body><div id="root"></div><noscript>You need to enable JavaScript to run this app.</noscript></body></html>"#,
                "#root",
            ),
            (
                r#"<html><body><app-root></app-root><script src="main.js"></script></body></html>"#,
                "app-root",
            ),
            (
                "<html><body><p>加载中</p><noscript>请启用 JavaScript</noscript></body></html>",
                "noscript",
            ),
            (
                r#"<html><body><div id="list"></div><script src="/list.js"></script></body></html>"#,
                "script files",
            ),
        ] {
            let d = decide(html);
            assert!(
                d.as_deref().is_some_and(|d| d.contains(why)),
                "{html}: {d:?}"
            );
        }
    }

    #[test]
    fn server_built_pages_are_not_rendered() {
        let long = "学院简介：".to_string()
            + &"本院设有多个系和研究所，联系邮箱 office@ustl.edu.cn。".repeat(30);
        for html in [
            format!(
                "<html><body><div id=\"app\"><h1>学院</h1><p>{long}</p></div><script src=\"/a.js\"></script></body></html>"
            ),
            format!(
                "<html><body><p>{long}</p><noscript>Please enable JavaScript for the map.</noscript></body></html>"
            ),
            "<html><body><p>联系我们：zhang@ustl.edu.cn</p></body></html>".to_string(),
        ] {
            assert_eq!(decide(&html), None, "{html}");
        }
    }

    /// Every server-built page of the demo and of the test site stays unrendered.
    #[test]
    fn demo_and_fixture_pages_are_not_rendered() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        let mut stack = vec![root.join("src/demo/site"), root.join("tests/fixtures/site")];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "html" || x == "htm") {
                    let bytes = std::fs::read(&p).unwrap_or_default();
                    let html = String::from_utf8_lossy(&bytes);
                    assert_eq!(decide(&html), None, "{}", p.display());
                    seen += 1;
                }
            }
        }
        assert!(seen > 10, "{seen} pages");
    }
}
