//! PDF in, through hayro (pure Rust; poppler is GPL and MuPDF AGPL): the first page drawn on
//! white at exactly the scale the resize needs. A document that needs a password, has no
//! page or cannot be read is refused in one line; one encrypted only against editing (an
//! empty user password, as every viewer opens) is drawn.

use std::cell::RefCell;

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::{LoadPdfError, Pdf};
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings};
use image::{DynamicImage, RgbImage};

use super::error::PipelineError;
use super::limits::Limits;
use super::load::Shrink;
use super::vector;

/// Whether `data` is a PDF: `%PDF-` within the first KiB (the specification lets readers
/// accept bytes before it).
pub fn sniff(data: &[u8]) -> bool {
    let head = &data[..data.len().min(1024)];
    head.windows(5).any(|w| w == b"%PDF-")
}

/// What a PDF holds: its page count and the first page's size in points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Document {
    pub pages: u32,
    /// The first page's width and height in points (1/72 in), as displayed (after `/Rotate`).
    pub page: (f64, f64),
}

/// What this thread last learnt of a PDF, by its content hash: one render asks for its
/// facts three or four times (the header, `inspect`, the decode), and each answer would cost
/// a parse of its structure and an inflate of every stream.
struct Learnt {
    hash: blake3::Hash,
    /// The largest bound its streams were found to inflate within.
    within: u64,
    document: Option<Document>,
}

thread_local! {
    static LAST: RefCell<Option<Learnt>> = const { RefCell::new(None) };
}

/// Runs `f` on what is known of the PDF with `hash` (a fresh record if it is another one).
fn learnt<T>(hash: blake3::Hash, f: impl FnOnce(&mut Learnt) -> T) -> T {
    LAST.with_borrow_mut(|last| {
        let known = last.get_or_insert_with(|| Learnt {
            hash,
            within: 0,
            document: None,
        });
        if known.hash != hash {
            *known = Learnt {
                hash,
                within: 0,
                document: None,
            };
        }
        f(known)
    })
}

/// The PDF, once no Flate stream in it inflates past what a decode may hold.
fn open(data: &[u8], limits: &Limits) -> Result<Pdf, PipelineError> {
    let hash = blake3::hash(data);
    let bound = limits.max_pixels.saturating_mul(4);
    if learnt(hash, |l| l.within < bound) {
        inflates_within(data, bound)?;
        learnt(hash, |l| l.within = l.within.max(bound));
    }
    Pdf::new(data.to_vec()).map_err(|e| match e {
        LoadPdfError::Decryption(hayro::hayro_syntax::DecryptionError::PasswordProtected) => {
            PipelineError::UnsupportedFormat("the PDF is protected by a password".into())
        }
        LoadPdfError::Decryption(e) => {
            PipelineError::UnsupportedFormat(format!("the PDF's encryption cannot be read ({e:?})"))
        }
        LoadPdfError::Invalid => {
            PipelineError::Corrupt("the PDF's structure cannot be read".into())
        }
    })
}

/// The page count and first page's size.
pub fn document(data: &[u8]) -> Result<Document, PipelineError> {
    let hash = blake3::hash(data);
    if let Some(known) = learnt(hash, |l| l.document) {
        return Ok(known);
    }
    let pdf = open(data, &Limits::default())?;
    let pages = pdf.pages();
    let first = pages
        .first()
        .ok_or_else(|| PipelineError::Corrupt("the PDF has no pages".into()))?;
    let (w, h) = first.render_dimensions();
    let document = Document {
        pages: u32::try_from(pages.len()).unwrap_or(u32::MAX),
        page: (f64::from(w), f64::from(h)),
    };
    learnt(hash, |l| l.document = Some(document));
    Ok(document)
}

/// The size the first page counts as (see `vector`); a page is opaque.
pub fn header(data: &[u8]) -> Result<(u32, u32, bool), PipelineError> {
    let (w, h) = vector::nominal(document(data)?.page)?;
    Ok((w, h, false))
}

/// Draws `page` (from 1) on white at the scale `shrink` asks of its nominal size, with the
/// nominal size and the drawn pixels per nominal pixel.
pub fn decode(
    data: &[u8],
    limits: &Limits,
    shrink: &dyn Fn(u32, u32) -> Shrink,
    page: u32,
) -> Result<vector::Drawn, PipelineError> {
    let pdf = open(data, limits)?;
    let pages = pdf.pages();
    if pages.is_empty() {
        return Err(PipelineError::Corrupt("the PDF has no pages".into()));
    }
    let page = pages
        .get(page.max(1) as usize - 1)
        .ok_or(PipelineError::NoSuchPage {
            page,
            pages: u32::try_from(pages.len()).unwrap_or(u32::MAX),
        })?;
    let (pw, ph) = page.render_dimensions();
    let nominal = vector::nominal((f64::from(pw), f64::from(ph)))?;
    let (w, h) = vector::raster(nominal, shrink(nominal.0, nominal.1), limits)?;
    // hayro truncates the page's scaled size: half a pixel more lands on exactly w x h.
    let settings = PixmapSettings {
        x_scale: (w as f32 + 0.5) / pw,
        y_scale: (h as f32 + 0.5) / ph,
        bg_color: WHITE,
    };
    let pixmap = hayro::render(
        page,
        &RenderCache::new(),
        &InterpreterSettings::default(),
        &RenderSettings::default(),
        &settings,
    );
    let (w, h) = (u32::from(pixmap.width()), u32::from(pixmap.height()));
    if w == 0 || h == 0 {
        return Err(PipelineError::Corrupt("the PDF's page has no area".into()));
    }
    // Drawn on opaque white: the premultiplied pixels are the straight ones.
    let rgb: Vec<u8> = pixmap
        .data_as_u8_slice()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let image = RgbImage::from_raw(w, h, rgb).map(DynamicImage::ImageRgb8);
    vector::Drawn::new(image, nominal, "the page")
}

/// Refuses a PDF with a Flate stream that inflates past `limit` bytes, or streams that do
/// in all past four times it: hayro inflates each stream whole, with no bound of its own.
/// Each stream is inflated into a counter, never kept.
fn inflates_within(data: &[u8], limit: u64) -> Result<(), PipelineError> {
    use std::io::Read;
    let mut total = 0u64;
    let mut from = 0usize;
    while let Some(i) = find(&data[from..], b"stream") {
        let at = from + i;
        from = at + 6;
        if data[..at].ends_with(b"end") {
            continue;
        }
        let body = match data.get(from..from + 2) {
            Some([b'\r', b'\n']) => from + 2,
            Some([b'\n', _]) => from + 1,
            _ => continue,
        };
        // The stream's dictionary ends just before `stream`; its filter is in the last KiB.
        let window = &data[at.saturating_sub(1024)..at];
        let dict = match window.windows(3).rposition(|w| w == b"obj") {
            Some(i) => &window[i..],
            None => window,
        };
        if find(dict, b"/FlateDecode").is_none() {
            continue;
        }
        let mut inflater =
            flate2::read::ZlibDecoder::new(&data[body..]).take(limit.saturating_add(1));
        let n = std::io::copy(&mut inflater, &mut std::io::sink()).unwrap_or(0);
        total = total.saturating_add(n);
        if n > limit || total > limit.saturating_mul(4) {
            return Err(PipelineError::Corrupt(format!(
                "the PDF's streams inflate past {} MiB (a decompression bomb)",
                limit >> 20
            )));
        }
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
