//! `thumbkit serve`: the configuration ([`thumbkit::config`]) run by
//! [`thumbkit::startup::App`] until SIGTERM or Ctrl-C, then drained.

use thumbkit::config::ServeArgs;
use thumbkit::startup::App;

use super::error::CliError;

/// Runs the service until it is told to stop.
pub(crate) fn serve(args: ServeArgs) -> Result<(), CliError> {
    // Before the configuration: the connection cap's default depends on the files limit.
    thumbkit::runtime::raise_open_files_limit();
    let config = args.config()?;
    thumbkit::telemetry::init(config.log);
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
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
