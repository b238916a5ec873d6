//! Tesseract through leptess: one engine per thread (it is not `Sync`), images prepared
//! first with the `image` crate: decoded within a pixel limit, turned gray, contrast
//! stretched, inverted when the text is light on dark, and enlarged when the text is small
//! (Tesseract reads 12–16 px text poorly at its own size).

use std::cell::RefCell;
use std::io::Cursor;

use image::{DynamicImage, GrayImage, ImageFormat, imageops::FilterType};
use leptess::LepTess;

use super::Reading;

thread_local! {
    static ENGINE: RefCell<Option<(String, LepTess)>> = const { RefCell::new(None) };
}

/// Checks that Tesseract starts with `languages`.
pub(super) fn check(languages: &str) -> Result<(), String> {
    LepTess::new(None, languages).map(|_| ()).map_err(|e| {
        format!(
            "Tesseract cannot load the language data {languages:?} ({e}); install it with `apt-get install tesseract-ocr tesseract-ocr-eng`"
        )
    })
}

/// Reads the text of one image. `dpi` is the resolution of a rasterised page (`None` for a
/// web image, whose text size decides the scaling).
pub(super) fn recognise(
    bytes: &[u8],
    languages: &str,
    dpi: Option<u32>,
    max_pixels: u64,
) -> Result<Reading, String> {
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
    // A page is read once at its resolution. A web image is small: it is read at three
    // enlargements, and the address most of them agree on wins (OCR of 12–16 px text
    // changes with the scale; two readings agreeing is much likelier right).
    let scales: &[u32] = if dpi.is_some() { &[1] } else { &[3, 4, 5] };
    let mut readings = Vec::new();
    for &scale in scales {
        let gray = prepare(&img, scale, dpi.is_none());
        readings.push(read_gray(gray, languages, dpi)?);
    }
    Ok(vote(readings))
}

/// The reading whose address most readings share (ties: the most confident).
fn vote(mut readings: Vec<Reading>) -> Reading {
    if readings.len() == 1 {
        return readings.remove(0);
    }
    let addresses = |r: &Reading| -> Vec<String> {
        crate::extract::find_addresses(&super::join_spaced(&r.text))
            .into_iter()
            .map(|c| c.address.to_string())
            .collect()
    };
    let sets: Vec<Vec<String>> = readings.iter().map(addresses).collect();
    let agree = |i: usize| -> usize {
        sets.iter()
            .filter(|s| !sets[i].is_empty() && **s == sets[i])
            .count()
    };
    let best = (0..readings.len())
        .max_by_key(|&i| (agree(i), readings[i].confidence))
        .unwrap_or(0);
    readings.swap_remove(best)
}

fn read_gray(gray: GrayImage, languages: &str, dpi: Option<u32>) -> Result<Reading, String> {
    let mut png = Vec::new();
    DynamicImage::ImageLuma8(gray)
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| format!("cannot prepare the image: {e}"))?;
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| l != languages) {
            let engine = LepTess::new(None, languages).map_err(|e| format!("Tesseract: {e}"))?;
            *slot = Some((languages.to_string(), engine));
        }
        let Some((_, engine)) = slot.as_mut() else {
            return Err("Tesseract did not start".to_string());
        };
        engine
            .set_image_from_mem(&png)
            .map_err(|e| format!("Tesseract cannot read the image: {e}"))?;
        engine.set_source_resolution(i32::try_from(dpi.unwrap_or(300)).unwrap_or(300));
        // A web image holding an address is one line of text; a page is a page.
        let mode = if dpi.is_none() { "7" } else { "3" };
        engine
            .set_variable(leptess::Variable::TesseditPagesegMode, mode)
            .map_err(|_| "Tesseract refused its page segmentation mode".to_string())?;
        let text = engine
            .get_utf8_text()
            .map_err(|e| format!("Tesseract returned invalid text: {e}"))?;
        let confidence = u8::try_from(engine.mean_text_conf().clamp(0, 100)).unwrap_or(0);
        Ok(Reading { text, confidence })
    })
}

/// Gray, contrast stretched, dark text on light, and for web images enlarged so that text
/// lines are tall enough.
fn prepare(img: &DynamicImage, scale: u32, web: bool) -> GrayImage {
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
    if web {
        // Small images (one or two lines) are enlarged `scale` times; larger ones less.
        let factor = match g.height() {
            0..=100 => scale,
            101..=300 => scale.div_ceil(2),
            _ => 1,
        };
        if factor > 1 {
            g = image::imageops::resize(
                &g,
                g.width() * factor,
                g.height() * factor,
                FilterType::CatmullRom,
            );
        }
        // A white margin helps Tesseract find text that touches the edges.
        let mut framed = GrayImage::from_pixel(g.width() + 40, g.height() + 40, image::Luma([255]));
        image::imageops::overlay(&mut framed, &g, 20, 20);
        g = framed;
    }
    g
}
