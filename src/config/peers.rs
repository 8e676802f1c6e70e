//! The settings of scale-out: which instances share the store (`THUMBKIT_PEERS`), which of
//! them this one is (`THUMBKIT_SELF`, else its listen address), and the secret they share.

use std::net::SocketAddr;

use super::error::ConfigError;
use super::units::Span;
use crate::peers::{PeerConfig, PeerSecret, PeerSource, PeerUrl};
use crate::secrets::Secret;

/// How long a peer may take to answer, unless configured.
pub const DEFAULT_PEER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a peer that did not answer is left out, unless configured.
pub const DEFAULT_PEER_DOWN_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// The flags and environment of scale-out.
#[derive(clap::Args, Debug, Clone)]
pub struct PeerArgs {
    /// The instances over the same store, this one included, as `http://HOST:PORT,...`, or
    /// `dns:NAME:PORT` (every address NAME resolves to, looked up every 10 s): each variant
    /// is then rendered and kept in memory by one of them.
    #[arg(long, env = "THUMBKIT_PEERS")]
    pub peers: Option<String>,
    /// This instance's URL as the others reach it (default: its listen address).
    #[arg(long = "self", env = "THUMBKIT_SELF")]
    pub self_url: Option<String>,
    /// The secret the peers share (at least 16 bytes); required with THUMBKIT_PEERS.
    #[arg(long, env = "THUMBKIT_PEER_SECRET", hide_env_values = true)]
    pub peer_secret: Option<Secret>,
    /// Longest a peer may take to answer before this instance renders the variant itself.
    #[arg(long, env = "THUMBKIT_PEER_TIMEOUT", default_value_t = Span(DEFAULT_PEER_TIMEOUT))]
    pub peer_timeout: Span,
    /// How long a peer that did not answer is left out of the ranking.
    #[arg(long, env = "THUMBKIT_PEER_DOWN_FOR", default_value_t = Span(DEFAULT_PEER_DOWN_FOR))]
    pub peer_down_for: Span,
}

impl PeerArgs {
    /// The peers, or `None` when THUMBKIT_PEERS is unset or blank.
    pub fn config(&self, listen: SocketAddr) -> Result<Option<PeerConfig>, ConfigError> {
        let Some(spec) = self.peers.as_deref().filter(|s| !s.trim().is_empty()) else {
            return Ok(None);
        };
        let invalid = |setting, reason: String| ConfigError::Invalid { setting, reason };
        let source = PeerSource::parse(spec).map_err(|r| invalid("THUMBKIT_PEERS", r))?;
        let secret = self
            .peer_secret
            .as_ref()
            .map(Secret::expose)
            .ok_or_else(|| {
                invalid(
                "THUMBKIT_PEER_SECRET",
                "required with THUMBKIT_PEERS: the peers' internal route answers only requests \
                 signed with it"
                    .into(),
            )
            })?;
        let secret = PeerSecret::parse(secret).map_err(|r| invalid("THUMBKIT_PEER_SECRET", r))?;
        let me = match &self.self_url {
            Some(url) => PeerUrl::parse(url).map_err(|r| invalid("THUMBKIT_SELF", r))?,
            None if listen.ip().is_unspecified() => {
                return Err(invalid(
                    "THUMBKIT_SELF",
                    format!(
                        "required with THUMBKIT_PEERS when listening on {listen}: this \
                         instance's URL as the others reach it"
                    ),
                ));
            }
            None => PeerUrl::of_addr(listen),
        };
        if let PeerSource::List(urls) = &source
            && !urls.contains(&me)
        {
            return Err(invalid(
                "THUMBKIT_PEERS",
                format!(
                    "this instance ({me}) is not among the peers; list it, or set THUMBKIT_SELF"
                ),
            ));
        }
        Ok(Some(PeerConfig {
            source,
            me,
            secret,
            timeout: self.peer_timeout.0,
            down_for: self.peer_down_for.0,
        }))
    }
}
