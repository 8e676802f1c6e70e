//! The `thumbkit` binary as a user runs it: render, presets, inspect, and bad input ending
//! in one line on stderr with a non-zero exit, with memory staying small.

use crate::helpers::fixtures::*;
use crate::helpers::process::*;

#[test]
fn render_a_gps_photo_with_thumb() {
    let dir = temp_dir("render");
    let out = dir.join("t.jpg");
    let o = thumbkit()
        .args([
            "render",
            "--preset",
            "thumb",
            "fixtures/HMD_Nokia_8.3_5G.jpg",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let line = String::from_utf8_lossy(&o.stdout);
    assert!(
        line.contains("320x137 jpeg"),
        "prints dimensions and format: {line}"
    );
    assert!(line.contains("bytes") && line.contains("ms"), "{line}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(decode_rgb(&bytes).dimensions(), (320, 137));
    assert_no_metadata(&bytes, "cli render");
    // Nothing else (no temp file) is left beside it.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn auto_format_follows_the_output_extension() {
    let dir = temp_dir("auto");
    let out = dir.join("a.webp");
    let o = thumbkit()
        .args([
            "render",
            "--preset",
            "avatar",
            "fixtures/DSCN0010.jpg",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"RIFF"), "WebP written");
    assert_eq!(decode_rgb(&bytes).dimensions(), (128, 128));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_output_name_never_holds_another_format() {
    let dir = temp_dir("mismatch");
    for (preset, name, words) in [
        ("thumb", "x.webp", "preset `thumb` makes jpeg, not webp"),
        ("small", "x.bmp", "cannot write a `.bmp` file"),
        ("thumb", "x.out", "cannot write a `.out` file"),
    ] {
        let out = dir.join(name);
        let o = thumbkit()
            .args(["render", "--preset", preset, "fixtures/DSCN0010.jpg", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(words), "{name}: {err}");
        assert!(!out.exists(), "{name}: nothing written");
    }
    let out = dir.join("x.png");
    let o = thumbkit()
        .args([
            "render",
            "--preset",
            "small",
            "fixtures/DSCN0010.jpg",
            "-f",
            "webp",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("-f webp does not match"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn presets_lists_names_fingerprints_and_summaries() {
    let o = thumbkit().arg("presets").output().unwrap();
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for name in ["thumb", "small", "medium", "large", "avatar", "og"] {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} listed in:\n{text}"));
        let fp = line.split_whitespace().nth(1).unwrap();
        assert_eq!(fp, shipped(name).fingerprint().as_str());
    }
    assert!(text.contains("inside 320x320, jpeg q80"), "{text}");
}

#[test]
fn inspect_reports_metadata() {
    let o = thumbkit()
        .args(["inspect", "fixtures/IMG_9424.JPG"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("4032x3024"), "{text}");
    assert!(text.contains("Display P3"), "{text}");
    assert!(text.contains("gps"), "{text}");
    assert!(text.contains("renders:     yes"), "{text}");
    // What the pipeline would do: the upright size, the frames, whether it renders.
    let inspect = |name: &str| {
        let o = thumbkit()
            .args(["inspect", &format!("fixtures/{name}")])
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let text = inspect("Landscape_6.jpg");
    assert!(text.contains("orientation: 6"), "{text}");
    assert!(
        text.contains("dimensions:  600x450 upright (stored 450x600"),
        "{text}"
    );
    let text = inspect("rotating-squares.gif");
    assert!(text.contains("frames:      30 (animated"), "{text}");
    let text = inspect("rotating-squares.webp");
    assert!(text.contains("frames:      9 (animated"), "{text}");
    let text = inspect("truncated.jpg");
    assert!(
        text.contains("renders:     no: the image data is truncated"),
        "{text}"
    );
    let text = inspect("giant-image.jpg");
    assert!(
        text.contains("renders:     no: the image is 20000x14000"),
        "{text}"
    );
    // What is no image at all is inspected too: it says what it is, and exits 0.
    let dir = temp_dir("inspect-pdf");
    std::fs::write(dir.join("bill.pdf"), b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n").unwrap();
    for file in [dir.join("bill.pdf"), "fixtures/empty.jpg".into()] {
        let o = thumbkit().arg("inspect").arg(&file).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("renders:     no: "), "{text}");
    }
}

#[test]
fn unknown_preset_and_missing_file_are_one_line_errors() {
    for args in [
        vec!["render", "--preset", "nope", "fixtures/DSCN0010.jpg"],
        vec!["render", "--preset", "thumb", "fixtures/does-not-exist.jpg"],
        vec!["inspect", "fixtures/does-not-exist.jpg"],
    ] {
        let o = thumbkit().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(
            stderr(&o).trim_end().lines().count(),
            1,
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn a_bad_preset_directory_fails_with_the_file_and_field() {
    let dir = temp_dir("presets");
    std::fs::write(dir.join("ok.toml"), "width = 100").unwrap();
    std::fs::write(dir.join("bad.toml"), "width = 100\nquality = 0").unwrap();
    let o = thumbkit()
        .args(["presets", "--preset-files"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("bad.toml") && err.contains("quality") && err.contains("between 1 and 100"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn purge_deletes_an_original_and_what_was_derived_from_it() {
    let dir = crate::helpers::app::temp_dir("cli-purge");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(
        dir.join("a/p.jpg"),
        crate::helpers::fixtures::fixture("DSCN0010.jpg"),
    )
    .unwrap();
    let storage = format!("fs:{}", dir.display());
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    let out = run(&["purge", "--storage", &storage, "a/p.jpg"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("a/p.jpg: deleted the original"), "{stdout}");
    assert!(!dir.join("a/p.jpg").exists());
    let again = run(&["purge", "--storage", &storage, "a/p.jpg"]);
    let again = String::from_utf8_lossy(&again.stdout);
    assert!(again.contains("nothing to delete"), "{again}");
    fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .flat_map(|e| match e.path() {
                p if p.is_dir() => files(&p),
                p => vec![p],
            })
            .collect()
    }
    assert_eq!(
        files(&dir),
        Vec::<std::path::PathBuf>::new(),
        "the store is empty"
    );
    let bad = run(&["purge", "--storage", "gs://x", "a/p.jpg"]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pregen_renders_every_missing_variant_once_and_a_second_run_renders_nothing() {
    let dir = crate::helpers::app::temp_dir("cli-pregen");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("albums/x")).unwrap();
    std::fs::write(
        dir.join("albums/one.jpg"),
        crate::helpers::fixtures::fixture("DSCN0010.jpg"),
    )
    .unwrap();
    std::fs::write(
        dir.join("albums/x/two.jpg"),
        crate::helpers::fixtures::fixture("IMG_9424.JPG"),
    )
    .unwrap();
    std::fs::write(
        dir.join("albums/x/bad.jpg"),
        crate::helpers::fixtures::fixture("truncated.jpg"),
    )
    .unwrap();
    std::fs::write(
        dir.join("elsewhere.jpg"),
        crate::helpers::fixtures::fixture("DSCN0010.jpg"),
    )
    .unwrap();
    let storage = format!("fs:{}", dir.display());
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"))
            .args([
                "pregen",
                "--storage",
                &storage,
                "--prefix",
                "albums/",
                "--presets",
                "thumb,small",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    let first = run();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&first.stdout).into_owned(),
        String::from_utf8_lossy(&first.stderr).into_owned(),
    );
    // The truncated original fails for each preset, with its reason; the exit code says so.
    assert_eq!(first.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("3 originals: 4 variants rendered, 0 already stored, 2 failed"),
        "{stdout}"
    );
    assert!(
        stderr.contains("failed: albums/x/bad.jpg (thumb): the image data is truncated"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pregen: 3/3 originals"),
        "plain progress without a TTY: {stderr}"
    );
    let second = run();
    let stdout = String::from_utf8_lossy(&second.stdout);
    // The failure was remembered in the original's record: the second run does not read
    // the original again and reports it once, for the original.
    assert!(
        stdout.contains("3 originals: 0 variants rendered, 4 already stored, 1 failed"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("failed: albums/x/bad.jpg: the image data is truncated"),
        "{stderr}"
    );
    // Only originals under the prefix were rendered: thumb (JPEG) + small (JPEG, WebP, AVIF).
    let variants: Vec<_> = walk(&dir.join("_variants"))
        .into_iter()
        .map(|p| p.display().to_string())
        .filter(|p| !p.contains("/_records/") && !p.contains("/_keys/"))
        .collect();
    assert_eq!(variants.len(), 8, "{variants:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn each_command_lists_only_the_flags_it_uses() {
    let help = |command: &str| {
        let o = thumbkit().args([command, "--help"]).output().unwrap();
        assert!(o.status.success(), "{command}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    for (command, absent) in [
        (
            "sign",
            &[
                "--preset-files",
                "--max-pixels",
                "--max-input-bytes",
                "--max-output-side",
            ][..],
        ),
        (
            "presets",
            &["--max-pixels", "--max-input-bytes", "--max-output-side"][..],
        ),
        ("inspect", &["--preset-files", "--max-output-side"][..]),
    ] {
        let text = help(command);
        for flag in absent {
            assert!(
                !text.contains(flag),
                "`{command} --help` lists {flag}:\n{text}"
            );
        }
    }
    assert!(help("inspect").contains("--max-pixels"));
    assert!(help("render").contains("--preset-files"));
    assert!(help("serve").contains("--max-output-side"));
}

#[test]
fn bench_takes_several_images_after_one_flag() {
    // Parsed as two images (not "unexpected argument"): the first one is then read.
    let o = thumbkit()
        .args([
            "bench",
            "--images",
            "nope/a.jpg",
            "nope/b.jpg",
            "--rounds",
            "1",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("nope/a.jpg"), "{stderr}");
    assert!(!stderr.contains("unexpected argument"), "{stderr}");
}
