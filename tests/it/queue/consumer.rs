//! One instance pulling the queue: every shape of message is done or ignored and deleted;
//! what cannot be rendered is deleted once; a store outage leaves the message for later; a
//! long render keeps its message hidden; a queue outage is waited out.

use super::*;

/// An SNS notification's envelope around `message`, as SNS delivers it to SQS when raw
/// delivery is off (AWS's documented fields; SQS's access policy vouches for it).
fn sns_envelope(message: &str) -> String {
    serde_json::json!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:photo-uploads",
        "Subject": "Amazon S3 Notification",
        "Message": message,
        "Timestamp": "2026-12-06T12:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:photo-uploads:c9135db0-26c4-47ec-8998-413945fb5a96"
    })
    .to_string()
}

/// An EventBridge event from S3, as an EventBridge rule delivers it to SQS.
fn eventbridge(detail_type: &str, bucket: &str, key: &str, reason: &str) -> String {
    serde_json::json!({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type, "source": "aws.s3", "account": "123456789012",
        "time": "2026-12-06T12:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {"version": "0", "bucket": {"name": bucket},
                   "object": {"key": key, "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "617f08299329d189"},
                   "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012",
                   "source-ip-address": "1.2.3.4", "reason": reason}
    })
    .to_string()
}

const TEST_EVENT: &str = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-12-06T12:00:00.000Z","Bucket":"photos","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shape_s3_sends_through_sqs_is_done_and_deleted() {
    let (s3, moto) = (S3Server::start("queue-shapes").await, Moto::start().await);
    let url = moto.queue("shapes", Duration::from_secs(30)).await;
    let keys = [
        "q/direct.jpg",
        "q/through sns.jpg",
        "q/raw+sns.jpg",
        "q/bridge.jpg",
    ];
    // Each its own content, so each has variants of its own.
    for (i, key) in keys.iter().enumerate() {
        s3.put(key, super::cli::distinct(&fixture("sample.jpg"), i))
            .await;
    }
    let direct = s3_event("ObjectCreated:Put", BUCKET, keys[0]);
    moto.send(&url, &direct).await;
    moto.send(
        &url,
        &sns_envelope(&s3_event("ObjectCreated:Put", BUCKET, keys[1])),
    )
    .await;
    // SNS with raw delivery passes S3's JSON as it is.
    moto.send(
        &url,
        &s3_event("ObjectCreated:CompleteMultipartUpload", BUCKET, keys[2]),
    )
    .await;
    moto.send(
        &url,
        &eventbridge("Object Created", BUCKET, keys[3], "PutObject"),
    )
    .await;
    moto.send(&url, TEST_EVENT).await;
    moto.send(
        &url,
        &s3_event("ObjectCreated:Put", "someone-elses", keys[0]),
    )
    .await;
    moto.send(&url, "<html>not an event</html>").await;

    let app = spawn_consumer(
        s3.store("").await,
        pregenerating(&["thumb"]),
        super::options(&moto.endpoint, &url),
    )
    .await;
    assert!(
        moto.drained(&url, Duration::from_secs(60)).await,
        "every message deleted"
    );
    assert_eq!(messages(&app, "received").await, 7.0);
    assert_eq!(messages(&app, "done").await, 4.0);
    // S3's test event and another bucket's event: nothing to do, deleted and counted.
    assert_eq!(messages(&app, "ignored").await, 2.0);
    // Not an S3 event at all: failed for good, deleted, never redelivered.
    assert_eq!(messages(&app, "failed").await, 1.0);
    assert_eq!(messages(&app, "deleted").await, 7.0);
    assert_eq!(messages(&app, "redelivered").await, 0.0);
    // A fresh instance finds each original's variant in the bucket.
    let other = spawn_app(s3.store("").await, shipped_presets(), Settings::default()).await;
    for key in keys {
        let path = format!("/t/thumb/{}", key.replace(' ', "%20").replace('+', "%2B"));
        let r = other.get(&path).await;
        assert_eq!(r.status, 200, "{key}");
        assert_eq!(
            r.header("x-cache"),
            "hit-store",
            "{key}: pre-generated from the queue"
        );
    }

    // A removal, through EventBridge: the variants go once the original has gone.
    s3.client
        .delete_object()
        .bucket(BUCKET)
        .key(keys[3])
        .send()
        .await
        .unwrap();
    let variants = s3.variants().await;
    moto.send(
        &url,
        &eventbridge("Object Deleted", BUCKET, keys[3], "DeleteObject"),
    )
    .await;
    assert!(counted(&app, "done", 5.0, Duration::from_secs(30)).await);
    assert!(moto.drained(&url, Duration::from_secs(10)).await);
    let left = s3.variants().await;
    assert!(
        left < variants,
        "the removed original's variants purged: {variants} -> {left}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_original_that_cannot_be_rendered_is_failed_once_and_its_message_deleted() {
    let (s3, moto) = (S3Server::start("queue-corrupt").await, Moto::start().await);
    // A short visibility timeout: a message left behind would be back within a second.
    let url = moto.queue("corrupt", Duration::from_secs(1)).await;
    s3.put("q/cut.jpg", fixture("truncated.jpg")).await;
    moto.send(&url, &s3_event("ObjectCreated:Put", BUCKET, "q/cut.jpg"))
        .await;
    let app = spawn_consumer(
        s3.store("").await,
        pregenerating(&["thumb", "small"]),
        super::options(&moto.endpoint, &url),
    )
    .await;
    assert!(moto.drained(&url, Duration::from_secs(30)).await);
    // Three visibility timeouts later it has not come back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(moto.counts(&url).await, (0, 0));
    assert_eq!(messages(&app, "received").await, 1.0);
    assert_eq!(messages(&app, "failed").await, 1.0);
    assert_eq!(messages(&app, "redelivered").await, 0.0);
    // The failure is remembered: a request for it is answered without reading it again.
    let r = app.get("/t/thumb/q/cut.jpg").await;
    assert_eq!(r.status, 422);
    assert_eq!(r.header("x-cache"), "hit-failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_leaves_the_message_for_redelivery_and_it_is_done_after() {
    let (s3, moto) = (
        S3Server::start("queue-store-down").await,
        Moto::start().await,
    );
    let url = moto.queue("store-down", Duration::from_secs(2)).await;
    s3.put("q/photo.jpg", fixture("sample.jpg")).await;
    let proxy = Proxy::start(s3.addr()).await;
    let store = s3.store_via(proxy.addr).await;
    let settings = Settings {
        storage_timeout: Duration::from_secs(2),
        ..pregenerating(&["thumb"])
    };
    let app = spawn_consumer(store, settings, super::options(&moto.endpoint, &url)).await;
    proxy.set(Fault::Down);
    moto.send(&url, &s3_event("ObjectCreated:Put", BUCKET, "q/photo.jpg"))
        .await;
    assert!(counted(&app, "retried", 1.0, Duration::from_secs(60)).await);
    assert_eq!(messages(&app, "deleted").await, 0.0, "kept for redelivery");
    proxy.set(Fault::None);
    assert!(
        moto.drained(&url, Duration::from_secs(60)).await,
        "done once the store is back"
    );
    assert!(messages(&app, "redelivered").await >= 1.0);
    assert_eq!(messages(&app, "done").await, 1.0);
    let variants = s3.variants().await;
    assert!(variants >= 1, "the variant is in the bucket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_longer_than_the_visibility_timeout_keeps_its_message_hidden() {
    let (s3, moto) = (S3Server::start("queue-long").await, Moto::start().await);
    // One second of visibility, and one message naming six 12-megapixel photos (S3 sends a
    // record per message; a message may carry more): its work takes seconds.
    let url = moto.queue("long", Duration::from_secs(1)).await;
    let mut records = Vec::new();
    for i in 0..6 {
        let key = format!("q/big-{i}.jpg");
        s3.put(&key, super::cli::distinct(&fixture("IMG_9424.JPG"), i))
            .await;
        let event: serde_json::Value =
            serde_json::from_str(&s3_event("ObjectCreated:Put", BUCKET, &key)).unwrap();
        records.push(event["Records"][0].clone());
    }
    let started = Instant::now();
    let body = serde_json::json!({ "Records": records }).to_string();
    moto.send(&url, &body).await;
    let app = spawn_consumer(
        s3.store("").await,
        pregenerating(&["all"]),
        QueueOptions {
            pollers: 4,
            ..super::options(&moto.endpoint, &url)
        },
    )
    .await;
    assert!(moto.drained(&url, Duration::from_secs(120)).await);
    let took = started.elapsed();
    assert!(
        took > Duration::from_secs(3),
        "the work outlasted the timeout: {took:?}"
    );
    // No other poller received it while it was worked on, so nothing was rendered twice.
    assert_eq!(messages(&app, "received").await, 1.0);
    assert_eq!(messages(&app, "redelivered").await, 0.0);
    let renders = app.metric("thumbkit_renders_total", &[]).await;
    let variants = s3.variants().await;
    assert_eq!(renders, variants as f64, "each variant rendered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_unreachable_for_30_seconds_is_waited_out_without_a_restart() {
    let (s3, moto) = (S3Server::start("queue-down").await, Moto::start().await);
    let url = moto.queue("down", Duration::from_secs(30)).await;
    s3.put("q/before.jpg", fixture("sample.jpg")).await;
    s3.put("q/during.jpg", fixture("concert.jpg")).await;
    let proxy = Proxy::start(moto.addr).await;
    let app = spawn_consumer(
        s3.store("").await,
        pregenerating(&["thumb"]),
        super::options(&format!("http://{}", proxy.addr), &url),
    )
    .await;
    moto.send(&url, &s3_event("ObjectCreated:Put", BUCKET, "q/before.jpg"))
        .await;
    assert!(counted(&app, "done", 1.0, Duration::from_secs(30)).await);
    proxy.set(Fault::Down);
    let down = Instant::now();
    // Counted once the proxy is down and a long poll in flight (1 s) has ended: moto, like
    // SQS, may deliver the first message twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (received, done) = (
        messages(&app, "received").await,
        messages(&app, "done").await,
    );
    moto.send(&url, &s3_event("ObjectCreated:Put", BUCKET, "q/during.jpg"))
        .await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        messages(&app, "received").await,
        received,
        "nothing received while down"
    );
    assert_eq!(
        moto.counts(&url).await.0,
        1,
        "the message waits in the queue"
    );
    proxy.set(Fault::None);
    assert!(
        counted(&app, "done", done + 1.0, Duration::from_secs(60)).await,
        "resumed"
    );
    let after = down.elapsed();
    assert!(moto.drained(&url, Duration::from_secs(10)).await);
    // Backed off (at most 20 s between tries), not given up.
    assert!(
        after < Duration::from_secs(30 + 25),
        "resumed {after:?} after the outage began"
    );
    assert_eq!(app.get("/healthz").await.status, 200);
}
