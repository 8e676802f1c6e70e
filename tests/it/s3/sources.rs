//! Several buckets behind one `thumbkit serve` (`THUMBKIT_SOURCES`): three real S3 servers,
//! each accepting only its own credentials, two of them reached through named profiles of
//! the AWS config files. Each source's originals are served from its bucket and their
//! variants kept there; a preset can be limited to a source; events are routed by bucket;
//! and no request can name a bucket that is not configured.

use super::*;
use crate::helpers::servers::Binary;
use crate::helpers::sqs::s3_event;

const TOKEN: &str = "sources-test-token-0123456789abcdef";

/// The three stores: the default one (`photos`, the usual test credentials), `docs`
/// (`private-docs`, under `scans/`) and `avatars` (`public-media`, under `avatars/`), each
/// a server of its own that refuses the others' keys.
struct Buckets {
    media: S3Server,
    docs: S3Server,
    avatars: S3Server,
}

impl Buckets {
    async fn start(tag: &str) -> Self {
        let docs_key = ("docs-reader", "docs-secret-key-0123456789");
        let media_key = ("media-writer", "media-secret-key-0123456789");
        Self {
            media: S3Server::start(&format!("{tag}-default")).await,
            docs: S3Server::start_as(&format!("{tag}-docs"), None, "private-docs", docs_key).await,
            avatars: S3Server::start_as(&format!("{tag}-avatars"), None, "public-media", media_key)
                .await,
        }
    }

    /// `serve`'s environment: the default store from `AWS_*`, `docs` from the profile
    /// `docs` (credentials, region and endpoint all in the files), `avatars` from the
    /// profile `media` with its endpoint in `THUMBKIT_SOURCES`.
    fn env(&self, dir: &Path, presets: &Path) -> Vec<(&'static str, String)> {
        let config = dir.join("config");
        let credentials = dir.join("credentials");
        std::fs::write(
            &config,
            format!(
                "[profile docs]\nregion = us-east-1\nendpoint_url = {}\n\n\
                 [profile media]\nregion = us-east-1\n",
                self.docs.endpoint
            ),
        )
        .unwrap();
        std::fs::write(
            &credentials,
            format!(
                "[docs]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n\
                 [media]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                self.docs.access.0,
                self.docs.access.1,
                self.avatars.access.0,
                self.avatars.access.1
            ),
        )
        .unwrap();
        vec![
            ("THUMBKIT_STORAGE", "s3://photos".into()),
            ("THUMBKIT_S3_ENDPOINT", self.media.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
            (
                "THUMBKIT_SOURCES",
                format!(
                    "docs=s3://private-docs/scans?profile=docs, \
                     avatars=s3://public-media/avatars?profile=media&endpoint={}",
                    self.avatars.endpoint
                ),
            ),
            ("AWS_CONFIG_FILE", config.display().to_string()),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                credentials.display().to_string(),
            ),
            ("THUMBKIT_PRESETS", presets.display().to_string()),
            ("THUMBKIT_API_TOKEN", TOKEN.into()),
            ("THUMBKIT_PREGENERATE", "thumb,badge".into()),
        ]
    }
}

/// `thumb` (every store) and `badge` (only `avatars`).
fn presets_dir(tag: &str) -> PathBuf {
    let dir = temp_dir(tag);
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/thumb.toml");
    std::fs::copy(shipped, dir.join("thumb.toml")).unwrap();
    std::fs::write(
        dir.join("badge.toml"),
        "width = 64\nheight = 64\nfit = \"cover\"\nformat = \"png\"\nsources = [\"avatars\"]\n",
    )
    .unwrap();
    dir
}

/// The `thumb` of `path`, checked, with its `Cache-Tag`.
async fn thumb(addr: std::net::SocketAddr, path: &str, size: (u32, u32)) -> String {
    let r = request(addr, "GET", path, &[]).await;
    assert_eq!(
        r.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(decode_rgb(&r.body).dimensions(), size, "{path}");
    r.header("cache-tag").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_buckets_with_their_own_credentials_are_served_side_by_side() {
    let b = Buckets::start("sources").await;
    // The same name in two stores, different pictures: landscape, portrait, panorama.
    b.media.put("cat.jpg", fixture("Landscape_1.jpg")).await;
    b.docs
        .put("scans/cat.jpg", fixture("canon_hdr_YES.jpg"))
        .await;
    b.avatars
        .put("avatars/u/42.jpg", fixture("HMD_Nokia_8.3_5G.jpg"))
        .await;
    // Each server refuses the others' keys: a source served below used its own.
    let borrowed = S3Store::connect(
        S3Location::parse("private-docs").unwrap(),
        S3Options {
            endpoint_url: Some(b.docs.endpoint.clone()),
            ..b.media.options()
        },
    )
    .await;
    use thumbkit::storage::Store;
    assert!(borrowed.check().await.is_err(), "docs took the default key");

    let dir = temp_dir("sources-aws");
    let presets = presets_dir("sources-presets");
    let env = b.env(&dir, &presets);
    let bin = tokio::task::spawn_blocking(move || Binary::start(&env))
        .await
        .unwrap();
    let addr = bin.addr;
    let default_tag = thumb(addr, "/t/thumb/cat.jpg", (320, 240)).await;
    let docs_tag = thumb(addr, "/t/thumb/docs:cat.jpg", (240, 320)).await;
    thumb(addr, "/t/thumb/avatars:u/42.jpg", (320, 137)).await;
    // Percent-encoded, as a client library may send it: the same variant.
    thumb(addr, "/t/thumb/docs%3Acat.jpg", (240, 320)).await;
    // The same key in two stores is two originals for a CDN too.
    assert_ne!(default_tag, docs_tag);
    assert!(docs_tag.contains("tk-p-thumb"), "{docs_tag}");

    // A preset limited to `avatars`: there, and nowhere else.
    let badge = request(addr, "GET", "/t/badge/avatars:u/42.jpg", &[]).await;
    assert_eq!(
        (badge.status, badge.header("content-type")),
        (200, "image/png")
    );
    for elsewhere in ["/t/badge/cat.jpg", "/t/badge/docs:cat.jpg"] {
        let r = request(addr, "GET", elsewhere, &[]).await;
        assert_eq!(r.status, 404, "{elsewhere}");
        let detail = r.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains("`sources` list"), "{detail}");
    }

    // No request reaches a bucket that is not configured.
    for path in [
        "/t/thumb/other-bucket:cat.jpg",
        "/t/thumb/private-docs:scans/cat.jpg",
    ] {
        let r = request(addr, "GET", path, &[]).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.header("content-type"), "application/problem+json");
        let detail = r.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            detail.contains("not one of this service's sources"),
            "{detail}"
        );
    }
    // Hostile spellings of a source's key: never outside its prefix, never its own folder.
    for (path, status) in [
        ("/t/thumb/docs:../photos/cat.jpg", 400),
        ("/t/thumb/docs:/etc/passwd", 400),
        ("/t/thumb/docs:", 400),
        ("/t/thumb/docs:_variants/x.jpg", 404),
    ] {
        let r = request(addr, "GET", path, &[]).await;
        assert_eq!(
            r.status,
            status,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    // Nothing of a source's landed in another bucket: each keeps its own variants.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let variants = |keys: Vec<String>| keys.iter().filter(|k| is_variant(k)).count();
    assert_eq!(variants(b.media.keys("_variants/").await), 1);
    assert_eq!(variants(b.docs.keys("scans/_variants/").await), 1);
    assert_eq!(variants(b.avatars.keys("avatars/_variants/").await), 2);
    assert_eq!(
        b.docs.keys("").await.len(),
        b.docs.keys("scans/").await.len()
    );
    assert!(b.avatars.keys("avatars/_variants/").await.len() >= 2);

    uploads_and_events_know_the_source(&b, addr).await;
    drop(bin);
}

/// An upload, a browser upload's ticket and S3 events, each for a source.
async fn uploads_and_events_know_the_source(b: &Buckets, addr: std::net::SocketAddr) {
    let auth = format!("Bearer {TOKEN}");
    let auth = [("Authorization", auth.as_str())];
    let jpeg = fixture("Landscape_2.jpg");
    let put = send_with(addr, "PUT", "/v1/originals/docs:new/scan.jpg", &auth, &jpeg).await;
    assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
    let manifest: serde_json::Value = serde_json::from_slice(&put.body).unwrap();
    let url = manifest["variants"]["thumb"]["url"].as_str().unwrap();
    assert!(url.starts_with("/t/thumb/docs:new/scan.jpg?v="), "{url}");
    // `badge` is not offered for `docs`, so the manifest does not list it.
    assert!(manifest["variants"].get("badge").is_none(), "{manifest}");
    assert_eq!(
        b.docs.get("scans/new/scan.jpg").await.map(|o| o.0),
        Some(jpeg.clone())
    );
    assert!(b.media.get("new/scan.jpg").await.is_none());
    let r = request(addr, "GET", url, &[]).await;
    assert_eq!(r.status, 200);

    // A browser upload's ticket is staged in the source's own bucket, signed by its keys.
    let photo = fixture("Landscape_4.jpg");
    let ticket = format!(
        r#"{{"key": "avatars:u/7.jpg", "content_type": "image/jpeg", "size": {}}}"#,
        photo.len()
    );
    let r = send_with(addr, "POST", "/v1/uploads", &auth, ticket.as_bytes()).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let ticket: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert!(
        ticket["id"].as_str().unwrap().starts_with("avatars."),
        "{ticket}"
    );
    let upload_url = ticket["upload_url"].as_str().unwrap();
    assert!(upload_url.starts_with(&b.avatars.endpoint), "{upload_url}");
    assert!(
        upload_url.contains("/public-media/avatars/_variants/_staging/"),
        "{upload_url}"
    );
    assert!(upload_url.contains(&b.avatars.access.0), "{upload_url}");
    assert_eq!(b.avatars.keys("avatars/_variants/_staging/").await.len(), 1);
    // The browser's PUT, straight to that bucket; then the backend completes it.
    let rest = upload_url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let headers = [("Content-Type", "image/jpeg")];
    let put = send_with(
        host.parse().unwrap(),
        "PUT",
        &format!("/{path}"),
        &headers,
        &photo,
    )
    .await;
    assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
    let complete = ticket["complete_url"].as_str().unwrap();
    let done = send_with(addr, "POST", complete, &auth, b"").await;
    assert_eq!(done.status, 201, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(
        b.avatars.get("avatars/u/7.jpg").await.map(|o| o.0),
        Some(photo)
    );
    assert!(
        b.avatars
            .keys("avatars/_variants/_staging/")
            .await
            .is_empty()
    );
    // A ticket id naming no source, or no ticket: nothing to complete, in any bucket.
    for id in [
        "private-docs.0123456789abcdef0123456789abcdef",
        "other.0123456789abcdef0123456789abcdef",
        "avatars.0123",
        "avatars.",
        "docs.0123456789abcdef0123456789abcdef",
    ] {
        let path = format!("/v1/uploads/{id}/complete");
        let r = send_with(addr, "POST", &path, &auth, b"").await;
        assert_eq!(r.status, 404, "{id}: {}", String::from_utf8_lossy(&r.body));
    }
    assert!(
        b.media
            .keys("")
            .await
            .iter()
            .all(|k| !k.contains("u/7.jpg"))
    );

    // Events are routed by bucket and prefix; another bucket's is ignored.
    b.avatars
        .put("avatars/u/43.jpg", fixture("Landscape_3.jpg"))
        .await;
    for (bucket, key, action) in [
        ("public-media", "avatars/u/43.jpg", "pregenerated"),
        ("public-media", "elsewhere/u/43.jpg", "ignored"),
        ("some-other-bucket", "avatars/u/43.jpg", "ignored"),
    ] {
        let event = s3_event("ObjectCreated:Put", bucket, key);
        let r = send_with(addr, "POST", "/v1/hooks/s3", &auth, event.as_bytes()).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let outcome: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let first = &outcome["results"][0];
        assert_eq!(first["action"], action, "{bucket}/{key}: {outcome}");
        if action == "pregenerated" {
            assert_eq!(first["key"], "avatars:u/43.jpg", "{outcome}");
        }
    }
    // `thumb` and `badge`, each once, in the avatars bucket.
    let made = b.avatars.keys("avatars/_variants/").await;
    let hash = ContentHash::of(&fixture("Landscape_3.jpg")).to_string();
    let of_43 = made.iter().filter(|k| k.contains(&hash) && is_variant(k));
    assert_eq!(of_43.count(), 2, "{made:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bucket_down_leaves_the_others_served_and_the_instance_ready() {
    use crate::helpers::servers::{Fault, Proxy};
    use thumbkit::keys::Layout;
    use thumbkit::storage::{SourceSpec, Sources};
    let media = S3Server::start("src-outage-media").await;
    let docs = S3Server::start_as(
        "src-outage-docs",
        None,
        "private-docs",
        ("docs-reader", "docs-secret-key-0123456789"),
    )
    .await;
    media.put("a.jpg", fixture("Landscape_1.jpg")).await;
    docs.put("b.jpg", fixture("Landscape_2.jpg")).await;
    let proxy = Proxy::start(docs.addr()).await;
    let spec = SourceSpec::parse("docs=s3://private-docs").unwrap();
    let store = Sources::new(
        media.store("").await,
        vec![(spec.clone(), docs.store_via(proxy.addr).await)],
    );
    let settings = Settings {
        layout: Layout::new("_variants")
            .unwrap()
            .with_sources([spec.name.clone()]),
        storage_timeout: Duration::from_secs(2),
        ..Settings::default()
    };
    let app = spawn_app(std::sync::Arc::new(store), shipped_presets(), settings).await;
    assert_eq!(app.get("/t/thumb/docs:b.jpg").await.status, 200);
    proxy.set(Fault::Down);
    // Only the source that is down fails, and says the storage is unavailable. (A request
    // on a connection opened before the cut may still get through, and find no `c.jpg`.)
    let until = std::time::Instant::now() + Duration::from_secs(10);
    let r = loop {
        let r = app.get("/t/thumb/docs:c.jpg").await;
        if r.status != 404 || std::time::Instant::now() > until {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(app.get("/t/thumb/a.jpg").await.status, 200);
    // The instance stays in rotation for the buckets it can serve.
    assert_eq!(app.get("/readyz").await.status, 200);
    proxy.set(Fault::None);
    assert_eq!(app.get("/t/thumb/docs:b.jpg").await.status, 200);
}
