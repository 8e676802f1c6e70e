//! Why a configuration cannot be run: each refusal names the setting and what to do.

use std::net::SocketAddr;

use crate::preset::PresetError;

/// Why the configuration cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting}: {reason}")]
    Invalid {
        setting: &'static str,
        reason: String,
    },
    #[error("{0} is set but empty: give it a value, or unset it")]
    EmptySecret(&'static str),
    #[error(
        "THUMBKIT_SIGNING_KEY needs THUMBKIT_API_TOKEN as well: without a token anyone could \
         read signed URLs from /v1/originals"
    )]
    SigningWithoutToken,
    #[error(
        "refusing to accept unauthenticated uploads and deletes on {0}: set THUMBKIT_API_TOKEN \
         (or THUMBKIT_ALLOW_UNAUTHENTICATED_WRITES=true behind a trusted proxy)"
    )]
    Unauthenticated(SocketAddr),
    #[error("{0}")]
    Presets(#[from] PresetError),
}
