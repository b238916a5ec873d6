//! sitemap.xml: the `<loc>` entries of a `<urlset>` (pages) or a `<sitemapindex>` (more
//! sitemaps). Parsed with quick-xml (the sitemap crate is unmaintained since 2020).

use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// What a sitemap file lists.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sitemap {
    /// Page URLs (from `<urlset>`).
    pub pages: Vec<String>,
    /// Nested sitemap URLs (from `<sitemapindex>`).
    pub sitemaps: Vec<String>,
}

/// Reads at most `max` locations from a sitemap body. Malformed XML ends the read with what
/// was found so far.
#[must_use]
pub fn parse(body: &[u8], max: usize) -> Sitemap {
    let mut reader = Reader::from_reader(body);
    let mut out = Sitemap::default();
    let mut in_index = false;
    let mut loc: Option<String> = None;
    let mut buf = Vec::new();
    while out.pages.len() + out.sitemaps.len() < max {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => match e.local_name().as_ref() {
                "sitemapindex" => in_index = true,
                "loc" => loc = Some(String::new()),
                _ => {}
            },
            Ok(Event::Text(t)) => {
                if let Some(l) = loc.as_mut() {
                    l.push_str(&t);
                }
            }
            Ok(Event::CData(t)) => {
                if let Some(l) = loc.as_mut() {
                    l.push_str(&t);
                }
            }
            // quick-xml reports `&amp;` and friends as separate events.
            Ok(Event::GeneralRef(r)) => {
                if let Some(l) = loc.as_mut() {
                    let name: &str = &r;
                    l.push_str(&html_escape::decode_html_entities(&format!("&{name};")));
                }
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == "loc" => {
                let l = loc.take().unwrap_or_default().trim().to_string();
                if !l.is_empty() {
                    if in_index {
                        out.sitemaps.push(l);
                    } else {
                        out.pages.push(l);
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
        buf.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlset_and_index() {
        let s = parse(
            br#"<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc> http://a.cn/x.html </loc><lastmod>2026-01-01</lastmod></url>
<url><loc>http://a.cn/y?a=1&amp;b=2</loc></url></urlset>"#,
            100,
        );
        assert_eq!(s.pages, ["http://a.cn/x.html", "http://a.cn/y?a=1&b=2"]);
        let i = parse(
            b"<sitemapindex><sitemap><loc>http://a.cn/s1.xml</loc></sitemap></sitemapindex>",
            100,
        );
        assert_eq!(i.sitemaps, ["http://a.cn/s1.xml"]);
        assert_eq!(
            parse(
                b"<urlset><url><loc>a</loc></url><url><loc>b</loc></url></urlset>",
                1
            )
            .pages
            .len(),
            1
        );
        assert_eq!(parse(b"<<<not xml", 10), Sitemap::default());
    }
}
