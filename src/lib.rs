//! thumbkit: a self-hosted image thumbnail service.
//!
//! Reading order follows a request: [`http`] answers it (routes, problem+json, the
//! connection loop), [`service`] finds or renders the variant (memory, then the store, else
//! a render) and handles uploads, pre-generation and events, [`storage`] holds originals and
//! variants (a local directory or S3) under the names [`keys`] gives them, and [`pipeline`]
//! turns an original's bytes into a variant of a [`preset`]. Beside them: [`metrics`],
//! [`signing`] (signed URLs), [`sns`] (verifying SNS messages), [`process`] (allocator and
//! limits), [`pipeline::inspect`] (what a file carries) and [`bench`] (the pipeline against libvips).

pub mod bench;
pub mod caching;
pub mod config;
pub mod http;
pub mod https;
pub mod keys;
pub mod metrics;
pub mod peers;
pub mod pipeline;
pub mod preset;
pub mod process;
pub mod purge;
pub mod queue;
pub mod secrets;
pub mod service;
pub mod signing;
pub mod sns;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod video;
