//! PDF pages, SVG and JPEG XL originals: drawn at the preset's size, the right colours in the
//! right places, upright, with alpha where they have it, and nothing of their metadata.

use super::*;

/// The pixel at (`fx`, `fy`) of the output's width and height.
fn at(img: &image::RgbaImage, fx: f64, fy: f64) -> [u8; 4] {
    let x = ((f64::from(img.width()) * fx) as u32).min(img.width() - 1);
    let y = ((f64::from(img.height()) * fy) as u32).min(img.height() - 1);
    img.get_pixel(x, y).0
}

fn near(found: [u8; 4], want: [u8; 3], what: &str) {
    for c in 0..3 {
        assert!(
            found[c].abs_diff(want[c]) <= 6,
            "{what}: found {found:?}, want {want:?}"
        );
    }
}

fn near3(found: [u8; 4], want: [u8; 3]) -> bool {
    (0..3).all(|c| found[c].abs_diff(want[c]) <= 6)
}

fn rgba(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes).expect("decodes").to_rgba8()
}

#[test]
fn a_pdf_renders_its_first_page_in_its_colours_without_its_metadata() {
    let pdf = fixture("documents/bill.pdf");
    let p = preset("doc", "width = 400\nheight = 400\nformat = \"png\"");
    let out = render(&pdf, &p, OutputFormat::Png);
    // A4 (595x842 pt) inside 400x400.
    assert_eq!((out.width, out.height), (283, 400));
    let img = rgba(&out.bytes);
    near(at(&img, 0.25, 0.25), [0x1f, 0x5f, 0xbf], "the blue quarter");
    near(at(&img, 0.75, 0.75), [0x2e, 0x9e, 0x48], "the green disc");
    near(at(&img, 0.25, 0.75), [255, 255, 255], "white paper");
    near(at(&img, 0.97, 0.97), [255, 255, 255], "white paper");
    assert_no_metadata(&out.bytes, "pdf");
    let text = String::from_utf8_lossy(&out.bytes);
    assert!(!text.contains("secret") && !text.contains("Shipper"));
    // JPEG too (opaque), and the text is drawn: dark pixels where the title is.
    let jpeg = render(&pdf, &p, OutputFormat::Jpeg);
    let img = decode_rgb(&jpeg.bytes);
    let dark = (150..280)
        .flat_map(|x| (30..50).map(move |y| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|&c| c < 100))
        .count();
    assert!(
        dark > 30,
        "the title's glyphs are drawn ({dark} dark pixels)"
    );
    assert_no_metadata(&jpeg.bytes, "pdf as jpeg");
}

#[test]
fn inspect_tells_a_pdfs_pages_and_page_size() {
    let report = inspect::inspect(&fixture("documents/bill.pdf")).expect("inspects");
    let doc = report.document.expect("a document");
    assert_eq!(doc.pages, 3);
    assert_eq!(doc.page, (595.0, 842.0));
    assert_eq!(report.format.kind(), pipeline::SourceKind::Pdf);
    assert!(report.metadata.comment, "the Info dictionary is seen");
    let shown = report.to_string();
    assert!(
        shown.contains("pages:       3 (the first 595x842 pt, 210x297 mm)"),
        "{shown}"
    );
}

#[test]
fn a_small_svg_is_drawn_crisp_at_the_box_with_transparent_corners() {
    // The Rust logo: 106 px, its teeth drawn by 39 `<use>` references.
    let svg = fixture("documents/rust-logo.svg");
    let p = preset("logo", "width = 512\nheight = 512\nformat = \"png\"");
    let out = render(&svg, &p, OutputFormat::Png);
    assert_eq!((out.width, out.height), (512, 512));
    let img = rgba(&out.bytes);
    assert_eq!(at(&img, 0.01, 0.01)[3], 0, "a transparent corner");
    // The ring under the teeth is black and opaque at the top middle.
    let ring = at(&img, 0.5, 0.09);
    assert!(ring[3] > 200 && ring[0] < 60, "the ring: {ring:?}");
    // Edges are anti-aliased at the output's scale, not a 106 px drawing enlarged: partly
    // covered pixels are few and thin.
    let partial = img.pixels().filter(|p| p.0[3] > 20 && p.0[3] < 235).count();
    assert!(partial < 512 * 512 / 20, "{partial} partly covered pixels");
    assert_no_metadata(&out.bytes, "svg");
}

#[test]
fn an_illustrator_svg_with_a_doctype_and_comments_renders_in_its_colours() {
    let svg = fixture("documents/ferris.svg");
    let report = inspect::inspect(&svg).expect("inspects");
    assert_eq!(report.format, pipeline::SourceFormat::Svg);
    assert!(report.metadata.comment, "the generator comment is seen");
    let p = preset("card", "width = 600\nheight = 600\nformat = \"png\"");
    let out = render(&svg, &p, OutputFormat::Png);
    // 1434.979 x 947 inside 600.
    assert_eq!((out.width, out.height), (600, 396));
    let img = rgba(&out.bytes);
    // Ferris' shell is #E33B26.
    let shell = img
        .pixels()
        .filter(|p| p.0[3] == 255 && near3(p.0, [0xe3, 0x3b, 0x26]))
        .count();
    assert!(shell > 600 * 396 / 10, "Ferris is red ({shell} px)");
    assert_eq!(at(&img, 0.01, 0.01)[3], 0, "a transparent corner");
    assert!(!String::from_utf8_lossy(&out.bytes).contains("Illustrator"));
}

#[test]
fn jpeg_xl_photos_render_like_their_jpeg_upright_and_without_gps() {
    let p = preset("t", "width = 320\nheight = 320");
    let jxl = render(&fixture("DSCN0010.jxl"), &p, OutputFormat::Jpeg);
    let jpg = render(&fixture("DSCN0010.jpg"), &p, OutputFormat::Jpeg);
    assert_eq!((jxl.width, jxl.height), (jpg.width, jpg.height));
    let diff = mean_abs_diff(&decode_rgb(&jxl.bytes), &decode_rgb(&jpg.bytes));
    assert!(
        diff < 2.0,
        "the JPEG XL transcode renders as its JPEG ({diff})"
    );
    assert_no_metadata(&jxl.bytes, "jxl");
    let report = inspect::inspect(&fixture("DSCN0010.jxl")).expect("inspects");
    assert!(report.metadata.exif || report.metadata.xmp, "{report}");
    // Stored 2048x1536 with orientation 6 in the codestream: drawn upright.
    let turned = render(&fixture("canon_hdr_YES.jxl"), &p, OutputFormat::Jpeg);
    assert_eq!((turned.width, turned.height), (240, 320));
    let upright = render(&fixture("canon_hdr_YES.jpg"), &p, OutputFormat::Jpeg);
    let diff = mean_abs_diff(&decode_rgb(&turned.bytes), &decode_rgb(&upright.bytes));
    assert!(diff < 8.0, "the same picture, the same way up ({diff})");
}

#[test]
fn jpeg_xl_keeps_alpha_and_takes_an_animations_first_frame() {
    let alpha = pipeline::probe(&fixture("bggn4a16.jxl"), &Limits::default()).expect("probes");
    assert!(alpha.alpha);
    let p = preset(
        "t",
        "width = 64\nheight = 64\nupscale = true\nformat = \"png\"",
    );
    let out = render(&fixture("bggn4a16.jxl"), &p, OutputFormat::Png);
    assert!(
        rgba(&out.bytes).pixels().any(|p| p.0[3] < 200),
        "alpha kept"
    );
    let report = inspect::inspect(&fixture("rotating-squares.jxl")).expect("inspects");
    assert!(report.frames > 1, "{report}");
    let out = render(&fixture("rotating-squares.jxl"), &p, OutputFormat::Png);
    let gif = render(&fixture("rotating-squares.gif"), &p, OutputFormat::Png);
    let diff = mean_abs_diff(&decode_rgb(&out.bytes), &decode_rgb(&gif.bytes));
    assert!(diff < 3.0, "the first frame, as the GIF's ({diff})");
}

#[test]
fn a_hostile_svg_reaches_for_nothing_outside_itself() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let body = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="100">
<style>@import url({url}/import.css); @font-face {{ font-family: x; src: url({url}/font.ttf); }}</style>
<rect width="100" height="100" fill="#00f"/>
<image href="{url}/image.png" width="50" height="50"/>
<image xlink:href="file:///etc/passwd" width="50" height="50"/>
<use href="{url}/sprites.svg#icon"/>
<rect width="10" height="10" fill="url({url}/paint.svg#p)" filter="url({url}/f.svg#f)"/>
<text font-family="x">TEXT</text>
</svg>"##
    );
    let prolog = format!(
        "<?xml version=\"1.0\"?>\n<?xml-stylesheet href=\"{url}/style.css\" type=\"text/css\"?>\n"
    );
    let p = preset("t", "width = 100\nheight = 100\nformat = \"png\"");
    let limits = Limits::default();
    // What it reaches for is left out: the rest is drawn.
    let svg = format!("{prolog}{body}");
    let out =
        pipeline::render(svg.as_bytes(), &p.spec, OutputFormat::Png, &limits).expect("renders");
    near(
        at(&rgba(&out.bytes), 0.9, 0.9),
        [0, 0, 255],
        "the blue square",
    );
    // An external entity is refused: it is never resolved.
    let dtd = format!("<!DOCTYPE svg [<!ENTITY ext SYSTEM \"{url}/entity.xml\">]>\n");
    let svg = format!("{prolog}{dtd}{}", body.replace("TEXT", "&ext;"));
    let refused = pipeline::render(svg.as_bytes(), &p.spec, OutputFormat::Png, &limits);
    assert!(
        matches!(refused, Err(PipelineError::Corrupt(_))),
        "{refused:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "no connection reached the listener"
    );
}

#[test]
fn a_preset_may_draw_another_page_and_one_past_the_end_is_its_own_error() {
    let pdf = fixture("documents/bill.pdf");
    let third = preset(
        "p3",
        "width = 300\nheight = 300\nformat = \"png\"\npage = 3",
    );
    assert!(third.summary().contains("page 3"), "{}", third.summary());
    assert_ne!(
        third.fingerprint(),
        preset("p1", "width = 300\nheight = 300\nformat = \"png\"").fingerprint()
    );
    let out = render(&pdf, &third, OutputFormat::Png);
    // Page 3 is A5 (420x595 pt), painted #d03020.
    assert_eq!((out.width, out.height), (212, 300));
    near(
        at(&rgba(&out.bytes), 0.5, 0.5),
        [0xd0, 0x30, 0x20],
        "the red page",
    );
    let ninth = preset("p9", "width = 300\nheight = 300\npage = 9");
    let e = pipeline::render(&pdf, &ninth.spec, OutputFormat::Jpeg, &Limits::default())
        .expect_err("no ninth page");
    assert_eq!(e, PipelineError::NoSuchPage { page: 9, pages: 3 });
    assert_eq!(e.to_string(), "the preset draws page 9, and the PDF has 3");
    assert!(
        !e.is_property_of_input(),
        "the original's other presets render"
    );
    // One decode per page when presets are made together; page 9's error is its own.
    let first = preset("p", "width = 300\nheight = 300\nformat = \"png\"");
    let specs = [&first.spec, &third.spec, &ninth.spec];
    let made = pipeline::batch::compose_all(&pdf, &specs, &Limits::default()).expect("composes");
    assert_eq!(made[0].as_ref().map(|c| c.size()).ok(), Some((212, 300)));
    let red = made[1]
        .as_ref()
        .expect("page 3")
        .encode(OutputFormat::Png)
        .expect("encodes");
    near(
        at(&rgba(&red.bytes), 0.5, 0.5),
        [0xd0, 0x30, 0x20],
        "page 3 in a batch",
    );
    assert!(matches!(
        made[2],
        Err(PipelineError::NoSuchPage { page: 9, .. })
    ));
    // What a preset file may say.
    for bad in ["page = 0", "page = -1", "page = \"two\"", "page = 100001"] {
        let text = format!("width = 300\n{bad}");
        let e = thumbkit::preset::Preset::parse("bad", &text, std::path::Path::new("bad.toml"))
            .expect_err(bad);
        assert!(e.to_string().contains("page"), "{bad}: {e}");
    }
}

#[test]
fn svg_text_is_drawn_in_the_bundled_font_whatever_family_it_names() {
    let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" width="400" height="100">
        <text x="10" y="70" font-size="60" font-family="Helvetica Neue, Arial" fill="#000">Hello</text>
        <text x="300" y="70" font-size="60" font-family="monospace" font-weight="bold" fill="#000">!</text>
        </svg>"##;
    let p = preset("t", "width = 400\nheight = 100\nformat = \"png\"");
    let out = render(svg.as_bytes(), &p, OutputFormat::Png);
    let img = rgba(&out.bytes);
    let ink = |x0: u32, x1: u32| {
        (x0..x1)
            .flat_map(|x| (20..80).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0[3] > 128)
            .count()
    };
    assert!(ink(10, 170) > 1500, "Hello is drawn ({} px)", ink(10, 170));
    assert!(
        ink(300, 340) > 100,
        "the monospace one too ({} px)",
        ink(300, 340)
    );
    assert_eq!(ink(200, 290), 0, "and nothing between them");
}
