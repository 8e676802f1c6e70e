//! S3 event notifications through SNS, as AWS delivers them to an HTTPS subscription: the
//! subscription is confirmed, signed notifications carrying S3 events (and S3's test event)
//! are acted on, and forged or untrusted messages get 403. The messages have the shapes of
//! AWS's documentation and are signed by OpenSSL with a certificate served from a stand-in
//! for SNS on 127.0.0.1 (configured as `THUMBKIT_SNS_ORIGIN`, as for an emulator).

mod replay;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use axum::extract::RawQuery;
use axum::routing::get;
use base64::Engine as _;
use thumbkit::http::Options;
use thumbkit::service::Settings;
use thumbkit::sns::SnsOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "hook-token";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:photo-uploads";

/// A stand-in for SNS: serves the signing certificate and records confirmation calls.
struct FakeSns {
    origin: String,
    confirmations: Arc<Mutex<Vec<String>>>,
    dir: PathBuf,
}

fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (make deps installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A self-signed RSA 2048 certificate and its key in `dir`, named `name`.
fn keypair(dir: &Path, name: &str) {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=sns.amazonaws.com",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
        ],
        dir,
    );
}

impl FakeSns {
    async fn start(tag: &str) -> Self {
        let dir = temp_dir(tag);
        keypair(&dir, "sns");
        keypair(&dir, "other");
        let cert = std::fs::read(dir.join("sns.pem")).unwrap();
        let confirmations = Arc::new(Mutex::new(Vec::new()));
        let seen = confirmations.clone();
        let app = axum::Router::new()
            .route(
                "/SimpleNotificationService-test.pem",
                get(move || async move { cert }),
            )
            .route(
                "/",
                get(move |RawQuery(query): RawQuery| async move {
                    seen.lock().unwrap().push(query.unwrap_or_default());
                    "<ConfirmSubscriptionResponse><ConfirmSubscriptionResult>\
                     <SubscriptionArn>arn:aws:sns:us-east-1:123456789012:photo-uploads:1\
                     </SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>"
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            origin: format!("http://{addr}"),
            confirmations,
            dir,
        }
    }

    fn cert_url(&self) -> String {
        format!("{}/SimpleNotificationService-test.pem", self.origin)
    }

    /// Signs `message`'s fields (as SNS does, SignatureVersion 1 = SHA1, 2 = SHA256) with
    /// the key `name` and fills in `Signature`.
    fn sign(&self, message: &mut serde_json::Value, name: &str) {
        let text = |k: &str| message[k].as_str().map(str::to_owned);
        let kind = text("Type").unwrap();
        let mut fields = vec!["Message", "MessageId"];
        if kind == "Notification" {
            if text("Subject").is_some() {
                fields.push("Subject");
            }
            fields.push("Timestamp");
        } else {
            fields.extend(["SubscribeURL", "Timestamp", "Token"]);
        }
        fields.extend(["TopicArn", "Type"]);
        let signed: String = fields
            .iter()
            .map(|f| format!("{f}\n{}\n", text(f).unwrap()))
            .collect();
        let input = self.dir.join("to-sign");
        std::fs::write(&input, signed).unwrap();
        let digest = if text("SignatureVersion").as_deref() == Some("2") {
            "-sha256"
        } else {
            "-sha1"
        };
        let signature = openssl(
            &["dgst", digest, "-sign", &format!("{name}.key"), "to-sign"],
            &self.dir,
        );
        message["Signature"] = base64::engine::general_purpose::STANDARD
            .encode(signature)
            .into();
    }

    /// A SubscriptionConfirmation as SNS sends it, signed.
    fn confirmation(&self) -> serde_json::Value {
        let mut m = serde_json::json!({
            "Type": "SubscriptionConfirmation",
            "MessageId": message_id(),
            "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
            "TopicArn": TOPIC,
            "Message": format!("You have chosen to subscribe to the topic {TOPIC}.\nTo confirm the subscription, visit the SubscribeURL included in this message."),
            "SubscribeURL": format!("{}/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37fb", self.origin),
            "Timestamp": timestamp(0),
            "SignatureVersion": "1",
            "SigningCertURL": self.cert_url(),
        });
        self.sign(&mut m, "sns");
        m
    }

    /// A Notification carrying `inner` (an S3 event notification), signed with version
    /// `version`.
    fn notification(&self, inner: &serde_json::Value, version: &str) -> serde_json::Value {
        let mut m = serde_json::json!({
            "Type": "Notification",
            "MessageId": message_id(),
            "TopicArn": TOPIC,
            "Subject": "Amazon S3 Notification",
            "Message": inner.to_string(),
            "Timestamp": timestamp(0),
            "SignatureVersion": version,
            "SigningCertURL": self.cert_url(),
            "UnsubscribeURL": format!("{}/?Action=Unsubscribe&SubscriptionArn={TOPIC}:1", self.origin),
        });
        self.sign(&mut m, "sns");
        m
    }
}

/// An S3 event notification record, as S3 writes it.
fn s3_event(name: &str, key: &str) -> serde_json::Value {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-24T09:00:00.000Z", "eventName": name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "thumbkit",
               "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{BUCKET}")},
               "object": {"key": key, "size": 161713, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5"}}
    }]})
}

/// POSTs `body` to the hook as SNS does: JSON as text/plain, the message type in a header,
/// the token as the basic-auth password of the subscription URL.
async fn post(addr: SocketAddr, body: &serde_json::Value, auth: Option<&str>) -> Reply {
    let body = body.to_string();
    let mut head = format!(
        "POST /v1/hooks/s3 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: text/plain; charset=UTF-8\r\nx-amz-sns-message-type: {}\r\n\
         Content-Length: {}\r\n",
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["Type"]
            .as_str()
            .unwrap_or("none"),
        body.len()
    );
    if let Some(auth) = auth {
        head.push_str(&format!("Authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    recorded(head.as_bytes(), parse_reply(&raw))
}

fn basic() -> String {
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("sns:{TOKEN}"));
    format!("Basic {credentials}")
}

async fn app(s3: &S3Server, sns: &FakeSns) -> App {
    app_over(s3.store("").await, sns, Settings::default()).await
}

/// thumbkit over `store` with `settings`, trusting `sns`'s topic.
async fn app_over(
    store: Arc<dyn thumbkit::storage::Store>,
    sns: &FakeSns,
    settings: Settings,
) -> App {
    let options = Options {
        api_token: Some(TOKEN.into()),
        sns: SnsOptions {
            topics: vec![TOPIC.into()],
            extra_origin: Some(sns.origin.clone()),
        },
        ..Options::default()
    };
    spawn_app_with(store, shipped_presets(), settings, options).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_is_confirmed_and_signed_notifications_are_acted_on() {
    let s3 = S3Server::start("sns").await;
    let sns = FakeSns::start("sns-fake").await;
    let app = app(&s3, &sns).await;

    // SNS first posts without credentials and expects a challenge for basic auth.
    let confirmation = sns.confirmation();
    let challenge = post(app.addr, &confirmation, None).await;
    assert_eq!(challenge.status, 401);
    assert!(
        challenge
            .header("www-authenticate")
            .contains("Basic realm="),
        "{:?}",
        challenge.headers
    );
    assert!(sns.confirmations.lock().unwrap().is_empty());

    let confirmed = post(app.addr, &confirmation, Some(&basic())).await;
    assert_eq!(
        confirmed.status,
        200,
        "{}",
        String::from_utf8_lossy(&confirmed.body)
    );
    let confirmations = sns.confirmations.lock().unwrap().clone();
    assert_eq!(confirmations.len(), 1);
    assert!(confirmations[0].starts_with("Action=ConfirmSubscription&TopicArn="));

    // S3's test event, sent when the bucket's notification is configured, through SNS.
    let test_event = serde_json::json!({
        "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-24T08:59:00.000Z",
        "Bucket": BUCKET, "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"
    });
    let acked = post(
        app.addr,
        &sns.notification(&test_event, "1"),
        Some(&basic()),
    )
    .await;
    assert_eq!(
        acked.status,
        200,
        "{}",
        String::from_utf8_lossy(&acked.body)
    );
    let acked: serde_json::Value = serde_json::from_slice(&acked.body).unwrap();
    assert_eq!(acked["test_event"], true);

    // An upload: both signature versions (SHA1 is still SNS's default, SHA256 opt-in).
    s3.put("uploads/cat.jpg", fixture("DSCN0010.jpg")).await;
    for version in ["1", "2"] {
        let created = sns.notification(&s3_event("ObjectCreated:Put", "uploads/cat.jpg"), version);
        let r = post(app.addr, &created, Some(&basic())).await;
        assert_eq!(
            r.status,
            200,
            "v{version}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let r: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(r["results"][0]["action"], "pregenerated", "{r}");
    }
    let stored = s3
        .keys("_variants/")
        .await
        .into_iter()
        .filter(|k| is_variant(k))
        .count();
    assert!(stored >= 6, "every preset stored: {stored}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_or_untrusted_sns_messages_get_403_and_do_nothing() {
    let s3 = S3Server::start("sns-forged").await;
    let sns = FakeSns::start("sns-forged-fake").await;
    let app = app(&s3, &sns).await;
    s3.put("uploads/cat.jpg", fixture("DSCN0010.jpg")).await;
    let created = s3_event("ObjectCreated:Put", "uploads/cat.jpg");

    // Altered after signing: the key it names is not the one SNS signed.
    let mut altered = sns.notification(&created, "1");
    altered["Message"] = s3_event("ObjectRemoved:Delete", "uploads/cat.jpg")
        .to_string()
        .into();
    // Signed with a key that is not the certificate's.
    let mut other_key = sns.notification(&created, "2");
    sns.sign(&mut other_key, "other");
    // A certificate from a host that is not SNS (and is never fetched).
    let mut elsewhere = sns.notification(&created, "1");
    elsewhere["SigningCertURL"] =
        "https://sns.us-east-1.amazonaws.com.attacker.example/x.pem".into();
    // A confirmation asking thumbkit to call a URL that is not SNS.
    let mut confirm_elsewhere = sns.confirmation();
    confirm_elsewhere["SubscribeURL"] =
        "http://169.254.169.254/latest/meta-data/?Action=ConfirmSubscription".into();
    sns.sign(&mut confirm_elsewhere, "sns");
    // Another topic, validly signed.
    let mut other_topic = sns.notification(&created, "1");
    other_topic["TopicArn"] = "arn:aws:sns:us-east-1:999999999999:someone-else".into();
    sns.sign(&mut other_topic, "sns");
    // Unsigned.
    let mut unsigned = sns.notification(&created, "1");
    unsigned.as_object_mut().unwrap().remove("Signature");
    // Validly signed, but captured and replayed two hours later.
    let mut stale = sns.notification(&created, "2");
    stale["Timestamp"] = timestamp(7200).into();
    sns.sign(&mut stale, "sns");
    // Validly signed, dated a day ahead.
    let mut ahead = sns.notification(&created, "2");
    ahead["Timestamp"] = timestamp(-86_400).into();
    sns.sign(&mut ahead, "sns");

    for (what, message, status, words) in [
        ("altered", altered, 403, "does not verify"),
        ("other key", other_key, 403, "does not verify"),
        (
            "untrusted certificate",
            elsewhere,
            403,
            "not on an SNS host",
        ),
        (
            "untrusted SubscribeURL",
            confirm_elsewhere,
            403,
            "not on an SNS host",
        ),
        ("other topic", other_topic, 403, "THUMBKIT_SNS_TOPICS"),
        ("unsigned", unsigned, 400, "Signature"),
        ("replayed late", stale, 403, "more than an hour ago"),
        ("dated ahead", ahead, 403, "ahead of this instance's clock"),
    ] {
        let r = post(app.addr, &message, Some(&basic())).await;
        assert_eq!(
            r.status,
            status,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let detail = r.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains(words), "{what}: {detail}");
    }
    assert!(sns.confirmations.lock().unwrap().is_empty());
    let variants: Vec<_> = s3
        .keys("_variants/")
        .await
        .into_iter()
        .filter(|k| is_variant(k))
        .collect();
    assert!(variants.is_empty(), "{variants:?}");
    assert_eq!(s3.keys("uploads/").await, ["uploads/cat.jpg"]);

    // With THUMBKIT_SNS_TOPICS set, only SNS messages count: a bare S3 event (which anyone
    // with the token could write) is refused, test event or not.
    let bearer = format!("Bearer {TOKEN}");
    for bare in [
        serde_json::json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}),
        created.clone(),
    ] {
        let r = post(app.addr, &bare, Some(&bearer)).await;
        assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
        assert!(
            r.problem()["detail"]
                .as_str()
                .unwrap()
                .contains("THUMBKIT_SNS_TOPICS")
        );
    }
    assert!(
        s3.keys("_variants/")
            .await
            .into_iter()
            .all(|k| !is_variant(&k))
    );
}

/// SNS's `Timestamp` for `ago` seconds before now (ISO 8601, UTC).
fn timestamp(ago: i64) -> String {
    let now = i64::try_from(thumbkit::signing::now()).unwrap();
    aws_smithy_types::DateTime::from_secs(now - ago)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap()
}

/// A `MessageId` no other message of the run has (SNS's are UUIDs).
fn message_id() -> String {
    let hex = thumbkit::signing::random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
