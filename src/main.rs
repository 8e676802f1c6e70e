//! The `thumbkit` binary: the allocator's tuning, then the command line (`src/cli/`).

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

mod cli;

fn main() -> ExitCode {
    thumbkit::process::tune_allocator();
    // Before the flags, whose defaults the environment (and so `.env`) can set.
    if let Some(e) = &thumbkit::config::env::load().dotenv_error {
        eprintln!("thumbkit: .env: {e}");
        return ExitCode::FAILURE;
    }
    let command = cli::Cli::command();
    for warning in cli::usage::unknown_variables(&command) {
        eprintln!("thumbkit: warning: {warning}");
    }
    let matches = match command.clone().try_get_matches() {
        Ok(m) => m,
        Err(e) => match cli::usage::one_line(&e, &command) {
            Some(line) => {
                eprintln!("thumbkit: {line}");
                return ExitCode::FAILURE;
            }
            None => e.exit(),
        },
    };
    let parsed = match cli::Cli::from_arg_matches(&matches) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "thumbkit: {}",
                cli::usage::one_line(&e, &command).unwrap_or_default()
            );
            return ExitCode::FAILURE;
        }
    };
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
