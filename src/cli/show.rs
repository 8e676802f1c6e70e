//! `thumbkit presets` and `thumbkit inspect`: what thumbkit sees in its presets and in a file.

use std::path::PathBuf;

use thumbkit::pipeline::{Limits, PipelineError};
use thumbkit::preset::Presets;

use super::error::CliError;
use super::files::read;

/// Lists every preset and step (name, fingerprint, summary), or with `json` each preset as
/// `GET /v1/presets` answers it.
pub(super) fn presets(presets: &Presets, json: bool) -> Result<(), CliError> {
    if json {
        let listed: Vec<_> = presets.iter().map(|p| p.listed()).collect();
        println!("{}", serde_json::Value::Array(listed));
        return Ok(());
    }
    for p in presets.every() {
        println!("{:<12} {}  {}", p.name, p.fingerprint(), p.summary());
    }
    Ok(())
}

/// Prints what `file` is and carries, and whether it renders.
pub(super) fn inspect(file: PathBuf, limits: &Limits) -> Result<(), CliError> {
    let bytes = read(&file)?;
    if thumbkit::video::is_video(&bytes) {
        return inspect_video(&bytes, file, limits);
    }
    match thumbkit::pipeline::check(&bytes, limits) {
        Ok(report) => println!("{report}"),
        // A file that is no image thumbkit reads is still inspected: it says so.
        Err(e) if e.is_property_of_input() => {
            println!("format:      not an image thumbkit reads\nrenders:     no: {e}");
        }
        Err(source) => return Err(CliError::Input { path: file, source }),
    }
    Ok(())
}

/// A video: its container, its poster frame's size, its duration, and whether it renders
/// (a poster frame is extracted to tell).
fn inspect_video(bytes: &[u8], file: PathBuf, limits: &Limits) -> Result<(), CliError> {
    println!("format:      video ({})", thumbkit::video::mime(bytes));
    match thumbkit::video::validate(bytes, limits) {
        Ok((validated, _)) => {
            let (w, h) = validated.upright;
            println!("dimensions:  {w}x{h} (the poster frame, upright)");
            if let Some(ms) = validated.probe.duration_ms {
                println!("duration:    {:.2} s", ms as f64 / 1000.0);
            }
            println!("metadata:    not read (no tag of a video reaches a thumbnail)");
            println!("renders:     yes");
        }
        // Not readable here (no ffmpeg) is an answer too.
        Err(e) if e.is_property_of_input() || matches!(e, PipelineError::Unavailable(_)) => {
            println!("renders:     no: {e}")
        }
        Err(source) => return Err(CliError::Input { path: file, source }),
    }
    Ok(())
}
