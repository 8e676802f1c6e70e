//! Durations, sizes and format lists as people write them in flags and environment variables
//! (`30s`, `5m`, `256MiB`, `avif,webp`), parsed and printed the same way so that `--help`
//! shows each default from the value the code uses.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::pipeline::OutputFormat;

/// `s` trimmed, its leading number and the unit after it; `what` says what was expected.
fn number_and_unit<'a>(s: &'a str, what: &str) -> Result<(&'a str, u64, &'a str), String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n = digits.parse().map_err(|_| format!("`{s}` is not {what}"))?;
    Ok((s, n, unit))
}

/// A duration written `500ms`, `30s`, `5m`, `24h`, `7d` or as a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (s, n, unit) = number_and_unit(s, "a duration like 30s")?;
        let seconds = |factor: u64| {
            n.checked_mul(factor)
                .map(|s| Span(Duration::from_secs(s)))
                .ok_or_else(|| format!("`{s}` is too long"))
        };
        match unit {
            "ms" => Ok(Span(Duration::from_millis(n))),
            "" | "s" => seconds(1),
            "m" => seconds(60),
            "h" => seconds(3600),
            "d" => seconds(86_400),
            other => Err(format!(
                "unknown duration unit `{other}` (use ms, s, m, h or d)"
            )),
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if !ms.is_multiple_of(1000) {
            return write!(f, "{ms}ms");
        }
        let s = ms / 1000;
        match s {
            0 => f.write_str("0s"),
            s if s.is_multiple_of(86_400) => write!(f, "{}d", s / 86_400),
            s if s.is_multiple_of(3600) => write!(f, "{}h", s / 3600),
            s if s.is_multiple_of(60) => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

/// A size written `1024`, `64KiB`, `256MiB`, `1GiB` (also KB/MB/GB as powers of 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

const UNITS: [(&str, u64); 4] = [
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
];

impl FromStr for Size {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (s, n, unit) = number_and_unit(s, "a size like 256MiB")?;
        // Case is not meaning: `64mb` is `64MB` (decimal), `64mib` is `64MiB`.
        let factor = match unit.trim().to_ascii_lowercase().as_str() {
            "" => 1,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            other => UNITS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(other))
                .map(|(_, f)| *f)
                .ok_or_else(|| {
                    format!(
                        "unknown size unit `{}` (use B, KB, MB, KiB, MiB, GiB)",
                        unit.trim()
                    )
                })?,
        };
        n.checked_mul(factor)
            .map(Size)
            .ok_or_else(|| format!("`{s}` is too large"))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, factor) = UNITS
            .iter()
            .find(|(_, factor)| self.0 != 0 && self.0.is_multiple_of(*factor))
            .copied()
            .unwrap_or(("B", 1));
        write!(f, "{}{name}", self.0 / factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_printed_parses_back() {
        for text in ["500ms", "30s", "1m", "15m", "12h", "7d", "0s"] {
            let span: Span = text.parse().unwrap();
            assert_eq!(span.to_string(), text);
        }
        assert_eq!("60s".parse::<Span>().unwrap().to_string(), "1m");
        assert_eq!("24h".parse::<Span>().unwrap().to_string(), "1d");
        assert_eq!("90".parse::<Span>().unwrap(), Span(Duration::from_secs(90)));
        assert!("5 parsecs".parse::<Span>().is_err());
        assert!("99999999999999999999d".parse::<Span>().is_err());
        for text in ["256MiB", "1GiB", "64KiB", "1000B"] {
            assert_eq!(text.parse::<Size>().unwrap().to_string(), text);
        }
        assert_eq!("2MB".parse::<Size>().unwrap(), Size(2_000_000));
        // Case is not meaning.
        assert_eq!("64mb".parse::<Size>().unwrap(), Size(64_000_000));
        assert_eq!("64mib".parse::<Size>().unwrap(), Size(64 << 20));
        assert_eq!("1gib".parse::<Size>().unwrap(), Size(1 << 30));
        assert!("12 furlongs".parse::<Size>().is_err());
    }
}

/// The modern formats `auto` may choose, in order of preference: `avif,webp`, `webp`, or
/// `none` (JPEG/PNG only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoFormats(pub Vec<OutputFormat>);

impl FromStr for AutoFormats {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("none") {
            return Ok(AutoFormats(Vec::new()));
        }
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let format = OutputFormat::parse(part)
                .filter(|f| OutputFormat::MODERN.contains(f))
                .ok_or_else(|| {
                    format!("`{part}` is not a format auto can choose (write avif, webp or none)")
                })?;
            if !out.contains(&format) {
                out.push(format);
            }
        }
        Ok(AutoFormats(out))
    }
}

impl fmt::Display for AutoFormats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&names.join(","))
    }
}
