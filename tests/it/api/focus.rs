//! Focal points over HTTP: `?focus=` on upload, `PATCH` moving it, the manifest showing it
//! and the subject, `smart` crops that follow it with a new ETag and URL, a second instance
//! over the same bucket seeing the change, and hostile focal points refused.

use super::*;
use thumbkit::preset::{Preset, Presets};

/// The shipped presets and `square`, a `smart` 200x200 crop.
fn presets() -> Presets {
    let square = Preset::parse(
        "square",
        "width = 200\nheight = 200\nfit = \"cover\"\ngravity = \"smart\"\nformat = \"png\"",
        std::path::Path::new("square.toml"),
    )
    .unwrap();
    Presets::of(shipped_presets().iter().cloned().chain([square]))
}

async fn app(s3: &S3Server, settings: Settings) -> App {
    let options = Options {
        api_token: Some(TOKEN.into()),
        ..Options::default()
    };
    spawn_app_with(s3.store("").await, presets(), settings, options).await
}

/// A 1200x400 panorama, grey but for a colourful patch at x 0.05-0.2: a square crop centred
/// on the picture cannot hold it.
fn panorama() -> Vec<u8> {
    let subject = thumbkit::pipeline::Region {
        x: 0.05,
        y: 0.3,
        w: 0.15,
        h: 0.4,
    };
    crate::pipeline::smart::scene(1200, 400, subject, 5)
}

/// How much of the square crop is the colourful patch (saturated pixels).
fn saturated_share(png: &[u8]) -> f64 {
    let img = decode_rgb(png);
    let n = img
        .pixels()
        .filter(|p| {
            let max = p.0.iter().max().copied().unwrap_or(0);
            let min = p.0.iter().min().copied().unwrap_or(0);
            max - min > 100
        })
        .count();
    n as f64 / f64::from(img.width() * img.height())
}

fn path_of(url: &str) -> &str {
    url.trim_start_matches("http://localhost")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploads_focus_moves_the_smart_crop_and_a_patch_moves_it_again() {
    let s3 = S3Server::start("focus").await;
    let app = app(&s3, Settings::default()).await;
    let photo = panorama();
    // No focal point: the crop finds the patch at the left by itself.
    let r = send(
        app.addr,
        "PUT",
        "/v1/originals/p/pano.jpg",
        Some(TOKEN),
        &photo,
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let m = json(&r);
    assert!(m["focus"].is_null(), "{m}");
    let subject = &m["subject"];
    assert!(subject["x"].as_f64().unwrap() < 0.2, "{m}");
    let url = m["variants"]["square"]["url"].as_str().unwrap().to_owned();
    let hash = m["hash"].as_str().unwrap().to_owned();
    // What the helpers build from the hash: a focal point set later would move the crop, so
    // it is revalidated rather than immutable.
    assert!(url.ends_with(&format!("?v={hash}")), "{url}");
    let auto = app.get(path_of(&url)).await;
    assert_eq!(auto.status, 200);
    assert!(saturated_share(&auto.body) > 0.1, "smart found the patch");
    assert!(!auto.header("cache-control").contains("immutable"));

    // The application says the subject is at the right: the crop goes there.
    let r = send(
        app.addr,
        "PUT",
        "/v1/originals/p/pano.jpg?focus=0.9,0.5",
        Some(TOKEN),
        &photo,
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let m = json(&r);
    assert_eq!(m["focus"], serde_json::json!({"x": 0.9, "y": 0.5}));
    let right_url = m["variants"]["square"]["url"].as_str().unwrap().to_owned();
    assert_ne!(right_url, url, "a new focal point is a new URL");
    let right = app.get(path_of(&right_url)).await;
    assert_eq!(right.status, 200);
    assert!(saturated_share(&right.body) < 0.01, "centred on the right");
    assert_ne!(right.header("etag"), auto.header("etag"));
    assert!(right.header("cache-control").contains("immutable"));
    // Other presets are untouched by the focal point.
    assert_eq!(
        m["variants"]["thumb"]["url"],
        json(
            &send(
                app.addr,
                "GET",
                "/v1/originals/p/pano.jpg",
                Some(TOKEN),
                b""
            )
            .await
        )["variants"]["thumb"]["url"]
    );

    // PATCH moves it to the patch: a third crop, ETag and URL.
    let body = br#"{"focus": {"x": 0.12, "y": 0.5}}"#;
    let r = send(
        app.addr,
        "PATCH",
        "/v1/originals/p/pano.jpg",
        Some(TOKEN),
        body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let m = json(&r);
    assert_eq!(m["focus"]["x"], 0.12);
    let left_url = m["variants"]["square"]["url"].as_str().unwrap().to_owned();
    let left = app.get(path_of(&left_url)).await;
    assert_eq!(left.status, 200);
    assert!(saturated_share(&left.body) > 0.1);
    assert_ne!(left.header("etag"), right.header("etag"));
    // The URL a client builds from the hash alone serves the current crop, revalidated.
    let bare = app.get(&format!("/t/square/p/pano.jpg?v={hash}")).await;
    assert_eq!(bare.status, 200);
    assert_eq!(bare.header("etag"), left.header("etag"));
    assert!(!bare.header("cache-control").contains("immutable"));
    // The old crop's URL is served as it is now, never the old pixels as immutable.
    let old = app.get(path_of(&right_url)).await;
    assert_eq!(old.header("etag"), left.header("etag"));
    assert!(!old.header("cache-control").contains("immutable"));
    // The variants cropped around the point that moved away are gone from the bucket.
    let tag_of = |u: &str| u.rsplit('.').next().unwrap().to_owned();
    let stored = s3.keys("_variants/").await;
    assert!(
        !stored
            .iter()
            .any(|k| k.contains(&format!("-{}.", tag_of(&right_url)))),
        "{stored:?}"
    );

    // Cleared: back to what the picture says.
    let r = send(
        app.addr,
        "PATCH",
        "/v1/originals/p/pano.jpg",
        Some(TOKEN),
        br#"{"focus": null}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(json(&r)["focus"].is_null());
    assert!(
        json(&r)["variants"]["square"]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("?v={hash}"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_sees_the_moved_focus_within_the_revalidation_interval() {
    let s3 = S3Server::start("focus-two").await;
    let settings = Settings {
        revalidate: Duration::from_millis(200),
        ..Settings::default()
    };
    let one = app(&s3, settings.clone()).await;
    let two = app(&s3, settings).await;
    let r = send(
        one.addr,
        "PUT",
        "/v1/originals/a.jpg",
        Some(TOKEN),
        &panorama(),
    )
    .await;
    assert_eq!(r.status, 201);
    let before = two.get("/t/square/a.jpg").await;
    assert!(saturated_share(&before.body) > 0.1);
    let body = br#"{"focus": {"x": 0.95, "y": 0.5}}"#;
    let r = send(one.addr, "PATCH", "/v1/originals/a.jpg", Some(TOKEN), body).await;
    assert_eq!(r.status, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after = two.get("/t/square/a.jpg").await;
    assert_eq!(after.status, 200);
    assert_ne!(after.header("etag"), before.header("etag"));
    assert!(
        saturated_share(&after.body) < 0.01,
        "the other instance follows the point"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_focal_points_are_refused_and_store_nothing() {
    let s3 = S3Server::start("focus-hostile").await;
    let app = app(&s3, Settings::default()).await;
    let photo = panorama();
    for q in [
        "2,0.5",
        "-0.1,0.5",
        "0.5",
        "NaN,0.5",
        "inf,1",
        "0.5,0.5,0.5",
        "a,b",
        "",
    ] {
        let path = format!("/v1/originals/h.jpg?focus={q}");
        // Refused before the body is read: a short one, so the answer is not lost to a reset.
        let r = send(app.addr, "PUT", &path, Some(TOKEN), b"x").await;
        assert_eq!(
            r.status,
            400,
            "{q}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.header("content-type"), "application/problem+json");
        assert!(
            r.problem()["detail"].as_str().unwrap().contains("focus"),
            "{q}"
        );
    }
    assert!(s3.keys("h.jpg").await.is_empty(), "nothing stored");
    let r = send(app.addr, "PUT", "/v1/originals/h.jpg", Some(TOKEN), &photo).await;
    assert_eq!(r.status, 201);
    for body in [
        &br#"{"focus": {"x": 1.5, "y": 0.5}}"#[..],
        br#"{"focus": {"x": 0.5}}"#,
        br#"{"focus": "middle"}"#,
        br#"{"focus": {"x": 0.5, "y": 0.5}, "url": "http://169.254.169.254/"}"#,
        br#"not json"#,
        &[b'{'; 5000][..],
    ] {
        let r = send(app.addr, "PATCH", "/v1/originals/h.jpg", Some(TOKEN), body).await;
        assert!(
            r.status == 400 || r.status == 413,
            "{}: {}",
            String::from_utf8_lossy(&body[..body.len().min(60)]),
            r.status
        );
        assert_eq!(r.header("content-type"), "application/problem+json");
    }
    // Without the token, nothing moves; a missing original is 404.
    let body = br#"{"focus": {"x": 0.5, "y": 0.5}}"#;
    let r = send(app.addr, "PATCH", "/v1/originals/h.jpg", None, body).await;
    assert_eq!(r.status, 401);
    let r = send(
        app.addr,
        "PATCH",
        "/v1/originals/nope.jpg",
        Some(TOKEN),
        body,
    )
    .await;
    assert_eq!(r.status, 404);
    let m = json(&send(app.addr, "GET", "/v1/originals/h.jpg", Some(TOKEN), b"").await);
    assert!(m["focus"].is_null(), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manifest_shows_the_faces_and_the_avatar_keeps_them() {
    let s3 = S3Server::start("focus-faces").await;
    let app = app(&s3, Settings::default()).await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/faces/astronaut.png");
    let portrait = image::open(path).unwrap().to_rgb8();
    // A landscape strip with the face at its left: a square avatar must move to it.
    let strip = image::imageops::crop_imm(&portrait, 128, 26, 384, 205).to_image();
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(strip)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let r = send(app.addr, "PUT", "/v1/originals/me.png", Some(TOKEN), &png).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let m = json(&r);
    let faces = m["subject"]["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1, "{m}");
    // The face is at x 0.36-0.54 of the portrait: 0.19-0.43 of the strip.
    let x = faces[0]["x"].as_f64().unwrap();
    assert!((0.1..0.3).contains(&x), "{m}");
    let avatar = app.get("/t/avatar/me.png").await;
    assert_eq!(avatar.status, 200);
}
