//! A signed thumbnail URL has one spelling: `exp` and `sig` once each, no parameter the route
//! does not know, and an `exp` no further ahead than the TTL its signers use.

use super::*;
use crate::helpers::fixtures::*;
use thumbkit::signing::{Signer, now};

const KEY: &str = "a-signing-key-for-the-tests-0123";

#[tokio::test]
async fn extra_repeated_or_far_ahead_parameters_are_refused() {
    let settings = Settings {
        signer: Some(Signer::parse(KEY).unwrap()),
        signed_url_ttl: std::time::Duration::from_secs(3600),
        ..Settings::default()
    };
    let (app, root) = fs_app("signed-spelling", settings).await;
    std::fs::create_dir_all(root.join("s")).unwrap();
    std::fs::copy(fixtures().join("DSCN0010.jpg"), root.join("s/p.jpg")).unwrap();
    let signer = Signer::parse(KEY).unwrap();
    let url = signer.sign("/t/thumb/s/p.jpg", now() + 3600);
    assert_eq!(app.get(&url).await.status, 200);
    let sig = url.split("sig=").nth(1).unwrap();
    let exp = url.split("exp=").nth(1).unwrap().split('&').next().unwrap();
    for bad in [
        format!("{url}&sig={sig}"),
        format!("{url}&sig=x&sig=y"),
        format!("{url}&exp={exp}"),
        format!("{url}&cachebust=1"),
        format!("{url}&download=1&download=1"),
        signer.sign("/t/thumb/s/p.jpg?utm=1", now() + 60),
        // A year ahead: further than 1.25 x the TTL (+ a minute of clock skew).
        signer.sign("/t/thumb/s/p.jpg", now() + 365 * 86_400),
        signer.sign("/t/thumb/s/p.jpg", now() + 3600 + 900 + 120),
    ] {
        let r = app.get(&bad).await;
        assert_eq!(r.status, 403, "{bad}");
        assert_eq!(r.header("content-type"), "application/problem+json");
    }
    // Within the window that rounding `exp` up needs, and with `download`: valid.
    for good in [
        signer.sign("/t/thumb/s/p.jpg", now() + 3600 + 900),
        signer.sign("/t/thumb/s/p.jpg?download=1", now() + 60),
    ] {
        assert_eq!(app.get(&good).await.status, 200, "{good}");
    }
    let _ = std::fs::remove_dir_all(&root);
}
