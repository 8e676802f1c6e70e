//! Content negotiation: which modern formats (AVIF, WebP) a request's `Accept` header
//! takes, which decides the concrete format of an `auto` preset (and is why such responses
//! carry `Vary: Accept`).

/// True when `accept` lists `mime` (e.g. `image/avif`) with a non-zero quality.
///
/// Wildcards (`*/*`, `image/*`) do not count: every browser that decodes WebP or AVIF names
/// it, and clients sending only a wildcard (curl, many bots) are safer with JPEG/PNG.
pub fn accepts(accept: &str, mime: &str) -> bool {
    accept.split(',').any(|item| {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case(mime) {
            return false;
        }
        // A missing or unparsable q counts as 1, as RFC 9110 reads it.
        let q = parts
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
            })
            .filter_map(|v| v.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        q > 0.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts_webp(accept: &str) -> bool {
        accepts(accept, "image/webp")
    }

    #[test]
    fn browsers_and_others() {
        // Chrome/Firefox image requests.
        assert!(accepts_webp(
            "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
        ));
        assert!(accepts_webp("image/webp,*/*"));
        assert!(accepts_webp("IMAGE/WEBP ; q=0.5"));
        // Explicit refusal, wildcards only, nothing.
        assert!(!accepts_webp("image/webp;q=0, image/*"));
        assert!(!accepts_webp("*/*"));
        assert!(!accepts_webp("image/*"));
        assert!(!accepts_webp(""));
        assert!(!accepts_webp("image/webpx"));
    }
}
