//! The peer list's own tests: URLs normalised, every instance naming the same owner, and
//! only a down peer's keys moving.

use super::*;

fn peers(me: &str, all: &[&str]) -> Arc<Peers> {
    let urls = all.iter().map(|u| PeerUrl::parse(u).unwrap()).collect();
    let config = PeerConfig {
        source: PeerSource::List(urls),
        me: PeerUrl::parse(me).unwrap(),
        secret: PeerSecret::parse("sixteen-bytes-at-least").unwrap(),
        timeout: Duration::from_secs(1),
        down_for: Duration::from_secs(60),
    };
    Peers::start(&config, Arc::new(Metrics::new()))
}

#[test]
fn urls_are_normalised_and_anything_but_a_base_url_is_refused() {
    assert_eq!(
        PeerUrl::parse("http://Node-A:8080/").unwrap().as_str(),
        "http://node-a:8080"
    );
    assert_eq!(PeerUrl::parse("http://a").unwrap().as_str(), "http://a:80");
    for bad in [
        "https://a:1",
        "a:1",
        "http://a:1/x",
        "http://u@a:1",
        "http://",
    ] {
        assert!(PeerUrl::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        PeerSource::parse("dns:thumbkit.ns.svc:8080").unwrap(),
        PeerSource::Dns {
            name: "thumbkit.ns.svc".into(),
            port: 8080
        }
    );
    assert!(PeerSource::parse("dns:thumbkit").is_err());
    assert!(PeerSource::parse(" , ").is_err());
}

#[test]
fn every_instance_names_the_same_owner_and_keys_spread_over_all() {
    let all = ["http://a:1", "http://b:1", "http://c:1"];
    let views: Vec<_> = all.iter().map(|me| peers(me, &all)).collect();
    let mut owned = [0usize; 3];
    for i in 0..3000 {
        let key = format!("_variants/ab/{i}/thumb.x.jpg");
        // What each instance thinks: None (itself) or another's URL.
        let said: Vec<String> = views
            .iter()
            .map(|v| v.owner_of(&key).unwrap_or_else(|| v.me().clone()).0)
            .collect();
        assert!(said.iter().all(|s| s == &said[0]), "{key}: {said:?}");
        let idx = all.iter().position(|u| *u == said[0]).unwrap();
        owned[idx] += 1;
    }
    // Rendezvous hashing spreads keys evenly: each of 3 gets about 1000.
    assert!(owned.iter().all(|&n| (850..1150).contains(&n)), "{owned:?}");
}

#[test]
fn a_down_peer_s_keys_move_to_the_others_and_only_its_keys_move() {
    let all = ["http://a:1", "http://b:1", "http://c:1"];
    let a = peers("http://a:1", &all);
    let before: Vec<_> = (0..600).map(|i| a.owner_of(&i.to_string())).collect();
    a.mark_down(&PeerUrl::parse("http://b:1").unwrap());
    for (i, was) in before.iter().enumerate() {
        let now = a.owner_of(&i.to_string());
        assert_ne!(now.as_ref().map(|u| u.as_str()), Some("http://b:1"));
        if was.as_ref().map(|u| u.as_str()) != Some("http://b:1") {
            assert_eq!(&now, was, "key {i} moved though its owner is up");
        }
    }
    // An instance alone owns everything.
    let alone = peers("http://a:1", &["http://a:1"]);
    assert_eq!(alone.owner_of("k"), None);
}
