//! Every setting of `thumbkit serve` once: the flag, its environment variable, its parsing,
//! and the typed [`Config`] that [`crate::startup::App::build`] runs. A default lives in the
//! type that uses it ([`Settings`], [`Options`], [`ConnectionLimits`], `Limits`) and the
//! flags show it from there, so no default is written twice.

mod args;
pub mod env;
mod error;
mod peers;
pub mod report;
mod units;

use std::net::SocketAddr;
use std::path::PathBuf;

use tracing_subscriber::filter::LevelFilter;

pub use args::{InputLimitArgs, LimitArgs, PresetArgs, StoreArgs, StoreConfig};
pub use error::ConfigError;
pub use peers::PeerArgs;
pub use units::{AutoFormats, Size, Span};

use crate::http::Options;
use crate::http::cors::CorsOrigins;
use crate::http::server::{ConnectionLimits, default_max_connections, default_max_per_client};
use crate::secrets::Secret;
use crate::service::Settings;
use crate::signing::Signer;
use crate::sns::SnsOptions;

/// Everything `thumbkit serve` runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    pub store: StoreConfig,
    pub preset_files: Vec<PathBuf>,
    pub service: Settings,
    pub http: Options,
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
    /// Signing keys (`,`-separated; the first signs, any verifies): `/t/...` then requires
    /// `exp` and `sig`, and manifests hand out signed URLs.
    #[arg(long, env = "THUMBKIT_SIGNING_KEY", hide_env_values = true)]
    pub signing_key: Option<Secret>,
    /// How long an upload ticket's URL stays valid (at most 15m).
    #[arg(long, env = "THUMBKIT_UPLOAD_TTL", default_value_t = Span(Settings::default().upload_ttl))]
    pub upload_ttl: Span,
    /// The formats an `auto` preset serves to clients whose `Accept` names them, in order of
    /// preference (`avif,webp`, `webp`, or `none` for JPEG/PNG only).
    #[arg(long, env = "THUMBKIT_AUTO_FORMATS", default_value_t = AutoFormats(Settings::default().auto_formats))]
    pub auto_formats: AutoFormats,
    /// Longest an AVIF render may take before that request gets WebP instead (the AVIF is
    /// finished and stored behind it).
    #[arg(long, env = "THUMBKIT_AVIF_BUDGET", default_value_t = Span(Settings::default().avif_budget))]
    pub avif_budget: Span,
    /// How long the signed URLs in upload manifests stay valid, e.g. `24h`.
    #[arg(long, env = "THUMBKIT_SIGNED_URL_TTL", default_value_t = Span(Settings::default().signed_url_ttl))]
    pub signed_url_ttl: Span,
    /// Presets pre-generated when an S3 event reports a new original: `all` or names.
    #[arg(
        long,
        env = "THUMBKIT_PREGENERATE",
        default_value = "all",
        value_delimiter = ','
    )]
    pub pregenerate: Vec<String>,
    /// Bearer token every /v1/ route requires, reads included (a manifest hands out URLs).
    #[arg(long, env = "THUMBKIT_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<Secret>,
    /// Accept API writes without a token on a non-loopback address (behind a trusted proxy).
    #[arg(long, env = "THUMBKIT_ALLOW_UNAUTHENTICATED_WRITES", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_unauthenticated_writes: bool,
    /// Log level: error, warn, info (one line per request) or debug.
    #[arg(long, env = "THUMBKIT_LOG", default_value = "info")]
    pub log: LevelFilter,
    /// Bytes of rendered variants kept in memory, e.g. `256MiB`.
    #[arg(long, env = "THUMBKIT_MEMORY_CACHE", default_value_t = Size(Settings::default().memory_cache_bytes))]
    pub memory_cache: Size,
    /// Render worker threads (default: the number of cores).
    #[arg(long, env = "THUMBKIT_RENDER_WORKERS")]
    pub render_workers: Option<usize>,
    /// Renders that may wait for a worker before requests get 503 (default: 4 per worker).
    #[arg(long, env = "THUMBKIT_RENDER_QUEUE")]
    pub render_queue: Option<usize>,
    /// Longest a render may take, e.g. `30s`.
    #[arg(long, env = "THUMBKIT_RENDER_TIMEOUT", default_value_t = Span(Settings::default().render_timeout))]
    pub render_timeout: Span,
    /// How long an original's content hash is trusted before its ETag is checked again.
    #[arg(long, env = "THUMBKIT_REVALIDATE", default_value_t = Span(Settings::default().revalidate))]
    pub revalidate: Span,
    /// While the store cannot be reached, how long after it last confirmed an original its
    /// variants in memory are still served.
    #[arg(long, env = "THUMBKIT_STALE_IF_ERROR", default_value_t = Span(Settings::default().stale_if_error))]
    pub stale_if_error: Span,
    /// Longest a thumbnail request may take, storage calls and render included.
    #[arg(long, env = "THUMBKIT_REQUEST_TIMEOUT", default_value_t = Span(Settings::default().request_timeout))]
    pub request_timeout: Span,
    /// Longest a client may take to send a request's headers.
    #[arg(long, env = "THUMBKIT_HEADER_TIMEOUT", default_value_t = Span(ConnectionLimits::default().header_timeout))]
    pub header_timeout: Span,
    /// Longest a client may take to send a request's body.
    #[arg(long, env = "THUMBKIT_BODY_TIMEOUT", default_value_t = Span(Options::default().body_timeout))]
    pub body_timeout: Span,
    /// How long a keep-alive connection may stay idle.
    #[arg(long, env = "THUMBKIT_IDLE_TIMEOUT", default_value_t = Span(ConnectionLimits::default().idle_timeout))]
    pub idle_timeout: Span,
    /// Connections served at once (default: 1024, fewer if the open-files limit is low).
    #[arg(long, env = "THUMBKIT_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Connections one client address may hold at once (default: a quarter of
    /// THUMBKIT_MAX_CONNECTIONS, at least 8; 0 for no cap).
    #[arg(long, env = "THUMBKIT_MAX_CONNECTIONS_PER_CLIENT")]
    pub max_connections_per_client: Option<usize>,
    /// Addresses or ranges of the proxies and CDNs in front (`10.0.0.0/8,192.0.2.7`): exempt
    /// from the per-client connection cap, since one of their addresses carries many clients.
    #[arg(long, env = "THUMBKIT_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// After SIGTERM, how long open connections, then pending writes, get to finish.
    #[arg(long, env = "THUMBKIT_SHUTDOWN_TIMEOUT", default_value_t = Span(ConnectionLimits::default().shutdown_timeout))]
    pub shutdown_timeout: Span,
    /// SNS topic ARNs whose messages /v1/hooks/s3 accepts (default: any that verifies).
    #[arg(long, env = "THUMBKIT_SNS_TOPICS", value_delimiter = ',')]
    pub sns_topics: Vec<String>,
    /// One more origin trusted to serve SNS certificates and subscription URLs, for an SNS
    /// emulator (e.g. `http://localhost:4566`); AWS's SNS hosts are always trusted.
    #[arg(long, env = "THUMBKIT_SNS_ORIGIN")]
    pub sns_origin: Option<String>,
    /// Origins whose pages may read responses (`https://app.example,...`, or `*` for any,
    /// without credentials); none by default.
    #[arg(long, env = "THUMBKIT_CORS_ORIGINS", default_value = "")]
    pub cors_origins: String,
    /// Image served, rendered to the preset, for a missing or broken original (presets may
    /// set their own with `fallback = "..."`).
    #[arg(long, env = "THUMBKIT_FALLBACK")]
    pub fallback: Option<PathBuf>,
    /// Serve the demo page at `/` (default: on for a local directory, off for S3).
    #[arg(long, env = "THUMBKIT_DEMO", value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: Option<bool>,
    /// The CDN's (or this service's public) origin, e.g. `https://img.example.com`:
    /// manifests and the demo page then give absolute URLs on it (default: paths; not
    /// AWS_S3_CUSTOM_DOMAIN, which serves the originals).
    #[arg(long, env = "THUMBKIT_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Print the effective configuration, secrets masked, with where each value came from,
    /// and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// THUMBKIT_TRUSTED_PROXIES: addresses (`192.0.2.7`) or ranges (`10.0.0.0/8`).
fn trusted_proxies(given: &[String]) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    given
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError::Invalid {
                    setting: "THUMBKIT_TRUSTED_PROXIES",
                    reason: format!("`{s}` is not an address or a range like 10.0.0.0/8"),
                })
        })
        .collect()
}

/// Checks a public URL (`http(s)://host[:port][/path]`, no query or fragment) and drops its
/// trailing `/`.
pub fn parse_public_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("`{url}` is not an http:// or https:// URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{url}` must be an origin or a path, without a query, fragment or spaces"
        ));
    }
    Ok(url.to_owned())
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
        let cors =
            CorsOrigins::parse(&self.cors_origins).map_err(|reason| ConfigError::Invalid {
                setting: "THUMBKIT_CORS_ORIGINS",
                reason,
            })?;
        let limits = self.limits.limits();
        if let Some(path) = &self.fallback {
            crate::service::fallback::check(path, &limits).map_err(|reason| {
                ConfigError::Invalid {
                    setting: "THUMBKIT_FALLBACK",
                    reason,
                }
            })?;
        }
        let demo = self
            .demo
            .unwrap_or(matches!(store.spec, crate::storage::StorageSpec::Fs(_)));
        let peers = self.peers.config(self.listen)?;
        let public_url = self
            .public_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .map(parse_public_url)
            .transpose()
            .map_err(|reason| ConfigError::Invalid {
                setting: "THUMBKIT_PUBLIC_URL",
                reason,
            })?;
        let defaults = Settings::default();
        let workers = self
            .render_workers
            .unwrap_or(defaults.render_workers)
            .max(1);
        let service = Settings {
            limits,
            memory_cache_bytes: self.memory_cache.0,
            render_workers: workers,
            render_queue: self
                .render_queue
                .unwrap_or(workers * Settings::QUEUE_PER_WORKER),
            render_timeout: self.render_timeout.0,
            storage_timeout: store.timeout,
            revalidate: self.revalidate.0,
            stale_if_error: self.stale_if_error.0,
            request_timeout: self.request_timeout.0,
            layout: store.layout.clone(),
            pregenerate: self.pregenerate,
            signer,
            signed_url_ttl: self.signed_url_ttl.0,
            upload_ttl: self.upload_ttl.0,
            auto_formats: self.auto_formats.0,
            avif_budget: self.avif_budget.0,
            fallback: self.fallback,
            peers,
            public_url,
        };
        let max_connections = self
            .max_connections
            .unwrap_or_else(default_max_connections)
            .max(1);
        let http = Options {
            api_token: self.api_token,
            body_timeout: self.body_timeout.0,
            connections: ConnectionLimits {
                header_timeout: self.header_timeout.0,
                idle_timeout: self.idle_timeout.0,
                max_connections,
                max_per_client: self
                    .max_connections_per_client
                    .unwrap_or_else(|| default_max_per_client(max_connections)),
                trusted_proxies: trusted_proxies(&self.trusted_proxies)?.into(),
                shutdown_timeout: self.shutdown_timeout.0,
            },
            sns: SnsOptions {
                topics: self.sns_topics,
                extra_origin: self.sns_origin,
            },
            cors,
            demo,
            tokenless_writes: if self.allow_unauthenticated_writes {
                crate::http::auth::TokenlessWrites::AnyHost
            } else {
                crate::http::auth::TokenlessWrites::LoopbackOnly
            },
        };
        Ok(Config {
            listen: self.listen,
            store,
            preset_files: self.presets.preset_files,
            service,
            http,
            log: self.log,
        })
    }
}
