//! Where originals and variants live: the [`Store`] trait and its two implementations, a local
//! directory ([`fs`], the embedded default, so a fresh clone runs with no setup) and S3 or any
//! S3-compatible store ([`s3`]).
//!
//! The service never calls a store directly: it goes through [`Storage`], which bounds every
//! call with a timeout and counts it in `thumbkit_storage_requests_total{op,kind}`, so the
//! storage cost of each request is visible and a hung store cannot hang a request.
//!
//! Properties every backend keeps: nothing half-written is ever read (the fs store writes a
//! temporary file and renames it; an S3 PUT is atomic), and no key reaches outside the
//! store's root or prefix (keys are [`ObjectKey`]s, which cannot hold `..` or absolute paths).

pub mod fs;
pub mod s3;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::keys::ObjectKey;
use crate::metrics::Metrics;

pub use fs::FsStore;
pub use s3::{S3Location, S3Options, S3Store};

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage I/O on `{key}`: {source}")]
    Io {
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the key `{0}` is reserved for thumbkit's own use")]
    Reserved(String),
    #[error("`{key}` cannot be stored: {reason}")]
    Conflict { key: String, reason: String },
    #[error("stored metadata of `{key}` is unreadable: {reason}")]
    Metadata { key: String, reason: String },
    #[error("the storage did not answer a {op} of `{key}` within {after:?}")]
    Timeout {
        op: &'static str,
        key: String,
        after: Duration,
    },
    #[error("cannot reach the storage: {0}")]
    Unreachable(String),
    #[error(
        "access denied ({code}{}): check the credentials (AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) and that they may read and write the bucket",
        if message.is_empty() { String::new() } else { format!(": {message}") }
    )]
    Denied { code: String, message: String },
    #[error(
        "region mismatch: requests are signed for region `{configured}`, but the bucket {}; \
         set AWS_REGION",
        match expected {
            Some(r) => format!("is in `{r}`"),
            None => "is elsewhere (for Garage, its s3_region, often `garage`)".to_owned(),
        }
    )]
    WrongRegion {
        configured: String,
        expected: Option<String>,
    },
    #[error("the bucket `{0}` does not exist")]
    NoBucket(String),
    #[error("the storage failed a {op} of `{key}`: {message}")]
    Backend {
        op: &'static str,
        key: String,
        message: String,
    },
}

impl StoreError {
    /// What a client may be told: no endpoint, path or bucket name, which stay in the logs.
    pub fn public_message(&self) -> String {
        match self {
            StoreError::Io { .. } | StoreError::Timeout { .. } | StoreError::Unreachable(_) => {
                "the storage is unavailable or did not answer in time; try again shortly".into()
            }
            StoreError::Denied { code, .. } => {
                format!("the storage refused thumbkit's credentials ({code})")
            }
            StoreError::WrongRegion { .. } => {
                "the storage refused thumbkit's requests (region mismatch)".into()
            }
            StoreError::NoBucket(_) => "the storage bucket does not exist".into(),
            StoreError::Backend { op, .. } => format!("the storage failed a {op}"),
            StoreError::Metadata { key, .. } => {
                format!("the stored metadata of `{key}` is unreadable")
            }
            StoreError::Reserved(_) | StoreError::Conflict { .. } => self.to_string(),
        }
    }

    /// The store could not be reached or did not answer in time (rather than answering with
    /// an error): worth retrying, and a 503 rather than a 502.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Io { .. } | StoreError::Timeout { .. } | StoreError::Unreachable(_)
        )
    }
}

/// What a store knows about an object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    /// Changes whenever the object's bytes are replaced.
    pub etag: String,
    /// User metadata written with the object (e.g. its content hash).
    pub metadata: BTreeMap<String, String>,
}

/// An object's bytes and facts.
#[derive(Debug, Clone)]
pub struct Object {
    pub bytes: Bytes,
    pub info: ObjectInfo,
}

/// A storage backend. Implementations only move bytes; timeouts and counting are
/// [`Storage`]'s.
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// The object, or `None` when it does not exist.
    async fn get(&self, key: &ObjectKey) -> Result<Option<Object>, StoreError>;
    /// The object's facts, or `None` when it does not exist.
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError>;
    /// Writes the object atomically, replacing any previous one.
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), StoreError>;
    /// Deletes the object (no error when there is none).
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError>;
    /// A URL to which a client can `PUT` the object's bytes directly (with `content_type`
    /// and exactly `size` bytes), valid for `ttl`; `None` when the store cannot presign.
    async fn presign_put(
        &self,
        _key: &ObjectKey,
        _content_type: &str,
        _size: u64,
        _ttl: Duration,
    ) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
    /// Every key that starts with `prefix` (all pages), in no particular order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError>;
    /// Succeeds when the store is reachable and usable (the bucket exists, the root is a
    /// directory).
    async fn check(&self) -> Result<(), StoreError>;
    /// Where the store is, for logs: `fs:./data`, `s3://bucket/prefix`.
    fn describe(&self) -> String;
    /// The key, in this store, of the object an S3 event names (bucket and full key), or
    /// `None` when the event is about another bucket or outside the prefix. Stores without
    /// buckets take the key as it is.
    fn key_for_event(&self, _bucket: &str, key: &str) -> Option<ObjectKey> {
        ObjectKey::parse(key).ok()
    }
}

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
                "THUMBKIT_STORAGE `{s}` is neither `fs:PATH` nor `s3://BUCKET[/PREFIX]`"
            )),
        }
    }
}

/// What a storage call was for, for the `kind` label of the storage metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Original,
    Variant,
    /// The shared record of an original's content hash.
    Record,
    /// Readiness checks.
    Check,
}

impl Kind {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Original => "original",
            Kind::Variant => "variant",
            Kind::Record => "record",
            Kind::Check => "check",
        }
    }
}

/// A store with a timeout on every call and a counter of every call.
#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn Store>,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Storage {
    /// Wraps `store`; each call fails with [`StoreError::Timeout`] after `timeout`.
    pub fn new(store: Arc<dyn Store>, timeout: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            timeout,
            metrics,
        }
    }

    /// The store underneath (for tests and tools that must not be counted).
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.store
    }

    async fn bounded<T>(
        &self,
        op: &'static str,
        kind: Kind,
        key: &ObjectKey,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.metrics.storage_request(op, kind.as_str());
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| StoreError::Timeout {
                op,
                key: key.to_string(),
                after: self.timeout,
            })?
    }

    /// See [`Store::get`].
    pub async fn get(&self, key: &ObjectKey, kind: Kind) -> Result<Option<Object>, StoreError> {
        self.bounded("get", kind, key, self.store.get(key)).await
    }

    /// See [`Store::head`].
    pub async fn head(
        &self,
        key: &ObjectKey,
        kind: Kind,
    ) -> Result<Option<ObjectInfo>, StoreError> {
        self.bounded("head", kind, key, self.store.head(key)).await
    }

    /// See [`Store::put`].
    pub async fn put(
        &self,
        key: &ObjectKey,
        kind: Kind,
        bytes: Bytes,
        content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let call = self.store.put(key, bytes, content_type, metadata);
        self.bounded("put", kind, key, call).await
    }

    /// See [`Store::delete`].
    pub async fn delete(&self, key: &ObjectKey, kind: Kind) -> Result<(), StoreError> {
        self.bounded("delete", kind, key, self.store.delete(key))
            .await
    }

    /// See [`Store::list`]. Counted as one call however many pages it reads.
    pub async fn list(&self, prefix: &str, kind: Kind) -> Result<Vec<ObjectKey>, StoreError> {
        self.metrics.storage_request("list", kind.as_str());
        tokio::time::timeout(self.timeout, self.store.list(prefix))
            .await
            .map_err(|_| StoreError::Timeout {
                op: "list",
                key: prefix.to_owned(),
                after: self.timeout,
            })?
    }

    /// See [`Store::presign_put`] (signing is local; counted as `presign`).
    pub async fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        size: u64,
        ttl: Duration,
    ) -> Result<Option<String>, StoreError> {
        let call = self.store.presign_put(key, content_type, size, ttl);
        self.bounded("presign", Kind::Original, key, call).await
    }

    /// See [`Store::check`].
    pub async fn check(&self) -> Result<(), StoreError> {
        self.metrics.storage_request("check", Kind::Check.as_str());
        tokio::time::timeout(self.timeout, self.store.check())
            .await
            .map_err(|_| StoreError::Timeout {
                op: "check",
                key: self.store.describe(),
                after: self.timeout,
            })?
    }

    /// See [`Store::describe`].
    pub fn describe(&self) -> String {
        self.store.describe()
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
