//! Without a token, writes come only from this machine: a loopback `Host` (a DNS-rebinding
//! page names its own), no other site's `Origin`, and JSON bodies declared as JSON (a
//! cross-site form or `text/plain` POST needs no preflight; JSON does). Reads are unchanged.

use super::*;
use crate::helpers::fixtures::*;

/// A write: method, path, headers, body.
type Write<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, &'a [u8]);

fn event(key: &str) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "photos"}, "object": {"key": key, "size": 1}}
    }]})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_token_instance_takes_writes_only_from_this_machine() {
    let root = temp_dir("tokenless");
    let store: Arc<dyn Store> = Arc::new(FsStore::open(&root).await.unwrap());
    let app = spawn_app(store, shipped_presets(), Settings::default()).await;
    std::fs::create_dir_all(root.join("p")).unwrap();
    std::fs::copy(fixtures().join("DSCN0010.jpg"), root.join("p/a.jpg")).unwrap();
    let body = event("p/a.jpg");
    let rebind = ("Host", "evil.rebind.example");
    let text = ("Content-Type", "text/plain");
    let json = ("Content-Type", "application/json");
    let photo = fixture("Landscape_1.jpg");
    let refused: Vec<Write> = vec![
        ("POST", "/v1/hooks/s3", vec![rebind, text], body.as_bytes()),
        ("POST", "/v1/hooks/s3", vec![rebind, json], body.as_bytes()),
        ("POST", "/v1/hooks/s3", vec![text], body.as_bytes()),
        (
            "POST",
            "/v1/hooks/s3",
            vec![("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        ),
        (
            "POST",
            "/v1/hooks/s3",
            vec![json, ("Origin", "https://evil.example")],
            body.as_bytes(),
        ),
        (
            "POST",
            "/v1/hooks/s3",
            vec![json, ("Origin", "null")],
            body.as_bytes(),
        ),
        (
            "POST",
            "/v1/pregenerate",
            vec![text],
            br#"{"keys": ["p/a.jpg"]}"#,
        ),
        ("PUT", "/v1/originals/p/b.jpg", vec![rebind], &photo),
        ("DELETE", "/v1/originals/p/a.jpg", vec![rebind], b""),
        (
            "DELETE",
            "/v1/originals/p/a.jpg",
            vec![("Origin", "http://evil.example")],
            b"",
        ),
    ];
    for (method, path, headers, body) in &refused {
        let r = send_with(app.addr, method, path, headers, body).await;
        assert_eq!(r.status, 403, "{method} {path} {headers:?}");
        assert!(
            r.problem()["detail"]
                .as_str()
                .unwrap()
                .contains("THUMBKIT_API_TOKEN")
        );
    }
    app.service.drain().await;
    assert_eq!(app.metric("thumbkit_renders_total", &[]).await, 0.0);
    assert!(root.join("p/a.jpg").exists() && !root.join("p/b.jpg").exists());
    // From this machine, as JSON: accepted.
    let local = app.addr.to_string();
    for (method, path, headers, body) in [
        ("POST", "/v1/hooks/s3", vec![json], body.as_bytes()),
        (
            "POST",
            "/v1/hooks/s3",
            vec![
                json,
                ("Host", "localhost:8080"),
                ("Origin", "http://127.0.0.1:8080"),
            ],
            body.as_bytes(),
        ),
        (
            "POST",
            "/v1/pregenerate",
            vec![json, ("Host", local.as_str())],
            br#"{"keys": ["p/a.jpg"]}"#,
        ),
    ] {
        let r = send_with(app.addr, method, path, &headers, body).await;
        assert_eq!(
            r.status,
            200,
            "{method} {path} {headers:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    // SNS posts text/plain with its own header, which no page can set without a preflight.
    let r = send_with(
        app.addr,
        "POST",
        "/v1/hooks/s3",
        &[text, ("x-amz-sns-message-type", "Notification")],
        body.as_bytes(),
    )
    .await;
    assert_ne!(r.status, 403);
    // Reads are not writes: any Host.
    let r = send_with(app.addr, "GET", "/v1/presets", &[rebind], b"").await;
    assert_eq!(r.status, 200);
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn with_a_token_the_token_is_what_counts() {
    let (app, root) = fs_app("tokened-hosts", Settings::default()).await;
    let auth = bearer();
    let r = send_with(
        app.addr,
        "POST",
        "/v1/hooks/s3",
        &[
            ("Host", "img.example.com"),
            ("Content-Type", "text/plain"),
            ("Authorization", &auth),
        ],
        event("p/none.jpg").as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let _ = std::fs::remove_dir_all(&root);
}
