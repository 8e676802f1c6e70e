//! The `thumbkit` command: render, list presets, inspect files, and benchmark.
//!
//! Every failure ends with a one-line reason on stderr and a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use thumbkit::bench;
use thumbkit::pipeline::{self, Limits, OutputFormat};
use thumbkit::preset::{FormatChoice, Presets};

#[derive(Parser)]
#[command(
    name = "thumbkit",
    version,
    about = "Image thumbnails from named presets, with no metadata in any output"
)]
struct Cli {
    /// Preset files: a directory of *.toml files (or single files); repeat or separate with ','.
    #[arg(
        long,
        global = true,
        env = "THUMBKIT_PRESETS",
        default_value = "presets",
        value_delimiter = ','
    )]
    presets: Vec<PathBuf>,
    /// Largest input accepted, in bytes.
    #[arg(long, global = true, env = "THUMBKIT_MAX_INPUT_BYTES", default_value_t = Limits::default().max_input_bytes)]
    max_input_bytes: usize,
    /// Largest image accepted, in pixels (width x height from the header).
    #[arg(long, global = true, env = "THUMBKIT_MAX_PIXELS", default_value_t = Limits::default().max_pixels)]
    max_pixels: u64,
    /// Largest output width or height.
    #[arg(long, global = true, env = "THUMBKIT_MAX_OUTPUT_SIDE", default_value_t = Limits::default().max_output_side)]
    max_output_side: u32,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render one image with a preset and write the thumbnail.
    Render {
        /// The preset's name (see `thumbkit presets`).
        #[arg(long)]
        preset: String,
        /// The original image.
        input: PathBuf,
        /// Where to write the thumbnail (default: `<input stem>.<preset>.<ext>` beside it).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Output format for `auto`/`source` presets: jpeg, png or webp
        /// (default: from the output's extension, else as the service would without WebP).
        #[arg(short, long)]
        format: Option<String>,
    },
    /// List the presets with their fingerprints.
    Presets,
    /// Show a file's format, dimensions, orientation, colour space and metadata.
    Inspect {
        /// The file to inspect.
        file: PathBuf,
    },
    /// Compare thumbkit with vipsthumbnail on Task A (JPEG -> inside 320x320, q80), same run.
    Bench(bench::Args),
    /// Internal: one benchmark worker (renders files with a preset, writes outputs).
    #[command(hide = true)]
    BenchWorker {
        #[arg(long)]
        preset: String,
        #[arg(long)]
        out_dir: PathBuf,
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    thumbkit::runtime::tune_allocator();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("thumbkit: {message}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
}

fn run(cli: Cli) -> Result<(), String> {
    let limits = Limits {
        max_input_bytes: cli.max_input_bytes,
        max_pixels: cli.max_pixels,
        max_output_side: cli.max_output_side,
    };
    let load_presets = || Presets::load(&cli.presets).map_err(|e| e.to_string());
    match cli.command {
        Command::Render {
            preset,
            input,
            output,
            format,
        } => {
            let presets = load_presets()?;
            let preset = presets.get(&preset).ok_or_else(|| {
                let names: Vec<&str> = presets.iter().map(|p| p.name.as_str()).collect();
                format!("no preset named `{preset}` (have: {})", names.join(", "))
            })?;
            let bytes = read(&input)?;
            let started = Instant::now();
            let source = pipeline::probe(&bytes, &limits)
                .map_err(|e| format!("{}: {e}", input.display()))?;
            let requested = match &format {
                Some(f) => Some(
                    OutputFormat::parse(f)
                        .ok_or_else(|| format!("unknown format `{f}` (use jpeg, png or webp)"))?,
                ),
                None => output
                    .as_deref()
                    .and_then(|o| o.extension())
                    .and_then(|e| e.to_str())
                    .and_then(OutputFormat::parse),
            };
            let out_format = match (preset.format, requested) {
                (FormatChoice::Auto | FormatChoice::Source, Some(f)) => f,
                (choice, _) => OutputFormat::resolve(choice, &source, false),
            };
            let rendered = pipeline::render(&bytes, preset, out_format, &limits)
                .map_err(|e| format!("{}: {e}", input.display()))?;
            let elapsed = started.elapsed();
            let output = output.unwrap_or_else(|| {
                let stem = input
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("image");
                input.with_file_name(format!("{stem}.{}.{}", preset.name, out_format.extension()))
            });
            write_atomically(&output, &rendered.bytes)?;
            println!(
                "{}: {}x{} {} {} bytes in {:.1} ms",
                output.display(),
                rendered.width,
                rendered.height,
                rendered.format,
                rendered.bytes.len(),
                elapsed.as_secs_f64() * 1e3
            );
            Ok(())
        }
        Command::Presets => {
            let presets = load_presets()?;
            for p in presets.iter() {
                println!("{:<12} {}  {}", p.name, p.fingerprint(), p.summary());
            }
            Ok(())
        }
        Command::Inspect { file } => {
            let bytes = read(&file)?;
            let report = thumbkit::inspect::inspect(&bytes)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            println!("{report}");
            Ok(())
        }
        Command::Bench(args) => bench::run(&args, &load_presets()?, &limits),
        Command::BenchWorker {
            preset,
            out_dir,
            files,
        } => {
            let presets = load_presets()?;
            let preset = presets
                .get(&preset)
                .ok_or_else(|| format!("no preset named `{preset}`"))?;
            bench::worker(preset, &limits, &out_dir, &files)
        }
    }
}

/// Writes to a temporary file beside `path` and renames it, so no half-written file is left.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{}: cannot write: {e}", path.display())
        })
}
