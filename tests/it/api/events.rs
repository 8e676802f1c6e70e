//! S3 events and batch pre-generation: new originals get their variants, removed ones
//! lose them, and a busy render pool makes pre-generation wait rather than fail.

use super::*;

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
    // Originals put straight into S3 get their placeholders on their first GET.
    let described = json(&send(app.addr, "GET", "/v1/originals/a.jpg", Some(TOKEN), b"").await);
    assert_eq!(
        described["blurhash"].as_str().map(str::len),
        Some(28),
        "{described}"
    );
    assert!(described["thumbhash"].is_string() && described["dominant_color"].is_string());
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
