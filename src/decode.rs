//! Bytes to text. Chinese university sites still serve GBK / GB2312 / GB18030 pages, and the
//! HTTP header often lies (a GBK page served as `charset=utf-8`), so the charset is decided
//! from the raw bytes: BOM, then the HTTP header (trusted for UTF-8 only when the bytes really
//! are UTF-8), then a `<meta>` prescan, then detection with chardetng (hinted by the host's
//! top-level domain). encoding_rs maps gb2312 and gbk to its GBK decoder, as browsers do.

use encoding_rs::{Encoding, UTF_8};

/// How the charset was decided, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharsetSource {
    /// A byte-order mark.
    Bom,
    /// The `Content-Type` header.
    Header,
    /// A `<meta charset>` or `<meta http-equiv>` tag.
    Meta,
    /// Statistical detection.
    Detected,
}

/// Text decoded from a body.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The text; malformed sequences are replaced by U+FFFD, never an error.
    pub text: String,
    /// The encoding used.
    pub encoding: &'static Encoding,
    /// How it was chosen.
    pub source: CharsetSource,
}

/// How far into the body to look for `<meta charset>` (the HTML standard's prescan reads 1024
/// bytes; real Chinese pages often put the tag after a long comment or script, so look
/// further).
const META_PRESCAN: usize = 4096;

/// Decodes a body. `content_type` is the HTTP header value, `tld` the host's last label
/// (chardetng uses it as a hint: `cn` favours GBK), `html` enables the `<meta>` prescan.
#[must_use]
pub fn decode(body: &[u8], content_type: Option<&str>, tld: Option<&str>, html: bool) -> Decoded {
    if let Some((encoding, _)) = Encoding::for_bom(body) {
        return finish(body, encoding, CharsetSource::Bom);
    }
    if let Some(encoding) = content_type.and_then(header_charset) {
        let utf8_is_lying = encoding == UTF_8 && std::str::from_utf8(body).is_err();
        if !utf8_is_lying {
            return finish(body, encoding, CharsetSource::Header);
        }
    }
    if html && let Some(encoding) = meta_charset(&body[..body.len().min(META_PRESCAN)]) {
        // A page that declares UTF-8 but is not UTF-8 is as common as a lying header.
        if encoding != UTF_8 || std::str::from_utf8(body).is_ok() {
            return finish(body, encoding, CharsetSource::Meta);
        }
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(body, true);
    let tld = tld.map(str::as_bytes);
    let encoding = detector.guess(tld, chardetng::Utf8Detection::Allow);
    finish(body, encoding, CharsetSource::Detected)
}

fn finish(body: &[u8], encoding: &'static Encoding, source: CharsetSource) -> Decoded {
    // `decode` strips a BOM of the detected encoding and replaces malformed input.
    let (text, encoding, _) = encoding.decode(body);
    Decoded {
        text: text.into_owned(),
        encoding,
        source,
    }
}

/// The `charset` parameter of a Content-Type value.
fn header_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| Encoding::for_label(v.trim().trim_matches(['"', '\'']).as_bytes()))
            .flatten()
    })
}

/// Finds `charset=` inside a `<meta ...>` tag in the first bytes of a page. Works on bytes,
/// because the page is not decoded yet.
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let lower = head.to_ascii_lowercase();
    let mut rest = &lower[..];
    while let Some(pos) = find(rest, b"<meta") {
        rest = &rest[pos + 5..];
        let end = rest.iter().position(|&b| b == b'>').unwrap_or(rest.len());
        let tag = &rest[..end];
        if let Some(c) = find(tag, b"charset") {
            let value = tag[c + 7..]
                .iter()
                .skip_while(|b| {
                    b.is_ascii_whitespace() || **b == b'=' || **b == b'"' || **b == b'\''
                })
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b'_')
                .copied()
                .collect::<Vec<u8>>();
            if let Some(e) = Encoding::for_label(&value) {
                // A page cannot really be UTF-16 if its meta tag is readable as ASCII.
                return Some(if e.output_encoding() == UTF_8 {
                    UTF_8
                } else {
                    e
                });
            }
        }
        rest = &rest[end..];
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZH: &str =
        "计算机学院 联系邮箱：zhang@ustl.edu.cn，电话：0411-12345678。欢迎报考我院研究生。";

    fn gbk(s: &str) -> Vec<u8> {
        encoding_rs::GBK.encode(s).0.into_owned()
    }

    #[test]
    fn gbk_with_lying_utf8_header_is_detected() {
        let body = gbk(&format!("<html><body>{ZH}</body></html>"));
        let d = decode(&body, Some("text/html; charset=utf-8"), Some("cn"), true);
        assert!(d.text.contains(ZH), "{}", d.text);
        assert_eq!(d.source, CharsetSource::Detected);
    }

    #[test]
    fn gbk_declared_by_meta() {
        let body = gbk(&format!(
            "<html><head><meta charset=\"gb2312\"></head><body>{ZH}</body></html>"
        ));
        let d = decode(&body, Some("text/html"), Some("cn"), true);
        assert!(d.text.contains(ZH));
        assert_eq!(d.source, CharsetSource::Meta);
        let body = gbk(&format!(
            "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=GBK\">{ZH}"
        ));
        assert!(decode(&body, None, None, true).text.contains(ZH));
    }

    #[test]
    fn header_bom_and_gb18030() {
        let body = gbk(ZH);
        let d = decode(&body, Some("text/html; charset=\"GBK\""), None, true);
        assert_eq!((d.text.as_str(), d.source), (ZH, CharsetSource::Header));
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(ZH.as_bytes());
        let d = decode(&bom, Some("text/html; charset=gbk"), None, true);
        assert_eq!((d.text.as_str(), d.source), (ZH, CharsetSource::Bom));
        let gb18030 = encoding_rs::GB18030.encode(ZH).0.into_owned();
        assert!(
            decode(&gb18030, None, Some("cn"), true)
                .text
                .contains("联系邮箱")
        );
    }

    #[test]
    fn utf8_without_any_declaration() {
        let d = decode(ZH.as_bytes(), None, Some("cn"), true);
        assert_eq!(d.text, ZH);
    }

    #[test]
    fn garbage_never_panics() {
        let junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let _ = decode(&junk, Some("text/html; charset=nonsense"), Some("cn"), true);
        let _ = decode(b"<meta charset=", None, None, true);
        let _ = decode(b"", None, None, true);
    }
}
