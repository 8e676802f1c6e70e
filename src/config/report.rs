//! `thumbkit serve --print-config`: every setting's effective value, secrets masked, and
//! where it came from (a flag, the environment, `.env`, a django-storages name, the
//! default), read from clap's own record of each argument so no setting can be left out.

use clap::parser::ValueSource;

use super::env;
use crate::http::server::{default_max_connections, default_max_per_client};

/// The AWS SDK's own variables, shown when set (the SDK reads them, not clap).
const AWS_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
];

const SECRET_AWS_VARS: &[&str] = &["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

/// One setting as it is in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Its environment variable (or flag, for those without one).
    pub name: String,
    /// Its value, masked if secret; `(unset)` if it has none.
    pub value: String,
    /// Where the value came from.
    pub source: String,
}

/// The settings of `command` (a subcommand's definition) as `matches` parsed them.
pub fn effective(command: &clap::Command, matches: &clap::ArgMatches) -> Vec<Line> {
    let loaded = env::loaded();
    let mut lines = Vec::new();
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if matches!(id, "help" | "version" | "print_config") {
            continue;
        }
        let env_name = arg.get_env().map(|e| e.to_string_lossy().into_owned());
        let name = env_name
            .clone()
            .or_else(|| arg.get_long().map(|l| format!("--{l}")))
            .unwrap_or_else(|| id.to_owned());
        let raw: Option<Vec<String>> = matches.get_raw(id).map(|values| {
            values
                .map(|v| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        });
        if raw.is_none()
            && let Some((value, why)) = computed_default(id, matches)
        {
            lines.push(Line {
                name,
                value,
                source: format!("default ({why})"),
            });
            continue;
        }
        let value = match raw {
            None => "(unset)".to_owned(),
            Some(_) if arg.is_hide_env_values_set() => "******** (set)".to_owned(),
            Some(values) if values.iter().all(String::is_empty) => "(empty)".to_owned(),
            Some(values) => redact_all(&values),
        };
        let source = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => format!("flag --{}", arg.get_long().unwrap_or(id)),
            Some(ValueSource::EnvVariable) => env_name
                .as_deref()
                .and_then(|var| loaded.and_then(|l| l.origin(var)))
                .map_or_else(|| "environment".to_owned(), |o| o.to_string()),
            Some(ValueSource::DefaultValue) => "default".to_owned(),
            _ => "unset".to_owned(),
        };
        lines.push(Line {
            name,
            value,
            source,
        });
    }
    for (var, value, why) in env::not_used() {
        lines.push(Line {
            name: var.to_owned(),
            value: crate::secrets::redact_url(&value),
            source: format!("read, not used: {why}"),
        });
    }
    for &var in AWS_VARS {
        let Ok(value) = std::env::var(var) else {
            continue;
        };
        let value = if SECRET_AWS_VARS.contains(&var) {
            "******** (set)".to_owned()
        } else if var == "AWS_ACCESS_KEY_ID" {
            mask_key_id(&value)
        } else {
            crate::secrets::redact_url(&value)
        };
        let source = loaded
            .and_then(|l| l.origin(var))
            .unwrap_or(env::Origin::Environment)
            .to_string();
        lines.push(Line {
            name: var.to_owned(),
            value,
            source,
        });
    }
    lines
}

/// The value in effect for a setting left unset whose default is worked out at start, and
/// how: the render workers (the cores), the queue, the connection caps, the demo page.
fn computed_default(id: &str, matches: &clap::ArgMatches) -> Option<(String, &'static str)> {
    let number = |id: &str| {
        matches
            .get_raw(id)
            .and_then(|mut v| v.next())
            .and_then(|v| v.to_str()?.parse::<usize>().ok())
    };
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let workers = number("render_workers").unwrap_or(cores);
    let connections = number("max_connections").unwrap_or_else(default_max_connections);
    match id {
        "render_workers" => Some((cores.to_string(), "the cores")),
        "render_queue" => Some((
            (workers * crate::service::Settings::QUEUE_PER_WORKER).to_string(),
            "4 per worker",
        )),
        "max_connections" => Some((
            connections.to_string(),
            "1024, or ¾ of the open-files limit",
        )),
        "max_connections_per_client" => Some((
            default_max_per_client(connections).to_string(),
            "a quarter of the connections, at least 8",
        )),
        "demo" => {
            let storage = matches
                .get_raw("storage")
                .and_then(|mut v| v.next())
                .and_then(|v| v.to_str())
                .unwrap_or("fs:./data");
            let on = !storage.starts_with("s3://");
            Some((on.to_string(), "on for a local directory, off for S3"))
        }
        _ => None,
    }
}

/// Values joined by `,`, each without a password its URL may carry.
fn redact_all(values: &[String]) -> String {
    let shown: Vec<String> = values
        .iter()
        .map(|v| crate::secrets::redact_url(v))
        .collect();
    shown.join(",")
}

/// The lines as an aligned table.
pub fn render(lines: &[Line]) -> String {
    let width = lines.iter().map(|l| l.name.len()).max().unwrap_or(0);
    let value_width = lines
        .iter()
        .map(|l| l.value.chars().count())
        .max()
        .unwrap_or(0)
        .min(48);
    let mut out = String::new();
    for l in lines {
        out.push_str(&format!(
            "{:<width$}  {:<value_width$}  {}\n",
            l.name, l.value, l.source
        ));
    }
    out
}

/// An access key id shows its first and last four characters, as the AWS console does.
fn mask_key_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 12 {
        return "********".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_key_ids_keep_only_their_ends() {
        assert_eq!(mask_key_id("AKIAIOSFODNN7EXAMPLE"), "AKIA…MPLE");
        assert_eq!(mask_key_id("short"), "********");
    }
}
