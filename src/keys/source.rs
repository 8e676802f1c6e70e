//! A source's name (`THUMBKIT_SOURCES`) and how a key names its source: `docs:scans/a.pdf`
//! is the key `scans/a.pdf` of the source `docs` when `docs` is configured, and otherwise
//! a key of the default store, as it was before any source existed.

use std::fmt;

/// The longest source name.
const MAX_NAME: usize = 32;

/// The name a preset's `sources` list gives the default store.
pub const DEFAULT_SOURCE: &str = "default";

/// A configured source's name: `[a-z0-9][a-z0-9_-]{0,31}`, never `default` (the default
/// store's name in a preset's `sources`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceName(String);

impl SourceName {
    /// Validates a source name.
    pub fn parse(s: &str) -> Result<Self, String> {
        let shaped = !s.is_empty()
            && s.len() <= MAX_NAME
            && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !shaped {
            return Err(format!(
                "`{}` is not a source name (1 to {MAX_NAME} of a-z, 0-9, `-` and `_`, starting \
                 with a letter or digit)",
                s.chars().take(40).collect::<String>()
            ));
        }
        if s == DEFAULT_SOURCE {
            return Err(format!(
                "`{DEFAULT_SOURCE}` names the default store (THUMBKIT_STORAGE); give the source \
                 another name"
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Splits `key` into its source's name and the key in that source, when its first segment
/// starts with `{name}:` and `is_source(name)`; `None` means the default store's key.
/// The rest may be empty (a listing's prefix `docs:`).
pub fn split_source(key: &str, is_source: impl Fn(&str) -> bool) -> Option<(&str, &str)> {
    let (name, rest) = key.split_once(':')?;
    (!name.contains('/') && is_source(name)).then_some((name, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["docs", "a", "public-media_2", "0cdn"] {
            assert_eq!(SourceName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "Docs",
            "-x",
            "a:b",
            "a/b",
            "default",
            &"a".repeat(33),
            "é",
        ] {
            assert!(SourceName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_configured_names_split() {
        let docs = |n: &str| n == "docs";
        assert_eq!(
            split_source("docs:a/b.pdf", docs),
            Some(("docs", "a/b.pdf"))
        );
        assert_eq!(split_source("docs:", docs), Some(("docs", "")));
        // Not configured, in a later segment, or a colon in a name: the default store's.
        for default in [
            "avatars:u.jpg",
            "x/docs:a.pdf",
            "2024-01-01T10:00.jpg",
            "a.jpg",
        ] {
            assert_eq!(split_source(default, docs), None, "{default}");
        }
    }
}
