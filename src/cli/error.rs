//! Why a command failed: printed as one line on stderr, with a non-zero exit.

use std::path::PathBuf;

use thumbkit::config::ConfigError;
use thumbkit::pipeline::PipelineError;
use thumbkit::service::ServiceError;
use thumbkit::startup::StartupError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The input cannot be rendered or inspected.
    #[error("{}: {source}", path.display())]
    Input {
        path: PathBuf,
        #[source]
        source: PipelineError,
    },
    #[error(transparent)]
    Tracing(#[from] thumbkit::telemetry::TracingError),
    #[error("cannot start: {0}")]
    Runtime(#[source] std::io::Error),
    /// Arguments that cannot be acted on together, said in full.
    #[error("{0}")]
    Usage(String),
    /// A batch ran, and this is what did not succeed.
    #[error("{0}")]
    Incomplete(String),
    #[error("{0}")]
    Bench(String),
}

impl CliError {
    /// A refusal of the arguments.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }
}
