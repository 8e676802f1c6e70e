//! An early refusal must reach the client: the server answers a write it refuses before
//! reading its body (no token, a bad key, a `Content-Length` over the limit), and a client
//! that is still sending must still read that answer, not a reset connection.

use std::sync::Arc;
use std::time::Duration;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::http::Options;
use thumbkit::pipeline::Limits;
use thumbkit::service::Settings;
use thumbkit::storage::{FsStore, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "s3cret-token";

async fn app(tag: &str, limits: Limits) -> App {
    let root = temp_dir(tag);
    let store: Arc<dyn Store> = Arc::new(FsStore::open(&root).await.unwrap());
    let settings = Settings {
        limits,
        ..Settings::default()
    };
    let options = Options {
        api_token: Some(TOKEN.into()),
        ..Options::default()
    };
    spawn_app_with(store, shipped_presets(), settings, options).await
}

/// Sends the head and then the whole body, as most clients do (sending first, reading
/// after), paced like a network slower than loopback (64 KiB every 2 ms, ~30 MB/s), and
/// returns the status the client gets to read, or why it read none.
async fn send_whole(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> Result<u16, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| format!("head: {e}"))?;
    for chunk in body.chunks(64 << 10) {
        stream
            .write_all(chunk)
            .await
            .map_err(|e| format!("body: {e}"))?;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut out = Vec::new();
    stream
        .read_to_end(&mut out)
        .await
        .map_err(|e| format!("reading the answer: {e}"))?;
    if out.is_empty() {
        return Err("the connection closed with no answer".into());
    }
    Ok(parse_reply(&out).status)
}

fn put_head(addr: std::net::SocketAddr, key: &str, len: usize, extra: &str) -> String {
    format!(
        "PUT /v1/originals/{key} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: image/jpeg\r\nConnection: close\r\n\
         Content-Length: {len}\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn thirty_unauthenticated_puts_of_a_photo_all_read_the_401() {
    let app = app("refuse-401", Limits::default()).await;
    let photo = fixture("IMG_9424.JPG");
    assert!(photo.len() > 1_500_000);
    let mut outcomes = Vec::new();
    for i in 0..30 {
        let head = put_head(app.addr, &format!("p/{i}.jpg"), photo.len(), "");
        outcomes.push(send_whole(app.addr, &head, &photo).await);
    }
    let failed: Vec<_> = outcomes.iter().filter(|o| **o != Ok(401)).collect();
    assert!(
        failed.is_empty(),
        "{} of 30 did not read the 401: {failed:?}",
        failed.len()
    );
    // The same client with the token stores the photo: the refusals cost nothing.
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    let head = put_head(app.addr, "p/ok.jpg", photo.len(), &auth);
    assert_eq!(send_whole(app.addr, &head, &photo).await, Ok(201));
}

#[tokio::test]
async fn a_bad_key_and_an_oversized_content_length_reach_a_client_still_sending() {
    let limits = Limits {
        max_input_bytes: 1 << 20,
        ..Limits::default()
    };
    let small = app("refuse-early", limits).await;
    let app = app("refuse-key", Limits::default()).await;
    let photo = fixture("IMG_9424.JPG");
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    for _ in 0..5 {
        let head = put_head(small.addr, "big/photo.jpg", photo.len(), &auth);
        assert_eq!(send_whole(small.addr, &head, &photo).await, Ok(413));
        // thumbkit's own folder holds no original: 404, as on every route.
        let head = put_head(app.addr, "_variants/x.jpg", photo.len(), &auth);
        assert_eq!(send_whole(app.addr, &head, &photo).await, Ok(404));
    }
}

#[tokio::test]
async fn expect_100_continue_is_refused_before_the_body_is_sent() {
    let app = app("refuse-expect", Limits::default()).await;
    let photo = fixture("IMG_9424.JPG");
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = put_head(app.addr, "p/e.jpg", photo.len(), "Expect: 100-continue\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // No body sent: the refusal comes at once, as a final status (not 100 Continue).
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("an answer without sending the body")
        .unwrap();
    let reply = parse_reply(&buf[..n]);
    assert_eq!(reply.status, 401);
    assert_eq!(reply.header("content-type"), "application/problem+json");

    // With the token, the server asks for the body and stores it.
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let extra = format!("Expect: 100-continue\r\nAuthorization: Bearer {TOKEN}\r\n");
    let head = put_head(app.addr, "p/e.jpg", photo.len(), &extra);
    stream.write_all(head.as_bytes()).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("100 Continue")
        .unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    stream.write_all(&photo).await.unwrap();
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 65536];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("the answer")
            .unwrap();
        out.extend_from_slice(&chunk[..n]);
        if n == 0 || out.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    assert_eq!(parse_reply(&out).status, 201);
}
