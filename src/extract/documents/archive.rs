//! Zip archives, read recursively, and the bounded zip reader that docx, pptx, odt and OFD
//! share (crate `zip`).
//!
//! Every entry is checked before it is inflated (declared size against the remaining budget,
//! compression ratio) and read through `take`, so a lying header cannot inflate more than the
//! budget either. Entries are sniffed like downloads and extracted in the same way, one level
//! deeper; a zip nested deeper than [`Limits::max_depth`](super::Limits) is a `bomb` problem
//! for that entry, not for the whole archive.

use std::io::{Cursor, Read};

use super::{Ctx, DocProblem, Sink, sniff};

/// A zip opened from memory with the budget of the current [`Ctx`].
pub(crate) struct Zip<'b> {
    inner: zip::ZipArchive<Cursor<&'b [u8]>>,
    what: &'static str,
}

impl<'b> Zip<'b> {
    /// Opens the central directory; `what` names the format in problem details ("DOCX").
    pub fn open(bytes: &'b [u8], what: &'static str) -> Result<Self, DocProblem> {
        let inner = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
            DocProblem::new(
                "",
                "corrupt",
                format!("{what}: zip container unreadable: {e}"),
            )
        })?;
        Ok(Zip { inner, what })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Entry names in archive order (names that are not valid are skipped).
    pub fn names(&self) -> Vec<String> {
        self.inner
            .file_names()
            .filter_map(Result::ok)
            .map(std::borrow::Cow::into_owned)
            .collect()
    }

    /// Reads an entry by name; `Ok(None)` when it does not exist.
    pub fn read(&mut self, ctx: &Ctx<'_>, name: &str) -> Result<Option<Vec<u8>>, DocProblem> {
        let Some(index) = self.inner.index_for_name(name) else {
            return Ok(None);
        };
        self.read_index(ctx, index, name).map(Some)
    }

    /// Reads entry `index` (named `name` for problems), within the ratio and size budgets.
    pub fn read_index(
        &mut self,
        ctx: &Ctx<'_>,
        index: usize,
        name: &str,
    ) -> Result<Vec<u8>, DocProblem> {
        let what = self.what;
        let limits = ctx.limits;
        let entry = self.inner.by_index(index).map_err(|e| {
            let text = e.to_string();
            if text.contains("assword") || text.contains("ncrypt") {
                DocProblem::new(
                    name,
                    "encrypted",
                    format!("{what}: entry is password-protected"),
                )
            } else {
                DocProblem::new(name, "corrupt", format!("{what}: entry unreadable: {e}"))
            }
        })?;
        if entry.encrypted() {
            return Err(DocProblem::new(
                name,
                "encrypted",
                format!("{what}: entry is password-protected"),
            ));
        }
        let size = entry.size();
        let packed = entry.compressed_size().max(1);
        if size > limits.ratio_floor && size / packed > limits.max_ratio {
            return Err(DocProblem::new(
                name,
                "bomb",
                format!(
                    "{what}: entry inflates {size} bytes from {packed} (ratio {} over the limit of {})",
                    size / packed,
                    limits.max_ratio
                ),
            ));
        }
        let used = ctx.uncompressed.get();
        let room = limits.max_total_uncompressed.saturating_sub(used);
        if size > room {
            return Err(DocProblem::new(
                name,
                "bomb",
                format!(
                    "{what}: entry of {size} bytes would pass the {}-byte total uncompressed limit",
                    limits.max_total_uncompressed
                ),
            ));
        }
        // Read one byte more than declared (and never more than the room left): a header that
        // lies about the size is caught here.
        let cap = size.min(room).saturating_add(1);
        let mut out = Vec::with_capacity(usize::try_from(size.min(1 << 24)).unwrap_or(0));
        entry.take(cap).read_to_end(&mut out).map_err(|e| {
            DocProblem::new(
                name,
                "corrupt",
                format!("{what}: entry does not inflate: {e}"),
            )
        })?;
        ctx.uncompressed.set(used + out.len() as u64);
        if out.len() as u64 > size {
            return Err(DocProblem::new(
                name,
                "bomb",
                format!("{what}: entry inflates past its declared size of {size} bytes"),
            ));
        }
        Ok(out)
    }
}

/// Extracts every entry of a zip archive at nesting `depth` (0 for the document itself).
pub(crate) fn extract(
    ctx: &Ctx<'_>,
    bytes: &[u8],
    depth: usize,
    sink: &mut Sink,
) -> Result<(), DocProblem> {
    let mut zip = Zip::open(bytes, "ZIP")?;
    if depth >= ctx.limits.max_depth {
        return Err(DocProblem::new(
            "",
            "bomb",
            format!(
                "archives nested deeper than {} levels",
                ctx.limits.max_depth
            ),
        ));
    }
    let count = zip.len();
    for index in 0..count {
        if index >= ctx.limits.max_entries {
            sink.problem(DocProblem::new(
                "",
                "too-large",
                format!(
                    "ZIP has {count} entries; only the first {} were read",
                    ctx.limits.max_entries
                ),
            ));
            break;
        }
        if sink.is_full() {
            break;
        }
        let name = zip
            .inner
            .by_index_raw(index)
            .ok()
            .map(|e| (e.name().map(std::borrow::Cow::into_owned).ok(), e.is_dir()));
        let Some((Some(name), is_dir)) = name else {
            sink.problem(DocProblem::new(
                format!("archive #{index}"),
                "corrupt",
                "ZIP: entry name unreadable",
            ));
            continue;
        };
        if is_dir {
            continue;
        }
        let location = format!("archive {name}");
        ctx.check_time(&location)?;
        let data = match zip.read_index(ctx, index, &location) {
            Ok(d) => d,
            Err(p) => {
                let total_spent =
                    p.code == "bomb" && ctx.uncompressed.get() >= ctx.limits.max_total_uncompressed;
                sink.problem(p);
                if total_spent {
                    break;
                }
                continue;
            }
        };
        // Images (logos, photos; OCR reads top-level images and scans only), executables,
        // unknown binaries: nothing a reader sees as text.
        let Some(format) = sniff(&data, Some(&name), None).filter(|f| *f != super::Format::Image)
        else {
            continue;
        };
        match ctx.extract_nested(&data, format, depth + 1) {
            Ok(inner) => sink.absorb(&location, inner),
            Err(p) => {
                let timeout = p.code == "timeout";
                sink.problem(p.within(&location));
                if timeout {
                    break;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::documents::{Format, Limits, extract as extract_doc};
    use std::io::Write;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for (name, data) in entries {
                w.start_file(*name, opts).expect("start");
                w.write_all(data).expect("write");
            }
            w.finish().expect("finish");
        }
        buf.into_inner()
    }

    #[test]
    fn entries_get_archive_locations() {
        let inner = zip_of(&[("b.txt", "邮箱 b@ustl.edu.cn".as_bytes())]);
        let outer = zip_of(&[
            ("a/a.txt", "邮箱 a@ustl.edu.cn".as_bytes()),
            ("in.zip", &inner),
        ]);
        let got = extract_doc(&outer, Format::Zip, &Limits::default()).expect("zip");
        let locs: Vec<_> = got.segments.iter().map(|s| s.location.as_str()).collect();
        assert_eq!(
            locs,
            [
                "archive a/a.txt › text",
                "archive in.zip › archive b.txt › text"
            ]
        );
        assert!(got.problems.is_empty());
    }

    #[test]
    fn too_many_entries_and_depth_are_problems() {
        let z = zip_of(&[("1.txt", b"one"), ("2.txt", b"two"), ("3.txt", b"three")]);
        let limits = Limits {
            max_entries: 2,
            ..Limits::default()
        };
        let got = extract_doc(&z, Format::Zip, &limits).expect("zip");
        assert_eq!(got.segments.len(), 2);
        assert_eq!(got.problems[0].code, "too-large");
        let limits = Limits {
            max_depth: 0,
            ..Limits::default()
        };
        assert_eq!(
            extract_doc(&z, Format::Zip, &limits)
                .expect_err("depth")
                .code,
            "bomb"
        );
    }
}
