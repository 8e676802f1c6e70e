//! `thumbkit serve`: the service's flags and environment, wired into the HTTP server, with
//! a drain on SIGTERM or Ctrl-C.

use thumbkit::pipeline::Limits;
use thumbkit::preset::Presets;

use super::args::{LimitArgs, PresetArgs, StoreArgs, parse_bytes, parse_duration};

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "THUMBKIT_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: std::net::SocketAddr,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) presets: PresetArgs,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// Signing keys (`,`-separated; the first signs, any verifies): `/t/...` then requires
    /// `exp` and `sig`, and manifests hand out signed URLs.
    #[arg(long, env = "THUMBKIT_SIGNING_KEY", hide_env_values = true)]
    pub(crate) signing_key: Option<String>,
    /// How long an upload ticket's URL stays valid (at most 15m).
    #[arg(long, env = "THUMBKIT_UPLOAD_TTL", default_value = "15m", value_parser = parse_duration)]
    pub(crate) upload_ttl: std::time::Duration,
    /// How long the signed URLs in upload manifests stay valid, e.g. `24h`.
    #[arg(long, env = "THUMBKIT_SIGNED_URL_TTL", default_value = "24h", value_parser = parse_duration)]
    pub(crate) signed_url_ttl: std::time::Duration,
    /// Presets pre-generated when an S3 event reports a new original: `all` or names.
    #[arg(
        long,
        env = "THUMBKIT_PREGENERATE",
        default_value = "all",
        value_delimiter = ','
    )]
    pub(crate) pregenerate: Vec<String>,
    /// Bearer token that the API's writes (PUT/DELETE /v1/...) require.
    #[arg(long, env = "THUMBKIT_API_TOKEN", hide_env_values = true)]
    pub(crate) api_token: Option<String>,
    /// Accept API writes without a token on a non-loopback address (behind a trusted proxy).
    #[arg(long, env = "THUMBKIT_ALLOW_UNAUTHENTICATED_WRITES")]
    pub(crate) allow_unauthenticated_writes: bool,
    /// Log level: error, warn, info (one line per request) or debug.
    #[arg(long, env = "THUMBKIT_LOG", default_value = "info")]
    pub(crate) log: tracing_subscriber::filter::LevelFilter,
    /// Bytes of rendered variants kept in memory, e.g. `256MiB`.
    #[arg(long, env = "THUMBKIT_MEMORY_CACHE", default_value = "256MiB", value_parser = parse_bytes)]
    pub(crate) memory_cache: u64,
    /// Render worker threads (default: the number of cores).
    #[arg(long, env = "THUMBKIT_RENDER_WORKERS")]
    pub(crate) render_workers: Option<usize>,
    /// Renders that may wait for a worker before requests get 503 (default: 4 per worker).
    #[arg(long, env = "THUMBKIT_RENDER_QUEUE")]
    pub(crate) render_queue: Option<usize>,
    /// Longest a render may take, e.g. `30s`.
    #[arg(long, env = "THUMBKIT_RENDER_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub(crate) render_timeout: std::time::Duration,
    /// How long an original's content hash is trusted before its ETag is checked again.
    #[arg(long, env = "THUMBKIT_REVALIDATE", default_value = "30s", value_parser = parse_duration)]
    pub(crate) revalidate: std::time::Duration,
    /// While the store cannot be reached, how long after it last confirmed an original its
    /// variants in memory are still served.
    #[arg(long, env = "THUMBKIT_STALE_IF_ERROR", default_value = "5m", value_parser = parse_duration)]
    pub(crate) stale_if_error: std::time::Duration,
    /// Longest a thumbnail request may take, storage calls and render included.
    #[arg(long, env = "THUMBKIT_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub(crate) request_timeout: std::time::Duration,
    /// Longest a client may take to send a request's headers.
    #[arg(long, env = "THUMBKIT_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub(crate) header_timeout: std::time::Duration,
    /// Longest a client may take to send a request's body.
    #[arg(long, env = "THUMBKIT_BODY_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub(crate) body_timeout: std::time::Duration,
    /// How long a keep-alive connection may stay idle.
    #[arg(long, env = "THUMBKIT_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub(crate) idle_timeout: std::time::Duration,
    /// Connections served at once (default: 1024, fewer if the open-files limit is low).
    #[arg(long, env = "THUMBKIT_MAX_CONNECTIONS")]
    pub(crate) max_connections: Option<usize>,
    /// After SIGTERM, how long open connections, then pending writes, get to finish.
    #[arg(long, env = "THUMBKIT_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub(crate) shutdown_timeout: std::time::Duration,
    /// SNS topic ARNs whose messages /v1/hooks/s3 accepts (default: any that verifies).
    #[arg(long, env = "THUMBKIT_SNS_TOPICS", value_delimiter = ',')]
    pub(crate) sns_topics: Vec<String>,
    /// One more origin trusted to serve SNS certificates and subscription URLs, for an SNS
    /// emulator (e.g. `http://localhost:4566`); AWS's SNS hosts are always trusted.
    #[arg(long, env = "THUMBKIT_SNS_ORIGIN")]
    pub(crate) sns_origin: Option<String>,
}

pub(crate) fn serve(args: ServeArgs, presets: Presets, limits: Limits) -> Result<(), String> {
    use std::sync::Arc;
    use thumbkit::service::{Settings, Thumbnails};
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        // thumbkit's own lines at the chosen level; the SDK's and libraries' only when they
        // are errors (the AWS SDK warns at length while probing for a region, for example).
        let filter = tracing_subscriber::filter::Targets::new()
            .with_target("thumbkit", args.log)
            .with_default(tracing_subscriber::filter::LevelFilter::ERROR);
        let format = tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
        tracing_subscriber::registry()
            .with(format)
            .with(filter)
            .init();
    }
    args.store.spec()?;
    // Set but blank would mean "no token" below: refuse rather than run unauthenticated.
    for (var, given) in [
        ("THUMBKIT_API_TOKEN", &args.api_token),
        ("THUMBKIT_SIGNING_KEY", &args.signing_key),
    ] {
        let from_env = std::env::var_os(var).map(|v| v.to_string_lossy().into_owned());
        if [given.clone(), from_env]
            .iter()
            .flatten()
            .any(|v| v.split(',').all(|part| part.trim().is_empty()))
        {
            return Err(format!(
                "{var} is set but empty: give it a value, or unset it"
            ));
        }
    }
    if args.signing_key.is_some() && args.api_token.is_none() {
        return Err(
            "THUMBKIT_SIGNING_KEY needs THUMBKIT_API_TOKEN as well: without a token anyone could \
             read signed URLs from /v1/originals"
                .into(),
        );
    }
    if args.api_token.is_none()
        && !args.listen.ip().is_loopback()
        && !args.allow_unauthenticated_writes
    {
        return Err(format!(
            "refusing to accept unauthenticated uploads and deletes on {}: set THUMBKIT_API_TOKEN \
             (or THUMBKIT_ALLOW_UNAUTHENTICATED_WRITES=true behind a trusted proxy)",
            args.listen
        ));
    }
    thumbkit::runtime::raise_open_files_limit();
    let options = thumbkit::http::Options {
        api_token: args.api_token.clone(),
        body_timeout: args.body_timeout,
        connections: thumbkit::http::server::ConnectionLimits {
            header_timeout: args.header_timeout,
            idle_timeout: args.idle_timeout,
            max_connections: args
                .max_connections
                .unwrap_or_else(thumbkit::http::server::default_max_connections)
                .max(1),
            shutdown_timeout: args.shutdown_timeout,
        },
        sns: thumbkit::sns::SnsOptions {
            topics: args.sns_topics.clone(),
            extra_origin: args.sns_origin.clone(),
        },
    };
    let signer = args
        .signing_key
        .as_deref()
        .map(thumbkit::signing::Signer::parse)
        .transpose()?;
    let defaults = Settings::default();
    let workers = args
        .render_workers
        .unwrap_or(defaults.render_workers)
        .max(1);
    let settings = Settings {
        limits,
        memory_cache_bytes: args.memory_cache,
        render_workers: workers,
        render_queue: args.render_queue.unwrap_or(workers * 4),
        render_timeout: args.render_timeout,
        storage_timeout: args.store.storage_timeout,
        revalidate: args.revalidate,
        stale_if_error: args.stale_if_error,
        request_timeout: args.request_timeout,
        layout: args.store.layout()?,
        pregenerate: args.pregenerate.clone(),
        signer,
        signed_url_ttl: args.signed_url_ttl,
        upload_ttl: args.upload_ttl,
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start: {e}"))?;
    runtime.block_on(async move {
        let store = args.store.open().await?;
        let service = Arc::new(Thumbnails::new(store, presets, settings));
        service
            .select_presets(&args.pregenerate)
            .map_err(|e| format!("THUMBKIT_PREGENERATE: {e}"))?;
        let (addr, server) =
            thumbkit::http::bind(args.listen, service.clone(), options, shutdown_signal())
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        tracing::info!(storage = %service.storage().describe(), presets = service.presets().len(), "serving on http://{addr}/t/<preset>/<key>");
        let served = server.await.map_err(|e| format!("server: {e}"));
        // In-flight requests are done; now the variants still being written.
        if tokio::time::timeout(args.shutdown_timeout, service.drain())
            .await
            .is_err()
        {
            tracing::warn!(
                "gave up waiting for variant writes after {:?}",
                args.shutdown_timeout
            );
        }
        tracing::info!("stopped");
        served
    })
}

/// Completes on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
