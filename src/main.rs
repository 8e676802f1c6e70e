//! The `thumbkit` binary: the allocator's tuning, then the command line (`src/cli/`).

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    thumbkit::runtime::tune_allocator();
    match cli::run(cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("thumbkit: {message}");
            ExitCode::FAILURE
        }
    }
}
