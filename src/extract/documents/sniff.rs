//! Deciding what a download really is, and what it is called.
//!
//! Magic bytes win: `%PDF-`, the OLE signature (then its streams: `WordDocument` is a Word or
//! WPS writer file, `Workbook`/`Book` a spreadsheet, `PowerPoint Document` a presentation; the
//! file name only decides between the Microsoft and WPS names of the same layout), the zip
//! signature (then its entries: `word/`, `xl/`, `ppt/`, an OpenDocument `mimetype`, `OFD.xml`),
//! `{\rtf`, RAR and 7z. Only when the bytes say nothing is the file name consulted, then the
//! Content-Type, and even then only text-like bytes are accepted as text: an HTML error page
//! behind a `.pdf` link is not a PDF.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::Format;

const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Decide the real format from magic bytes first, then the file name (from the URL or a
/// Content-Disposition filename), then the Content-Type; never trust the extension or type
/// alone (`.wps` is often served as application/vnd.ms-works; OLE containers
/// .doc/.xls/.ppt/.wps/.et/.dps are told apart by their streams: WordDocument, Workbook/Book,
/// PowerPoint Document).
pub fn sniff(bytes: &[u8], file_name: Option<&str>, content_type: Option<&str>) -> Option<Format> {
    let ext = file_name.and_then(extension);
    let ext = ext.as_deref();
    let head = &bytes[..bytes.len().min(1024)];
    if memfind(head, b"%PDF-").is_some() {
        return Some(Format::Pdf);
    }
    if bytes.starts_with(OLE_MAGIC) {
        return catch_unwind(AssertUnwindSafe(|| sniff_ole(bytes, ext)))
            .ok()
            .flatten();
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Some(
            catch_unwind(AssertUnwindSafe(|| sniff_zip(bytes, ext)))
                .ok()
                .flatten()
                .unwrap_or(Format::Zip),
        );
    }
    if bytes.starts_with(b"{\\rtf") {
        return Some(Format::Rtf);
    }
    if bytes.starts_with(b"Rar!\x1a\x07") {
        return Some(Format::Rar);
    }
    if bytes.starts_with(b"7z\xbc\xaf\x27\x1c") {
        return Some(Format::SevenZip);
    }
    if is_image(bytes) {
        return Some(Format::Image);
    }
    // No signature: the name, then the type, but only for bytes that look like text.
    let named = ext.and_then(format_of_extension);
    let typed = content_type.and_then(format_of_content_type);
    let claims_text = matches!(named, Some(Format::Text))
        || (named.is_none() && matches!(typed, Some(Format::Text)));
    if looks_like_text(head) && (claims_text || named.is_some() || typed.is_some()) {
        // A `.doc` or `.xls` that is really HTML or plain text (Chinese sites do save "Word"
        // files as HTML) is still read, as text.
        return Some(Format::Text);
    }
    None
}

fn sniff_ole(bytes: &[u8], ext: Option<&str>) -> Option<Format> {
    let file = cfb::CompoundFile::open(Cursor::new(bytes)).ok()?;
    let has = |name: &str| file.exists(format!("/{name}"));
    if has("EncryptionInfo") && has("EncryptedPackage") {
        // A password-protected OOXML file: the name says which; extraction reports it.
        return Some(match ext {
            Some("xlsx") => Format::Xlsx,
            Some("pptx") => Format::Pptx,
            _ => Format::Docx,
        });
    }
    if has("WordDocument") {
        return Some(if ext == Some("wps") {
            Format::Wps
        } else {
            Format::Doc
        });
    }
    if has("Workbook") || has("Book") {
        return Some(if ext == Some("et") {
            Format::Et
        } else {
            Format::Xls
        });
    }
    if has("PowerPoint Document") {
        return Some(if ext == Some("dps") {
            Format::Dps
        } else {
            Format::Ppt
        });
    }
    None
}

fn sniff_zip(bytes: &[u8], ext: Option<&str>) -> Option<Format> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(Result::ok)
        .map(std::borrow::Cow::into_owned)
        .collect();
    let has_prefix = |p: &str| names.iter().any(|n| n.starts_with(p));
    if names.iter().any(|n| n == "[Content_Types].xml") {
        if has_prefix("word/") {
            return Some(Format::Docx);
        }
        if has_prefix("xl/") {
            return Some(Format::Xlsx);
        }
        if has_prefix("ppt/") {
            return Some(Format::Pptx);
        }
    }
    if names.iter().any(|n| n == "OFD.xml") {
        return Some(Format::Ofd);
    }
    if names.iter().any(|n| n == "mimetype") {
        let mut mime = String::new();
        if let Ok(f) = zip.by_name("mimetype") {
            use std::io::Read;
            // The mimetype entry is a few dozen bytes; read at most 200.
            let _ = f.take(200).read_to_string(&mut mime);
        }
        match mime.trim() {
            "application/vnd.oasis.opendocument.text" => return Some(Format::Odt),
            "application/vnd.oasis.opendocument.spreadsheet" => return Some(Format::Ods),
            _ => {}
        }
    }
    let _ = ext;
    Some(Format::Zip)
}

/// The lower-case extension of a file name or URL path (query and fragment ignored).
fn extension(name: &str) -> Option<String> {
    let name = name.split(['?', '#']).next().unwrap_or(name);
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (_, ext) = base.rsplit_once('.')?;
    (!ext.is_empty() && ext.len() <= 5).then(|| ext.to_ascii_lowercase())
}

/// PNG, JPEG, GIF, TIFF or BMP, by magic bytes (the only way images are recognised: a name
/// or a type alone does not make bytes an image).
fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n")
        || bytes.starts_with(b"\xff\xd8\xff")
        || bytes.starts_with(b"GIF87a")
        || bytes.starts_with(b"GIF89a")
        || bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || (bytes.starts_with(b"BM") && bytes.len() > 26 && bytes[14..18].iter().any(|&b| b != 0))
}

fn format_of_extension(ext: &str) -> Option<Format> {
    Some(match ext {
        "pdf" => Format::Pdf,
        "docx" => Format::Docx,
        "doc" => Format::Doc,
        "wps" => Format::Wps,
        "et" => Format::Et,
        "dps" => Format::Dps,
        "xls" => Format::Xls,
        "xlsx" => Format::Xlsx,
        "ods" => Format::Ods,
        "ppt" => Format::Ppt,
        "pptx" => Format::Pptx,
        "odt" => Format::Odt,
        "rtf" => Format::Rtf,
        "ofd" => Format::Ofd,
        "txt" | "csv" | "text" => Format::Text,
        "zip" => Format::Zip,
        "rar" => Format::Rar,
        "7z" => Format::SevenZip,
        _ => return None,
    })
}

fn format_of_content_type(ct: &str) -> Option<Format> {
    let mime = ct
        .split(';')
        .next()
        .unwrap_or(ct)
        .trim()
        .to_ascii_lowercase();
    Some(match mime.as_str() {
        "application/pdf" => Format::Pdf,
        "application/msword" => Format::Doc,
        "application/vnd.ms-works" | "application/kswps" | "application/wps-office.wps" => {
            Format::Wps
        }
        "application/vnd.ms-excel" => Format::Xls,
        "application/vnd.ms-powerpoint" => Format::Ppt,
        "application/rtf" | "text/rtf" => Format::Rtf,
        "application/ofd" => Format::Ofd,
        "text/plain" | "text/csv" => Format::Text,
        "application/zip" | "application/x-zip-compressed" => Format::Zip,
        m if m.starts_with("application/vnd.openxmlformats-officedocument.wordprocessingml") => {
            Format::Docx
        }
        m if m.starts_with("application/vnd.openxmlformats-officedocument.spreadsheetml") => {
            Format::Xlsx
        }
        m if m.starts_with("application/vnd.openxmlformats-officedocument.presentationml") => {
            Format::Pptx
        }
        _ => return None,
    })
}

/// No NUL bytes and mostly printable: UTF-8, GBK and UTF-16-with-BOM text all pass.
fn looks_like_text(head: &[u8]) -> bool {
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return true;
    }
    if head.contains(&0) {
        return false;
    }
    let control = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0C))
        .count();
    control * 20 <= head.len()
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parse a Content-Disposition header value into a file name (RFC 6266/5987
/// `filename*=UTF-8''...`, and raw GBK/UTF-8 bytes in `filename="..."` as Chinese servers
/// send). `filename*` wins over `filename`; percent-encoded UTF-8 in a plain `filename` (also
/// common) is decoded. Any directory part is dropped.
pub fn disposition_file_name(header_value: &[u8]) -> Option<String> {
    let mut plain: Option<Vec<u8>> = None;
    let mut extended: Option<String> = None;
    for (key, value) in params(header_value) {
        let key = String::from_utf8_lossy(&key).trim().to_ascii_lowercase();
        match key.as_str() {
            "filename*" => extended = decode_ext_value(&value),
            "filename" => plain = Some(value),
            _ => {}
        }
    }
    let name = extended.or_else(|| plain.map(|v| decode_raw(&v)))?;
    let name = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(&name)
        .trim()
        .to_string();
    (!name.is_empty()).then_some(name)
}

/// `key=value` pairs after the disposition type; values unquoted (with `\` escapes).
fn params(v: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = v.iter().position(|&b| b == b';').map_or(v.len(), |p| p + 1);
    while i < v.len() {
        while i < v.len() && matches!(v[i], b' ' | b'\t' | b';') {
            i += 1;
        }
        let key_start = i;
        while i < v.len() && v[i] != b'=' && v[i] != b';' {
            i += 1;
        }
        let key = v[key_start..i].to_vec();
        if i >= v.len() || v[i] == b';' {
            continue;
        }
        i += 1; // '='
        while i < v.len() && matches!(v[i], b' ' | b'\t') {
            i += 1;
        }
        let mut value = Vec::new();
        if i < v.len() && v[i] == b'"' {
            i += 1;
            while i < v.len() && v[i] != b'"' {
                if v[i] == b'\\' && i + 1 < v.len() {
                    i += 1;
                }
                value.push(v[i]);
                i += 1;
            }
            i += 1;
        } else {
            while i < v.len() && v[i] != b';' {
                value.push(v[i]);
                i += 1;
            }
            while value.last().is_some_and(u8::is_ascii_whitespace) {
                value.pop();
            }
        }
        out.push((key, value));
    }
    out
}

/// RFC 5987 `charset'lang'pct-encoded`.
fn decode_ext_value(v: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(v).ok()?;
    let mut parts = s.splitn(3, '\'');
    let charset = parts.next()?.trim();
    let _lang = parts.next()?;
    let encoded = parts.next()?;
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(encoded).collect();
    let encoding =
        encoding_rs::Encoding::for_label(charset.as_bytes()).unwrap_or(encoding_rs::UTF_8);
    Some(encoding.decode_without_bom_handling(&bytes).0.into_owned())
}

/// Raw header bytes: percent-encoded UTF-8, UTF-8, else GBK (what Chinese servers send).
fn decode_raw(v: &[u8]) -> String {
    if v.contains(&b'%') && v.is_ascii() {
        let bytes: Vec<u8> = percent_encoding::percent_decode(v).collect();
        if let Ok(s) = String::from_utf8(bytes) {
            return s;
        }
    }
    match std::str::from_utf8(v) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GBK
            .decode_without_bom_handling(v)
            .0
            .into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_beats_name_and_type() {
        assert_eq!(
            sniff(b"%PDF-1.7\n...", Some("download.jsp"), Some("text/html")),
            Some(Format::Pdf)
        );
        assert_eq!(
            sniff(b"{\\rtf1\\ansi", Some("a.doc"), None),
            Some(Format::Rtf)
        );
        assert_eq!(
            sniff(b"Rar!\x1a\x07\x01\x00", None, None),
            Some(Format::Rar)
        );
        assert_eq!(
            sniff(b"7z\xbc\xaf\x27\x1c\x00\x04", None, None),
            Some(Format::SevenZip)
        );
    }

    #[test]
    fn name_or_type_alone_only_for_text() {
        assert_eq!(
            sniff(
                b"\x00\x01\x02binary",
                Some("a.pdf"),
                Some("application/pdf")
            ),
            None
        );
        assert_eq!(
            sniff("邮箱 a@b.cn".as_bytes(), Some("a.txt"), None),
            Some(Format::Text)
        );
        assert_eq!(
            sniff(b"a,b\n1,2\n", None, Some("text/csv; charset=gbk")),
            Some(Format::Text)
        );
        assert_eq!(
            sniff(b"<html>", Some("notice.doc"), None),
            Some(Format::Text)
        );
        assert_eq!(sniff(b"<html>", Some("page"), Some("text/html")), None);
    }

    #[test]
    fn extension_ignores_query_and_path() {
        assert_eq!(extension("/a/b/通知.WPS?id=3#x").as_deref(), Some("wps"));
        assert_eq!(extension("download.jsp").as_deref(), Some("jsp"));
        assert_eq!(extension("noext"), None);
    }

    #[test]
    fn disposition_rfc5987_wins() {
        let h = b"attachment; filename=\"fallback.doc\"; filename*=UTF-8''%E9%80%9A%E7%9F%A5.docx";
        assert_eq!(disposition_file_name(h).as_deref(), Some("通知.docx"));
        let h = b"attachment; filename*=gbk''%CD%A8%D6%AA.wps";
        assert_eq!(disposition_file_name(h).as_deref(), Some("通知.wps"));
    }

    #[test]
    fn disposition_raw_gbk_utf8_and_percent() {
        let mut h = b"attachment; filename=\"".to_vec();
        h.extend_from_slice(&encoding_rs::GBK.encode("关于邮箱的通知.doc").0);
        h.push(b'"');
        assert_eq!(
            disposition_file_name(&h).as_deref(),
            Some("关于邮箱的通知.doc")
        );
        let h = "attachment;filename=附件1.xlsx".as_bytes();
        assert_eq!(disposition_file_name(h).as_deref(), Some("附件1.xlsx"));
        let h = b"attachment; filename=%E9%80%9A%E7%9F%A5.pdf";
        assert_eq!(disposition_file_name(h).as_deref(), Some("通知.pdf"));
        let h = b"inline; filename=\"C:\\\\Users\\\\x\\\\a.pdf\"";
        assert_eq!(disposition_file_name(h).as_deref(), Some("a.pdf"));
        assert_eq!(disposition_file_name(b"inline"), None);
    }
}
