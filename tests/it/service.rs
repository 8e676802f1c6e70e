//! The HTTP service on the embedded default (fs) store, through a real socket on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use bytes::Bytes;
use thumbkit::keys::{ContentHash, ObjectKey, VariantKey};
use thumbkit::service::Settings;
use thumbkit::storage::{FsStore, Store};

struct FsApp {
    app: App,
    root: PathBuf,
    store: Arc<dyn Store>,
}

impl std::ops::Deref for FsApp {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

/// Starts thumbkit on port 0 over an fs store at `root`.
async fn spawn_fs_app(root: &Path, settings: Settings) -> FsApp {
    let store: Arc<dyn Store> = Arc::new(FsStore::open(root).await.unwrap());
    FsApp {
        app: spawn_app(store.clone(), shipped_presets(), settings).await,
        root: root.to_owned(),
        store,
    }
}

impl FsApp {
    async fn put_original(&self, key: &str, fixture_name: &str) {
        let key = ObjectKey::parse(key).unwrap();
        let bytes = Bytes::from(fixture(fixture_name));
        self.store
            .put(&key, bytes, "image/jpeg", &Default::default())
            .await
            .unwrap();
    }
}

async fn get(addr: std::net::SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, &[]).await
}

#[tokio::test]
async fn serves_a_thumbnail_then_from_memory_then_from_the_store() {
    let root = temp_dir("tiers");
    let app = spawn_fs_app(&root, Settings::default()).await;
    app.put_original("photos/with gps.jpg", "HMD_Nokia_8.3_5G.jpg")
        .await;

    let first = get(app.addr, "/t/thumb/photos/with%20gps.jpg").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type"), "image/jpeg");
    assert_eq!(first.header("x-cache"), "miss");
    assert_eq!(first.header("content-length"), first.body.len().to_string());
    assert_eq!(decode_rgb(&first.body).dimensions(), (320, 137));
    assert_no_metadata(&first.body, "served thumb");

    // The variant is in the store at the documented key.
    let hash = ContentHash::of(&fixture("HMD_Nokia_8.3_5G.jpg"));
    let thumb = shipped("thumb");
    let key = VariantKey::new("_variants", &hash, &thumb.name, thumb.fingerprint(), "jpg");
    app.service.drain().await; // the variant is written behind the response
    let stored = std::fs::read(root.join(key.as_str())).expect("variant stored");
    assert_eq!(stored, first.body);

    let second = get(app.addr, "/t/thumb/photos/with%20gps.jpg").await;
    assert_eq!(second.header("x-cache"), "hit-memory");
    assert_eq!(second.body, first.body);

    // A second instance over the same store finds it there without rendering.
    let other = spawn_fs_app(&app.root, Settings::default()).await;
    let third = get(other.addr, "/t/thumb/photos/with%20gps.jpg").await;
    assert_eq!(third.header("x-cache"), "hit-store");
    assert_eq!(third.body, first.body);

    let head = request(app.addr, "HEAD", "/t/thumb/photos/with%20gps.jpg", &[]).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn conditional_pinned_and_negotiated_responses() {
    let root = temp_dir("headers");
    let app = spawn_fs_app(&root, Settings::default()).await;
    app.put_original("a.jpg", "DSCN0010.jpg").await;
    let hash = ContentHash::of(&fixture("DSCN0010.jpg"));

    let r = get(app.addr, "/t/thumb/a.jpg").await;
    let etag = r.header("etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() > 20, "{etag}");
    assert_eq!(
        r.header("cache-control"),
        "public, max-age=60, stale-while-revalidate=86400"
    );
    assert_eq!(r.header("vary"), "", "a JPEG preset does not vary");

    let not_modified = request(
        app.addr,
        "GET",
        "/t/thumb/a.jpg",
        &[("If-None-Match", &etag)],
    )
    .await;
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), etag);

    let pinned = get(app.addr, &format!("/t/thumb/a.jpg?v={hash}")).await;
    assert_eq!(pinned.status, 200);
    assert_eq!(
        pinned.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let stale = get(
        app.addr,
        &format!("/t/thumb/a.jpg?v={}", ContentHash::of(b"other")),
    )
    .await;
    assert_eq!(stale.status, 404);
    assert_eq!(stale.header("content-type"), "application/problem+json");
    // The 32 digits the ETag shows pin the content as well as all 64; fewer are refused,
    // saying what `v` must be.
    assert!(etag.contains(&hash.as_str()[..32]));
    let short = get(
        app.addr,
        &format!("/t/thumb/a.jpg?v={}", &hash.as_str()[..32]),
    )
    .await;
    assert_eq!(short.status, 200);
    assert!(short.header("cache-control").contains("immutable"));
    let too_short = get(
        app.addr,
        &format!("/t/thumb/a.jpg?v={}", &hash.as_str()[..31]),
    )
    .await;
    assert_eq!(too_short.status, 404);
    let detail = too_short.problem()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("32 to all 64 hex digits"), "{detail}");

    let webp = request(
        app.addr,
        "GET",
        "/t/small/a.jpg",
        &[("Accept", "image/webp,*/*")],
    )
    .await;
    assert_eq!(webp.header("content-type"), "image/webp");
    assert_eq!(webp.header("vary"), "Accept");
    let jpeg = request(app.addr, "GET", "/t/small/a.jpg", &[("Accept", "*/*")]).await;
    assert_eq!(jpeg.header("content-type"), "image/jpeg");
    assert_eq!(jpeg.header("vary"), "Accept");
    assert_ne!(webp.header("etag"), jpeg.header("etag"));
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn a_replaced_original_is_never_served_stale() {
    let root = temp_dir("replace");
    let settings = Settings {
        revalidate: Duration::from_millis(200),
        ..Settings::default()
    };
    let app = spawn_fs_app(&root, settings).await;
    app.put_original("p.jpg", "DSCN0010.jpg").await; // 640x480
    let before = get(app.addr, "/t/thumb/p.jpg").await;
    assert_eq!(decode_rgb(&before.body).dimensions(), (320, 240));
    app.put_original("p.jpg", "HMD_Nokia_8.3_5G.jpg").await; // 4608x1976
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after = get(app.addr, "/t/thumb/p.jpg").await;
    assert_eq!(after.status, 200);
    assert_eq!(decode_rgb(&after.body).dimensions(), (320, 137));
    assert_ne!(before.header("etag"), after.header("etag"));
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_requests_render_once() {
    let root = temp_dir("flight");
    let app = spawn_fs_app(&root, Settings::default()).await;
    app.put_original("big.jpg", "IMG_9424.JPG").await;
    let addr = app.addr;
    let replies = futures_join(
        (0..50)
            .map(|_| tokio::spawn(async move { get(addr, "/t/medium/big.jpg").await }))
            .collect(),
    )
    .await;
    let misses = replies
        .iter()
        .filter(|r| r.header("x-cache") == "miss")
        .count();
    assert!(replies.iter().all(|r| r.status == 200));
    assert_eq!(misses, 1, "exactly one request rendered");
    let first = &replies[0].body;
    assert!(replies.iter().all(|r| &r.body == first));
    app.service.drain().await;
    let variants: Vec<_> = walk(&root.join("_variants"))
        .into_iter()
        .filter(|p| is_variant(&p.to_string_lossy()))
        .collect();
    assert_eq!(variants.len(), 1, "one variant written: {variants:?}");
    let _ = std::fs::remove_dir_all(&root);
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<Reply>>) -> Vec<Reply> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn errors_are_problem_json_with_the_right_status() {
    let root = temp_dir("errors");
    let app = spawn_fs_app(&root, Settings::default()).await;
    app.put_original("broken.jpg", "truncated.jpg").await;
    app.put_original("bomb.png", "bomb-60000x60000.png").await;
    app.put_original("notes.jpg", "exif-samples-README.jpg")
        .await;
    for (path, status, words) in [
        ("/t/nope/broken.jpg", 404, "no preset named `nope`"),
        ("/t/thumb/missing.jpg", 404, "no original at `missing.jpg`"),
        ("/t/thumb/broken.jpg", 422, "truncated"),
        ("/t/thumb/notes.jpg", 422, "text, not an image"),
        ("/t/thumb/bomb.png", 422, "60000x60000"),
        ("/t/thumb/a/../../etc/passwd", 400, "invalid object key"),
        ("/t/thumb/%2e%2e/secret", 400, "invalid object key"),
    ] {
        let r = get(app.addr, path).await;
        assert_eq!(r.status, status, "{path}");
        assert_eq!(
            r.header("content-type"),
            "application/problem+json",
            "{path}"
        );
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["status"], status, "{path}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(words), "{path}: {detail}");
    }
    assert_eq!(get(app.addr, "/healthz").await.status, 200);
    assert_eq!(get(app.addr, "/readyz").await.status, 200);
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_render_queue_answers_503_with_retry_after() {
    let root = temp_dir("busy");
    let settings = Settings {
        render_workers: 1,
        render_queue: 0,
        ..Settings::default()
    };
    let app = spawn_fs_app(&root, settings).await;
    app.put_original("big.jpg", "IMG_9424.JPG").await;
    // Six different variants at once: one may render, the rest find no room.
    let addr = app.addr;
    let handles: Vec<_> = ["thumb", "small", "medium", "large", "avatar", "og"]
        .into_iter()
        .map(|p| tokio::spawn(async move { get(addr, &format!("/t/{p}/big.jpg")).await }))
        .collect();
    let mut busy = 0;
    for h in handles {
        let r = h.await.unwrap();
        match r.status {
            200 => {}
            503 => {
                busy += 1;
                assert_eq!(r.header("retry-after"), "1");
                let detail = r.problem()["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                assert!(detail.contains("busy"), "{detail}");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        busy >= 1,
        "a queue of 0 behind 1 worker refuses concurrent renders"
    );
    let refused = app
        .metric("thumbkit_requests_total", &["status=\"503\""])
        .await;
    assert_eq!(refused, f64::from(busy));
    // Once the worker is free, the same request succeeds.
    assert_eq!(get(addr, "/t/og/big.jpg").await.status, 200);
    let _ = std::fs::remove_dir_all(&root);
}
