//! What is known of an original: its content hash (which names its variants) and its header
//! facts (format, dimensions, alpha; which pick the output format and enforce the limits).
//!
//! Learning the hash costs a download, so it is learnt once per version of the object and
//! remembered in three places, cheapest first:
//! 1. memory: key → facts, trusted for the revalidation interval, then checked with one HEAD
//!    (facts for a (key, ETag) pair never change, so a matching ETag reuses them);
//! 2. the object's own metadata, for originals uploaded through thumbkit;
//! 3. a small shared record in the store keyed by the original's key and ETag, written the
//!    first time any instance reads the original, so other instances and restarts skip the
//!    download.
//!
//! Only when all three miss is the original read and hashed; its bytes are then kept for a
//! moment so the render that follows does not read it again, nor ask the store for variants
//! of a version nobody had read.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use moka::future::Cache;
use tokio_util::task::TaskTracker;

use crate::keys::{ContentHash, Layout, ObjectKey};
use crate::metrics::Metrics;
use crate::pipeline::{self, Limits, PipelineError};
use crate::service::error::ServiceError;
pub use crate::service::outage::OUTAGE_RECHECK;
use crate::service::outage::Outage;
use crate::service::records::{self, Failure, Record, UNREADABLE};
pub use crate::service::records::{Fetched, Original, Resolved};
use crate::service::workers::{Patience, Workers};
use crate::storage::{Kind, Storage, StoreError};
use crate::video;

/// How long bytes read to learn a hash are kept for the render that usually follows.
const DOWNLOAD_KEEP: Duration = Duration::from_secs(30);

/// How long a request that has a stale answer to fall back on waits for the store.
const STALE_PROBE_WAIT: Duration = Duration::from_millis(500);

/// Bytes of originals kept for the render that follows: part of the memory bound, so small.
const DOWNLOAD_KEEP_BYTES: u64 = 64 << 20;

/// Resolves originals to their facts; see the module doc for the order.
pub struct Originals {
    storage: Storage,
    limits: Limits,
    layout: Layout,
    metrics: Arc<Metrics>,
    /// key → facts, each trusted for the revalidation interval.
    fresh: Cache<ObjectKey, Original>,
    /// Whether the store is taken to be unreachable (see [`Self::resolve_or_stale`]).
    outage: Outage,
    /// key → facts last confirmed by the store, for at most the stale-if-error bound: what
    /// memory hits are served by while the store cannot be reached.
    confirmed: Cache<ObjectKey, Original>,
    /// (key, ETag) → facts: true forever, so only bounded by count.
    known: Cache<(ObjectKey, String), Original>,
    /// (key, ETag) → bytes read to learn the hash, for the render that follows.
    downloaded: Cache<(ObjectKey, String), (Bytes, ContentHash)>,
    /// (key, ETag) whose metadata or record named a hash its bytes lack: learnt from them.
    untrusted: Cache<(ObjectKey, String), ()>,
    workers: Arc<Workers>,
    /// Records being written behind requests ([`Self::share_behind`]).
    writes: TaskTracker,
}

impl Originals {
    /// Resolution over `storage`, re-checking each original at most once per `revalidate`.
    pub fn new(
        storage: Storage,
        limits: Limits,
        layout: Layout,
        revalidate: Duration,
        stale_if_error: Duration,
        metrics: Arc<Metrics>,
        workers: Arc<Workers>,
    ) -> Self {
        Self {
            outage: Outage::default(),
            confirmed: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(stale_if_error.max(Duration::from_millis(1)))
                .build(),
            workers,
            writes: TaskTracker::new(),
            untrusted: Cache::builder().max_capacity(10_000).build(),
            storage,
            limits,
            layout,
            metrics,
            fresh: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(revalidate.max(Duration::from_millis(1)))
                .build(),
            known: Cache::builder().max_capacity(100_000).build(),
            downloaded: Cache::builder()
                .max_capacity(DOWNLOAD_KEEP_BYTES)
                .weigher(|_, b: &(Bytes, ContentHash)| u32::try_from(b.0.len()).unwrap_or(u32::MAX))
                .time_to_live(DOWNLOAD_KEEP)
                .build(),
        }
    }

    /// The facts of the original at `key`. Concurrent calls for one key share one lookup.
    /// An original known not to render answers [`ServiceError::Remembered`] from memory.
    pub async fn resolve(&self, key: &ObjectKey) -> Result<Original, ServiceError> {
        self.fresh
            .try_get_with(key.clone(), async {
                let original = self.lookup(key).await?;
                self.confirmed.insert(key.clone(), original.clone()).await;
                Ok::<_, ServiceError>(original)
            })
            .await
            .map_err(ServiceError::unshare)
            .and_then(Original::renderable)
    }

    /// The facts of `key`, or, when the store cannot be reached, what it last confirmed
    /// (within the stale-if-error bound) with the error that made it stale. During an
    /// [`Outage`] stale answers come at once instead of each waiting for a storage timeout.
    pub async fn resolve_or_stale(&self, key: &ObjectKey) -> Result<Resolved, ServiceError> {
        if let Some(original) = self.fresh.get(key).await {
            return Ok(Resolved::Confirmed(original.renderable()?));
        }
        let down = self.outage.current();
        let last_confirmed = match &down {
            Some(_) => self.confirmed.get(key).await,
            None => None,
        };
        if let (Some(down), Some(original)) = (&down, &last_confirmed)
            && !down.recheck_due()
        {
            return Resolved::stale(original.clone(), down.because.clone());
        }
        // Boxed: asking the store is kilobytes of state that a memory hit never needs.
        match Box::pin(self.ask_store(key, last_confirmed.is_some())).await {
            Ok(original) => {
                if down.is_some() {
                    self.outage.ended();
                }
                Ok(Resolved::Confirmed(original))
            }
            Err(e) if e.is_unavailable() => {
                self.outage.began(e.clone());
                // A request that came in before the outage was known has not looked yet.
                let last_confirmed = match last_confirmed {
                    Some(original) => Some(original),
                    None => self.confirmed.get(key).await,
                };
                match last_confirmed {
                    Some(original) => Resolved::stale(original, e),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// [`Self::resolve`], waiting only [`STALE_PROBE_WAIT`] when a stale answer is at hand
    /// (`briefly`): the SDK retries a refused connection with backoff, no need to wait for it.
    async fn ask_store(&self, key: &ObjectKey, briefly: bool) -> Result<Original, ServiceError> {
        if !briefly {
            return self.resolve(key).await;
        }
        tokio::time::timeout(STALE_PROBE_WAIT, self.resolve(key))
            .await
            .unwrap_or_else(|_| {
                Err(ServiceError::Store(Arc::new(StoreError::Timeout {
                    op: "HEAD",
                    key: key.to_string(),
                    after: STALE_PROBE_WAIT,
                })))
            })
    }

    /// Stops believing the hash `original` names for `key` at its ETag (its bytes hash to
    /// something else): the next resolution reads and hashes the bytes.
    pub async fn distrust(&self, key: &ObjectKey, original: &Original) {
        let id = (key.clone(), original.record.etag.clone());
        self.untrusted.insert(id.clone(), ()).await;
        self.known.invalidate(&id).await;
        self.downloaded.invalidate(&id).await;
        self.fresh.invalidate(key).await;
    }

    /// Remembers that `original` cannot be rendered, when `error` says so of its bytes, in
    /// memory and in its shared record: until it is replaced, requests are answered without
    /// reading it.
    pub async fn failed(&self, original: &Original, error: &PipelineError) {
        if !error.is_property_of_input() || original.record.etag.is_empty() {
            return;
        }
        let mut record = (*original.record).clone();
        record.failure = Some(Failure {
            pipeline: pipeline::PIPELINE_VERSION,
            readers: pipeline::READERS_VERSION,
            error: error.clone(),
        });
        tracing::info!(key = %record.key, error = %error, "remembering that an original cannot be rendered");
        records::settle(&self.writes).await;
        let _ = self.share(&record).await;
    }

    /// Forgets what is known of `key` (it was replaced or deleted).
    pub async fn forget(&self, key: &ObjectKey) {
        self.confirmed.invalidate(key).await;
        self.fresh.invalidate(key).await;
    }

    /// Whether this instance read `original` moments ago as no instance had recorded it: no
    /// variant can be stored yet (but under another key of the same content: rendered again).
    pub async fn first_read(&self, key: &ObjectKey, original: &Original) -> bool {
        let id = (key.clone(), original.record.etag.clone());
        self.downloaded
            .get(&id)
            .await
            .is_some_and(|(_, hash)| hash == original.hash)
    }

    /// Keeps the bytes of an upload this instance just wrote, as [`Self::first_read`] reads.
    pub async fn arrived(&self, key: &ObjectKey, etag: String, kept: (Bytes, ContentHash)) {
        if !etag.is_empty() {
            self.downloaded.insert((key.clone(), etag), kept).await;
        }
    }

    /// The original's bytes for a render, saying whether they were just hashed to
    /// `original`'s hash (those read to learn it: the render need not hash them again), or
    /// that the original was replaced meanwhile.
    pub async fn fetch(
        &self,
        key: &ObjectKey,
        original: &Original,
    ) -> Result<Fetched, ServiceError> {
        let id = (key.clone(), original.record.etag.clone());
        if let Some((bytes, hash)) = self.downloaded.remove(&id).await {
            return Ok(if hash == original.hash {
                Fetched::Hashed(bytes)
            } else {
                Fetched::Unchecked(bytes)
            });
        }
        let object = self
            .storage
            .get(key, Kind::Original)
            .await?
            .ok_or_else(|| ServiceError::NotFound(key.to_string()))?;
        if object.info.etag != original.record.etag {
            self.forget(key).await;
            return Ok(Fetched::Replaced);
        }
        Ok(Fetched::Unchecked(object.bytes))
    }

    async fn lookup(&self, key: &ObjectKey) -> Result<Original, ServiceError> {
        let info = self
            .storage
            .head(key, Kind::Original)
            .await?
            .ok_or_else(|| ServiceError::missing(key, &self.layout))?;
        if info.size > self.limits.max_input_bytes as u64 {
            return Err(PipelineError::InputTooLarge {
                bytes: usize::try_from(info.size).unwrap_or(usize::MAX),
                limit: self.limits.max_input_bytes,
            }
            .into());
        }
        let id = (key.clone(), info.etag.clone());
        if self.untrusted.contains_key(&id) {
            return self.learn(key).await;
        }
        if let Some(known) = self.known.get(&id).await {
            return Ok(known);
        }
        if let Some(record) = Record::from_metadata(key, &info) {
            return Ok(self.remember(id, record).await);
        }
        let record_key = self.layout.record(key, &info.etag);
        if let Some(object) = self.storage.get(&record_key, Kind::Record).await?
            && let Ok(mut record) = serde_json::from_slice::<Record>(&object.bytes)
            && record.key == key.as_str()
            && record.etag == info.etag
            && ContentHash::parse(&record.hash).is_ok()
            // A failure of an older pipeline (or under other limits) is tried again.
            && record.failure.as_ref().is_none_or(|f| f.holds(&self.limits))
        {
            // Records written before the probe carried the orientation kept it beside it.
            record.probe.orientation = record.orientation;
            return Ok(self.remember(id, record).await);
        }
        self.learn(key).await
    }

    /// Reads the original, hashes and probes it, and shares what it learnt.
    async fn learn(&self, key: &ObjectKey) -> Result<Original, ServiceError> {
        // The download and the probe count among the admitted jobs: a burst of cold
        // originals waits here instead of holding every original in memory at once.
        let admitted = self.workers.admit(Patience::Wait).await?;
        let object = self
            .storage
            .get(key, Kind::Original)
            .await?
            .ok_or_else(|| ServiceError::NotFound(key.to_string()))?;
        let bytes = object.bytes.clone();
        let limits = self.limits;
        // Hashing 50 MiB takes tens of milliseconds: not on the async threads.
        let (hash, facts) = self
            .workers
            .run(admitted, 0, move || {
                // A video's facts are its poster frame's, kept for the render that follows.
                let facts = video::probe(&bytes, &limits)
                    .map(|(p, view)| (p, p.orientation, video::frame(view).map(Bytes::from)));
                (ContentHash::of(&bytes), facts)
            })
            .await?;
        // An original whose header cannot be read is remembered as such, like one that
        // fails to render, so that the next request does not read it again.
        let (probe, orientation, failure, view) = match facts {
            Ok((probe, orientation, view)) => (probe, orientation, None, view),
            Err(e) if e.is_property_of_input() => {
                tracing::info!(key = %key, error = %e, "remembering that an original cannot be rendered");
                let failure = Failure {
                    pipeline: pipeline::PIPELINE_VERSION,
                    readers: pipeline::READERS_VERSION,
                    error: e,
                };
                (UNREADABLE, 1, Some(failure), None)
            }
            Err(e) => return Err(e.into()),
        };
        // The GET's ETag, not the HEAD's: the object may have been replaced in between.
        let etag = object.info.etag.clone();
        let record = Record {
            key: key.to_string(),
            etag: etag.clone(),
            hash: hash.to_string(),
            size: object.bytes.len() as u64,
            probe,
            orientation,
            placeholder: None,
            modified: object.info.modified,
            failure,
            saliency: None,
        };
        self.share_behind(&record).await?;
        let id = (key.clone(), etag);
        if let Some(failure) = &record.failure {
            // Found out now: the next request is answered from what was remembered.
            let error = failure.error.clone();
            self.remember(id, record).await;
            return Err(error.into());
        }
        let hashed = (view.unwrap_or(object.bytes), hash);
        self.downloaded.insert(id.clone(), hashed).await;
        Ok(self.remember(id, record).await)
    }

    /// Writes `record` where other instances look: under the original's key and ETag (the
    /// shared record) and under its key alone (the index that lets a purge find the variants
    /// of an original that is already gone). Failures are logged: records only save work.
    pub async fn share(&self, record: &Record) -> Result<(), ServiceError> {
        if let Some(puts) = self.prepare_share(record).await? {
            puts.await;
        }
        Ok(())
    }

    /// [`Self::share`] with the writes behind the caller, who need not wait for what only
    /// saves other instances work. [`Self::drain`] waits for them.
    pub async fn share_behind(&self, record: &Record) -> Result<(), ServiceError> {
        if let Some(puts) = self.prepare_share(record).await? {
            self.writes.spawn(puts);
        }
        Ok(())
    }

    /// Records written behind requests that are still in flight.
    pub fn pending_writes(&self) -> usize {
        self.writes.len()
    }

    /// Waits until every record written behind a request has been written.
    pub async fn drain(&self) {
        self.writes.close();
        self.writes.wait().await;
        self.writes.reopen();
    }

    /// Updates this instance's own view with `record` and returns the writes that share it.
    async fn prepare_share(
        &self,
        record: &Record,
    ) -> Result<Option<impl Future<Output = ()> + Send + 'static>, ServiceError> {
        let key = ObjectKey::parse(&record.key)?;
        if !record.etag.is_empty() {
            // This instance's own view gets the new facts too (e.g. a computed BlurHash).
            let id = (key.clone(), record.etag.clone());
            self.known.insert(id, Original::new(record.clone())).await;
            self.fresh.invalidate(&key).await;
        }
        Ok(records::writes(
            record,
            key,
            &self.layout,
            &self.storage,
            &self.metrics,
        ))
    }

    /// Keeps the saliency map a render found for `original` in its shared record, so later
    /// presets and other instances reuse it. Only saves work: failures are logged.
    pub async fn found_saliency(&self, original: &Original, map: pipeline::Saliency) {
        if original.record.saliency.is_some() || original.record.etag.is_empty() {
            return;
        }
        let mut record = (*original.record).clone();
        record.saliency = Some(map);
        if let Err(e) = self.share_behind(&record).await {
            tracing::warn!(key = %record.key, error = %e, "cannot keep an original's saliency");
        }
    }

    async fn remember(&self, id: (ObjectKey, String), record: Record) -> Original {
        let original = Original::new(record);
        self.known.insert(id, original.clone()).await;
        original
    }
}
