//! Hostile PDFs, SVGs and JPEG XLs, made here: what breaks thumbnailers that read them.

use super::make::Bomb;

/// Refused with a one-line reason (the JPEG XLs declaring too many pixels are in
/// `OVERSIZED`: refused from the header).
pub const REFUSED: [&str; 15] = [
    "jxl-toc-548mb.jxl",
    "webp-frame-coded-0x32.webp",
    "pdf-flate-1gib.pdf",
    "pdf-kids-loop.pdf",
    "pdf-no-pages.pdf",
    "pdf-truncated.pdf",
    "svg-billion-laughs.svg",
    "svg-use-bomb.svg",
    "svg-use-loop.svg",
    "svg-elements-1000000.svg",
    "svg-depth-100000.svg",
    "svg-truncated.svg",
    "jxl-truncated.jxl",
    "jxl-header-only.jxl",
    "html.png",
];

/// Drawn within the limits: the bomb is bounded by the drawing's size, cut short by the
/// renderer, or reaches for something that is never read.
pub const RENDERED: [&str; 15] = [
    "pdf-page-200000pt.pdf",
    "pdf-pages-10000.pdf",
    "pdf-broken-xref.pdf",
    "pdf-nesting-100000.pdf",
    "pdf-saves-200000.pdf",
    "pdf-form-loop.pdf",
    "pdf-flate-zeros.pdf",
    "svg-viewbox-1e9.svg",
    "svg-thin-1e9.svg",
    "svg-file-refs.svg",
    "svg-nested-svg.svg",
    "svg-huge-embedded.svg",
    "svg-blur-1e9.svg",
    "svg-script.svg",
    "idat-7000x7000-zeros.png",
];

/// A PDF of `objects` (numbered from 1, the first the catalog) with a correct xref table.
pub fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn obj(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\nendstream");
    out
}

/// A one-page PDF whose page has `media` as its box and `content` as its content stream.
pub fn one_page(media: &str, content: &[u8]) -> Vec<u8> {
    pdf(&[
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj(&format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox {media} /Contents 4 0 R >>"
        )),
        stream("", content),
    ])
}

fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).expect("deflate");
    z.finish().expect("deflate")
}

/// A Flate content stream that inflates to 1 GiB of spaces (a valid, empty content stream).
fn flate_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..1024 {
        z.write_all(&chunk).expect("deflate");
    }
    let data = z.finish().expect("deflate");
    pdf(&[
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>"),
        stream("/Filter /FlateDecode", &data),
    ])
}

fn pages(n: usize) -> Vec<u8> {
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", i + 4)).collect();
    let mut objects = vec![
        obj("<< /Type /Catalog /Pages 2 0 R >>"),
        obj(&format!(
            "<< /Type /Pages /Kids [{}] /Count {n} >>",
            kids.join(" ")
        )),
        stream("", b"0 0 1 rg 0 0 100 100 re f"),
    ];
    for _ in 0..n {
        objects.push(obj(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 3 0 R >>",
        ));
    }
    pdf(&objects)
}

/// The hostile PDFs.
pub fn pdfs() -> Vec<Bomb> {
    let blue = b"0 0 1 rg 0 0 100000 100000 re f".as_slice();
    let mut broken_xref = one_page("[0 0 200 200]", blue);
    let at = broken_xref
        .windows(6)
        .position(|w| w == b"\nxref\n")
        .expect("xref");
    broken_xref[at + 20..at + 60].fill(b'9');
    let deep = format!("{}0 0 1 rg{}", "[".repeat(100_000), "]".repeat(100_000));
    let saves = format!(
        "{} 0 0 1 rg 0 0 50 50 re f {}",
        "q ".repeat(200_000),
        "Q ".repeat(200_000)
    );
    vec![
        Bomb {
            name: "pdf-page-200000pt.pdf",
            bytes: one_page("[0 0 200000 200000]", blue),
        },
        Bomb {
            name: "pdf-pages-10000.pdf",
            bytes: pages(10_000),
        },
        Bomb {
            name: "pdf-flate-1gib.pdf",
            bytes: flate_bomb(),
        },
        Bomb {
            name: "pdf-broken-xref.pdf",
            bytes: broken_xref,
        },
        Bomb {
            name: "pdf-nesting-100000.pdf",
            bytes: one_page("[0 0 200 200]", deep.as_bytes()),
        },
        Bomb {
            name: "pdf-saves-200000.pdf",
            bytes: one_page("[0 0 200 200]", saves.as_bytes()),
        },
        Bomb {
            name: "pdf-kids-loop.pdf",
            bytes: pdf(&[
                obj("<< /Type /Catalog /Pages 2 0 R >>"),
                obj("<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>"),
                obj("<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 3 0 R] /Count 1 >>"),
            ]),
        },
        Bomb {
            name: "pdf-form-loop.pdf",
            bytes: pdf(&[
                obj("<< /Type /Catalog /Pages 2 0 R >>"),
                obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
                obj(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R /Resources << /XObject << /F 5 0 R >> >> >>",
                ),
                stream("", b"/F Do"),
                stream(
                    "/Type /XObject /Subtype /Form /BBox [0 0 200 200] /Resources << /XObject << /F 5 0 R >> >>",
                    b"0 0 1 rg 0 0 10 10 re f /F Do",
                ),
            ]),
        },
        Bomb {
            name: "pdf-no-pages.pdf",
            bytes: pdf(&[
                obj("<< /Type /Catalog /Pages 2 0 R >>"),
                obj("<< /Type /Pages /Kids [] /Count 0 >>"),
            ]),
        },
        Bomb {
            name: "pdf-truncated.pdf",
            bytes: one_page("[0 0 200 200]", blue)[..120].to_vec(),
        },
        Bomb {
            name: "pdf-flate-zeros.pdf",
            bytes: one_page("[0 0 200 200]", &zlib(b"")),
        },
    ]
}

const SVG: &str =
    r#"xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink""#;

/// `<use>` references fanning out ten-fold per level, ten levels deep: 10^10 copies.
fn use_bomb() -> String {
    let mut s = format!(
        r#"<svg {SVG} width="100" height="100"><defs><rect id="l0" width="1" height="1"/>"#
    );
    for level in 1..=10 {
        s.push_str(&format!(r#"<g id="l{level}">"#));
        for _ in 0..10 {
            s.push_str(&format!(r##"<use href="#l{}"/>"##, level - 1));
        }
        s.push_str("</g>");
    }
    s.push_str(r##"</defs><use href="#l10"/></svg>"##);
    s
}

fn billion_laughs() -> String {
    let mut s = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE svg [\n<!ENTITY lol \"lol\">\n");
    for i in 1..=9 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        s.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    s.push_str(&format!(
        "]>\n<svg {SVG} width=\"100\" height=\"100\"><text>&lol9;</text></svg>"
    ));
    s
}

/// The hostile SVGs (the one reaching for a loopback URL is in `hostile_svg_fetches_nothing`).
pub fn svgs() -> Vec<Bomb> {
    let rect = r##"<rect width="100" height="100" fill="#00f"/>"##;
    let nested_svg = base64(format!(
        r#"<svg {SVG}><image href="file:///etc/passwd" width="9" height="9"/></svg>"#
    ));
    let huge_png = base64(super::make::png_with(1_000_000, 1_000_000, &[]));
    let svgs = [
        ("svg-billion-laughs.svg", billion_laughs()),
        ("svg-use-bomb.svg", use_bomb()),
        (
            "svg-use-loop.svg",
            format!(r##"<svg {SVG}><g id="a">{rect}<use href="#a"/></g></svg>"##),
        ),
        (
            "svg-elements-1000000.svg",
            format!("<svg {SVG}>{}</svg>", "<rect/>".repeat(1_000_000)),
        ),
        (
            "svg-depth-100000.svg",
            format!(
                "<svg {SVG}>{}{rect}{}</svg>",
                "<g>".repeat(100_000),
                "</g>".repeat(100_000)
            ),
        ),
        (
            "svg-viewbox-1e9.svg",
            format!(
                r##"<svg {SVG} viewBox="0 0 1000000000 1000000000"><rect width="500000000" height="1000000000" fill="#00f"/></svg>"##
            ),
        ),
        (
            "svg-thin-1e9.svg",
            format!(r#"<svg {SVG} viewBox="0 0 1000000000 1">{rect}</svg>"#),
        ),
        (
            "svg-file-refs.svg",
            format!(
                r#"<svg {SVG} width="100" height="100">{rect}<image href="file:///etc/passwd" width="50" height="50"/><image xlink:href="/dev/zero" width="50" height="50"/><image href="../../etc/hostname" width="50" height="50"/></svg>"#
            ),
        ),
        (
            "svg-nested-svg.svg",
            format!(
                r#"<svg {SVG} width="100" height="100">{rect}<image href="data:image/svg+xml;base64,{nested_svg}" width="50" height="50"/></svg>"#
            ),
        ),
        (
            "svg-huge-embedded.svg",
            format!(
                r#"<svg {SVG} width="100" height="100">{rect}<image href="data:image/png;base64,{huge_png}" width="50" height="50"/></svg>"#
            ),
        ),
        (
            "svg-blur-1e9.svg",
            format!(
                r##"<svg {SVG} width="4000" height="4000"><filter id="f"><feGaussianBlur stdDeviation="1000000000"/></filter><rect width="4000" height="4000" fill="#00f" filter="url(#f)"/></svg>"##
            ),
        ),
        (
            "svg-script.svg",
            format!(
                r#"<svg {SVG} width="99999" height="99999"><script>alert(1)</script>{rect}</svg>"#
            ),
        ),
        (
            "svg-truncated.svg",
            format!(r#"<svg {SVG} width="100" height="100"><rect width="1"#),
        ),
    ];
    svgs.into_iter()
        .map(|(name, s)| Bomb {
            name,
            bytes: s.into_bytes(),
        })
        .collect()
}

fn base64(s: impl AsRef<[u8]>) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Bits written least significant first, as a JPEG XL codestream reads them.
struct Bits(Vec<u8>, usize);

impl Bits {
    fn put(&mut self, value: u64, n: usize) {
        for i in 0..n {
            if self.1.is_multiple_of(8) {
                self.0.push(0);
            }
            let last = self.0.len() - 1;
            self.0[last] |= (((value >> i) & 1) as u8) << (self.1 % 8);
            self.1 += 1;
        }
    }
}

/// A bare codestream declaring `w` x `h` (30-bit sizes), default metadata, then nothing.
fn jxl_declaring(w: u64, h: u64) -> Vec<u8> {
    let mut b = Bits(vec![0xFF, 0x0A], 16);
    b.put(0, 1); // not div8
    b.put(3, 2); // height: 1 + u(30)
    b.put(h - 1, 30);
    b.put(0, 3); // no ratio: the width follows
    b.put(3, 2);
    b.put(w - 1, 30);
    b.put(1, 1); // all_default metadata
    b.0.extend_from_slice(&[0; 64]);
    b.0
}

/// The hostile JPEG XLs.
pub fn jxls() -> Vec<Bomb> {
    use crate::helpers::fixtures::fixture;
    let real = fixture("DSCN0010.jxl");
    vec![
        Bomb {
            name: "jxl-100000x100000.jxl",
            bytes: jxl_declaring(100_000, 100_000),
        },
        Bomb {
            name: "jxl-1073741824x1.jxl",
            bytes: jxl_declaring(1 << 30, 1),
        },
        Bomb {
            name: "jxl-truncated.jxl",
            bytes: real[..real.len() / 2].to_vec(),
        },
        Bomb {
            name: "jxl-header-only.jxl",
            bytes: jxl_declaring(64, 64),
        },
    ]
}
