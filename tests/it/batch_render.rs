//! `thumbkit render` over many inputs, like `vipsthumbnail` in batch: shared out to workers,
//! each failure one line while the rest go on, and outputs that would collide refused before
//! anything is written.

use crate::helpers::fixtures::*;
use crate::helpers::process::*;

#[test]
fn many_inputs_render_in_parallel_and_one_failure_does_not_stop_the_rest() {
    let dir = temp_dir("batch");
    let out = dir.join("thumbs");
    let cut = dir.join("cut.jpg");
    std::fs::write(&cut, &fixture("DSCN0010.jpg")[..3000]).unwrap();
    let o = thumbkit()
        .args(["render", "--preset", "thumb", "--workers", "2", "-o"])
        .arg(&out)
        .args([
            "fixtures/DSCN0010.jpg",
            "fixtures/flower2.webp",
            "fixtures/blackbug.png",
        ])
        .arg(&cut)
        .arg(dir.join("missing.jpg"))
        .arg("fixtures/HMD_Nokia_8.3_5G.jpg")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "exit 1 when any input failed");
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    // One line per failure, naming the file, and one that counts them.
    assert_eq!(lines.len(), 3, "{err}");
    assert!(lines.iter().any(|l| l.contains("cut.jpg: ")), "{err}");
    assert!(
        lines.iter().any(|l| l.contains("missing.jpg: cannot read")),
        "{err}"
    );
    assert!(lines[2].contains("2 of 6 inputs"), "{err}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.lines().count(), 4, "a line per thumbnail: {stdout}");
    for (name, size) in [
        ("DSCN0010.thumb.jpg", (320, 240)),
        ("flower2.thumb.jpg", (300, 225)),
        ("HMD_Nokia_8.3_5G.thumb.jpg", (320, 137)),
    ] {
        let bytes = std::fs::read(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decode_rgb(&bytes).dimensions(), size, "{name}");
        assert_no_metadata(&bytes, name);
    }
    // The PNG keeps its format (`thumb` is `auto`: PNG for a source with alpha, else JPEG).
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 4);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn outputs_that_would_collide_are_refused_before_anything_is_written() {
    let dir = temp_dir("batch-clash");
    let out = dir.join("thumbs");
    std::fs::create_dir_all(dir.join("x")).unwrap();
    std::fs::copy(fixtures().join("DSCN0010.jpg"), dir.join("x/a.jpg")).unwrap();
    std::fs::copy(fixtures().join("flower2.webp"), dir.join("a.webp")).unwrap();
    let o = thumbkit()
        .args(["render", "--preset", "thumb", "-o"])
        .arg(&out)
        .arg(dir.join("x/a.jpg"))
        .arg(dir.join("a.webp"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("would both be written to"), "{err}");
    let written = std::fs::read_dir(&out).map_or(0, |d| d.count());
    assert_eq!(written, 0, "nothing written");
    // Several inputs need a folder: an existing file as -o is refused in one line.
    let file = dir.join("a-file.jpg");
    std::fs::write(&file, b"mine").unwrap();
    for args in [
        vec![
            "-o",
            file.to_str().unwrap(),
            "fixtures/DSCN0010.jpg",
            "fixtures/flower2.webp",
        ],
        vec![
            "--workers",
            "0",
            "fixtures/DSCN0010.jpg",
            "fixtures/flower2.webp",
        ],
    ] {
        let o = thumbkit()
            .args(["render", "--preset", "thumb"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&o).lines().count(), 1, "{args:?}: {}", stderr(&o));
    }
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"mine",
        "the file is untouched"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
