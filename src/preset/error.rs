//! Why a preset file or directory could not be loaded: each error names the file and what
//! to change.

use std::path::PathBuf;

/// Why a preset file or directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    /// The file or directory could not be read.
    #[error(
        "{path}: cannot read: {source} (THUMBKIT_PRESETS or --preset-files names the presets folder)"
    )]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or a value of the wrong type.
    #[error("{path}: {reason}")]
    Syntax { path: PathBuf, reason: String },
    /// A field has a value outside what it allows.
    #[error("{path}: field `{field}`: {reason}")]
    Field {
        path: PathBuf,
        field: &'static str,
        reason: String,
    },
    /// The file name does not make a valid preset name.
    #[error("{path}: {reason}")]
    Name { path: PathBuf, reason: String },
    /// Two files define the same preset name.
    #[error("{path}: preset `{name}` is already defined by {first}")]
    Duplicate {
        path: PathBuf,
        name: String,
        first: PathBuf,
    },
    /// No preset files were found.
    #[error("{path}: no preset files (*.toml) found")]
    Empty { path: PathBuf },
}
