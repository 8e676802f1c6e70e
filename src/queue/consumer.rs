//! The pollers: long-poll the queue, do each message's events, delete what is finished (in
//! one batch call), keep the rest hidden while they are worked on, and back off while the
//! queue cannot be reached.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::body;
use super::options::{MAX_WAIT, QueueOptions};
use super::sqs::{Queue, QueueError, Received};
use crate::service::Thumbnails;
use crate::service::events::{EventAction, Notification};

/// SQS's own default visibility timeout, assumed when the queue's cannot be read.
const DEFAULT_VISIBILITY: Duration = Duration::from_secs(30);
/// The longest wait between two tries while the queue cannot be reached.
const MAX_BACKOFF: Duration = Duration::from_secs(20);

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Disposition {
    /// Nothing to do (another bucket or prefix, S3's test event): deleted.
    Ignored,
    /// Its work is done: deleted.
    Done,
    /// Failed for good (not an S3 event, an original that cannot be rendered): deleted.
    Failed,
    /// Failed for now (the store or the workers): left for redelivery.
    Retry,
}

impl Disposition {
    fn name(self) -> &'static str {
        match self {
            Disposition::Ignored => "ignored",
            Disposition::Done => "done",
            Disposition::Failed => "failed",
            Disposition::Retry => "retried",
        }
    }
}

/// Counts of messages so far, by what became of them (for a progress bar).
#[derive(Debug, Default)]
pub struct Progress {
    pub received: AtomicU64,
    pub done: AtomicU64,
    pub failed: AtomicU64,
    pub ignored: AtomicU64,
    pub retried: AtomicU64,
    pub deleted: AtomicU64,
}

/// What draining the queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    pub received: u64,
    pub done: u64,
    pub failed: u64,
    pub ignored: u64,
    /// Left for redelivery after a transient failure.
    pub retried: u64,
    pub deleted: u64,
}

/// Pulls S3 events from a queue and has the service act on them.
pub struct Consumer {
    queue: Queue,
    service: Arc<Thumbnails>,
    visibility: Duration,
    wait: Duration,
    pollers: usize,
    progress: Arc<Progress>,
}

impl Consumer {
    /// Connects to the queue and reads its visibility timeout, warning (never refusing)
    /// when it is shorter than the render timeout or cannot be read.
    pub async fn start(service: Arc<Thumbnails>, options: &QueueOptions) -> Self {
        let queue = Queue::connect(options).await;
        let visibility = match queue.facts().await {
            Ok(facts) => facts.visibility_timeout.unwrap_or(DEFAULT_VISIBILITY),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the queue's visibility timeout; assuming SQS's default of 30 s");
                DEFAULT_VISIBILITY
            }
        };
        let render = service.settings().render_timeout;
        if visibility < render {
            tracing::warn!(
                "the queue's visibility timeout ({}s) is shorter than the render timeout ({}s): \
                 visibility is extended at half the timeout while a message is worked on, so one \
                 late or failed extension hands it to another instance; raise VisibilityTimeout \
                 to at least {}s",
                visibility.as_secs(),
                render.as_secs(),
                render.as_secs()
            );
        }
        Self {
            queue,
            service,
            visibility,
            wait: options.wait.min(MAX_WAIT),
            pollers: options.pollers.max(1),
            progress: Arc::new(Progress::default()),
        }
    }

    /// The queue it pulls from.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Counts so far.
    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// Polls with every poller until `stop`, finishing the batches in hand.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        tracing::info!(queue = %self.queue.url(), pollers = self.pollers, visibility_s = self.visibility.as_secs(), "pulling S3 events from SQS");
        let pollers = (0..self.pollers).map(|_| self.poll(stop.clone()));
        join_all(pollers).await;
    }

    /// Takes batches until `stop`, backing off while the queue cannot be reached.
    async fn poll(&self, stop: CancellationToken) {
        let mut failures = 0u32;
        let mut down_since = None;
        loop {
            let taken = tokio::select! {
                () = stop.cancelled() => return,
                taken = self.take(self.wait) => taken,
            };
            match taken {
                Ok(_) => {
                    if let Some(since) = down_since.take() {
                        let after = Instant::now().duration_since(since).as_secs();
                        tracing::info!(queue = %self.queue.url(), "the queue answers again after {after}s");
                    }
                    failures = 0;
                }
                Err(e) => {
                    if failures.is_multiple_of(10) {
                        tracing::warn!(error = %e, "cannot receive from the queue; trying again with backoff");
                    }
                    down_since.get_or_insert_with(Instant::now);
                    let pause = backoff(failures);
                    failures = failures.saturating_add(1);
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
            }
        }
    }

    /// Receives one batch (waiting up to `wait`), works on it and deletes what is finished.
    /// Answers how many messages came.
    async fn take(&self, wait: Duration) -> Result<usize, QueueError> {
        // A long poll that the network swallows must not hang the poller.
        let limit = wait + Duration::from_secs(15);
        let batch = match tokio::time::timeout(limit, self.queue.receive(wait)).await {
            Ok(received) => received?,
            Err(_) => {
                return Err(QueueError::Unreachable {
                    url: self.queue.url().to_owned(),
                    why: format!("no answer within {}s", limit.as_secs()),
                });
            }
        };
        let metrics = self.service.counters();
        let oldest = batch.iter().map(|m| m.age()).max().unwrap_or_default();
        metrics.queue_oldest_age(oldest.as_secs());
        if batch.is_empty() {
            return Ok(0);
        }
        let redelivered = batch.iter().filter(|m| m.receives > 1).count() as u64;
        metrics.queue_messages("received", batch.len() as u64);
        metrics.queue_messages("redelivered", redelivered);
        self.progress
            .received
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let dispositions = self.work(&batch).await;
        let finished: Vec<&Received> = batch
            .iter()
            .zip(&dispositions)
            .filter(|(_, d)| **d != Disposition::Retry)
            .map(|(m, _)| m)
            .collect();
        for d in &dispositions {
            metrics.queue_messages(d.name(), 1);
            let counter = match d {
                Disposition::Ignored => &self.progress.ignored,
                Disposition::Done => &self.progress.done,
                Disposition::Failed => &self.progress.failed,
                Disposition::Retry => &self.progress.retried,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        match self.queue.delete(&finished).await {
            Ok(deleted) => {
                metrics.queue_messages("deleted", deleted as u64);
                self.progress
                    .deleted
                    .fetch_add(deleted as u64, Ordering::Relaxed);
            }
            // Done again when it comes back: its variants are stored, so that is cheap.
            Err(e) => tracing::warn!(error = %e, "finished messages could not be deleted"),
        }
        Ok(batch.len())
    }

    /// Does every message of `batch` at once, keeping the unfinished ones hidden from other
    /// consumers (their visibility extended at half the timeout) until each is finished.
    async fn work(&self, batch: &[Received]) -> Vec<Disposition> {
        let unfinished = Mutex::new((0..batch.len()).collect::<Vec<usize>>());
        let each = batch.iter().enumerate().map(|(i, m)| {
            let unfinished = &unfinished;
            async move {
                let disposition = self.one(m).await;
                unfinished.lock().await.retain(|j| *j != i);
                disposition
            }
        });
        let heartbeat = async {
            let every = (self.visibility / 2).max(Duration::from_millis(250));
            loop {
                tokio::time::sleep(every).await;
                let pending: Vec<&Received> =
                    unfinished.lock().await.iter().map(|&i| &batch[i]).collect();
                if let Err(e) = self.queue.extend(&pending, self.visibility).await {
                    tracing::warn!(error = %e, "could not extend the visibility of messages in progress");
                }
            }
        };
        tokio::select! {
            done = join_all(each) => done,
            // The heartbeat never ends; were it to, the batch would be redelivered whole.
            () = heartbeat => vec![Disposition::Retry; batch.len()],
        }
    }

    /// Does one message's events through the webhook's code.
    async fn one(&self, message: &Received) -> Disposition {
        let started = Instant::now();
        let events = match body::read(&message.body) {
            Ok(Notification::Events(events)) => events,
            Ok(Notification::Test) => {
                tracing::info!(message_id = %message.id, "S3 test event received from the queue");
                return Disposition::Ignored;
            }
            Err(e) => {
                tracing::warn!(message_id = %message.id, error = %e, "an SQS message that is not an S3 event: deleted");
                return Disposition::Failed;
            }
        };
        let mut disposition = Disposition::Ignored;
        for event in &events {
            let outcome = self.service.handle_event(event).await;
            let this = match (outcome.transient, outcome.action) {
                (true, _) => Disposition::Retry,
                (false, EventAction::Failed) => Disposition::Failed,
                (false, EventAction::Ignored) => Disposition::Ignored,
                (false, _) => Disposition::Done,
            };
            tracing::info!(message_id = %message.id, event = %event.name, key = %outcome.key, action = this.name(), detail = outcome.detail.as_deref().unwrap_or(""), took_ms = started.elapsed().as_millis() as u64, receives = message.receives, "queue event");
            disposition = disposition.max(this);
        }
        disposition
    }

    /// Takes batches with every poller until the queue answers empty, then stops: for a cron
    /// job or a backfill. Messages left for redelivery are not waited for.
    pub async fn drain(&self) -> Result<Drained, QueueError> {
        let wait = Duration::from_secs(2).min(self.wait);
        let pollers = (0..self.pollers).map(|_| async move {
            loop {
                if self.take(wait).await? == 0 {
                    return Ok::<(), QueueError>(());
                }
            }
        });
        for result in join_all(pollers).await {
            result?;
        }
        Ok(self.drained())
    }

    /// The counts so far.
    pub fn drained(&self) -> Drained {
        let p = &self.progress;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Drained {
            received: n(&p.received),
            done: n(&p.done),
            failed: n(&p.failed),
            ignored: n(&p.ignored),
            retried: n(&p.retried),
            deleted: n(&p.deleted),
        }
    }
}

/// How long to wait after `failures` failed receives in a row: 1 s doubling to 20 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(5)).min(MAX_BACKOFF)
}
