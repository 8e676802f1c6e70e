//! Names of things in the bucket: an original's [`ObjectKey`], its [`ContentHash`], a
//! preset's [`PresetName`] and [`Fingerprint`], the [`VariantKey`] a rendered thumbnail is
//! stored under, and the [`Layout`] of everything
//! thumbkit derives (variants, records, staged uploads): the one place the bucket's key
//! scheme is written.
//!
//! Each is built only through a `parse`/constructor that validates, so no key that reaches
//! storage can climb out of its root or prefix (`..`, absolute paths) or carry control
//! characters, and a variant's key always names the content and the preset it came from.

mod layout;
mod names;
mod source;

pub use layout::Layout;
pub use names::{
    ContentHash, Fingerprint, KeyError, MAX_KEY_BYTES, MAX_SEGMENT_BYTES, ObjectKey, PresetName,
    VariantKey,
};
pub use source::{DEFAULT_SOURCE, SourceName, split_source};
