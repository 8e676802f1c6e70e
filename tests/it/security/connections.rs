//! One client address cannot hold every connection: past its share it is answered 429 at
//! once, and another address is served while it holds its share (127.0.0.2 and 127.0.0.3
//! are two clients on this machine's loopback).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use thumbkit::http::server::ConnectionLimits;

async fn connect_from(from: &str, to: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    socket.connect(to).await.unwrap()
}

/// A `/healthz` on `stream`, kept alive; its status.
async fn healthz(stream: &mut tokio::net::TcpStream, addr: SocketAddr) -> u16 {
    let req = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    parse_reply(&buf[..n]).status
}

async fn app_with(limits: ConnectionLimits) -> App {
    let root = temp_dir("per-client");
    let store: Arc<dyn Store> = Arc::new(FsStore::open(&root).await.unwrap());
    let options = Options {
        connections: limits,
        ..Options::default()
    };
    spawn_app_with(store, shipped_presets(), Settings::default(), options).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_its_share_and_another_is_still_served() {
    let app = app_with(ConnectionLimits {
        max_connections: 8,
        max_per_client: 4,
        idle_timeout: Duration::from_secs(30),
        ..ConnectionLimits::default()
    })
    .await;
    // The hog opens every connection there is and keeps each one busy enough to stay.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..8 {
        let mut s = connect_from("127.0.0.2", app.addr).await;
        match tokio::time::timeout(Duration::from_secs(2), healthz(&mut s, app.addr)).await {
            Ok(200) => held.push(s),
            Ok(429) => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((held.len(), refused), (4, 4));
    // Another client is served at once, on a fresh connection.
    let mut other = connect_from("127.0.0.3", app.addr).await;
    let status = tokio::time::timeout(Duration::from_secs(2), healthz(&mut other, app.addr))
        .await
        .expect("another address is not kept waiting by the hog");
    assert_eq!(status, 200);
    // The refusal says why, as problem+json.
    let mut extra = connect_from("127.0.0.2", app.addr).await;
    let mut raw = Vec::new();
    let req = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", app.addr);
    extra.write_all(req.as_bytes()).await.unwrap();
    extra.read_to_end(&mut raw).await.unwrap();
    let reply = parse_reply(&raw);
    assert_eq!(reply.status, 429);
    assert!(
        reply.problem()["detail"]
            .as_str()
            .unwrap()
            .contains("THUMBKIT_MAX_CONNECTIONS_PER_CLIENT")
    );
    // The share comes back when the hog lets go.
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = connect_from("127.0.0.2", app.addr).await;
    assert_eq!(healthz(&mut again, app.addr).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_is_not_capped() {
    let app = app_with(ConnectionLimits {
        max_connections: 8,
        max_per_client: 2,
        trusted_proxies: vec!["127.0.0.2/32".parse().unwrap()].into(),
        ..ConnectionLimits::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..6 {
        let mut s = connect_from("127.0.0.2", app.addr).await;
        assert_eq!(healthz(&mut s, app.addr).await, 200);
        held.push(s);
    }
}

#[test]
fn the_default_share_is_a_quarter_and_at_least_eight() {
    use thumbkit::http::server::default_max_per_client;
    assert_eq!(default_max_per_client(1024), 256);
    assert_eq!(default_max_per_client(32), 8);
    assert_eq!(default_max_per_client(16), 8);
}
