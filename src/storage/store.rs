//! The [`Store`] trait every backend implements, and what it speaks in: [`ObjectInfo`],
//! [`Object`] and [`StoreError`].

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

use crate::keys::ObjectKey;

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
    /// The store kept answering that it is overloaded or failing (S3's `SlowDown`, 500,
    /// 503), through every retry the SDK's standard retry mode makes.
    #[error("the storage kept failing a {op} of `{key}`, retries included: {message}")]
    Overloaded {
        op: &'static str,
        key: String,
        message: String,
    },
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
            StoreError::Io { .. }
            | StoreError::Timeout { .. }
            | StoreError::Unreachable(_)
            | StoreError::Overloaded { .. } => {
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
            StoreError::Io { .. }
                | StoreError::Timeout { .. }
                | StoreError::Unreachable(_)
                | StoreError::Overloaded { .. }
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
    /// When the object was last written, in Unix seconds, if the store says.
    pub modified: Option<u64>,
}

/// An object's bytes and facts.
#[derive(Debug, Clone)]
pub struct Object {
    pub bytes: Bytes,
    pub info: ObjectInfo,
}

/// A storage backend. Implementations only move bytes; timeouts and counting are
/// [`Storage`](super::Storage)'s.
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// The object, or `None` when it does not exist.
    async fn get(&self, key: &ObjectKey) -> Result<Option<Object>, StoreError>;
    /// The object's facts, or `None` when it does not exist.
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError>;
    /// Writes the object atomically, replacing any previous one; returns its ETag (as
    /// [`ObjectInfo::etag`] will give it).
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<String, StoreError>;
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
    /// The server's clock (from its `Date` header), for stores that sign requests with a
    /// time; `None` when it has no clock of its own or did not say.
    async fn server_time(&self) -> Option<std::time::SystemTime> {
        None
    }
    /// The key, in this store, of the object an S3 event names (bucket and full key), or
    /// `None` when the event is about another bucket or outside the prefix. Stores without
    /// buckets take the key as it is.
    fn key_for_event(&self, _bucket: &str, key: &str) -> Option<ObjectKey> {
        ObjectKey::parse(key).ok()
    }
}
