//! `thumbkit doctor`: reads the configuration `serve` would run with and checks, one line
//! each with the fix, what makes a deployment fail later: the store, every permission
//! thumbkit uses (on a probe object of its own), the clock, the presets, the secrets a
//! public address needs, whether the caches fit in the machine's memory, and the SQS queue.

use std::time::{Duration, SystemTime};

use thumbkit::config::{ServeArgs, StoreConfig};
use thumbkit::preset::Presets;
use thumbkit::service::budget::PER_WORKER;
use thumbkit::storage::StorageSpec;

use super::error::CliError;

mod probes;
mod queue;
mod report;

use probes::{Probed, hidden_keys, permissions};
use report::Report;

/// SigV4 refuses requests whose time is further than this from the server's.
const SIGV4_SKEW: Duration = Duration::from_secs(15 * 60);
/// What the process needs besides the cache and the decode budgets: code, connections,
/// buffers (the soak's resident set with an empty cache).
const BASE_BYTES: u64 = 64 << 20;

/// Runs every check; exits non-zero when any fails.
pub(crate) fn run(args: ServeArgs) -> Result<(), CliError> {
    let mut report = Report { failed: 0 };
    let store_config = match args.store.config() {
        Ok(c) => Some(c),
        Err(e) => {
            report.fail("storage", e.to_string(), "fix THUMBKIT_STORAGE");
            None
        }
    };
    let presets_ok = match Presets::load(&args.presets.preset_files) {
        Ok(p) => {
            let (presets, variants) = (p.iter().count(), p.every().count());
            report.ok(
                "presets",
                format!("{presets} presets load ({variants} variants with their steps)"),
            );
            true
        }
        Err(e) => {
            let fix = match e {
                thumbkit::preset::PresetError::Io { .. } => {
                    "the folder must exist and hold *.toml preset files"
                }
                _ => "fix the preset file it names",
            };
            report.fail("presets", e.to_string(), fix);
            false
        }
    };
    secrets(&args, &mut report);
    memory(&args, &mut report);
    videos(&mut report);
    for (var, _, why) in thumbkit::config::env::not_used() {
        report.ok("django-storages", format!("{var} read, not used: {why}"));
    }
    // What the checks above already said is not said again.
    let config = args.clone().config();
    if let Err(e) = &config
        && store_config.is_some()
        && presets_ok
    {
        report.fail(
            "configuration",
            e.to_string(),
            "serve would refuse to start",
        );
    }
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    if let Some(store_config) = store_config {
        runtime.block_on(store(&store_config, &mut report));
    }
    let render_timeout = config.as_ref().ok().map(|c| c.service.render_timeout);
    runtime.block_on(queue::check(&args.queue, render_timeout, &mut report));
    match report.failed {
        0 => {
            println!("doctor: every check passed");
            Ok(())
        }
        1 => Err(CliError::Incomplete("1 check failed".into())),
        n => Err(CliError::Incomplete(format!("{n} checks failed"))),
    }
}

/// Whether videos' poster frames can be read: a warning, as a service of images runs without.
fn videos(report: &mut Report) {
    match thumbkit::video::version() {
        Ok(version) => report.ok("videos", format!("poster frames read by {version}")),
        Err(e) => report.warn(
            "videos",
            format!("video originals are refused with 422: {e}"),
            "install ffmpeg (Debian and Ubuntu: apt install ffmpeg)",
        ),
    }
}

fn secrets(args: &ServeArgs, report: &mut Report) {
    if args.listen.ip().is_loopback() {
        if args.api_token.is_some() {
            report.ok(
                "secrets",
                format!(
                    "listening on loopback ({}) with the API token set",
                    args.listen
                ),
            );
        } else {
            report.warn(
                "secrets",
                format!(
                    "listening on loopback ({}) without THUMBKIT_API_TOKEN: any local process \
                     can upload, delete and pre-generate (writes need a loopback Host and JSON)",
                    args.listen
                ),
                "set THUMBKIT_API_TOKEN (e.g. `openssl rand -hex 32`) unless this machine is yours alone",
            );
        }
        return;
    }
    match (&args.api_token, &args.signing_key) {
        (Some(_), Some(_)) => report.ok(
            "secrets",
            format!("{}: the API token and the signing key are set", args.listen),
        ),
        (token, _) => {
            let missing: Vec<&str> = [
                token.is_none().then_some("THUMBKIT_API_TOKEN"),
                args.signing_key.is_none().then_some("THUMBKIT_SIGNING_KEY"),
            ]
            .into_iter()
            .flatten()
            .collect();
            report.fail(
                "secrets",
                format!(
                    "listening on {} without {}",
                    args.listen,
                    missing.join(" and ")
                ),
                "set them (e.g. `openssl rand -hex 32`), or listen on 127.0.0.1 behind a proxy",
            );
        }
    }
}

fn memory(args: &ServeArgs, report: &mut Report) {
    let workers = args
        .service
        .render_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
        .max(1) as u64;
    let need = args.service.memory_cache.0 + workers * PER_WORKER + BASE_BYTES;
    let Some((limit, source)) = memory_limit() else {
        report.ok(
            "memory",
            "the machine's memory could not be read; not checked",
        );
        return;
    };
    let what = format!(
        "cache {} + {workers} workers x {} decode budget + {} base = {} of {} ({source})",
        mib(args.service.memory_cache.0),
        mib(PER_WORKER),
        mib(BASE_BYTES),
        mib(need),
        mib(limit)
    );
    if need <= limit {
        report.ok("memory", what);
    } else {
        report.fail(
            "memory",
            what,
            "lower THUMBKIT_MEMORY_CACHE or THUMBKIT_RENDER_WORKERS, or give it more memory",
        );
    }
}

/// The memory this process may use: a cgroup's limit (a container's) if lower than RAM.
fn memory_limit() -> Option<(u64, &'static str)> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?
        * 1024;
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    match cgroup {
        Some(limit) if limit < total => Some((limit, "the cgroup's memory.max")),
        _ => Some((total, "the machine's memory")),
    }
}

async fn store(config: &StoreConfig, report: &mut Report) {
    let store = match thumbkit::startup::open_store(config).await {
        Ok(store) => {
            report.ok(
                "store",
                match config.spec {
                    StorageSpec::S3(_) => {
                        format!("{} answers, the bucket exists", store.describe())
                    }
                    StorageSpec::Fs(_) => format!("{} is a usable directory", store.describe()),
                },
            );
            store
        }
        Err(e) => {
            report.fail("store", e.to_string(), store_fix(&config.spec));
            return;
        }
    };
    let bounded = |what| async move { tokio::time::timeout(config.timeout, what).await };
    match bounded(store.server_time()).await.ok().flatten() {
        Some(server) => {
            let now = SystemTime::now();
            let skew = now
                .duration_since(server)
                .or_else(|_| server.duration_since(now))
                .unwrap_or_default();
            // `Date` has whole seconds: anything under 2 s is no measurable skew.
            let shown = format!("{} s from the store's clock", skew.as_secs());
            if skew < SIGV4_SKEW {
                report.ok("clock", shown);
            } else {
                report.fail(
                    "clock",
                    shown,
                    "SigV4 refuses requests over 15 min off: run NTP (chrony, systemd-timesyncd)",
                );
            }
        }
        None => report.ok("clock", "the store has no clock to compare (not S3)"),
    }
    hidden_keys(config, report).await;
    let prefix = config.layout.prefix();
    let default = Probed {
        name: None,
        spec: &config.spec,
        prefix,
    };
    permissions(store.as_ref(), default, config.timeout, report).await;
    for source in &config.sources {
        let name = Some(&source.name);
        let probed = Probed {
            name,
            spec: &source.spec,
            prefix,
        };
        permissions(store.as_ref(), probed, config.timeout, report).await;
    }
}

fn store_fix(spec: &StorageSpec) -> String {
    match spec {
        StorageSpec::S3(_) => {
            // The names the user wrote: django-storages' when they came from those.
            let said = |ours: &str, default: &'static str| match thumbkit::config::env::loaded()
                .and_then(|l| l.origin(ours))
            {
                Some(thumbkit::config::env::Origin::From(django, _)) => django.to_owned(),
                _ => default.to_owned(),
            };
            format!(
                "check {}, {}, the credentials and the bucket name",
                said(
                    "THUMBKIT_S3_ENDPOINT",
                    "AWS_ENDPOINT_URL/THUMBKIT_S3_ENDPOINT"
                ),
                said("AWS_REGION", "AWS_REGION")
            )
        }
        StorageSpec::Fs(_) => "create the directory, or point THUMBKIT_STORAGE at one".into(),
    }
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}
