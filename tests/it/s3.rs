//! The HTTP service over a real S3 server (s3s-fs on 127.0.0.1, SigV4 auth on), through real
//! sockets: tiers and what lands in the bucket, a second instance, replaced originals and
//! edited presets, single-flight, prefix confinement, storage failures, and `thumbkit serve`
//! configured with the standard `AWS_*` variables.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::keys::{ContentHash, VariantKey};
use thumbkit::pipeline::OutputFormat;
use thumbkit::preset::Presets;
use thumbkit::service::Settings;
use thumbkit::storage::{S3Location, S3Options, S3Store};

fn variant_key(prefix: &str, fixture_name: &str, preset: &str) -> String {
    let hash = ContentHash::of(&fixture(fixture_name));
    let key = VariantKey::new("_variants", &hash, &shipped(preset), OutputFormat::Jpeg);
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

/// Runs `thumbkit serve` with the environment of an AWS user; returns its address, and the
/// child.
fn start_binary(s3: &S3Server, storage: &str) -> (std::process::Child, Option<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_thumbkit"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("THUMBKIT_LISTEN", "127.0.0.1:0")
        .env("THUMBKIT_STORAGE", storage)
        .env(
            "THUMBKIT_PRESETS",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("presets"),
        )
        .env("AWS_ENDPOINT_URL", &s3.endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut addr = None;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(rest) = line.split("http://").nth(1) {
            addr = rest.split('/').next().map(str::to_owned);
            break;
        }
    }
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_binary_uses_the_standard_aws_variables_and_drains_on_sigterm() {
    let s3 = S3Server::start("binary").await;
    s3.put("site/photo.jpg", fixture("IMG_9424.JPG")).await;
    let server = {
        let s3 = s3.clone();
        tokio::task::spawn_blocking(move || start_binary(&s3, "s3://photos/site"))
            .await
            .unwrap()
    };
    let (mut child, addr) = server;
    let addr: std::net::SocketAddr = addr.expect("printed its address").parse().unwrap();
    let r = request(addr, "GET", "/t/thumb/photo.jpg", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "image/jpeg");
    assert_eq!(decode_rgb(&r.body).dimensions(), (320, 240));
    assert_no_metadata(&r.body, "served by the binary");

    // SIGTERM: the pending write behind the response is finished before the exit.
    let pid = i32::try_from(child.id()).unwrap();
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    let key = variant_key("site/", "IMG_9424.JPG", "thumb");
    assert_eq!(s3.get(&key).await.map(|(b, _)| b), Some(r.body));

    // A bucket that does not exist fails at start, with one line.
    let (child, addr) = {
        let s3 = s3.clone();
        tokio::task::spawn_blocking(move || start_binary(&s3, "s3://missing-bucket"))
            .await
            .unwrap()
    };
    assert!(addr.is_none());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("`missing-bucket` does not exist"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_at_start_say_what_is_wrong_in_one_line() {
    let s3 = S3Server::start("refused-start").await;
    let wrong_secret = S3Store::connect(
        S3Location::parse(BUCKET).unwrap(),
        S3Options {
            credentials: Some((ACCESS_KEY.into(), "not-the-secret".into())),
            ..s3.options()
        },
    )
    .await;
    use thumbkit::storage::Store;
    let e = wrong_secret.check().await.unwrap_err().to_string();
    // The HEAD's bare 403 is followed by a GET whose error document names the cause.
    assert!(e.starts_with("access denied (SignatureDoesNotMatch"), "{e}");
    assert!(e.contains("AWS_SECRET_ACCESS_KEY"), "{e}");
    assert!(!e.contains("): ;"), "{e}");

    let mut env = Binary::s3_env(&s3, "s3://photos");
    env.retain(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY");
    env.push(("AWS_SECRET_ACCESS_KEY", "not-the-secret".into()));
    let out = Command::new(env!("CARGO_BIN_EXE_thumbkit"))
        .args(["pregen", "--storage", "s3://photos"])
        .envs(env)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("thumbkit: storage s3://photos/: access denied (SignatureDoesNotMatch"),
        "{stderr}"
    );
}

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
    // The record is written twice: under the key and ETag, and in the per-key index.
    assert_eq!(
        cold_calls,
        sorted([
            "head original",
            "get record",
            "get original",
            "put record",
            "put record",
            "get variant",
            "put variant",
        ]),
        "cold miss"
    );

    let before = app.storage_counts().await;
    assert_eq!(app.get(path).await.header("x-cache"), "hit-memory");
    assert!(calls_since(&app, &before).await.is_empty(), "memory hit");

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
        "A cold miss costs 7 storage calls (HEAD original, GET record, GET original, PUT record \
         twice: under its ETag and in the per-key index, GET variant, PUT variant)",
        "a second instance's first request 3 (HEAD, GET record, GET variant)",
        "a memory hit 0, and 1 (HEAD) once `THUMBKIT_REVALIDATE` has passed",
        "a 304 on a cold instance 2 (HEAD, GET record)",
    ] {
        assert!(readme.contains(claim), "README must say: {claim}");
    }
}
