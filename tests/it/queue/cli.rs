//! `thumbkit events --once` on a backlog, `thumbkit doctor` on the queue, and the settings
//! refused with one line: the binary run as an operator runs it.

use super::*;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};

/// The environment of a thumbkit over `s3`'s bucket pulling `url` on `moto`.
fn env(s3: &S3Server, moto: &Moto, url: &str) -> Vec<(&'static str, String)> {
    let mut env = Binary::s3_env(s3, &format!("s3://{BUCKET}"));
    env.extend([
        ("THUMBKIT_SQS_QUEUE_URL", url.to_owned()),
        // The SDK's own variable for SQS's endpoint, beside AWS_ENDPOINT_URL (S3's here).
        ("AWS_ENDPOINT_URL_SQS", moto.endpoint.clone()),
        (
            "THUMBKIT_PRESETS",
            format!("{}/presets", env!("CARGO_MANIFEST_DIR")),
        ),
        ("AWS_CONFIG_FILE", "/nonexistent".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("PATH", std::env::var("PATH").unwrap_or_default()),
    ]);
    env
}

/// Runs `thumbkit {args}` with only `env`, answering its exit code, stdout and stderr.
async fn run(args: &[&str], env: Vec<(&'static str, String)>) -> (Option<i32>, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"));
    command
        .args(args)
        .env_clear()
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in env {
        command.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// `photo` with a comment of `n` after its SOI: the same picture, another content hash.
pub(super) fn distinct(photo: &[u8], n: usize) -> Vec<u8> {
    let text = format!("copy {n}");
    let length = (text.len() + 2) as u16;
    let mut out = photo[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&photo[2..]);
    out
}

/// Sends one S3 event per key, ten to a call.
pub(super) async fn announce(moto: &Moto, url: &str, keys: &[String]) {
    for chunk in keys.chunks(10) {
        let entries = chunk.iter().enumerate().map(|(i, key)| {
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(s3_event("ObjectCreated:Put", BUCKET, key))
                .build()
                .unwrap()
        });
        moto.client
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries.collect()))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_once_drains_a_backlog_of_500_messages_and_says_how_fast() {
    let (s3, moto) = (S3Server::start("queue-once").await, Moto::start().await);
    let url = moto.queue("backlog", Duration::from_secs(60)).await;
    let photo = fixture("sample.jpg");
    let keys: Vec<String> = (0..500).map(|i| format!("backlog/{i:03}.jpg")).collect();
    for (i, key) in keys.iter().enumerate() {
        s3.put(key, distinct(&photo, i)).await;
    }
    announce(&moto, &url, &keys).await;
    assert_eq!(moto.counts(&url).await, (500, 0));
    let mut env = env(&s3, &moto, &url);
    env.extend([
        ("THUMBKIT_PREGENERATE", "thumb".into()),
        ("THUMBKIT_SQS_CONCURRENCY", "4".into()),
    ]);
    let started = Instant::now();
    let (code, out, err) = run(&["events", "--once"], env).await;
    let took = started.elapsed();
    println!("{out}{err}took {took:?}");
    assert_eq!(code, Some(0), "{out}{err}");
    // One summary line with the count and the rate; progress lines on stderr (not a tty).
    let summary = out
        .lines()
        .find(|l| l.starts_with("events: "))
        .unwrap_or_default();
    // SQS delivers at least once: a message may come twice (moto, like SQS, now and then
    // hands one to two concurrent receives); both are done and deleted.
    let received: u64 = summary
        .strip_prefix("events: ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!((500..=510).contains(&received), "{summary}");
    let tail = format!(
        "/s): {received} done, 0 ignored, 0 failed, 0 left for redelivery; {received} deleted"
    );
    assert!(summary.ends_with(&tail), "{summary}");
    assert!(
        err.lines().any(|l| l.starts_with("events: ")
            && l.contains(" messages, ")
            && l.contains("/s, ETA")),
        "progress with a rate: {err}"
    );
    assert_eq!(moto.counts(&url).await, (0, 0));
    let variants = s3.variants().await;
    assert_eq!(variants, 500, "one `thumb` variant per original");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reads_the_queue_and_says_what_to_fix() {
    let (s3, moto) = (S3Server::start("queue-doctor").await, Moto::start().await);
    let short = moto.queue("short", Duration::from_secs(5)).await;
    let (code, out, err) = run(&["doctor"], env(&s3, &moto, &short)).await;
    assert_eq!(code, Some(0), "warnings only: {out}{err}");
    let line = |name: &str| {
        out.lines()
            .find(|l| l.contains(&format!(" {name}: ")))
            .unwrap_or_default()
            .to_owned()
    };
    let visibility = line("queue visibility");
    assert!(
        visibility.starts_with("WARN")
            && visibility.contains("5s, shorter than the render timeout (30s)"),
        "{out}"
    );
    assert!(visibility.contains("VisibilityTimeout=60"), "{visibility}");
    assert!(
        line("queue").starts_with("WARN") && line("queue").contains("no redrive policy"),
        "{out}"
    );

    // With a dead-letter queue and room for a render: ok, with the counts.
    let dlq = moto.queue("dead", Duration::from_secs(60)).await;
    let good = moto.queue("good", Duration::from_secs(120)).await;
    let policy = serde_json::json!({
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:dead", "maxReceiveCount": "5"
    });
    moto.client
        .set_queue_attributes()
        .queue_url(&good)
        .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
        .send()
        .await
        .unwrap();
    moto.send(&good, &s3_event("ObjectCreated:Put", BUCKET, "a.jpg"))
        .await;
    let (code, out, _) = run(&["doctor"], env(&s3, &moto, &good)).await;
    assert_eq!(code, Some(0), "{out}");
    let ok = line_of(&out, " queue: ");
    assert!(
        ok.starts_with("ok") && ok.contains("1 waiting") && ok.contains("after 5 receives"),
        "{out}"
    );
    assert!(!out.contains("queue visibility"), "{out}");
    let _ = dlq;

    // A queue that does not exist: a failure, with the fix.
    let missing = format!("{}/123456789012/nope", moto.endpoint);
    let (code, out, _) = run(&["doctor"], env(&s3, &moto, &missing)).await;
    assert_eq!(code, Some(1), "{out}");
    let fail = line_of(&out, " queue: ");
    assert!(
        fail.starts_with("FAIL")
            && fail.contains("there is no queue")
            && fail.contains("THUMBKIT_SQS_QUEUE_URL"),
        "{out}"
    );
}

fn line_of(text: &str, needle: &str) -> String {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_settings_are_refused_in_one_line() {
    let (s3, moto) = (S3Server::start("queue-settings").await, Moto::start().await);
    let url = moto.queue("settings", Duration::from_secs(60)).await;
    // Without a queue, `events` says what to set.
    let mut env_none = env(&s3, &moto, &url);
    env_none.retain(|(k, _)| *k != "THUMBKIT_SQS_QUEUE_URL");
    let (code, _, err) = run(&["events", "--once"], env_none).await;
    assert_eq!(code, Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("THUMBKIT_SQS_QUEUE_URL is not set"), "{err}");
    for (var, value, says) in [
        (
            "THUMBKIT_SQS_QUEUE_URL",
            "sqs.eu-west-1.amazonaws.com/1/q",
            "not an http:// or https:// URL",
        ),
        ("THUMBKIT_SQS_CONCURRENCY", "0", "from 1 to 64"),
        ("THUMBKIT_SQS_CONCURRENCY", "many", "invalid digit"),
    ] {
        let mut env = env(&s3, &moto, &url);
        env.push((var, value.to_owned()));
        let (code, _, err) = run(&["serve"], env).await;
        assert_eq!(code, Some(1), "{var}={value}: {err}");
        assert_eq!(err.lines().count(), 1, "{var}={value}: {err}");
        assert!(err.contains(says), "{var}={value}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_without_once_pulls_until_sigterm_then_exits_cleanly() {
    let (s3, moto) = (S3Server::start("queue-worker").await, Moto::start().await);
    let url = moto.queue("worker", Duration::from_secs(30)).await;
    s3.put("w/a.jpg", fixture("sample.jpg")).await;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"));
    command
        .arg("events")
        .env_clear()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in env(&s3, &moto, &url) {
        command.env(k, v);
    }
    command.env("THUMBKIT_PREGENERATE", "thumb");
    let mut worker = command.spawn().unwrap();
    // Sent after it started: it waits on the queue, with no HTTP port of its own.
    tokio::time::sleep(Duration::from_secs(1)).await;
    moto.send(&url, &s3_event("ObjectCreated:Put", BUCKET, "w/a.jpg"))
        .await;
    assert!(
        moto.drained(&url, Duration::from_secs(60)).await,
        "done and deleted"
    );
    let variants = s3.variants().await;
    assert_eq!(variants, 1);
    // SIGTERM: the pollers stop, and it exits 0 within a long poll.
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(worker.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = tokio::task::spawn_blocking(move || worker.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
}
