//! What the tests share: [`fixtures`] (the repo's images, presets, an independent container
//! walker and pixel comparisons) and [`app`] (thumbkit on a real socket, a real S3 server in
//! process, a raw HTTP client, the metrics reader, child processes) and [`process`] (the
//! binary run as a user runs it) and [`webdriver`] (headless Chromium).

pub mod app;
pub mod fixtures;
pub mod policy;
pub mod process;
pub mod s3;
pub mod servers;
pub mod sqs;
pub mod webdriver;
