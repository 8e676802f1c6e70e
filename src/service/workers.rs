//! The render workers: a fixed set of threads that run every decode-like step (render, probe,
//! validation, BlurHash), behind one admission bound.
//!
//! Fixed threads are what bounds memory: each thread that allocates large buffers gets a
//! glibc arena that keeps what it freed for reuse ([`crate::process`]), so work spread over
//! tokio's blocking pool (up to 512 threads) grew one retained arena per thread it landed on.
//! Here the number of threads that ever hold pixels is the number of workers, and at most
//! `workers + queue` jobs (with their original's bytes) are admitted at a time.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::budget::{Budget, PER_WORKER};

/// Why a job did not run to its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkError {
    #[error("all render workers are busy and the queue is full; try again shortly")]
    Busy,
    #[error("rendering took longer than {0:?}")]
    Timeout(Duration),
    #[error("a render worker failed: {0}")]
    Crashed(String),
}

/// Who is asking: visitors are refused at once when the queue is full, uploads and
/// pre-generation wait their turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patience {
    Refuse,
    Wait,
}

type Job = Box<dyn FnOnce() + Send>;

/// Each render thread's stack.
const RENDER_STACK: usize = 32 << 20;

/// The worker threads and their admission bound.
#[derive(Debug)]
pub struct Workers {
    jobs: mpsc::Sender<Job>,
    /// One permit per thread: a job's timeout starts when it has a thread.
    threads: Arc<Semaphore>,
    /// Jobs admitted (running or waiting, with their inputs in memory).
    admission: Arc<Semaphore>,
    /// Decoded pixels held at once, by all jobs.
    memory: Arc<Budget>,
    timeout: Duration,
}

/// A place among the admitted jobs; held from before the input is read until the job ends.
#[derive(Debug)]
pub struct Admitted(#[allow(dead_code)] OwnedSemaphorePermit);

impl Workers {
    /// `count` threads named `thumbkit-render-N`, `queue` more jobs admitted to wait, each
    /// job bounded by `timeout`.
    pub fn start(count: usize, queue: usize, timeout: Duration) -> Self {
        let count = count.max(1);
        let (jobs, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..count {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("thumbkit-render-{n}"))
                // SVG and PDF are converted recursively (nesting is bounded, see `svg`):
                // room beyond the 2 MiB default, reserved, touched only when used.
                .stack_size(RENDER_STACK)
                .spawn(move || {
                    // At the process's own weight (nice 0 against other processes), behind
                    // the connection threads inside it: a memory hit waits for no render.
                    crate::process::set_urgency(crate::process::Urgency::Patient);
                    loop {
                        // The lock is held only to take the next job.
                        let next = match receiver.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match next {
                            Ok(job) => job(),
                            // Every sender is gone: the service was dropped.
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a render worker thread");
            }
        }
        Self {
            jobs,
            threads: Arc::new(Semaphore::new(count)),
            admission: Arc::new(Semaphore::new(count + queue)),
            memory: Arc::new(Budget::new(count as u64 * PER_WORKER)),
            timeout,
        }
    }

    /// A place for one job, taken before its input is read so that inputs in memory are
    /// bounded too.
    pub async fn admit(&self, patience: Patience) -> Result<Admitted, WorkError> {
        let permit = match patience {
            Patience::Refuse => self.admission.clone().try_acquire_owned().ok(),
            Patience::Wait => self.admission.clone().acquire_owned().await.ok(),
        };
        permit.map(Admitted).ok_or(WorkError::Busy)
    }

    /// Runs `f` on a worker thread once one is free and `cost` bytes of the decode budget
    /// are ([`crate::pipeline::decode_cost`]); the place is given back when `f` returns, even
    /// if the caller stopped waiting (a timed-out job still holds its thread).
    pub async fn run<R: Send + 'static>(
        &self,
        admitted: Admitted,
        cost: u64,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, WorkError> {
        self.submit(admitted, cost, f).await?.wait().await
    }

    /// Hands `f` to a worker thread once one is free and returns at once: the job runs
    /// whether or not anyone waits for it ([`Pending`]).
    pub async fn submit<R: Send + 'static>(
        &self,
        admitted: Admitted,
        cost: u64,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<Pending<R>, WorkError> {
        let thread = self
            .threads
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| WorkError::Busy)?;
        let (tx, rx) = oneshot::channel();
        let memory = self.memory.clone();
        // The job's spans (decode, resize, encode) belong to the request that asked for it.
        let span = tracing::Span::current();
        let job: Job = Box::new(move || {
            let _entered = span.enter();
            let held = (admitted, thread);
            let taken = memory.take(cost);
            let out = std::panic::catch_unwind(AssertUnwindSafe(f));
            drop(taken);
            // The place is free by the time the caller hears back.
            drop(held);
            let _ = tx.send(out);
        });
        self.jobs
            .send(job)
            .map_err(|_| WorkError::Crashed("the worker threads are gone".into()))?;
        Ok(Pending {
            rx,
            timeout: self.timeout,
            deadline: tokio::time::Instant::now() + self.timeout,
        })
    }
}

type Outcome<R> = Result<std::thread::Result<R>, oneshot::error::RecvError>;

/// A job on its thread: its result, when it comes within the render timeout.
#[derive(Debug)]
pub struct Pending<R> {
    rx: oneshot::Receiver<std::thread::Result<R>>,
    timeout: Duration,
    deadline: tokio::time::Instant,
}

impl<R> Pending<R> {
    /// The job's result, waiting at most until the render timeout.
    pub async fn wait(mut self) -> Result<R, WorkError> {
        match tokio::time::timeout_at(self.deadline, &mut self.rx).await {
            Err(_) => Err(WorkError::Timeout(self.timeout)),
            Ok(out) => outcome(out),
        }
    }

    /// The job's result if it comes within `budget` (and the render timeout), else the job
    /// back, still running.
    pub async fn within(mut self, budget: Duration) -> Result<Result<R, WorkError>, Self> {
        let by = self.deadline.min(tokio::time::Instant::now() + budget);
        match tokio::time::timeout_at(by, &mut self.rx).await {
            Err(_) if by < self.deadline => Err(self),
            Err(_) => Ok(Err(WorkError::Timeout(self.timeout))),
            Ok(out) => Ok(outcome(out)),
        }
    }
}

fn outcome<R>(out: Outcome<R>) -> Result<R, WorkError> {
    match out {
        Err(_) => Err(WorkError::Crashed("the job was dropped".into())),
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            Err(WorkError::Crashed(what))
        }
        Ok(Ok(out)) => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_fixed_threads_and_the_queue_is_bounded() {
        let workers = Arc::new(Workers::start(2, 1, Duration::from_secs(5)));
        let names = futures_like_join(workers.clone(), 6).await;
        assert!(
            names.iter().all(|n| n.starts_with("thumbkit-render-")),
            "{names:?}"
        );
        // Three admitted (2 threads + 1 queued): the fourth visitor is refused.
        let held: Vec<_> = [0, 1, 2]
            .iter()
            .map(|_| workers.admission.clone().try_acquire_owned().unwrap())
            .collect();
        assert_eq!(
            workers.admit(Patience::Refuse).await.unwrap_err(),
            WorkError::Busy
        );
        drop(held);
        assert!(workers.admit(Patience::Refuse).await.is_ok());
    }

    #[tokio::test]
    async fn a_panic_is_an_error_not_a_lost_thread() {
        let workers = Workers::start(1, 0, Duration::from_secs(5));
        let admitted = workers.admit(Patience::Wait).await.unwrap();
        let out = workers.run(admitted, 0, || -> u8 { panic!("boom") }).await;
        assert!(matches!(out, Err(WorkError::Crashed(m)) if m.contains("boom")));
        let admitted = workers.admit(Patience::Wait).await.unwrap();
        assert_eq!(workers.run(admitted, 0, || 7).await, Ok(7));
    }

    async fn futures_like_join(workers: Arc<Workers>, n: usize) -> Vec<String> {
        let mut handles = Vec::new();
        for _ in 0..n {
            let w = workers.clone();
            handles.push(tokio::spawn(async move {
                let admitted = w.admit(Patience::Wait).await.unwrap();
                w.run(admitted, 0, || {
                    std::thread::current().name().unwrap_or_default().to_owned()
                })
                .await
                .unwrap()
            }));
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    }
}
