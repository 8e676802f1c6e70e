//! thumbkit: a self-hosted image thumbnail service.
//!
//! Reading order follows the data: [`preset`] says what a variant is, [`pipeline`] turns an
//! original's bytes into that variant, [`keys`] names originals and variants in the bucket,
//! [`storage`] holds them (a local directory or S3), [`originals`] learns an original's
//! content hash without reading it twice, [`service`] finds or renders a variant through the
//! memory and store tiers, [`lifecycle`] uploads, pre-generates and deletes originals, and [`http`] answers requests (its `server` holds the
//! connections, `api` the upload-hook routes, `negotiate` reads `Accept`; [`metrics`] counts). [`inspect`] reports what an input carries, and [`bench`] measures the
//! pipeline against libvips' `vipsthumbnail`.

pub mod backfill;
pub mod bench;
pub mod http;
pub mod inspect;
pub mod keys;
pub mod lifecycle;
pub mod metrics;
pub mod originals;
pub mod pipeline;
pub mod preset;
pub mod runtime;
pub mod service;
pub mod signing;
pub mod sns;
pub mod storage;
pub mod uploads;
pub mod workers;
