//! The storage cost per request, measured from the metrics: the figures the README quotes.

use super::*;

/// Storage calls by `op kind` since `before` (from `/metrics`), sorted.
async fn calls_since(app: &App, before: &std::collections::BTreeMap<String, f64>) -> Vec<String> {
    let mut out = Vec::new();
    for (call, now) in app.storage_counts().await {
        let was = before.get(&call).copied().unwrap_or(0.0);
        out.extend(std::iter::repeat_n(call, (now - was) as usize));
    }
    out.sort();
    out
}

fn sorted<const N: usize>(calls: [&str; N]) -> Vec<String> {
    let mut out: Vec<String> = calls.iter().map(|c| (*c).to_owned()).collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storage_cost_per_request_is_what_the_readme_says() {
    let s3 = S3Server::start("costs").await;
    s3.put("p/cat.jpg", fixture("DSCN0010.jpg")).await;
    let settings = Settings {
        revalidate: Duration::from_millis(300),
        ..Settings::default()
    };
    let app = spawn_app(s3.store("").await, shipped_presets(), settings.clone()).await;
    let path = "/t/thumb/p/cat.jpg";

    let before = app.storage_counts().await;
    let cold = app.get(path).await;
    assert_eq!(cold.header("x-cache"), "miss");
    app.service.drain().await;
    let cold_calls = calls_since(&app, &before).await;
    // The record is written twice: under the key and ETag, and in the per-key index. No
    // instance had read this version of the original (no record), so no variant of it can
    // be stored: the store is not asked for one.
    assert_eq!(
        cold_calls,
        sorted([
            "head original",
            "get record",
            "get original",
            "put record",
            "put record",
            "put variant",
        ]),
        "cold miss"
    );

    let before = app.storage_counts().await;
    assert_eq!(app.get(path).await.header("x-cache"), "hit-memory");
    assert!(calls_since(&app, &before).await.is_empty(), "memory hit");

    // The same content under a key nobody has read: its variant is content-addressed, so
    // memory answers it (another instance would render it again rather than ask the store).
    s3.put("p/copy.jpg", fixture("DSCN0010.jpg")).await;
    let copy = app.get("/t/thumb/p/copy.jpg").await;
    assert_eq!(copy.header("x-cache"), "hit-memory");
    assert_eq!(copy.body, cold.body, "the same thumbnail");
    app.service.drain().await;

    // After THUMBKIT_REVALIDATE, a memory hit first checks the original with one HEAD.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let before = app.storage_counts().await;
    assert_eq!(app.get(path).await.header("x-cache"), "hit-memory");
    assert_eq!(
        calls_since(&app, &before).await,
        ["head original"],
        "revalidation"
    );

    // A second instance: HEAD, the shared record, the stored variant.
    let other = spawn_app(s3.store("").await, shipped_presets(), settings.clone()).await;
    let before = other.storage_counts().await;
    assert_eq!(other.get(path).await.header("x-cache"), "hit-store");
    assert_eq!(
        calls_since(&other, &before).await,
        sorted(["head original", "get record", "get variant"]),
        "second instance"
    );

    // A client revalidating its copy on a cold instance: HEAD and the record, no variant.
    let third = spawn_app(s3.store("").await, shipped_presets(), settings).await;
    let etag = cold.header("etag").to_owned();
    let before = third.storage_counts().await;
    let revalidated = request(third.addr, "GET", path, &[("If-None-Match", &etag)]).await;
    assert_eq!(revalidated.status, 304);
    assert_eq!(
        calls_since(&third, &before).await,
        sorted(["head original", "get record"]),
        "304"
    );

    // The README states these figures; they cannot drift from what is measured here.
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for claim in [
        "A cold miss costs 6 storage calls (HEAD original, GET record, GET original, PUT record \
         twice: under its ETag and in the per-key index, PUT variant)",
        "a second instance's first request 3 (HEAD, GET record, GET variant)",
        "a memory hit 0, and 1 (HEAD) once `THUMBKIT_REVALIDATE` has passed",
        "a 304 on a cold instance 2 (HEAD, GET record)",
        // Measured by `api::uploads::the_first_thumbnail_of_an_upload_…`.
        "the first thumbnail of an upload, on the instance that took it, 2 (HEAD, PUT variant)",
    ] {
        assert!(readme.contains(claim), "README must say: {claim}");
    }
}

/// Pre-generating every shipped preset of a stored original reads it once and decodes it
/// once: one GET of the original, one HEAD and one PUT per variant, and each stored variant
/// has the size of its own render.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pregenerating_every_preset_reads_the_original_once() {
    let s3 = S3Server::start("pregen-costs").await;
    let photo = fixture("IMG_9424.JPG");
    s3.put("p/photo.jpg", photo.clone()).await;
    let app = spawn_app(s3.store("").await, shipped_presets(), Settings::default()).await;
    let all = app.service.select_presets(&["all".into()]).expect("all");
    let before = app.storage_counts().await;
    let manifest = app
        .service
        .pregenerate("p/photo.jpg", &all)
        .await
        .expect("pregenerates")
        .manifest;
    let calls = calls_since(&app, &before).await;
    let count = |call: &str| calls.iter().filter(|c| *c == call).count();
    // avatar (and its 2x and 3x), large, medium, small: JPEG, WebP and AVIF; og and thumb:
    // JPEG.
    assert_eq!(count("get original"), 1, "{calls:?}");
    assert_eq!(count("head variant"), 20, "{calls:?}");
    assert_eq!(count("put variant"), 20, "{calls:?}");
    let stored: Vec<String> = s3
        .keys("")
        .await
        .into_iter()
        .filter(|k| is_variant(k))
        .collect();
    assert_eq!(stored.len(), 20, "{stored:?}");
    for preset in &all {
        let info = &manifest.variants[preset.name.as_str()];
        assert_eq!(info.pregenerated.as_deref(), Some("rendered"));
        let alone = render(&photo, preset, OutputFormat::Jpeg);
        let key = stored
            .iter()
            .find(|k| k.contains(&format!("/{}.", preset.name)) && k.ends_with(".jpg"))
            .unwrap_or_else(|| panic!("{}: no JPEG in {stored:?}", preset.name));
        let (bytes, _) = s3.get(key).await.expect("stored");
        assert_eq!(
            decode_rgb(&bytes).dimensions(),
            (alone.width, alone.height),
            "{key}"
        );
        assert_no_metadata(&bytes, key);
    }
    // Every variant is in memory too: a request right after is a memory hit.
    let hit = app.get("/t/large/p/photo.jpg").await;
    assert_eq!(hit.header("x-cache"), "hit-memory");
}
