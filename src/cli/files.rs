//! Reading inputs and writing outputs for the commands: a failure names the file, and an
//! output is never left half-written.

use std::path::Path;

use super::error::CliError;

/// The bytes of `path`.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Writes to a temporary file beside `path` and renames it, so no half-written file is left.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            CliError::Write {
                path: path.to_owned(),
                source,
            }
        })
}
