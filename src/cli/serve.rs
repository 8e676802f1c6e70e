//! `thumbkit serve`: the configuration ([`thumbkit::config`]) run by
//! [`thumbkit::startup::App`] until SIGTERM or Ctrl-C, then drained.

use clap::parser::ValueSource;
use thumbkit::config::{ServeArgs, report};
use thumbkit::startup::App;

use super::error::CliError;

/// Runs the service until it is told to stop (or prints its configuration).
/// `command` is the subcommand's definition and `matches` what it parsed (for
/// `--print-config` and where the store came from).
pub(crate) fn serve(
    args: ServeArgs,
    command: Option<&clap::Command>,
    matches: Option<&clap::ArgMatches>,
) -> Result<(), CliError> {
    // Before the configuration: the connection cap's default depends on the files limit.
    thumbkit::process::raise_open_files_limit();
    if args.print_config {
        if let (Some(sub), Some(matches)) = (command, matches) {
            print!("{}", report::render(&report::effective(sub, matches)));
        }
        // Then whether it would run: a refusal exits non-zero with its reason.
        args.config()?;
        return Ok(());
    }
    let embedded =
        matches.and_then(|m| m.value_source("storage")) == Some(ValueSource::DefaultValue);
    let config = args.config()?;
    // Held until exit: dropping it sends the spans still queued.
    let _tracing = thumbkit::telemetry::init(config.log)?;
    if embedded {
        tracing::info!(
            "neither THUMBKIT_STORAGE nor AWS_STORAGE_BUCKET_NAME is set: using the embedded default, the local directory {}",
            config.store.spec.describe()
        );
    }
    // The threads that answer connections run before the render threads and the store's
    // file operations when both are ready (`Urgency`), so a memory hit does not wait behind
    // them. A new thread inherits its creator's slice, so each starts at the default one,
    // and only worker threads park to take the short one.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(thumbkit::process::STORAGE_THREAD)
        .on_thread_start(|| {
            thumbkit::process::set_urgency(thumbkit::process::Urgency::Patient);
        })
        .on_thread_park(thumbkit::process::prompt_once)
        .build()
        .map_err(CliError::Runtime)?;
    // This thread drives `block_on`, the accept loop among it.
    thumbkit::process::set_urgency(thumbkit::process::Urgency::Prompt);
    runtime.block_on(async move {
        let app = App::build(config, shutdown_signal()).await?;
        Ok(app.run().await?)
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
