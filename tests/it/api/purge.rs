//! CDN purge by cache tag: every `/t/` response names its original (a hash, never the key)
//! and its preset; replacing or deleting an original sends the tags and paths to purge to
//! `THUMBKIT_PURGE_WEBHOOK`, signed with the API token and tried again until it takes.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use thumbkit::purge::PurgeOptions;

use super::*;

/// A purge receiver on loopback that fails its first `fail_first` requests with 503.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(HeaderMap, serde_json::Value)>>>,
}

impl Receiver {
    async fn start(fail_first: usize) -> Self {
        let got: Arc<Mutex<Vec<(HeaderMap, serde_json::Value)>>> = Arc::default();
        let tries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (sink, count) = (got.clone(), tries.clone());
        let app = axum::Router::new().route(
            "/purge",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let (sink, count) = (sink.clone(), count.clone());
                async move {
                    if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < fail_first {
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    // The signature is over the exact bytes sent: check it before parsing.
                    let signed = headers["thumbkit-signature"].to_str().unwrap().to_owned();
                    assert!(verifies(&signed, &body), "{signed}");
                    let json = serde_json::from_slice(&body).unwrap();
                    sink.lock().unwrap().push((headers, json));
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/purge", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, got }
    }

    /// Waits at most 10 s for the `n`th purge.
    async fn nth(&self, n: usize) -> serde_json::Value {
        for _ in 0..200 {
            if let Some((_, json)) = self.got.lock().unwrap().get(n - 1) {
                return json.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("purge #{n} never arrived");
    }
}

/// `t=<unix>,v1=<hex>`: HMAC-SHA256 of `"<t>.<body>"` under the API token, computed here
/// with the hmac crate as a receiver would, and no older than 5 minutes.
fn verifies(header: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let at: u64 = t.parse().unwrap_or(0);
    let now = thumbkit::signing::now();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(TOKEN.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    now.abs_diff(at) < 300 && hex::decode(v1).is_ok_and(|sig| mac.verify_slice(&sig).is_ok())
}

fn purging_to(url: &str) -> Settings {
    Settings {
        purge: Some(PurgeOptions {
            first_retry: Duration::from_millis(100),
            ..PurgeOptions::new(url, TOKEN.into())
        }),
        ..Settings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_carry_cache_tags_and_a_replace_or_delete_purges_them_signed() {
    let s3 = S3Server::start("purge").await;
    let receiver = Receiver::start(0).await;
    let app = app_with_token(&s3, purging_to(&receiver.url)).await;
    let key = "users/7/Private Name.jpg";
    let path = "/v1/originals/users/7/Private%20Name.jpg";

    // Asked before it exists: a 404 the CDN may keep, tagged like the thumbnail will be.
    let missing = app.get("/t/thumb/users/7/Private%20Name.jpg").await;
    assert_eq!(missing.status, 404);
    let tag = missing
        .header("cache-tag")
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    assert!(tag.starts_with("tk-o-") && tag.len() == 5 + 16, "{tag}");

    let put = send(app.addr, "PUT", path, Some(TOKEN), &fixture("sample.jpg")).await;
    assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
    let replaced = receiver.nth(1).await;
    assert_eq!(replaced["reason"], "replaced");
    assert_eq!(replaced["key"], key);
    assert_eq!(replaced["tags"], serde_json::json!([tag]));
    let paths: Vec<&str> = replaced["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"/t/thumb/users/7/Private%20Name.jpg*"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/t/avatar@2x/users/7/Private%20Name.jpg*"),
        "every step: {paths:?}"
    );

    let r = app.get("/t/thumb/users/7/Private%20Name.jpg").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-tag"), format!("{tag},tk-p-thumb"));
    assert_eq!(r.header("surrogate-key"), format!("{tag} tk-p-thumb"));
    // A step is tagged with its preset, so purging `avatar` purges `avatar@2x`.
    let step = app.get("/t/avatar@2x/users/7/Private%20Name.jpg").await;
    assert_eq!(step.header("cache-tag"), format!("{tag},tk-p-avatar"));
    // The tags name no path: nothing of the key shows.
    for leak in ["users", "Private", "Name", "7/"] {
        assert!(
            !r.header("cache-tag").contains(leak),
            "{}",
            r.header("cache-tag")
        );
    }

    let deleted = send(app.addr, "DELETE", path, Some(TOKEN), b"").await;
    assert_eq!(deleted.status, 200);
    let purge = receiver.nth(2).await;
    assert_eq!(purge["reason"], "deleted");
    assert_eq!(purge["tags"], serde_json::json!([tag]));
    assert_eq!(
        app.metric("thumbkit_purges_total", &["outcome=\"sent\""])
            .await,
        2.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_the_receiver_fails_is_tried_again_until_it_takes() {
    let s3 = S3Server::start("purge-retry").await;
    let receiver = Receiver::start(2).await;
    let app = app_with_token(&s3, purging_to(&receiver.url)).await;
    let put = send(
        app.addr,
        "PUT",
        "/v1/originals/a.jpg",
        Some(TOKEN),
        &fixture("sample.jpg"),
    )
    .await;
    assert_eq!(put.status, 201);
    // An S3 event for it (a direct write to the bucket) purges too.
    let event = serde_json::json!({"Records": [{"eventName": "ObjectRemoved:Delete",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": "b.jpg"}}}]});
    let r = send(
        app.addr,
        "POST",
        "/v1/hooks/s3",
        Some(TOKEN),
        event.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
    let first = receiver.nth(1).await;
    let second = receiver.nth(2).await;
    let reasons = [first["reason"].clone(), second["reason"].clone()];
    assert!(
        reasons.contains(&"replaced".into()) && reasons.contains(&"deleted".into()),
        "{reasons:?}"
    );
    assert_eq!(
        app.metric("thumbkit_purges_total", &["outcome=\"retried\""])
            .await,
        2.0
    );
    assert_eq!(
        app.metric("thumbkit_purges_total", &["outcome=\"sent\""])
            .await,
        2.0
    );
}

#[test]
fn a_purge_webhook_without_a_token_to_sign_with_is_refused_in_one_line() {
    let out = crate::helpers::process::thumbkit()
        .args(["serve", "--storage", "fs:/nonexistent-thumbkit"])
        .env("THUMBKIT_PURGE_WEBHOOK", "https://purge.example.com/hook")
        .env_remove("THUMBKIT_API_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("THUMBKIT_PURGE_WEBHOOK: needs THUMBKIT_API_TOKEN"),
        "{err}"
    );
    let bad = crate::helpers::process::thumbkit()
        .args(["serve", "--api-token", "t0ken-t0ken-t0ken"])
        .env("THUMBKIT_PURGE_WEBHOOK", "purge.example.com")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("THUMBKIT_PURGE_WEBHOOK") && err.contains("not an http"),
        "{err}"
    );
}
