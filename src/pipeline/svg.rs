//! SVG in, through usvg/resvg, treated as hostile: nothing outside the file is read (no
//! `file:` or network references, no system fonts), the XML is bounded in nodes, in how far
//! `<use>` and `url(#…)` references multiply it, and in depth, before usvg sees it; embedded
//! pictures are only data URLs in a format thumbkit reads, within the pixel limit; text is
//! drawn in the one bundled font.

use std::collections::HashMap;
use std::sync::Arc;

use image::{DynamicImage, RgbaImage};
use resvg::tiny_skia::{Pixmap, Transform};
use resvg::usvg::{self, ImageHrefResolver, ImageKind, roxmltree};

use super::error::{PipelineError, one_line};
use super::limits::Limits;
use super::load::Shrink;
use super::vector;

/// XML nodes parsed at most (elements, text, comments).
pub const MAX_NODES: u32 = 200_000;
/// Elements once every `<use>` and `url(#…)` reference is counted as the copy it makes.
pub const MAX_EXPANDED: u64 = 1_000_000;
/// Nesting, through references as well as children (usvg converts it recursively).
pub const MAX_DEPTH: u32 = 64;

/// Whether `data` is an SVG document: an `<svg` root after the prolog (XML declaration,
/// comments, doctype), within the first 4 KiB.
pub fn sniff(data: &[u8]) -> bool {
    let head = &data[..data.len().min(4096)];
    let Ok(text) = std::str::from_utf8(head)
        .or_else(|e| std::str::from_utf8(&head[..e.valid_up_to()]).map_err(|_| ()))
    else {
        return false;
    };
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        if rest.starts_with("<svg") {
            return true;
        }
        let end = if rest.starts_with("<?") {
            rest.find("?>").map(|i| i + 2)
        } else if rest.starts_with("<!--") {
            rest.find("-->").map(|i| i + 3)
        } else if rest.starts_with("<!DOCTYPE") || rest.starts_with("<!doctype") {
            doctype_end(rest)
        } else {
            None
        };
        match end {
            Some(i) => rest = rest[i..].trim_start(),
            None => return false,
        }
    }
}

/// The end of a doctype, past its internal subset if it has one.
fn doctype_end(s: &str) -> Option<usize> {
    let close = s.find('>')?;
    match s.find('[') {
        Some(open) if open < close => s[open..].find("]>").map(|i| open + i + 2),
        _ => Some(close + 1),
    }
}

/// The parsed tree, after the bounds.
fn parse(data: &[u8], limits: &Limits) -> Result<usvg::Tree, PipelineError> {
    let text = std::str::from_utf8(data)
        .map_err(|_| PipelineError::Corrupt("the SVG is not UTF-8 text".into()))?;
    let xml = roxmltree::ParsingOptions {
        allow_dtd: true,
        nodes_limit: MAX_NODES,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, xml).map_err(|e| match e {
        roxmltree::Error::NodesLimitReached => {
            PipelineError::Corrupt(format!("the SVG has more than {MAX_NODES} XML nodes"))
        }
        roxmltree::Error::UnexpectedEndOfStream => PipelineError::Truncated,
        e => PipelineError::Corrupt(one_line(&format!("the SVG is not well-formed XML: {e}"))),
    })?;
    bound(&doc)?;
    let options = options(*limits);
    usvg::Tree::from_xmltree(&doc, &options)
        .map_err(|e| PipelineError::Corrupt(one_line(&format!("the SVG cannot be drawn: {e}"))))
}

/// The one font text is drawn in, whatever family it names: DejaVu Sans (Bitstream Vera
/// licence), bundled, so no system font is ever read.
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The font database: the bundled font, standing in for every generic family.
fn fonts() -> Arc<usvg::fontdb::Database> {
    static DB: std::sync::OnceLock<Arc<usvg::fontdb::Database>> = std::sync::OnceLock::new();
    DB.get_or_init(|| {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(FONT.to_vec());
        for set in [
            usvg::fontdb::Database::set_serif_family,
            usvg::fontdb::Database::set_sans_serif_family,
            usvg::fontdb::Database::set_monospace_family,
            usvg::fontdb::Database::set_cursive_family,
            usvg::fontdb::Database::set_fantasy_family,
        ] {
            set(&mut db, "DejaVu Sans");
        }
        Arc::new(db)
    })
    .clone()
}

/// usvg's options: no resources directory, `<image>` only from data URLs, the bundled font.
fn options(limits: Limits) -> usvg::Options<'static> {
    usvg::Options {
        resources_dir: None,
        font_family: "DejaVu Sans".into(),
        fontdb: fonts(),
        image_href_resolver: ImageHrefResolver {
            resolve_data: Box::new(move |_mime, data: Arc<Vec<u8>>, _| embedded(data, &limits)),
            // A path or URL: never opened, never fetched.
            resolve_string: Box::new(|_, _| None),
        },
        ..usvg::Options::default()
    }
}

/// An embedded picture, when it is a JPEG, PNG, GIF or WebP within a quarter of the pixel
/// limit (never another SVG, whose references would be resolved with usvg's defaults).
fn embedded(data: Arc<Vec<u8>>, limits: &Limits) -> Option<ImageKind> {
    let (w, h) = if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        let header = super::jpeg::header(&data).ok()?;
        (header.width, header.height)
    } else {
        let reader = image::ImageReader::new(std::io::Cursor::new(data.as_slice()))
            .with_guessed_format()
            .ok()?;
        match reader.format()? {
            image::ImageFormat::Png | image::ImageFormat::Gif | image::ImageFormat::WebP => {}
            _ => return None,
        }
        reader.into_dimensions().ok()?
    };
    if u64::from(w) * u64::from(h) > limits.max_pixels / 4 {
        return None;
    }
    Some(match image::guess_format(&data).ok()? {
        image::ImageFormat::Png => ImageKind::PNG(data),
        image::ImageFormat::Gif => ImageKind::GIF(data),
        image::ImageFormat::WebP => ImageKind::WEBP(data),
        _ => ImageKind::JPEG(data),
    })
}

/// Refuses a document whose references multiply it past [`MAX_EXPANDED`] elements or nest
/// it past [`MAX_DEPTH`], or that refers to itself.
fn bound(doc: &roxmltree::Document<'_>) -> Result<(), PipelineError> {
    let ids: HashMap<&str, roxmltree::Node<'_, '_>> = doc
        .descendants()
        .filter_map(|n| n.attribute("id").map(|id| (id, n)))
        .collect();
    let mut memo: HashMap<roxmltree::NodeId, (u64, u32)> = HashMap::new();
    let mut visiting = std::collections::HashSet::new();
    let (size, depth) = cost(doc.root_element(), &ids, &mut memo, &mut visiting)?;
    if size > MAX_EXPANDED {
        return Err(PipelineError::Corrupt(format!(
            "the SVG expands to more than {MAX_EXPANDED} elements through its references"
        )));
    }
    if depth > MAX_DEPTH {
        return Err(PipelineError::Corrupt(format!(
            "the SVG nests more than {MAX_DEPTH} levels deep"
        )));
    }
    Ok(())
}

type Memo = HashMap<roxmltree::NodeId, (u64, u32)>;

/// Elements and depth of `node` with every reference it makes counted as a copy.
fn cost<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ids: &HashMap<&str, roxmltree::Node<'a, 'i>>,
    memo: &mut Memo,
    visiting: &mut std::collections::HashSet<roxmltree::NodeId>,
) -> Result<(u64, u32), PipelineError> {
    if let Some(known) = memo.get(&node.id()) {
        return Ok(*known);
    }
    if !visiting.insert(node.id()) {
        return Err(PipelineError::Corrupt(
            "the SVG refers to itself (a reference loop)".into(),
        ));
    }
    // Deeper than the bound already: stop before the recursion here goes further.
    if visiting.len() > MAX_DEPTH as usize {
        return Ok((1, MAX_DEPTH + 1));
    }
    let (mut size, mut depth) = (1u64, 0u32);
    let targets = references(node).filter_map(|id| ids.get(id).copied());
    for next in node.children().filter(|c| c.is_element()).chain(targets) {
        let (s, d) = cost(next, ids, memo, visiting)?;
        size = size.saturating_add(s).min(MAX_EXPANDED + 1);
        depth = depth.max(d);
    }
    visiting.remove(&node.id());
    let found = (size, depth + 1);
    memo.insert(node.id(), found);
    Ok(found)
}

/// The ids `node` refers to: its `href` (`#id`) and each `url(#id)` in its attributes.
fn references<'a>(node: roxmltree::Node<'a, '_>) -> impl Iterator<Item = &'a str> {
    node.attributes().flat_map(|a| {
        let v = a.value();
        let href = (a.name() == "href")
            .then(|| v.trim().strip_prefix('#'))
            .flatten();
        let urls = v.split("url(").skip(1).filter_map(|rest| {
            let inner = rest.split(')').next()?.trim().trim_matches(['"', '\'']);
            inner.strip_prefix('#')
        });
        href.into_iter().chain(urls)
    })
}

/// The size the SVG counts as (see `vector`), with alpha.
pub fn header(data: &[u8]) -> Result<(u32, u32, bool), PipelineError> {
    thread_local! {
        /// The last SVG this thread sized, by content hash: a render asks twice (the probe
        /// and `inspect`) before it draws, and each answer is a whole parse.
        static LAST: std::cell::Cell<Option<(blake3::Hash, (u32, u32))>> =
            const { std::cell::Cell::new(None) };
    }
    let hash = blake3::hash(data);
    if let Some((known, (w, h))) = LAST.get()
        && known == hash
    {
        return Ok((w, h, true));
    }
    let tree = parse(data, &Limits::default())?;
    let size = tree.size();
    let (w, h) = vector::nominal((f64::from(size.width()), f64::from(size.height())))?;
    LAST.set(Some((hash, (w, h))));
    Ok((w, h, true))
}

/// Draws the SVG at the scale `shrink` asks of its nominal size: straight (not premultiplied)
/// RGBA, and the drawn pixels per nominal pixel on each axis.
pub fn decode(
    data: &[u8],
    limits: &Limits,
    shrink: &dyn Fn(u32, u32) -> Shrink,
) -> Result<vector::Drawn, PipelineError> {
    let tree = parse(data, limits)?;
    let size = tree.size();
    let natural = (f64::from(size.width()), f64::from(size.height()));
    let nominal = vector::nominal(natural)?;
    let (w, h) = vector::raster(nominal, shrink(nominal.0, nominal.1), limits)?;
    let mut pixmap = Pixmap::new(w, h).ok_or(PipelineError::TooManyPixels {
        width: w,
        height: h,
        limit: limits.max_pixels,
    })?;
    let transform = Transform::from_scale(
        (f64::from(w) / natural.0) as f32,
        (f64::from(h) / natural.1) as f32,
    );
    resvg::render(&tree, transform, &mut pixmap.as_mut());
    let mut rgba = Vec::with_capacity(pixmap.data().len());
    for p in pixmap.pixels() {
        let c = p.demultiply();
        rgba.extend_from_slice(&[c.red(), c.green(), c.blue(), c.alpha()]);
    }
    let image = RgbaImage::from_raw(w, h, rgba).map(DynamicImage::ImageRgba8);
    vector::Drawn::new(image, nominal, "the SVG")
}
