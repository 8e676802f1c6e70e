//! The environment thumbkit reads before its flags: a `.env` file in the working directory
//! (never overriding the real environment), then django-storages' names (the ones the apps
//! thumbkit serves already have) translated to thumbkit's and the AWS SDK's, so the same
//! settings configure both. Where each variable came from is kept for `--print-config`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

/// Where a variable's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The process's own environment.
    Environment,
    /// A line of the `.env` file.
    DotEnv,
    /// Translated from another variable (a django-storages name), itself from `.0`'s origin.
    From(&'static str, Box<Origin>),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Environment => f.write_str("environment"),
            Origin::DotEnv => f.write_str(".env"),
            Origin::From(var, origin) => write!(f, "{var} ({origin})"),
        }
    }
}

/// What [`load`] found: the `.env` file's problem if it could not be read, and the origin
/// of every variable it set or translated.
#[derive(Debug, Default)]
pub struct Loaded {
    /// A `.env` that exists but could not be parsed (the rest of it is then not applied).
    pub dotenv_error: Option<String>,
    origins: BTreeMap<String, Origin>,
}

/// django-storages' names (left) and the variable each stands for (right), applied only
/// when the right one is unset.
const DJANGO: &[(&str, &str)] = &[
    ("AWS_S3_ENDPOINT_URL", "THUMBKIT_S3_ENDPOINT"),
    ("AWS_S3_REGION_NAME", "AWS_REGION"),
    ("AWS_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
    ("AWS_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
    ("AWS_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN"),
];

/// django-storages' names that thumbkit reads but does not act on, each with why: shown by
/// `--print-config` and `doctor`, so that nobody expects them to do what they do in Django.
pub const NOT_USED: &[(&str, &str)] = &[
    (
        "AWS_S3_CUSTOM_DOMAIN",
        "it is the domain that serves the originals; thumbnail URLs use THUMBKIT_PUBLIC_URL",
    ),
    ("AWS_S3_URL_PROTOCOL", "it goes with AWS_S3_CUSTOM_DOMAIN"),
    (
        "AWS_QUERYSTRING_AUTH",
        "thumbkit signs its own URLs (THUMBKIT_SIGNING_KEY); it never hands out the bucket's",
    ),
    (
        "AWS_QUERYSTRING_EXPIRE",
        "signed URLs live THUMBKIT_SIGNED_URL_TTL",
    ),
    (
        "AWS_DEFAULT_ACL",
        "variants are written private and served through thumbkit",
    ),
    (
        "AWS_S3_OBJECT_PARAMETERS",
        "thumbkit sets each variant's Cache-Control on its own responses",
    ),
    (
        "AWS_S3_FILE_OVERWRITE",
        "variant keys name their content; nothing is overwritten",
    ),
    (
        "AWS_S3_SIGNATURE_VERSION",
        "thumbkit always signs with SigV4",
    ),
    ("AWS_S3_USE_SSL", "the endpoint URL's scheme says it"),
    ("AWS_S3_VERIFY", "TLS certificates are always verified"),
];

static LOADED: OnceLock<Loaded> = OnceLock::new();

/// The django-storages names of [`NOT_USED`] that are set, with their values and why they do
/// nothing here.
pub fn not_used() -> Vec<(&'static str, String, &'static str)> {
    NOT_USED
        .iter()
        .filter_map(|&(var, why)| non_empty(var).map(|value| (var, value, why)))
        .collect()
}

/// Reads `.env` from the working directory and translates django-storages' names. Call it
/// first thing in `main`, while the process has one thread (it sets variables).
pub fn load() -> &'static Loaded {
    LOADED.get_or_init(|| {
        let mut loaded = Loaded::default();
        apply_dotenv(Path::new(".env"), &mut loaded);
        translate(&mut loaded);
        loaded
    })
}

/// What [`load`] found, if it ran.
pub fn loaded() -> Option<&'static Loaded> {
    LOADED.get()
}

impl Loaded {
    /// Where `var`'s value came from, if it is set.
    pub fn origin(&self, var: &str) -> Option<Origin> {
        match self.origins.get(var) {
            Some(origin) => Some(origin.clone()),
            None => std::env::var_os(var).map(|_| Origin::Environment),
        }
    }
}

/// What is wrong with `.env`, never quoting a line of it: any line may hold a secret.
fn describe(path: &Path, e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(line, at) => {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let number = text
                .lines()
                .position(|l| l.trim() == line.trim() || l.contains(line.as_str()))
                .map_or_else(|| "a line".to_owned(), |n| format!("line {}", n + 1));
            format!(
                "{number} cannot be read (at character {}): write it as NAME=value, \
                 quoting values with spaces",
                at + 1
            )
        }
        dotenvy::Error::Io(io) => io.to_string(),
        // Its message would quote the value.
        dotenvy::Error::EnvVar(_) => "a value is not valid UTF-8".to_owned(),
        _ => "it cannot be read".to_owned(),
    }
}

fn apply_dotenv(path: &Path, loaded: &mut Loaded) {
    let items = match dotenvy::from_path_iter(path) {
        Ok(items) => items,
        Err(e) if e.not_found() => return,
        Err(e) => {
            loaded.dotenv_error = Some(describe(path, &e));
            return;
        }
    };
    let mut pairs = Vec::new();
    for item in items {
        match item {
            Ok(pair) => pairs.push(pair),
            Err(e) => {
                // All or nothing: half a configuration is worse than a clear refusal.
                loaded.dotenv_error = Some(describe(path, &e));
                return;
            }
        }
    }
    for (key, value) in pairs {
        if std::env::var_os(&key).is_none() {
            set(&key, &value);
            loaded.origins.insert(key, Origin::DotEnv);
        }
    }
}

fn translate(loaded: &mut Loaded) {
    let origin_of = |loaded: &Loaded, var: &'static str| {
        Origin::From(
            var,
            Box::new(loaded.origin(var).unwrap_or(Origin::Environment)),
        )
    };
    if std::env::var_os("THUMBKIT_STORAGE").is_none()
        && let Some(bucket) = non_empty("AWS_STORAGE_BUCKET_NAME")
    {
        // django-storages' AWS_LOCATION is the folder of the bucket its files go under.
        let location = non_empty("AWS_LOCATION")
            .map(|l| format!("/{}", l.trim_matches('/')))
            .unwrap_or_default();
        set("THUMBKIT_STORAGE", &format!("s3://{bucket}{location}"));
        let origin = origin_of(loaded, "AWS_STORAGE_BUCKET_NAME");
        loaded.origins.insert("THUMBKIT_STORAGE".into(), origin);
    }
    for &(django, ours) in DJANGO {
        if std::env::var_os(ours).is_none()
            && let Some(value) = non_empty(django)
        {
            set(ours, &value);
            let origin = origin_of(loaded, django);
            loaded.origins.insert(ours.into(), origin);
        }
    }
    if std::env::var_os("THUMBKIT_S3_PATH_STYLE").is_none()
        && let Some(style) = non_empty("AWS_S3_ADDRESSING_STYLE")
    {
        let path_style = match style.as_str() {
            "path" => "true",
            "virtual" => "false",
            _ => "auto",
        };
        set("THUMBKIT_S3_PATH_STYLE", path_style);
        let origin = origin_of(loaded, "AWS_S3_ADDRESSING_STYLE");
        loaded
            .origins
            .insert("THUMBKIT_S3_PATH_STYLE".into(), origin);
    }
}

fn non_empty(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

fn set(key: &str, value: &str) {
    // SAFETY: `load` runs first thing in `main`, before any other thread exists, so no one
    // reads the environment while it changes.
    unsafe { std::env::set_var(key, value) }
}
