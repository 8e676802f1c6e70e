//! The shape of `src/`, as "Where things are" (docs/architecture.md) promises it: every file opens
//! with a `//!` line, none is much over 400 lines, no module imports one that imports it back,
//! and docs/architecture.md names what is in the tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// "About 400 lines": a little over is a judgement call, far over is a file doing two things.
const MAX_LINES: usize = 430;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's module path: `src/service/mod.rs` is `service`, `src/lib.rs` the root.
fn module_of(path: &Path) -> Vec<String> {
    let rel = path.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The code of a file without its unit tests and comments.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text,
    };
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths written after `head::` in `code`, as segments; a braced list gives one path
/// per item (`crate::a::{b, c::d}` gives `[a, b]` and `[a, c, d]`).
fn paths_after(code: &str, head: &str) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let needle = format!("{head}::");
    let mut from = 0;
    while let Some(i) = code[from..].find(&needle) {
        let start = from + i;
        from = start + needle.len();
        if code[..start]
            .chars()
            .next_back()
            .is_some_and(|c| ident(c) || c == ':')
        {
            continue;
        }
        let rest = &code[from..];
        let end = rest
            .find(|c: char| !(ident(c) || c == ':'))
            .unwrap_or(rest.len());
        let base: Vec<String> = rest[..end]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        match rest[end..].strip_prefix('{') {
            Some(list) => {
                let list = &list[..list.find('}').unwrap_or(list.len())];
                for item in list.split(',') {
                    let item = item.trim();
                    let item = &item[..item
                        .find(|c: char| !(ident(c) || c == ':'))
                        .unwrap_or(item.len())];
                    let mut path = base.clone();
                    path.extend(
                        item.split("::")
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned),
                    );
                    out.push(path);
                }
            }
            None => out.push(base),
        }
    }
    out
}

/// Every module's imports of other modules (by `crate::`, `super::`, `thumbkit::`, or a
/// folder's `mod.rs` naming its own submodules).
fn imports() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> =
        files.iter().map(|p| (module_of(p), p.clone())).collect();
    let resolve = |parts: Vec<String>| -> Option<Vec<String>> {
        (1..=parts.len())
            .rev()
            .map(|n| parts[..n].to_vec())
            .find(|m| modules.contains_key(m))
    };
    let mut edges = BTreeMap::new();
    for (module, path) in &modules {
        let code = code_of(path);
        let binary = module.first().is_some_and(|m| m == "cli");
        let mut targets = BTreeSet::new();
        let mut add = |base: Vec<String>, rest: &[String]| {
            let mut parts = base;
            let mut rest = rest;
            while rest.first().is_some_and(|s| s == "super") {
                parts.pop();
                rest = &rest[1..];
            }
            parts.extend(rest.iter().cloned());
            if let Some(t) = resolve(parts)
                && &t != module
                && !t.is_empty()
            {
                targets.insert(t);
            }
        };
        for rest in paths_after(&code, "crate") {
            // In the binary, `crate::` is the binary (cli); in the library, the library.
            add(if binary { vec!["cli".into()] } else { vec![] }, &rest);
        }
        for rest in paths_after(&code, "thumbkit") {
            add(vec![], &rest);
        }
        for rest in paths_after(&code, "super") {
            add(module[..module.len().saturating_sub(1)].to_vec(), &rest);
        }
        let is_folder = path
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs" || n == "main.rs");
        if is_folder {
            let declared: Vec<&str> = code
                .lines()
                .filter_map(|l| {
                    let l = l
                        .trim()
                        .trim_start_matches("pub(crate) ")
                        .trim_start_matches("pub ");
                    l.strip_prefix("mod ")?.strip_suffix(';')
                })
                .collect();
            let body: String = code
                .lines()
                .filter(|l| !l.trim().trim_start_matches("pub ").starts_with("mod "))
                .collect::<Vec<_>>()
                .join("\n");
            for child in declared {
                if !paths_after(&body, child).is_empty() {
                    add(module.clone(), &[child.to_owned()]);
                }
            }
        }
        edges.insert(module.clone(), targets);
    }
    edges
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let edges = imports();
    let name = |m: &Vec<String>| {
        if m.is_empty() {
            "crate".into()
        } else {
            m.join("::")
        }
    };
    // A module is in a circle when it can reach itself.
    let mut circles = Vec::new();
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&Vec<String>> = edges[start].iter().collect();
        while let Some(m) = todo.pop() {
            if m == start {
                circles.push(name(start));
                break;
            }
            if seen.insert(m.clone()) {
                todo.extend(edges.get(m).into_iter().flatten());
            }
        }
    }
    assert!(edges.len() > 50, "the walk found {} modules", edges.len());
    assert!(
        circles.is_empty(),
        "modules in an import circle: {circles:?}"
    );
}

#[test]
fn every_source_file_says_why_it_exists_and_is_short() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("//!"), "{}: no //! line", path.display());
        let lines = text.lines().count();
        assert!(lines <= MAX_LINES, "{}: {lines} lines", path.display());
    }
}

#[test]
fn the_architecture_page_names_what_is_in_the_tree() {
    let readme = std::fs::read_to_string(src().join("../docs/architecture.md")).unwrap();
    let start = readme.find("## Where things are").expect("the section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let named: BTreeSet<&str> = section.split('`').skip(1).step_by(2).collect();
    let root = src().join("..");
    for path in named
        .iter()
        .filter(|n| n.starts_with("src/") || n.starts_with("tests/"))
    {
        assert!(
            root.join(path).exists(),
            "docs/architecture.md names `{path}`, which is not there"
        );
    }
    // Every entry at the top of src/ is named, and every file of the folders it lists in full.
    for entry in std::fs::read_dir(src()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let written = [format!("src/{name}"), format!("src/{name}/")];
        assert!(
            written.iter().any(|w| named.contains(w.as_str())),
            "docs/architecture.md does not name src/{name}"
        );
    }
    for folder in ["cli", "config", "http", "service", "storage"] {
        for entry in std::fs::read_dir(src().join(folder)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name == "mod.rs" || name.ends_with("_tests.rs") {
                continue;
            }
            let written = [name.clone(), format!("{name}/")];
            assert!(
                written.iter().any(|w| named.contains(w.as_str())),
                "docs/architecture.md's Where things are does not name src/{folder}/{name}"
            );
        }
    }
}

/// Helpers any layer above the pipeline may use; they use nothing but `secrets`.
const UTILITIES: [&str; 6] = [
    "metrics",
    "secrets",
    "signing",
    "telemetry",
    "process",
    "https",
];

/// What each folder (or top-level file) of `src/` may import, besides the utilities where
/// named: `cli -> startup -> config -> http -> service -> {storage, peers, pipeline,
/// preset, video}`, `preset -> pipeline`, `video -> pipeline`, `storage -> keys`, and
/// nothing points back up.
const MAY_IMPORT: [(&str, &[&str], bool); 23] = [
    (
        "cli",
        &[
            "startup", "config", "queue", "http", "bench", "service", "storage", "peers", "preset",
            "video", "pipeline", "keys",
        ],
        true,
    ),
    (
        "startup",
        &[
            "config", "queue", "http", "service", "storage", "peers", "preset", "pipeline", "keys",
        ],
        true,
    ),
    (
        "config",
        &[
            "queue", "http", "service", "storage", "peers", "sns", "purge", "preset", "pipeline",
            "keys",
        ],
        true,
    ),
    (
        "http",
        &[
            "service", "caching", "peers", "sns", "preset", "pipeline", "keys",
        ],
        true,
    ),
    ("bench", &["preset", "pipeline"], false),
    ("sns", &[], true),
    // The CDN purge webhook's signed, retried sender: told what to purge by the service.
    ("purge", &[], true),
    // The SQS consumer sits beside http: both drive the service.
    ("queue", &["service", "keys"], true),
    (
        "service",
        &[
            "caching", "storage", "peers", "purge", "preset", "video", "pipeline", "keys",
        ],
        true,
    ),
    ("peers", &["keys"], true),
    ("storage", &["keys"], true),
    ("preset", &["pipeline", "keys"], false),
    ("video", &["pipeline"], false),
    ("pipeline", &[], false),
    ("caching", &["keys"], false),
    ("keys", &[], false),
    ("metrics", &[], false),
    ("secrets", &[], false),
    ("process", &[], false),
    ("https", &[], false),
    ("signing", &["secrets"], false),
    ("telemetry", &["secrets"], false),
    ("lib", &[], false),
];

/// Every import between folders that `MAY_IMPORT` does not allow, as `from -> to`.
fn direction_violations(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<String> {
    let folder = |m: &Vec<String>| m.first().cloned().unwrap_or_else(|| "lib".into());
    let mut wrong = BTreeSet::new();
    for (from, targets) in edges {
        let (a, rule) = (
            folder(from),
            MAY_IMPORT.iter().find(|r| r.0 == folder(from)),
        );
        for to in targets {
            let b = folder(to);
            let allowed = a == b
                || a == "lib"
                || rule.is_some_and(|(_, may, utilities)| {
                    may.contains(&b.as_str()) || (*utilities && UTILITIES.contains(&b.as_str()))
                });
            if !allowed {
                wrong.insert(format!("{} -> {}", from.join("::"), to.join("::")));
            }
        }
    }
    wrong.into_iter().collect()
}

#[test]
fn folders_depend_one_way() {
    let edges = imports();
    let folders: BTreeSet<String> = edges.keys().filter_map(|m| m.first().cloned()).collect();
    for f in &folders {
        assert!(
            MAY_IMPORT.iter().any(|r| r.0 == f),
            "src/{f} is not placed in the layers (MAY_IMPORT)"
        );
    }
    let wrong = direction_violations(&edges);
    assert!(wrong.is_empty(), "imports against the layers: {wrong:?}");
    // The check sees a planted import of a preset in the pipeline.
    let mut planted = edges.clone();
    planted
        .entry(vec!["pipeline".into(), "resize".into()])
        .or_default()
        .insert(vec!["preset".into()]);
    assert_eq!(
        direction_violations(&planted),
        ["pipeline::resize -> preset"]
    );
}

/// "Functions stay under ~80 lines": longer ones are doing several things.
const MAX_FUNCTION_LINES: usize = 80;

/// Each function of `code` over `MAX_FUNCTION_LINES`, as `name (lines)`: from its `fn` line
/// to the `}` at the same indent (signatures included).
fn long_functions(code: &str) -> Vec<String> {
    let lines: Vec<&str> = code.lines().collect();
    let mut long = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let rest = ["pub(crate) ", "pub(super) ", "pub "]
            .iter()
            .find_map(|p| trimmed.strip_prefix(p))
            .unwrap_or(trimmed);
        let rest = rest.strip_prefix("async ").unwrap_or(rest);
        let Some(name) = rest.strip_prefix("fn ") else {
            continue;
        };
        let name: String = name
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // A declaration without a body (a trait's) ends with `;` before any `{`.
        let Some(open) = (i..lines.len()).find(|&j| lines[j].trim_end().ends_with('{')) else {
            continue;
        };
        if (i..open).any(|j| lines[j].trim_end().ends_with(';')) {
            continue;
        }
        let close = format!("{indent}}}");
        if let Some(end) = (open + 1..lines.len()).find(|&j| lines[j] == close) {
            let n = end - i + 1;
            if n > MAX_FUNCTION_LINES {
                long.push(format!("{name} ({n} lines)"));
            }
        }
    }
    long
}

#[test]
fn no_function_is_over_eighty_lines() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut long = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        for f in long_functions(code) {
            long.push(format!(
                "{}: {f}",
                path.strip_prefix(src()).unwrap().display()
            ));
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines: {long:?}"
    );
    // The check sees a long one.
    let planted = format!("fn planted() {{\n{}}}\n", "    let _ = 1;\n".repeat(90));
    assert_eq!(long_functions(&planted), ["planted (92 lines)"]);
}

#[test]
fn test_runs_remove_what_finished_runs_left_in_the_temporary_folder() {
    use crate::helpers::app::{sweep_finished_runs, temp_dir};
    // Thousands of leftover folders (10 GB) is what per-test names under /tmp came to.
    let mine = temp_dir("sweep");
    let root = mine
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .to_path_buf();
    let finished = root.join("4294967295").join("left-0");
    std::fs::create_dir_all(&finished).unwrap();
    std::fs::write(finished.join("a.jpg"), b"left behind").unwrap();
    let not_a_run = root.join("notes");
    std::fs::create_dir_all(&not_a_run).unwrap();
    sweep_finished_runs(&root);
    assert!(!finished.exists(), "a finished run's folder was kept");
    assert!(!not_a_run.exists(), "a stray folder was kept");
    assert!(mine.exists(), "this run's own folder was removed");
}
