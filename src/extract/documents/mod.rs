//! Notice documents: bytes of an attachment or an uploaded file in, text with locations out.
//!
//! [`sniff`] decides the real format from magic bytes first (a `download.jsp?id=123` link says
//! nothing, and servers send `.wps` as `application/vnd.ms-works`), then the file name, then the
//! Content-Type. [`extract`] turns the bytes into [`Segment`]s, one per page, sheet cell, slide
//! or archive entry, each with a stable English location key (`page 3`, `sheet 成绩表!B4`,
//! `slide 2`, `archive 附件/通知.docx › page 1`); the caller runs
//! [`find_addresses`](crate::extract::find_addresses) over each segment's text.
//!
//! Everything is pure and bounded: every limit is explicit in [`Limits`], every third-party
//! parser call runs under `catch_unwind`, the time budget is checked between pages and entries,
//! and a hostile file ends as one [`DocProblem`] with a stable code. One file per format
//! family: `pdf`, `ooxml` (docx, pptx), `odf` (odt), `ofd`, `ole` (doc, wps, ppt, dps),
//! `sheets` (xls, et, xlsx, ods), `rtf`, `plain` and `archive` (zip, and the zip reader the
//! XML formats share); `xml` holds the shared quick-xml walker, `sniff` the format decision.

mod archive;
mod odf;
mod ofd;
mod ole;
mod ooxml;
mod pdf;
mod plain;
mod rtf;
mod sheets;
mod sniff;
mod xml;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

pub use sniff::{disposition_file_name, sniff};

/// Formats we recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// PDF (text layer, per page).
    Pdf,
    /// Word 2007+ (OOXML).
    Docx,
    /// Word 97-2003 binary (OLE, `WordDocument` stream).
    Doc,
    /// WPS Office writer: the OLE layout of `.doc`.
    Wps,
    /// WPS Office spreadsheet: the OLE layout of `.xls`.
    Et,
    /// WPS Office presentation: the OLE layout of `.ppt`.
    Dps,
    /// Excel 97-2003 binary (BIFF8 in OLE).
    Xls,
    /// Excel 2007+ (OOXML).
    Xlsx,
    /// OpenDocument spreadsheet.
    Ods,
    /// PowerPoint 97-2003 binary (OLE, `PowerPoint Document` stream).
    Ppt,
    /// PowerPoint 2007+ (OOXML).
    Pptx,
    /// OpenDocument text.
    Odt,
    /// Rich Text Format.
    Rtf,
    /// OFD, China's fixed-layout format (GB/T 33190): a zip of XML pages.
    Ofd,
    /// Plain text or CSV, charset detected.
    Text,
    /// A zip archive, read recursively.
    Zip,
    /// A RAR archive: recognised, not extracted.
    Rar,
    /// A 7z archive: recognised, not extracted.
    SevenZip,
    /// An image (PNG, JPEG, GIF, TIFF, BMP): no text layer, read by OCR when available.
    Image,
}

impl Format {
    /// The stable lower-case name used in reports and problem details (`pdf`, `docx`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Doc => "doc",
            Format::Wps => "wps",
            Format::Et => "et",
            Format::Dps => "dps",
            Format::Xls => "xls",
            Format::Xlsx => "xlsx",
            Format::Ods => "ods",
            Format::Ppt => "ppt",
            Format::Pptx => "pptx",
            Format::Odt => "odt",
            Format::Rtf => "rtf",
            Format::Ofd => "ofd",
            Format::Text => "text",
            Format::Zip => "zip",
            Format::Rar => "rar",
            Format::SevenZip => "7z",
            Format::Image => "image",
        }
    }
}

/// Every bound on the work one document may cause. All explicit; [`Limits::default`] suits
/// a crawl of notice attachments.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest input accepted, in bytes (`too-large` above it).
    pub max_bytes: u64,
    /// Most bytes decompressed from all archive entries and XML parts of one document,
    /// nested archives included (`bomb` above it).
    pub max_total_uncompressed: u64,
    /// Most entries read from one archive (the rest are skipped with a `too-large` problem).
    pub max_entries: usize,
    /// Deepest archive nesting read: 1 reads the entries of a zip, 2 also the entries of a zip
    /// inside it, and so on (`bomb` deeper).
    pub max_depth: usize,
    /// Highest compression ratio accepted for an entry larger than [`Limits::ratio_floor`]
    /// (`bomb` above it).
    pub max_ratio: u64,
    /// Entries whose uncompressed size is at most this are exempt from the ratio check (small
    /// XML parts compress very well and are harmless).
    pub ratio_floor: u64,
    /// Most PDF pages or slides read (a `too-large` problem notes the rest).
    pub max_pages: usize,
    /// Most text produced for one document, in bytes (a `too-large` problem notes the cut).
    pub max_text_bytes: usize,
    /// Wall-clock budget for one document, checked between pages and entries (`timeout`).
    pub time_budget: Duration,
    /// OCR for images and pages without a text layer (`None`: they stay `needs-ocr`).
    pub ocr: Option<std::sync::Arc<crate::ocr::Ocr>>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 64 * 1024 * 1024,
            max_total_uncompressed: 256 * 1024 * 1024,
            max_entries: 2000,
            max_depth: 3,
            max_ratio: 200,
            ratio_floor: 1024 * 1024,
            max_pages: 2000,
            max_text_bytes: 16 * 1024 * 1024,
            time_budget: Duration::from_secs(30),
            ocr: None,
        }
    }
}

/// A piece of a document's text with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Stable English location key: `page 3`, `sheet 成绩表!B4`, `slide 2`, `body`,
    /// `archive 附件/通知.docx › page 1`.
    pub location: String,
    /// The text as a reader sees it (text runs rejoined, lines separated by `\n`).
    pub text: String,
}

/// What a document yielded.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// The format that was read.
    pub format: Format,
    /// The text, in document order.
    pub segments: Vec<Segment>,
    /// Problems with parts of the document (archive entries, pages, the text cap) that did not
    /// stop the rest from being read.
    pub problems: Vec<DocProblem>,
}

/// Why a document or part of one could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocProblem {
    /// Where: empty for the whole document, else a location key as in [`Segment::location`].
    pub location: String,
    /// Stable code: `encrypted`, `corrupt`, `unsupported`, `needs-ocr`, `ocr-uncertain`,
    /// `too-large`, `bomb`, `timeout` or `panic`.
    pub code: &'static str,
    /// Precise reason for a person, e.g. "PDF is password-protected".
    pub detail: String,
}

impl DocProblem {
    /// A problem at `location` (empty for the whole document).
    pub fn new(location: impl Into<String>, code: &'static str, detail: impl Into<String>) -> Self {
        DocProblem {
            location: location.into(),
            code,
            detail: detail.into(),
        }
    }

    /// The same problem with `prefix › ` put before its location.
    #[must_use]
    pub fn within(mut self, prefix: &str) -> Self {
        self.location = join_location(prefix, &self.location);
        self
    }
}

impl std::fmt::Display for DocProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}", self.code, self.detail)
        } else {
            write!(f, "{} at {}: {}", self.code, self.location, self.detail)
        }
    }
}

impl std::error::Error for DocProblem {}

/// Extracts the text of a document whose format [`sniff`] decided. Never panics and never
/// runs much past `limits.time_budget` between two checks; a hostile or unreadable document is
/// an `Err` with one [`DocProblem`], a partly readable one is `Ok` with `problems`.
pub fn extract(bytes: &[u8], format: Format, limits: &Limits) -> Result<Extracted, DocProblem> {
    let ctx = Ctx::new(limits);
    let segments = ctx.extract_nested(bytes, format, 0)?;
    let (segments, problems) = segments.finish();
    Ok(Extracted {
        format,
        segments,
        problems,
    })
}

/// The running state of one [`extract`] call, shared by nested entries.
pub(crate) struct Ctx<'a> {
    /// The caller's limits.
    pub limits: &'a Limits,
    /// When the time budget runs out.
    deadline: Instant,
    /// Bytes decompressed so far (all archives and parts).
    pub uncompressed: std::cell::Cell<u64>,
}

impl<'a> Ctx<'a> {
    fn new(limits: &'a Limits) -> Self {
        Ctx {
            limits,
            deadline: Instant::now() + limits.time_budget,
            uncompressed: std::cell::Cell::new(0),
        }
    }

    /// `timeout` once the budget is spent.
    pub fn check_time(&self, location: &str) -> Result<(), DocProblem> {
        if Instant::now() >= self.deadline {
            return Err(DocProblem::new(
                location,
                "timeout",
                format!(
                    "time budget of {:?} spent before the document was read",
                    self.limits.time_budget
                ),
            ));
        }
        Ok(())
    }

    /// Extracts one document (or an archive entry at `depth` levels of nesting), guarding the
    /// parser with `catch_unwind`.
    pub fn extract_nested(
        &self,
        bytes: &[u8],
        format: Format,
        depth: usize,
    ) -> Result<Sink, DocProblem> {
        if bytes.len() as u64 > self.limits.max_bytes {
            return Err(DocProblem::new(
                "",
                "too-large",
                format!(
                    "{} is {} bytes, over the {}-byte limit",
                    format.as_str().to_uppercase(),
                    bytes.len(),
                    self.limits.max_bytes
                ),
            ));
        }
        self.check_time("")?;
        let mut sink = Sink::new(self.limits.max_text_bytes);
        let run = catch_unwind(AssertUnwindSafe(|| {
            self.dispatch(bytes, format, depth, &mut sink)
        }));
        match run {
            Ok(Ok(())) => Ok(sink),
            Ok(Err(p)) => {
                // A document that yielded text before failing keeps the text.
                if sink.segments.is_empty() {
                    Err(p)
                } else {
                    sink.problems.push(p);
                    Ok(sink)
                }
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string());
                Err(DocProblem::new(
                    "",
                    "panic",
                    format!("{} parser panicked: {what}", format.as_str().to_uppercase()),
                ))
            }
        }
    }

    fn dispatch(
        &self,
        bytes: &[u8],
        format: Format,
        depth: usize,
        sink: &mut Sink,
    ) -> Result<(), DocProblem> {
        match format {
            Format::Pdf => pdf::extract(self, bytes, sink),
            Format::Docx => ooxml::extract_docx(self, bytes, sink),
            Format::Pptx => ooxml::extract_pptx(self, bytes, sink),
            Format::Odt => odf::extract_odt(self, bytes, sink),
            Format::Ofd => ofd::extract(self, bytes, sink),
            Format::Doc | Format::Wps => ole::extract_doc(self, bytes, format, sink),
            Format::Ppt | Format::Dps => ole::extract_ppt(self, bytes, format, sink),
            Format::Xls | Format::Et | Format::Xlsx | Format::Ods => {
                sheets::extract(self, bytes, format, sink)
            }
            Format::Rtf => rtf::extract(self, bytes, sink),
            Format::Text => {
                plain::extract(bytes, sink);
                Ok(())
            }
            Format::Zip => archive::extract(self, bytes, depth, sink),
            Format::Image => Err(DocProblem::new(
                "",
                "needs-ocr",
                "an image has no text layer",
            )),
            Format::Rar | Format::SevenZip => Err(DocProblem::new(
                "",
                "unsupported",
                format!(
                    "{} archives are recognised but not extracted",
                    if format == Format::Rar { "RAR" } else { "7z" }
                ),
            )),
        }
    }
}

/// Collects segments up to the output cap.
pub(crate) struct Sink {
    segments: Vec<Segment>,
    problems: Vec<DocProblem>,
    bytes: usize,
    max: usize,
    full: bool,
}

impl Sink {
    fn new(max: usize) -> Self {
        Sink {
            segments: Vec::new(),
            problems: Vec::new(),
            bytes: 0,
            max,
            full: false,
        }
    }

    /// Adds a segment unless its text is blank; past the output cap the text is cut (at a
    /// character boundary) and one `too-large` problem records it.
    pub fn push(&mut self, location: impl Into<String>, text: impl Into<String>) {
        let mut text = text.into();
        if self.full || text.trim().is_empty() {
            return;
        }
        let room = self.max.saturating_sub(self.bytes);
        if text.len() > room {
            let mut cut = room;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            self.full = true;
            self.problems.push(DocProblem::new(
                "",
                "too-large",
                format!("text output capped at {} bytes", self.max),
            ));
        }
        self.bytes += text.len();
        if !text.is_empty() {
            self.segments.push(Segment {
                location: location.into(),
                text,
            });
        }
    }

    /// Records a problem with a part of the document.
    pub fn problem(&mut self, problem: DocProblem) {
        self.problems.push(problem);
    }

    /// True once the output cap was reached: callers may stop reading.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// Moves a nested document's segments and problems into this one under `prefix`.
    pub fn absorb(&mut self, prefix: &str, other: Sink) {
        for s in other.segments {
            self.push(join_location(prefix, &s.location), s.text);
        }
        for p in other.problems {
            self.problems.push(p.within(prefix));
        }
    }

    fn finish(self) -> (Vec<Segment>, Vec<DocProblem>) {
        (self.segments, self.problems)
    }
}

/// `a › b`, or whichever is not empty.
fn join_location(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix} › {rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_caps_output_at_a_char_boundary() {
        let mut sink = Sink::new(7);
        sink.push("page 1", "ab");
        sink.push("page 2", "通知通知");
        sink.push("page 3", "more");
        let (segments, problems) = sink.finish();
        assert_eq!(segments.len(), 2);
        assert_eq!(segments[1].text, "通");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].code, "too-large");
    }

    #[test]
    fn oversized_input_is_one_problem() {
        let limits = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        let err = extract(&[b'a'; 11], Format::Text, &limits).expect_err("too big");
        assert_eq!(err.code, "too-large");
    }

    #[test]
    fn rar_and_7z_are_unsupported() {
        for f in [Format::Rar, Format::SevenZip] {
            let err = extract(b"Rar!\x1a\x07\x00", f, &Limits::default()).expect_err("unsupported");
            assert_eq!(err.code, "unsupported");
        }
    }

    #[test]
    fn locations_join_with_an_arrow() {
        let p = DocProblem::new("page 2", "corrupt", "x").within("archive a.zip");
        assert_eq!(p.location, "archive a.zip › page 2");
        assert_eq!(join_location("", "page 1"), "page 1");
    }
}
