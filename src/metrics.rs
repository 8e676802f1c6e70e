//! Prometheus metrics (`GET /metrics`): requests by preset, status and cache tier, renders and
//! their duration, every storage call (so the S3 cost per request is visible) and the memory
//! tier's size. Label values come from closed sets (known presets, status codes, tiers,
//! operations), never from URLs, so a client cannot grow the series without bound.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    preset: String,
    status: u16,
    cache: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PresetLabels {
    preset: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BudgetLabels {
    preset: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StorageLabels {
    op: &'static str,
    kind: &'static str,
}

/// The service's metrics and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    renders: Family<PresetLabels, Counter>,
    render_seconds: Family<PresetLabels, Histogram, fn() -> Histogram>,
    budgets: Family<BudgetLabels, Counter>,
    storage_requests: Family<StorageLabels, Counter>,
    peer_requests: Family<OutcomeLabels, Counter>,
    store_write_failures: Counter,
    store_write_retries: Counter,
    avif_fallbacks: Counter,
    stale_served: Counter,
    memory_cache_bytes: Gauge,
    memory_cache_entries: Gauge,
    pending_writes: Gauge,
    queue_messages: Family<OutcomeLabels, Counter>,
    queue_oldest_age: Gauge,
    purges: Family<OutcomeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics, registered under the `thumbkit_` names.
    #[rustfmt::skip] // a table: one metric, its name and its help per entry
    pub fn new() -> Self {
        let mut r = Registry::default();
        // 1 ms .. 33 s: a thumbnail takes ~10-50 ms; a huge original seconds.
        let histogram: fn() -> Histogram = || Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let metrics = Self {
            requests: registered(&mut r, "thumbkit_requests",
                "Thumbnail requests by preset, HTTP status and cache tier", Family::default()),
            renders: registered(&mut r, "thumbkit_renders",
                "Variants rendered (cache misses that ran the pipeline)", Family::default()),
            render_seconds: registered(&mut r, "thumbkit_render_seconds",
                "Time to render one variant on a worker", Family::new_with_constructor(histogram)),
            budgets: registered(&mut r, "thumbkit_budget_renders",
                "Renders of presets with max_bytes by outcome: fits (at the preset's quality), \
                 lowered (a lower quality fits) or over (not even the floor fits)",
                Family::default()),
            storage_requests: registered(&mut r, "thumbkit_storage_requests",
                "Calls to the store (S3 or fs) by operation and what they were for",
                Family::default()),
            peer_requests: registered(&mut r, "thumbkit_peer_requests",
                "Variants asked of their owning peer, by outcome (ok, unreachable, timeout, \
                 error, over_budget); every outcome but ok was answered by a render here",
                Family::default()),
            store_write_failures: registered(&mut r, "thumbkit_store_write_failures",
                "Rendered variants or records that could not be written to the store",
                Counter::default()),
            store_write_retries: registered(&mut r, "thumbkit_store_write_retries",
                "Writes behind a response tried again because the store was unreachable or \
                 overloaded", Counter::default()),
            avif_fallbacks: registered(&mut r, "thumbkit_avif_fallbacks",
                "Requests answered in the next format because an AVIF render outlasted its \
                 budget", Counter::default()),
            stale_served: registered(&mut r, "thumbkit_stale_served",
                "Memory hits served while the store could not confirm the original \
                 (stale-if-error)", Counter::default()),
            memory_cache_bytes: registered(&mut r, "thumbkit_memory_cache_bytes",
                "Bytes of variants held in the memory tier", Gauge::default()),
            memory_cache_entries: registered(&mut r, "thumbkit_memory_cache_entries",
                "Variants held in the memory tier", Gauge::default()),
            pending_writes: registered(&mut r, "thumbkit_pending_writes",
                "Rendered variants still being written to the store", Gauge::default()),
            queue_messages: registered(&mut r, "thumbkit_queue_messages",
                "SQS messages by what happened: received, redelivered (received before), done, \
                 failed (for good), ignored (another bucket or prefix), retried (left for \
                 redelivery after a transient failure) and deleted", Family::default()),
            queue_oldest_age: registered(&mut r, "thumbkit_queue_oldest_message_age_seconds",
                "Age (from SentTimestamp) of the oldest message in the last batch received",
                Gauge::default()),
            purges: registered(&mut r, "thumbkit_purges",
                "CDN purges sent to THUMBKIT_PURGE_WEBHOOK by outcome: sent, retried (a try \
                 that failed and was tried again), failed (given up)", Family::default()),
            registry: Registry::default(),
        };
        Self { registry: r, ..metrics }
    }

    /// Counts one thumbnail request (`preset` empty when it named no known preset).
    pub fn request(&self, preset: &str, status: u16, cache: &'static str) {
        self.requests
            .get_or_create(&RequestLabels {
                preset: preset.to_owned(),
                status,
                cache,
            })
            .inc();
    }

    /// Counts one render of `preset` that took `seconds`.
    pub fn render(&self, preset: &str, seconds: f64) {
        let labels = PresetLabels {
            preset: preset.to_owned(),
        };
        self.renders.get_or_create(&labels).inc();
        self.render_seconds.get_or_create(&labels).observe(seconds);
    }

    /// Counts one render of a preset with a byte budget, by what the budget did.
    pub fn budget(&self, preset: &str, outcome: &'static str) {
        let labels = BudgetLabels {
            preset: preset.to_owned(),
            outcome,
        };
        self.budgets.get_or_create(&labels).inc();
    }

    /// Counts one storage call.
    pub fn storage_request(&self, op: &'static str, kind: &'static str) {
        self.storage_requests
            .get_or_create(&StorageLabels { op, kind })
            .inc();
    }

    /// Counts one request to a peer, by how it ended.
    pub fn peer_request(&self, outcome: &'static str) {
        self.peer_requests
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts a memory hit served stale because the store could not be reached.
    pub fn stale_served(&self) {
        self.stale_served.inc();
    }

    /// Counts a variant or record that could not be written (after its retries).
    pub fn store_write_failed(&self) {
        self.store_write_failures.inc();
    }

    /// Counts a write behind a response tried again.
    pub fn store_write_retried(&self) {
        self.store_write_retries.inc();
    }

    /// Counts a request answered in the next format because its AVIF was over budget.
    pub fn avif_fallback(&self) {
        self.avif_fallbacks.inc();
    }

    /// Counts `n` SQS messages by what happened to them.
    pub fn queue_messages(&self, outcome: &'static str, n: u64) {
        self.queue_messages
            .get_or_create(&OutcomeLabels { outcome })
            .inc_by(n);
    }

    /// Sets the age of the oldest message in the last batch received from SQS.
    pub fn queue_oldest_age(&self, seconds: u64) {
        self.queue_oldest_age
            .set(i64::try_from(seconds).unwrap_or(i64::MAX));
    }

    /// Counts one purge sent, tried again or given up.
    pub fn purge(&self, outcome: &'static str) {
        self.purges.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Sets the gauges that are read rather than counted.
    pub fn set_gauges(&self, memory_bytes: u64, memory_entries: u64, pending_writes: usize) {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.memory_cache_bytes.set(clamp(memory_bytes));
        self.memory_cache_entries.set(clamp(memory_entries));
        self.pending_writes.set(clamp(pending_writes as u64));
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// `metric`, registered in `registry` under `name` with `help`.
fn registered<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}
