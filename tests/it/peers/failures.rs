//! A peer that is silent, has another secret or is misconfigured costs a local render or a
//! refusal at start, never a failed request; the internal route answers only its peers.

use std::net::SocketAddr;
use std::time::Duration;

use super::{SECRET, fleet, free_addrs, nine_photos, owned_by, peer_config, start};
use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::keys::ContentHash;
use thumbkit::peers::{PeerSecret, PeerUrl};
use thumbkit::service::Settings;

/// A peer that accepts connections and never answers.
async fn silent_peer() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (addr, task)
}

#[tokio::test]
async fn a_silent_peer_costs_one_timeout_then_is_left_out_and_every_request_succeeds() {
    let s3 = S3Server::start("fleet-silent").await;
    let (silent, _task) = silent_peer().await;
    let [me] = free_addrs(1)[..] else {
        unreachable!()
    };
    let all = [PeerUrl::of_addr(me), PeerUrl::of_addr(silent)];
    let mut config = peer_config(me, &all, SECRET);
    config.timeout = Duration::from_millis(400);
    let instance = start(&s3, me, config).await;
    let keys = nine_photos(&s3, "silent").await;
    let first = owned_by(&instance.app, &keys, &all[1]);
    let started = std::time::Instant::now();
    let reply = instance.app.get(&format!("/t/thumb/{first}")).await;
    assert_eq!((reply.status, reply.header("x-cache")), (200, "miss"));
    assert!(started.elapsed() >= Duration::from_millis(400));
    // The silent peer is left out now: every other key renders here, without waiting.
    for (key, _) in &keys {
        let started = std::time::Instant::now();
        let reply = instance.app.get(&format!("/t/thumb/{key}")).await;
        assert_eq!(reply.status, 200, "{key}");
        assert!(
            started.elapsed() < Duration::from_millis(400),
            "{key} waited for the peer"
        );
    }
    let app = &instance.app;
    assert_eq!(
        app.metric("thumbkit_peer_requests_total", &["outcome=\"timeout\""])
            .await,
        1.0
    );
    assert_eq!(
        app.metric("thumbkit_peer_requests_total", &["outcome=\"ok\""])
            .await,
        0.0
    );
}

#[tokio::test]
async fn a_peer_with_another_secret_is_refused_and_the_asker_renders_itself() {
    let s3 = S3Server::start("fleet-secret").await;
    let addrs = free_addrs(2);
    let all: Vec<PeerUrl> = addrs.iter().copied().map(PeerUrl::of_addr).collect();
    let a = start(&s3, addrs[0], peer_config(addrs[0], &all, SECRET)).await;
    let b = start(
        &s3,
        addrs[1],
        peer_config(addrs[1], &all, "another-secret-entirely"),
    )
    .await;
    let keys = nine_photos(&s3, "secret").await;
    let key = owned_by(&a.app, &keys, &all[1]);
    let reply = a.app.get(&format!("/t/thumb/{key}")).await;
    assert_eq!((reply.status, reply.header("x-cache")), (200, "miss"));
    assert_eq!(
        a.app
            .metric("thumbkit_peer_requests_total", &["outcome=\"error\""])
            .await,
        1.0
    );
    // B refused it (403) without rendering anything.
    assert_eq!(b.app.metric("thumbkit_renders_total", &[]).await, 0.0);
}

#[tokio::test]
async fn the_internal_route_answers_only_signed_peer_requests_and_only_with_peers_set() {
    let s3 = S3Server::start("fleet-route").await;
    let fleet = fleet(&s3, 1).await;
    let app = &fleet[0].app;
    let me = PeerUrl::of_addr(app.addr).as_str().to_owned();
    let bytes = fixture("Landscape_1.jpg");
    s3.put("route/a.jpg", bytes.clone()).await;
    let hash = ContentHash::of(&bytes);
    let presets = shipped_presets();
    let fp = presets.get("thumb").unwrap().fingerprint();
    let path = format!("/_peer/v2/thumb/{fp}/jpg/{hash}/route/a.jpg");
    let secret = PeerSecret::parse(SECRET).unwrap();
    let now = thumbkit::signing::now();
    let signed = |target: &str, path: &str, at: u64| secret.sign(target, path, at).0;
    for (header, why) in [
        (None, "needs the `X-Thumbkit-Peer` header"),
        (
            Some(
                PeerSecret::parse("not-the-peer-secret")
                    .unwrap()
                    .sign(&me, &path, now)
                    .0,
            ),
            "does not match",
        ),
        (
            Some(signed(&me, "/_peer/v2/thumb/x/jpg/other", now)),
            "does not match",
        ),
        // Signed for another instance: not replayable here.
        (
            Some(signed("http://127.0.0.1:1", &path, now)),
            "does not match",
        ),
        (
            Some(signed(&me, &path, now - 3600)),
            "away from this instance's clock",
        ),
        // The window is short: a minute is too far.
        (Some(signed(&me, &path, now - 60)), "away from"),
    ] {
        let headers: Vec<(&str, &str)> = header
            .iter()
            .map(|h| ("x-thumbkit-peer", h.as_str()))
            .collect();
        let reply = request(app.addr, "GET", &path, &headers).await;
        assert_eq!(reply.status, 403);
        let detail = reply.problem()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(why), "{detail}");
    }
    assert_eq!(app.metric("thumbkit_renders_total", &[]).await, 0.0);
    let (header, nonce) = secret.sign(&me, &path, now);
    let reply = request(app.addr, "GET", &path, &[("x-thumbkit-peer", &header)]).await;
    assert_eq!(
        (reply.status, reply.header("content-type")),
        (200, "image/jpeg")
    );
    assert_eq!(reply.header("cache-control"), "no-store");
    // The answer is tagged for this request: its bytes, type, path and nonce.
    let tag = reply.header("x-thumbkit-peer-answer").to_owned();
    let answer = thumbkit::peers::Answer {
        content_type: "image/jpeg",
        made: reply.header("x-thumbkit-made"),
        bytes: &reply.body,
    };
    assert_eq!(reply.header("x-thumbkit-made"), "alone");
    assert_eq!(
        secret.verify_answer(Some(&tag), &nonce, &path, answer),
        Ok(())
    );
    // The same header again is a replay.
    let again = request(app.addr, "GET", &path, &[("x-thumbkit-peer", &header)]).await;
    assert_eq!(again.status, 403);
    assert!(
        again.problem()["detail"]
            .as_str()
            .unwrap()
            .contains("used before")
    );
    // Another fingerprint of the preset (a rolling edit): "not mine", nothing rendered.
    let renders = app.metric("thumbkit_renders_total", &[]).await;
    let old = format!("/_peer/v2/thumb/0123456789ab/jpg/{hash}/route/a.jpg");
    let reply = request(
        app.addr,
        "GET",
        &old,
        &[("x-thumbkit-peer", &signed(&me, &old, now))],
    )
    .await;
    assert_eq!(
        reply.status,
        409,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(app.metric("thumbkit_renders_total", &[]).await, renders);
    // A traversal in the key is refused like on /t/, and so is thumbkit's own folder.
    let bad = format!("/_peer/v2/thumb/{fp}/jpg/{hash}/route/../../etc/passwd");
    let reply = request(
        app.addr,
        "GET",
        &bad,
        &[("x-thumbkit-peer", &signed(&me, &bad, now))],
    )
    .await;
    assert_eq!(reply.status, 400);
    let own = format!("/_peer/v2/thumb/{fp}/jpg/{hash}/_variants/_keys/x.json");
    let reply = request(
        app.addr,
        "GET",
        &own,
        &[("x-thumbkit-peer", &signed(&me, &own, now))],
    )
    .await;
    assert_eq!(reply.status, 404);

    // Without peers configured the route does not exist, signed or not.
    let alone = spawn_app(s3.store("").await, shipped_presets(), Settings::default()).await;
    let header = signed(&me, &path, now);
    let reply = request(alone.addr, "GET", &path, &[("x-thumbkit-peer", &header)]).await;
    assert_eq!(reply.status, 404);
}

#[test]
fn a_misconfigured_fleet_refuses_to_start_with_one_line() {
    let root = temp_dir("fleet-config");
    let storage = format!("fs:{}", root.display());
    let peers = "http://127.0.0.1:18901,http://127.0.0.1:18902";
    let secret = ("THUMBKIT_PEER_SECRET", SECRET);
    for (env, words) in [
        (
            vec![("THUMBKIT_PEERS", peers)],
            "THUMBKIT_PEER_SECRET: required with THUMBKIT_PEERS",
        ),
        (
            vec![("THUMBKIT_PEERS", peers), ("THUMBKIT_PEER_SECRET", "short")],
            "at least 16 bytes",
        ),
        (
            vec![("THUMBKIT_PEERS", peers), secret],
            "this instance (http://127.0.0.1:18903) is not among the peers",
        ),
        (
            vec![("THUMBKIT_PEERS", "https://a:1"), secret],
            "must start with http://",
        ),
        (
            vec![("THUMBKIT_PEERS", "dns:thumbkit"), secret],
            "dns:NAME:PORT",
        ),
        (
            vec![
                ("THUMBKIT_PEERS", "dns:thumbkit.svc:8080"),
                secret,
                ("THUMBKIT_LISTEN", "0.0.0.0:18903"),
                ("THUMBKIT_API_TOKEN", "a-token"),
            ],
            "THUMBKIT_SELF: required with THUMBKIT_PEERS when listening on 0.0.0.0:18903",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"))
            .arg("serve")
            .env_clear()
            .env("THUMBKIT_STORAGE", &storage)
            .env("THUMBKIT_LISTEN", "127.0.0.1:18903")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{env:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(words), "{env:?}: {stderr}");
        // The secret is never echoed.
        assert!(!stderr.contains(SECRET), "{stderr}");
    }
}
