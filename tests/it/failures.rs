//! Originals that cannot be rendered, over a real S3 server: the failure is remembered per
//! content (in memory and in the shared record), so repeated requests do not read the
//! original again; the refusal is 422 with a short `Cache-Control`, and a replaced original
//! renders at once.

use std::time::Duration;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::service::Settings;

const ORIGINAL_GETS: [&str; 2] = ["op=\"get\"", "kind=\"original\""];

async fn twenty_requests(app: &App, path: &str) -> Vec<Reply> {
    let mut replies = Vec::new();
    for _ in 0..20 {
        replies.push(app.get(path).await);
    }
    replies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_or_truncated_original_is_read_once_for_twenty_requests() {
    let s3 = S3Server::start("failures").await;
    // A BMP: a real image format thumbkit does not read.
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&[0u8; 60]);
    s3.put("site/p/photo.bmp", bmp).await;
    s3.put("site/p/cut.jpg", fixture("truncated.jpg")).await;
    let app = spawn_app(
        s3.store("site").await,
        shipped_presets(),
        Settings::default(),
    )
    .await;

    for (path, detail) in [
        ("/t/small/p/photo.bmp", "unsupported format"),
        ("/t/small/p/cut.jpg", "truncated"),
    ] {
        let before = app
            .metric("thumbkit_storage_requests_total", &ORIGINAL_GETS)
            .await;
        let replies = twenty_requests(&app, path).await;
        for (i, reply) in replies.iter().enumerate() {
            assert_eq!(reply.status, 422, "{path} #{i}");
            assert_eq!(reply.header("content-type"), "application/problem+json");
            assert_eq!(reply.header("cache-control"), "public, max-age=60");
            let text = reply.problem()["detail"].as_str().unwrap().to_owned();
            assert!(text.contains(detail), "{path}: {text}");
        }
        assert_eq!(replies[0].header("x-cache"), "miss");
        assert!(
            replies[1..]
                .iter()
                .all(|r| r.header("x-cache") == "hit-failure")
        );
        let gets = app
            .metric("thumbkit_storage_requests_total", &ORIGINAL_GETS)
            .await;
        assert_eq!(gets - before, 1.0, "{path}: one GET of the original in all");
    }
    // 38 answered from the remembered failure, counted as such.
    let remembered = app
        .metric(
            "thumbkit_requests_total",
            &["cache=\"hit-failure\"", "status=\"422\""],
        )
        .await;
    assert_eq!(remembered, 38.0);
    assert_eq!(app.metric("thumbkit_renders_total", &[]).await, 0.0);

    // A second instance learns the failure from the shared record: no GET of the original.
    // (The record is written behind the first answer: let it land.)
    app.service.drain().await;
    let other = spawn_app(
        s3.store("site").await,
        shipped_presets(),
        Settings::default(),
    )
    .await;
    for path in ["/t/thumb/p/photo.bmp", "/t/thumb/p/cut.jpg"] {
        let reply = other.get(path).await;
        assert_eq!(reply.status, 422);
        assert_eq!(reply.header("x-cache"), "hit-failure");
    }
    assert_eq!(
        other
            .metric("thumbkit_storage_requests_total", &ORIGINAL_GETS)
            .await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_original_is_rendered_again_and_other_errors_are_not_cached() {
    let s3 = S3Server::start("failures-replaced").await;
    s3.put("site/p/cut.jpg", fixture("truncated.jpg")).await;
    let settings = Settings {
        revalidate: Duration::from_millis(1),
        ..Settings::default()
    };
    let app = spawn_app(s3.store("site").await, shipped_presets(), settings).await;
    assert_eq!(app.get("/t/small/p/cut.jpg").await.status, 422);
    assert_eq!(app.get("/t/small/p/cut.jpg").await.status, 422);
    // Replaced with the whole photo under the same key: a new ETag, a new content.
    s3.put("site/p/cut.jpg", fixture("2569067123_aca715a2ee_o.jpg"))
        .await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let fixed = app.get("/t/small/p/cut.jpg").await;
    assert_eq!(fixed.status, 200);
    assert_eq!(fixed.header("x-cache"), "miss");

    // A missing original or preset is not a lasting fact: no cache may keep its answer.
    for path in ["/t/small/p/none.jpg", "/t/nosuch/p/cut.jpg"] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.header("cache-control"), "no-store", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_original_over_the_pixel_limit_is_422_with_the_limit() {
    let s3 = S3Server::start("failures-bomb").await;
    s3.put("site/p/bomb.png", fixture("bomb-60000x60000.png"))
        .await;
    let app = spawn_app(
        s3.store("site").await,
        shipped_presets(),
        Settings::default(),
    )
    .await;
    let reply = app.get("/t/small/p/bomb.png").await;
    assert_eq!(reply.status, 422);
    let detail = reply.problem()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("60000x60000") && detail.contains("limit of 50.0 megapixels"),
        "{detail}"
    );
    assert_eq!(
        app.get("/t/small/p/bomb.png").await.header("x-cache"),
        "hit-failure"
    );
}

/// IMG_9424.JPG (a 1.9 MB camera photo) with 200 bytes in the middle of its scan inverted:
/// complete, well-formed markers, corrupt entropy-coded data.
fn bit_flipped_photo() -> Vec<u8> {
    let mut photo = fixture("IMG_9424.JPG");
    let middle = photo.len() / 2;
    for b in &mut photo[middle..middle + 200] {
        *b ^= 0xff;
    }
    photo
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bit_flipped_jpeg_is_refused_at_upload_and_never_rendered_into_the_cache() {
    let s3 = S3Server::start("failures-flipped").await;
    let app = spawn_app(
        s3.store("site").await,
        shipped_presets(),
        Settings::default(),
    )
    .await;
    let flipped = bit_flipped_photo();

    // The upload API promises validation: 422 with libjpeg's reason, and nothing stored.
    let (addr, len) = (app.addr, flipped.len());
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT /v1/originals/p/flipped.jpg HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: image/jpeg\r\nContent-Length: {len}\r\n\r\n"
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&flipped).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let reply = parse_reply(&raw);
    assert_eq!(reply.status, 422);
    let detail = reply.problem()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("corrupt"), "{detail}");
    assert!(s3.keys("site/p/").await.is_empty());

    // Put into the bucket by another tool, it is refused from /t/ and nothing is cached.
    s3.put("site/p/flipped.jpg", flipped).await;
    for _ in 0..3 {
        let reply = app.get("/t/medium/p/flipped.jpg").await;
        assert_eq!(reply.status, 422);
        assert!(
            reply.problem()["detail"]
                .as_str()
                .unwrap()
                .contains("corrupt")
        );
    }
    app.service.drain().await;
    let variants: Vec<_> = s3
        .keys("site/_variants/")
        .await
        .into_iter()
        .filter(|k| is_variant(k))
        .collect();
    assert!(variants.is_empty(), "{variants:?}");
    assert_eq!(app.metric("thumbkit_renders_total", &[]).await, 0.0);
    // The intact photo under another key renders: the refusal is of those bytes only.
    s3.put("site/p/intact.jpg", fixture("IMG_9424.JPG")).await;
    assert_eq!(app.get("/t/medium/p/intact.jpg").await.status, 200);
}
