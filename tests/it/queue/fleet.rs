//! Three `thumbkit serve` processes with `THUMBKIT_PEERS` over one bucket and one queue:
//! 50 originals announced are rendered once across the fleet, and the messages of an
//! instance killed mid-batch come back and are done by the others.

use super::cli::{announce, distinct};
use super::*;

/// Sums `name{labels}` over the instances at `addrs` still running.
async fn fleet_metric(addrs: &[std::net::SocketAddr], name: &str, labels: &[&str]) -> f64 {
    let mut sum = 0.0;
    for addr in addrs {
        let r = request(*addr, "GET", "/metrics", &[]).await;
        sum += sum_metric(&String::from_utf8_lossy(&r.body), name, labels);
    }
    sum
}

async fn queue_metric(addrs: &[std::net::SocketAddr], outcome: &str) -> f64 {
    let label = format!("outcome=\"{outcome}\"");
    fleet_metric(addrs, "thumbkit_queue_messages_total", &[&label]).await
}

/// Writes `n` originals (real photos, each with its own content, numbered from `first`)
/// under `folder`, straight
/// to the bucket as an uploader would, and announces each on the queue.
async fn upload(
    s3: &S3Server,
    moto: &Moto,
    url: &str,
    folder: &str,
    n: usize,
    first: usize,
) -> Vec<String> {
    let photos = [
        "Landscape_1.jpg",
        "Landscape_3.jpg",
        "DSCN0010.jpg",
        "concert.jpg",
        "sample.jpg",
    ];
    let photos: Vec<Vec<u8>> = photos.iter().map(|p| fixture(p)).collect();
    let keys: Vec<String> = (0..n).map(|i| format!("{folder}/{i:02}.jpg")).collect();
    for (i, key) in keys.iter().enumerate() {
        s3.put(key, distinct(&photos[i % photos.len()], first + i))
            .await;
    }
    announce(moto, url, &keys).await;
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_over_one_queue_renders_each_variant_once_and_outlives_a_killed_instance() {
    let (s3, moto) = (S3Server::start("queue-fleet").await, Moto::start().await);
    // Five seconds: a killed instance's messages are back soon, and the living ones keep
    // theirs hidden by extending them.
    let url = moto.queue("fleet", Duration::from_secs(5)).await;
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let peers: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let mut fleet: Vec<Binary> = Vec::new();
    for port in &ports {
        let mut env = Binary::s3_env(&s3, &format!("s3://{BUCKET}"));
        env.extend([
            ("THUMBKIT_LISTEN", format!("127.0.0.1:{port}")),
            ("THUMBKIT_PEERS", peers.join(",")),
            (
                "THUMBKIT_PEER_SECRET",
                "fleet-secret-0123456789abcdef".into(),
            ),
            ("THUMBKIT_SQS_QUEUE_URL", url.clone()),
            ("AWS_ENDPOINT_URL_SQS", moto.endpoint.clone()),
        ]);
        fleet.push(
            tokio::task::spawn_blocking(move || Binary::start(&env))
                .await
                .unwrap(),
        );
    }
    let addrs: Vec<_> = fleet.iter().map(|b| b.addr).collect();

    // 50 originals, every preset: each variant rendered once across the three.
    let started = Instant::now();
    upload(&s3, &moto, &url, "wave1", 50, 0).await;
    assert!(
        moto.drained(&url, Duration::from_secs(900)).await,
        "50 originals done"
    );
    let drained_in = started.elapsed();
    let stored = s3.variants().await;
    let renders = fleet_metric(&addrs, "thumbkit_renders_total", &[]).await;
    let per_variant = renders / stored as f64;
    let (received, deleted) = (
        queue_metric(&addrs, "received").await,
        queue_metric(&addrs, "deleted").await,
    );
    println!(
        "fleet: 50 originals x every preset = {stored} variants in {drained_in:.1?}; \
         {renders} renders ({per_variant:.3} per variant); {received} messages received \
         (moto, like SQS, delivers at least once), {deleted} deleted"
    );
    assert_eq!(
        stored % 50,
        0,
        "the same variants of each original: {stored}"
    );
    let each = stored / 50;
    assert!(
        per_variant <= 1.05,
        "{renders} renders for {stored} variants"
    );
    // Every message received was done and deleted, duplicates included.
    assert!(received >= 50.0);
    assert_eq!(deleted, received);
    assert_eq!(queue_metric(&addrs, "done").await, received);

    // 30 more; one instance is killed while it holds messages.
    let started = Instant::now();
    upload(&s3, &moto, &url, "wave2", 30, 50).await;
    let victim = addrs[0];
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let held = queue_metric(&[victim], "received").await
            - queue_metric(&[victim], "done").await
            - queue_metric(&[victim], "failed").await;
        if held > 0.0 {
            println!("fleet: SIGKILL to one instance holding {held} messages");
            break;
        }
        assert!(Instant::now() < until, "the victim never held a message");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fleet[0].signal(libc::SIGKILL);
    assert!(fleet[0].wait_for(Duration::from_secs(10)).is_some());
    let survivors = &addrs[1..];
    assert!(
        moto.drained(&url, Duration::from_secs(900)).await,
        "the survivors finish"
    );
    let redelivered = queue_metric(survivors, "redelivered").await;
    let stored = s3.variants().await;
    println!(
        "fleet: 30 more with one instance killed: drained in {:.1?}, {redelivered} messages \
         redelivered to the survivors; {stored} variants stored",
        started.elapsed()
    );
    assert!(
        redelivered >= 1.0,
        "the killed instance's messages came back"
    );
    assert_eq!(
        stored,
        80 * each,
        "every original of both waves has every variant"
    );
}
