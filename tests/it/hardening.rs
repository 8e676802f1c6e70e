//! What a hostile or careless client can do to thumbkit over a real socket: every error is
//! problem+json, keys answer alike on the fs store and on S3, slow clients are cut off, an
//! empty secret refuses to start, and a half-sent request cannot hold up shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::http::Options;
use thumbkit::http::server::ConnectionLimits;
use thumbkit::service::Settings;
use thumbkit::storage::{FsStore, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends raw bytes and reads the whole answer (the server closes: `Connection: close`).
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    recorded(request, parse_reply(&out))
}

#[tokio::test]
async fn every_error_a_client_can_see_is_problem_json() {
    let root = temp_dir("problems");
    let store: Arc<dyn Store> = Arc::new(FsStore::open(&root).await.unwrap());
    let app = spawn_app(store, shipped_presets(), Settings::default()).await;
    let addr = app.addr;
    let big_json = format!("{{\"keys\": [\"{}\"]}}", "a".repeat(3 << 20));
    let many_headers: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let long_header = format!("X-Long: {}\r\n", "v".repeat(20 << 10));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "path not UTF-8",
            b"GET /t/thumb/%FF%FE.jpg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            400,
        ),
        (
            "no such route",
            b"GET /nothing/here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            404,
        ),
        (
            "wrong method",
            b"POST /t/thumb/a.jpg HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
            405,
        ),
        (
            "JSON over the body limit",
            format!(
                "POST /v1/pregenerate HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{big_json}",
                big_json.len()
            )
            .into_bytes(),
            413,
        ),
        (
            "150 headers",
            format!("GET /t/thumb/a.jpg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{many_headers}\r\n")
                .into_bytes(),
            431,
        ),
        (
            "a 20 KiB header",
            format!("GET /t/thumb/a.jpg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{long_header}\r\n")
                .into_bytes(),
            431,
        ),
    ];
    for (what, request, status) in cases {
        let r = raw(addr, &request).await;
        assert_eq!(r.status, status, "{what}");
        let problem = r.problem();
        assert_eq!(problem["status"], status, "{what}");
        assert!(
            !problem["detail"].as_str().unwrap_or_default().is_empty(),
            "{what}: a detail a person can read"
        );
        if status == 405 {
            assert!(r.header("allow").contains("GET"), "{what}: Allow is kept");
        }
    }
}

/// Keys that trip the filesystem (a file where a folder would be, a name too long, the
/// metadata folder, a symlink out of the root) answer as they would on S3, never 503.
#[tokio::test]
async fn awkward_keys_answer_alike_on_the_fs_store_and_on_s3() {
    let root = temp_dir("awkward-fs");
    let outside = temp_dir("awkward-outside");
    let photo = fixture("DSCN0010.jpg");
    std::fs::write(root.join("a.jpg"), &photo).unwrap();
    std::fs::write(outside.join("secret.jpg"), &photo).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.jpg"), root.join("link.jpg")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("linked-dir")).unwrap();
    let fs: Arc<dyn Store> = Arc::new(FsStore::open(&root).await.unwrap());
    let s3 = S3Server::start("awkward").await;
    s3.put("a.jpg", photo.clone()).await;
    let long = "x".repeat(300);
    let cases = [
        ("/t/thumb/a.jpg/x.jpg".to_owned(), 404),
        (format!("/t/thumb/{long}.jpg"), 400),
        ("/t/thumb/.thumbkit-meta/a.jpg.json".to_owned(), 400),
        ("/t/thumb/link.jpg".to_owned(), 404),
        ("/t/thumb/linked-dir/secret.jpg".to_owned(), 404),
        ("/t/thumb/a.jpg".to_owned(), 200),
    ];
    let root_text = std::fs::canonicalize(&root).unwrap().display().to_string();
    for (name, store) in [("fs", fs), ("s3", s3.store("").await)] {
        let app = spawn_app(store, shipped_presets(), Settings::default()).await;
        for (path, status) in &cases {
            // The metadata folder is the fs store's own; on S3 it is just a missing key.
            let status = match (name, path.contains(".thumbkit-meta")) {
                ("s3", true) => 404,
                _ => *status,
            };
            let r = app.get(path).await;
            assert_eq!(r.status, status, "{name} {path}");
            assert!(
                !String::from_utf8_lossy(&r.body).contains(&root_text),
                "{name} {path}: no internal path in the answer"
            );
        }
    }
    // Writes the fs store cannot hold are a conflict, not an outage.
    let store: Arc<dyn Store> = Arc::new(FsStore::open(&root).await.unwrap());
    let options = Options {
        api_token: Some("token-for-awkward-keys".into()),
        ..Options::default()
    };
    let app = spawn_app_with(store, shipped_presets(), Settings::default(), options).await;
    let put = format!(
        "PUT /v1/originals/a.jpg/b.jpg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Authorization: Bearer token-for-awkward-keys\r\nContent-Length: {}\r\n\r\n",
        photo.len()
    );
    let mut request = put.into_bytes();
    request.extend_from_slice(&photo);
    let r = raw(app.addr, &request).await;
    assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        std::fs::read_dir(&outside).unwrap().count() == 1,
        "nothing written outside"
    );
}

fn quick_limits() -> Options {
    Options {
        body_timeout: Duration::from_secs(1),
        connections: ConnectionLimits {
            header_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            max_connections: 8,
            shutdown_timeout: Duration::from_secs(1),
            ..ConnectionLimits::default()
        },
        ..Options::default()
    }
}

/// Reads until the server closes the connection; how long that took (or `None` if it was
/// still open after `limit`).
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + limit),
            stream.read(&mut buf),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off() {
    let root = temp_dir("slow-clients");
    let store: Arc<dyn Store> = Arc::new(FsStore::open(&root).await.unwrap());
    let app = spawn_app_with(
        store,
        shipped_presets(),
        Settings::default(),
        quick_limits(),
    )
    .await;

    // Headers a byte every 200 ms: dropped at the 1 s header timeout.
    let mut loris = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let writer = async {
        for b in b"GET /t/thumb/a.jpg HTTP/1.1\r\nHost: x\r\nX-Slow: yes" {
            if loris.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .ok();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(2), loris.read(&mut buf)).await;
    assert!(
        matches!(n, Ok(Ok(0) | Err(_))),
        "the slow header connection was closed"
    );

    // A body a byte every 100 ms: 408 at the 1 s body timeout, nothing stored.
    let mut slow_body = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    slow_body
        .write_all(
            b"PUT /v1/originals/slow.jpg HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    for _ in 0..40 {
        if slow_body.write_all(b"x").await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut buf = [0u8; 2048];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(1), slow_body.read(&mut buf)).await
        {
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!root.join("slow.jpg").exists());

    // An idle keep-alive connection after one answer: closed at the 1 s idle timeout.
    let mut idle = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let took = closed_within(&mut idle, Duration::from_secs(4)).await;
    assert!(
        took.is_some_and(|t| t >= Duration::from_millis(900)),
        "{took:?}"
    );

    // More idle connections than the cap: the next client is served once they time out.
    let mut hogs = Vec::new();
    for _ in 0..8 {
        hogs.push(tokio::net::TcpStream::connect(app.addr).await.unwrap());
    }
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(5), app.get("/healthz")).await;
    assert_eq!(r.map(|r| r.status).ok(), Some(200));
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "waited for a free slot"
    );
}

#[test]
fn a_blank_token_or_signing_key_refuses_to_start() {
    let root = temp_dir("blank-secrets");
    let storage = format!("fs:{}", root.display());
    let good_key = "a-signing-key-of-enough-length".to_owned();
    for (env, words) in [
        (
            vec![("THUMBKIT_API_TOKEN", String::new())],
            "THUMBKIT_API_TOKEN is set but empty",
        ),
        (
            vec![("THUMBKIT_API_TOKEN", "   ".into())],
            "THUMBKIT_API_TOKEN is set but empty",
        ),
        (
            vec![
                ("THUMBKIT_API_TOKEN", "t0ken".into()),
                ("THUMBKIT_SIGNING_KEY", " , ".into()),
            ],
            "THUMBKIT_SIGNING_KEY is set but empty",
        ),
        (
            vec![("THUMBKIT_SIGNING_KEY", good_key)],
            "needs THUMBKIT_API_TOKEN",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"))
            .arg("serve")
            .env_clear()
            .env("THUMBKIT_STORAGE", &storage)
            .env("THUMBKIT_LISTEN", "127.0.0.1:0")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{env:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(words), "{env:?}: {stderr}");
    }
}

#[test]
fn sigterm_exits_by_the_shutdown_deadline_with_a_half_sent_request_open() {
    let root = temp_dir("half-sent");
    let mut server = Binary::start(&[
        ("THUMBKIT_STORAGE", format!("fs:{}", root.display())),
        // Long enough that only the shutdown deadline can end the half-sent request.
        ("THUMBKIT_HEADER_TIMEOUT", "60s".into()),
        ("THUMBKIT_IDLE_TIMEOUT", "60s".into()),
        ("THUMBKIT_SHUTDOWN_TIMEOUT", "2s".into()),
    ]);
    use std::io::Write;
    let mut half = std::net::TcpStream::connect(server.addr).unwrap();
    half.write_all(b"GET /t/thumb/a.jpg HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut idle = std::net::TcpStream::connect(server.addr).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    server.signal(libc::SIGTERM);
    let status = server.wait_for(Duration::from_secs(8));
    let took = started.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "exited cleanly: {status:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "exited {took:?} after SIGTERM (deadline 2 s)"
    );
}
