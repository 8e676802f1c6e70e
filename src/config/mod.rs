//! Every setting of `thumbkit serve` once: the flag, its environment variable, its parsing,
//! and the typed [`Config`] that [`crate::startup::App::build`] runs. A default lives in the
//! type that uses it ([`Settings`], [`Options`], [`ConnectionLimits`], `Limits`) and the
//! flags show it from there, so no default is written twice.

mod args;
pub mod env;
mod error;
mod http;
mod peers;
mod queue;
pub mod report;
mod service;
mod units;

use std::net::SocketAddr;
use std::path::PathBuf;

use tracing_subscriber::filter::LevelFilter;

pub use args::{InputLimitArgs, LimitArgs, PresetArgs, StoreArgs, StoreConfig};
pub use error::ConfigError;
pub use http::HttpArgs;
pub use peers::PeerArgs;
pub use queue::QueueArgs;
pub use service::{ServiceArgs, parse_public_url};
pub use units::{AutoFormats, Size, Span};

use crate::http::Options;
use crate::http::auth::TokenlessWrites;
use crate::purge::PurgeOptions;
use crate::queue::QueueOptions;
use crate::secrets::Secret;
use crate::service::Settings;
use crate::signing::Signer;

/// Everything `thumbkit serve` runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    pub store: StoreConfig,
    pub preset_files: Vec<PathBuf>,
    pub service: Settings,
    pub http: Options,
    /// The SQS queue of S3 events to pull, if any.
    pub queue: Option<QueueOptions>,
    pub log: LevelFilter,
}

/// Where `thumbkit serve` listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

impl Default for Config {
    /// What `thumbkit serve` runs with no flags and no environment.
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            store: StoreConfig::default(),
            preset_files: vec![PathBuf::from("presets")],
            service: Settings::default(),
            http: Options::default(),
            queue: None,
            log: LevelFilter::INFO,
        }
    }
}

/// The flags and environment of `thumbkit serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "THUMBKIT_LISTEN", default_value_t = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub presets: PresetArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub peers: PeerArgs,
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub queue: QueueArgs,
    /// Signing keys (`,`-separated; the first signs, any verifies): `/t/...` then requires
    /// `exp` and `sig`, and manifests hand out signed URLs.
    #[arg(long, env = "THUMBKIT_SIGNING_KEY", hide_env_values = true)]
    pub signing_key: Option<Secret>,
    /// Bearer token every /v1/ route requires, reads included (a manifest hands out URLs).
    #[arg(long, env = "THUMBKIT_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<Secret>,
    /// Accept API writes without a token on a non-loopback address (behind a trusted proxy).
    #[arg(long, env = "THUMBKIT_ALLOW_UNAUTHENTICATED_WRITES", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_unauthenticated_writes: bool,
    /// Log level: error, warn, info (one line per request) or debug.
    #[arg(long, env = "THUMBKIT_LOG", default_value = "info")]
    pub log: LevelFilter,
    /// Print the effective configuration, secrets masked, with where each value came from,
    /// and exit.
    #[arg(long)]
    pub print_config: bool,
}

impl ServeArgs {
    /// The typed configuration, refusing what would run unsafely or not at all.
    pub fn config(self) -> Result<Config, ConfigError> {
        let store = self.store.config()?;
        // Set but blank would mean "no token" below: refuse rather than run unauthenticated.
        for (var, given) in [
            ("THUMBKIT_API_TOKEN", &self.api_token),
            ("THUMBKIT_SIGNING_KEY", &self.signing_key),
        ] {
            let from_env = std::env::var_os(var).map(|v| v.to_string_lossy().into_owned());
            if [given.as_ref().map(|g| g.expose().to_owned()), from_env]
                .iter()
                .flatten()
                .any(|v| v.split(',').all(|part| part.trim().is_empty()))
            {
                return Err(ConfigError::EmptySecret(var));
            }
        }
        if self.signing_key.is_some() && self.api_token.is_none() {
            return Err(ConfigError::SigningWithoutToken);
        }
        if self.api_token.is_none()
            && !self.listen.ip().is_loopback()
            && !self.allow_unauthenticated_writes
        {
            return Err(ConfigError::Unauthenticated(self.listen));
        }
        let signer = self
            .signing_key
            .as_ref()
            .map(|k| Signer::parse(k.expose()))
            .transpose()
            .map_err(|reason| ConfigError::Invalid {
                setting: "THUMBKIT_SIGNING_KEY",
                reason,
            })?;
        let peers = self.peers.config(self.listen)?;
        let queue = self.queue.options()?;
        let purge = purge_options(
            self.service.purge_webhook.as_deref(),
            self.api_token.as_ref(),
        )?;
        let mut service = self
            .service
            .settings(self.limits.limits(), &store, signer, peers)?;
        service.purge = purge;
        let tokenless_writes = if self.allow_unauthenticated_writes {
            TokenlessWrites::AnyHost
        } else {
            TokenlessWrites::LoopbackOnly
        };
        let local_store = matches!(store.spec, crate::storage::StorageSpec::Fs(_));
        let http = self
            .http
            .options(self.api_token, tokenless_writes, local_store)?;
        Ok(Config {
            listen: self.listen,
            store,
            preset_files: self.presets.preset_files,
            service,
            http,
            queue,
            log: self.log,
        })
    }
}

/// Where purges go, signed with the API token; refused without a token to sign with.
fn purge_options(
    webhook: Option<&str>,
    token: Option<&Secret>,
) -> Result<Option<PurgeOptions>, ConfigError> {
    let Some(url) = webhook.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let invalid = |reason: String| ConfigError::Invalid {
        setting: "THUMBKIT_PURGE_WEBHOOK",
        reason,
    };
    let url = parse_public_url(url).map_err(invalid)?;
    let token = token.ok_or_else(|| {
        invalid(
            "needs THUMBKIT_API_TOKEN: purges are signed with it, so the receiver can trust them"
                .into(),
        )
    })?;
    Ok(Some(PurgeOptions::new(url, token.clone())))
}
