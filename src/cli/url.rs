//! `thumbkit url` and `thumbkit sign`: the URL (or `srcset`) of a key's variant, pinned to a
//! local copy's content and signed when asked, as a backend would hand it to a page.

use std::path::PathBuf;

use thumbkit::config::{PresetArgs, Span};
use thumbkit::keys::{ContentHash, ObjectKey};
use thumbkit::pipeline::{self, Limits};
use thumbkit::secrets::Secret;
use thumbkit::service::manifest::{StepVariant, srcset, variant_path, variant_url};
use thumbkit::signing::{Signer, now};

use super::error::CliError;
use super::files::read;

/// The flags of `thumbkit url`.
#[derive(clap::Args)]
pub(crate) struct UrlArgs {
    /// The original's key in the store.
    key: String,
    /// The preset's name.
    #[arg(long)]
    preset: String,
    #[command(flatten)]
    presets: PresetArgs,
    /// Print the preset's `srcset` (every step) instead of one URL.
    #[arg(long)]
    srcset: bool,
    /// A local copy of the original: pins the URLs to its content (`?v=`) and gives a
    /// width ladder's `srcset` the widths this image really gets.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Sign the URLs with THUMBKIT_SIGNING_KEY.
    #[arg(long)]
    sign: bool,
    /// How long signed URLs stay valid.
    #[arg(long, default_value = "1h")]
    ttl: Span,
    #[arg(long, env = "THUMBKIT_SIGNING_KEY", hide_env_values = true)]
    signing_key: Option<Secret>,
    /// Put before each path, e.g. `https://img.example.com` (default: THUMBKIT_PUBLIC_URL,
    /// else none).
    #[arg(long, env = "THUMBKIT_PUBLIC_URL", default_value = "")]
    base: String,
}

pub(crate) fn run(args: UrlArgs) -> Result<(), CliError> {
    let presets = args.presets.load()?;
    let preset = presets
        .get(&args.preset)
        .ok_or_else(|| CliError::usage(format!("no preset named `{}`", args.preset)))?;
    let key = ObjectKey::parse(&args.key)
        .map_err(|e| CliError::usage(format!("`{}` is not a usable key: {e}", args.key)))?;
    let signer = match (args.sign, &args.signing_key) {
        (false, _) => None,
        (true, Some(spec)) => Some(Signer::parse(spec.expose()).map_err(|reason| {
            thumbkit::config::ConfigError::Invalid {
                setting: "THUMBKIT_SIGNING_KEY",
                reason,
            }
        })?),
        (true, None) => {
            return Err(CliError::usage(
                "--sign needs THUMBKIT_SIGNING_KEY (or --signing-key)".to_owned(),
            ));
        }
    };
    let (hash, upright) = match &args.file {
        Some(path) => {
            let bytes = read(path)?;
            let (probe, _) =
                thumbkit::video::probe(&bytes, &Limits::default()).map_err(|source| {
                    CliError::Input {
                        path: path.clone(),
                        source,
                    }
                })?;
            (Some(ContentHash::of(&bytes)), Some(probe.upright()))
        }
        None => (None, None),
    };
    let expires = thumbkit::signing::expiry(now(), args.ttl.0);
    let url_of = |name: &str| {
        let mut url = match &hash {
            Some(hash) => variant_url(name, &key, hash),
            None => variant_path(name, &key),
        };
        if let Some(signer) = &signer {
            url = signer.sign(&url, expires);
        }
        format!("{}{url}", args.base.trim_end_matches('/'))
    };
    if !args.srcset {
        println!("{}", url_of(preset.name.as_str()));
        return Ok(());
    }
    let line = srcset(preset, |name| {
        let step = presets.get(name)?;
        let (width, enlarges) = match upright {
            Some(upright) => (
                pipeline::output_size(upright, &step.spec).0,
                pipeline::output_enlarges(upright, &step.spec),
            ),
            None => (step.spec.width.unwrap_or(0), false),
        };
        Some(StepVariant {
            url: url_of(name),
            width,
            enlarges,
        })
    })
    .ok_or_else(|| {
        CliError::usage(format!(
            "preset `{}` declares no steps (`densities` or `widths`): it has no srcset",
            preset.name
        ))
    })?;
    println!("{line}");
    Ok(())
}

/// `thumbkit sign`: prints `path` signed with the first key, its `exp` rounded up like every
/// signer's.
pub(super) fn sign(path: &str, ttl: Span, signing_key: Option<Secret>) -> Result<(), CliError> {
    let Some(signing_key) = signing_key else {
        return Err(CliError::usage(
            "sign needs THUMBKIT_SIGNING_KEY (or --signing-key)".to_owned(),
        ));
    };
    if !path.starts_with("/t/") {
        return Err(CliError::usage(format!(
            "`{path}` is not a thumbnail path (/t/<preset>/<key>)"
        )));
    }
    let signer = Signer::parse(signing_key.expose()).map_err(|reason| {
        thumbkit::config::ConfigError::Invalid {
            setting: "THUMBKIT_SIGNING_KEY",
            reason,
        }
    })?;
    let expires = thumbkit::signing::expiry(now(), ttl.0);
    println!("{}", signer.sign(path, expires));
    Ok(())
}
