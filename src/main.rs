//! The `thumbkit` binary: the allocator's tuning, then the command line (`src/cli/`).

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

mod cli;

fn main() -> ExitCode {
    thumbkit::runtime::tune_allocator();
    // Before the flags, whose defaults the environment (and so `.env`) can set.
    if let Some(e) = &thumbkit::config::env::load().dotenv_error {
        eprintln!("thumbkit: .env: {e}");
        return ExitCode::FAILURE;
    }
    let matches = cli::Cli::command().get_matches();
    let parsed = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if matches.subcommand_name() != Some("serve") {
        // `thumbkit gc | head` should end quietly, as other tools do, not panic on EPIPE.
        // The server keeps SIGPIPE ignored: a client closing its socket is not an exit.
        // SAFETY: one thread so far, and SIG_DFL is a valid disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match cli::run(parsed, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("thumbkit: {message}");
            ExitCode::FAILURE
        }
    }
}
