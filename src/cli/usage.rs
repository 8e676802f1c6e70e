//! The command line's own mistakes in one line, as every other error: a bad value names the
//! variable it came from when it came from the environment or `.env` (not clap's usage
//! screen naming a flag the user never typed), and a `THUMBKIT_*` variable that is no
//! setting is warned about with the nearest one, since a misspelt name otherwise does nothing.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// Every setting's environment variable, over all commands.
fn known_variables(command: &clap::Command) -> Vec<String> {
    let mut out: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    for sub in command.get_subcommands() {
        out.extend(known_variables(sub));
    }
    out.sort();
    out.dedup();
    out
}

/// The environment variable of `--{long}` in any command.
fn variable_of(command: &clap::Command, long: &str) -> Option<String> {
    command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .or_else(|| {
            command
                .get_subcommands()
                .find_map(|sub| variable_of(sub, long))
        })
}

/// One line for a command-line error that is not a help or version request; `None` for
/// those (clap prints them).
pub(crate) fn one_line(e: &clap::Error, command: &clap::Command) -> Option<String> {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return None;
    }
    // clap's first paragraph, as one line (a missing argument is named on the next line).
    let text = e.to_string();
    let first = text
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_owned();
    if let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) {
        let long = arg
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_start_matches("--");
        let typed = std::env::args()
            .any(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")));
        if let Some(var) =
            variable_of(command, long).filter(|v| !typed && std::env::var_os(v).is_some())
        {
            let source = match crate::cli::env_origin(&var) {
                Some(origin) => origin,
                None => "environment".to_owned(),
            };
            let said = first.replace(&format!(" for '{arg}'"), "");
            return Some(format!("{var} ({source}): {said}"));
        }
    }
    Some(format!("{first} (see --help)"))
}

/// Warnings for `THUMBKIT_*` variables that are no setting, each with the nearest one.
pub(crate) fn unknown_variables(command: &clap::Command) -> Vec<String> {
    let known = known_variables(command);
    let mut warnings = Vec::new();
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with("THUMBKIT_") || known.iter().any(|k| k == name) {
            continue;
        }
        // The tests' own switches are not settings.
        if matches!(name, "THUMBKIT_TEST_BIN" | "THUMBKIT_SOAK_OUTAGE_SECS") {
            continue;
        }
        let nearest = known
            .iter()
            .min_by_key(|k| strsim::levenshtein(k, name))
            .filter(|k| strsim::levenshtein(k, name) <= 3);
        warnings.push(match nearest {
            Some(k) => format!("{name} is not a setting; did you mean {k}?"),
            None => format!("{name} is not a setting (thumbkit serve --help lists them)"),
        });
    }
    warnings.sort();
    warnings
}
