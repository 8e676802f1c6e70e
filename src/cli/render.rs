//! `thumbkit render`: one image through one preset, written where `-o` says (or beside it),
//! in the format the preset, `-f` and the output's extension agree on.

use std::path::{Path, PathBuf};
use std::time::Instant;

use thumbkit::pipeline::{self, OutputFormat};
use thumbkit::preset::FormatChoice;

use thumbkit::config::{LimitArgs, PresetArgs};

use super::error::CliError;
use super::files::{read, write_atomically};

/// Renders `input` with the preset named `preset`.
pub(crate) fn run(
    preset: String,
    presets: PresetArgs,
    limits: LimitArgs,
    input: PathBuf,
    output: Option<PathBuf>,
    format: Option<String>,
) -> Result<(), CliError> {
    let (presets, limits) = (presets.load()?, limits.limits());
    let preset = presets.get(&preset).ok_or_else(|| {
        let names: Vec<&str> = presets.iter().map(|p| p.name.as_str()).collect();
        CliError::usage(format!(
            "no preset named `{preset}` (have: {})",
            names.join(", ")
        ))
    })?;
    let bytes = read(&input)?;
    let started = Instant::now();
    let unrenderable = |source| CliError::Input {
        path: input.clone(),
        source,
    };
    let source = pipeline::probe(&bytes, &limits).map_err(unrenderable)?;
    let requested = requested_format(format.as_deref(), output.as_deref())?;
    let out_format = match (preset.spec.format, requested) {
        (FormatChoice::Auto | FormatChoice::Source, Some(f)) => f,
        (choice, requested) => {
            let fixed = OutputFormat::resolve(choice, &source, &[]);
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
        pipeline::render(&bytes, &preset.spec, out_format, &limits).map_err(unrenderable)?;
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
