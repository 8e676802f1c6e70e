//! The `thumbkit` command: render, list presets, inspect files, and benchmark.
//!
//! Every failure ends with a one-line reason on stderr and a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use thumbkit::bench;
use thumbkit::pipeline::{self, Limits, OutputFormat};
use thumbkit::preset::{FormatChoice, Presets};

#[derive(Parser)]
#[command(
    name = "thumbkit",
    version,
    about = "Image thumbnails from named presets, with no metadata in any output"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the presets come from (for the commands that use them).
#[derive(clap::Args)]
struct PresetArgs {
    /// Preset files: a directory of *.toml files (or single files); repeat or separate with ','.
    #[arg(
        long,
        env = "THUMBKIT_PRESETS",
        default_value = "presets",
        value_delimiter = ','
    )]
    preset_files: Vec<PathBuf>,
}

impl PresetArgs {
    fn load(&self) -> Result<Presets, String> {
        Presets::load(&self.preset_files).map_err(|e| e.to_string())
    }
}

/// What an input may cost (for the commands that read images).
#[derive(clap::Args, Clone, Copy)]
struct InputLimitArgs {
    /// Largest input accepted, in bytes.
    #[arg(long, env = "THUMBKIT_MAX_INPUT_BYTES", default_value_t = Limits::default().max_input_bytes)]
    max_input_bytes: usize,
    /// Largest image accepted, in pixels (width x height from the header).
    #[arg(long, env = "THUMBKIT_MAX_PIXELS", default_value_t = Limits::default().max_pixels)]
    max_pixels: u64,
}

impl InputLimitArgs {
    fn limits(self) -> Limits {
        Limits {
            max_input_bytes: self.max_input_bytes,
            max_pixels: self.max_pixels,
            ..Limits::default()
        }
    }
}

/// What an input and an output may cost (for the commands that render).
#[derive(clap::Args, Clone, Copy)]
struct LimitArgs {
    #[command(flatten)]
    input: InputLimitArgs,
    /// Largest output width or height.
    #[arg(long, env = "THUMBKIT_MAX_OUTPUT_SIDE", default_value_t = Limits::default().max_output_side)]
    max_output_side: u32,
}

impl LimitArgs {
    fn limits(self) -> Limits {
        Limits {
            max_output_side: self.max_output_side,
            ..self.input.limits()
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Render one image with a preset and write the thumbnail.
    Render {
        /// The preset's name (see `thumbkit presets`).
        #[arg(long)]
        preset: String,
        #[command(flatten)]
        presets: PresetArgs,
        #[command(flatten)]
        limits: LimitArgs,
        /// The original image.
        input: PathBuf,
        /// Where to write the thumbnail (default: `<input stem>.<preset>.<ext>` beside it).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Output format for `auto`/`source` presets: jpeg, png or webp
        /// (default: from the output's extension, else as the service would without WebP).
        #[arg(short, long)]
        format: Option<String>,
    },
    /// Serve thumbnails over HTTP: GET /t/{preset}/{key}.
    Serve(Box<ServeArgs>),
    /// Render every missing variant of every original in the store (resumable).
    Pregen {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        preset_files: PresetArgs,
        #[command(flatten)]
        limits: LimitArgs,
        /// Only originals whose key starts with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Presets to render: `all` or names separated by `,` (or spaces).
        #[arg(long, default_value = "all", value_delimiter = ',', num_args = 1..)]
        presets: Vec<String>,
        /// Originals processed at a time (default: the number of cores).
        #[arg(long)]
        concurrency: Option<usize>,
    },
    /// Delete originals with every variant and record derived from them.
    Purge {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        presets: PresetArgs,
        #[command(flatten)]
        limits: LimitArgs,
        /// Keys of the originals.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Sign a thumbnail URL path (e.g. `/t/thumb/a.jpg?v=...`) with THUMBKIT_SIGNING_KEY.
    Sign {
        /// The path, percent-encoded as it will be requested.
        path: String,
        /// How long the URL stays valid, e.g. `15m`, `24h`.
        #[arg(long, default_value = "15m", value_parser = parse_duration)]
        ttl: std::time::Duration,
        /// Signing keys (the first signs).
        #[arg(long, env = "THUMBKIT_SIGNING_KEY", hide_env_values = true)]
        signing_key: String,
    },
    /// List the presets with their fingerprints.
    Presets(PresetArgs),
    /// Show a file's format, upright size, orientation, frames, colour space and metadata,
    /// and whether it renders.
    Inspect {
        /// The file to inspect.
        file: PathBuf,
        #[command(flatten)]
        limits: InputLimitArgs,
    },
    /// Compare thumbkit with vipsthumbnail on Task A (JPEG -> inside 320x320, q80), same run.
    Bench {
        #[command(flatten)]
        args: bench::Args,
        #[command(flatten)]
        presets: PresetArgs,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Internal: one benchmark worker (renders files with a preset, writes outputs).
    #[command(hide = true)]
    BenchWorker {
        #[command(flatten)]
        presets: PresetArgs,
        #[command(flatten)]
        limits: LimitArgs,
        #[arg(long)]
        preset: String,
        #[arg(long)]
        out_dir: PathBuf,
        files: Vec<PathBuf>,
    },
}

/// Where originals and variants live (shared by `serve`, `purge` and `pregen`).
#[derive(clap::Args)]
struct StoreArgs {
    /// Where originals and variants live: `fs:PATH` (the embedded default) or
    /// `s3://BUCKET[/PREFIX]` (credentials, region and endpoint from the standard AWS
    /// configuration: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_PROFILE,
    /// AWS_ENDPOINT_URL, ...).
    #[arg(long, env = "THUMBKIT_STORAGE", default_value = "fs:./data")]
    storage: String,
    /// S3 path-style URLs (endpoint/bucket/key): `auto` (on when AWS_ENDPOINT_URL or
    /// --s3-endpoint is set, as MinIO and Garage need), `true` or `false`.
    #[arg(long, env = "THUMBKIT_S3_PATH_STYLE", default_value = "auto", value_parser = ["auto", "true", "false"])]
    s3_path_style: String,
    /// S3 endpoint URL, overriding AWS_ENDPOINT_URL (e.g. http://127.0.0.1:3900).
    #[arg(long, env = "THUMBKIT_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// Folder of the store that holds rendered variants and hash records.
    #[arg(long, env = "THUMBKIT_VARIANTS_PREFIX", default_value = "_variants")]
    variants_prefix: String,
    /// Longest a single storage call may take, e.g. `10s`.
    #[arg(long, env = "THUMBKIT_STORAGE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    storage_timeout: std::time::Duration,
}

impl StoreArgs {
    fn spec(&self) -> Result<thumbkit::storage::StorageSpec, String> {
        thumbkit::keys::ObjectKey::parse(&self.variants_prefix)
            .map_err(|e| format!("THUMBKIT_VARIANTS_PREFIX: {e}"))?;
        thumbkit::storage::StorageSpec::parse(&self.storage)
    }

    /// Opens the store and checks that it is usable (the bucket exists, the credentials
    /// work), so a bad configuration fails once, at start.
    async fn open(&self) -> Result<std::sync::Arc<dyn thumbkit::storage::Store>, String> {
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

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "THUMBKIT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    presets: PresetArgs,
    #[command(flatten)]
    limits: LimitArgs,
    /// Signing keys (`,`-separated; the first signs, any verifies): `/t/...` then requires
    /// `exp` and `sig`, and manifests hand out signed URLs.
    #[arg(long, env = "THUMBKIT_SIGNING_KEY", hide_env_values = true)]
    signing_key: Option<String>,
    /// How long an upload ticket's URL stays valid (at most 15m).
    #[arg(long, env = "THUMBKIT_UPLOAD_TTL", default_value = "15m", value_parser = parse_duration)]
    upload_ttl: std::time::Duration,
    /// How long the signed URLs in upload manifests stay valid, e.g. `24h`.
    #[arg(long, env = "THUMBKIT_SIGNED_URL_TTL", default_value = "24h", value_parser = parse_duration)]
    signed_url_ttl: std::time::Duration,
    /// Presets pre-generated when an S3 event reports a new original: `all` or names.
    #[arg(
        long,
        env = "THUMBKIT_PREGENERATE",
        default_value = "all",
        value_delimiter = ','
    )]
    pregenerate: Vec<String>,
    /// Bearer token that the API's writes (PUT/DELETE /v1/...) require.
    #[arg(long, env = "THUMBKIT_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// Accept API writes without a token on a non-loopback address (behind a trusted proxy).
    #[arg(long, env = "THUMBKIT_ALLOW_UNAUTHENTICATED_WRITES")]
    allow_unauthenticated_writes: bool,
    /// Log level: error, warn, info (one line per request) or debug.
    #[arg(long, env = "THUMBKIT_LOG", default_value = "info")]
    log: tracing_subscriber::filter::LevelFilter,
    /// Bytes of rendered variants kept in memory, e.g. `256MiB`.
    #[arg(long, env = "THUMBKIT_MEMORY_CACHE", default_value = "256MiB", value_parser = parse_bytes)]
    memory_cache: u64,
    /// Render worker threads (default: the number of cores).
    #[arg(long, env = "THUMBKIT_RENDER_WORKERS")]
    render_workers: Option<usize>,
    /// Renders that may wait for a worker before requests get 503 (default: 4 per worker).
    #[arg(long, env = "THUMBKIT_RENDER_QUEUE")]
    render_queue: Option<usize>,
    /// Longest a render may take, e.g. `30s`.
    #[arg(long, env = "THUMBKIT_RENDER_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    render_timeout: std::time::Duration,
    /// How long an original's content hash is trusted before its ETag is checked again.
    #[arg(long, env = "THUMBKIT_REVALIDATE", default_value = "30s", value_parser = parse_duration)]
    revalidate: std::time::Duration,
    /// While the store cannot be reached, how long after it last confirmed an original its
    /// variants in memory are still served.
    #[arg(long, env = "THUMBKIT_STALE_IF_ERROR", default_value = "5m", value_parser = parse_duration)]
    stale_if_error: std::time::Duration,
    /// Longest a thumbnail request may take, storage calls and render included.
    #[arg(long, env = "THUMBKIT_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    request_timeout: std::time::Duration,
    /// Longest a client may take to send a request's headers.
    #[arg(long, env = "THUMBKIT_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    header_timeout: std::time::Duration,
    /// Longest a client may take to send a request's body.
    #[arg(long, env = "THUMBKIT_BODY_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    body_timeout: std::time::Duration,
    /// How long a keep-alive connection may stay idle.
    #[arg(long, env = "THUMBKIT_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    idle_timeout: std::time::Duration,
    /// Connections served at once (default: 1024, fewer if the open-files limit is low).
    #[arg(long, env = "THUMBKIT_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// After SIGTERM, how long open connections, then pending writes, get to finish.
    #[arg(long, env = "THUMBKIT_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    shutdown_timeout: std::time::Duration,
    /// SNS topic ARNs whose messages /v1/hooks/s3 accepts (default: any that verifies).
    #[arg(long, env = "THUMBKIT_SNS_TOPICS", value_delimiter = ',')]
    sns_topics: Vec<String>,
    /// One more origin trusted to serve SNS certificates and subscription URLs, for an SNS
    /// emulator (e.g. `http://localhost:4566`); AWS's SNS hosts are always trusted.
    #[arg(long, env = "THUMBKIT_SNS_ORIGIN")]
    sns_origin: Option<String>,
}

/// Parses `1024`, `64KiB`, `256MiB`, `1GiB` (also KB/MB/GB as powers of 1000).
fn parse_bytes(s: &str) -> Result<u64, String> {
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
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
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

fn main() -> ExitCode {
    thumbkit::runtime::tune_allocator();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("thumbkit: {message}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Render {
            preset,
            presets,
            limits,
            input,
            output,
            format,
        } => {
            let (presets, limits) = (presets.load()?, limits.limits());
            let preset = presets.get(&preset).ok_or_else(|| {
                let names: Vec<&str> = presets.iter().map(|p| p.name.as_str()).collect();
                format!("no preset named `{preset}` (have: {})", names.join(", "))
            })?;
            let bytes = read(&input)?;
            let started = Instant::now();
            let source = pipeline::probe(&bytes, &limits)
                .map_err(|e| format!("{}: {e}", input.display()))?;
            let flag = match &format {
                Some(f) => Some(
                    OutputFormat::parse(f)
                        .ok_or_else(|| format!("unknown format `{f}` (use jpeg, png or webp)"))?,
                ),
                None => None,
            };
            // The output's extension names a format too: never write one under another's name.
            let named = match output.as_deref().and_then(|o| o.extension()) {
                Some(ext) => {
                    let ext = ext.to_string_lossy();
                    Some(OutputFormat::parse(&ext).ok_or_else(|| {
                        format!("cannot write a `.{ext}` file: thumbkit writes .jpg, .png or .webp")
                    })?)
                }
                None => None,
            };
            let requested = match (flag, named) {
                (Some(f), Some(n)) if f != n => {
                    return Err(format!(
                        "-f {f} does not match the output's extension ({n})"
                    ));
                }
                (f, n) => f.or(n),
            };
            let out_format = match (preset.format, requested) {
                (FormatChoice::Auto | FormatChoice::Source, Some(f)) => f,
                (choice, requested) => {
                    let fixed = OutputFormat::resolve(choice, &source, false);
                    if let Some(f) = requested.filter(|f| *f != fixed) {
                        return Err(format!(
                            "preset `{}` makes {fixed}, not {f}; use a `.{}` output or a preset \
                             with format = \"auto\"",
                            preset.name.as_str(),
                            fixed.extension()
                        ));
                    }
                    fixed
                }
            };
            let rendered = pipeline::render(&bytes, preset, out_format, &limits)
                .map_err(|e| format!("{}: {e}", input.display()))?;
            let elapsed = started.elapsed();
            let output = output.unwrap_or_else(|| {
                let stem = input
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("image");
                input.with_file_name(format!("{stem}.{}.{}", preset.name, out_format.extension()))
            });
            write_atomically(&output, &rendered.bytes)?;
            println!(
                "{}: {}x{} {} {} bytes in {:.1} ms",
                output.display(),
                rendered.width,
                rendered.height,
                rendered.format,
                rendered.bytes.len(),
                elapsed.as_secs_f64() * 1e3
            );
            Ok(())
        }
        Command::Serve(args) => {
            let (presets, limits) = (args.presets.load()?, args.limits.limits());
            serve(*args, presets, limits)
        }
        Command::Pregen {
            store,
            preset_files,
            limits,
            prefix,
            presets,
            concurrency,
        } => pregen(
            &store,
            &prefix,
            &presets,
            concurrency,
            preset_files.load()?,
            limits.limits(),
        ),
        Command::Purge {
            store,
            presets,
            limits,
            keys,
        } => purge(&store, keys, presets.load()?, limits.limits()),
        Command::Sign {
            path,
            ttl,
            signing_key,
        } => {
            if !path.starts_with("/t/") {
                return Err(format!(
                    "`{path}` is not a thumbnail path (/t/<preset>/<key>)"
                ));
            }
            let signer = thumbkit::signing::Signer::parse(&signing_key)?;
            println!(
                "{}",
                signer.sign(&path, thumbkit::signing::now() + ttl.as_secs())
            );
            Ok(())
        }
        Command::Presets(presets) => {
            let presets = presets.load()?;
            for p in presets.iter() {
                println!("{:<12} {}  {}", p.name, p.fingerprint(), p.summary());
            }
            Ok(())
        }
        Command::Inspect { file, limits } => {
            let bytes = read(&file)?;
            let report = thumbkit::inspect::check(&bytes, &limits.limits())
                .map_err(|e| format!("{}: {e}", file.display()))?;
            println!("{report}");
            Ok(())
        }
        Command::Bench {
            args,
            presets,
            limits,
        } => bench::run(&args, &presets.load()?, &limits.limits()),
        Command::BenchWorker {
            presets,
            limits,
            preset,
            out_dir,
            files,
        } => {
            let (presets, limits) = (presets.load()?, limits.limits());
            let preset = presets
                .get(&preset)
                .ok_or_else(|| format!("no preset named `{preset}`"))?;
            bench::worker(preset, &limits, &out_dir, &files)
        }
    }
}

/// Writes to a temporary file beside `path` and renames it, so no half-written file is left.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{}: cannot write: {e}", path.display())
        })
}

fn serve(args: ServeArgs, presets: Presets, limits: Limits) -> Result<(), String> {
    use std::sync::Arc;
    use thumbkit::service::{Settings, Thumbnails};
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        // thumbkit's own lines at the chosen level; the SDK's and libraries' only when they
        // are errors (the AWS SDK warns at length while probing for a region, for example).
        let filter = tracing_subscriber::filter::Targets::new()
            .with_target("thumbkit", args.log)
            .with_default(tracing_subscriber::filter::LevelFilter::ERROR);
        let format = tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
        tracing_subscriber::registry()
            .with(format)
            .with(filter)
            .init();
    }
    args.store.spec()?;
    // Set but blank would mean "no token" below: refuse rather than run unauthenticated.
    for (var, given) in [
        ("THUMBKIT_API_TOKEN", &args.api_token),
        ("THUMBKIT_SIGNING_KEY", &args.signing_key),
    ] {
        let from_env = std::env::var_os(var).map(|v| v.to_string_lossy().into_owned());
        if [given.clone(), from_env]
            .iter()
            .flatten()
            .any(|v| v.split(',').all(|part| part.trim().is_empty()))
        {
            return Err(format!(
                "{var} is set but empty: give it a value, or unset it"
            ));
        }
    }
    if args.signing_key.is_some() && args.api_token.is_none() {
        return Err(
            "THUMBKIT_SIGNING_KEY needs THUMBKIT_API_TOKEN as well: without a token anyone could \
             read signed URLs from /v1/originals"
                .into(),
        );
    }
    if args.api_token.is_none()
        && !args.listen.ip().is_loopback()
        && !args.allow_unauthenticated_writes
    {
        return Err(format!(
            "refusing to accept unauthenticated uploads and deletes on {}: set THUMBKIT_API_TOKEN \
             (or THUMBKIT_ALLOW_UNAUTHENTICATED_WRITES=true behind a trusted proxy)",
            args.listen
        ));
    }
    thumbkit::runtime::raise_open_files_limit();
    let options = thumbkit::http::Options {
        api_token: args.api_token.clone(),
        body_timeout: args.body_timeout,
        connections: thumbkit::server::ConnectionLimits {
            header_timeout: args.header_timeout,
            idle_timeout: args.idle_timeout,
            max_connections: args
                .max_connections
                .unwrap_or_else(thumbkit::server::default_max_connections)
                .max(1),
            shutdown_timeout: args.shutdown_timeout,
        },
        sns: thumbkit::sns::SnsOptions {
            topics: args.sns_topics.clone(),
            extra_origin: args.sns_origin.clone(),
        },
    };
    let signer = args
        .signing_key
        .as_deref()
        .map(thumbkit::signing::Signer::parse)
        .transpose()?;
    let defaults = Settings::default();
    let workers = args
        .render_workers
        .unwrap_or(defaults.render_workers)
        .max(1);
    let settings = Settings {
        limits,
        memory_cache_bytes: args.memory_cache,
        render_workers: workers,
        render_queue: args.render_queue.unwrap_or(workers * 4),
        render_timeout: args.render_timeout,
        storage_timeout: args.store.storage_timeout,
        revalidate: args.revalidate,
        stale_if_error: args.stale_if_error,
        request_timeout: args.request_timeout,
        variants_prefix: args.store.variants_prefix.trim_end_matches('/').to_owned(),
        pregenerate: args.pregenerate.clone(),
        signer,
        signed_url_ttl: args.signed_url_ttl,
        upload_ttl: args.upload_ttl,
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start: {e}"))?;
    runtime.block_on(async move {
        let store = args.store.open().await?;
        let service = Arc::new(Thumbnails::new(store, presets, settings));
        service
            .select_presets(&args.pregenerate)
            .map_err(|e| format!("THUMBKIT_PREGENERATE: {e}"))?;
        let (addr, server) =
            thumbkit::http::bind(args.listen, service.clone(), options, shutdown_signal())
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        tracing::info!(storage = %service.storage().describe(), presets = service.presets().len(), "serving on http://{addr}/t/<preset>/<key>");
        let served = server.await.map_err(|e| format!("server: {e}"));
        // In-flight requests are done; now the variants still being written.
        if tokio::time::timeout(args.shutdown_timeout, service.drain())
            .await
            .is_err()
        {
            tracing::warn!(
                "gave up waiting for variant writes after {:?}",
                args.shutdown_timeout
            );
        }
        tracing::info!("stopped");
        served
    })
}

/// A service without HTTP, for the commands that work on the store.
fn offline_service(
    store: &StoreArgs,
    presets: Presets,
    limits: Limits,
) -> Result<
    (
        tokio::runtime::Runtime,
        std::sync::Arc<thumbkit::service::Thumbnails>,
    ),
    String,
> {
    use thumbkit::service::{Settings, Thumbnails};
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start: {e}"))?;
    let opened = runtime.block_on(store.open())?;
    let settings = Settings {
        limits,
        storage_timeout: store.storage_timeout,
        variants_prefix: store.variants_prefix.trim_end_matches('/').to_owned(),
        ..Settings::default()
    };
    let service = std::sync::Arc::new(Thumbnails::new(opened, presets, settings));
    Ok((runtime, service))
}

fn pregen(
    store: &StoreArgs,
    prefix: &str,
    presets: &[String],
    concurrency: Option<usize>,
    loaded: Presets,
    limits: Limits,
) -> Result<(), String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (runtime, service) = offline_service(store, loaded, limits)?;
    let concurrency = concurrency.unwrap_or(service.settings().render_workers);
    let stop = Arc::new(AtomicBool::new(false));
    let summary = runtime.block_on(async {
        let flag = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "pregen: stopping after the originals in progress (Ctrl-C again to abort)"
                );
                flag.store(true, Ordering::Relaxed);
                let _ = tokio::signal::ctrl_c().await;
                std::process::exit(130);
            }
        });
        thumbkit::backfill::run(service, prefix, presets, concurrency, stop).await
    });
    let summary = summary.map_err(|e| e.to_string())?;
    for (what, reason) in &summary.failed {
        eprintln!("failed: {what}: {reason}");
    }
    println!("{summary}");
    if summary.interrupted {
        Err("interrupted; run again to resume".into())
    } else if summary.failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} variants or originals failed",
            summary.failed.len()
        ))
    }
}

fn purge(
    store: &StoreArgs,
    keys: Vec<String>,
    presets: Presets,
    limits: Limits,
) -> Result<(), String> {
    let (runtime, service) = offline_service(store, presets, limits)?;
    let mut failed = 0;
    for key in &keys {
        match runtime.block_on(service.delete_original(key)) {
            Ok(d) if d.original || !d.derived.is_empty() => println!(
                "{key}: deleted{} and {} derived objects",
                if d.original { " the original" } else { "" },
                d.derived.len()
            ),
            Ok(_) => println!("{key}: nothing to delete"),
            Err(e) => {
                failed += 1;
                eprintln!("thumbkit: {key}: {e}");
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => Err(format!("{n} of {} keys could not be purged", keys.len())),
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
