//! Scale-out: instances over one S3 bucket, given each other's addresses, render each
//! variant once between them and keep it in one main memory; a peer that is stopped, slow,
//! or answers an error costs a local render, never a failed request; the internal route
//! answers only its peers ([`failures`]).

mod answers;
mod failures;

use std::net::SocketAddr;
use std::time::Duration;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::config::Config;
use thumbkit::peers::{PeerConfig, PeerSecret, PeerSource, PeerUrl};
use thumbkit::service::Settings;

pub(super) const SECRET: &str = "a-peer-secret-for-the-tests";
const PRESETS: [&str; 4] = ["thumb", "small", "medium", "og"];

/// One instance of a fleet, and how to stop it.
pub(super) struct Instance {
    pub(super) app: App,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// `n` free loopback addresses (held at once, so they differ, then released).
pub(super) fn free_addrs(n: usize) -> Vec<SocketAddr> {
    let held: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter().map(|l| l.local_addr().unwrap()).collect()
}

pub(super) fn peer_config(me: SocketAddr, all: &[PeerUrl], secret: &str) -> PeerConfig {
    PeerConfig {
        source: PeerSource::List(all.to_vec()),
        me: PeerUrl::of_addr(me),
        secret: PeerSecret::parse(secret).unwrap(),
        timeout: Duration::from_secs(3),
        down_for: Duration::from_secs(30),
    }
}

/// Starts one instance on `addr` over the bucket, with `peers`.
pub(super) async fn start(s3: &S3Server, addr: SocketAddr, peers: PeerConfig) -> Instance {
    start_with(s3, addr, peers, shipped_presets()).await
}

/// Starts one instance on `addr` over the bucket, with `peers` and `presets`.
pub(super) async fn start_with(
    s3: &S3Server,
    addr: SocketAddr,
    peers: PeerConfig,
    presets: thumbkit::preset::Presets,
) -> Instance {
    let config = Config {
        listen: addr,
        service: Settings {
            peers: Some(peers),
            // Room for every render of a wave: the tests are about who renders, not about
            // admission.
            render_queue: 64,
            ..Settings::default()
        },
        ..Config::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = thumbkit::startup::App::build_with(config, s3.store("").await, presets, async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let (addr, service) = (app.addr(), app.service().clone());
    tokio::spawn(app.run());
    Instance {
        app: App { addr, service },
        stop: Some(stop),
    }
}

/// Nine real photos put under `folder/`, with their bytes (to work out who owns them).
pub(super) async fn nine_photos(s3: &S3Server, folder: &str) -> Vec<(String, Vec<u8>)> {
    let mut keys = Vec::new();
    for i in 1..=9 {
        let bytes = fixture(&format!("Landscape_{i}.jpg"));
        let key = format!("{folder}/{i}.jpg");
        s3.put(&key, bytes.clone()).await;
        keys.push((key, bytes));
    }
    keys
}

/// Whether `peer` owns the `thumb` JPEG of `bytes` in `app`'s view.
pub(super) fn owns(app: &App, bytes: &[u8], peer: &PeerUrl) -> bool {
    let preset = app.service.presets().get("thumb").unwrap();
    let variant = app.service.settings().layout.variant(
        &thumbkit::keys::ObjectKey::parse("any.jpg").unwrap(),
        &thumbkit::keys::ContentHash::of(bytes),
        &preset.name,
        preset.fingerprint(),
        "jpg",
    );
    app.service
        .peers()
        .unwrap()
        .owner_of(variant.as_str())
        .as_ref()
        == Some(peer)
}

/// A key among `keys` whose `thumb` JPEG `peer` owns in `app`'s view.
pub(super) fn owned_by(app: &App, keys: &[(String, Vec<u8>)], peer: &PeerUrl) -> String {
    keys.iter()
        .find(|(_, bytes)| owns(app, bytes, peer))
        .map(|(k, _)| k.clone())
        .expect("some key is owned by the peer")
}

/// `n` instances over one bucket, each listing all of them.
pub(super) async fn fleet(s3: &S3Server, n: usize) -> Vec<Instance> {
    let addrs = free_addrs(n);
    let urls: Vec<PeerUrl> = addrs.iter().copied().map(PeerUrl::of_addr).collect();
    let mut out = Vec::new();
    for &addr in &addrs {
        out.push(start(s3, addr, peer_config(addr, &urls, SECRET)).await);
    }
    out
}

/// Puts `n` real photos into the bucket; returns their keys.
async fn photos(s3: &S3Server, n: usize) -> Vec<String> {
    let mut keys = Vec::new();
    for i in 1..=n {
        let key = format!("fleet/photo-{i}.jpg");
        s3.put(&key, fixture(&format!("Landscape_{i}.jpg"))).await;
        keys.push(key);
    }
    keys
}

async fn total(fleet: &[Instance], metric: &str, labels: &[&str]) -> f64 {
    let mut sum = 0.0;
    for i in fleet {
        sum += i.app.metric(metric, labels).await;
    }
    sum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_render_each_variant_once_and_keep_it_in_one_main_memory() {
    let s3 = S3Server::start("fleet").await;
    let fleet = fleet(&s3, 3).await;
    let keys = photos(&s3, 5).await;
    let urls: Vec<String> = keys
        .iter()
        .flat_map(|k| PRESETS.iter().map(move |p| format!("/t/{p}/{k}")))
        .collect();
    assert_eq!(urls.len(), 20);

    // The same 20 uncached URLs sent to all three at once.
    let sends = fleet
        .iter()
        .flat_map(|i| urls.iter().map(move |u| (i.app.addr, u.clone())));
    let replies =
        futures_util::future::join_all(sends.map(|(addr, url)| async move {
            (url.clone(), request(addr, "GET", &url, &[]).await)
        }))
        .await;
    for (url, reply) in &replies {
        assert_eq!(
            reply.status,
            200,
            "{url}: {}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    // Every instance answered each URL with the same bytes.
    for url in &urls {
        let bodies: Vec<_> = replies
            .iter()
            .filter(|(u, _)| u == url)
            .map(|(_, r)| &r.body)
            .collect();
        assert!(
            bodies.iter().all(|b| *b == bodies[0]),
            "{url} differs between instances"
        );
    }
    let renders = total(&fleet, "thumbkit_renders_total", &[]).await;
    eprintln!(
        "renders per variant across 3 instances: {:.2}",
        renders / 20.0
    );
    assert!(
        renders <= 21.0,
        "{renders} renders for 20 variants (target <= 1.05 each)"
    );
    // Each non-owner asked the owner once per variant (its own concurrent misses coalesce).
    let ok = total(&fleet, "thumbkit_peer_requests_total", &["outcome=\"ok\""]).await;
    assert_eq!(ok, 40.0, "peer requests that the owner answered");
    // Each variant was written to the bucket once, by its owner.
    let puts = total(
        &fleet,
        "thumbkit_storage_requests_total",
        &["op=\"put\"", "kind=\"variant\""],
    )
    .await;
    for i in &fleet {
        i.app.service.drain().await;
    }
    let stored = s3
        .keys("_variants/")
        .await
        .into_iter()
        .filter(|k| is_variant(k))
        .count();
    assert_eq!((puts, stored), (20.0, 20));

    // Again: every instance answers from its own memory (the owner's main tier, the others'
    // hot cache), with no peer request, no render and no storage call for the variants.
    let before = total(&fleet, "thumbkit_peer_requests_total", &[]).await;
    for i in &fleet {
        for url in &urls {
            let reply = i.app.get(url).await;
            assert_eq!(
                (reply.status, reply.header("x-cache")),
                (200, "hit-memory"),
                "{url}"
            );
        }
    }
    assert_eq!(
        total(&fleet, "thumbkit_peer_requests_total", &[]).await,
        before
    );
    assert_eq!(total(&fleet, "thumbkit_renders_total", &[]).await, renders);
    // The fleet's main memory holds each variant once: owners hold 20 in all; the hot
    // caches the 40 copies the others fetched.
    let entries = total(&fleet, "thumbkit_memory_cache_entries", &[]).await;
    assert_eq!(entries, 60.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stopping_an_instance_mid_load_fails_no_request_sent_to_the_others() {
    let s3 = S3Server::start("fleet-stop").await;
    let mut fleet = fleet(&s3, 3).await;
    let keys = photos(&s3, 9).await;
    let urls: Vec<String> = keys
        .iter()
        .flat_map(|k| PRESETS.iter().map(move |p| format!("/t/{p}/{k}")))
        .collect();
    let stop = fleet[1].stop.take().unwrap();
    let addrs: Vec<SocketAddr> = fleet.iter().map(|i| i.app.addr).collect();
    // Waves of uncached URLs to the two that stay; instance 1 stops after the first wave,
    // while the second is in flight.
    let load = async {
        let mut failed = Vec::new();
        for (wave, chunk) in urls.chunks(8).enumerate() {
            let sends = chunk.iter().flat_map(|u| [(addrs[0], u), (addrs[2], u)]);
            let replies = futures_util::future::join_all(
                sends.map(|(addr, url)| async move { (url, request(addr, "GET", url, &[]).await) }),
            )
            .await;
            failed.extend(
                replies
                    .into_iter()
                    .filter(|(_, r)| r.status != 200)
                    .map(|(u, r)| format!("wave {wave} {u}: {}", r.status)),
            );
        }
        failed
    };
    let stopper = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = stop.send(());
    };
    let (failed, ()) = tokio::join!(load, stopper);
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    // The stopped one is really gone, and the others noticed.
    assert!(tokio::net::TcpStream::connect(addrs[1]).await.is_err());
    let survivors = [&fleet[0], &fleet[2]];
    let mut noticed = 0.0;
    for i in survivors {
        noticed += i
            .app
            .metric("thumbkit_peer_requests_total", &["outcome=\"unreachable\""])
            .await;
    }
    assert!(noticed >= 1.0, "no peer request found instance 1 gone");
}
