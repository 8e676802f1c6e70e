//! The HTTP service over a real S3 server (s3s-fs on 127.0.0.1, SigV4 auth on), through real
//! sockets: tiers and what lands in the bucket, a second instance, replaced originals and
//! edited presets, single-flight, prefix confinement, storage failures, and `thumbkit serve`
//! configured with the standard `AWS_*` variables.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::keys::{ContentHash, VariantKey};
use thumbkit::pipeline::OutputFormat;
use thumbkit::preset::Presets;
use thumbkit::service::Settings;
use thumbkit::storage::{S3Location, S3Options, S3Store};

mod binary;
mod costs;
mod sources;

fn variant_key(prefix: &str, fixture_name: &str, preset: &str) -> String {
    let hash = ContentHash::of(&fixture(fixture_name));
    let preset = shipped(preset);
    let key = VariantKey::new(
        "_variants",
        &hash,
        &preset.name,
        preset.fingerprint(),
        "jpg",
    );
    format!("{prefix}{key}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variants_land_in_the_bucket_and_are_served_from_memory_then_from_s3() {
    let s3 = S3Server::start("tiers").await;
    s3.put("site/uploads/cat.jpg", fixture("HMD_Nokia_8.3_5G.jpg"))
        .await;
    let app = spawn_app(
        s3.store("site").await,
        shipped_presets(),
        Settings::default(),
    )
    .await;

    let first = app.get("/t/thumb/uploads/cat.jpg").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type"), "image/jpeg");
    assert_eq!(first.header("x-cache"), "miss");
    assert_eq!(decode_rgb(&first.body).dimensions(), (320, 137));
    assert_no_metadata(&first.body, "thumb from S3");

    // Written behind the response, at the documented key, with its content type.
    app.service.drain().await;
    let key = variant_key("site/", "HMD_Nokia_8.3_5G.jpg", "thumb");
    let (stored, content_type) = s3.get(&key).await.expect("variant in the bucket");
    assert_eq!(stored, first.body);
    assert_eq!(content_type, "image/jpeg");

    // The second request is answered from memory without a single storage call.
    let calls = app.storage_calls().await;
    let second = app.get("/t/thumb/uploads/cat.jpg").await;
    assert_eq!(second.header("x-cache"), "hit-memory");
    assert_eq!(second.body, first.body);
    assert_eq!(
        app.storage_calls().await,
        calls,
        "no storage call on a memory hit"
    );

    // A fresh instance over the same bucket serves it from S3: no render, and the shared
    // record spares it reading the original.
    let other = spawn_app(
        s3.store("site").await,
        shipped_presets(),
        Settings::default(),
    )
    .await;
    let third = other.get("/t/thumb/uploads/cat.jpg").await;
    assert_eq!(third.status, 200);
    assert_eq!(third.header("x-cache"), "hit-store");
    assert_eq!(third.body, first.body);
    assert_eq!(other.metric("thumbkit_renders_total", &[]).await, 0.0);
    let read_original = other
        .metric(
            "thumbkit_storage_requests_total",
            &["op=\"get\"", "kind=\"original\""],
        )
        .await;
    assert_eq!(read_original, 0.0, "the original was not downloaded again");

    // A browser revalidating its copy with a fresh instance: 304 from the ETag alone, with
    // neither the variant fetched nor anything rendered.
    let third_instance = spawn_app(
        s3.store("site").await,
        shipped_presets(),
        Settings::default(),
    )
    .await;
    let etag = first.header("etag").to_owned();
    let revalidated = request(
        third_instance.addr,
        "GET",
        "/t/thumb/uploads/cat.jpg",
        &[("If-None-Match", &format!("W/{etag}"))],
    )
    .await;
    assert_eq!(revalidated.status, 304);
    assert_eq!(revalidated.header("etag"), etag);
    let variant_calls = third_instance
        .metric("thumbkit_storage_requests_total", &["kind=\"variant\""])
        .await;
    assert_eq!(variant_calls, 0.0);

    // The counters tell the story.
    let app = &app;
    let m = |preset, cache| {
        let labels = [format!("preset=\"{preset}\""), format!("cache=\"{cache}\"")];
        async move {
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            app.metric("thumbkit_requests_total", &labels).await
        }
    };
    assert_eq!(m("thumb", "miss").await, 1.0);
    assert_eq!(m("thumb", "hit-memory").await, 1.0);
    assert_eq!(
        app.metric("thumbkit_renders_total", &["preset=\"thumb\""])
            .await,
        1.0
    );
    assert_eq!(app.metric("thumbkit_render_seconds_count", &[]).await, 1.0);
    assert!(app.metric("thumbkit_memory_cache_bytes", &[]).await >= first.body.len() as f64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_requests_render_once_and_put_once() {
    let s3 = S3Server::start("flight").await;
    s3.put("big.jpg", fixture("IMG_9424.JPG")).await;
    let app = spawn_app(s3.store("").await, shipped_presets(), Settings::default()).await;
    let renders_before = app.metric("thumbkit_renders_total", &[]).await;
    let addr = app.addr;
    let handles: Vec<_> = (0..50)
        .map(|_| tokio::spawn(async move { request(addr, "GET", "/t/medium/big.jpg", &[]).await }))
        .collect();
    let mut replies = Vec::new();
    for h in handles {
        replies.push(h.await.unwrap());
    }
    assert!(replies.iter().all(|r| r.status == 200));
    assert!(replies.iter().all(|r| r.body == replies[0].body));
    let misses = replies
        .iter()
        .filter(|r| r.header("x-cache") == "miss")
        .count();
    assert_eq!(misses, 1);
    app.service.drain().await;
    let renders = app.metric("thumbkit_renders_total", &[]).await - renders_before;
    assert_eq!(renders, 1.0, "exactly one render");
    let puts = app
        .metric(
            "thumbkit_storage_requests_total",
            &["op=\"put\"", "kind=\"variant\""],
        )
        .await;
    assert_eq!(puts, 1.0, "exactly one variant PUT");
    let variants: Vec<_> = s3
        .keys("_variants/")
        .await
        .into_iter()
        .filter(|k| is_variant(k))
        .collect();
    assert_eq!(variants, [variant_key("", "IMG_9424.JPG", "medium")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_originals_and_edited_presets_are_never_served_stale() {
    let s3 = S3Server::start("stale").await;
    let settings = Settings {
        revalidate: Duration::from_millis(200),
        ..Settings::default()
    };
    let app = spawn_app(s3.store("").await, shipped_presets(), settings.clone()).await;
    s3.put("p.jpg", fixture("DSCN0010.jpg")).await; // 640x480
    let before = app.get("/t/thumb/p.jpg").await;
    assert_eq!(decode_rgb(&before.body).dimensions(), (320, 240));

    s3.put("p.jpg", fixture("HMD_Nokia_8.3_5G.jpg")).await; // 4608x1976
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after = app.get("/t/thumb/p.jpg").await;
    assert_eq!(after.status, 200);
    assert_eq!(decode_rgb(&after.body).dimensions(), (320, 137));
    assert_ne!(before.header("etag"), after.header("etag"));
    // Pinning the old content now finds nothing rather than the old thumbnail.
    let old = ContentHash::of(&fixture("DSCN0010.jpg"));
    let pinned = app.get(&format!("/t/thumb/p.jpg?v={old}")).await;
    assert_eq!(pinned.status, 404);

    // Edit the thumb preset (quality) and start an instance with it over the same bucket.
    let dir = temp_dir("edited-presets");
    let presets_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets");
    let text = std::fs::read_to_string(presets_dir.join("thumb.toml")).unwrap();
    let edited = text.replace("quality = 80", "quality = 60");
    assert_ne!(edited, text, "the shipped thumb preset sets quality = 80");
    std::fs::write(dir.join("thumb.toml"), edited).unwrap();
    let presets = Presets::load(&[dir]).unwrap();
    let edited_app = spawn_app(s3.store("").await, presets, settings).await;
    let rendered = edited_app.get("/t/thumb/p.jpg").await;
    assert_eq!(rendered.status, 200);
    assert_eq!(
        rendered.header("x-cache"),
        "miss",
        "a new fingerprint renders anew"
    );
    assert_ne!(rendered.header("etag"), after.header("etag"));
    assert!(
        rendered.body.len() < after.body.len(),
        "lower quality, fewer bytes"
    );
    app.service.drain().await;
    edited_app.service.drain().await;
    let thumbs: Vec<_> = s3
        .keys("_variants/")
        .await
        .into_iter()
        .filter(|k| k.contains("/thumb."))
        .collect();
    assert_eq!(
        thumbs.len(),
        3,
        "old content, new content, edited preset: {thumbs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_reaches_outside_the_prefix() {
    let s3 = S3Server::start("prefix").await;
    s3.put("tenant-a/ok.jpg", fixture("DSCN0010.jpg")).await;
    s3.put("tenant-b/secret.jpg", fixture("DSCN0010.jpg")).await;
    let app = spawn_app(
        s3.store("tenant-a/").await,
        shipped_presets(),
        Settings::default(),
    )
    .await;
    assert_eq!(app.get("/t/thumb/ok.jpg").await.status, 200);
    for (path, status) in [
        ("/t/thumb/tenant-b/secret.jpg", 404),
        ("/t/thumb/../tenant-b/secret.jpg", 400),
        ("/t/thumb/..%2Ftenant-b%2Fsecret.jpg", 400),
        ("/t/thumb/%2e%2e/tenant-b/secret.jpg", 400),
        ("/t/thumb//tenant-b/secret.jpg", 400),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, status, "{path}");
        assert_eq!(r.problem()["status"], status, "{path}");
    }
    app.service.drain().await;
    let outside: Vec<_> = s3
        .keys("")
        .await
        .into_iter()
        .filter(|k| !k.starts_with("tenant-a/") && k != "tenant-b/secret.jpg")
        .collect();
    assert!(
        outside.is_empty(),
        "written outside the prefix: {outside:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_failures_are_problem_json_503_or_502() {
    let s3 = S3Server::start("failures").await;
    s3.put("a.jpg", fixture("DSCN0010.jpg")).await;
    let settings = Settings {
        storage_timeout: Duration::from_secs(5),
        ..Settings::default()
    };
    // Nothing listens on this port any more: unreachable, 503 with Retry-After.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let unreachable = S3Store::connect(
        S3Location::parse(BUCKET).unwrap(),
        S3Options {
            endpoint_url: Some(format!("http://{closed}")),
            ..s3.options()
        },
    )
    .await;
    let wrong_secret = S3Store::connect(
        S3Location::parse(BUCKET).unwrap(),
        S3Options {
            credentials: Some((ACCESS_KEY.into(), "not-the-secret".into())),
            ..s3.options()
        },
    )
    .await;
    let no_bucket =
        S3Store::connect(S3Location::parse("no-such-bucket").unwrap(), s3.options()).await;
    // A HEAD cannot tell a missing bucket from a missing key (no body), so requests see
    // 404 there; readiness (and `thumbkit serve` at start) checks the bucket itself.
    for (store, status, ready_status, words) in [
        (unreachable, 503, 503, "storage is unavailable"),
        (wrong_secret, 502, 502, "refused thumbkit's credentials"),
        (no_bucket, 404, 502, "bucket does not exist"),
    ] {
        let app = spawn_app(
            std::sync::Arc::new(store),
            shipped_presets(),
            settings.clone(),
        )
        .await;
        let r = app.get("/t/thumb/a.jpg").await;
        assert_eq!(r.status, status, "{words}");
        let detail = r.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if status == 503 {
            assert_eq!(r.header("retry-after"), "1");
        }
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status, ready_status, "readyz: {words}");
        let ready_detail = ready.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(ready_detail.contains(words), "{ready_detail}");
        // The endpoint, the bucket and the SDK's story are for the log, not the client.
        for internal in ["127.0.0.1", "no-such-bucket", "http://"] {
            assert!(!detail.contains(internal), "{detail}");
            assert!(!ready_detail.contains(internal), "{ready_detail}");
        }
        if status != 404 {
            assert!(detail.contains(words), "{detail}");
        }
        assert_eq!(app.get("/healthz").await.status, 200, "alive all the same");
    }
}
