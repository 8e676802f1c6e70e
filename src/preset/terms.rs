//! The words a preset is written in: its name and [`Fingerprint`] (the bucket's words, from
//! [`keys`](crate::keys)) and its fit, gravity, format, quality and background colour (the
//! pipeline's, from [`Spec`](crate::pipeline::Spec)).

pub use crate::keys::{Fingerprint, PresetName};
pub use crate::pipeline::spec::{Animation, Colour, Fit, FormatChoice, Gravity, Quality, fit_name};

/// The largest width or height a preset may ask for.
pub const MAX_PRESET_SIDE: u32 = 10_000;
