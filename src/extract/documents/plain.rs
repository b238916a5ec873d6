//! Plain text and CSV: the charset is decided by the crate's own `decode` (BOM, then
//! chardetng; GBK files are the norm on Chinese desktops). One `text` segment.

use super::Sink;

/// Decodes the bytes and emits them as one segment.
pub(crate) fn extract(bytes: &[u8], sink: &mut Sink) {
    let decoded = crate::decode::decode(bytes, None, Some("cn"), false);
    sink.push("text", decoded.text);
}
