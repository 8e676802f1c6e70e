//! Settings as a user writes them: sizes in any case, booleans as 1/0/yes/no, a bad value is
//! one line naming the variable it came from, a misspelt `THUMBKIT_*` name is warned about
//! with the nearest setting, `--print-config` shows the value in effect (not "unset") and
//! refuses an endpoint without a scheme.

use std::process::{Command, Output};

use crate::helpers::process::{stderr, temp_dir};

/// `thumbkit args...` in a fresh folder with only `env` (and PATH) set.
fn thumbkit(args: &[&str], env: &[(&str, &str)], dotenv: Option<&str>) -> Output {
    // One folder per call: the tests run side by side.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = temp_dir(&format!("settings-{n}"));
    if let Some(text) = dotenv {
        std::fs::write(dir.join(".env"), text).unwrap();
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_thumbkit"));
    command
        .args(args)
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

/// The value column of `name`'s line in `--print-config`, and its source.
pub(super) fn line(out: &Output, name: &str) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .split_whitespace()
        .skip(1)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn values_as_people_write_them_are_understood() {
    let out = thumbkit(
        &["serve", "--print-config"],
        &[("THUMBKIT_MEMORY_CACHE", "64mb"), ("THUMBKIT_DEMO", "1")],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(line(&out, "THUMBKIT_MEMORY_CACHE").starts_with("64mb environment"));
    assert!(line(&out, "THUMBKIT_DEMO").starts_with("1 environment"));
    for value in ["no", "yes", "0", "on", "false", "TRUE"] {
        let out = thumbkit(
            &["serve", "--print-config"],
            &[("THUMBKIT_DEMO", value)],
            None,
        );
        assert!(out.status.success(), "{value}: {}", stderr(&out));
    }
    let out = thumbkit(
        &["serve", "--print-config"],
        &[("THUMBKIT_DEMO", "maybe")],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("THUMBKIT_DEMO (environment)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn print_config_shows_the_values_in_effect() {
    let out = thumbkit(&["serve", "--print-config"], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    assert_eq!(
        line(&out, "THUMBKIT_RENDER_WORKERS"),
        format!("{cores} default (the cores)")
    );
    assert_eq!(
        line(&out, "THUMBKIT_RENDER_QUEUE"),
        format!("{} default (4 per worker)", cores * 4)
    );
    for name in [
        "THUMBKIT_MAX_CONNECTIONS",
        "THUMBKIT_MAX_CONNECTIONS_PER_CLIENT",
        "THUMBKIT_DEMO",
    ] {
        let shown = line(&out, name);
        assert!(
            !shown.contains("(unset)") && shown.contains("default ("),
            "{name}: {shown}"
        );
    }
    assert!(line(&out, "THUMBKIT_DEMO").starts_with("true"));
}

#[test]
fn a_bad_value_is_one_line_naming_its_variable() {
    for (env, dotenv, words) in [
        (
            vec![("THUMBKIT_MEMORY_CACHE", "lots")],
            None,
            "THUMBKIT_MEMORY_CACHE (environment): invalid value 'lots'",
        ),
        (
            vec![],
            Some("THUMBKIT_RENDER_TIMEOUT=soon\n"),
            "THUMBKIT_RENDER_TIMEOUT (.env): invalid value 'soon'",
        ),
        (
            vec![
                ("AWS_S3_ENDPOINT_URL", "127.0.0.1:18555"),
                ("THUMBKIT_STORAGE", "s3://media"),
            ],
            None,
            "THUMBKIT_S3_ENDPOINT: `127.0.0.1:18555` is not an http:// or https:// URL",
        ),
    ] {
        let out = thumbkit(&["serve", "--print-config"], &env, dotenv);
        assert_eq!(out.status.code(), Some(1), "{words}");
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with("thumbkit: "), "{err}");
        assert!(err.contains(words), "{words}: {err}");
    }
    // A flag's mistake names the flag, in one line too.
    let out = thumbkit(
        &["serve", "--memory-cache", "lots", "--print-config"],
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim_end().lines().count(),
        1,
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--memory-cache"), "{}", stderr(&out));
    // `thumbkit sign` without a key, as `url --sign`.
    let out = thumbkit(&["sign", "/t/thumb/a.jpg"], &[], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim_end(),
        "thumbkit: sign needs THUMBKIT_SIGNING_KEY (or --signing-key)"
    );
}

#[test]
fn a_misspelt_setting_is_warned_about_with_the_nearest_one() {
    let out = thumbkit(
        &["serve", "--print-config"],
        &[
            ("THUMBKIT_LISTNE", "0.0.0.0:9"),
            ("THUMBKIT_NOTHING_LIKE_IT", "1"),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "thumbkit: warning: THUMBKIT_LISTNE is not a setting; did you mean THUMBKIT_LISTEN?"
        ),
        "{err}"
    );
    assert!(
        err.contains("THUMBKIT_NOTHING_LIKE_IT is not a setting"),
        "{err}"
    );
}

#[test]
fn help_says_the_token_covers_every_v1_route() {
    let out = thumbkit(&["serve", "--help"], &[], None);
    let text = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
    assert!(text.contains("every /v1/ route"), "{text}");
}

#[test]
fn doctor_says_each_problem_once_with_its_fix() {
    let out = thumbkit(
        &[
            "doctor",
            "--storage",
            "gs://photos",
            "--preset-files",
            "/nonexistent/presets",
        ],
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let fails: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fails.len(), 2, "{text}");
    assert!(
        fails[0].starts_with("FAIL  storage: THUMBKIT_STORAGE: `gs://photos` is neither"),
        "{text}"
    );
    assert_eq!(
        fails[0].matches("THUMBKIT_STORAGE").count(),
        2,
        "the name, and the fix: {text}"
    );
    assert!(
        fails[1].contains("THUMBKIT_PRESETS or --preset-files"),
        "{text}"
    );
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/presets");
    let ok = thumbkit(
        &[
            "doctor",
            "--storage",
            "fs:./data",
            "--preset-files",
            shipped,
        ],
        &[],
        None,
    );
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        text.contains("presets: 6 presets load (8 variants with their steps)"),
        "{text}"
    );
}

/// `doctor`'s fix names the variables the user wrote: django-storages' when they came from
/// those, not the AWS SDK's names they stand for.
#[test]
fn doctor_names_the_django_storages_variables_the_user_set() {
    let out = thumbkit(
        &["doctor"],
        &[
            ("THUMBKIT_STORAGE_TIMEOUT", "2s"),
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "not-a-real-secret"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
        Some(
            "AWS_STORAGE_BUCKET_NAME=media\nAWS_S3_ENDPOINT_URL=http://127.0.0.1:9\n\
             AWS_S3_REGION_NAME=eu-west-1\n",
        ),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let store = text
        .lines()
        .find(|l| l.starts_with("FAIL  store"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        store.contains("check AWS_S3_ENDPOINT_URL, AWS_S3_REGION_NAME, the credentials"),
        "{store}"
    );
}

#[test]
fn no_secret_shows_in_a_configuration_printed_for_debugging() {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: thumbkit::config::ServeArgs,
    }
    let (token, key, peer) = (
        "tok-3f9a1c77e2",
        "key-8b21d04c5a-9e77f1",
        "peer-secret-6e0f2b9d11aa",
    );
    let cli = <Cli as clap::Parser>::try_parse_from([
        "serve",
        "--api-token",
        token,
        "--signing-key",
        key,
        "--peers",
        "http://127.0.0.1:18001,http://127.0.0.1:18002",
        "--self",
        "http://127.0.0.1:18001",
        "--peer-secret",
        peer,
    ])
    .unwrap();
    let args = format!("{:?}", cli.serve);
    let config = format!("{:?}", cli.serve.config().expect("a valid configuration"));
    for shown in [&args, &config] {
        for secret in [token, key, peer] {
            assert!(!shown.contains(secret), "{secret} shows in {shown}");
        }
    }
    assert!(config.contains("********"), "{config}");
}
