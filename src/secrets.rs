//! Secrets kept out of every output (logs, errors, `--print-config`, `doctor`, `Debug`): a
//! [`Secret`] (the API token, signing keys, the peers' secret) never prints its value, and
//! the password a URL may carry (`http://user:pass@host/`) is shown as `****`.

use std::fmt;
use std::str::FromStr;

/// A value that must never be shown: `Debug` and `Display` print `********`; only
/// [`Secret::expose`] gives it, where it is used.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that checks or uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// `url` with the password of its user information, if any, replaced by `****`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // The last `@` ends the user information (a password may hold `@`).
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let (userinfo, host) = authority.split_at(at);
    let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
    let shown = if userinfo.contains(':') {
        format!("{user}:****")
    } else {
        // A lone user information part may itself be a token (`https://TOKEN@host`).
        "****".to_owned()
    };
    format!("{scheme}://{shown}{host}{tail}")
}

#[cfg(test)]
mod tests {
    use super::{Secret, redact_url};

    #[test]
    fn a_secret_never_prints_its_value() {
        let s = Secret::new("hunter2-token");
        let shown = format!("{s} {s:?} {:?}", Some(s.clone()));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(s.expose(), "hunter2-token");
    }

    #[test]
    fn passwords_in_urls_are_masked_and_everything_else_kept() {
        for (given, shown) in [
            (
                "http://user:hunter2@s3.local:9000/x",
                "http://user:****@s3.local:9000/x",
            ),
            ("http://u:p@ss@h/", "http://u:****@h/"),
            (
                "https://tok3n@collector:4318",
                "https://****@collector:4318",
            ),
            ("http://s3.local:9000/a@b", "http://s3.local:9000/a@b"),
            ("http://127.0.0.1:4318", "http://127.0.0.1:4318"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(given), shown);
        }
    }
}
