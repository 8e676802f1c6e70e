//! Logging for `thumbkit serve`: thumbkit's own lines (one per request at `info`) at the
//! chosen level, and other crates' only when they are errors (the AWS SDK warns at length
//! while probing for a region, for example).

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber; a second call (tests) leaves the first in place.
pub fn init(level: LevelFilter) {
    let filter = Targets::new()
        .with_target("thumbkit", level)
        .with_default(LevelFilter::ERROR);
    let format = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let _ = tracing_subscriber::registry()
        .with(format)
        .with(filter)
        .try_init();
}
