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
    let variants = s3.variants().await;
    assert!(variants > 0, "the replayed removal purged nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_work_failed_for_now_gets_503_and_its_redelivery_is_done() {
    let s3 = S3Server::start("sns-retry").await;
    let sns = FakeSns::start("sns-retry-fake").await;
    s3.put("uploads/fox.jpg", fixture("DSCN0010.jpg")).await;
    // The store behind a proxy that can be taken down.
    let proxy = Proxy::start(s3.addr()).await;
    let store = s3.store_via(proxy.addr).await;
    let settings = Settings {
        storage_timeout: std::time::Duration::from_secs(2),
        ..Settings::default()
    };
    let app = app_over(store, &sns, settings).await;
    proxy.set(Fault::Down);
    let created = sns.notification(&s3_event("ObjectCreated:Put", "uploads/fox.jpg"), "2");
    let failed = post(app.addr, &created, Some(&basic())).await;
    // 503: SNS delivers it again later (a 200 would have lost the event).
    assert_eq!(
        failed.status,
        503,
        "{}",
        String::from_utf8_lossy(&failed.body)
    );
    assert_eq!(failed.header("content-type"), "application/problem+json");
    assert_eq!(failed.header("retry-after"), "30");
    assert!(
        failed.problem()["detail"]
            .as_str()
            .unwrap()
            .contains("uploads/fox.jpg")
    );
    proxy.set(Fault::None);
    // SNS's redelivery, the same message: done now, not taken for a duplicate.
    let again = post(app.addr, &created, Some(&basic())).await;
    assert_eq!(
        again.status,
        200,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    let body: serde_json::Value = serde_json::from_slice(&again.body).unwrap();
    assert_eq!(body["results"][0]["action"], "pregenerated", "{body}");
}
