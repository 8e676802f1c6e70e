//! Harness for the service tests: thumbkit on a real socket (port 0), a real S3 server in
//! process (s3s + s3s-fs with SigV4 auth on), a raw HTTP/1.1 client and a reader for the
//! `/metrics` text.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use thumbkit::config::Config;
use thumbkit::http::Options;
use thumbkit::preset::Presets;
use thumbkit::service::{Settings, Thumbnails};
use thumbkit::storage::Store;

pub use super::s3::*;
pub use super::servers::*;

pub const ACCESS_KEY: &str = "thumbkit-test";
pub const SECRET_KEY: &str = "thumbkit-test-secret-key";
pub const BUCKET: &str = "photos";

pub use super::process::{sweep_finished_runs, temp_dir};

/// The shipped presets.
pub fn shipped_presets() -> Presets {
    Presets::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("presets")]).unwrap()
}

/// A stored key that is a rendered variant (not one of thumbkit's records about originals).
pub fn is_variant(key: &str) -> bool {
    key.contains("_variants/") && !key.contains("/_records/") && !key.contains("/_keys/")
}

/// thumbkit running on 127.0.0.1 on a port of its own.
pub struct App {
    pub addr: SocketAddr,
    pub service: Arc<Thumbnails>,
}

/// Starts thumbkit over `store` on port 0.
pub async fn spawn_app(store: Arc<dyn Store>, presets: Presets, settings: Settings) -> App {
    spawn_app_with(store, presets, settings, Options::default()).await
}

/// Starts thumbkit over `store` on port 0 with HTTP `options`, the way `thumbkit serve`
/// does (`thumbkit::startup::App`).
pub async fn spawn_app_with(
    store: Arc<dyn Store>,
    presets: Presets,
    settings: Settings,
    options: Options,
) -> App {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        service: settings,
        http: options,
        ..Config::default()
    };
    let app = thumbkit::startup::App::build_with(config, store, presets, std::future::pending())
        .await
        .unwrap();
    let (addr, service) = (app.addr(), app.service().clone());
    tokio::spawn(app.run());
    App { addr, service }
}

impl App {
    /// GET `path`.
    pub async fn get(&self, path: &str) -> Reply {
        request(self.addr, "GET", path, &[]).await
    }

    /// The current value of the metric lines named `name` whose labels contain every
    /// `label="value"` in `labels`, summed.
    pub async fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        let text = String::from_utf8(self.get("/metrics").await.body).unwrap();
        sum_metric(&text, name, labels)
    }

    /// Storage calls made so far, by `"{op} {kind}"` (e.g. `"get original"`), zeros included.
    pub async fn storage_counts(&self) -> BTreeMap<String, f64> {
        let text = String::from_utf8(self.get("/metrics").await.body).unwrap();
        let mut out = BTreeMap::new();
        for op in ["head", "get", "put", "delete", "list", "check"] {
            for kind in ["original", "variant", "record"] {
                let labels = [format!("op=\"{op}\""), format!("kind=\"{kind}\"")];
                let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
                let n = sum_metric(&text, "thumbkit_storage_requests_total", &labels);
                out.insert(format!("{op} {kind}"), n);
            }
        }
        out
    }

    /// Storage calls made so far (all operations).
    pub async fn storage_calls(&self) -> f64 {
        self.metric("thumbkit_storage_requests_total", &[]).await
    }
}

/// Sums the samples of `name` whose label set contains all of `labels`.
pub fn sum_metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && labels.iter().all(|want| rest.contains(want)))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

/// An HTTP response as read off the socket.
pub struct Reply {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's value, or "" when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The body as problem+json.
    pub fn problem(&self) -> serde_json::Value {
        assert_eq!(self.header("content-type"), "application/problem+json");
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A minimal HTTP/1.1 client: the raw request line is sent as given (no path normalising).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    recorded(req.as_bytes(), parse_reply(&raw))
}

/// Sends `body` with `method` to `path` with `headers`, adding `Host` and `Content-Length`
/// unless given, and `Content-Type: application/json` to a `POST` with a body and no type
/// (the API's POST bodies are JSON, and the JS and Python helpers say so).
pub async fn send_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let given = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !given("host") {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    if !given("content-length") && !given("transfer-encoding") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if method == "POST" && !body.is_empty() && !given("content-type") {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) and close before the whole body is sent.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    recorded(head.as_bytes(), parse_reply(&raw))
}

/// Parses a raw HTTP/1.1 response.
pub fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    // A repeated header reads as one, its values joined by ", " (RFC 9110 5.3).
    let mut headers = BTreeMap::<String, String>::new();
    for (k, v) in lines.filter_map(|l| l.split_once(':')) {
        let value = v.trim();
        headers
            .entry(k.trim().to_ascii_lowercase())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// Where each test process records the responses it got, for `scripts/openapi-check.py`
/// to match against `/openapi.json` after the run.
pub fn responses_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/openapi")
}

static RECORDER: std::sync::Mutex<Option<std::fs::File>> = std::sync::Mutex::new(None);

/// Records `reply` to the request whose raw bytes start with `request` (its request line
/// is read from them), and gives it back.
pub fn recorded(request: &[u8], reply: Reply) -> Reply {
    let line = String::from_utf8_lossy(&request[..request.len().min(4096)]);
    let mut parts = line.lines().next().unwrap_or_default().split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let content_type = reply.header("content-type").to_owned();
    let body = if content_type.contains("json") {
        serde_json::from_slice(&reply.body).unwrap_or(serde_json::Value::Null)
    } else {
        serde_json::Value::Null
    };
    let entry = serde_json::json!({
        "method": method,
        "target": target,
        "status": reply.status,
        "content_type": content_type,
        "body": body,
        "raw_len": reply.body.len(),
    });
    use std::io::Write;
    let mut file = RECORDER.lock().unwrap_or_else(|p| p.into_inner());
    if file.is_none() {
        let dir = responses_dir();
        let _ = std::fs::create_dir_all(&dir);
        *file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("responses-{}.jsonl", std::process::id())))
            .ok();
    }
    if let Some(f) = file.as_mut() {
        let _ = writeln!(f, "{entry}");
    }
    reply
}
