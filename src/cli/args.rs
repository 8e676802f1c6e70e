//! The flags several commands share: where presets come from, what an input may cost, and
//! where the store is; and the parsing of sizes and durations they are written in.

use std::path::PathBuf;

use thumbkit::pipeline::Limits;
use thumbkit::preset::Presets;

/// Where the presets come from (for the commands that use them).
#[derive(clap::Args)]
pub(crate) struct PresetArgs {
    /// Preset files: a directory of *.toml files (or single files); repeat or separate with ','.
    #[arg(
        long,
        env = "THUMBKIT_PRESETS",
        default_value = "presets",
        value_delimiter = ','
    )]
    pub(crate) preset_files: Vec<PathBuf>,
}

impl PresetArgs {
    pub(crate) fn load(&self) -> Result<Presets, String> {
        Presets::load(&self.preset_files).map_err(|e| e.to_string())
    }
}

/// What an input may cost (for the commands that read images).
#[derive(clap::Args, Clone, Copy)]
pub(crate) struct InputLimitArgs {
    /// Largest input accepted, in bytes.
    #[arg(long, env = "THUMBKIT_MAX_INPUT_BYTES", default_value_t = Limits::default().max_input_bytes)]
    pub(crate) max_input_bytes: usize,
    /// Largest image accepted, in pixels (width x height from the header).
    #[arg(long, env = "THUMBKIT_MAX_PIXELS", default_value_t = Limits::default().max_pixels)]
    pub(crate) max_pixels: u64,
}

impl InputLimitArgs {
    pub(crate) fn limits(self) -> Limits {
        Limits {
            max_input_bytes: self.max_input_bytes,
            max_pixels: self.max_pixels,
            ..Limits::default()
        }
    }
}

/// What an input and an output may cost (for the commands that render).
#[derive(clap::Args, Clone, Copy)]
pub(crate) struct LimitArgs {
    #[command(flatten)]
    pub(crate) input: InputLimitArgs,
    /// Largest output width or height.
    #[arg(long, env = "THUMBKIT_MAX_OUTPUT_SIDE", default_value_t = Limits::default().max_output_side)]
    pub(crate) max_output_side: u32,
}

impl LimitArgs {
    pub(crate) fn limits(self) -> Limits {
        Limits {
            max_output_side: self.max_output_side,
            ..self.input.limits()
        }
    }
}

/// Where originals and variants live (shared by `serve`, `purge` and `pregen`).
#[derive(clap::Args)]
pub(crate) struct StoreArgs {
    /// Where originals and variants live: `fs:PATH` (the embedded default) or
    /// `s3://BUCKET[/PREFIX]` (credentials, region and endpoint from the standard AWS
    /// configuration: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_PROFILE,
    /// AWS_ENDPOINT_URL, ...).
    #[arg(long, env = "THUMBKIT_STORAGE", default_value = "fs:./data")]
    pub(crate) storage: String,
    /// S3 path-style URLs (endpoint/bucket/key): `auto` (on when AWS_ENDPOINT_URL or
    /// --s3-endpoint is set, as MinIO and Garage need), `true` or `false`.
    #[arg(long, env = "THUMBKIT_S3_PATH_STYLE", default_value = "auto", value_parser = ["auto", "true", "false"])]
    pub(crate) s3_path_style: String,
    /// S3 endpoint URL, overriding AWS_ENDPOINT_URL (e.g. http://127.0.0.1:3900).
    #[arg(long, env = "THUMBKIT_S3_ENDPOINT")]
    pub(crate) s3_endpoint: Option<String>,
    /// Folder of the store that holds rendered variants and hash records.
    #[arg(long, env = "THUMBKIT_VARIANTS_PREFIX", default_value = "_variants")]
    pub(crate) variants_prefix: String,
    /// Longest a single storage call may take, e.g. `10s`.
    #[arg(long, env = "THUMBKIT_STORAGE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub(crate) storage_timeout: std::time::Duration,
}

impl StoreArgs {
    pub(crate) fn spec(&self) -> Result<thumbkit::storage::StorageSpec, String> {
        self.layout()?;
        thumbkit::storage::StorageSpec::parse(&self.storage)
    }

    /// Where thumbkit keeps what it derives, under the variants prefix.
    pub(crate) fn layout(&self) -> Result<thumbkit::keys::Layout, String> {
        thumbkit::keys::Layout::new(&self.variants_prefix)
            .map_err(|e| format!("THUMBKIT_VARIANTS_PREFIX: {e}"))
    }

    /// Opens the store and checks that it is usable (the bucket exists, the credentials
    /// work), so a bad configuration fails once, at start.
    pub(crate) async fn open(
        &self,
    ) -> Result<std::sync::Arc<dyn thumbkit::storage::Store>, String> {
        use std::sync::Arc;
        use thumbkit::storage::{FsStore, S3Options, S3Store, StorageSpec, Store};
        let store: Arc<dyn Store> = match self.spec()? {
            StorageSpec::Fs(root) => {
                Arc::new(FsStore::open(&root).await.map_err(|e| e.to_string())?)
            }
            StorageSpec::S3(location) => {
                let options = S3Options {
                    endpoint_url: self.s3_endpoint.clone(),
                    path_style: self.s3_path_style.parse().ok(),
                    ..S3Options::default()
                };
                Arc::new(S3Store::connect(location, options).await)
            }
        };
        match tokio::time::timeout(self.storage_timeout, store.check()).await {
            Ok(Ok(())) => Ok(store),
            Ok(Err(e)) => Err(format!("storage {}: {e}", store.describe())),
            Err(_) => Err(format!(
                "storage {}: no answer within {:?}",
                store.describe(),
                self.storage_timeout
            )),
        }
    }
}

/// Parses `1024`, `64KiB`, `256MiB`, `1GiB` (also KB/MB/GB as powers of 1000).
pub(crate) fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 256MiB"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KiB, MiB, GiB)"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// Parses `500ms`, `30s`, `5m`, `24h`, `7d` or a number of seconds.
pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 30s"))?;
    match unit {
        "ms" => Ok(std::time::Duration::from_millis(n)),
        "" | "s" => Ok(std::time::Duration::from_secs(n)),
        "m" => Ok(std::time::Duration::from_secs(n * 60)),
        "h" => Ok(std::time::Duration::from_secs(n * 3600)),
        "d" => Ok(std::time::Duration::from_secs(n * 86_400)),
        other => Err(format!(
            "unknown duration unit `{other}` (use ms, s, m, h or d)"
        )),
    }
}
