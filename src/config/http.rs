//! The settings of the HTTP layer (`http::Options`): connection timeouts and caps, the
//! trusted proxies, SNS, CORS and the demo page, as flags and environment variables. A new
//! HTTP setting is added here, flag and mapping together.

use super::error::ConfigError;
use super::units::Span;
use crate::http::Options;
use crate::http::auth::TokenlessWrites;
use crate::http::cors::CorsOrigins;
use crate::http::server::{ConnectionLimits, default_max_connections, default_max_per_client};
use crate::secrets::Secret;
use crate::sns::SnsOptions;

/// The flags and environment of the HTTP layer.
#[derive(clap::Args, Debug, Clone)]
pub struct HttpArgs {
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
    /// Serve the demo page at `/` (default: on for a local directory, off for S3).
    #[arg(long, env = "THUMBKIT_DEMO", value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: Option<bool>,
}

impl HttpArgs {
    /// The HTTP options, given the token and whether writes without one may name any host
    /// (decided with the listen address) and whether the store is the local directory (the
    /// demo page's default).
    pub fn options(
        self,
        api_token: Option<Secret>,
        tokenless_writes: TokenlessWrites,
        local_store: bool,
    ) -> Result<Options, ConfigError> {
        let cors =
            CorsOrigins::parse(&self.cors_origins).map_err(|reason| ConfigError::Invalid {
                setting: "THUMBKIT_CORS_ORIGINS",
                reason,
            })?;
        let max_connections = self
            .max_connections
            .unwrap_or_else(default_max_connections)
            .max(1);
        Ok(Options {
            api_token,
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
            demo: self.demo.unwrap_or(local_store),
            tokenless_writes,
        })
    }
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
