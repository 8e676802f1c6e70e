//! `THUMBKIT_SOURCES` from the command line, with directories as the stores: `pregen` and
//! `gc` take `--source`, every malformed setting is refused in one line, and signed URLs
//! name the source they were signed for. (Buckets with their own credentials are in
//! `s3::sources`.)

use std::path::Path;
use std::process::Output;

use crate::helpers::fixtures::fixture;
use crate::helpers::process::temp_dir;

/// Runs `thumbkit args` with `env` and the shipped presets.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"));
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("THUMBKIT_SOURCES")
        .env("THUMBKIT_LISTEN", "127.0.0.1:0");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file under `dir` whose path holds `part`.
fn files_under(dir: &Path, part: &str) -> usize {
    let mut count = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().contains(part) {
                count += 1;
            }
        }
    }
    count
}

#[test]
fn pregen_and_gc_work_on_the_source_they_are_given() {
    let (main, docs) = (temp_dir("src-cli-main"), temp_dir("src-cli-docs"));
    std::fs::write(main.join("a.jpg"), fixture("Landscape_1.jpg")).unwrap();
    std::fs::create_dir_all(docs.join("scans")).unwrap();
    std::fs::write(docs.join("scans/b.jpg"), fixture("Landscape_2.jpg")).unwrap();
    std::fs::write(docs.join("scans/c.jpg"), fixture("Landscape_3.jpg")).unwrap();
    let (storage, sources) = (
        format!("fs:{}", main.display()),
        format!("docs=fs:{}", docs.display()),
    );
    let env = [
        ("THUMBKIT_STORAGE", storage.as_str()),
        ("THUMBKIT_SOURCES", sources.as_str()),
    ];
    let out = run(
        &["pregen", "--source", "docs", "--presets", "thumb,small"],
        &env,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("2 originals: 4 variants rendered"),
        "{stdout}"
    );
    // In the source's own folder (`small` in JPEG, WebP and AVIF); the default store was
    // not touched.
    assert_eq!(
        files_under(&docs, "_variants/") - files_under(&docs, ".json"),
        8
    );
    assert_eq!(files_under(&main, "_variants"), 0);
    // `--prefix` is within the source.
    let out = run(
        &[
            "pregen",
            "--source",
            "docs",
            "--prefix",
            "scans/c",
            "--presets",
            "thumb",
        ],
        &env,
    );
    assert!(
        text(&out)
            .0
            .contains("1 originals: 0 variants rendered, 1 already stored")
    );

    let out = run(&["gc", "--source", "docs"], &env);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("gc: 0 stale variants (0 bytes), 8 current kept"),
        "{stdout}"
    );
    let out = run(&["gc"], &env);
    assert!(text(&out).0.contains("0 current kept"), "{}", text(&out).0);

    // A source that is not configured: one line, exit 1, naming those that are.
    for command in ["pregen", "gc"] {
        let out = run(&[command, "--source", "avatars"], &env);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(
                "--source avatars: THUMBKIT_SOURCES configures no such source (it has: docs)"
            ),
            "{stderr}"
        );
    }
}

#[test]
fn malformed_sources_are_refused_in_one_line() {
    let data = temp_dir("src-refusals");
    let storage = format!("fs:{}", data.display());
    for (sources, says) in [
        ("docs", "is not NAME=s3://BUCKET[/PREFIX]"),
        (
            "docs=gs://bucket",
            "neither `fs:PATH` nor `s3://BUCKET[/PREFIX]`",
        ),
        ("default=s3://some-bucket", "names the default store"),
        ("Docs=s3://some-bucket", "is not a source name"),
        ("a:b=s3://some-bucket", "is not a source name"),
        ("docs=s3://Bad_Bucket", "is not a bucket name"),
        ("docs=s3://some-bucket/../up", "the prefix"),
        (
            "docs=s3://b-1,docs=s3://b-2",
            "the source `docs` is named twice",
        ),
        (
            "docs=s3://some-bucket?colour=red",
            "is not one of profile=NAME",
        ),
        (
            "docs=s3://some-bucket?endpoint=ftp://x",
            "is not one of profile=NAME",
        ),
        ("docs=s3://some-bucket?profile", "is not an option"),
        (
            "docs=fs:/tmp?profile=x",
            "is not an option of an s3:// source",
        ),
    ] {
        let out = run(
            &["serve"],
            &[
                ("THUMBKIT_STORAGE", &storage),
                ("THUMBKIT_SOURCES", sources),
            ],
        );
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{sources}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{sources}: {stderr}");
        assert!(stderr.contains("THUMBKIT_SOURCES"), "{sources}: {stderr}");
        assert!(stderr.contains(says), "{sources}: {stderr}");
    }
}

#[test]
fn a_preset_limited_to_an_unknown_source_is_refused_at_start() {
    let (data, docs) = (temp_dir("src-preset"), temp_dir("src-preset-docs"));
    let presets = temp_dir("src-preset-files");
    let storage = format!("fs:{}", data.display());
    let sources = format!("docs=fs:{}", docs.display());
    for (list, says) in [
        (
            r#"["docs", "avatars"]"#,
            "names the source `avatars`, which THUMBKIT_SOURCES",
        ),
        (r#"[]"#, "an empty list"),
        (r#"["Docs"]"#, "must be a list of source names"),
        (r#""docs""#, "must be a list of source names"),
    ] {
        std::fs::write(
            presets.join("badge.toml"),
            format!("width = 64\nheight = 64\nsources = {list}\n"),
        )
        .unwrap();
        let out = run(
            &["serve"],
            &[
                ("THUMBKIT_STORAGE", &storage),
                ("THUMBKIT_SOURCES", &sources),
                ("THUMBKIT_PRESETS", &presets.display().to_string()),
            ],
        );
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{list}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{list}: {stderr}");
        assert!(stderr.contains(says), "{list}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_url_names_its_source() {
    use std::sync::Arc;
    use thumbkit::keys::Layout;
    use thumbkit::service::Settings;
    use thumbkit::signing::Signer;
    use thumbkit::storage::{FsStore, SourceSpec, Sources, Store};
    let (main, docs) = (temp_dir("src-sign-main"), temp_dir("src-sign-docs"));
    let spec = SourceSpec::parse(&format!("docs=fs:{}", docs.display())).unwrap();
    let docs_store: Arc<dyn Store> = Arc::new(FsStore::open(&docs).await.unwrap());
    let store = Sources::new(
        Arc::new(FsStore::open(&main).await.unwrap()),
        vec![(spec.clone(), docs_store.clone())],
    );
    let bytes = bytes::Bytes::from(fixture("Landscape_1.jpg"));
    for s in [docs_store.as_ref(), &store as &dyn Store] {
        // The same name in both stores: a signature for one must not open the other.
        let key = thumbkit::keys::ObjectKey::parse("a.jpg").unwrap();
        s.put(&key, bytes.clone(), "image/jpeg", &Default::default())
            .await
            .unwrap();
    }
    let settings = Settings {
        signer: Some(Signer::parse("sources-signing-key-0123456789").unwrap()),
        layout: Layout::new("_variants")
            .unwrap()
            .with_sources([spec.name.clone()]),
        ..Settings::default()
    };
    let app = crate::helpers::app::spawn_app(
        Arc::new(store),
        crate::helpers::app::shipped_presets(),
        settings,
    )
    .await;
    let manifest = app.service.describe("docs:a.jpg").await.unwrap();
    let url = manifest.variants["thumb"].url.clone();
    assert!(url.starts_with("/t/thumb/docs:a.jpg?v="), "{url}");
    assert_eq!(app.get(&url).await.status, 200);
    let elsewhere = url.replacen("docs:a.jpg", "a.jpg", 1);
    assert_eq!(app.get(&elsewhere).await.status, 403);
    assert_eq!(app.get("/t/thumb/docs:a.jpg").await.status, 403);
}

#[test]
fn doctor_names_default_store_keys_that_a_source_hides() {
    let (main, docs) = (temp_dir("src-doctor-main"), temp_dir("src-doctor-docs"));
    // Reachable as `/t/thumb/docs:old.jpg` before `docs` was configured; not after.
    std::fs::write(main.join("docs:old.jpg"), fixture("Landscape_1.jpg")).unwrap();
    std::fs::write(main.join("kept.jpg"), fixture("Landscape_1.jpg")).unwrap();
    let storage = format!("fs:{}", main.display());
    let with = |sources: &str| {
        let out = run(
            &["doctor"],
            &[
                ("THUMBKIT_STORAGE", &storage),
                ("THUMBKIT_SOURCES", sources),
            ],
        );
        text(&out).0 + &text(&out).1
    };
    let said = with(&format!("docs=fs:{}", docs.display()));
    assert!(
        said.lines().any(|l| l.starts_with(
            "WARN  sources: the default store has 1 keys beginning `docs:` (such as `docs:old.jpg`)"
        ) && l
            .ends_with("-> move them, or give the source docs another name")),
        "{said}"
    );
    assert!(
        said.contains("ok    PUT docs: wrote docs:_variants/_doctor/probe-"),
        "{said}"
    );
    // Another name hides nothing.
    let said = with(&format!("scans=fs:{}", docs.display()));
    assert!(!said.contains("WARN  sources"), "{said}");
}
