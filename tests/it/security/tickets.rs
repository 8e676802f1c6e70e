//! Upload tickets on the fs store: a key nobody can work out, URLs that cannot be stretched
//! past their lifetime, and a `PUT` judged by its headers before any body byte is read, that
//! takes its bytes once and never holds a render worker's place.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::helpers::fixtures::*;
use thumbkit::preset::Presets;
use thumbkit::service::Thumbnails;
use thumbkit::service::tickets::UploadRequest;
use thumbkit::signing::{Rules, Signer, now};

/// The attack of the review: the process's own upload key was blake3 of the start time and
/// the pid; every nanosecond around the service's creation is tried, and none may give a key
/// that verifies the ticket's URL.
#[tokio::test]
async fn the_fs_upload_key_cannot_be_worked_out_from_the_start_time() {
    let root = temp_dir("key-guess");
    let store: Arc<dyn Store> = Arc::new(FsStore::open(&root).await.unwrap());
    let t0 = SystemTime::now();
    let service = Thumbnails::new(store, Presets::default(), Settings::default());
    let t1 = SystemTime::now();
    let request = UploadRequest {
        key: "victim/p.jpg".into(),
        content_type: "image/jpeg".into(),
        size: 100,
    };
    let ticket = service.start_upload(&request).await.unwrap();
    let (path, query) = ticket.upload_url.split_once('?').unwrap();
    let rules = Rules {
        params: &[],
        max_ahead: 3600,
    };
    let nanos = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    let (from, to) = (nanos(t0), nanos(t1));
    assert!(to - from < 50_000_000, "a window of {} ns", to - from);
    let pid = std::process::id();
    for ns in from..=to {
        let seed = format!("{:?}{pid}", UNIX_EPOCH + Duration::from_nanos(ns));
        let key = blake3::hash(seed.as_bytes()).to_hex().to_string();
        let guess = Signer::parse(&key).unwrap();
        assert!(
            guess.verify(path, query, now(), rules).is_err(),
            "the upload key was recovered from the start time"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// With the key known (configured), a URL signed for the year 2100 is still refused: no
/// ticket URL outlives THUMBKIT_UPLOAD_TTL.
#[tokio::test]
async fn a_ticket_url_signed_for_longer_than_the_ttl_is_refused() {
    let key = "a-known-signing-key-0123456789";
    let settings = Settings {
        signer: Some(Signer::parse(key).unwrap()),
        ..Settings::default()
    };
    let (app, root) = fs_app("far-ticket", settings).await;
    let photo = fixture("DSCN0010.jpg");
    let t = ticket(&app, "u/p.jpg", "image/jpeg", photo.len()).await;
    let id = t["id"].as_str().unwrap();
    let forged = Signer::parse(key)
        .unwrap()
        .sign(&format!("/v1/uploads/{id}"), 4_102_444_800);
    let r = send_with(
        app.addr,
        "PUT",
        &forged,
        &[("Content-Type", "image/jpeg")],
        &photo,
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.problem()["detail"].as_str().unwrap().contains("ahead"));
    // Extra parameters on the real URL are refused too.
    let url = t["upload_url"].as_str().unwrap();
    let r = send_with(
        app.addr,
        "PUT",
        &format!("{url}&x=1"),
        &[("Content-Type", "image/jpeg")],
        &photo,
    )
    .await;
    assert_eq!(r.status, 403);
    let _ = std::fs::remove_dir_all(&root);
}

/// Sends a `PUT`'s head and reads what the server answers within `wait`, without sending any
/// of the body.
async fn answer_to_head(addr: std::net::SocketAddr, head: &str, wait: Duration) -> Option<Reply> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let read = tokio::time::timeout(wait, stream.read_to_end(&mut raw)).await;
    (read.is_ok() && !raw.is_empty()).then(|| recorded(head.as_bytes(), parse_reply(&raw)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_put_is_judged_by_its_headers_takes_its_bytes_once_and_holds_no_render_place() {
    // One render place in all: on the old code one trickling PUT took it.
    let settings = Settings {
        render_workers: 1,
        render_queue: 0,
        ..Settings::default()
    };
    let (app, root) = fs_app("ticket-put", settings).await;
    let photo = fixture("DSCN0010.jpg");
    std::fs::create_dir_all(root.join("cold")).unwrap();
    std::fs::copy(fixtures().join("Landscape_2.jpg"), root.join("cold/a.jpg")).unwrap();
    let t = ticket(&app, "u/p.jpg", "image/jpeg", photo.len()).await;
    let url = t["upload_url"].as_str().unwrap().to_owned();
    let head = |ct: &str, len: &str| {
        format!(
            "PUT {url} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: {ct}\r\n{len}\r\n",
            app.addr
        )
    };
    // Refused from the headers alone, at once, though no body byte is ever sent.
    let fifty_mib = format!("Content-Length: {}\r\n", 50 << 20);
    let one_more = format!("Content-Length: {}\r\n", photo.len() + 1);
    let cases = [
        (head("image/jpeg", &fifty_mib), 413),
        (head("image/jpeg", &one_more), 413),
        (head("image/jpeg", "Content-Length: 10\r\n"), 400),
        (
            head("image/png", &format!("Content-Length: {}\r\n", photo.len())),
            400,
        ),
        (head("image/jpeg", "Transfer-Encoding: chunked\r\n"), 411),
    ];
    for (h, status) in cases {
        let r = answer_to_head(app.addr, &h, Duration::from_secs(3)).await;
        let r = r.unwrap_or_else(|| panic!("no answer before the body: {h}"));
        assert_eq!(r.status, status, "{h}");
        assert_eq!(r.header("content-type"), "application/problem+json");
    }
    // A PUT that trickles: its body is pending...
    let mut trickle = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let ok_len = format!("Content-Length: {}\r\n", photo.len());
    trickle
        .write_all(head("image/jpeg", &ok_len).as_bytes())
        .await
        .unwrap();
    trickle.write_all(&photo[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ...a second PUT on the ticket is refused at once, and cold renders still run.
    let second = answer_to_head(
        app.addr,
        &head("image/jpeg", &ok_len),
        Duration::from_secs(3),
    )
    .await
    .expect("answered at once");
    assert_eq!(second.status, 409);
    let cold = tokio::time::timeout(Duration::from_secs(10), app.get("/t/thumb/cold/a.jpg"))
        .await
        .expect("a cold render does not wait for an upload's body");
    assert_eq!(cold.status, 200, "{}", String::from_utf8_lossy(&cold.body));
    trickle.write_all(&photo[10..]).await.unwrap();
    let mut raw = Vec::new();
    trickle.read_to_end(&mut raw).await.unwrap();
    assert_eq!(parse_reply(&raw).status, 200);
    // The ticket has its bytes: no further PUT replaces them.
    let other: Vec<u8> = photo.iter().rev().copied().collect();
    let r = send_with(
        app.addr,
        "PUT",
        &url,
        &[("Content-Type", "image/jpeg")],
        &other,
    )
    .await;
    assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
    let auth = bearer();
    let done = send_with(
        app.addr,
        "POST",
        t["complete_url"].as_str().unwrap(),
        &[("Authorization", &auth)],
        b"",
    )
    .await;
    assert_eq!(done.status, 201, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(std::fs::read(root.join("u/p.jpg")).unwrap(), photo);
    assert_eq!(app.service.intake_bytes(), 0);
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn an_expired_ticket_cannot_be_completed_and_leaves_nothing() {
    let settings = Settings {
        upload_ttl: Duration::from_secs(1),
        ..Settings::default()
    };
    let (app, root) = fs_app("ticket-expired", settings).await;
    let photo = fixture("DSCN0010.jpg");
    let t = ticket(&app, "late/p.jpg", "image/jpeg", photo.len()).await;
    let url = t["upload_url"].as_str().unwrap();
    let r = send_with(
        app.addr,
        "PUT",
        url,
        &[("Content-Type", "image/jpeg")],
        &photo,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let auth = bearer();
    let done = send_with(
        app.addr,
        "POST",
        t["complete_url"].as_str().unwrap(),
        &[("Authorization", &auth)],
        b"",
    )
    .await;
    assert_eq!(done.status, 410, "{}", String::from_utf8_lossy(&done.body));
    assert!(!root.join("late/p.jpg").exists());
    let staged: Vec<_> = walk(&root.join("_variants/_staging"))
        .into_iter()
        .filter(|p| !p.display().to_string().contains(".thumbkit-meta"))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
    let _ = std::fs::remove_dir_all(&root);
}
