//! The CLI's peak memory on hostile files, as the kernel counts it. A binary of its own: the
//! peak RSS that `wait4` reports for a child includes its parent's at the time of `exec`,
//! so it is only the child's own when the parent (this test process) is small, which the
//! shared test binary, decoding photos in its other tests, is not.

#[path = "it/helpers/process.rs"]
mod process;

use process::*;

#[test]
fn bad_files_get_one_line_and_a_failing_exit_with_little_memory() {
    let dir = temp_dir("bad");
    for (name, expected) in [
        ("truncated.jpg", "truncated"),
        ("empty.jpg", "empty"),
        ("exif-samples-README.jpg", "text, not an image"),
        ("bomb-60000x60000.png", "60000x60000"),
        ("giant-image.jpg", "20000x14000"),
    ] {
        let input = format!("fixtures/{name}");
        let out = dir.join("out.jpg");
        let (o, rss) = run_measured(&[
            "render",
            "--preset",
            "thumb",
            &input,
            "-o",
            out.to_str().unwrap(),
        ]);
        let err = stderr(&o);
        assert!(!o.status.success(), "{name} must fail");
        assert_eq!(
            o.status.code(),
            Some(1),
            "{name}: an error exit, not a crash"
        );
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{name}: one line, got:\n{err}"
        );
        assert!(
            err.contains(expected),
            "{name}: `{err}` should mention `{expected}`"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(!out.exists(), "{name}: nothing written");
        // The bombs are refused from the header: nowhere near their 450 MB-3.6 GB of pixels.
        assert!(rss < 64 << 20, "{name}: peak RSS {} MiB", rss >> 20);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
