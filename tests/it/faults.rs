//! S3 trouble, through a TCP proxy in front of a real S3 server: while the store is down,
//! what memory holds keeps being served (stale-if-error, bounded and counted); while it is
//! slow, no request outlives its deadline; a store just under its per-call timeout is slow
//! but served, one past it a clear 503 until it recovers.

use std::time::{Duration, Instant};

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::service::Settings;
use thumbkit::storage::{S3Location, S3Options, S3Store};

/// thumbkit over `s3`, reached through `proxy`.
async fn app_behind(s3: &S3Server, proxy: &Proxy, settings: Settings) -> App {
    let options = S3Options {
        endpoint_url: Some(format!("http://{}", proxy.addr)),
        ..s3.options()
    };
    let store = S3Store::connect(S3Location::parse(BUCKET).unwrap(), options).await;
    spawn_app(std::sync::Arc::new(store), shipped_presets(), settings).await
}

fn upstream(s3: &S3Server) -> std::net::SocketAddr {
    s3.endpoint.trim_start_matches("http://").parse().unwrap()
}

#[tokio::test]
async fn with_the_store_down_memory_hits_stay_200() {
    let s3 = S3Server::start("down").await;
    s3.put("a.jpg", fixture("DSCN0010.jpg")).await;
    let proxy = Proxy::start(upstream(&s3)).await;
    let outage: u64 = std::env::var("THUMBKIT_SOAK_OUTAGE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let settings = Settings {
        revalidate: Duration::from_millis(300),
        stale_if_error: Duration::from_secs(outage + 60),
        storage_timeout: Duration::from_secs(2),
        ..Settings::default()
    };
    let app = app_behind(&s3, &proxy, settings).await;
    assert_eq!(app.get("/t/thumb/a.jpg").await.header("x-cache"), "miss");
    assert_eq!(
        app.get("/t/thumb/a.jpg").await.header("x-cache"),
        "hit-memory"
    );
    proxy.set(Fault::Down);
    // Ten revalidation intervals with the store gone (or THUMBKIT_SOAK_OUTAGE_SECS, e.g. 60,
    // by hand): every memory hit is still served.
    let until = Instant::now() + Duration::from_secs(outage);
    let mut slowest = Duration::ZERO;
    let mut served = 0;
    while Instant::now() < until {
        let asked = Instant::now();
        let r = app.get("/t/thumb/a.jpg").await;
        slowest = slowest.max(asked.elapsed());
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(decode_rgb(&r.body).dimensions(), (320, 240));
        served += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = app.get("/t/thumb/a.jpg").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-thumbkit-stale"), "storage-unavailable");
    assert!(
        r.header("cache-control").contains("max-age=10"),
        "{}",
        r.header("cache-control")
    );
    assert!(app.metric("thumbkit_stale_served_total", &[]).await >= 1.0);
    println!("store down {outage} s: {served} memory hits served, slowest {slowest:?}");
    assert!(
        served as u64 >= outage * 3,
        "{served} answers in {outage} s"
    );
    // What memory does not hold cannot be served: 503, saying only that storage is down.
    let r = app.get("/t/small/a.jpg").await;
    assert_eq!(r.status, 503);
    let detail = r.problem()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!detail.contains("127.0.0.1"), "{detail}");
    // Back up: confirmed again, no longer stale.
    // (the store is asked again at most once per OUTAGE_RECHECK while it is down).
    proxy.set(Fault::None);
    tokio::time::sleep(thumbkit::service::originals::OUTAGE_RECHECK).await;
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let r = app.get("/t/thumb/a.jpg").await;
        assert_eq!(r.status, 200);
        if r.header("x-thumbkit-stale").is_empty() {
            break;
        }
        assert!(
            Instant::now() < until,
            "still stale 5 s after the store came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn with_a_slow_store_no_request_outlives_its_deadline() {
    let s3 = S3Server::start("slow").await;
    for key in ["a.jpg", "b.jpg"] {
        s3.put(key, fixture("DSCN0010.jpg")).await;
    }
    let proxy = Proxy::start(upstream(&s3)).await;
    let settings = Settings {
        storage_timeout: Duration::from_secs(3),
        request_timeout: Duration::from_secs(2),
        ..Settings::default()
    };
    let app = app_behind(&s3, &proxy, settings).await;
    assert_eq!(app.get("/t/thumb/a.jpg").await.status, 200);
    // Each answer from S3 now takes 800 ms: a cold miss needs six of them.
    proxy.set(Fault::Delay(Duration::from_millis(800)));
    let started = Instant::now();
    let r = app.get("/t/thumb/b.jpg").await;
    let took = started.elapsed();
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        r.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("took longer")
    );
    assert!(
        took < Duration::from_millis(2600),
        "answered after {took:?} (deadline 2 s)"
    );
    // A memory hit needs no storage call and stays fast.
    let started = Instant::now();
    assert_eq!(app.get("/t/thumb/a.jpg").await.status, 200);
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn a_store_just_under_its_call_timeout_is_served_and_one_past_it_is_a_503_until_it_recovers()
{
    let s3 = S3Server::start("edge").await;
    for key in ["a.jpg", "b.jpg"] {
        s3.put(key, fixture("DSCN0010.jpg")).await;
    }
    let proxy = Proxy::start(upstream(&s3)).await;
    let settings = Settings {
        storage_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(30),
        ..Settings::default()
    };
    let app = app_behind(&s3, &proxy, settings).await;
    // Every answer starts 750 ms late, under the 1 s each call may take: slow, but each
    // call completes, so the cold miss renders.
    proxy.set(Fault::Delay(Duration::from_millis(750)));
    let started = Instant::now();
    let r = app.get("/t/thumb/a.jpg").await;
    let slow = started.elapsed();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-cache"), "miss");
    assert_eq!(decode_rgb(&r.body).dimensions(), (320, 240));
    assert!(
        slow >= Duration::from_millis(1500),
        "each call waited: {slow:?}"
    );
    // 1.3 s, past it: every call gives up at 1 s and the request is a 503 soon after, with
    // nothing of the store's address in it.
    proxy.set(Fault::Delay(Duration::from_millis(1300)));
    let started = Instant::now();
    let r = app.get("/t/thumb/b.jpg").await;
    let took = started.elapsed();
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), "application/problem+json");
    assert!(!r.header("retry-after").is_empty());
    let detail = r.problem()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !detail.contains("127.0.0.1") && !detail.contains(BUCKET),
        "{detail}"
    );
    assert!(took < Duration::from_secs(4), "answered after {took:?}");
    // What memory holds is still served at once.
    let started = Instant::now();
    assert_eq!(app.get("/t/thumb/a.jpg").await.status, 200);
    assert!(started.elapsed() < Duration::from_millis(500));
    // The latency goes away: the next request after the recheck renders, with no restart.
    proxy.set(Fault::None);
    tokio::time::sleep(thumbkit::service::originals::OUTAGE_RECHECK + Duration::from_millis(200))
        .await;
    let r = app.get("/t/thumb/b.jpg").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(decode_rgb(&r.body).dimensions(), (320, 240));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_down_answers_are_retried_then_a_clear_503_and_the_store_recovers_without_a_restart() {
    let s3 = S3Server::start("slowdown").await;
    for key in ["a.jpg", "b.jpg", "c.jpg"] {
        s3.put(key, fixture("DSCN0010.jpg")).await;
    }
    let proxy = Proxy::start(upstream(&s3)).await;
    let app = app_behind(&s3, &proxy, Settings::default()).await;
    // Two `503 SlowDown` answers: the SDK's standard retries (3 attempts, with backoff) get
    // through, and the client never knows.
    proxy.slow_down(2);
    let r = app.get("/t/thumb/a.jpg").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(decode_rgb(&r.body).dimensions(), (320, 240));
    assert_eq!(proxy.answered.load(std::sync::atomic::Ordering::SeqCst), 2);
    // (The variant and records are written behind that answer: let them land first.)
    app.service.drain().await;
    // S3 keeps saying SlowDown: a bounded number of attempts, then 503 with Retry-After and
    // a message that says only that storage is unavailable.
    proxy.slow_down(usize::MAX);
    // The SDK's pooled connections were cut by the switch: one request finds them dead, and
    // the store is left alone for a moment after a failure (OUTAGE_RECHECK). It asks for an
    // original that is not there, so no write-behind keeps retrying into the counted window.
    let _ = app.get("/t/small/not-there.jpg").await;
    tokio::time::sleep(thumbkit::service::originals::OUTAGE_RECHECK + Duration::from_millis(200))
        .await;
    let before = proxy.answered.load(std::sync::atomic::Ordering::SeqCst);
    let calls_before = app.storage_calls().await;
    let asked = Instant::now();
    let r = app.get("/t/thumb/b.jpg").await;
    let took = asked.elapsed();
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("retry-after"), "1");
    let detail = r.problem()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("storage is unavailable"), "{detail}");
    assert!(
        !detail.contains("127.0.0.1") && !detail.contains(BUCKET),
        "{detail}"
    );
    let attempts = proxy.answered.load(std::sync::atomic::Ordering::SeqCst) - before;
    let calls = (app.storage_calls().await - calls_before) as usize;
    // Each storage call is tried at most three times (the SDK's standard mode), and retried.
    assert!(
        calls >= 1 && attempts > calls && attempts <= 3 * calls,
        "bounded retries: {attempts} attempts for {calls} storage calls in {took:?}: {detail}"
    );
    assert!(took < Duration::from_secs(25), "answered in {took:?}");
    // A memory hit does not need the store at all.
    assert_eq!(app.get("/t/thumb/a.jpg").await.status, 200);
    // S3 is fine again: the next request renders, with no restart.
    proxy.slow_down(0);
    let r = app.get("/t/thumb/c.jpg").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(decode_rgb(&r.body).dimensions(), (320, 240));
    println!("SlowDown: {attempts} attempts for {calls} storage calls, then 503 in {took:?}");
}

#[tokio::test]
async fn a_write_behind_outlives_a_short_outage_and_gives_up_only_after_its_retries() {
    use std::collections::BTreeMap;
    use thumbkit::keys::ObjectKey;
    use thumbkit::metrics::Metrics;
    use thumbkit::storage::{Kind, Storage};
    let s3 = S3Server::start("behind").await;
    let proxy = Proxy::start(upstream(&s3)).await;
    let options = S3Options {
        endpoint_url: Some(format!("http://{}", proxy.addr)),
        ..s3.options()
    };
    let store = S3Store::connect(S3Location::parse(BUCKET).unwrap(), options).await;
    let metrics = std::sync::Arc::new(Metrics::new());
    let storage = Storage::new(
        std::sync::Arc::new(store),
        Duration::from_secs(2),
        metrics.clone(),
    );
    let no_metadata = BTreeMap::new();
    let put = |key: &'static str| {
        let key = ObjectKey::parse(key).unwrap();
        let storage = storage.clone();
        let no_metadata = no_metadata.clone();
        async move {
            let bytes = bytes::Bytes::from_static(b"a variant");
            let put = storage.put_behind(&key, Kind::Variant, bytes, "image/jpeg", &no_metadata);
            put.await
        }
    };
    // S3 goes away for 3 s while a variant is written behind a response, longer than the
    // SDK's own retries and the 2 s call timeout: the write is tried again and lands.
    proxy.set(Fault::Down);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let back = async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        proxy.set(Fault::None);
    };
    let (written, ()) = tokio::join!(put("_variants/behind/a.jpg"), back);
    written.unwrap();
    assert_eq!(
        s3.get("_variants/behind/a.jpg").await.unwrap().0,
        b"a variant"
    );
    let retries = sum_metric(&metrics.encode(), "thumbkit_store_write_retries_total", &[]);
    assert!(retries >= 1.0, "{retries} retries");
    // S3 stays away: the write gives up after its retries (about 4 s of backoff), with an
    // error the caller counts, and nothing half-written in the bucket.
    proxy.set(Fault::Down);
    // (The proxy cuts open connections within 10 ms.)
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let e = put("_variants/behind/b.jpg").await.unwrap_err();
    let took = started.elapsed();
    assert!(e.is_unavailable(), "{e}");
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(30),
        "gave up after {took:?}"
    );
    proxy.set(Fault::None);
    assert!(s3.get("_variants/behind/b.jpg").await.is_none());
    println!("write behind: lands after a 3 s outage ({retries} retries); gives up after {took:?}");
}
