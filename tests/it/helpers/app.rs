//! Harness for the service tests: thumbkit on a real socket (port 0), a real S3 server in
//! process (s3s + s3s-fs with SigV4 auth on), a raw HTTP/1.1 client and a reader for the
//! `/metrics` text.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use thumbkit::config::Config;
use thumbkit::http::Options;
use thumbkit::preset::Presets;
use thumbkit::service::{Settings, Thumbnails};
use thumbkit::storage::{S3Location, S3Options, S3Store, Store};

pub const ACCESS_KEY: &str = "thumbkit-test";
pub const SECRET_KEY: &str = "thumbkit-test-secret-key";
pub const BUCKET: &str = "photos";

/// A fresh, empty temporary directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    // Unique per call: every test shares this process (and so its id).
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("thumbkit-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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
    parse_reply(&raw)
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

/// A real S3 server (s3s-fs) on 127.0.0.1, with SigV4 auth on and one bucket, [`BUCKET`].
#[derive(Clone)]
pub struct S3Server {
    pub endpoint: String,
    pub root: PathBuf,
    /// An SDK client for the test's own puts and checks.
    pub client: aws_sdk_s3::Client,
}

impl S3Server {
    /// Starts a server over a fresh directory and creates [`BUCKET`].
    pub async fn start(tag: &str) -> Self {
        let root = temp_dir(&format!("s3-{tag}"));
        let fs = s3s_fs::FileSystem::new(&root).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let service = service.clone();
                tokio::spawn(async move {
                    let builder = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    );
                    let _ = builder
                        .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        let endpoint = format!("http://{addr}");
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
            .force_path_style(true)
            .build();
        let client = aws_sdk_s3::Client::from_conf(config);
        client.create_bucket().bucket(BUCKET).send().await.unwrap();
        Self {
            endpoint,
            root,
            client,
        }
    }

    /// thumbkit's options for this server.
    pub fn options(&self) -> S3Options {
        S3Options {
            endpoint_url: Some(self.endpoint.clone()),
            path_style: Some(true),
            region: Some("us-east-1".into()),
            credentials: Some((ACCESS_KEY.into(), SECRET_KEY.into())),
        }
    }

    /// A thumbkit store over `s3://photos/{prefix}`.
    pub async fn store(&self, prefix: &str) -> Arc<dyn Store> {
        let location = S3Location::parse(&format!("{BUCKET}/{prefix}")).unwrap();
        Arc::new(S3Store::connect(location, self.options()).await)
    }

    /// Puts an object with the SDK, as any uploader would (no thumbkit metadata).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) {
        self.client
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .unwrap();
    }

    /// An object's bytes and content type, or `None`.
    pub async fn get(&self, key: &str) -> Option<(Vec<u8>, String)> {
        let out = self
            .client
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .ok()?;
        let content_type = out.content_type().unwrap_or_default().to_owned();
        let bytes = out.body.collect().await.ok()?.into_bytes().to_vec();
        Some((bytes, content_type))
    }

    /// Every key in the bucket under `prefix`.
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix(prefix)
            .send()
            .await
            .unwrap();
        let mut keys: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        keys.sort();
        keys
    }
}

/// `thumbkit serve` as a child process, configured by environment only.
pub struct Binary {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// What it printed on stdout after the listening line (drained in the background).
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Binary {
    /// Starts `thumbkit serve` on 127.0.0.1:0 with the shipped presets and `env`.
    pub fn start(env: &[(&str, String)]) -> Self {
        use std::io::BufRead;
        // THUMBKIT_TEST_BIN runs the tests against another build (a release binary, an
        // older version) to compare.
        let binary = std::env::var_os("THUMBKIT_TEST_BIN").map_or_else(
            || env!("CARGO_BIN_EXE_thumbkit").into(),
            std::path::PathBuf::from,
        );
        let mut command = std::process::Command::new(binary);
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("THUMBKIT_LISTEN", "127.0.0.1:0")
            .env(
                "THUMBKIT_PRESETS",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("presets"),
            )
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut addr = None;
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some(rest) = line.split("http://").nth(1) {
                addr = rest.split('/').next().and_then(|a| a.parse().ok());
                break;
            }
        }
        let Some(addr) = addr else {
            let mut err = String::new();
            use std::io::Read;
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("thumbkit serve did not start: {err}");
        };
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, addr, log }
    }

    /// The environment for an S3 store at `server`.
    pub fn s3_env(server: &S3Server, storage: &str) -> Vec<(&'static str, String)> {
        vec![
            ("THUMBKIT_STORAGE", storage.to_owned()),
            ("AWS_ENDPOINT_URL", server.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// A `VmHWM`/`VmRSS`-style line of `/proc/{pid}/status`, in bytes.
    pub fn memory(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`).
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, signal);
        }
    }

    /// Waits at most `limit` for the process to exit; its status, or `None` if still running.
    pub fn wait_for(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + limit;
        while std::time::Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a [`Proxy`] treats traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Passes bytes through.
    None,
    /// Holds each answer from upstream this long first.
    Delay(std::time::Duration),
    /// Closes every connection at once: the server is down.
    Down,
}

/// A TCP proxy on 127.0.0.1 in front of a real server, that can be slowed or stopped.
#[derive(Clone)]
pub struct Proxy {
    pub addr: SocketAddr,
    fault: Arc<std::sync::Mutex<Fault>>,
    /// Bumped when going down, so open connections are cut too.
    epoch: Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    /// Proxies to `upstream` (`host:port`).
    pub async fn start(upstream: SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self {
            addr: listener.local_addr().unwrap(),
            fault: Arc::new(std::sync::Mutex::new(Fault::None)),
            epoch: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        };
        let shared = proxy.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let fault = *shared.fault.lock().unwrap();
                if fault == Fault::Down {
                    drop(client);
                    continue;
                }
                let epoch = shared.epoch.load(Ordering::SeqCst);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.split();
                    let (mut sr, mut sw) = server.split();
                    let up = tokio::io::copy(&mut cr, &mut sw);
                    let down = async {
                        let mut buf = vec![0u8; 64 << 10];
                        loop {
                            let n = sr.read(&mut buf).await?;
                            if n == 0 {
                                return Ok::<_, std::io::Error>(());
                            }
                            let fault = *shared.fault.lock().unwrap();
                            if let Fault::Delay(d) = fault {
                                tokio::time::sleep(d).await;
                            }
                            cw.write_all(&buf[..n]).await?;
                        }
                    };
                    let cut = async {
                        while shared.epoch.load(Ordering::SeqCst) == epoch {
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        }
                    };
                    tokio::select! {
                        _ = up => {},
                        _ = down => {},
                        () = cut => {},
                    }
                });
            }
        });
        proxy
    }

    /// Changes how traffic is treated from now on.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
        if fault == Fault::Down {
            self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}
