//! What a frontend meets: responsive steps with a ready `srcset`, client hints, CORS from an
//! allowlist, the fallback image for a missing or broken original, and the browser headers
//! (`Content-Disposition`, `Last-Modified`, `stale-while-revalidate`).

use std::path::Path;

use super::*;
use thumbkit::http::cors::CorsOrigins;
use thumbkit::preset::Presets;

/// The shipped presets and three responsive ones: densities, a width ladder, and densities
/// picked by client hints.
fn responsive_presets() -> Presets {
    Presets::of(shipped_presets().iter().cloned().chain([
        preset(
            "card",
            "width = 200\nheight = 100\nfit = \"cover\"\nformat = \"jpeg\"\ndensities = [1, 2]",
        ),
        preset(
            "hero",
            "widths = [160, 320, 640]\nformat = \"jpeg\"\nsizes = \"(max-width: 600px) 100vw, 50vw\"",
        ),
        preset(
            "hinted",
            "width = 100\nheight = 100\nfit = \"cover\"\nformat = \"jpeg\"\ndensities = [1, 2, 3]\nclient_hints = true",
        ),
    ]))
}

async fn app(s3: &S3Server, settings: Settings, options: Options) -> App {
    let options = Options {
        api_token: Some(TOKEN.into()),
        ..options
    };
    spawn_app_with(s3.store("").await, responsive_presets(), settings, options).await
}

fn size(body: &[u8]) -> (u32, u32) {
    decode_rgb(body).dimensions()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn density_and_width_steps_are_variants_in_the_srcset_and_undeclared_steps_are_404() {
    let s3 = S3Server::start("frontends-steps").await;
    let app = app(&s3, Settings::default(), Options::default()).await;
    let put = send(
        app.addr,
        "PUT",
        "/v1/originals/a/photo.jpg?pregenerate=card,hero",
        Some(TOKEN),
        &fixture("DSCN0010.jpg"),
    )
    .await;
    assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
    let manifest = json(&put);
    let variants = &manifest["variants"];
    let card = &variants["card"];
    let card2 = &variants["card@2x"];
    assert_eq!(
        (card["width"].as_u64(), card["height"].as_u64()),
        (Some(200), Some(100))
    );
    assert_eq!(
        (card2["width"].as_u64(), card2["height"].as_u64()),
        (Some(400), Some(200))
    );
    assert_eq!(card2["step_of"], "card");
    let (url1, url2) = (
        card["url"].as_str().unwrap(),
        card2["url"].as_str().unwrap(),
    );
    assert_eq!(card["srcset"], format!("{url1} 1x, {url2} 2x"));
    assert!(url2.starts_with("/t/card@2x/a/photo.jpg?v="), "{url2}");
    // Each step is its own variant at its own size, pre-generated with the upload.
    for (url, dims) in [(url1, (200, 100)), (url2, (400, 200))] {
        let r = app.get(url).await;
        assert_eq!(r.status, 200, "{url}");
        assert_eq!(size(&r.body), dims, "{url}");
        assert_eq!(r.header("x-cache"), "hit-memory", "{url}");
    }
    // `@1x` is the plain variant; a step the preset does not declare is not a size anyone
    // can ask for.
    let plain = app.get("/t/card/a/photo.jpg").await;
    let one = app.get("/t/card@1x/a/photo.jpg").await;
    assert_eq!(plain.header("etag"), one.header("etag"));
    for undeclared in [
        "card@3x",
        "card@2.5x",
        "card@400w",
        "hero@500w",
        "thumb@2x",
        "card@",
    ] {
        let r = app.get(&format!("/t/{undeclared}/a/photo.jpg")).await;
        assert_eq!(r.status, 404, "{undeclared}");
        assert!(
            r.problem()["detail"].as_str().unwrap().contains("preset"),
            "{undeclared}"
        );
    }
    // The width ladder: `w` descriptors by each step's real width, and the preset's sizes.
    let hero = &variants["hero"];
    let srcset = hero["srcset"].as_str().unwrap();
    let widths: Vec<&str> = srcset
        .split(", ")
        .map(|e| e.rsplit_once(' ').unwrap().1)
        .collect();
    assert_eq!(widths, ["160w", "320w", "640w"], "{srcset}");
    assert_eq!(hero["sizes"], "(max-width: 600px) 100vw, 50vw");
    let r = app.get("/t/hero@640w/a/photo.jpg").await;
    assert_eq!(size(&r.body).0, 640);
    // Steps the photo is too small for repeat a width and are left out of the srcset.
    let small = image::RgbImage::from_pixel(300, 200, image::Rgb([200, 60, 30]));
    let mut png = std::io::Cursor::new(Vec::new());
    small.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let put = send(
        app.addr,
        "PUT",
        "/v1/originals/a/small.png",
        Some(TOKEN),
        png.get_ref(),
    )
    .await;
    let srcset = json(&put)["variants"]["hero"]["srcset"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        srcset.matches("w,").count() + 1,
        2,
        "160w and 300w only: {srcset}"
    );
    assert!(srcset.ends_with(" 300w"), "{srcset}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_hints_pick_a_step_for_a_preset_that_opts_in() {
    let s3 = S3Server::start("frontends-hints").await;
    s3.put("a/photo.jpg", fixture("DSCN0010.jpg")).await;
    let app = app(&s3, Settings::default(), Options::default()).await;
    for (headers, side) in [
        (vec![], 100),
        (vec![("Sec-CH-DPR", "2")], 200),
        (vec![("DPR", "1.5")], 200),
        (vec![("Sec-CH-DPR", "3.5")], 300),
        (vec![("Sec-CH-DPR", "nonsense")], 100),
    ] {
        let r = send_with(app.addr, "GET", "/t/hinted/a/photo.jpg", &headers, b"").await;
        assert_eq!(r.status, 200, "{headers:?}");
        assert_eq!(size(&r.body), (side, side), "{headers:?}");
        assert_eq!(r.header("accept-ch"), "Sec-CH-DPR");
        assert!(
            r.header("vary").contains("Sec-CH-DPR"),
            "{}",
            r.header("vary")
        );
    }
    // A preset that does not opt in ignores hints and does not vary on them.
    let r = send_with(
        app.addr,
        "GET",
        "/t/card/a/photo.jpg",
        &[("Sec-CH-DPR", "2")],
        b"",
    )
    .await;
    assert_eq!(size(&r.body), (200, 100));
    assert_eq!((r.header("accept-ch"), r.header("vary")), ("", ""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_allowed_origins_only_and_preflights_before_the_token() {
    let s3 = S3Server::start("frontends-cors").await;
    s3.put("a/photo.jpg", fixture("DSCN0010.jpg")).await;
    let options = Options {
        cors: CorsOrigins::parse("https://app.example, http://localhost:3000").unwrap(),
        ..Options::default()
    };
    let app = app(&s3, Settings::default(), options).await;
    let preflight = |origin: &'static str| {
        let addr = app.addr;
        async move {
            let headers = [
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "authorization, content-type",
                ),
            ];
            send_with(addr, "OPTIONS", "/v1/uploads", &headers, b"").await
        }
    };
    let ok = preflight("https://app.example").await;
    assert!(ok.status < 300, "{}", ok.status);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        "https://app.example"
    );
    assert_eq!(ok.header("access-control-allow-credentials"), "true");
    assert!(ok.header("access-control-allow-methods").contains("POST"));
    let allowed = ok
        .header("access-control-allow-headers")
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    let other = preflight("https://evil.example").await;
    assert_eq!(other.header("access-control-allow-origin"), "");
    assert_eq!(other.header("access-control-allow-credentials"), "");
    // Simple requests: the allowed origin may read the thumbnail and its headers.
    let get = |origin: &'static str| {
        let addr = app.addr;
        async move {
            send_with(
                addr,
                "GET",
                "/t/thumb/a/photo.jpg",
                &[("Origin", origin)],
                b"",
            )
            .await
        }
    };
    let r = get("http://localhost:3000").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        "http://localhost:3000"
    );
    assert!(
        r.header("access-control-expose-headers")
            .to_ascii_lowercase()
            .contains("x-cache")
    );
    assert!(
        r.header("vary").to_ascii_lowercase().contains("origin"),
        "{}",
        r.header("vary")
    );
    let r = get("https://evil.example").await;
    assert_eq!(
        r.status, 200,
        "the image itself is public; only reading it cross-origin is not"
    );
    assert_eq!(r.header("access-control-allow-origin"), "");
    // `*` never comes with credentials, and a bad list is refused with the reason.
    let any = CorsOrigins::parse("*").unwrap();
    assert_eq!(any, CorsOrigins::Any);
    for bad in [
        "app.example",
        "https://app.example/",
        "*, https://a.example",
        "https://a b",
    ] {
        assert!(CorsOrigins::parse(bad).is_err(), "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fallback_stands_in_for_missing_and_broken_originals_with_their_status() {
    let s3 = S3Server::start("frontends-fallback").await;
    s3.put("a/broken.jpg", fixture("truncated.jpg")).await;
    s3.put("a/photo.jpg", fixture("DSCN0010.jpg")).await;
    let fallback = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/swiss.png");
    let settings = Settings {
        fallback: Some(fallback),
        ..Settings::default()
    };
    let app = app(&s3, settings, Options::default()).await;
    for (key, status, why) in [
        ("a/missing.jpg", 404, "not-found"),
        ("a/broken.jpg", 422, "unprocessable"),
    ] {
        for _ in 0..2 {
            let r = send_with(
                app.addr,
                "GET",
                &format!("/t/card/{key}"),
                &[("Accept", "image/webp,*/*")],
                b"",
            )
            .await;
            assert_eq!(r.status, status, "{key}");
            assert_eq!(r.header("x-thumbkit-fallback"), why, "{key}");
            assert_eq!(
                r.header("content-type"),
                "image/jpeg",
                "card is a JPEG preset"
            );
            assert_eq!(r.header("cache-control"), "public, max-age=10", "{key}");
            assert_eq!(
                r.header("etag"),
                "",
                "a fallback is never validated as the thumbnail"
            );
            assert_eq!(size(&r.body), (200, 100), "rendered to the preset's box");
            assert_no_metadata(&r.body, key);
        }
        // An `auto` preset negotiates the fallback's format like a thumbnail's.
        let r = send_with(
            app.addr,
            "GET",
            &format!("/t/medium/{key}"),
            &[("Accept", "image/webp")],
            b"",
        )
        .await;
        assert_eq!((r.status, r.header("content-type")), (status, "image/webp"));
        assert_eq!(r.header("vary"), "Accept");
    }
    // The API keeps answering problem+json, and a real original is untouched.
    let api = send(
        app.addr,
        "GET",
        "/v1/originals/a/missing.jpg",
        Some(TOKEN),
        b"",
    )
    .await;
    assert_eq!(api.status, 404);
    api.problem();
    let ok = app.get("/t/card/a/photo.jpg").await;
    assert_eq!((ok.status, ok.header("x-thumbkit-fallback")), (200, ""));
    // A preset's own fallback wins over the global one.
    let own = Presets::of([{
        let mut p = preset(
            "own",
            "width = 64\nheight = 64\nfit = \"cover\"\nformat = \"png\"",
        );
        p.fallback = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bggn4a16.png"));
        p
    }]);
    let other = spawn_app_with(
        s3.store("").await,
        own,
        Settings::default(),
        Options::default(),
    )
    .await;
    let r = other.get("/t/own/a/missing.jpg").await;
    assert_eq!(
        (r.status, r.header("x-thumbkit-fallback")),
        (404, "not-found")
    );
    assert_eq!(
        (r.header("content-type"), size(&r.body)),
        ("image/png", (64, 64))
    );
    // An unknown preset has no box to render to: problem+json.
    assert_eq!(
        app.get("/t/nope/a/missing.jpg").await.problem()["status"],
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_headers_name_the_file_date_it_and_allow_revalidating_in_the_background() {
    let s3 = S3Server::start("frontends-headers").await;
    s3.put("albums/Été 2024.jpg", fixture("DSCN0010.jpg")).await;
    let app = app(&s3, Settings::default(), Options::default()).await;
    let path = "/t/medium/albums/%C3%89t%C3%A9%202024.jpg";
    let r = send_with(app.addr, "GET", path, &[("Accept", "image/webp")], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-disposition"),
        "inline; filename=\"_t_ 2024.webp\"; filename*=UTF-8''%C3%89t%C3%A9%202024%2Ewebp"
    );
    let modified = httpdate::parse_http_date(r.header("last-modified")).expect("an HTTP date");
    let age = std::time::SystemTime::now()
        .duration_since(modified)
        .unwrap();
    assert!(
        age < Duration::from_secs(600),
        "the original's time: {age:?}"
    );
    assert_eq!(
        r.header("cache-control"),
        "public, max-age=60, stale-while-revalidate=86400"
    );
    let download = app.get(&format!("{path}?download=1")).await;
    assert!(
        download
            .header("content-disposition")
            .starts_with("attachment; filename=\"")
    );
    // A pinned URL is immutable: nothing to revalidate.
    let manifest = json(
        &send(
            app.addr,
            "GET",
            "/v1/originals/albums/%C3%89t%C3%A9%202024.jpg",
            Some(TOKEN),
            b"",
        )
        .await,
    );
    let pinned = app
        .get(manifest["variants"]["medium"]["url"].as_str().unwrap())
        .await;
    assert_eq!(
        pinned.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(pinned.header("last-modified"), r.header("last-modified"));
}
