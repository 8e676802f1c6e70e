//! The README a newcomer reads is the command line they run: every command, flag and
//! `THUMBKIT_*` variable it names exists in `--help`, every setting `serve` has is in its table
//! with the default spelt as `--help` prints it, its metrics are the ones served, its preset
//! example loads, its links lead somewhere, and it stays short enough to read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::helpers::process::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

fn help(args: &[&str]) -> String {
    let o = thumbkit().args(args).arg("--help").output().unwrap();
    assert!(o.status.success(), "{args:?} --help: {}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// The visible subcommands of `thumbkit --help`.
fn commands() -> Vec<String> {
    let top = help(&[]);
    let list = &top[top.find("Commands:").unwrap()..top.find("Options:").unwrap()];
    list.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

/// The README's code: fenced blocks (with their language) and inline spans, as (language, text).
fn code(readme: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut prose = String::new();
    let mut fence: Option<(String, String)> = None;
    for line in readme.lines() {
        match (&mut fence, line.strip_prefix("```")) {
            (None, Some(lang)) => fence = Some((lang.trim().to_owned(), String::new())),
            (Some(_), Some(_)) => out.extend(fence.take()),
            (Some((_, text)), None) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {
                prose.push_str(line);
                prose.push('\n');
            }
        }
    }
    let spans = prose.split('`').skip(1).step_by(2);
    out.extend(spans.map(|s| ("span".to_owned(), s.to_owned())));
    out
}

/// Each `thumbkit <command> ...` invocation in the README's code, comments cut off.
fn invocations(readme: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (lang, text) in code(readme) {
        for line in text.lines() {
            let line = if lang == "sh" {
                line.split(" # ").next().unwrap_or("")
            } else {
                line
            };
            let Some(at) = line.find("thumbkit ") else {
                continue;
            };
            if at > 0 && !line[..at].ends_with(' ') {
                continue;
            }
            let rest = &line[at + "thumbkit ".len()..];
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                .collect();
            if !word.is_empty() && rest[word.len()..].chars().next().is_none_or(|c| c == ' ') {
                found.push((word, rest.to_owned()));
            }
        }
    }
    found
}

fn flags(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_command_and_flag_the_readme_names_is_in_help() {
    let readme = readme();
    let commands = commands();
    let helps: BTreeMap<String, String> =
        commands.iter().map(|c| (c.clone(), help(&[c]))).collect();
    let listed = invocations(&readme);
    for (command, rest) in &listed {
        let text = helps
            .get(command)
            .unwrap_or_else(|| panic!("the README runs `thumbkit {command}`, which is no command"));
        for flag in flags(rest) {
            assert!(
                text.contains(&format!("{flag} ")) || text.contains(&format!("{flag}\n")),
                "the README gives `thumbkit {command}` the flag {flag}, which its --help lacks"
            );
        }
    }
    // The command list names every command there is.
    for command in &commands {
        assert!(
            listed.iter().any(|(c, _)| c == command),
            "the README's command list lacks `thumbkit {command}`"
        );
    }
    // A bare flag in the prose is some command's.
    let all: String = helps.values().cloned().collect();
    for (lang, text) in code(&readme) {
        if lang == "span" && text.starts_with("--") && !text.contains(' ') {
            assert!(
                all.contains(&format!("{text} ")) || all.contains(&format!("{text}\n")),
                "the README names {text}, which no --help has"
            );
        }
    }
}

/// `THUMBKIT_X` -> its `[default: ...]` in `--help` (None when it prints none).
fn settings(help: &str) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for part in help.split("[env: ").skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_' || c.is_ascii_digit())
            .collect();
        let after = &part[..part
            .find("\n      --")
            .or_else(|| part.find("\n  -"))
            .unwrap_or(part.len())];
        let default = after
            .split("[default: ")
            .nth(1)
            .map(|d| d[..d.find(']').unwrap()].to_owned());
        out.insert(name, default);
    }
    out
}

#[test]
fn every_setting_is_in_the_readme_table_with_the_default_help_prints() {
    let readme = readme();
    let mut known: BTreeMap<String, Option<String>> = BTreeMap::new();
    for command in commands() {
        known.extend(settings(&help(&[&command])));
    }
    let serve = settings(&help(&["serve"]));
    let rows: BTreeMap<String, String> = readme
        .lines()
        .filter(|l| l.starts_with("| `THUMBKIT_"))
        .map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            let name = cells[0].trim_start_matches("| `");
            (
                name[..name.find('`').unwrap()].to_owned(),
                cells[1].trim().to_owned(),
            )
        })
        .collect();
    for (name, default) in &serve {
        let cell = rows
            .get(name)
            .unwrap_or_else(|| panic!("the README's configuration table lacks {name}"));
        match default.as_deref() {
            Some("\"\"") | None => assert!(
                cell.starts_with('(') || cell == "`false`",
                "{name}: --help prints no default, the README says {cell}"
            ),
            Some(d) => assert_eq!(
                cell,
                &format!("`{d}`"),
                "{name}: the README's default is not --help's"
            ),
        }
    }
    // No variable the README names is unknown to every command.
    for word in readme.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("THUMBKIT_") && word != "THUMBKIT_" {
            assert!(
                known.contains_key(word),
                "the README names {word}, which no --help has"
            );
        }
    }
}

#[test]
fn the_readme_lists_the_metrics_thumbkit_registers() {
    let readme = readme();
    let source = std::fs::read_to_string(root().join("src/metrics.rs")).unwrap();
    let registered: BTreeSet<&str> = source
        .split('"')
        .filter(|s| s.starts_with("thumbkit_") && !s.ends_with('_'))
        .collect();
    assert!(registered.len() >= 10, "{registered:?}");
    for name in &registered {
        assert!(
            readme.contains(&format!("`{name}")),
            "the README's metrics lack {name}"
        );
    }
    let section = &readme[readme.find("### Health, metrics").expect("the section")..];
    let section = &section[..section[4..].find("\n#").map_or(section.len(), |i| i + 4)];
    for word in section.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("thumbkit_") {
            let base = word.trim_end_matches("_total");
            assert!(
                registered.contains(base),
                "the README names a metric {word} nobody serves"
            );
        }
    }
}

#[test]
fn the_readme_preset_example_loads_and_its_links_lead_somewhere() {
    let readme = readme();
    assert!(
        readme.lines().count() < 600,
        "the README is {} lines",
        readme.lines().count()
    );
    let dir = temp_dir("readme-preset");
    let (_, toml) = code(&readme)
        .into_iter()
        .find(|(l, _)| l == "toml")
        .expect("a preset");
    std::fs::write(dir.join("card.toml"), toml).unwrap();
    thumbkit::preset::Presets::load(&[&dir]).expect("the README's preset loads");
    for link in readme.split("](").skip(1) {
        let target = &link[..link.find(')').unwrap()];
        if target.starts_with("http") {
            continue;
        }
        let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
        let text = std::fs::read_to_string(root().join(file))
            .unwrap_or_else(|e| panic!("the README links {file}: {e}"));
        if !anchor.is_empty() {
            let anchors: Vec<String> = text
                .lines()
                .filter(|l| l.starts_with('#'))
                .map(|l| {
                    l.trim_start_matches('#')
                        .trim()
                        .to_lowercase()
                        .chars()
                        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
                        .map(|c| if c == ' ' { '-' } else { c })
                        .collect()
                })
                .collect();
            assert!(
                anchors.iter().any(|a| a == anchor),
                "{file} has no heading #{anchor}: {anchors:?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
