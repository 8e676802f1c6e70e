//! The names themselves: an original's [`ObjectKey`], its [`ContentHash`], a preset's
//! [`PresetName`] and [`Fingerprint`], and the [`VariantKey`] of a rendered thumbnail.

use std::fmt;

/// The longest key S3 accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// The longest path segment, in bytes: what every common filesystem can name (255) less the
/// fs store's `.json` sidecar suffix, so a key means the same on every store.
pub const MAX_SEGMENT_BYTES: usize = 250;

/// Why a string is not a usable object key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is empty")]
    Empty,
    #[error("the key is {0} bytes long; the limit is {MAX_KEY_BYTES}")]
    TooLong(usize),
    #[error("the key must not start with `/`")]
    Absolute,
    #[error("the key has an empty, `.` or `..` path segment")]
    BadSegment,
    #[error("a segment of the key is {0} bytes long; the limit is {MAX_SEGMENT_BYTES}")]
    LongSegment(usize),
    #[error("the key has a control character")]
    ControlCharacter,
    #[error("the key has a backslash")]
    Backslash,
    #[error("`{0}` is not a blake3 content hash (64 lowercase hex digits)")]
    BadHash(String),
}

/// An original's key: `/`-separated segments, none empty, `.` or `..`; no control
/// characters or backslashes; at most 1024 bytes, 250 per segment. Any depth, any other
/// Unicode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// A key built from valid parts (a valid folder, hex digits, a preset's name).
    pub(super) fn derived(key: String) -> Self {
        Self(key)
    }

    /// Validates a key.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        if s.is_empty() {
            return Err(KeyError::Empty);
        }
        if s.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLong(s.len()));
        }
        if s.starts_with('/') {
            return Err(KeyError::Absolute);
        }
        if s.chars().any(char::is_control) {
            return Err(KeyError::ControlCharacter);
        }
        if s.contains('\\') {
            return Err(KeyError::Backslash);
        }
        if s.split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        {
            return Err(KeyError::BadSegment);
        }
        if let Some(long) = s.split('/').map(str::len).find(|&n| n > MAX_SEGMENT_BYTES) {
            return Err(KeyError::LongSegment(long));
        }
        Ok(Self(s.to_owned()))
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the key is under `prefix` (a `/`-terminated folder or empty).
    pub fn is_under(&self, prefix: &str) -> bool {
        prefix.is_empty() || self.0.starts_with(prefix)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The blake3 hash of an original's bytes, as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentHash(String);

impl ContentHash {
    /// Hashes bytes.
    pub fn of(bytes: &[u8]) -> Self {
        Self(blake3::hash(bytes).to_hex().to_string())
    }

    /// Validates a hash written as hex (e.g. from `?v=` or object metadata).
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(KeyError::BadHash(s.chars().take(80).collect()))
        }
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A preset's name: the file stem, `[a-z0-9_-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PresetName(String);

// Lets a map of presets be searched by a `&str` without validating it into a name first
// (an invalid name is simply not found); the derived order is the string's, as required.
impl std::borrow::Borrow<str> for PresetName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PresetName {
    /// Validates a preset name.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 64 {
            return Err(format!("preset name `{s}` must be 1 to 64 characters long"));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
        {
            return Err(format!(
                "preset name `{s}` has the character {c:?}; only a-z, 0-9, `_` and `-` are allowed"
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name of `base`'s step `suffix` (`card@2x`), valid because both parts are.
    pub(crate) fn step(base: &PresetName, suffix: &str) -> Self {
        Self(format!("{}@{suffix}", base.0))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PresetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A short hash of everything that determines a preset's output, plus the pipeline version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub(crate) String);

impl Fingerprint {
    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a variant is stored: `{prefix}/{h[0..2]}/{h}/{preset}.{fingerprint}.{ext}`.
/// A replaced original changes `h`, an edited preset its fingerprint: never a stale hit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VariantKey(String);

impl VariantKey {
    /// The key of the variant of the content `hash` made by the preset `name` as it is at
    /// `fingerprint`, encoded as `ext`, under `prefix`.
    pub fn new(
        prefix: &str,
        hash: &ContentHash,
        name: &PresetName,
        fingerprint: &Fingerprint,
        ext: &str,
    ) -> Self {
        let h = hash.as_str();
        let prefix = prefix.trim_end_matches('/');
        let sep = if prefix.is_empty() { "" } else { "/" };
        // Built on every request: one allocation, no formatting machinery.
        Self(
            [
                prefix,
                sep,
                &h[..2],
                "/",
                h,
                "/",
                name.as_str(),
                ".",
                fingerprint.as_str(),
                ".",
                ext,
            ]
            .concat(),
        )
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as an owned string, without a copy.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for VariantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_cannot_escape() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a/./b",
            "a//b",
            "a/",
            ".",
            "..",
            "a\0b",
            "a\nb",
            "a\\..\\b",
        ] {
            assert!(ObjectKey::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ObjectKey::parse(&"a".repeat(1025)).is_err());
        for good in [
            "photo.jpg",
            "users/42/avatar.png",
            "with space/é.jpg",
            "a..b/c...jpg",
        ] {
            assert_eq!(ObjectKey::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn hashes_are_validated() {
        let h = ContentHash::of(b"hello");
        assert_eq!(ContentHash::parse(h.as_str()).unwrap(), h);
        assert!(ContentHash::parse("abc").is_err());
        assert!(ContentHash::parse(&h.as_str().to_uppercase()).is_err());
    }

    #[test]
    fn variant_keys_follow_the_documented_scheme() {
        let (name, fingerprint) = (
            PresetName::parse("thumb").unwrap(),
            Fingerprint("9244a54d4ba2".into()),
        );
        let h = ContentHash::of(b"original");
        let key = VariantKey::new("variants/", &h, &name, &fingerprint, "webp");
        let expected = format!(
            "variants/{}/{}/thumb.9244a54d4ba2.webp",
            &h.as_str()[..2],
            h
        );
        assert_eq!(key.as_str(), expected);
        let bare = VariantKey::new("", &h, &name, &fingerprint, "jpg");
        assert!(bare.as_str().starts_with(&h.as_str()[..2]));
    }
}
