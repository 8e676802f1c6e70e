//! Direct uploads: the manifest they return, what they cost the store, hostile bodies,
//! the token, and deletes.

use super::*;

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

/// The first thumbnail of a fresh upload renders from the bytes just written: a HEAD (still
/// that version?) and the variant's PUT; none of that version can be stored yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_thumbnail_of_an_upload_neither_reads_it_back_nor_asks_for_a_variant() {
    let s3 = S3Server::start("upload-first").await;
    let app = app_with_token(&s3, Settings::default()).await;
    let photo = fixture("DSCN0010.jpg");
    let r = send(
        app.addr,
        "PUT",
        "/v1/originals/p/new.jpg",
        Some(TOKEN),
        &photo,
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let before = app.storage_counts().await;
    let first = app.get("/t/thumb/p/new.jpg").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-cache"), "miss");
    app.service.drain().await;
    let after = app.storage_counts().await;
    let calls: Vec<(String, f64)> = (after.iter())
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d > 0.0)
        .collect();
    assert_eq!(
        calls,
        [
            ("head original".to_owned(), 1.0),
            ("put variant".to_owned(), 1.0)
        ],
        "first thumbnail after an upload"
    );
    // What was stored is that thumbnail, and a second instance finds it.
    let other = app_with_token(&s3, Settings::default()).await;
    let stored = other.get("/t/thumb/p/new.jpg").await;
    assert_eq!(stored.header("x-cache"), "hit-store");
    assert_eq!(stored.body, first.body);
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
    // The ThumbHash (base64) and the colours, from the same small decode.
    let thumbhash = m["thumbhash"].as_str().unwrap_or_default().to_owned();
    assert!((20..=40).contains(&thumbhash.len()), "{m}");
    for colour in ["average_color", "dominant_color"] {
        let hex = m[colour].as_str().unwrap_or_default();
        assert!(hex.len() == 7 && hex.starts_with('#'), "{colour}: {m}");
    }

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
    // The six shipped presets, and avatar's 2x and 3x steps.
    assert_eq!(variants.len(), 8);
    assert!(
        variants["avatar"]["srcset"]
            .as_str()
            .unwrap()
            .ends_with(" 3x")
    );
    let renders = app.metric("thumbkit_renders_total", &[]).await;
    for (name, v) in variants {
        assert_eq!(v["pregenerated"], "rendered", "{name}");
        let url = v["url"].as_str().unwrap();
        assert!(url.ends_with(&format!("?v={hash}")), "{url}");
        let served = app.get(url).await;
        assert_eq!(served.status, 200, "{name}: {url}");
        assert_ne!(served.header("x-cache"), "miss", "{name}");
        // `avatar` crops `smart`: a focal point set later would move it, so its URL pinned to
        // the content alone is revalidated; every other preset's is immutable.
        let expected = if name.starts_with("avatar") {
            "public, max-age=60, stale-while-revalidate=86400"
        } else {
            "public, max-age=31536000, immutable"
        };
        assert_eq!(served.header("cache-control"), expected, "{name}");
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
    assert_eq!(described["thumbhash"], thumbhash.as_str());
    assert_eq!(described["average_color"], m["average_color"]);
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
    // A key in thumbkit's own prefix: no original lives there (404, as on every route).
    let r = send(
        app.addr,
        "PUT",
        "/v1/originals/_variants/ab/fake.jpg",
        Some(TOKEN),
        &fixture("DSCN0010.jpg"),
    )
    .await;
    assert_eq!(r.status, 404);
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

/// A strong ETag promises the same bytes. Pre-generation (every preset from one decode) and a
/// render of one preset give other bytes for the same variant, so they carry other ETags;
/// and a client holding either gets 304, since both are this variant, current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pregenerated_and_rendered_variants_have_their_own_strong_etags() {
    let photo = fixture("IMG_9424.JPG");
    let fetch = |app: &App, inm: Option<String>| {
        let addr = app.addr;
        async move {
            let headers: Vec<(&str, &str)> =
                inm.iter().map(|e| ("If-None-Match", e.as_str())).collect();
            request(addr, "GET", "/t/thumb/users/7/photo.jpg", &headers).await
        }
    };
    // One bucket whose variants were pre-generated, one where the variant is rendered alone.
    let pregen_s3 = S3Server::start("etag-pregen").await;
    let pregen = app_with_token(&pregen_s3, Settings::default()).await;
    let path = "/v1/originals/users/7/photo.jpg";
    let r = send(
        pregen.addr,
        "PUT",
        &format!("{path}?pregenerate=all"),
        Some(TOKEN),
        &photo,
    )
    .await;
    assert_eq!(r.status, 201);
    let alone_s3 = S3Server::start("etag-alone").await;
    let alone = app_with_token(&alone_s3, Settings::default()).await;
    assert_eq!(
        send(alone.addr, "PUT", path, Some(TOKEN), &photo)
            .await
            .status,
        201
    );
    let (a, b) = (fetch(&pregen, None).await, fetch(&alone, None).await);
    assert_eq!((a.status, b.status), (200, 200));
    assert_ne!(
        a.body, b.body,
        "one decode and a render alone give other bytes"
    );
    assert_ne!(
        a.header("etag"),
        b.header("etag"),
        "so their strong ETags differ"
    );
    // The same bytes from memory and from the store keep their ETag.
    let again = fetch(&pregen, None).await;
    assert_eq!(
        (again.header("etag"), &again.body),
        (a.header("etag"), &a.body)
    );
    // Either copy is current: 304 for both ETags, on both instances, under the ETag sent.
    for app in [&pregen, &alone] {
        for etag in [a.header("etag"), b.header("etag")] {
            let r = fetch(app, Some(etag.to_owned())).await;
            assert_eq!((r.status, r.header("etag")), (304, etag));
        }
    }
}
