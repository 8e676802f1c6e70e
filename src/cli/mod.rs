//! The `thumbkit` command line: one subcommand per file where it has a body of its own.
//!
//! Every failure ends with a one-line reason on stderr and a non-zero exit.

mod doctor;
mod error;
mod events;
mod files;
mod gc;
mod progress;
mod render;
mod serve;
mod show;
mod store;
mod url;
pub(crate) mod usage;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use thumbkit::bench;
use thumbkit::config::{InputLimitArgs, LimitArgs, PresetArgs, ServeArgs, Span, StoreArgs};

use error::CliError;
use serve::serve;
use store::{pregen, purge};

/// Where an environment variable's value came from (`.env`, a django-storages name), if
/// thumbkit set it.
pub(crate) fn env_origin(var: &str) -> Option<String> {
    thumbkit::config::env::loaded()
        .and_then(|l| l.origin(var))
        .map(|o| o.to_string())
}

#[derive(Parser)]
#[command(
    name = "thumbkit",
    version,
    about = "Image thumbnails from named presets, with no metadata in any output"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Render images with a preset and write the thumbnails (one, or a batch in parallel).
    Render(render::RenderArgs),
    /// Serve thumbnails over HTTP: GET /t/{preset}/{key}.
    Serve(Box<ServeArgs>),
    /// Pull S3 events from THUMBKIT_SQS_QUEUE_URL without serving HTTP (`serve` pulls too
    /// when it is set); `--once` drains the queue and exits.
    Events(Box<events::EventsArgs>),
    /// Check a deployment with `serve`'s configuration: the store, every permission, the
    /// clock, presets, secrets and memory, one line each with its fix (exit 1 if any fails).
    Doctor(Box<ServeArgs>),
    /// Render every missing variant of every original in the store (resumable).
    Pregen {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        preset_files: PresetArgs,
        #[command(flatten)]
        limits: LimitArgs,
        /// Only originals whose key starts with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// The source (THUMBKIT_SOURCES) whose originals to render; the default store
        /// without it.
        #[arg(long)]
        source: Option<String>,
        /// Presets to render: `all` or names separated by `,` (or spaces).
        #[arg(long, default_value = "all", value_delimiter = ',', num_args = 1..)]
        presets: Vec<String>,
        /// Originals processed at a time (default: the number of cores).
        #[arg(long)]
        concurrency: Option<usize>,
    },
    /// Delete originals with every variant and record derived from them.
    Purge {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        presets: PresetArgs,
        #[command(flatten)]
        limits: LimitArgs,
        /// Keys of the originals.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// List the variants made under presets' old fingerprints (or by removed presets), with
    /// counts and bytes; `--delete` deletes them.
    Gc {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        presets: PresetArgs,
        #[command(flatten)]
        limits: LimitArgs,
        /// Only list what would be deleted (the default).
        #[arg(long, conflicts_with = "delete")]
        dry_run: bool,
        /// Delete the stale variants.
        #[arg(long)]
        delete: bool,
        /// The source (THUMBKIT_SOURCES) whose variants to look at; the default store
        /// without it.
        #[arg(long)]
        source: Option<String>,
    },
    /// Sign a thumbnail URL path (e.g. `/t/thumb/a.jpg?v=...`) with THUMBKIT_SIGNING_KEY.
    Sign {
        /// The path, percent-encoded as it will be requested.
        path: String,
        /// How long the URL stays valid, e.g. `15m`, `24h`.
        #[arg(long, default_value = "15m")]
        ttl: Span,
        /// Signing keys (the first signs).
        #[arg(long, env = "THUMBKIT_SIGNING_KEY", hide_env_values = true)]
        signing_key: Option<thumbkit::secrets::Secret>,
    },
    /// Print a variant's URL, or a preset's `srcset`, pinned and signed on request.
    Url(Box<url::UrlArgs>),
    /// List the presets with their fingerprints (`--json`: as `GET /v1/presets`, with boxes
    /// and steps, for a frontend's loader).
    Presets {
        #[command(flatten)]
        presets: PresetArgs,
        /// Print the JSON that `GET /v1/presets` answers.
        #[arg(long)]
        json: bool,
    },
    /// Show a file's format, upright size, orientation, frames, colour space and metadata,
    /// and whether it renders.
    Inspect {
        /// The file to inspect.
        file: PathBuf,
        #[command(flatten)]
        limits: InputLimitArgs,
    },
    /// Compare thumbkit with vipsthumbnail on a preset's renders (Task A: `thumb`), same run.
    Bench {
        #[command(flatten)]
        args: bench::Args,
        #[command(flatten)]
        presets: PresetArgs,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Internal: one benchmark worker (renders files with a preset, writes outputs).
    #[command(hide = true)]
    BenchWorker {
        #[command(flatten)]
        presets: PresetArgs,
        #[command(flatten)]
        limits: LimitArgs,
        #[arg(long)]
        preset: String,
        #[arg(long)]
        out_dir: PathBuf,
        files: Vec<PathBuf>,
    },
}

pub(crate) fn run(cli: Cli, matches: &clap::ArgMatches) -> Result<(), CliError> {
    match cli.command {
        Command::Render(args) => render::run(args),
        Command::Serve(args) => {
            let command = <Cli as clap::CommandFactory>::command();
            serve(
                *args,
                command.find_subcommand("serve"),
                matches.subcommand_matches("serve"),
            )
        }
        Command::Pregen {
            store,
            preset_files,
            limits,
            prefix,
            source,
            presets,
            concurrency,
        } => pregen(
            &store,
            (source.as_deref(), &prefix),
            &presets,
            concurrency,
            preset_files.load()?,
            limits.limits(),
        ),
        Command::Purge {
            store,
            presets,
            limits,
            keys,
        } => purge(&store, keys, presets.load()?, limits.limits()),
        Command::Doctor(args) => doctor::run(*args),
        Command::Events(args) => events::run(*args),
        Command::Gc {
            store,
            presets,
            limits,
            dry_run: _,
            delete,
            source,
        } => gc::run(
            &store,
            source.as_deref(),
            presets.load()?,
            limits.limits(),
            delete,
        ),
        Command::Sign {
            path,
            ttl,
            signing_key,
        } => url::sign(&path, ttl, signing_key),
        Command::Url(args) => url::run(*args),
        Command::Presets { presets, json } => show::presets(&presets.load()?, json),
        Command::Inspect { file, limits } => show::inspect(file, &limits.limits()),
        Command::Bench {
            args,
            presets,
            limits,
        } => bench::run(
            &args,
            &presets.load()?,
            &presets.preset_files,
            &limits.limits(),
        )
        .map_err(CliError::Bench),
        Command::BenchWorker {
            presets,
            limits,
            preset,
            out_dir,
            files,
        } => bench_worker(&presets, limits, &preset, &out_dir, &files),
    }
}

/// One worker of `thumbkit bench`: renders `files` with `preset` into `out_dir`.
fn bench_worker(
    presets: &PresetArgs,
    limits: LimitArgs,
    preset: &str,
    out_dir: &std::path::Path,
    files: &[PathBuf],
) -> Result<(), CliError> {
    let presets = presets.load()?;
    let preset = presets
        .get(preset)
        .ok_or_else(|| CliError::usage(format!("no preset named `{preset}`")))?;
    bench::worker(preset, &limits.limits(), out_dir, files).map_err(CliError::Bench)
}
