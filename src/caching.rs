//! What a thumbnail answer may be cached for, by whom, and how a cache validates it: the one
//! place `/t/` gets its `Cache-Control` (a thumbnail plain, pinned with `?v=`, stale, signed,
//! or a 304 of any of these; the fallback image; a refusal that is a fact of the original's
//! bytes; every other error), its `Vary` and `Accept-CH`, and where a variant's strong ETag,
//! the `If-None-Match` comparison and the `?v=` pin are defined.
//!
//! It sits below both `http` (which writes the headers) and `service` (which checks the
//! validators before it fetches a variant, so a 304 costs no fetch and no render).

use crate::keys::{ContentHash, Fingerprint};

/// `max-age` of answers not pinned with `?v=`: short, because the original behind the key
/// may be replaced.
const UNPINNED_MAX_AGE: u64 = 60;

/// `stale-while-revalidate` of unpinned answers: a cache may serve its copy for this long
/// while it revalidates in the background (the ETag makes that a cheap 304).
const UNPINNED_STALE_WHILE_REVALIDATE: u64 = 86_400;

/// `max-age` of answers pinned to their content with `?v=`: a year (they never change).
const PINNED_MAX_AGE: u64 = 31_536_000;

/// `max-age` of memory hits served while the store cannot confirm the original: the store
/// may come back with news.
const STALE_MAX_AGE: u64 = 10;

/// `max-age` of a fallback image: short, so no cache keeps it once the original is there.
const FALLBACK_MAX_AGE: u64 = 10;

/// `max-age` of the refusal of an original that cannot be rendered (the original may be
/// replaced under the same URL).
const FAILURE_MAX_AGE: u64 = 60;

/// What kind of answer is being cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// A thumbnail, or a 304 for one.
    Thumbnail {
        /// `?v=` names the current content.
        pinned: bool,
        /// Served from memory while the store could not confirm the original.
        stale: bool,
        /// A signed URL's verified expiry (Unix seconds), when signing is on.
        signed_until: Option<u64>,
    },
    /// The fallback image standing in for a missing or broken original.
    Fallback,
    /// A refusal that comes from the original's bytes (remembered per content hash).
    Refusal,
    /// Any other error: it describes this moment only.
    Error,
}

impl Caching {
    /// The `Cache-Control` value at `now` (Unix seconds).
    pub fn header(self, now: u64) -> String {
        match self {
            Caching::Thumbnail {
                pinned,
                stale,
                signed_until,
            } => {
                let mut max_age = if pinned {
                    PINNED_MAX_AGE
                } else {
                    UNPINNED_MAX_AGE
                };
                if stale {
                    max_age = max_age.min(STALE_MAX_AGE);
                }
                // No cache may keep a signed URL's answer past the signature's expiry.
                if let Some(exp) = signed_until {
                    max_age = max_age.min(exp.saturating_sub(now));
                }
                if pinned {
                    format!("public, max-age={max_age}, immutable")
                } else if stale || signed_until.is_some() {
                    // Neither a stale answer nor a signed URL's may outlive its max-age.
                    format!("public, max-age={max_age}")
                } else {
                    format!(
                        "public, max-age={max_age}, stale-while-revalidate={UNPINNED_STALE_WHILE_REVALIDATE}"
                    )
                }
            }
            Caching::Fallback => format!("public, max-age={FALLBACK_MAX_AGE}"),
            Caching::Refusal => format!("public, max-age={FAILURE_MAX_AGE}"),
            Caching::Error => "no-store".to_owned(),
        }
    }
}

/// How a variant's pixels were made. A render of one preset and pre-generation (every preset
/// from one decode, smaller ones resized from larger) are both faithful, but not the same
/// bytes; a strong ETag promises the same bytes, so each has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    /// Rendered alone.
    Alone,
    /// Composed with the original's other presets from one decode.
    OneDecode,
}

impl Made {
    /// Both ways, for a revalidation that accepts the client's copy whichever it has.
    pub const ALL: [Made; 2] = [Made::Alone, Made::OneDecode];

    /// As written in a stored variant's metadata and on the peer route.
    pub fn as_str(self) -> &'static str {
        match self {
            Made::Alone => "alone",
            Made::OneDecode => "one-decode",
        }
    }

    /// Read back from [`Self::as_str`]; anything else (older variants) was rendered alone.
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("one-decode") => Made::OneDecode,
            _ => Made::Alone,
        }
    }
}

/// Hex digits of the content hash an ETag shows, and the shortest `?v=` accepted (128 bits,
/// as unambiguous as a content hash needs to be).
pub const MIN_PIN_DIGITS: usize = 32;

/// A variant's strong ETag: the original's content, the preset's version, the format and
/// how the pixels were made. Known before the variant is, so a revalidation needs neither.
pub fn etag(hash: &ContentHash, fingerprint: &Fingerprint, extension: &str, made: Made) -> String {
    let digits = hash.as_str();
    let shown = digits.get(..MIN_PIN_DIGITS).unwrap_or(digits);
    let made = match made {
        Made::Alone => "",
        Made::OneDecode => "-1d",
    };
    // `concat`, not `format!`: one allocation and no formatting machinery on every hit.
    [
        "\"",
        shown,
        "-",
        fingerprint.as_str(),
        "-",
        extension,
        made,
        "\"",
    ]
    .concat()
}

/// Whether an `If-None-Match` value names `etag` (weak comparison, as RFC 9110 asks for).
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// Whether `?v=` names `hash`: all 64 digits or a prefix of at least [`MIN_PIN_DIGITS`].
pub fn pins(v: &str, hash: &ContentHash) -> bool {
    v.len() >= MIN_PIN_DIGITS && hash.as_str().starts_with(v)
}

/// What a `?v=` says of the variant asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// It names the content and how the crop is decided now: the response is immutable.
    Current,
    /// It names the content, but not how a `smart` crop is decided (a bare hash, or a focal
    /// point since moved): served, but revalidated like an unpinned URL.
    Content,
    /// It names other content.
    Stale,
}

/// Reads `v` (`{hash}` or `{hash}.{tag}`) against the content `hash` and the crop's `tag`
/// (`None` for presets whose crop the content alone decides).
pub fn pin(v: &str, hash: &ContentHash, tag: Option<&str>) -> Pin {
    let (pinned, pinned_tag) = match v.split_once('.') {
        Some((h, t)) => (h, Some(t)),
        None => (v, None),
    };
    match (pins(pinned, hash), pinned_tag == tag) {
        (false, _) => Pin::Stale,
        (true, true) => Pin::Current,
        (true, false) => Pin::Content,
    }
}

/// Which client hints pick a preset's step, for `Accept-CH` and `Vary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hints {
    /// Steps by pixel density: only the DPR matters.
    Dpr,
    /// Steps by width: the width and the DPR.
    WidthAndDpr,
}

impl Hints {
    /// `Accept-CH`: the hints the client is asked to send.
    pub fn accept_ch(self) -> &'static str {
        match self {
            Hints::Dpr => "Sec-CH-DPR",
            Hints::WidthAndDpr => "Sec-CH-Width, Sec-CH-DPR",
        }
    }

    /// What the answer varies on besides `Accept`: the hints and their legacy names.
    pub fn vary(self) -> &'static str {
        match self {
            Hints::Dpr => "Sec-CH-DPR, DPR",
            Hints::WidthAndDpr => "Sec-CH-Width, Sec-CH-DPR, Width, DPR",
        }
    }
}

/// `Vary` of a `/t/` answer: `Accept` when the format is negotiated, and the client hints
/// when they chose the step (`None`: the answer varies on nothing).
pub fn vary(negotiated: bool, hints: Option<Hints>) -> Option<String> {
    match (negotiated, hints) {
        (false, None) => None,
        (true, None) => Some("Accept".to_owned()),
        (false, Some(h)) => Some(h.vary().to_owned()),
        (true, Some(h)) => Some(format!("Accept, {}", h.vary())),
    }
}

/// The cache tag of every response about the original at `key` (`Cache-Tag`,
/// `Surrogate-Key`): a short hash of the key, so that tags leak no paths.
pub fn original_tag(key: &str) -> String {
    let hash = blake3::hash(key.as_bytes()).to_hex();
    ["tk-o-", &hash[..16]].concat()
}

/// The cache tag of every response of `preset` (a step is tagged with its preset's name).
pub fn preset_tag(preset: &str) -> String {
    ["tk-p-", preset.split('@').next().unwrap_or(preset)].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thumbnail(pinned: bool, stale: bool, signed_until: Option<u64>) -> Caching {
        Caching::Thumbnail {
            pinned,
            stale,
            signed_until,
        }
    }

    #[test]
    fn every_answer_is_cached_as_the_table_says() {
        let now = 1_000_000;
        let swr = "stale-while-revalidate=86400";
        for (answer, expected) in [
            (
                thumbnail(false, false, None),
                format!("public, max-age=60, {swr}"),
            ),
            (
                thumbnail(true, false, None),
                "public, max-age=31536000, immutable".into(),
            ),
            (thumbnail(false, true, None), "public, max-age=10".into()),
            (
                thumbnail(true, true, None),
                "public, max-age=10, immutable".into(),
            ),
            // Signed: never past `exp`, and no stale-while-revalidate beyond it.
            (
                thumbnail(false, false, Some(now + 3600)),
                "public, max-age=60".into(),
            ),
            (
                thumbnail(false, false, Some(now + 30)),
                "public, max-age=30".into(),
            ),
            (
                thumbnail(true, false, Some(now + 500)),
                "public, max-age=500, immutable".into(),
            ),
            (
                thumbnail(false, false, Some(now - 5)),
                "public, max-age=0".into(),
            ),
            (
                thumbnail(false, true, Some(now + 5)),
                "public, max-age=5".into(),
            ),
            (Caching::Fallback, "public, max-age=10".into()),
            (Caching::Refusal, "public, max-age=60".into()),
            (Caching::Error, "no-store".into()),
        ] {
            assert_eq!(answer.header(now), expected, "{answer:?}");
        }
    }

    #[test]
    fn a_variant_is_validated_as_the_table_says() {
        let hash = ContentHash::of(b"original");
        let fp = Fingerprint("0a1b2c3d".into());
        let alone = etag(&hash, &fp, "webp", Made::Alone);
        let batch = etag(&hash, &fp, "webp", Made::OneDecode);
        let digits = &hash.as_str()[..32];
        assert_eq!(alone, format!("\"{digits}-0a1b2c3d-webp\""));
        assert_eq!(batch, format!("\"{digits}-0a1b2c3d-webp-1d\""));
        // The ways of making it and the formats never share a strong ETag.
        assert_ne!(alone, etag(&hash, &fp, "avif", Made::Alone));
        let other = etag(&ContentHash::of(b"replaced"), &fp, "webp", Made::Alone);
        // 304 when If-None-Match names it: alone, weak, in a list, or `*`.
        for (if_none_match, revalidates) in [
            (alone.clone(), true),
            (format!("W/{alone}"), true),
            (format!("\"x\", {alone} , \"y\""), true),
            ("*".to_owned(), true),
            (other.clone(), false),
            (alone.trim_matches('"').to_owned(), false),
            (String::new(), false),
        ] {
            assert_eq!(
                etag_matches(&if_none_match, &alone),
                revalidates,
                "{if_none_match}"
            );
        }
        // `?v=`: 32 to 64 digits of the current content, nothing shorter, nothing else.
        let full = hash.as_str();
        for (v, pinned) in [
            (full, true),
            (&full[..32], true),
            (&full[..31], false),
            ("", false),
            (&other[1..33], false),
        ] {
            assert_eq!(pins(v, &hash), pinned, "{v}");
        }
    }

    #[test]
    fn an_answer_varies_as_the_table_says() {
        assert_eq!(vary(false, None), None);
        assert_eq!(vary(true, None).as_deref(), Some("Accept"));
        assert_eq!(
            vary(true, Some(Hints::WidthAndDpr)).as_deref(),
            Some("Accept, Sec-CH-Width, Sec-CH-DPR, Width, DPR")
        );
        assert_eq!(
            vary(false, Some(Hints::Dpr)).as_deref(),
            Some("Sec-CH-DPR, DPR")
        );
        assert_eq!(Hints::Dpr.accept_ch(), "Sec-CH-DPR");
        assert_eq!(Hints::WidthAndDpr.accept_ch(), "Sec-CH-Width, Sec-CH-DPR");
        for made in Made::ALL {
            assert_eq!(Made::parse(Some(made.as_str())), made);
        }
        assert_eq!(Made::parse(Some("older")), Made::Alone);
    }
}
