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

mod atomic;
pub mod fs;
pub mod s3;
pub mod sources;
mod spec;
pub mod store;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::keys::ObjectKey;
use crate::metrics::Metrics;

pub use fs::FsStore;
pub use s3::{S3Location, S3Options, S3Store};
pub use sources::{SourceSpec, Sources};
pub use spec::StorageSpec;
pub use store::{Object, ObjectInfo, Store, StoreError};

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

/// The waits between the attempts of [`Storage::put_behind`]: about 4 s in all, so that a
/// store that blips loses no write, and shutdown (which waits for these) is not held long.
pub const BEHIND_BACKOFF: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(3),
];

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
        let span = tracing::info_span!("storage", op, kind = kind.as_str());
        tokio::time::timeout(self.timeout, tracing::Instrument::instrument(call, span))
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
    ) -> Result<String, StoreError> {
        let call = self.store.put(key, bytes, content_type, metadata);
        self.bounded("put", kind, key, call).await
    }

    /// [`Self::put`] for a write no request waits for (a variant or record written behind a
    /// response): a failure the store may recover from (unreachable, timed out, overloaded)
    /// is tried again after each of [`BEHIND_BACKOFF`], and counted. Fails only when every
    /// attempt did, or with a failure that another attempt cannot fix.
    pub async fn put_behind(
        &self,
        key: &ObjectKey,
        kind: Kind,
        bytes: Bytes,
        content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let mut waits = BEHIND_BACKOFF.iter();
        loop {
            match self
                .put(key, kind, bytes.clone(), content_type, metadata)
                .await
            {
                Err(e) if e.is_unavailable() => match waits.next() {
                    Some(wait) => {
                        self.metrics.store_write_retried();
                        tracing::debug!(key = %key, error = %e, "retrying a write in {wait:?}");
                        tokio::time::sleep(*wait).await;
                    }
                    None => return Err(e),
                },
                done => return done.map(|_| ()),
            }
        }
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
