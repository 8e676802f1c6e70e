//! What a thumbnail answer may be cached for, and by whom: the one place `Cache-Control` of
//! `/t/` is decided, for a thumbnail (plain, pinned with `?v=`, stale, signed, or a 304 of
//! any of these), the fallback image, a refusal that is a fact of the original's bytes, and
//! every other error. Validation is by the strong ETag the service gives each variant.

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
pub(crate) enum Caching {
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
    pub(crate) fn header(self, now: u64) -> String {
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
}
