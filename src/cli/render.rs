//! `thumbkit render`: images through one preset, like `vipsthumbnail` in batch: each written
//! where `-o` says (a file for one input, a folder for several) or beside its input, in the
//! format the preset, `-f` and the output's extension agree on. Inputs are shared out to
//! `--workers` threads; a file that fails is one line on stderr and the rest go on (exit 1
//! at the end).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use thumbkit::pipeline::{self, Limits, OutputFormat};
use thumbkit::preset::{FormatChoice, Preset};

use thumbkit::config::{LimitArgs, PresetArgs};

use super::error::CliError;
use super::files::{read, write_atomically};

/// What `thumbkit render` is asked.
#[derive(Debug, clap::Args)]
pub(crate) struct RenderArgs {
    /// The preset's name (see `thumbkit presets`).
    #[arg(long)]
    preset: String,
    #[command(flatten)]
    presets: PresetArgs,
    #[command(flatten)]
    limits: LimitArgs,
    /// The original images (any number: each is rendered on its own; one that fails is
    /// one line on stderr and the rest go on).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Where to write: a file for one input; a folder (created if missing) for several,
    /// or for one when it ends with `/` (default: `<input stem>.<preset>.<ext>` beside
    /// each input).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output format for `auto`/`source` presets: jpeg, png, webp or avif
    /// (default: from the output's extension, else as the service would without WebP).
    #[arg(short, long)]
    format: Option<String>,
    /// Images rendered at once (default: the number of cores).
    #[arg(long)]
    workers: Option<usize>,
}

/// One input and where its thumbnail goes.
struct Job {
    input: PathBuf,
    target: Target,
}

/// Where a thumbnail is written.
enum Target {
    /// Beside its input, named `<stem>.<preset>.<ext>`.
    Beside,
    /// In this folder, named `<stem>.<preset>.<ext>`.
    Folder(PathBuf),
    /// This file (one input), its extension naming the format.
    File(PathBuf),
}

impl Job {
    /// The thumbnail's path once its format is known (`None`: the name without extension,
    /// which is what two inputs must not share).
    fn output(&self, preset: &Preset, format: Option<OutputFormat>) -> PathBuf {
        let name = || file_name(&self.input, preset, format);
        match &self.target {
            Target::Beside => self.input.with_file_name(name()),
            Target::Folder(dir) => dir.join(name()),
            Target::File(path) => path.clone(),
        }
    }
}

/// Renders every input with the named preset; `Err` with the first failure's reason when
/// there was one input, else a count (each failure was printed as it happened).
pub(crate) fn run(args: RenderArgs) -> Result<(), CliError> {
    let (presets, limits) = (args.presets.load()?, args.limits.limits());
    let preset = presets.get(&args.preset).ok_or_else(|| {
        let names: Vec<&str> = presets.iter().map(|p| p.name.as_str()).collect();
        CliError::usage(format!(
            "no preset named `{}` (have: {})",
            args.preset,
            names.join(", ")
        ))
    })?;
    let workers = match args.workers {
        Some(0) => return Err(CliError::usage("--workers must be at least 1")),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let jobs = plan(&args.inputs, args.output.as_deref(), preset)?;
    let flag = args.format.as_deref();
    if let [job] = jobs.as_slice() {
        let line = render_one(job, preset, flag, &limits)?;
        println!("{line}");
        return Ok(());
    }
    let failed = render_all(&jobs, workers.min(jobs.len()), preset, flag, &limits);
    match failed {
        0 => Ok(()),
        n => Err(CliError::Incomplete(format!(
            "{n} of {} inputs could not be rendered (each is named above)",
            jobs.len()
        ))),
    }
}

/// Where each input's thumbnail goes; refused before anything is written when `-o` cannot
/// hold them or two inputs would write the same file.
fn plan(inputs: &[PathBuf], output: Option<&Path>, preset: &Preset) -> Result<Vec<Job>, CliError> {
    let names_folder = |o: &Path| o.is_dir() || o.as_os_str().to_string_lossy().ends_with('/');
    let folder = match output {
        Some(o) if inputs.len() > 1 || names_folder(o) => {
            if o.exists() && !o.is_dir() {
                return Err(CliError::usage(format!(
                    "-o {} is a file; with several inputs -o names a folder",
                    o.display()
                )));
            }
            std::fs::create_dir_all(o).map_err(|source| CliError::Write {
                path: o.to_path_buf(),
                source,
            })?;
            Some(o)
        }
        _ => None,
    };
    let mut jobs = Vec::with_capacity(inputs.len());
    let mut taken: BTreeMap<PathBuf, &Path> = BTreeMap::new();
    for input in inputs {
        let target = match (folder, output) {
            (Some(dir), _) => Target::Folder(dir.to_path_buf()),
            (None, Some(file)) => Target::File(file.to_path_buf()),
            (None, None) => Target::Beside,
        };
        let job = Job {
            input: input.clone(),
            target,
        };
        // The extension is only known after the probe: the name without it decides clashes.
        let claim = job.output(preset, None);
        if let Some(first) = taken.insert(claim.clone(), input) {
            return Err(CliError::usage(format!(
                "{} and {} would both be written to {}",
                first.display(),
                input.display(),
                claim.display()
            )));
        }
        jobs.push(job);
    }
    Ok(jobs)
}

/// `<input stem>.<preset>.<ext>`, or `<input stem>.<preset>` before the format is known.
fn file_name(input: &Path, preset: &Preset, format: Option<OutputFormat>) -> String {
    let stem = input
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("image");
    match format {
        Some(f) => format!("{stem}.{}.{}", preset.name, f.extension()),
        None => format!("{stem}.{}", preset.name),
    }
}

/// Shares `jobs` out to `workers` threads; prints a line per thumbnail (or a progress bar on
/// a terminal) and one per failure. Answers how many failed.
fn render_all(
    jobs: &[Job],
    workers: usize,
    preset: &Preset,
    flag: Option<&str>,
    limits: &Limits,
) -> usize {
    let next = AtomicUsize::new(0);
    let (done, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let bar = std::io::stderr().is_terminal();
    let out = Mutex::new(());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let result = render_one(job, preset, flag, limits);
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    let _held = out.lock();
                    match result {
                        Ok(line) if !bar => println!("{line}"),
                        Ok(_) => {}
                        Err(e) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            let clear = if bar { "\r\x1b[K" } else { "" };
                            eprintln!("{clear}thumbkit: {e}");
                        }
                    }
                    if bar {
                        eprint!("\r[{n}/{}] {}", jobs.len(), job.input.display());
                        let _ = std::io::stderr().flush();
                    }
                }
            });
        }
    });
    let failed = failed.into_inner();
    if bar {
        eprintln!("\r\x1b[K{} rendered, {failed} failed", jobs.len() - failed);
    }
    failed
}

/// Renders one input and writes it; the line to print.
fn render_one(
    job: &Job,
    preset: &Preset,
    flag: Option<&str>,
    limits: &Limits,
) -> Result<String, CliError> {
    let bytes = read(&job.input)?;
    let started = Instant::now();
    let unrenderable = |source| CliError::Input {
        path: job.input.clone(),
        source,
    };
    // A video's poster frame is rendered in its place.
    let (source, bytes) = thumbkit::video::probe(&bytes, limits).map_err(unrenderable)?;
    let named = match &job.target {
        Target::File(path) => Some(path.as_path()),
        Target::Beside | Target::Folder(_) => None,
    };
    let requested = requested_format(flag, named)?;
    let out_format = match (preset.spec.format, requested) {
        (FormatChoice::Auto | FormatChoice::Source, Some(f)) => f,
        (_, requested) => {
            let fixed = OutputFormat::resolve(&preset.spec, &source, &[]);
            if let Some(f) = requested.filter(|f| *f != fixed) {
                return Err(CliError::usage(format!(
                    "preset `{}` makes {fixed}, not {f}; use a `.{}` output or a preset \
                     with format = \"auto\"",
                    preset.name.as_str(),
                    fixed.extension()
                )));
            }
            fixed
        }
    };
    let rendered =
        pipeline::render(&bytes, &preset.spec, out_format, limits).map_err(unrenderable)?;
    let elapsed = started.elapsed();
    let output = job.output(preset, Some(out_format));
    write_atomically(&output, &rendered.bytes)?;
    Ok(format!(
        "{}: {}x{} {} {} bytes in {:.1} ms",
        output.display(),
        rendered.width,
        rendered.height,
        rendered.format,
        rendered.bytes.len(),
        elapsed.as_secs_f64() * 1e3
    ))
}

/// The format `-f` and the output's extension ask for, if any; refused when they disagree
/// or name a format thumbkit does not write (never one format under another's name).
fn requested_format(
    flag: Option<&str>,
    output: Option<&Path>,
) -> Result<Option<OutputFormat>, CliError> {
    let flag = match flag {
        Some(f) => Some(OutputFormat::parse(f).ok_or_else(|| {
            CliError::usage(format!(
                "unknown format `{f}` (use jpeg, png, webp or avif)"
            ))
        })?),
        None => None,
    };
    let named = match output.and_then(|o| o.extension()) {
        Some(ext) => {
            let ext = ext.to_string_lossy();
            Some(OutputFormat::parse(&ext).ok_or_else(|| {
                CliError::usage(format!(
                    "cannot write a `.{ext}` file: thumbkit writes .jpg, .png or .webp"
                ))
            })?)
        }
        None => None,
    };
    match (flag, named) {
        (Some(f), Some(n)) if f != n => Err(CliError::usage(format!(
            "-f {f} does not match the output's extension ({n})"
        ))),
        (f, n) => Ok(f.or(n)),
    }
}
