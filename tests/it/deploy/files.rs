//! The deployment files, checked as far as this machine can: `deploy/*.json` against AWS's
//! own S3 model (botocore), the lifecycle prefixes against thumbkit's key layout,
//! `compose.yaml` by docker-compose's schema, the init script by shellcheck, and the
//! Dockerfile's runtime stage against what the binary links. Where a Docker engine runs,
//! the image is also built and its `/healthz` asked.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use thumbkit::keys::Layout;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(command: &mut Command) -> (bool, String) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e} (run `make test-deps`)"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn the_bucket_documents_are_valid_s3_api_inputs_and_an_invalid_one_is_caught() {
    let (ok, text) = run(Command::new("/usr/bin/python3").arg(repo().join("deploy/validate.py")));
    assert!(ok, "{text}");
    assert_eq!(text.matches(": valid ").count(), 6, "{text}");
    // The validator has teeth: a lifecycle rule with a day count as words is refused.
    let broken = crate::helpers::app::temp_dir("deploy");
    std::fs::create_dir_all(&broken).unwrap();
    for f in [
        "lifecycle.json",
        "notification.json",
        "notification-sqs.json",
        "cors.json",
        "iam-policy-sqs.json",
        "sqs-queue-policy.json",
    ] {
        std::fs::copy(repo().join("deploy").join(f), broken.join(f)).unwrap();
    }
    let policy = std::fs::read_to_string(broken.join("iam-policy-sqs.json")).unwrap();
    std::fs::write(
        broken.join("iam-policy-sqs.json"),
        policy.replacen("sqs:ReceiveMessage", "sqs:ReceiveMessages", 1),
    )
    .unwrap();
    let lifecycle = std::fs::read_to_string(broken.join("lifecycle.json")).unwrap();
    std::fs::write(
        broken.join("lifecycle.json"),
        lifecycle.replacen("\"Days\": 1", "\"Days\": \"one\"", 1),
    )
    .unwrap();
    let (ok, text) = run(Command::new("/usr/bin/python3")
        .arg(repo().join("deploy/validate.py"))
        .arg(&broken));
    assert!(!ok && text.contains("lifecycle.json: invalid"), "{text}");
    assert!(
        text.contains("iam-policy-sqs.json: invalid: not SQS actions: sqs:ReceiveMessages"),
        "{text}"
    );
}

#[test]
fn the_lifecycle_rules_name_the_folders_thumbkit_really_uses() {
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/lifecycle.json")).unwrap(),
    )
    .unwrap();
    let prefixes: Vec<&str> = doc["Rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("Expiration").is_some())
        .map(|r| r["Filter"]["Prefix"].as_str().unwrap())
        .collect();
    let layout = Layout::new("_variants").unwrap();
    let staged = layout.staging(None, &"0".repeat(32), "bytes").unwrap();
    let staging = staged.as_str().rsplit_once('/').unwrap().0.to_owned() + "/";
    assert!(
        prefixes.contains(&staging.as_str()),
        "{prefixes:?} vs {staging}"
    );
    assert!(prefixes.contains(&"_variants/_doctor/"), "{prefixes:?}");
    // No rule expires variants or records wholesale: they are content-addressed and gc'd.
    assert!(
        prefixes.iter().all(|p| p.starts_with("_variants/_")),
        "{prefixes:?}"
    );
}

#[test]
fn compose_and_the_garage_init_script_lint_clean() {
    let (ok, text) = run(Command::new("docker-compose")
        .args(["-f", "compose.yaml", "config", "-q"])
        .current_dir(repo()));
    assert!(ok, "compose.yaml: {text}");
    let (ok, text) = run(Command::new("shellcheck").arg(repo().join("deploy/garage/init.sh")));
    assert!(ok, "{text}");
    // The stack agrees with itself: thumbkit's key and bucket are the ones init creates.
    let compose = std::fs::read_to_string(repo().join("compose.yaml")).unwrap();
    let value = |name: &str| {
        compose
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in compose.yaml"))
            .to_owned()
    };
    assert_eq!(value("AWS_ACCESS_KEY_ID"), value("KEY_ID"));
    assert_eq!(value("AWS_SECRET_ACCESS_KEY"), value("SECRET"));
    assert_eq!(
        value("THUMBKIT_STORAGE"),
        format!("s3://{}", value("BUCKET"))
    );
}

/// The Debian packages that provide the libraries `binary` links.
fn linked_packages(binary: &Path) -> Vec<String> {
    let (ok, text) = run(Command::new("ldd").arg(binary));
    assert!(ok, "{text}");
    let mut packages = Vec::new();
    for path in text
        .lines()
        .filter_map(|l| l.split("=> ").nth(1)?.split(' ').next())
    {
        let candidates = [path.to_owned(), format!("/usr{path}")];
        let owner = candidates.iter().find_map(|p| {
            let (ok, text) = run(Command::new("dpkg").args(["-S", p]));
            ok.then(|| text.split(':').next().unwrap_or_default().to_owned())
        });
        packages.push(owner.unwrap_or_else(|| panic!("no Debian package owns {path}")));
    }
    packages.sort();
    packages.dedup();
    packages
}

#[test]
fn the_dockerfile_runs_as_a_user_with_every_library_the_binary_links() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let stages: Vec<&str> = dockerfile.split("\nFROM ").collect();
    assert_eq!(stages.len(), 3, "a build stage and a runtime stage");
    let runtime = stages[2];
    assert!(runtime.starts_with("debian:bookworm-slim"), "{runtime}");
    let user = runtime
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("a USER in the runtime stage");
    assert!(user != "root" && user != "0", "runs as {user}");
    assert!(runtime.contains("\nHEALTHCHECK ") && runtime.contains("/healthz"));
    assert!(runtime.contains("ENTRYPOINT [\"/usr/local/bin/thumbkit\"]"));
    // The build stage's Debian is the runtime's (same libheif soname, same glibc).
    assert!(stages[1].starts_with("rust:") && stages[1].contains("-bookworm"));
    // Every library the binary links is installed in the runtime stage or in the base
    // image (glibc, libgcc, libstdc++ and zlib are in every Debian slim image).
    let base = ["libc6", "libgcc-s1", "libstdc++6", "zlib1g"];
    let installed: Vec<&str> = runtime.split_whitespace().collect();
    for package in linked_packages(Path::new(env!("CARGO_BIN_EXE_thumbkit"))) {
        assert!(
            base.contains(&package.as_str()) || installed.contains(&package.as_str()),
            "the runtime stage lacks {package}"
        );
    }
    // And the plugins libheif loads at run time, as `make deps` installs them.
    for plugin in [
        "libheif-plugin-libde265",
        "libheif-plugin-dav1d",
        "libheif-plugin-aomenc",
    ] {
        assert!(installed.contains(&plugin), "no {plugin}");
    }
    assert!(
        !installed
            .iter()
            .any(|w| w.starts_with("libheif-plugin-x265")),
        "never the GPL encoder"
    );
    // Everything the build stage copies exists.
    for line in stages[1].lines().filter_map(|l| l.strip_prefix("COPY ")) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        for src in &parts[..parts.len() - 1] {
            assert!(repo().join(src).exists(), "COPY {src}: no such file");
        }
    }
}

#[test]
fn the_image_builds_and_answers_its_healthcheck_where_docker_runs() {
    let (engine, why) =
        run(Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]));
    if !engine {
        // The client is here; no engine runs on this machine (no daemon can start in its
        // sandbox). The files are linted by the tests above.
        eprintln!(
            "no Docker engine, image not built: {}",
            why.lines().last().unwrap_or("")
        );
        return;
    }
    let (ok, text) = run(Command::new("docker")
        .args(["build", "-q", "-t", "thumbkit:test", "."])
        .current_dir(repo()));
    assert!(ok, "{text}");
    let (ok, text) = run(Command::new("docker").args([
        "run",
        "--rm",
        "--entrypoint",
        "/usr/local/bin/thumbkit",
        "thumbkit:test",
        "presets",
    ]));
    assert!(ok && text.contains("thumb"), "{text}");
}

#[test]
fn the_sqs_policy_grants_every_call_the_consumer_makes() {
    let code = std::fs::read_to_string(repo().join("src/queue/sqs.rs")).unwrap();
    // `self.client.receive_message()` and the like, however rustfmt wraps them.
    let calls: BTreeSet<String> = code
        .split(".client")
        .skip(1)
        .filter_map(|rest| {
            let rest = rest.trim_start().strip_prefix('.')?;
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            rest[name.len()..].starts_with("()").then_some(name)
        })
        .collect();
    assert!(calls.len() >= 4, "{calls:?}");
    let policy = std::fs::read_to_string(repo().join("deploy/iam-policy-sqs.json")).unwrap();
    for call in &calls {
        // A batch call needs the permission of its single form (SQS's own rule).
        let action: String = call
            .trim_end_matches("_batch")
            .split('_')
            .map(|w| w[..1].to_uppercase() + &w[1..])
            .collect();
        assert!(
            policy.contains(&format!("\"sqs:{action}\"")),
            "sqs:{action} for {call}"
        );
    }
}
