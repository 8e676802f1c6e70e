//! The shared secret between instances (`THUMBKIT_PEER_SECRET`). A peer request carries
//! `X-Thumbkit-Peer: {unix seconds}.{nonce}.{hex HMAC-SHA256}` over the seconds, a random
//! nonce, the instance asked, the method and the path, so the secret never crosses the
//! network and a captured header is good for that one request to that one instance, once,
//! within [`MAX_SKEW_SECS`]. The owner's answer carries `X-Thumbkit-Peer-Answer`, an HMAC over
//! the request's nonce and path and the answer's type and bytes, so only an instance holding
//! the secret can answer, and only this request. Every check is in constant time.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header a peer request is authenticated by.
pub const HEADER: &str = "x-thumbkit-peer";

/// The header that authenticates the owner's answer.
pub const ANSWER_HEADER: &str = "x-thumbkit-peer-answer";

/// Shortest secret accepted, in bytes.
const MIN_SECRET_LEN: usize = 16;

/// How far a peer's clock may be from ours, and so how long a request header is good for.
pub const MAX_SKEW_SECS: u64 = 30;

/// Why a peer request (or answer) was refused.
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
    #[error("the `X-Thumbkit-Peer` header was used before: each peer request is sent once")]
    Replayed,
}

/// The secret every instance of a deployment shares.
pub struct PeerSecret {
    key: Vec<u8>,
    /// Nonces of verified requests, with their seconds, kept for twice the skew.
    seen: Mutex<Seen>,
}

impl Clone for PeerSecret {
    fn clone(&self) -> Self {
        Self {
            key: self.key.clone(),
            seen: Mutex::default(),
        }
    }
}

impl std::fmt::Debug for PeerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerSecret(..)")
    }
}

/// The nonces of the last two windows of the skew, and when they were last pruned.
#[derive(Debug, Default)]
struct Seen {
    nonces: HashMap<String, u64>,
    pruned: u64,
}

/// What an owner's answer says, all of it covered by its tag.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub content_type: &'a str,
    /// How the variant's pixels were made (`alone`, `one-decode`).
    pub made: &'a str,
    pub bytes: &'a [u8],
}

/// A request header's parts.
struct Parsed<'a> {
    secs: u64,
    nonce: &'a str,
    tag: Vec<u8>,
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
        Ok(Self {
            key: s.as_bytes().to_vec(),
            seen: Mutex::default(),
        })
    }

    fn mac(&self, parts: &[&str]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        mac
    }

    fn request_mac(&self, secs: u64, nonce: &str, target: &str, path: &str) -> Hmac<Sha256> {
        self.mac(&[
            "thumbkit-peer-request",
            &secs.to_string(),
            nonce,
            target,
            "GET",
            path,
        ])
    }

    /// The header value for a `GET` of `path` (path and query, as sent) from the instance at
    /// `target`, at `now`, with a fresh nonce; returns the value and the nonce.
    pub fn sign(&self, target: &str, path: &str, now: u64) -> (String, String) {
        let nonce = crate::signing::random_hex(16);
        let tag = self
            .request_mac(now, &nonce, target, path)
            .finalize()
            .into_bytes();
        (format!("{now}.{nonce}.{}", hex::encode(tag)), nonce)
    }

    fn parse_header(value: &str) -> Result<Parsed<'_>, PeerAuthError> {
        let mut parts = value.splitn(3, '.');
        let (Some(secs), Some(nonce), Some(tag)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(PeerAuthError::Malformed);
        };
        let valid_nonce = nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid_nonce {
            return Err(PeerAuthError::Malformed);
        }
        Ok(Parsed {
            secs: secs.parse().map_err(|_| PeerAuthError::Malformed)?,
            nonce,
            tag: hex::decode(tag).map_err(|_| PeerAuthError::Malformed)?,
        })
    }

    /// Checks a request header for a `GET` of `path` sent to this instance (`me`) at `now`,
    /// and that it was not seen before; returns its nonce, which the answer's tag covers.
    pub fn verify(
        &self,
        value: Option<&str>,
        me: &str,
        path: &str,
        now: u64,
    ) -> Result<String, PeerAuthError> {
        let value = value.ok_or(PeerAuthError::Missing)?;
        let parsed = Self::parse_header(value)?;
        let skew = now.abs_diff(parsed.secs);
        if skew > MAX_SKEW_SECS {
            return Err(PeerAuthError::Skewed(skew));
        }
        // verify_slice compares in constant time.
        self.request_mac(parsed.secs, parsed.nonce, me, path)
            .verify_slice(&parsed.tag)
            .map_err(|_| PeerAuthError::Invalid)?;
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        // Only verified headers are remembered, so the set is bounded by the peers' own
        // request rate over a few windows; pruned once a window, so each check is O(1).
        if now.saturating_sub(seen.pruned) >= MAX_SKEW_SECS {
            seen.nonces
                .retain(|_, secs| now.abs_diff(*secs) <= 2 * MAX_SKEW_SECS);
            seen.pruned = now;
        }
        if seen
            .nonces
            .insert(parsed.nonce.to_owned(), parsed.secs)
            .is_some()
        {
            return Err(PeerAuthError::Replayed);
        }
        Ok(parsed.nonce.to_owned())
    }

    /// The MAC of an answer to the request with `nonce` for `path`.
    fn answer_mac(&self, nonce: &str, path: &str, answer: Answer<'_>) -> Hmac<Sha256> {
        let digest = blake3::hash(answer.bytes).to_hex();
        self.mac(&[
            "thumbkit-peer-answer",
            nonce,
            path,
            answer.content_type,
            answer.made,
            digest.as_str(),
        ])
    }

    /// The tag of an answer to the request with `nonce` for `path`: its type, how its
    /// pixels were made, and its bytes.
    pub fn answer_tag(&self, nonce: &str, path: &str, answer: Answer<'_>) -> String {
        hex::encode(self.answer_mac(nonce, path, answer).finalize().into_bytes())
    }

    /// Checks an answer's tag (in constant time).
    pub fn verify_answer(
        &self,
        tag: Option<&str>,
        nonce: &str,
        path: &str,
        answer: Answer<'_>,
    ) -> Result<(), PeerAuthError> {
        let tag = hex::decode(tag.ok_or(PeerAuthError::Missing)?)
            .map_err(|_| PeerAuthError::Malformed)?;
        self.answer_mac(nonce, path, answer)
            .verify_slice(&tag)
            .map_err(|_| PeerAuthError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "http://10.0.0.2:8080";
    const PATH: &str = "/_peer/v2/thumb/abcd/jpg/h/a.jpg";

    #[test]
    fn a_request_header_verifies_once_for_its_instance_and_path_within_the_skew() {
        let secret = PeerSecret::parse("a-secret-of-enough-bytes").unwrap();
        let (header, nonce) = secret.sign(ME, PATH, 1_000);
        let fresh = || PeerSecret::parse("a-secret-of-enough-bytes").unwrap();
        assert_eq!(
            fresh().verify(Some(&header), ME, PATH, 1_020),
            Ok(nonce.clone())
        );
        // Replayed to the same instance: refused, however valid.
        let owner = fresh();
        assert_eq!(owner.verify(Some(&header), ME, PATH, 1_000), Ok(nonce));
        assert_eq!(
            owner.verify(Some(&header), ME, PATH, 1_001),
            Err(PeerAuthError::Replayed)
        );
        // Another path, another instance, too late, another secret.
        for (me, path, now, want) in [
            (
                ME,
                "/_peer/v2/thumb/abcd/jpg/h/b.jpg",
                1_000,
                PeerAuthError::Invalid,
            ),
            ("http://10.0.0.3:8080", PATH, 1_000, PeerAuthError::Invalid),
            (ME, PATH, 1_031, PeerAuthError::Skewed(31)),
        ] {
            assert_eq!(fresh().verify(Some(&header), me, path, now), Err(want));
        }
        let other = PeerSecret::parse("another-secret-of-bytes").unwrap();
        assert_eq!(
            other.verify(Some(&header), ME, PATH, 1_000),
            Err(PeerAuthError::Invalid)
        );
        assert_eq!(
            fresh().verify(None, ME, PATH, 1_000),
            Err(PeerAuthError::Missing)
        );
        assert_eq!(
            fresh().verify(Some("12.zz"), ME, PATH, 12),
            Err(PeerAuthError::Malformed)
        );
        assert!(PeerSecret::parse("short").is_err());
    }

    #[test]
    fn an_answer_verifies_for_its_request_type_making_and_bytes_only() {
        let secret = PeerSecret::parse("a-secret-of-enough-bytes").unwrap();
        let nonce = "0123456789abcdef0123456789abcdef";
        let answer = |content_type, made, bytes| Answer {
            content_type,
            made,
            bytes,
        };
        let sent = answer("image/jpeg", "alone", &b"pixels"[..]);
        let tag = secret.answer_tag(nonce, PATH, sent);
        assert_eq!(secret.verify_answer(Some(&tag), nonce, PATH, sent), Ok(()));
        let other = "ffff456789abcdef0123456789abcdef";
        for (nonce, path, got) in [
            (other, PATH, sent),
            (nonce, "/_peer/v2/large/abcd/jpg/h/a.jpg", sent),
            (nonce, PATH, answer("image/png", "alone", b"pixels")),
            (nonce, PATH, answer("image/jpeg", "one-decode", b"pixels")),
            (nonce, PATH, answer("image/jpeg", "alone", b"pixelz")),
        ] {
            assert_eq!(
                secret.verify_answer(Some(&tag), nonce, path, got),
                Err(PeerAuthError::Invalid)
            );
        }
        assert_eq!(
            secret.verify_answer(None, nonce, PATH, sent),
            Err(PeerAuthError::Missing)
        );
    }
}
