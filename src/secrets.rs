//! Secrets kept out of every output (logs, errors, `--print-config`, `doctor`): the password
//! a URL may carry (`http://user:pass@host/`) is shown as `****`.

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
    use super::redact_url;

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
