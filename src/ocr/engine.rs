//! Tesseract through leptess: one engine per language and thread (it is not `Sync`), images
//! prepared first with the `image` crate: decoded within a pixel limit, turned gray,
//! contrast stretched, inverted when the text is light on dark, and enlarged when the text
//! is small (Tesseract reads 12–16 px text poorly at its own size).
//!
//! Address text is read several times and the readings are voted on (`super::vote`):
//! Tesseract's errors in a local part (a dropped dot, `5` read as `s`) change with the
//! scale and the model, while the right reading recurs. A web image is read at three
//! enlargements by every usual model; a scanned page is read once, and each of its lines
//! that holds an `@` is cut out and read again at two sizes by every usual model. A line
//! whose usual readings have no majority is read again by the second-opinion models; a web
//! image that shows an `@` is also read once with thin strokes, to check the agreed address
//! for a separator every other reading lost (`super::vote::gap_without_separator`).

use std::cell::RefCell;
use std::io::Cursor;
use std::time::Instant;

use image::{DynamicImage, GrayImage, ImageFormat, imageops::FilterType};
use leptess::LepTess;

use super::{Models, Reading, Readings, Role};

thread_local! {
    static ENGINES: RefCell<Vec<(String, LepTess)>> = const { RefCell::new(Vec::new()) };
}

/// Checks that Tesseract starts with `languages`.
pub(super) fn check(languages: &str) -> Result<(), String> {
    LepTess::new(None, languages).map(|_| ()).map_err(|e| {
        format!(
            "Tesseract cannot load the language data {languages:?} ({e}); install it with `apt-get install tesseract-ocr tesseract-ocr-eng`"
        )
    })
}

/// Tesseract's page segmentation: a whole page, or one line of text.
#[derive(Clone, Copy)]
enum Layout {
    Page,
    Line,
}

/// Reads one image. `dpi` is the resolution of a rasterised page (`None` for a web image,
/// whose text size decides the scaling). `languages[0]` reads pages; every entry reads
/// address images and address lines. Past `deadline` no further reading starts (one
/// reading is always made; Tesseract cannot be stopped inside one, `max_pixels` bounds it).
pub(super) fn recognise(
    bytes: &[u8],
    languages: &Models<'_>,
    dpi: Option<u32>,
    max_pixels: u64,
    deadline: Instant,
) -> Result<Readings, String> {
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("unreadable image: {e}"))?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| format!("unreadable image: {e}"))?;
    if u64::from(w) * u64::from(h) > max_pixels {
        return Err(format!(
            "image of {w}×{h} pixels is over ocr.max_pixels ({max_pixels})"
        ));
    }
    let img = image::load_from_memory(bytes).map_err(|e| format!("unreadable image: {e}"))?;
    match dpi {
        None => web_image(&img, languages, deadline),
        Some(dpi) => page(&img, languages, dpi, deadline),
    }
}

/// A web image: one line, read at ×2, ×3 and ×4 (sharpened) by every usual model, and
/// by the second-opinion models too when those readings disagree. When a reading holds an
/// `@`, also read once with thin strokes (`thinned`) by the first model, to check the agreed
/// address for a lost separator.
fn web_image(
    img: &DynamicImage,
    languages: &Models<'_>,
    deadline: Instant,
) -> Result<Readings, String> {
    let gray = stretched(img);
    let mut readings = Vec::new();
    let mut cut_short = false;
    let mut pngs = Vec::new();
    // Small images (one or two lines) are enlarged `scale` times; larger ones less.
    let factor = |scale: u32| match gray.height() {
        0..=100 => scale,
        101..=300 => scale.div_ceil(2),
        _ => 1,
    };
    for scale in [2u32, 3, 4] {
        if !readings.is_empty() && Instant::now() >= deadline {
            cut_short = true;
            break;
        }
        let prepared = framed(&image::imageops::unsharpen(
            &resized(&gray, factor(scale) * 100),
            1.0,
            0,
        ));
        let png = encode(&prepared)?;
        for lang in languages.usual {
            if !readings.is_empty() && Instant::now() >= deadline {
                cut_short = true;
                break;
            }
            readings.push(read(&png, lang, Layout::Line, None)?.0);
        }
        pngs.push(png);
    }
    cut_short |= second_opinions(&mut readings, &pngs, languages, None, deadline)?;
    // The check matters only for an address the readings may agree on.
    let any_address = readings
        .iter()
        .any(|r| r.text.contains('@') || r.text.contains('＠'));
    if let Some(lang) = languages.usual.first().filter(|_| any_address) {
        if Instant::now() >= deadline {
            cut_short = true;
        } else {
            let png = encode(&framed(&thinned(&resized(&gray, factor(3) * 100))))?;
            let mut r = read(&png, lang, Layout::Line, None)?.0;
            r.role = Role::Thin;
            readings.push(r);
        }
    }
    Ok(Readings {
        page: None,
        lines: vec![readings],
        cut_short,
    })
}

/// A scanned page: read whole; each address on it (the words around an `@`) is also cut out
/// and read again on its own: the label before it (联系邮箱：) changes how Tesseract reads
/// the address when both are read as one line.
fn page(
    img: &DynamicImage,
    languages: &Models<'_>,
    dpi: u32,
    deadline: Instant,
) -> Result<Readings, String> {
    let gray = stretched(img);
    let png = encode(&gray)?;
    let main = languages.usual.first().map_or("eng", String::as_str);
    let (whole, tsv) = read(&png, main, Layout::Page, Some(dpi))?;
    let mut text = String::new();
    let mut groups = Vec::new();
    let mut cut_short = false;
    for line in tsv_lines(&tsv) {
        let spans = address_spans(&line.words);
        if spans.is_empty() {
            text.push_str(&line.text());
            text.push('\n');
            continue;
        }
        for (first, last) in spans {
            let words = &line.words[first..=last];
            let span = Word::union(words);
            let mut group = vec![Reading {
                text: join_words(words),
                confidence: span.confidence,
                role: Role::Usual,
            }];
            let mut pngs = Vec::new();
            let crop = crop(&gray, &span);
            // Tesseract reads lines best at 30–90 px: small lines are doubled.
            let sizes: [u32; 2] = if span.height < 40 {
                [100, 200]
            } else {
                [100, 150]
            };
            for pct in sizes {
                // Out of time: the page's own reading of the address stands alone.
                if Instant::now() >= deadline {
                    cut_short = true;
                    break;
                }
                let png = encode(&framed(&resized(&crop, pct)))?;
                for lang in languages.usual {
                    group.push(read(&png, lang, Layout::Line, Some(dpi))?.0);
                }
                pngs.push(png);
            }
            cut_short |= second_opinions(&mut group, &pngs, languages, Some(dpi), deadline)?;
            groups.push(group);
        }
    }
    Ok(Readings {
        page: Some(Reading {
            text,
            confidence: whole.confidence,
            role: Role::Usual,
        }),
        lines: groups,
        cut_short,
    })
}

/// When the readings of a line are not decided, the same prepared images read by each
/// second-opinion model (until `deadline`); true when the deadline cut them short.
fn second_opinions(
    readings: &mut Vec<Reading>,
    pngs: &[Vec<u8>],
    languages: &Models<'_>,
    dpi: Option<u32>,
    deadline: Instant,
) -> Result<bool, String> {
    if languages.second.is_empty() || (languages.decided)(readings) {
        return Ok(false);
    }
    for png in pngs {
        for lang in languages.second {
            if Instant::now() >= deadline {
                return Ok(true);
            }
            let mut r = read(png, lang, Layout::Line, dpi)?.0;
            r.role = Role::SecondOpinion;
            readings.push(r);
        }
    }
    Ok(false)
}

/// The words of each address on a line: a word with an `@`, with the word before it when
/// that looks like the first half of a local part split at a misread separator
/// (`wang fang50@163.com`), and the words after it while the address goes on
/// (`ma.qiang47 @sina.com`).
fn address_spans(words: &[Word]) -> Vec<(usize, usize)> {
    let local_like = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    };
    let address_like = |w: &str| {
        w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    };
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (k, w) in words.iter().enumerate() {
        if !(w.text.contains('@') || w.text.contains('＠')) {
            continue;
        }
        if spans.last().is_some_and(|(_, last)| *last >= k) {
            continue;
        }
        let first = if k > 0 && local_like(&words[k - 1].text) && !w.text.starts_with('@') {
            k - 1
        } else {
            k
        };
        let mut last = k;
        while let Some(next) = words.get(last + 1) {
            let here = &words[last].text;
            let joins = here.ends_with(['@', '.']) || next.text.starts_with(['@', '.']);
            if !(joins && address_like(&next.text)) {
                break;
            }
            last += 1;
        }
        let first = if words[k].text.starts_with('@') && k > 0 {
            k - 1
        } else {
            first
        };
        // Never a word of the address before.
        let first = match spans.last() {
            Some((_, prev)) if first <= *prev => k,
            _ => first,
        };
        spans.push((first, last));
    }
    spans
}

/// Words joined with a space, except between two non-ASCII words (Chinese).
fn join_words(words: &[Word]) -> String {
    let mut out = String::new();
    for w in words {
        let ascii_join = out.chars().last().is_some_and(|c| c.is_ascii())
            || w.text.chars().next().is_some_and(|c| c.is_ascii());
        if !out.is_empty() && ascii_join {
            out.push(' ');
        }
        out.push_str(&w.text);
    }
    out
}

/// Reads a PNG with the engine for `lang`; also returns Tesseract's TSV for pages.
fn read(
    png: &[u8],
    lang: &str,
    layout: Layout,
    dpi: Option<u32>,
) -> Result<(Reading, String), String> {
    ENGINES.with(|cell| {
        let mut engines = cell.borrow_mut();
        let i = if let Some(i) = engines.iter().position(|(l, _)| l == lang) {
            i
        } else {
            let engine =
                LepTess::new(None, lang).map_err(|e| format!("Tesseract ({lang}): {e}"))?;
            engines.push((lang.to_string(), engine));
            engines.len() - 1
        };
        let Some((_, engine)) = engines.get_mut(i) else {
            return Err("Tesseract did not start".to_string());
        };
        engine
            .set_image_from_mem(png)
            .map_err(|e| format!("Tesseract cannot read the image: {e}"))?;
        engine.set_source_resolution(i32::try_from(dpi.unwrap_or(300)).unwrap_or(300));
        let mode = match layout {
            Layout::Page => "3",
            Layout::Line => "7",
        };
        engine
            .set_variable(leptess::Variable::TesseditPagesegMode, mode)
            .map_err(|_| "Tesseract refused its page segmentation mode".to_string())?;
        let text = engine
            .get_utf8_text()
            .map_err(|e| format!("Tesseract returned invalid text: {e}"))?;
        let confidence = u8::try_from(engine.mean_text_conf().clamp(0, 100)).unwrap_or(0);
        let tsv = match layout {
            Layout::Page => engine
                .get_tsv_text(0)
                .map_err(|e| format!("Tesseract returned invalid text: {e}"))?,
            Layout::Line => String::new(),
        };
        Ok((
            Reading {
                text,
                confidence,
                role: Role::Usual,
            },
            tsv,
        ))
    })
}

/// A word of a page as Tesseract laid it out, with its box and confidence.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    text: String,
    confidence: u8,
    left: u32,
    top: u32,
    width: u32,
    height: u32,
}

impl Word {
    /// The box around `words`, their mean confidence (the text is left empty).
    fn union(words: &[Word]) -> Word {
        let left = words.iter().map(|w| w.left).min().unwrap_or(0);
        let top = words.iter().map(|w| w.top).min().unwrap_or(0);
        let right = words.iter().map(|w| w.left + w.width).max().unwrap_or(0);
        let bottom = words.iter().map(|w| w.top + w.height).max().unwrap_or(0);
        let sum: u32 = words.iter().map(|w| u32::from(w.confidence)).sum();
        let n = u32::try_from(words.len()).unwrap_or(1).max(1);
        Word {
            text: String::new(),
            confidence: u8::try_from(sum / n).unwrap_or(100),
            left,
            top,
            width: right - left,
            height: bottom - top,
        }
    }
}

/// A line of a page: its words in reading order.
#[derive(Debug, PartialEq, Eq)]
struct Line {
    words: Vec<Word>,
}

impl Line {
    fn text(&self) -> String {
        join_words(&self.words)
    }
}

/// The lines of Tesseract's TSV (level 5 rows are words with their boxes), in reading order.
fn tsv_lines(tsv: &str) -> Vec<Line> {
    let mut lines: Vec<((u32, u32, u32, u32), Line)> = Vec::new();
    for row in tsv.lines() {
        let f: Vec<&str> = row.split('\t').collect();
        let [
            level,
            page,
            block,
            par,
            line,
            _word,
            left,
            top,
            width,
            height,
            conf,
            text,
        ] = f.as_slice()
        else {
            continue;
        };
        let num = |s: &str| s.trim().parse::<u32>().ok();
        if *level != "5" || text.trim().is_empty() {
            continue;
        }
        let (Some(p), Some(b), Some(pa), Some(li)) = (num(page), num(block), num(par), num(line))
        else {
            continue;
        };
        let (Some(left), Some(top), Some(width), Some(height)) =
            (num(left), num(top), num(width), num(height))
        else {
            continue;
        };
        // Confidence of a word, 0–100.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let confidence = conf.trim().parse::<f32>().unwrap_or(0.0).clamp(0.0, 100.0) as u8;
        let word = Word {
            text: text.trim().to_string(),
            confidence,
            left,
            top,
            width,
            height,
        };
        let key = (p, b, pa, li);
        match lines.last_mut() {
            Some((k, line)) if *k == key => line.words.push(word),
            _ => lines.push((key, Line { words: vec![word] })),
        }
    }
    lines.into_iter().map(|(_, line)| line).collect()
}

/// `line` (a box) cut out of the page, with a margin of a third of its height at the sides
/// and a fifth above and below (more would take in the label before it and parts of the
/// neighbouring lines).
fn crop(page: &GrayImage, line: &Word) -> GrayImage {
    let (mx, my) = (line.height / 3 + 2, line.height / 5 + 2);
    let x = line.left.saturating_sub(mx);
    let y = line.top.saturating_sub(my);
    let w = (line.width + 2 * mx).min(page.width().saturating_sub(x));
    let h = (line.height + 2 * my).min(page.height().saturating_sub(y));
    image::imageops::crop_imm(page, x, y, w, h).to_image()
}

/// `gray` as PNG bytes, the form leptess takes.
fn encode(gray: &GrayImage) -> Result<Vec<u8>, String> {
    let mut png = Vec::new();
    gray.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| format!("cannot prepare the image: {e}"))?;
    Ok(png)
}

/// Gray, contrast stretched, dark text on light.
fn stretched(img: &DynamicImage) -> GrayImage {
    let mut g = img.to_luma8();
    let (lo, hi) = g
        .pixels()
        .fold((255u8, 0u8), |(lo, hi), p| (lo.min(p.0[0]), hi.max(p.0[0])));
    if hi > lo {
        let span = f32::from(hi - lo);
        for p in g.pixels_mut() {
            let v = (f32::from(p.0[0] - lo) * 255.0 / span).round();
            // In 0..=255 by construction.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            {
                p.0[0] = v as u8;
            }
        }
    }
    let mean = g.pixels().map(|p| u64::from(p.0[0])).sum::<u64>()
        / u64::from(g.width() * g.height()).max(1);
    if mean < 128 {
        image::imageops::invert(&mut g);
    }
    g
}

/// `g` at `pct` percent of its size.
fn resized(g: &GrayImage, pct: u32) -> GrayImage {
    if pct == 100 {
        return g.clone();
    }
    let w = (g.width() * pct / 100).max(1);
    let h = (g.height() * pct / 100).max(1);
    image::imageops::resize(g, w, h, FilterType::CatmullRom)
}

/// Only the darkest pixels kept, as black on white: strokes get thinner, and a dot drawn so
/// close to the letter before it that the grey edges join them (`ma.qiang` at 14 px) comes
/// apart from it again. Tesseract then still drops the dot (it is small), but reads a gap
/// there: the words before the `@` are split where the separator was.
fn thinned(g: &GrayImage) -> GrayImage {
    let mut out = g.clone();
    for p in out.pixels_mut() {
        p.0[0] = if p.0[0] < THIN_DARK { 0 } else { 255 };
    }
    out
}

/// Pixels darker than this are ink in `thinned` (text is black and background white after
/// `stretched`).
const THIN_DARK: u8 = 96;

/// A white margin: Tesseract finds text that touches the edges poorly.
fn framed(g: &GrayImage) -> GrayImage {
    let mut out = GrayImage::from_pixel(g.width() + 40, g.height() + 40, image::Luma([255]));
    image::imageops::overlay(&mut out, g, 20, 20);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, left: u32) -> Word {
        Word {
            text: text.to_string(),
            confidence: 90,
            left,
            top: 10,
            width: 50,
            height: 40,
        }
    }

    #[test]
    fn tsv_words_make_lines() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
            1\t1\t0\t0\t0\t0\t0\t0\t2480\t3508\t-1\t\n\
            5\t1\t1\t1\t1\t1\t100\t200\t80\t40\t91.5\t联系邮箱\n\
            5\t1\t1\t1\t1\t2\t190\t205\t20\t30\t80\t：\n\
            5\t1\t1\t1\t1\t3\t220\t198\t300\t46\t70\tli.ming@qq.com\n\
            5\t1\t1\t1\t2\t1\t100\t300\t50\t40\t96\tNext\n";
        let lines = tsv_lines(tsv);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text(), "联系邮箱： li.ming@qq.com");
        assert_eq!(lines[1].text(), "Next");
        let u = Word::union(&lines[0].words);
        assert_eq!(
            (u.left, u.top, u.width, u.height, u.confidence),
            (100, 198, 420, 46, 80)
        );
    }

    #[test]
    fn address_spans_take_the_split_parts_of_an_address_but_not_its_label() {
        let spans = |texts: &[&str]| {
            let words: Vec<Word> = texts.iter().map(|t| word(t, 0)).collect();
            address_spans(&words)
        };
        assert_eq!(spans(&["EKA", "ABFA", ":", "zhang60@gmail.com"]), [(3, 3)]);
        assert_eq!(spans(&["联系邮箱：", "wang", "fang50@163.com"]), [(1, 2)]);
        assert_eq!(spans(&["ma.qiang47", "@sina.com", "or"]), [(0, 1)]);
        assert_eq!(spans(&["a@", "qq.com", "b@163.com"]), [(0, 1), (2, 2)]);
        assert!(spans(&["no", "address"]).is_empty());
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/ocr")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn past_the_deadline_no_further_reading_starts() {
        let png = fixture("images/048_20px_dejavu_plain.png");
        let usual = ["eng".to_string(), "eng".to_string()];
        let models = Models {
            usual: &usual,
            second: &[],
            decided: Box::new(|_: &[Reading]| true),
        };
        let r = recognise(&png, &models, None, 40_000_000, Instant::now()).unwrap();
        assert!(r.cut_short);
        assert_eq!(r.lines.len(), 1);
        assert_eq!(r.lines[0].len(), 1, "one reading is always made");
        let later = Instant::now() + std::time::Duration::from_secs(600);
        let r = recognise(&png, &models, None, 40_000_000, later).unwrap();
        assert!(!r.cut_short);
        let usual = r.lines[0].iter().filter(|r| r.role == Role::Usual).count();
        assert_eq!(usual, 6, "three sizes by two models");
        let thin = r.lines[0].iter().filter(|r| r.role == Role::Thin).count();
        assert_eq!(thin, 1, "and the thin-stroke check");
    }

    #[test]
    fn an_image_without_an_at_sign_gets_no_thin_reading() {
        let jpg = fixture("images/photo_no_address.jpg");
        let usual = ["eng".to_string()];
        let models = Models {
            usual: &usual,
            second: &[],
            decided: Box::new(|_: &[Reading]| true),
        };
        let later = Instant::now() + std::time::Duration::from_secs(600);
        let r = recognise(&jpg, &models, None, 40_000_000, later).unwrap();
        assert!(r.lines[0].iter().all(|r| r.role == Role::Usual));
    }

    #[test]
    fn crop_stays_inside_the_page() {
        let page = GrayImage::from_pixel(100, 50, image::Luma([255]));
        let c = crop(&page, &word("", 90));
        assert_eq!(
            (c.width(), c.height()),
            (25, 50),
            "from x 75 to the right edge"
        );
    }
}
