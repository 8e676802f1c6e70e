//! `thumbkit events`: the SQS consumer without HTTP, for workers that only pull; `--once`
//! drains the queue with a progress bar and exits (a cron job, a backfill after an outage).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use thumbkit::config::ServeArgs;
use thumbkit::preset::Presets;
use thumbkit::queue::{Consumer, Drained};
use thumbkit::service::Thumbnails;
use tracing_subscriber::filter::LevelFilter;

use super::error::CliError;
use super::progress::Progress;
use super::serve::shutdown_signal;

/// The flags of `thumbkit events`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct EventsArgs {
    /// Drain the queue and exit (0 when every message was done or ignored, 1 otherwise).
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Pulls the queue until stopped, or drains it once.
pub(crate) fn run(args: EventsArgs) -> Result<(), CliError> {
    let mut config = args.serve.config()?;
    let Some(options) = config.queue.take() else {
        return Err(CliError::usage(
            "THUMBKIT_SQS_QUEUE_URL is not set: name the SQS queue that receives the bucket's \
             S3 event notifications",
        ));
    };
    // A progress bar and a line per message do not mix: --once logs warnings unless told.
    let log = match (args.once, config.log) {
        (true, LevelFilter::INFO) => LevelFilter::WARN,
        (_, level) => level,
    };
    let _tracing = thumbkit::telemetry::init(log)?;
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    runtime.block_on(async move {
        let presets =
            Presets::load(&config.preset_files).map_err(thumbkit::config::ConfigError::from)?;
        let store = thumbkit::startup::open_store(&config.store).await?;
        let pregenerate = config.service.pregenerate.clone();
        let service = Arc::new(Thumbnails::new(store, presets, config.service));
        service.select_presets(&pregenerate)?;
        let consumer = Arc::new(Consumer::start(service.clone(), &options).await);
        let outcome = if args.once {
            drain(&consumer).await
        } else {
            let stop = tokio_util::sync::CancellationToken::new();
            let polling = tokio::spawn(consumer.clone().run(stop.clone()));
            shutdown_signal().await;
            stop.cancel();
            let _ = polling.await;
            Ok(())
        };
        service.drain().await;
        outcome
    })
}

/// Drains the queue, showing how many of the messages waiting at the start are done.
async fn drain(consumer: &Arc<Consumer>) -> Result<(), CliError> {
    let waiting = match consumer.queue().facts().await {
        Ok(facts) => facts.waiting.unwrap_or(0),
        Err(e) => return Err(CliError::Incomplete(e.to_string())),
    };
    let started = Instant::now();
    let shown = Arc::new(Progress::new("events", "messages"));
    let progress = consumer.progress().clone();
    let ticker = {
        let shown = shown.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let received = progress.received.load(Ordering::Relaxed);
                let finished = received - progress.retried.load(Ordering::Relaxed).min(received);
                shown.update(finished as usize, waiting.max(received) as usize);
            }
        })
    };
    let drained = consumer.drain().await;
    ticker.abort();
    shown.finish();
    let drained = drained.map_err(|e| CliError::Incomplete(e.to_string()))?;
    println!("{}", summary(&drained, started.elapsed()));
    if drained.failed + drained.retried > 0 {
        return Err(CliError::Incomplete(format!(
            "{} messages failed for good (deleted), {} were left for redelivery",
            drained.failed, drained.retried
        )));
    }
    Ok(())
}

/// One line: what was done, how fast.
fn summary(d: &Drained, took: Duration) -> String {
    let seconds = took.as_secs_f64().max(1e-3);
    format!(
        "events: {} messages in {seconds:.1} s ({:.1}/s): {} done, {} ignored, {} failed, {} left for redelivery; {} deleted",
        d.received,
        d.received as f64 / seconds,
        d.done,
        d.ignored,
        d.failed,
        d.retried,
        d.deleted
    )
}
