//! The shared secret between instances (`THUMBKIT_PEER_SECRET`): a peer request carries
//! `X-Thumbkit-Peer: {unix seconds}.{hex HMAC-SHA256 over "{seconds}\n{path}"}`, so the secret
//! itself never crosses the network, a captured header works for one path only and for a
//! few minutes, and the check is in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header a peer request is authenticated by.
pub const HEADER: &str = "x-thumbkit-peer";

/// Shortest secret accepted, in bytes.
const MIN_SECRET_LEN: usize = 16;

/// How far a peer's clock may be from ours (and how long a captured header is good for).
pub const MAX_SKEW_SECS: u64 = 300;

/// Why a peer request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerAuthError {
    #[error("this route is for thumbkit instances only: it needs the `X-Thumbkit-Peer` header")]
    Missing,
    #[error("the `X-Thumbkit-Peer` header is malformed")]
    Malformed,
    #[error("the `X-Thumbkit-Peer` header is {0} s away from this instance's clock")]
    Skewed(u64),
    #[error("the `X-Thumbkit-Peer` header does not match THUMBKIT_PEER_SECRET")]
    Invalid,
}

/// The secret every instance of a deployment shares.
#[derive(Clone)]
pub struct PeerSecret(Vec<u8>);

impl std::fmt::Debug for PeerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerSecret(..)")
    }
}

impl PeerSecret {
    /// A secret of at least 16 bytes (surrounding blanks ignored).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.len() < MIN_SECRET_LEN {
            return Err(format!(
                "the peer secret must be at least {MIN_SECRET_LEN} bytes"
            ));
        }
        Ok(Self(s.as_bytes().to_vec()))
    }

    fn mac(&self, secs: u64, path: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(format!("{secs}\n{path}").as_bytes());
        mac
    }

    /// The header value for a request of `path` (path and query, as sent) at `now`.
    pub fn sign(&self, path: &str, now: u64) -> String {
        let tag = self.mac(now, path).finalize().into_bytes();
        format!("{now}.{}", hex::encode(tag))
    }

    /// Checks a header value for `path` at `now`.
    pub fn verify(&self, value: Option<&str>, path: &str, now: u64) -> Result<(), PeerAuthError> {
        let value = value.ok_or(PeerAuthError::Missing)?;
        let (secs, tag) = value.split_once('.').ok_or(PeerAuthError::Malformed)?;
        let secs: u64 = secs.parse().map_err(|_| PeerAuthError::Malformed)?;
        let tag = hex::decode(tag).map_err(|_| PeerAuthError::Malformed)?;
        let skew = now.abs_diff(secs);
        if skew > MAX_SKEW_SECS {
            return Err(PeerAuthError::Skewed(skew));
        }
        // verify_slice compares in constant time.
        self.mac(secs, path)
            .verify_slice(&tag)
            .map_err(|_| PeerAuthError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_header_verifies_for_its_path_only_and_within_the_skew() {
        let secret = PeerSecret::parse("a-secret-of-enough-bytes").unwrap();
        let header = secret.sign("/_peer/v1/thumb/jpg/h/a.jpg", 1_000);
        let path = "/_peer/v1/thumb/jpg/h/a.jpg";
        assert_eq!(secret.verify(Some(&header), path, 1_000), Ok(()));
        assert_eq!(secret.verify(Some(&header), path, 1_200), Ok(()));
        assert_eq!(
            secret.verify(Some(&header), "/_peer/v1/thumb/jpg/h/b.jpg", 1_000),
            Err(PeerAuthError::Invalid)
        );
        assert_eq!(
            secret.verify(Some(&header), path, 2_000),
            Err(PeerAuthError::Skewed(1_000))
        );
        let other = PeerSecret::parse("another-secret-of-bytes").unwrap();
        assert_eq!(
            other.verify(Some(&header), path, 1_000),
            Err(PeerAuthError::Invalid)
        );
        assert_eq!(
            secret.verify(None, path, 1_000),
            Err(PeerAuthError::Missing)
        );
        assert_eq!(
            secret.verify(Some("12.zz"), path, 12),
            Err(PeerAuthError::Malformed)
        );
        assert!(PeerSecret::parse("short").is_err());
    }
}
