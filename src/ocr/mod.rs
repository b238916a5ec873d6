//! OCR: addresses drawn as images and notices scanned from paper. Tesseract (through leptess)
//! reads images and PDF pages without a text layer (rasterised by `pdftoppm`, `raster.rs`);
//! `correct.rs` fixes OCR confusions in domains where the right domain is known. Built only
//! with the `ocr` cargo feature (`engine.rs`); without it, or without Tesseract's language
//! data, mailpatrol says once that OCR is unavailable and every image or scan stays a
//! `needs-ocr` problem in `errors.csv`.
//!
//! Cost bounds: `ocr.max_pixels` per image (Tesseract cannot be interrupted inside one
//! reading, so the pixel bound is what bounds a reading's time), `ocr.image_timeout_secs`
//! per image or page (rasterising, then no further reading starts once it has run out),
//! `ocr.max_images` per run; identical bytes are read once (the store caches extractions by
//! content hash).

mod correct;
#[cfg(feature = "ocr")]
mod engine;
mod raster;
mod vote;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use correct::{correct_domain, join_spaced, zero_among_digits};

use crate::extract::find_addresses;
use crate::model::{Email, EmailCandidate, Source};
use crate::profile::{Mode, OcrSettings};

/// What OCR read from one image or page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The text, lines separated by `\n`.
    pub text: String,
    /// Tesseract's mean word confidence, 0–100.
    pub confidence: u8,
    /// What the reading is for.
    pub role: Role,
}

/// What a reading of an address line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A page, or a reading of an address line by a usual model: voted on.
    Usual,
    /// Read by a second-opinion model (`ocr.second_opinion_languages`), only because the usual readings of
    /// the line disagreed: voted on with them.
    SecondOpinion,
    /// Read with thin strokes: not voted on, but the agreed address is checked against it
    /// for a separator the other readings lost (`vote::gap_without_separator`).
    Thin,
}

/// What OCR read from one image or page: the page's text outside address lines, and the
/// readings of each address line (a web image is one line), to be voted on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readings {
    /// The text of a page, without the lines in `lines`.
    pub page: Option<Reading>,
    /// For each line that may hold an address: every reading of it.
    pub lines: Vec<Vec<Reading>>,
    /// `ocr.image_timeout_secs` ran out before every reading was made.
    pub cut_short: bool,
}

/// The OCR engine of a run (shared by every reader thread).
#[derive(Debug)]
pub struct Ocr {
    settings: OcrSettings,
    /// Domains a misread domain may be corrected to: the institution's and webmail's.
    known: Vec<String>,
    /// `languages` first, then the installed `vote_languages`.
    models: Vec<String>,
    /// The installed `ocr.second_opinion_languages` not in `models`; none when `models`
    /// is one model (`ocr.vote_languages = []`: readings are not voted on by several).
    second: Vec<String>,
    /// Why OCR cannot run, if it cannot.
    unavailable: Option<String>,
    warned: AtomicBool,
    read: AtomicU32,
}

impl Ocr {
    /// The engine for `settings` (`None` when OCR is off: `mode = never`). `known` are the
    /// domains misread domains are corrected to.
    #[must_use]
    pub fn new(settings: &OcrSettings, known: Vec<String>) -> Option<Arc<Ocr>> {
        if settings.mode == Mode::Never && settings.hosts.values().all(|m| *m == Mode::Never) {
            return None;
        }
        let unavailable = availability(&settings.languages).err();
        let mut models = vec![settings.languages.clone()];
        if unavailable.is_none() {
            for l in &settings.vote_languages {
                match availability(l) {
                    Ok(()) if !models.contains(l) => models.push(l.clone()),
                    Ok(()) => {}
                    Err(_) => tracing::warn!(
                        "OCR: the Tesseract model {l:?} of ocr.vote_languages is not installed, so address images are read with {:?} only and less accurately; install it (for \"Latin\": `apt-get install tesseract-ocr-script-latn`) or set ocr.vote_languages = []",
                        settings.languages
                    ),
                }
            }
        }
        let second = if unavailable.is_none() && models.len() > 1 {
            settings
                .second_opinion_languages
                .iter()
                .filter(|l| !models.contains(l) && availability(l).is_ok())
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        Some(Arc::new(Ocr {
            settings: settings.clone(),
            known: known.into_iter().map(|d| d.to_ascii_lowercase()).collect(),
            models,
            second,
            unavailable,
            warned: AtomicBool::new(false),
            read: AtomicU32::new(0),
        }))
    }

    /// Why OCR cannot run here, said once in the log; `None` when it can.
    pub fn unavailable(&self) -> Option<&str> {
        let why = self.unavailable.as_deref()?;
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "OCR is unavailable: {why}; images and scans are listed as needs-ocr in errors.csv"
            );
        }
        Some(why)
    }

    /// The mode for images on `host`.
    #[must_use]
    pub fn mode_for(&self, host: &str) -> Mode {
        self.settings.mode_for(host)
    }

    /// Images and pages read so far.
    pub fn pages_read(&self) -> u32 {
        self.read.load(Ordering::Relaxed)
    }

    /// Counts one image or page against `ocr.max_images`.
    fn take(&self) -> Result<(), String> {
        if self.read.fetch_add(1, Ordering::Relaxed) >= self.settings.max_images {
            self.read.fetch_sub(1, Ordering::Relaxed);
            return Err(format!(
                "OCR limit reached: ocr.max_images ({}) images and pages were read in this run",
                self.settings.max_images
            ));
        }
        Ok(())
    }

    /// Reads an image (a web image or an uploaded photo or scan).
    pub fn image(&self, bytes: &[u8]) -> Result<Readings, String> {
        if let Some(why) = self.unavailable() {
            return Err(why.to_string());
        }
        self.take()?;
        recognise(
            bytes,
            &self.models_for_run(),
            None,
            self.settings.max_pixels,
            Instant::now() + self.budget(),
        )
    }

    /// The models and the test that decides whether a line needs second opinions.
    fn models_for_run(&self) -> Models<'_> {
        Models {
            usual: &self.models,
            second: &self.second,
            decided: Box::new(|line: &[Reading]| {
                let usual: Vec<(u8, Vec<EmailCandidate>)> = line
                    .iter()
                    .filter(|r| r.role == Role::Usual)
                    .map(|r| (r.confidence, self.read_candidates(r, "")))
                    .collect();
                !vote::needs_second_opinion(&usual)
            }),
        }
    }

    /// The vote on the readings of one line (`vote::vote_with_second_opinions`); an agreed
    /// address that a thin-stroke reading shows with a gap where it has no separator is
    /// not kept but reported (`vote::gap_without_separator`).
    fn vote(&self, line: &[Reading], location: &str) -> (Vec<EmailCandidate>, Option<String>) {
        let read = |role: Role| -> Vec<(u8, Vec<EmailCandidate>)> {
            line.iter()
                .filter(|r| r.role == role)
                .map(|r| (r.confidence, self.read_candidates(r, location)))
                .collect()
        };
        let (agreed, mut doubt) =
            vote::vote_with_second_opinions(read(Role::Usual), read(Role::SecondOpinion));
        let thin: Vec<String> = line
            .iter()
            .filter(|r| r.role == Role::Thin)
            .map(|r| zero_among_digits(&join_spaced(&r.text)))
            .collect();
        let mut kept = Vec::with_capacity(agreed.len());
        for c in agreed {
            let address = c.address.to_string();
            match thin
                .iter()
                .find_map(|t| vote::gap_without_separator(&address, t))
            {
                Some(split) => {
                    let note = format!(
                        "OCR readings agree on {address}, but a reading with thinner strokes shows a gap in it ({split}) where a separator may have been lost; check the image by eye"
                    );
                    doubt = Some(match doubt {
                        Some(d) => format!("{d}; {note}"),
                        None => note,
                    });
                }
                None => kept.push(c),
            }
        }
        (kept, doubt)
    }

    /// Time for one image or page: `ocr.image_timeout_secs`.
    fn budget(&self) -> Duration {
        Duration::from_secs(self.settings.image_timeout_secs.max(1))
    }

    /// Reads page `page` (1-based) of a PDF without a text layer, rasterised at `ocr.dpi`.
    pub fn pdf_page(&self, pdf: &[u8], page: u32) -> Result<Readings, String> {
        if let Some(why) = self.unavailable() {
            return Err(why.to_string());
        }
        self.take()?;
        let deadline = Instant::now() + self.budget();
        let png = raster::page_png(pdf, page, self.settings.dpi, self.budget())?;
        recognise(
            &png,
            &self.models_for_run(),
            Some(self.settings.dpi),
            self.settings.max_pixels,
            deadline,
        )
    }

    /// The addresses in what OCR read: those of the page's text, and for each address line
    /// those most of its readings agree on (`vote`). Also returns a sentence for each line
    /// whose readings disagree, so that a person checks it (the caller adds `location`).
    #[must_use]
    pub fn candidates(
        &self,
        readings: &Readings,
        location: &str,
    ) -> (Vec<EmailCandidate>, Vec<String>) {
        let mut found = readings
            .page
            .as_ref()
            .map(|r| self.read_candidates(r, location))
            .unwrap_or_default();
        let mut doubts = Vec::new();
        if readings.cut_short {
            doubts.push(format!(
                "read fewer times than usual: ocr.image_timeout_secs ({} s) ran out, so its addresses rest on fewer OCR readings; raise it for surer readings",
                self.settings.image_timeout_secs
            ));
        }
        for line in &readings.lines {
            tracing::debug!(
                "OCR readings of an address at {location}: {:?}",
                line.iter().map(|r| r.text.trim()).collect::<Vec<_>>()
            );
            let (agreed, doubt) = self.vote(line, location);
            found.extend(agreed);
            doubts.extend(doubt);
        }
        (found, doubts)
    }

    /// The addresses in one reading: spaces around `@` and `.` joined, a misread domain
    /// near exactly one known domain corrected; each marked as read by OCR, with its
    /// confidence and, when corrected, the raw reading.
    fn read_candidates(&self, reading: &Reading, location: &str) -> Vec<EmailCandidate> {
        let joined = zero_among_digits(&join_spaced(&reading.text));
        let (text, fixes) = self.correct(&joined);
        find_addresses(&text)
            .into_iter()
            .map(|mut c| {
                let address = c.address.to_string();
                let fix = fixes.iter().find(|(_, fixed)| *fixed == address);
                c.evidence = Some(match fix {
                    Some((raw, _)) => {
                        c.raw.clone_from(raw);
                        format!("OCR {}%; read as {raw}, corrected", reading.confidence)
                    }
                    None => format!("OCR {}%", reading.confidence),
                });
                c.source = Source::Ocr;
                c.location = Some(location.to_string());
                c
            })
            .collect()
    }

    /// `text` with misread domains after `@` corrected, and the (raw, corrected) addresses.
    fn correct(&self, text: &str) -> (String, Vec<(String, String)>) {
        static ADDRESS: std::sync::LazyLock<Option<regex::Regex>> =
            std::sync::LazyLock::new(|| {
                regex::Regex::new(r"([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)").ok()
            });
        let Some(re) = ADDRESS.as_ref() else {
            return (text.to_string(), Vec::new());
        };
        let mut fixes = Vec::new();
        let out = re.replace_all(text, |c: &regex::Captures<'_>| {
            let (local, domain) = (&c[1], &c[2]);
            match correct_domain(domain, &self.known) {
                Some(good) if Email::parse(&format!("{local}@{good}")).is_some() => {
                    let fixed = format!("{local}@{good}").to_ascii_lowercase();
                    fixes.push((c[0].to_string(), fixed.clone()));
                    fixed
                }
                _ => c[0].to_string(),
            }
        });
        (out.into_owned(), fixes)
    }
}

#[cfg(feature = "ocr")]
fn availability(languages: &str) -> Result<(), String> {
    engine::check(languages)
}

#[cfg(not(feature = "ocr"))]
fn availability(_languages: &str) -> Result<(), String> {
    Err("this mailpatrol was built without OCR: install `apt-get install libtesseract-dev libleptonica-dev clang tesseract-ocr-eng tesseract-ocr-script-latn poppler-utils` and rebuild with `cargo build --release --features ocr`".to_string())
}

/// The models that read address lines: the usual ones read every line; the second-opinion
/// ones only the lines whose usual readings are not `decided`.
#[cfg_attr(not(feature = "ocr"), allow(dead_code))]
struct Models<'a> {
    usual: &'a [String],
    second: &'a [String],
    decided: Decided<'a>,
}

/// Whether the usual readings of a line settle it (no second opinion needed).
type Decided<'a> = Box<dyn Fn(&[Reading]) -> bool + 'a>;

#[cfg(feature = "ocr")]
fn recognise(
    bytes: &[u8],
    languages: &Models<'_>,
    dpi: Option<u32>,
    max_pixels: u64,
    deadline: Instant,
) -> Result<Readings, String> {
    engine::recognise(bytes, languages, dpi, max_pixels, deadline)
}

#[cfg(not(feature = "ocr"))]
fn recognise(
    _: &[u8],
    _: &Models<'_>,
    _: Option<u32>,
    _: u64,
    _: Instant,
) -> Result<Readings, String> {
    Err("built without OCR".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ocr() -> Arc<Ocr> {
        Ocr::new(
            &OcrSettings::default(),
            vec!["qq.com".into(), "163.com".into(), "ustl.edu.cn".into()],
        )
        .expect("auto is on")
    }

    #[test]
    fn candidates_say_ocr_with_confidence_and_corrections() {
        let r = Reading {
            text: "联系 li . ming @ qq.corn 或 zhang@ustl.edu.cn\n".to_string(),
            confidence: 87,
            role: Role::Usual,
        };
        let readings = Readings {
            page: Some(r),
            lines: Vec::new(),
            cut_short: false,
        };
        let (c, doubts) = ocr().candidates(&readings, "page 2");
        assert!(doubts.is_empty());
        let got: Vec<(String, Option<String>, String)> = c
            .iter()
            .map(|c| (c.address.to_string(), c.evidence.clone(), c.raw.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "li.ming@qq.com".to_string(),
                    Some("OCR 87%; read as li.ming@qq.corn, corrected".to_string()),
                    "li.ming@qq.corn".to_string()
                ),
                (
                    "zhang@ustl.edu.cn".to_string(),
                    Some("OCR 87%".to_string()),
                    "zhang@ustl.edu.cn".to_string()
                ),
            ]
        );
        assert!(
            c.iter()
                .all(|c| c.source == Source::Ocr && c.location.as_deref() == Some("page 2"))
        );
    }

    fn line(texts: &[(&str, Role)]) -> Readings {
        Readings {
            page: None,
            lines: vec![
                texts
                    .iter()
                    .map(|(text, role)| Reading {
                        text: (*text).to_string(),
                        confidence: 90,
                        role: *role,
                    })
                    .collect(),
            ],
            cut_short: false,
        }
    }

    #[test]
    fn a_thin_reading_with_a_gap_where_the_address_has_no_separator_puts_it_in_doubt() {
        let usual = ("maqiang35@qq.com", Role::Usual);
        let (c, doubts) = ocr().candidates(
            &line(&[usual, usual, usual, ("ma qiang35 @qq.com", Role::Thin)]),
            "image",
        );
        assert!(c.is_empty(), "{c:?}");
        assert_eq!(doubts.len(), 1);
        assert!(doubts[0].contains("maqiang35@qq.com"), "{doubts:?}");
        assert!(doubts[0].contains("(ma qiang35)"), "{doubts:?}");
        // A thin reading without such a gap (or none at all) leaves the address.
        for thin in ["maqiang35@qq.com", "mag iang35@qq.com", "no address"] {
            let (c, doubts) =
                ocr().candidates(&line(&[usual, usual, usual, (thin, Role::Thin)]), "image");
            assert_eq!(c.len(), 1, "{thin}");
            assert!(doubts.is_empty(), "{doubts:?}");
        }
    }

    #[test]
    fn second_opinions_are_voted_on_with_the_usual_readings() {
        let (c, doubts) = ocr().candidates(
            &line(&[
                ("linua@l63.com", Role::Usual),
                ("lihua@l63.com", Role::Usual),
                ("lihua@163.com", Role::SecondOpinion),
                ("lihua@1l63.com", Role::SecondOpinion),
                ("Hhua@163.com", Role::SecondOpinion),
            ]),
            "image",
        );
        let got: Vec<String> = c.iter().map(|c| c.address.to_string()).collect();
        assert_eq!(got, ["lihua@163.com"], "{doubts:?}");
        assert!(doubts.is_empty());
    }

    #[test]
    fn never_means_no_engine() {
        let s = OcrSettings {
            mode: Mode::Never,
            ..OcrSettings::default()
        };
        assert!(Ocr::new(&s, Vec::new()).is_none());
    }
}
