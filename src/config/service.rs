//! The settings of the thumbnail service (`service::Settings`): its memory, render workers,
//! timeouts, formats, lifetimes and public URL, as flags and environment variables. A new
//! service setting is added here, flag and mapping together.

use std::path::PathBuf;

use super::error::ConfigError;
use super::units::{AutoFormats, Size, Span};
use crate::peers::PeerConfig;
use crate::pipeline::Limits;
use crate::service::Settings;
use crate::signing::Signer;

use super::args::StoreConfig;

/// The flags and environment of the thumbnail service.
#[derive(clap::Args, Debug, Clone)]
pub struct ServiceArgs {
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
    /// How long an upload ticket's URL stays valid (at most 15m).
    #[arg(long, env = "THUMBKIT_UPLOAD_TTL", default_value_t = Span(Settings::default().upload_ttl))]
    pub upload_ttl: Span,
    /// Presets pre-generated when an S3 event reports a new original: `all` or names.
    #[arg(
        long,
        env = "THUMBKIT_PREGENERATE",
        default_value = "all",
        value_delimiter = ','
    )]
    pub pregenerate: Vec<String>,
    /// Image served, rendered to the preset, for a missing or broken original (presets may
    /// set their own with `fallback = "..."`).
    #[arg(long, env = "THUMBKIT_FALLBACK")]
    pub fallback: Option<PathBuf>,
    /// The CDN's (or this service's public) origin, e.g. `https://img.example.com`:
    /// manifests and the demo page then give absolute URLs on it (default: paths; not
    /// AWS_S3_CUSTOM_DOMAIN, which serves the originals).
    #[arg(long, env = "THUMBKIT_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// An endpoint POSTed the cache tags and paths to purge when an original is replaced or
    /// deleted through thumbkit (signed with THUMBKIT_API_TOKEN's HMAC, tried again on failure).
    #[arg(long, env = "THUMBKIT_PURGE_WEBHOOK")]
    pub purge_webhook: Option<String>,
}

impl ServiceArgs {
    /// The service's settings, given what other groups decided: the limits, the store, the
    /// signer and the peers.
    pub fn settings(
        self,
        limits: Limits,
        store: &StoreConfig,
        signer: Option<Signer>,
        peers: Option<PeerConfig>,
    ) -> Result<Settings, ConfigError> {
        if let Some(path) = &self.fallback {
            crate::service::fallback::check(path, &limits).map_err(|reason| {
                ConfigError::Invalid {
                    setting: "THUMBKIT_FALLBACK",
                    reason,
                }
            })?;
        }
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
        let workers = self
            .render_workers
            .unwrap_or(Settings::default().render_workers)
            .max(1);
        Ok(Settings {
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
            // Set by `ServeArgs::config`, which holds the API token it is signed with.
            purge: None,
        })
    }
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
