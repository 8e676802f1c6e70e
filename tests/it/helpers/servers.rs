//! thumbkit as a separate process (the `serve` binary, its memory and signals) and a TCP
//! proxy that stops or slows a real S3 server on demand.

#![allow(dead_code)]

use super::app::*;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `thumbkit serve` as a child process, configured by environment only.
pub struct Binary {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// What it printed on stdout but the listening line (drained in the background).
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Binary {
    /// Starts `thumbkit serve` on 127.0.0.1:0 with the shipped presets and `env`.
    pub fn start(env: &[(&str, String)]) -> Self {
        Self::start_in(Path::new(env!("CARGO_MANIFEST_DIR")), env)
    }

    /// [`Self::start`] with `cwd` as its working directory (where it reads `.env`).
    pub fn start_in(cwd: &Path, env: &[(&str, String)]) -> Self {
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
            .current_dir(cwd)
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
        let mut before = Vec::new();
        for line in lines.by_ref().map_while(Result::ok) {
            // Its own address: other lines may name other URLs first (a queue, a peer).
            if let Some(rest) = line.split("serving on http://").nth(1) {
                addr = rest.split('/').next().and_then(|a| a.parse().ok());
                break;
            }
            before.push(line);
        }
        let Some(addr) = addr else {
            let mut err = String::new();
            use std::io::Read;
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("thumbkit serve did not start: {err}");
        };
        let log = Arc::new(std::sync::Mutex::new(before));
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
    /// Holds the start of each answer from upstream this long (its first byte, once per
    /// request): a store with this much latency.
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
    /// Connections still to be answered with S3's `503 SlowDown` instead of passed on.
    slow_downs: Arc<std::sync::atomic::AtomicUsize>,
    /// `503 SlowDown` answers given so far.
    pub answered: Arc<std::sync::atomic::AtomicUsize>,
}

/// What S3 answers when it wants fewer requests.
const SLOW_DOWN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
<Message>Please reduce your request rate.</Message><RequestId>proxy</RequestId></Error>";

impl Proxy {
    /// Proxies to `upstream` (`host:port`).
    pub async fn start(upstream: SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self {
            addr: listener.local_addr().unwrap(),
            fault: Arc::new(std::sync::Mutex::new(Fault::None)),
            epoch: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            slow_downs: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            answered: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        };
        let shared = proxy.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let fault = *shared.fault.lock().unwrap();
                if fault == Fault::Down {
                    drop(client);
                    continue;
                }
                let throttled = shared
                    .slow_downs
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if throttled {
                    let answered = shared.answered.clone();
                    tokio::spawn(async move {
                        // The request's head (the tests' requests here have no body), then
                        // S3's answer, and the connection closed.
                        let mut head = Vec::new();
                        let mut buf = [0u8; 4096];
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match client.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => head.extend_from_slice(&buf[..n]),
                            }
                        }
                        let answer = format!(
                            "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n{SLOW_DOWN}",
                            SLOW_DOWN.len()
                        );
                        // Counted before it is sent, so a client that has read it sees the count.
                        answered.fetch_add(1, Ordering::SeqCst);
                        let _ = client.write_all(answer.as_bytes()).await;
                    });
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
                    // Set when the client has sent (part of) a request: the next bytes from
                    // upstream start its answer, which is the one thing delayed.
                    let asked = std::sync::atomic::AtomicBool::new(false);
                    let up = async {
                        let mut buf = vec![0u8; 64 << 10];
                        loop {
                            let n = cr.read(&mut buf).await?;
                            if n == 0 {
                                return Ok::<_, std::io::Error>(());
                            }
                            asked.store(true, Ordering::SeqCst);
                            sw.write_all(&buf[..n]).await?;
                        }
                    };
                    let down = async {
                        let mut buf = vec![0u8; 64 << 10];
                        loop {
                            let n = sr.read(&mut buf).await?;
                            if n == 0 {
                                return Ok::<_, std::io::Error>(());
                            }
                            let fault = *shared.fault.lock().unwrap();
                            if let Fault::Delay(d) = fault
                                && asked.swap(false, Ordering::SeqCst)
                            {
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

    /// Answers the next `n` connections with S3's `503 SlowDown` (`usize::MAX`: until told
    /// otherwise), cutting the open ones so that the client has to connect again.
    pub fn slow_down(&self, n: usize) {
        self.slow_downs
            .store(n, std::sync::atomic::Ordering::SeqCst);
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Changes how traffic is treated from now on.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
        if fault == Fault::Down {
            self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}
