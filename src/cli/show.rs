//! `thumbkit presets` and `thumbkit inspect`: what thumbkit sees in its presets and in a file.

use std::path::PathBuf;

use thumbkit::pipeline::Limits;
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
