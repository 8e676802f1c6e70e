//! Signed thumbnail URLs: with a signing key configured, `/t/...` answers only URLs that
//! carry an unexpired `exp` and a valid `sig`, so nobody can make thumbkit render (and pay
//! for) URLs the application did not hand out.
//!
//! `sig` is HMAC-SHA256, in hex, over the path as sent (percent-encoded) and the query
//! parameters other than `sig` (sorted, as sent), which include `exp` (Unix seconds).
//! Several keys may be configured: the first signs, any verifies, so keys can be rotated.
//!
//! A URL that verifies carries `exp` and `sig` once each and no parameter its route does not
//! know ([`Rules`]), so nobody can mint further valid spellings of a URL (each a CDN miss),
//! and its `exp` is no further ahead than the lifetime its signer could have given it, so a
//! leaked key or a URL signed "forever" is not valid for ever.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Shortest key accepted, in bytes.
const MIN_KEY_LEN: usize = 16;

/// Why a URL's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("this URL must be signed: it lacks `exp` and `sig`")]
    Missing,
    #[error("`exp` must be a Unix time in seconds and `sig` 64 hex digits")]
    Malformed,
    #[error("this signed URL expired {0} s ago")]
    Expired(u64),
    #[error("the signature does not match this URL")]
    Invalid,
    #[error("`{0}` appears more than once; a signed URL carries each parameter once")]
    Repeated(String),
    #[error("`{0}` is not a parameter of this signed URL")]
    Unknown(String),
    #[error("`exp` is {ahead} s ahead, more than the {max} s a URL of this service is signed for")]
    TooFar { ahead: u64, max: u64 },
}

/// What a route's signed URLs may carry: the parameters besides `exp` and `sig`, and how far
/// ahead of now their `exp` may be (the longest lifetime a signer of the route gives).
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub params: &'a [&'a str],
    pub max_ahead: u64,
}

/// How far a signer's clock may be ahead of this instance's.
pub const CLOCK_SKEW_SECS: u64 = 60;

impl Rules<'_> {
    /// The longest `exp` ahead accepted for URLs signed for `ttl`: the TTL, a quarter more
    /// (signers round `exp` up to a window so that URLs stay the same for a while), and the
    /// clock skew.
    pub fn ahead_for(ttl: std::time::Duration) -> u64 {
        let ttl = ttl.as_secs();
        ttl + ttl / 4 + CLOCK_SKEW_SECS
    }
}

/// The keys that sign and verify URLs.
#[derive(Clone)]
pub struct Signer {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({} keys)", self.keys.len())
    }
}

impl Signer {
    /// Keys separated by `,`: the first signs, every one verifies.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let keys: Vec<Vec<u8>> = spec
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| k.as_bytes().to_vec())
            .collect();
        if keys.is_empty() {
            return Err("THUMBKIT_SIGNING_KEY holds no key".into());
        }
        if let Some(short) = keys.iter().position(|k| k.len() < MIN_KEY_LEN) {
            return Err(format!(
                "signing key {} is shorter than {MIN_KEY_LEN} bytes",
                short + 1
            ));
        }
        Ok(Self { keys })
    }

    fn mac(key: &[u8], path: &str, query: &[(&str, &str)]) -> Hmac<Sha256> {
        let mut pairs: Vec<_> = query.iter().filter(|(k, _)| *k != "sig").collect();
        pairs.sort();
        let canonical: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        // Any key length is valid for HMAC, so this cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(canonical.join("&").as_bytes());
        mac
    }

    /// `path` (percent-encoded, may carry a query such as `?v=...`) signed until
    /// `expires` (Unix seconds): the same path with `exp` and `sig` added.
    pub fn sign(&self, path_and_query: &str, expires: u64) -> String {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let exp = expires.to_string();
        let mut pairs = split_query(query);
        pairs.retain(|(k, _)| *k != "exp" && *k != "sig");
        pairs.push(("exp", &exp));
        let sig = hex::encode(
            Self::mac(&self.keys[0], path, &pairs)
                .finalize()
                .into_bytes(),
        );
        let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{path}?{}&sig={sig}", query.join("&"))
    }

    /// Checks the `exp` and `sig` of a request for `path` with `raw_query`, at `now`, under
    /// the route's `rules`.
    pub fn verify(
        &self,
        path: &str,
        raw_query: &str,
        now: u64,
        rules: Rules<'_>,
    ) -> Result<(), SignatureError> {
        let pairs = split_query(raw_query);
        let get = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let (Some(exp), Some(sig)) = (get("exp"), get("sig")) else {
            return Err(SignatureError::Missing);
        };
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(seen, _)| seen == name) {
                return Err(SignatureError::Repeated(clip(name)));
            }
            if !matches!(*name, "exp" | "sig") && !rules.params.contains(name) {
                return Err(SignatureError::Unknown(clip(name)));
            }
        }
        let exp: u64 = exp.parse().map_err(|_| SignatureError::Malformed)?;
        let sig = hex::decode(sig).map_err(|_| SignatureError::Malformed)?;
        if sig.len() != 32 {
            return Err(SignatureError::Malformed);
        }
        // Checked before expiry, so a tampered URL is reported as tampered.
        let valid = self
            .keys
            .iter()
            .any(|key| Self::mac(key, path, &pairs).verify_slice(&sig).is_ok());
        if !valid {
            return Err(SignatureError::Invalid);
        }
        if exp < now {
            return Err(SignatureError::Expired(now - exp));
        }
        if exp - now > rules.max_ahead {
            return Err(SignatureError::TooFar {
                ahead: exp - now,
                max: rules.max_ahead,
            });
        }
        Ok(())
    }
}

/// A parameter name as shown in an error: at most 40 characters.
fn clip(name: &str) -> String {
    name.chars().take(40).collect()
}

/// The `exp` of a URL signed at `now` to live `ttl`: `now + ttl` rounded up to a window of a
/// quarter of the TTL (at least a second), so that a page rendered twice within a window
/// hands out the same URLs and browsers and CDNs hit their caches. Every signer (this one,
/// the JS and the Python helpers) rounds alike: `clients/signing-vectors.json`.
pub fn expiry(now: u64, ttl: std::time::Duration) -> u64 {
    let ttl = ttl.as_secs();
    let window = (ttl / 4).max(1);
    (now + ttl).div_ceil(window) * window
}

/// `bytes` random bytes from the operating system's CSPRNG, as hex: for keys, ids and
/// nonces that must not be guessed.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // aws-lc's RNG only fails when the OS has no entropy source at all; nothing thumbkit
    // makes may then be made from a guessable one.
    aws_lc_rs::rand::fill(&mut buf)
        .unwrap_or_else(|_| panic!("the operating system's random source failed"));
    hex::encode(buf)
}

fn split_query(query: &str) -> Vec<(&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect()
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "first-key-0123456789";
    const OLD: &str = "older-key-0123456789";
    const THUMB: Rules<'static> = Rules {
        params: &["v", "download"],
        max_ahead: 100_000,
    };

    #[test]
    fn signed_urls_verify_and_tampering_or_expiry_is_refused() {
        let signer = Signer::parse(KEY).unwrap();
        let url = signer.sign("/t/thumb/a%20b.jpg?v=abc", 1_000);
        assert!(
            url.starts_with("/t/thumb/a%20b.jpg?v=abc&exp=1000&sig="),
            "{url}"
        );
        let (path, query) = url.split_once('?').unwrap();
        assert_eq!(signer.verify(path, query, 999, THUMB), Ok(()));
        assert_eq!(signer.verify(path, query, 1_000, THUMB), Ok(()));
        assert_eq!(
            signer.verify(path, query, 1_010, THUMB),
            Err(SignatureError::Expired(10))
        );
        // Another path, another `v`, a later `exp`: all refused.
        assert_eq!(
            signer.verify("/t/large/a%20b.jpg", query, 999, THUMB),
            Err(SignatureError::Invalid)
        );
        let other_v = query.replace("v=abc", "v=abd");
        assert_eq!(
            signer.verify(path, &other_v, 999, THUMB),
            Err(SignatureError::Invalid)
        );
        let later = query.replace("exp=1000", "exp=9999");
        assert_eq!(
            signer.verify(path, &later, 999, THUMB),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify(path, "v=abc", 999, THUMB),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            signer.verify(path, "v=abc&exp=x&sig=00", 999, THUMB),
            Err(SignatureError::Malformed)
        );
        // Parameter order does not matter.
        let sig = query.split("sig=").nth(1).unwrap();
        let reordered = format!("sig={sig}&exp=1000&v=abc");
        assert_eq!(signer.verify(path, &reordered, 999, THUMB), Ok(()));
    }

    #[test]
    fn repeated_unknown_and_far_ahead_parameters_are_refused() {
        let signer = Signer::parse(KEY).unwrap();
        let url = signer.sign("/t/thumb/x.jpg?v=abc", 1_000);
        let (path, query) = url.split_once('?').unwrap();
        let sig = query.split("sig=").nth(1).unwrap();
        for (extra, want) in [
            (
                format!("{query}&sig=x"),
                SignatureError::Repeated("sig".into()),
            ),
            (
                format!("{query}&sig={sig}"),
                SignatureError::Repeated("sig".into()),
            ),
            (
                format!("{query}&exp=1000"),
                SignatureError::Repeated("exp".into()),
            ),
            (
                format!("{query}&v=abc"),
                SignatureError::Repeated("v".into()),
            ),
            (
                format!("{query}&cb=1"),
                SignatureError::Unknown("cb".into()),
            ),
            (format!("{query}&"), SignatureError::Missing),
        ] {
            if want == SignatureError::Missing {
                // An empty pair is no parameter: still valid.
                assert_eq!(signer.verify(path, &extra, 999, THUMB), Ok(()), "{extra}");
                continue;
            }
            assert_eq!(
                signer.verify(path, &extra, 999, THUMB),
                Err(want),
                "{extra}"
            );
        }
        // Signed with an unknown parameter: refused even though the signature covers it.
        let with_cb = signer.sign("/t/thumb/x.jpg?cb=2", 1_000);
        let (p, q) = with_cb.split_once('?').unwrap();
        assert_eq!(
            signer.verify(p, q, 999, THUMB),
            Err(SignatureError::Unknown("cb".into()))
        );
        // An `exp` further ahead than the route's signers give is refused, however valid.
        let forever = signer.sign("/t/thumb/x.jpg", 4_102_444_800);
        let (p, q) = forever.split_once('?').unwrap();
        assert_eq!(
            signer.verify(p, q, 1_000, THUMB),
            Err(SignatureError::TooFar {
                ahead: 4_102_443_800,
                max: 100_000
            })
        );
        assert_eq!(Rules::ahead_for(std::time::Duration::from_secs(3600)), 4560);
    }

    #[test]
    fn expiry_rounds_up_to_a_quarter_of_the_ttl() {
        let hour = std::time::Duration::from_secs(3600);
        assert_eq!(expiry(1_767_225_600, hour), 1_767_229_200);
        assert_eq!(expiry(1_767_225_601, hour), 1_767_230_100);
        assert_eq!(expiry(1_767_226_499, hour), 1_767_230_100);
        // Never more than the window past now + ttl, so the server's bound holds.
        for now in 1_767_225_600..1_767_227_000 {
            let exp = expiry(now, hour);
            assert!(exp >= now + 3600 && exp - now <= Rules::ahead_for(hour));
        }
    }

    #[test]
    fn keys_from_random_hex_never_repeat() {
        let a = random_hex(32);
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_hex(32));
    }

    #[test]
    fn rotation_verifies_with_any_configured_key() {
        let old = Signer::parse(OLD).unwrap();
        let url = old.sign("/t/thumb/x.jpg", 5_000);
        let (path, query) = url.split_once('?').unwrap();
        let rotated = Signer::parse(&format!("{KEY},{OLD}")).unwrap();
        assert_eq!(rotated.verify(path, query, 1, THUMB), Ok(()));
        let dropped = Signer::parse(KEY).unwrap();
        assert_eq!(
            dropped.verify(path, query, 1, THUMB),
            Err(SignatureError::Invalid)
        );
        assert!(Signer::parse("short").is_err());
        assert!(Signer::parse(" , ").is_err());
    }
}
