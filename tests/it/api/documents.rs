//! PDF, SVG and JPEG XL originals over HTTP: uploaded with a manifest that says their kind
//! (and a PDF's pages), rendered on demand from the bucket, with nothing of their metadata.

use super::*;

fn pixel(bytes: &[u8], fx: f64, fy: f64) -> [u8; 4] {
    let img = if bytes.starts_with(&[0xFF, 0xD8]) {
        image::DynamicImage::ImageRgb8(decode_rgb(bytes)).to_rgba8()
    } else {
        image::load_from_memory(bytes).expect("decodes").to_rgba8()
    };
    let x = ((f64::from(img.width()) * fx) as u32).min(img.width() - 1);
    let y = ((f64::from(img.height()) * fy) as u32).min(img.height() - 1);
    img.get_pixel(x, y).0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdf_upload_says_its_pages_and_its_thumbnails_show_the_first_page() {
    let s3 = S3Server::start("documents-pdf").await;
    let app = app_with_token(&s3, Settings::default()).await;
    let pdf = fixture("documents/bill.pdf");
    let r = send(
        app.addr,
        "PUT",
        "/v1/originals/docs/bill.pdf?pregenerate=all",
        Some(TOKEN),
        &pdf,
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let m = json(&r);
    assert_eq!(
        (m["format"].as_str(), m["kind"].as_str()),
        (Some("pdf"), Some("pdf"))
    );
    assert_eq!(m["pages"], 3);
    assert_eq!(
        (m["width"].as_u64(), m["height"].as_u64()),
        (Some(1447), Some(2048))
    );
    let r = send_with(
        app.addr,
        "GET",
        "/t/medium/docs/bill.pdf",
        &[("Accept", "image/png")],
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-cache"), "hit-memory", "pre-generated");
    assert_no_metadata(&r.body, "pdf over http");
    let blue = pixel(&r.body, 0.25, 0.25);
    assert!(blue[2] > 170 && blue[0] < 60, "the blue quarter: {blue:?}");
    assert!(!String::from_utf8_lossy(&r.body).contains("secret"));
    // Written straight to the bucket, a PDF renders on demand like a photo.
    let mut other = pdf.clone();
    other.extend_from_slice(b"\n% another version\n");
    s3.put("scans/direct.pdf", other).await;
    let r = send(app.addr, "GET", "/t/thumb/scans/direct.pdf", None, b"").await;
    assert_eq!((r.status, r.header("x-cache")), (200, "miss"));
    assert_no_metadata(&r.body, "direct pdf");
    // A broken one is refused in one line, the same way each time.
    s3.put("scans/broken.pdf", b"%PDF-1.7\n1 0 obj\n<<".to_vec())
        .await;
    for _ in 0..2 {
        let r = send(app.addr, "GET", "/t/thumb/scans/broken.pdf", None, b"").await;
        assert_eq!(r.status, 422);
        assert_eq!(r.header("content-type"), "application/problem+json");
        let detail = r.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains("PDF") && !detail.contains('\n'), "{detail}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svg_and_jpeg_xl_uploads_render_with_alpha_and_upright() {
    let s3 = S3Server::start("documents-svg").await;
    let app = app_with_token(&s3, Settings::default()).await;
    let r = send(
        app.addr,
        "PUT",
        "/v1/originals/brand/logo.svg",
        Some(TOKEN),
        &fixture("documents/rust-logo.svg"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let m = json(&r);
    assert_eq!(
        (m["format"].as_str(), m["kind"].as_str()),
        (Some("svg"), Some("svg"))
    );
    assert!(m.get("pages").is_none(), "{m}");
    // An SVG has alpha: `auto` keeps it (lossless WebP when accepted, else PNG).
    for (accept, mime) in [
        ("image/webp,*/*", "image/webp"),
        ("image/jpeg", "image/png"),
    ] {
        let r = send_with(
            app.addr,
            "GET",
            "/t/medium/brand/logo.svg",
            &[("Accept", accept)],
            b"",
        )
        .await;
        assert_eq!(
            (r.status, r.header("content-type")),
            (200, mime),
            "{accept}"
        );
        assert_eq!(
            pixel(&r.body, 0.01, 0.01)[3],
            0,
            "{accept}: a transparent corner"
        );
        assert_no_metadata(&r.body, accept);
    }
    let r = send(
        app.addr,
        "PUT",
        "/v1/originals/photos/canon.jxl",
        Some(TOKEN),
        &fixture("canon_hdr_YES.jxl"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let m = json(&r);
    assert_eq!(
        (m["format"].as_str(), m["kind"].as_str()),
        (Some("jxl"), Some("image"))
    );
    assert_eq!(
        (m["width"].as_u64(), m["height"].as_u64()),
        (Some(1536), Some(2048))
    );
    let r = send(app.addr, "GET", "/t/thumb/photos/canon.jxl", None, b"").await;
    assert_eq!(r.status, 200);
    let img = decode_rgb(&r.body);
    assert!(img.height() > img.width(), "upright");
    assert_no_metadata(&r.body, "jxl over http");
}
