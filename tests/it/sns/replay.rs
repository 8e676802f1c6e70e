//! SNS delivers at least once: a message that arrives again (or another message under a
//! delivered one's `MessageId`) is acknowledged and not acted on again.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_delivered_twice_is_acted_on_once() {
    let s3 = S3Server::start("sns-twice").await;
    let sns = FakeSns::start("sns-twice-fake").await;
    let app = app(&s3, &sns).await;
    s3.put("uploads/dog.jpg", fixture("DSCN0010.jpg")).await;
    let created = sns.notification(&s3_event("ObjectCreated:Put", "uploads/dog.jpg"), "2");
    let first = post(app.addr, &created, Some(&basic())).await;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    app.service.drain().await;
    let renders = app.metric("thumbkit_renders_total", &[]).await;
    assert!(renders > 0.0);
    // The same message again (SNS retries when an answer is slow): acknowledged, not redone.
    let s3_removed = sns.notification(&s3_event("ObjectRemoved:Delete", "uploads/dog.jpg"), "2");
    let mut replay = s3_removed.clone();
    replay["MessageId"] = created["MessageId"].clone();
    sns.sign(&mut replay, "sns");
    for again in [&created, &replay] {
        let r = post(app.addr, again, Some(&basic())).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["duplicate"], created["MessageId"], "{body}");
    }
    app.service.drain().await;
    assert_eq!(app.metric("thumbkit_renders_total", &[]).await, renders);
    let variants = s3
        .keys("_variants/")
        .await
        .into_iter()
        .filter(|k| is_variant(k))
        .count();
    assert!(variants > 0, "the replayed removal purged nothing");
}
