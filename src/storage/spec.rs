//! [`StorageSpec`]: where a store is, as `THUMBKIT_STORAGE` (and each source of
//! `THUMBKIT_SOURCES`) spells it.

use super::s3::S3Location;

/// `THUMBKIT_STORAGE`: which store and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageSpec {
    /// `fs:PATH`
    Fs(std::path::PathBuf),
    /// `s3://BUCKET[/PREFIX]`
    S3(S3Location),
}

impl StorageSpec {
    /// Parses `fs:PATH` or `s3://BUCKET[/PREFIX]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix("s3://") {
            return S3Location::parse(rest).map(StorageSpec::S3);
        }
        match s.split_once(':') {
            Some(("fs", path)) if !path.is_empty() => Ok(StorageSpec::Fs(path.into())),
            _ => Err(format!(
                "`{s}` is neither `fs:PATH` nor `s3://BUCKET[/PREFIX]`"
            )),
        }
    }

    /// As `THUMBKIT_STORAGE` would spell it.
    pub fn describe(&self) -> String {
        match self {
            StorageSpec::Fs(path) => format!("fs:{}", path.display()),
            StorageSpec::S3(location) => {
                let prefix = location.prefix().trim_end_matches('/');
                let sep = if prefix.is_empty() { "" } else { "/" };
                format!("s3://{}{sep}{prefix}", location.bucket())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_specs() {
        assert_eq!(
            StorageSpec::parse("fs:./data"),
            Ok(StorageSpec::Fs("./data".into()))
        );
        let StorageSpec::S3(loc) = StorageSpec::parse("s3://photos/thumbs/v1/").unwrap() else {
            panic!("not s3")
        };
        assert_eq!((loc.bucket(), loc.prefix()), ("photos", "thumbs/v1/"));
        for bad in [
            "",
            "fs:",
            "./data",
            "s3://",
            "s3://Bad_Bucket",
            "s3://b/../x",
            "gs://b",
        ] {
            assert!(StorageSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
