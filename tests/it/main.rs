//! thumbkit's integration tests, one binary so that the helpers and the dependencies link
//! once: each module is one area, as a user meets it (`cargo test --test it s3::` runs one).

mod helpers;

mod api;
mod batch_render;
mod bench;
mod bombs;
mod browser;
mod cli;
mod clients;
mod crash;
mod deep_jpeg;
mod deploy;
mod examples;
mod failures;
mod faults;
mod hardening;
mod hostile;
mod layout;
mod memory;
mod peers;
mod pipeline;
mod presets;
mod priority;
mod queue;
mod readme;
mod refusals;
mod s3;
mod security;
mod service;
mod sns;
mod sources;
mod storage;
mod videos;
