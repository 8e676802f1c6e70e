//! The upload-hook API (`/v1/originals`) over a real S3 server, through real sockets:
//! validated uploads and their manifests, pre-generation, hostile uploads, tokens, deletes.

use std::time::Duration;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::http::Options;
use thumbkit::pipeline::Limits;
use thumbkit::service::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "s3cret-token";

/// Sends `body` with `method` to `path` (with the bearer token when `token` is given).
async fn send(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    send_with(addr, method, path, &headers, body).await
}

/// Sends `body` with `method` to `path` with `headers`.
async fn send_with(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) and close before the whole body is sent.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    parse_reply(&raw)
}

fn json(r: &Reply) -> serde_json::Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&r.body)))
}

async fn app_with_token(s3: &S3Server, settings: Settings) -> App {
    let options = Options {
        api_token: Some(TOKEN.into()),
        ..Options::default()
    };
    spawn_app_with(s3.store("").await, shipped_presets(), settings, options).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_with_pregeneration_writes_the_original_once_and_never_reads_it_back() {
    let s3 = S3Server::start("upload-reads").await;
    let app = app_with_token(&s3, Settings::default()).await;
    let photo = fixture("DSCN0010.jpg");
    let before = app.storage_counts().await;
    let r = send(
        app.addr,
        "PUT",
        "/v1/originals/p/cat.jpg?pregenerate=all",
        Some(TOKEN),
        &photo,
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let m = json(&r);
    let variants = m["variants"].as_object().unwrap();
    assert!(
        variants.values().all(|v| v["pregenerated"] == "rendered"),
        "{m}"
    );
    let after = app.storage_counts().await;
    let calls = |what: &str| after[what] - before[what];
    assert_eq!(calls("put original"), 1.0, "the original is written once");
    assert_eq!(calls("get original"), 0.0, "and never read back");
    assert_eq!(calls("head original"), 0.0, "nor asked about");
    // Every variant the manifest promises is in the bucket.
    let stored = s3.keys("_variants/").await;
    let rendered = stored.iter().filter(|k| is_variant(k)).count();
    assert!(rendered >= variants.len(), "{stored:?}");
    assert_eq!(calls("put variant"), rendered as f64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_returns_a_manifest_whose_pregenerated_urls_are_all_cache_hits() {
    let s3 = S3Server::start("upload").await;
    let app = app_with_token(&s3, Settings::default()).await;
    let photo = fixture("IMG_9424.JPG"); // 4032x3024 iPhone photo with GPS
    let key = "users/7/Photo d'été ü.jpg";
    let path = "/v1/originals/users/7/Photo%20d'%C3%A9t%C3%A9%20%C3%BC.jpg?pregenerate=all";
    let r = send(app.addr, "PUT", path, Some(TOKEN), &photo).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let m = json(&r);
    assert_eq!(m["key"], key);
    assert_eq!(m["bytes"], photo.len());
    assert_eq!(m["format"], "jpeg");
    assert_eq!(
        (m["width"].as_u64(), m["height"].as_u64()),
        (Some(4032), Some(3024))
    );
    let hash = m["hash"].as_str().unwrap().to_owned();
    assert_eq!(hash, thumbkit::keys::ContentHash::of(&photo).to_string());
    // A 4x3-component BlurHash: 1 + 1 + 4 + 2 x 11 characters.
    let blurhash = m["blurhash"].as_str().unwrap_or_default().to_owned();
    assert_eq!(blurhash.len(), 28, "{blurhash}");

    // Stored with its hash in the object's metadata.
    let head = s3
        .client
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.metadata().and_then(|m| m.get("thumbkit-blake3")),
        Some(&hash)
    );

    let variants = m["variants"].as_object().unwrap();
    assert_eq!(variants.len(), 6);
    let renders = app.metric("thumbkit_renders_total", &[]).await;
    for (name, v) in variants {
        assert_eq!(v["pregenerated"], "rendered", "{name}");
        let url = v["url"].as_str().unwrap();
        assert!(url.ends_with(&format!("?v={hash}")), "{url}");
        let served = app.get(url).await;
        assert_eq!(served.status, 200, "{name}: {url}");
        assert_ne!(served.header("x-cache"), "miss", "{name}");
        assert_eq!(
            served.header("cache-control"),
            "public, max-age=31536000, immutable"
        );
        let size = decode_rgb(&served.body).dimensions();
        let want = (
            v["width"].as_u64().unwrap() as u32,
            v["height"].as_u64().unwrap() as u32,
        );
        assert_eq!(size, want, "{name}");
        assert_no_metadata(&served.body, name);
    }
    assert_eq!(
        app.metric("thumbkit_renders_total", &[]).await,
        renders,
        "every GET after pre-generation rendered nothing"
    );
    // A fresh instance finds them all in the bucket.
    let other = spawn_app(s3.store("").await, shipped_presets(), Settings::default()).await;
    for v in variants.values() {
        let served = other.get(v["url"].as_str().unwrap()).await;
        assert_eq!(served.header("x-cache"), "hit-store");
    }
    assert_eq!(other.metric("thumbkit_renders_total", &[]).await, 0.0);

    // GET /v1/originals says which variants are stored.
    let encoded_key = "/v1/originals/users/7/Photo%20d'%C3%A9t%C3%A9%20%C3%BC.jpg";
    let described = json(&send(app.addr, "GET", encoded_key, Some(TOKEN), b"").await);
    assert_eq!(described["hash"], hash);
    assert_eq!(described["blurhash"], blurhash.as_str());
    assert!(
        described["variants"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| v["stored"] == true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_uploads_store_nothing_and_get_problem_json() {
    let s3 = S3Server::start("hostile").await;
    let settings = Settings {
        limits: Limits {
            max_input_bytes: 3 << 20,
            ..Limits::default()
        },
        ..Settings::default()
    };
    let app = app_with_token(&s3, settings).await;
    for (fixture_name, status, words) in [
        ("bomb-60000x60000.png", 422, "60000x60000"),
        ("truncated.jpg", 422, "truncated"),
        ("exif-samples-README.jpg", 422, "text, not an image"),
        ("empty.jpg", 422, "empty"),
    ] {
        let r = send(
            app.addr,
            "PUT",
            &format!("/v1/originals/up/{fixture_name}"),
            Some(TOKEN),
            &fixture(fixture_name),
        )
        .await;
        assert_eq!(r.status, status, "{fixture_name}");
        let detail = r.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains(words), "{fixture_name}: {detail}");
    }
    // A form upload (curl -F), labelled as such or not, is told to send the raw file.
    let photo = fixture("DSCN0010.jpg");
    let mut form = b"--X-BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; \
                     filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        .to_vec();
    form.extend_from_slice(&photo);
    form.extend_from_slice(b"\r\n--X-BOUNDARY--\r\n");
    let auth = format!("Bearer {TOKEN}");
    for content_type in ["multipart/form-data; boundary=X-BOUNDARY", "image/jpeg"] {
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", content_type),
        ];
        let r = send_with(
            app.addr,
            "PUT",
            "/v1/originals/up/form.jpg",
            &headers,
            &form,
        )
        .await;
        assert_eq!(r.status, 400, "{content_type}");
        let detail = r.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains("must be the raw image file"), "{detail}");
    }
    // Over the size limit: refused from Content-Length before the body is read...
    let big = vec![0xffu8; 4 << 20];
    let r = send(
        app.addr,
        "PUT",
        "/v1/originals/up/big.jpg",
        Some(TOKEN),
        &big,
    )
    .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.problem()["status"], 413);
    // ...and when the body is chunked with no length, reading stops at the limit.
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "PUT /v1/originals/up/chunked.jpg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Authorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![0xffu8; 1 << 20];
    for _ in 0..5 {
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(&chunk);
        framed.extend_from_slice(b"\r\n");
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw)).await;
    assert_eq!(parse_reply(&raw).status, 413);
    // A key in thumbkit's own prefix.
    let r = send(
        app.addr,
        "PUT",
        "/v1/originals/_variants/ab/fake.jpg",
        Some(TOKEN),
        &fixture("DSCN0010.jpg"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        s3.keys("").await.is_empty(),
        "nothing stored: {:?}",
        s3.keys("").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_the_token_and_deletes_leave_nothing_derived() {
    let s3 = S3Server::start("delete").await;
    let app = app_with_token(&s3, Settings::default()).await;
    let photo = fixture("DSCN0010.jpg");
    let encoded = "/v1/originals/a/b%20c.jpg";
    for token in [None, Some("wrong")] {
        let r = send(app.addr, "PUT", encoded, token, &photo).await;
        assert_eq!(r.status, 401, "{token:?}");
        assert_eq!(
            r.header("www-authenticate"),
            "Bearer, Basic realm=\"thumbkit\""
        );
        assert_eq!(r.problem()["status"], 401);
    }
    assert!(s3.keys("").await.is_empty());
    let r = send(
        app.addr,
        "PUT",
        &format!("{encoded}?pregenerate=thumb,small"),
        Some(TOKEN),
        &photo,
    )
    .await;
    assert_eq!(r.status, 201);
    let m = json(&r);
    assert_eq!(m["variants"]["thumb"]["pregenerated"], "rendered");
    assert!(m["variants"]["large"]["pregenerated"].is_null());
    // Reads need the token too: a manifest hands out URLs and tells which keys exist.
    for path in [encoded, "/v1/originals/no/such.jpg", "/v1/presets"] {
        let r = app.get(path).await;
        assert_eq!(r.status, 401, "{path}");
        assert!(r.header("www-authenticate").starts_with("Bearer"));
        assert!(
            !String::from_utf8_lossy(&r.body).contains("sig="),
            "{path}: no signed URL without the token"
        );
    }
    let r = send(app.addr, "GET", encoded, Some("not-the-token"), b"").await;
    assert_eq!(r.status, 401);
    assert_eq!(
        send(app.addr, "GET", encoded, Some(TOKEN), b"")
            .await
            .status,
        200
    );
    // A request renders one more variant (behind the response).
    assert_eq!(app.get("/t/medium/a/b%20c.jpg").await.status, 200);
    app.service.drain().await;
    let hash = m["hash"].as_str().unwrap().to_owned();
    assert!(s3.keys("").await.iter().any(|k| k.contains(&hash)));

    assert_eq!(
        send(app.addr, "DELETE", encoded, None, b"").await.status,
        401
    );
    let r = send(app.addr, "DELETE", encoded, Some(TOKEN), b"").await;
    assert_eq!(r.status, 200);
    let deleted = json(&r);
    assert_eq!(deleted["original"], true);
    // thumb, small (jpeg + webp: `auto`), medium: at least 3 variants.
    assert!(
        deleted["derived"].as_array().unwrap().len() >= 3,
        "{deleted}"
    );
    assert!(
        s3.keys("").await.is_empty(),
        "left: {:?}",
        s3.keys("").await
    );
    assert_eq!(app.get("/t/thumb/a/b%20c.jpg").await.status, 404);
    let again = json(&send(app.addr, "DELETE", encoded, Some(TOKEN), b"").await);
    assert_eq!(again["original"], false, "idempotent");
}

fn event(name: &str, bucket: &str, encoded_key: &str) -> Vec<u8> {
    serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2026-11-24T09:00:00.000Z",
            "eventName": name,
            "s3": {
                "s3SchemaVersion": "1.0",
                "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
                "object": {"key": encoded_key, "size": 1, "sequencer": "0A1B2C3D4E5F678901"}
            }
        }]
    })
    .to_string()
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_events_pregenerate_new_originals_and_purge_removed_ones() {
    let s3 = S3Server::start("events").await;
    let app = app_with_token(&s3, Settings::default()).await;
    let key = "events/My photo été.jpg";
    s3.put(key, fixture("DSCN0010.jpg")).await;
    // As S3 sends it: URL-encoded, `+` for spaces (signed SNS envelopes: tests/sns.rs).
    let created = event(
        "ObjectCreated:Put",
        BUCKET,
        "events/My+photo+%C3%A9t%C3%A9.jpg",
    );
    assert_eq!(
        send(app.addr, "POST", "/v1/hooks/s3", None, &created)
            .await
            .status,
        401
    );
    let r = send(app.addr, "POST", "/v1/hooks/s3", Some(TOKEN), &created).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let results = json(&r)["results"].clone();
    assert_eq!(results[0]["action"], "pregenerated", "{results}");
    assert_eq!(results[0]["key"], key);
    let renders = app.metric("thumbkit_renders_total", &[]).await;
    assert!(renders >= 6.0, "every preset rendered: {renders}");
    // A fresh instance serves every preset from the bucket without rendering.
    let other = spawn_app(s3.store("").await, shipped_presets(), Settings::default()).await;
    for preset in ["thumb", "small", "medium", "large", "avatar", "og"] {
        let r = other
            .get(&format!(
                "/t/{preset}/events/My%20photo%20%C3%A9t%C3%A9.jpg"
            ))
            .await;
        assert_eq!(r.status, 200, "{preset}");
        assert_eq!(r.header("x-cache"), "hit-store", "{preset}");
    }
    assert_eq!(other.metric("thumbkit_renders_total", &[]).await, 0.0);

    // Other buckets and thumbkit's own objects are ignored.
    for ignored in [
        event(
            "ObjectCreated:Put",
            "another-bucket",
            "events/My+photo+%C3%A9t%C3%A9.jpg",
        ),
        event("ObjectCreated:Put", BUCKET, "_variants/ab/x.jpg"),
    ] {
        let r = json(&send(app.addr, "POST", "/v1/hooks/s3", Some(TOKEN), &ignored).await);
        assert_eq!(r["results"][0]["action"], "ignored", "{r}");
    }
    let bad = send(
        app.addr,
        "POST",
        "/v1/hooks/s3",
        Some(TOKEN),
        b"{\"no\": 1}",
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.problem()["status"], 400);

    // The original is removed from S3 directly; the event purges everything derived.
    s3.client
        .delete_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    let removed = event(
        "ObjectRemoved:Delete",
        BUCKET,
        "events/My+photo+%C3%A9t%C3%A9.jpg",
    );
    let r = json(&send(app.addr, "POST", "/v1/hooks/s3", Some(TOKEN), &removed).await);
    assert_eq!(r["results"][0]["action"], "purged", "{r}");
    assert!(
        s3.keys("").await.is_empty(),
        "left: {:?}",
        s3.keys("").await
    );
    // S3 sends one record per notification: 1000 in one body are refused before any work.
    let one: serde_json::Value = serde_json::from_slice(&created).unwrap();
    let many = serde_json::json!({ "Records": vec![one["Records"][0].clone(); 1000] });
    app.service.drain().await;
    let calls = app.storage_calls().await;
    let r = send(
        app.addr,
        "POST",
        "/v1/hooks/s3",
        Some(TOKEN),
        many.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 413);
    assert!(
        r.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("at most 100")
    );
    assert_eq!(
        app.storage_calls().await,
        calls,
        "no storage call for a refused batch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pregenerate_renders_missing_variants_and_skips_existing_ones() {
    let s3 = S3Server::start("pregen").await;
    let app = app_with_token(&s3, Settings::default()).await;
    s3.put("a.jpg", fixture("DSCN0010.jpg")).await;
    // A JPEG under a .png name; another photo, so that neither finds the other's variants.
    s3.put("b/c.png", fixture("Landscape_1.jpg")).await;
    let body = br#"{"keys": ["a.jpg", "b/c.png", "missing.jpg"], "presets": ["thumb", "small"]}"#;
    let r = send(app.addr, "POST", "/v1/pregenerate", Some(TOKEN), body).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let results = json(&r)["results"].clone();
    assert_eq!(results[0]["key"], "a.jpg");
    assert_eq!(
        results[0]["manifest"]["variants"]["thumb"]["pregenerated"],
        "rendered"
    );
    assert_eq!(
        results[1]["manifest"]["variants"]["small"]["pregenerated"],
        "rendered"
    );
    assert!(results[1]["manifest"]["variants"]["large"]["pregenerated"].is_null());
    assert!(
        results[2]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no original"),
        "{results}"
    );
    // Originals put straight into S3 get a BlurHash on their first GET.
    let described = json(&send(app.addr, "GET", "/v1/originals/a.jpg", Some(TOKEN), b"").await);
    assert_eq!(
        described["blurhash"].as_str().map(str::len),
        Some(28),
        "{described}"
    );
    let renders = app.metric("thumbkit_renders_total", &[]).await;
    let again = json(&send(app.addr, "POST", "/v1/pregenerate", Some(TOKEN), body).await);
    assert_eq!(
        again["results"][0]["manifest"]["variants"]["thumb"]["pregenerated"],
        "existing"
    );
    assert_eq!(
        app.metric("thumbkit_renders_total", &[]).await,
        renders,
        "nothing rendered twice"
    );
    let unknown = br#"{"keys": ["a.jpg"], "presets": ["nope"]}"#;
    let r = send(app.addr, "POST", "/v1/pregenerate", Some(TOKEN), unknown).await;
    assert_eq!(r.status, 400);
    assert!(
        r.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("nope")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_urls_valid_tampered_expired_and_rotated() {
    use thumbkit::signing::{Signer, now};
    let s3 = S3Server::start("signed").await;
    let (new_key, old_key) = ("new-signing-key-0123456789", "old-signing-key-0123456789");
    let settings = Settings {
        signer: Some(Signer::parse(&format!("{new_key},{old_key}")).unwrap()),
        ..Settings::default()
    };
    let options = Options {
        api_token: Some(TOKEN.into()),
        ..Options::default()
    };
    let app = spawn_app_with(s3.store("").await, shipped_presets(), settings, options).await;
    let r = send(
        app.addr,
        "PUT",
        "/v1/originals/s/p.jpg",
        Some(TOKEN),
        &fixture("DSCN0010.jpg"),
    )
    .await;
    assert_eq!(r.status, 201);
    let m = json(&r);
    let url = m["variants"]["thumb"]["url"].as_str().unwrap().to_owned();
    assert!(url.contains("&exp=") && url.contains("&sig="), "{url}");
    // Valid: the manifest's URL serves.
    let ok = app.get(&url).await;
    assert_eq!(ok.status, 200);
    assert_eq!(decode_rgb(&ok.body).dimensions(), (320, 240));
    // Unsigned, tampered (another preset, another exp) and expired: 403, before any work.
    // (The variant just rendered is written behind the response: let that finish first.)
    app.service.drain().await;
    let calls = app.storage_calls().await;
    let hash = m["hash"].as_str().unwrap();
    let expired = Signer::parse(new_key)
        .unwrap()
        .sign(&format!("/t/thumb/s/p.jpg?v={hash}"), now() - 5);
    for (bad, words) in [
        (format!("/t/thumb/s/p.jpg?v={hash}"), "must be signed"),
        (url.replace("/t/thumb/", "/t/large/"), "does not match"),
        (url.replace("&exp=", "&exp=9"), "does not match"),
        (expired, "expired"),
    ] {
        let r = app.get(&bad).await;
        assert_eq!(r.status, 403, "{bad}");
        let detail = r.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains(words), "{bad}: {detail}");
    }
    assert_eq!(
        app.storage_calls().await,
        calls,
        "refused before any storage call"
    );
    // Rotation: a URL signed with the older key still verifies.
    let by_old = Signer::parse(old_key)
        .unwrap()
        .sign(&format!("/t/small/s/p.jpg?v={hash}"), now() + 60);
    let served = app.get(&by_old).await;
    assert_eq!(served.status, 200);
    // A 60 s signature is cached for at most 60 s, pinned or not: no cache outlives `exp`.
    let max_age = |r: &Reply| -> u64 {
        let cc = r.header("cache-control");
        cc.split(", ")
            .find_map(|d| d.strip_prefix("max-age="))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no max-age in `{cc}`"))
    };
    assert!(
        (55..=60).contains(&max_age(&served)),
        "{}",
        served.header("cache-control")
    );
    let fifteen_minutes = Signer::parse(new_key)
        .unwrap()
        .sign(&format!("/t/small/s/p.jpg?v={hash}"), now() + 900);
    let served = app.get(&fifteen_minutes).await;
    assert!(
        (895..=900).contains(&max_age(&served)),
        "{}",
        served.header("cache-control")
    );
    let revalidated = request(
        app.addr,
        "GET",
        &fifteen_minutes,
        &[("If-None-Match", served.header("etag"))],
    )
    .await;
    assert_eq!(revalidated.status, 304);
    assert!(max_age(&revalidated) <= 900);
    // Without the token, no manifest (and so no signed URL) for anyone.
    let r = app.get("/v1/originals/s/p.jpg").await;
    assert_eq!(r.status, 401);
    assert!(!String::from_utf8_lossy(&r.body).contains("sig="));
    let by_unknown = Signer::parse("some-other-key-0123456789")
        .unwrap()
        .sign(&format!("/t/small/s/p.jpg?v={hash}"), now() + 60);
    assert_eq!(app.get(&by_unknown).await.status, 403);
}

/// Splits `http://127.0.0.1:port/path?query` into the address and the path with its query.
fn split_url(url: &str) -> (std::net::SocketAddr, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_once('/').unwrap();
    (host.parse().unwrap(), format!("/{path}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_uploads_go_straight_to_s3_and_are_validated_on_completion() {
    let s3 = S3Server::start("presigned").await;
    let app = app_with_token(&s3, Settings::default()).await;
    let photo = fixture("DSCN0010.jpg");
    let ask = |key: &str, size: usize| {
        serde_json::json!({"key": key, "content_type": "image/jpeg", "size": size}).to_string()
    };
    assert_eq!(
        send(
            app.addr,
            "POST",
            "/v1/uploads",
            None,
            ask("x.jpg", 10).as_bytes()
        )
        .await
        .status,
        401
    );
    let r = send(
        app.addr,
        "POST",
        "/v1/uploads",
        Some(TOKEN),
        ask("browser/My pic.jpg", photo.len()).as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let ticket = json(&r);
    let url = ticket["upload_url"].as_str().unwrap();
    assert!(url.starts_with(&s3.endpoint), "a presigned S3 URL: {url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let expires = ticket["expires_at"].as_u64().unwrap();
    assert!(expires <= thumbkit::signing::now() + 15 * 60);
    let complete = ticket["complete_url"].as_str().unwrap().to_owned();
    // Completing before the browser uploaded: 409, and the ticket stays usable.
    assert_eq!(
        send(app.addr, "POST", &complete, Some(TOKEN), b"")
            .await
            .status,
        409
    );

    // The browser's PUT goes to S3 itself, not through thumbkit.
    let (s3_addr, path) = split_url(url);
    let put = send_with(
        s3_addr,
        "PUT",
        &path,
        &[("Content-Type", "image/jpeg")],
        &photo,
    )
    .await;
    assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
    assert!(
        s3.get("browser/My pic.jpg").await.is_none(),
        "not at its key before validation"
    );

    let done = send(
        app.addr,
        "POST",
        &format!("{complete}?pregenerate=thumb"),
        Some(TOKEN),
        b"",
    )
    .await;
    assert_eq!(done.status, 201, "{}", String::from_utf8_lossy(&done.body));
    let m = json(&done);
    assert_eq!(m["key"], "browser/My pic.jpg");
    assert_eq!(m["variants"]["thumb"]["pregenerated"], "rendered");
    let (stored, _) = s3
        .get("browser/My pic.jpg")
        .await
        .expect("moved to its key");
    assert_eq!(stored, photo);
    assert!(s3.keys("_variants/_staging/").await.is_empty());
    let served = app
        .get(m["variants"]["thumb"]["url"].as_str().unwrap())
        .await;
    assert_eq!(served.status, 200);
    // Completed tickets are gone.
    assert_eq!(
        send(app.addr, "POST", &complete, Some(TOKEN), b"")
            .await
            .status,
        404
    );

    // A text file sent as an image: 422 on completion, and nothing is kept.
    let text = fixture("exif-samples-README.jpg");
    let r = send(
        app.addr,
        "POST",
        "/v1/uploads",
        Some(TOKEN),
        ask("browser/fake.jpg", text.len()).as_bytes(),
    )
    .await;
    let ticket = json(&r);
    let (s3_addr, path) = split_url(ticket["upload_url"].as_str().unwrap());
    let put = send_with(
        s3_addr,
        "PUT",
        &path,
        &[("Content-Type", "image/jpeg")],
        &text,
    )
    .await;
    assert_eq!(put.status, 200);
    let refused = send(
        app.addr,
        "POST",
        ticket["complete_url"].as_str().unwrap(),
        Some(TOKEN),
        b"",
    )
    .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("text")
    );
    assert!(s3.get("browser/fake.jpg").await.is_none());
    assert!(s3.keys("_variants/_staging/").await.is_empty());
    // Asking for too much, or not an image.
    let huge = ask("browser/huge.jpg", 1 << 40);
    assert_eq!(
        send(
            app.addr,
            "POST",
            "/v1/uploads",
            Some(TOKEN),
            huge.as_bytes()
        )
        .await
        .status,
        400
    );
    // Types that could never complete are refused up front, with the accepted list.
    let addr = app.addr;
    let ticket_for = |content_type: &str| {
        let body = serde_json::json!({"key": "a.x", "content_type": content_type, "size": 10});
        async move {
            send(
                addr,
                "POST",
                "/v1/uploads",
                Some(TOKEN),
                body.to_string().as_bytes(),
            )
            .await
        }
    };
    for content_type in [
        "application/pdf",
        "image/heic",
        "image/avif",
        "image/svg+xml",
    ] {
        let r = ticket_for(content_type).await;
        assert_eq!(r.status, 400, "{content_type}");
        let detail = r.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            detail.contains(content_type) && detail.contains("accepted: image/jpeg, image/png"),
            "{detail}"
        );
    }
    for content_type in ["image/JPEG", "image/jpg", "image/webp; q=1", "image/tiff"] {
        let r = ticket_for(content_type).await;
        assert_eq!(r.status, 201, "{content_type}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_fs_store_browser_uploads_go_to_a_signed_thumbkit_url() {
    let root = temp_dir("fs-uploads");
    let store: std::sync::Arc<dyn thumbkit::storage::Store> =
        std::sync::Arc::new(thumbkit::storage::FsStore::open(&root).await.unwrap());
    let options = Options {
        api_token: Some(TOKEN.into()),
        ..Options::default()
    };
    let app = spawn_app_with(store, shipped_presets(), Settings::default(), options).await;
    let photo = fixture("DSCN0010.jpg");
    let ask =
        serde_json::json!({"key": "u/p.jpg", "content_type": "image/jpeg", "size": photo.len()})
            .to_string();
    let ticket = json(&send(app.addr, "POST", "/v1/uploads", Some(TOKEN), ask.as_bytes()).await);
    let url = ticket["upload_url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("/v1/uploads/") && url.contains("&sig="),
        "{url}"
    );
    let tampered = url.replace("&sig=", "&sig=0");
    assert_eq!(
        send(app.addr, "PUT", &tampered, None, &photo).await.status,
        403
    );
    assert_eq!(
        send(app.addr, "PUT", &url, None, &photo[..100])
            .await
            .status,
        400,
        "size differs"
    );
    assert_eq!(send(app.addr, "PUT", &url, None, &photo).await.status, 200);
    let done = send(
        app.addr,
        "POST",
        ticket["complete_url"].as_str().unwrap(),
        Some(TOKEN),
        b"",
    )
    .await;
    assert_eq!(done.status, 201, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(std::fs::read(root.join("u/p.jpg")).unwrap(), photo);
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pregeneration_waits_for_a_worker_instead_of_failing() {
    let s3 = S3Server::start("waits").await;
    let settings = Settings {
        render_workers: 1,
        render_queue: 0,
        ..Settings::default()
    };
    let app = app_with_token(&s3, settings).await;
    let addr = app.addr;
    let uploads: Vec<_> = ["one.jpg", "two.jpg", "three.jpg"]
        .into_iter()
        .zip(["DSCN0010.jpg", "IMG_9424.JPG", "Landscape_3.jpg"])
        .map(|(key, name)| {
            let bytes = fixture(name);
            tokio::spawn(async move {
                let path = format!("/v1/originals/{key}?pregenerate=all");
                send(addr, "PUT", &path, Some(TOKEN), &bytes).await
            })
        })
        .collect();
    for upload in uploads {
        let r = upload.await.unwrap();
        assert_eq!(r.status, 201);
        let m = json(&r);
        for (name, v) in m["variants"].as_object().unwrap() {
            assert_eq!(v["pregenerated"], "rendered", "{name}: {v}");
        }
    }
}
