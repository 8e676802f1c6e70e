//! A real SQS API on loopback: `moto` in server mode (PyPI `moto[server]`, installed by
//! `make test-deps` into `target/moto`), one server per test, and an SDK client to look at
//! the queue as any other tool would.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::QueueAttributeName;

/// moto accepts any credentials; these are what the tests sign with.
pub const MOTO_KEY: (&str, &str) = ("moto-test-key", "moto-test-secret");

/// A moto server (SQS) of this test's own.
pub struct Moto {
    child: std::process::Child,
    pub addr: SocketAddr,
    pub endpoint: String,
    pub client: Client,
}

/// Where `make test-deps` installs moto's server, else PATH's.
fn moto_server() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/moto/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("moto_server")
}

impl Moto {
    /// Starts a moto server on a free loopback port and waits until it answers.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = std::process::Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect(
                "moto_server (run `make test-deps`, which installs moto[server] in target/moto)",
            );
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let endpoint = format!("http://{addr}");
        let until = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(Instant::now() < until, "moto_server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let client = client(&endpoint);
        Self {
            child,
            addr,
            endpoint,
            client,
        }
    }

    /// Creates a queue with `visibility` as its timeout, answering its URL.
    pub async fn queue(&self, name: &str, visibility: Duration) -> String {
        self.client
            .create_queue()
            .queue_name(name)
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility.as_secs().to_string(),
            )
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    }

    /// Sends `body` to the queue at `url`.
    pub async fn send(&self, url: &str, body: &str) {
        self.client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// Messages waiting and in flight (received, not deleted), as SQS counts them.
    pub async fn counts(&self, url: &str) -> (u64, u64) {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let attributes = out.attributes.unwrap_or_default();
        let n = |name| {
            attributes
                .get(&name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (
            n(QueueAttributeName::ApproximateNumberOfMessages),
            n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// Waits at most `limit` until the queue at `url` holds nothing, waiting or in flight.
    pub async fn drained(&self, url: &str, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if self.counts(url).await == (0, 0) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SQS client for `endpoint`.
pub fn client(endpoint: &str) -> Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(MOTO_KEY.0, MOTO_KEY.1, None, None, "test"))
        .build();
    Client::from_conf(config)
}

/// An S3 event notification as S3 sends it to SQS (AWS's documented example, version 2.1),
/// for `event` (e.g. `ObjectCreated:Put`) of `key` in `bucket`; the key URL-encoded as S3
/// encodes it.
pub fn s3_event(event: &str, bucket: &str, key: &str) -> String {
    let encoded: String = percent_encoding::utf8_percent_encode(key, ENCODE)
        .to_string()
        .replace("%20", "+");
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-12-06T12:00:00.000Z", "eventName": event,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "thumbkit",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": encoded, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5"}}
    }]})
    .to_string()
}

/// What S3 percent-encodes in an event's key (all but unreserved characters and `/`).
const ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
