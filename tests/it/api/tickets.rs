//! Signed thumbnail URLs and browser uploads: presigned straight to S3, or to thumbkit's own
//! signed URL with the fs store, validated on completion.

use super::*;

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
    for content_type in ["image/bmp", "text/html", "application/zip"] {
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
    for content_type in [
        "image/JPEG",
        "image/jpg",
        "image/webp; q=1",
        "image/tiff",
        "application/pdf",
        "image/svg+xml",
        "image/jxl",
    ] {
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
    let jpeg = [("Content-Type", "image/jpeg")];
    assert_eq!(
        send_with(app.addr, "PUT", &tampered, &jpeg, &photo)
            .await
            .status,
        403
    );
    assert_eq!(
        send_with(app.addr, "PUT", &url, &jpeg, &photo[..100])
            .await
            .status,
        400,
        "size differs"
    );
    assert_eq!(
        send_with(app.addr, "PUT", &url, &jpeg, &photo).await.status,
        200
    );
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

/// Signed URLs are the same for a while: `exp` is rounded up to a quarter of the TTL, so a
/// page that asks for the manifest again a second later hands out the very same URLs (and
/// browsers and CDNs hit), where `now + TTL` changed them every second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_asked_for_twice_gives_the_same_signed_urls() {
    let s3 = S3Server::start("signed-stable").await;
    let settings = Settings {
        signer: Some(thumbkit::signing::Signer::parse("stable-signing-key-0123456789").unwrap()),
        signed_url_ttl: Duration::from_secs(3600),
        ..Settings::default()
    };
    let options = Options {
        api_token: Some(TOKEN.into()),
        ..Options::default()
    };
    let app = spawn_app_with(s3.store("").await, shipped_presets(), settings, options).await;
    let put = send(
        app.addr,
        "PUT",
        "/v1/originals/s/p.jpg",
        Some(TOKEN),
        &fixture("DSCN0010.jpg"),
    )
    .await;
    assert_eq!(put.status, 201);
    let urls = |r: &Reply| {
        json(r)["variants"]["thumb"]["url"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = urls(&send(app.addr, "GET", "/v1/originals/s/p.jpg", Some(TOKEN), b"").await);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = urls(&send(app.addr, "GET", "/v1/originals/s/p.jpg", Some(TOKEN), b"").await);
    let now = thumbkit::signing::now();
    // Unless a quarter-hour boundary fell between the two.
    if thumbkit::signing::expiry(now - 2, Duration::from_secs(3600))
        == thumbkit::signing::expiry(now, Duration::from_secs(3600))
    {
        assert_eq!(first, second);
    }
    let exp: u64 = first
        .split("exp=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(exp % 900, 0, "{first}");
    assert!(exp >= now + 3600 - 2 && exp <= now + 4500, "{first}");
    assert_eq!(app.get(&first).await.status, 200);
}
