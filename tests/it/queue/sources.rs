//! One queue, two buckets: each event is routed by its bucket's name to the source that
//! holds it, and its variants land in that bucket; an unconfigured bucket's is ignored.

use super::*;
use thumbkit::keys::Layout;
use thumbkit::storage::{SourceSpec, Sources};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_from_two_buckets_are_routed_to_their_sources() {
    let media = S3Server::start("queue-src-media").await;
    let docs = S3Server::start_as(
        "queue-src-docs",
        None,
        "private-docs",
        ("docs-reader", "docs-secret-key-0123456789"),
    )
    .await;
    let moto = Moto::start().await;
    let url = moto.queue("two-buckets", Duration::from_secs(30)).await;
    media.put("m/a.jpg", fixture("Landscape_1.jpg")).await;
    docs.put("scans/b.jpg", fixture("Landscape_2.jpg")).await;
    for (bucket, key) in [
        (BUCKET, "m/a.jpg"),
        ("private-docs", "scans/b.jpg"),
        // Outside the source's prefix, and a bucket no source names: nothing to do.
        ("private-docs", "other/b.jpg"),
        ("public-media", "scans/b.jpg"),
    ] {
        moto.send(&url, &s3_event("ObjectCreated:Put", bucket, key))
            .await;
    }
    let spec = SourceSpec::parse("docs=s3://private-docs/scans").unwrap();
    let store = Sources::new(
        media.store("").await,
        vec![(spec.clone(), docs.store("scans").await)],
    );
    let settings = Settings {
        layout: Layout::new("_variants")
            .unwrap()
            .with_sources([spec.name.clone()]),
        ..pregenerating(&["thumb"])
    };
    let app = spawn_consumer(
        Arc::new(store),
        settings,
        super::options(&moto.endpoint, &url),
    )
    .await;
    assert!(moto.drained(&url, Duration::from_secs(60)).await);
    assert_eq!(messages(&app, "done").await, 2.0);
    assert_eq!(messages(&app, "ignored").await, 2.0);
    // Each bucket holds its own original's variant, and only that.
    assert_eq!(media.variants().await, 1);
    let in_docs = docs.keys("scans/_variants/").await;
    assert_eq!(
        in_docs.iter().filter(|k| is_variant(k)).count(),
        1,
        "{in_docs:?}"
    );
    let hash = thumbkit::keys::ContentHash::of(&fixture("Landscape_2.jpg")).to_string();
    assert!(in_docs.iter().any(|k| k.contains(&hash)), "{in_docs:?}");
    // Pre-generated: served without a render.
    let r = app.get("/t/thumb/docs:b.jpg").await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("x-cache").starts_with("hit-"),
        "{}",
        r.header("x-cache")
    );
}
