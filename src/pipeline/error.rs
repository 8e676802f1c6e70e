//! Why an input cannot be turned into a thumbnail.

/// Why an input could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum PipelineError {
    #[error("the input is empty (0 bytes)")]
    Empty,
    #[error("unsupported format: {0}")]
    UnsupportedFormat(String),
    #[error("the image data is truncated (the file ends before the image does)")]
    Truncated,
    #[error("the image is corrupt: {0}")]
    Corrupt(String),
    #[error("the input is {bytes} bytes, over the limit of {limit} bytes")]
    InputTooLarge { bytes: usize, limit: usize },
    #[error(
        "the image is {width}x{height} ({} megapixels), over the limit of {} megapixels",
        mp(*width as u64 * *height as u64),
        mp(*limit)
    )]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error(
        "the animation is {frames} frames of {width}x{height} ({} megapixels in all), over the \
         limit of {} megapixels for animations kept whole",
        mp((*width as u64 * *height as u64).saturating_mul(*frames as u64)),
        mp(*limit)
    )]
    AnimationTooLarge {
        frames: u32,
        width: u32,
        height: u32,
        limit: u64,
    },
    #[error("the output would be {width}x{height}, over the limit of {limit} pixels per side")]
    OutputTooLarge { width: u32, height: u32, limit: u32 },
    #[error("the preset draws page {page}, and the PDF has {pages}")]
    NoSuchPage { page: u32, pages: u32 },
    /// What reads this kind of original is not installed on this machine.
    #[error("{0}")]
    Unavailable(String),
    #[error("reading it took longer than its limit of {seconds} s")]
    TooSlow { seconds: u64 },
    #[error("cannot encode the thumbnail: {0}")]
    Encode(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A decoder's message on one line: libheif's end in a newline, some span several.
pub(crate) fn one_line(msg: &str) -> String {
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn mp(pixels: u64) -> String {
    format!("{:.1}", pixels as f64 / 1e6)
}

impl PipelineError {
    /// The error comes from the input's bytes (as this pipeline version reads them under
    /// these limits), not from the preset, the machine or chance: trying again gives it again.
    /// (An animation too large to keep is the preset's: its other presets render.)
    pub fn is_property_of_input(&self) -> bool {
        matches!(
            self,
            PipelineError::Empty
                | PipelineError::UnsupportedFormat(_)
                | PipelineError::Truncated
                | PipelineError::Corrupt(_)
                | PipelineError::TooManyPixels { .. }
        )
    }

    /// Maps an `image` crate error to what it means for the user.
    pub fn from_image(e: image::ImageError) -> Self {
        use image::ImageError as E;
        match e {
            // What a header declares (a GIF frame far larger than its screen, say) would
            // take more memory than a decode may: refused before any pixel is read.
            E::Limits(l) => {
                PipelineError::Corrupt(format!("it declares more than a decode may allocate ({l})"))
            }
            E::Unsupported(u) => PipelineError::UnsupportedFormat(u.to_string()),
            E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                PipelineError::Truncated
            }
            other => {
                let msg = one_line(&other.to_string());
                let lower = msg.to_ascii_lowercase();
                if lower.contains("eof")
                    || lower.contains("end of file")
                    || lower.contains("unexpected end")
                {
                    PipelineError::Truncated
                } else {
                    PipelineError::Corrupt(msg)
                }
            }
        }
    }
}
