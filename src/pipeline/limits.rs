//! What one input may cost: bytes, pixels and the size of the output.

/// What the pipeline refuses to take on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input in bytes.
    pub max_input_bytes: usize,
    /// Largest decoded image in pixels (width x height as the header declares it).
    pub max_pixels: u64,
    /// Largest output width or height.
    pub max_output_side: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: 50 << 20,
            max_pixels: 50_000_000,
            max_output_side: 10_000,
        }
    }
}
