//! The upload-hook API (`/v1/originals`) over a real S3 server, through real sockets:
//! validated uploads and their manifests, pre-generation, hostile uploads, tokens, deletes.

use std::time::Duration;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::http::Options;
use thumbkit::pipeline::Limits;
use thumbkit::service::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod events;
mod formats;
mod frontends;
mod tickets;
mod uploads;

const TOKEN: &str = "s3cret-token";

/// Sends `body` with `method` to `path` (with the bearer token when `token` is given).
async fn send(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    send_with(addr, method, path, &headers, body).await
}

/// Sends `body` with `method` to `path` with `headers`.
async fn send_with(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    // The API's POST bodies are JSON, and say so (as the JS and Python helpers do).
    let typed = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    if method == "POST" && !body.is_empty() && !typed {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) and close before the whole body is sent.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    recorded(head.as_bytes(), parse_reply(&raw))
}

fn json(r: &Reply) -> serde_json::Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&r.body)))
}

async fn app_with_token(s3: &S3Server, settings: Settings) -> App {
    let options = Options {
        api_token: Some(TOKEN.into()),
        ..Options::default()
    };
    spawn_app_with(s3.store("").await, shipped_presets(), settings, options).await
}
