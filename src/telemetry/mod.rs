//! Logging and tracing for `thumbkit serve`: thumbkit's own lines (one per request at
//! `info`) at the chosen level, other crates' only when they are errors (the AWS SDK warns
//! at length while probing for a region), and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set,
//! thumbkit's spans exported over OTLP ([`otlp`]). Spans never reach the log lines, so the
//! log format is the same with tracing on or off.

pub mod otlp;

use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use otlp::{Tracing, TracingError, inject_traceparent, parent_from};

/// Installs the global subscriber (a second call, in tests, leaves the first in place) and
/// the OTLP exporter when the environment asks for one; keep the returned [`Tracing`]
/// until exit, so the last spans are sent.
pub fn init(level: LevelFilter) -> Result<Tracing, TracingError> {
    let tracing = otlp::from_env()?;
    let _ = subscriber(level, &tracing).try_init();
    Ok(tracing)
}

/// The log lines at `level`, and thumbkit's spans when `tracing` exports them.
fn subscriber(level: LevelFilter, tracing: &Tracing) -> impl tracing::Subscriber + Send + Sync {
    let ours = Targets::new()
        .with_target("thumbkit", level)
        .with_default(LevelFilter::ERROR);
    let format = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_filter(ours.and(filter_fn(|meta| meta.is_event())));
    // Without an exporter, a layer that is off rather than `None`: an absent layer counts as
    // interested in everything, so every request's span would be built and dropped unread.
    let spans = match tracing.layer() {
        Some(layer) => layer
            .with_filter(
                Targets::new()
                    .with_target("thumbkit", LevelFilter::INFO)
                    .and(filter_fn(|meta| meta.is_span())),
            )
            .boxed(),
        None => tracing_subscriber::layer::Identity::new()
            .with_filter(LevelFilter::OFF)
            .boxed(),
    };
    tracing_subscriber::registry().with(format).with(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_exporter_no_span_is_built_and_log_lines_still_are() {
        tracing::subscriber::with_default(
            subscriber(LevelFilter::INFO, &Tracing::default()),
            || {
                let span = tracing::info_span!(target: "thumbkit::http::ops", "request");
                assert!(span.is_disabled(), "a span nobody exports is not built");
                assert!(tracing::event_enabled!(target: "thumbkit::request", tracing::Level::INFO));
                assert!(
                    !tracing::event_enabled!(target: "thumbkit::request", tracing::Level::DEBUG)
                );
            },
        );
    }
}
