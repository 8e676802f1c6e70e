//! Modern formats over HTTP: `auto` negotiated from `Accept` (AVIF, then WebP, then JPEG),
//! each a variant of its own in the bucket; the order configurable; an AVIF over its budget
//! answered with WebP and stored behind; an iPhone HEIC uploaded and given a manifest.

use super::*;

const PHOTO: &str = "/t/medium/p/photo.jpg";

async fn get_accepting(app: &App, path: &str, accept: &str) -> Reply {
    send_with(app.addr, "GET", path, &[("Accept", accept)], b"").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_picks_avif_then_webp_then_jpeg_each_its_own_variant() {
    let s3 = S3Server::start("formats-accept").await;
    s3.put("p/photo.jpg", fixture("DSCN0010.jpg")).await;
    let app = app_with_token(&s3, Settings::default()).await;
    for (accept, mime) in [
        ("image/avif,image/webp,*/*", "image/avif"),
        ("image/webp,*/*", "image/webp"),
        ("image/jpeg", "image/jpeg"),
        ("image/avif;q=0, image/webp", "image/webp"),
    ] {
        let r = get_accepting(&app, PHOTO, accept).await;
        assert_eq!(r.status, 200, "{accept}");
        assert_eq!(r.header("content-type"), mime, "{accept}");
        assert_eq!(r.header("vary"), "Accept", "{accept}");
        let format = thumbkit::pipeline::inspect::inspect(&r.body)
            .unwrap()
            .format;
        assert_eq!(
            format!("image/{format}"),
            mime,
            "{accept}: the bytes are what the header says"
        );
        assert_no_metadata(&r.body, accept);
    }
    // Each is cached on its own: asked again, each is a memory hit in its format.
    for (accept, mime) in [
        ("image/avif,image/webp", "image/avif"),
        ("image/jpeg", "image/jpeg"),
    ] {
        let r = get_accepting(&app, PHOTO, accept).await;
        assert_eq!(
            (r.header("content-type"), r.header("x-cache")),
            (mime, "hit-memory")
        );
    }
    app.service.drain().await;
    let stored = s3.keys("_variants/").await;
    for ext in ["avif", "webp", "jpg"] {
        assert_eq!(
            stored
                .iter()
                .filter(|k| k.ends_with(&format!(".{ext}")))
                .count(),
            1,
            "one .{ext} variant: {stored:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auto_order_is_configurable() {
    let s3 = S3Server::start("formats-order").await;
    s3.put("p/photo.jpg", fixture("DSCN0010.jpg")).await;
    let webp_only = Settings {
        auto_formats: vec![thumbkit::pipeline::OutputFormat::Webp],
        ..Settings::default()
    };
    let app = app_with_token(&s3, webp_only).await;
    let r = get_accepting(&app, PHOTO, "image/avif,image/webp,*/*").await;
    assert_eq!(r.header("content-type"), "image/webp");
    let none = Settings {
        auto_formats: Vec::new(),
        ..Settings::default()
    };
    let app = app_with_token(&s3, none).await;
    let r = get_accepting(&app, PHOTO, "image/avif,image/webp,*/*").await;
    assert_eq!(r.header("content-type"), "image/jpeg");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_avif_over_its_budget_is_answered_as_webp_and_stored_behind() {
    let s3 = S3Server::start("formats-budget").await;
    s3.put("p/photo.jpg", fixture("IMG_9424.JPG")).await;
    let settings = Settings {
        avif_budget: Duration::from_millis(1),
        ..Settings::default()
    };
    let app = app_with_token(&s3, settings).await;
    let path = "/t/large/p/photo.jpg";
    let r = get_accepting(&app, path, "image/avif,image/webp").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        "image/webp",
        "no wait for the AVIF"
    );
    assert_eq!(app.metric("thumbkit_avif_fallbacks_total", &[]).await, 1.0);
    // The AVIF was finished behind the response and is served from memory next time.
    app.service.drain().await;
    let r = get_accepting(&app, path, "image/avif,image/webp").await;
    assert_eq!(
        (r.header("content-type"), r.header("x-cache")),
        ("image/avif", "hit-memory")
    );
    assert!(
        s3.keys("_variants/")
            .await
            .iter()
            .any(|k| k.ends_with(".avif"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iphone_heic_upload_gets_a_manifest_and_upright_variants() {
    let s3 = S3Server::start("formats-heic").await;
    let app = app_with_token(&s3, Settings::default()).await;
    let heic = fixture("IMG_5195.HEIC");
    let r = send(
        app.addr,
        "PUT",
        "/v1/originals/u/IMG_5195.HEIC",
        Some(TOKEN),
        &heic,
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let m = json(&r);
    assert_eq!(m["format"], "heif");
    assert_eq!(
        (m["width"].as_u64(), m["height"].as_u64()),
        (Some(2566), Some(3313))
    );
    let thumb = &m["variants"]["thumb"];
    assert_eq!(
        (thumb["width"].as_u64(), thumb["height"].as_u64()),
        (Some(248), Some(320))
    );
    let url = thumb["url"].as_str().unwrap();
    let r = app.get(url).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "image/jpeg");
    let img = decode_rgb(&r.body);
    assert_eq!(img.dimensions(), (248, 320));
    assert_no_metadata(&r.body, "HEIC upload's thumb");
}
