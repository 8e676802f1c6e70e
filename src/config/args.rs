//! The flag groups several commands share: where presets come from, what an input may cost,
//! and where the store is. Each default is read from the type that uses it.

use std::path::PathBuf;

use std::time::Duration;

use super::error::ConfigError;
use super::units::{Size, Span};
use crate::keys::Layout;
use crate::pipeline::Limits;
use crate::preset::Presets;
use crate::service::Settings;
use crate::storage::{S3Options, SourceSpec, StorageSpec};

/// Where the presets come from (for the commands that use them).
#[derive(clap::Args, Debug, Clone)]
pub struct PresetArgs {
    /// Preset files: a directory of *.toml files (or single files); repeat or separate with ','.
    #[arg(
        long,
        env = "THUMBKIT_PRESETS",
        default_value = "presets",
        value_delimiter = ','
    )]
    pub preset_files: Vec<PathBuf>,
}

impl PresetArgs {
    /// Loads and validates every preset.
    pub fn load(&self) -> Result<Presets, ConfigError> {
        Ok(Presets::load(&self.preset_files)?)
    }
}

/// What an input may cost (for the commands that read images).
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct InputLimitArgs {
    /// Largest input accepted, e.g. `50MiB` (a plain number is bytes).
    #[arg(long, env = "THUMBKIT_MAX_INPUT_BYTES", default_value_t = Size(Limits::default().max_input_bytes as u64))]
    pub max_input_bytes: Size,
    /// Largest image accepted, in pixels (width x height from the header).
    #[arg(long, env = "THUMBKIT_MAX_PIXELS", default_value_t = Limits::default().max_pixels)]
    pub max_pixels: u64,
    /// Largest animation a preset with `animation = "keep"` keeps whole, in frames x pixels
    /// per frame (from the header); a larger one is refused (422).
    #[arg(long, env = "THUMBKIT_MAX_ANIMATION_PIXELS", default_value_t = Limits::default().max_animation_pixels)]
    pub max_animation_pixels: u64,
    /// Longest the `ffmpeg` program may take to give a video's poster frame, e.g. `20s`
    /// (keep it under the render timeout).
    #[arg(long, env = "THUMBKIT_VIDEO_TIMEOUT", default_value_t = Span(Limits::default().video_time))]
    pub video_timeout: Span,
    /// Memory (address space) the `ffmpeg` program may use for one video, e.g. `1GiB`.
    #[arg(long, env = "THUMBKIT_VIDEO_MEMORY", default_value_t = Size(Limits::default().video_memory))]
    pub video_memory: Size,
}

impl InputLimitArgs {
    /// The limits, the output's left at their defaults.
    pub fn limits(self) -> Limits {
        Limits {
            max_input_bytes: usize::try_from(self.max_input_bytes.0).unwrap_or(usize::MAX),
            max_pixels: self.max_pixels,
            max_animation_pixels: self.max_animation_pixels,
            video_time: self.video_timeout.0,
            video_memory: self.video_memory.0,
            ..Limits::default()
        }
    }
}

/// What an input and an output may cost (for the commands that render).
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct LimitArgs {
    #[command(flatten)]
    pub input: InputLimitArgs,
    /// Largest output width or height.
    #[arg(long, env = "THUMBKIT_MAX_OUTPUT_SIDE", default_value_t = Limits::default().max_output_side)]
    pub max_output_side: u32,
    /// libaom's speed for AVIF outputs, 0 (slowest, smallest) to 9 (fastest).
    #[arg(long, env = "THUMBKIT_AVIF_SPEED", default_value_t = Limits::default().avif_speed,
          value_parser = clap::value_parser!(u8).range(0..=9))]
    pub avif_speed: u8,
}

impl LimitArgs {
    /// The limits.
    pub fn limits(self) -> Limits {
        Limits {
            max_output_side: self.max_output_side,
            avif_speed: self.avif_speed,
            ..self.input.limits()
        }
    }
}

/// Where originals and variants live (shared by `serve`, `purge` and `pregen`).
#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    /// Where originals and variants live: `fs:PATH` (the embedded default) or
    /// `s3://BUCKET[/PREFIX]` (credentials, region and endpoint from the standard AWS
    /// configuration: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_PROFILE,
    /// AWS_ENDPOINT_URL, ...).
    #[arg(long, env = "THUMBKIT_STORAGE", default_value = "fs:./data")]
    pub storage: String,
    /// S3 path-style URLs (endpoint/bucket/key): `auto` (on when AWS_ENDPOINT_URL or
    /// --s3-endpoint is set, as MinIO and Garage need), `true` or `false`.
    #[arg(long, env = "THUMBKIT_S3_PATH_STYLE", default_value = "auto", value_parser = ["auto", "true", "false"])]
    pub s3_path_style: String,
    /// S3 endpoint URL, overriding AWS_ENDPOINT_URL (e.g. http://127.0.0.1:3900).
    #[arg(long, env = "THUMBKIT_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Folder of the store that holds rendered variants and hash records.
    #[arg(long, env = "THUMBKIT_VARIANTS_PREFIX", default_value_t = Settings::default().layout.prefix().to_owned())]
    pub variants_prefix: String,
    /// More stores beside the default, each addressed as `NAME:KEY`:
    /// `docs=s3://private-docs/scans,avatars=s3://public-media/avatars?profile=media`
    /// (each may take `profile=`, `region=` and `endpoint=`).
    #[arg(long, env = "THUMBKIT_SOURCES")]
    pub sources: Option<String>,
    /// Longest a single storage call may take, e.g. `10s`.
    #[arg(long, env = "THUMBKIT_STORAGE_TIMEOUT", default_value_t = Span(Settings::default().storage_timeout))]
    pub storage_timeout: Span,
}

impl StoreArgs {
    /// The store to open, checked: a valid location and variants folder.
    pub fn config(&self) -> Result<StoreConfig, ConfigError> {
        let layout = Layout::new(&self.variants_prefix).map_err(|e| ConfigError::Invalid {
            setting: "THUMBKIT_VARIANTS_PREFIX",
            reason: e.to_string(),
        })?;
        let spec = StorageSpec::parse(&self.storage).map_err(|reason| ConfigError::Invalid {
            setting: "THUMBKIT_STORAGE",
            reason,
        })?;
        if let Some(endpoint) = &self.s3_endpoint {
            let scheme = endpoint.starts_with("http://") || endpoint.starts_with("https://");
            if !scheme || endpoint.len() <= "https://".len() {
                return Err(ConfigError::Invalid {
                    setting: "THUMBKIT_S3_ENDPOINT",
                    reason: format!(
                        "`{}` is not an http:// or https:// URL (e.g. http://127.0.0.1:3900)",
                        crate::secrets::redact_url(endpoint)
                    ),
                });
            }
        }
        let sources = SourceSpec::parse_list(self.sources.as_deref().unwrap_or_default()).map_err(
            |reason| ConfigError::Invalid {
                setting: "THUMBKIT_SOURCES",
                reason,
            },
        )?;
        let layout = layout.with_sources(sources.iter().map(|s| s.name.clone()));
        Ok(StoreConfig {
            sources,
            spec,
            s3: S3Options {
                endpoint_url: self.s3_endpoint.clone(),
                path_style: self.s3_path_style.parse().ok(),
                ..S3Options::default()
            },
            layout,
            timeout: self.storage_timeout.0,
        })
    }
}

/// Where the store is and how to reach it.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub spec: StorageSpec,
    /// The stores beside the default one (`THUMBKIT_SOURCES`).
    pub sources: Vec<SourceSpec>,
    /// Endpoint and path style for S3 (credentials and region from the AWS chain).
    pub s3: S3Options,
    /// Where thumbkit keeps what it derives.
    pub layout: Layout,
    /// Longest a single storage call may take.
    pub timeout: Duration,
}

impl Default for StoreConfig {
    /// The embedded default: a local directory, `./data`.
    fn default() -> Self {
        Self {
            spec: StorageSpec::Fs(PathBuf::from("./data")),
            sources: Vec::new(),
            s3: S3Options::default(),
            layout: Settings::default().layout,
            timeout: Settings::default().storage_timeout,
        }
    }
}
