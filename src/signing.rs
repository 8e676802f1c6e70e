//! Signed thumbnail URLs: with a signing key configured, `/t/...` answers only URLs that
//! carry an unexpired `exp` and a valid `sig`, so nobody can make thumbkit render (and pay
//! for) URLs the application did not hand out.
//!
//! `sig` is HMAC-SHA256, in hex, over the path as sent (percent-encoded) and the query
//! parameters other than `sig` (sorted, as sent), which include `exp` (Unix seconds).
//! Several keys may be configured: the first signs, any verifies, so keys can be rotated.

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

    /// Checks the `exp` and `sig` of a request for `path` with `raw_query`, at `now`.
    pub fn verify(&self, path: &str, raw_query: &str, now: u64) -> Result<(), SignatureError> {
        let pairs = split_query(raw_query);
        let get = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let (Some(exp), Some(sig)) = (get("exp"), get("sig")) else {
            return Err(SignatureError::Missing);
        };
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
        Ok(())
    }
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

    #[test]
    fn signed_urls_verify_and_tampering_or_expiry_is_refused() {
        let signer = Signer::parse(KEY).unwrap();
        let url = signer.sign("/t/thumb/a%20b.jpg?v=abc", 1_000);
        assert!(
            url.starts_with("/t/thumb/a%20b.jpg?v=abc&exp=1000&sig="),
            "{url}"
        );
        let (path, query) = url.split_once('?').unwrap();
        assert_eq!(signer.verify(path, query, 999), Ok(()));
        assert_eq!(signer.verify(path, query, 1_000), Ok(()));
        assert_eq!(
            signer.verify(path, query, 1_010),
            Err(SignatureError::Expired(10))
        );
        // Another path, another `v`, a later `exp`: all refused.
        assert_eq!(
            signer.verify("/t/large/a%20b.jpg", query, 999),
            Err(SignatureError::Invalid)
        );
        let other_v = query.replace("v=abc", "v=abd");
        assert_eq!(
            signer.verify(path, &other_v, 999),
            Err(SignatureError::Invalid)
        );
        let later = query.replace("exp=1000", "exp=9999");
        assert_eq!(
            signer.verify(path, &later, 999),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify(path, "v=abc", 999),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            signer.verify(path, "v=abc&exp=x&sig=00", 999),
            Err(SignatureError::Malformed)
        );
        // Parameter order does not matter.
        let sig = query.split("sig=").nth(1).unwrap();
        let reordered = format!("sig={sig}&exp=1000&v=abc");
        assert_eq!(signer.verify(path, &reordered, 999), Ok(()));
    }

    #[test]
    fn rotation_verifies_with_any_configured_key() {
        let old = Signer::parse(OLD).unwrap();
        let url = old.sign("/t/thumb/x.jpg", 5_000);
        let (path, query) = url.split_once('?').unwrap();
        let rotated = Signer::parse(&format!("{KEY},{OLD}")).unwrap();
        assert_eq!(rotated.verify(path, query, 1), Ok(()));
        let dropped = Signer::parse(KEY).unwrap();
        assert_eq!(dropped.verify(path, query, 1), Err(SignatureError::Invalid));
        assert!(Signer::parse("short").is_err());
        assert!(Signer::parse(" , ").is_err());
    }
}
