//! `thumbkit bench` as someone comparing thumbkit with libvips runs it: their own presets,
//! their own images in any format, from any folder.

use crate::helpers::fixtures::*;
use crate::helpers::process::*;

/// A 600 px photo whose alpha fades from opaque to clear, saved as PNG.
fn translucent_png(dir: &std::path::Path) -> std::path::PathBuf {
    let photo = decode_rgb(&fixture("2569067123_aca715a2ee_o.jpg"));
    let small = image::DynamicImage::ImageRgb8(photo).thumbnail(600, 600);
    let mut rgba = small.to_rgba8();
    let width = rgba.width();
    for (x, _, p) in rgba.enumerate_pixels_mut() {
        p.0[3] = (255 - x * 255 / width) as u8;
    }
    let path = dir.join("fading.png");
    rgba.save(&path).unwrap();
    path
}

/// The table's rows for `tool`: (size, PSNR).
fn rows(stdout: &str, tool: &str) -> Vec<(String, f64)> {
    stdout
        .lines()
        .filter(|l| l.split_whitespace().nth(2) == Some(tool))
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let n = cols.len();
            (cols[n - 2].to_owned(), cols[n - 1].parse().unwrap())
        })
        .collect()
}

#[test]
fn bench_runs_a_cover_preset_of_the_users_own_folder_on_a_translucent_png() {
    let dir = temp_dir("bench-card");
    std::fs::write(
        dir.join("card.toml"),
        "width = 300\nheight = 200\nfit = \"cover\"\nformat = \"png\"\n",
    )
    .unwrap();
    let png = translucent_png(&dir);
    let o = thumbkit()
        .args(["bench", "--preset", "card", "--rounds", "1", "--batch", "2"])
        .args(["--workers", "1", "--preset-files"])
        .arg(&dir)
        .arg("--images")
        .arg(&png)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    // The workers load `card` from the same folder as the bench (not "no preset named").
    assert!(o.status.success(), "{}\n{stdout}", stderr(&o));
    let (tk, vips) = (rows(&stdout, "thumbkit"), rows(&stdout, "vipsthumbnail"));
    assert_eq!(tk.len(), 1, "{stdout}");
    // vipsthumbnail is asked for the same crop, so both outputs are the preset's box.
    assert_eq!(tk[0].0, "300x200", "{stdout}");
    assert_eq!(vips[0].0, "300x200", "{stdout}");
    // Both sides flattened on the preset's white: a correct output scores as one (a
    // reference flattened on black, or not at all, scored well under 10 dB).
    for (tool, (_, db)) in [("thumbkit", &tk[0]), ("vipsthumbnail", &vips[0])] {
        assert!(*db > 30.0, "{tool} scored {db} dB:\n{stdout}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_outside_the_repository_says_where_its_default_images_are() {
    let dir = temp_dir("bench-elsewhere");
    let o = thumbkit()
        .current_dir(&dir)
        .args(["bench", "--rounds", "1", "--preset-files"])
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets"))
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("--images") && err.contains("repository"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_help_takes_any_format() {
    let o = thumbkit().args(["bench", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(!help.contains("JPEG photos"), "{help}");
    assert!(help.contains("any format"), "{help}");
}

#[test]
fn bench_makes_the_format_matrix_from_a_photo_and_compares_on_every_file() {
    // sharp is the third tool when `make bench` has installed it; without it the table says
    // so once and the others still run (here its directory does not exist).
    let o = thumbkit()
        .args([
            "bench",
            "--inputs",
            "webp,png,tiff",
            "--images",
            "fixtures/DSCN0010.jpg",
            "--sharp",
            "/nonexistent/sharp",
        ])
        .args(["--rounds", "1", "--batch", "2", "--workers", "1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("sharp not measured: /nonexistent/sharp/worker.mjs not found"),
        "{stdout}"
    );
    // Each format at 2040 px and at full size (640x480: the 2 K box does not enlarge it),
    // scored against the lossless master: the PNG is the master itself, the TIFF (made by
    // libvips) holds the same pixels, so both score what the resize alone costs.
    let mut psnr = std::collections::HashMap::new();
    for file in [
        "DSCN0010-2k.webp",
        "DSCN0010-2k.png",
        "DSCN0010-2k.tif",
        "DSCN0010-full.webp",
        "DSCN0010-full.png",
        "DSCN0010-full.tif",
    ] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(file) && l.contains("thumbkit"))
            .unwrap_or_else(|| panic!("no row for {file}: {stdout}"));
        let db: f64 = row.split_whitespace().last().unwrap().parse().unwrap();
        assert!(db > 25.0, "{row}");
        psnr.insert(file, db);
    }
    assert_eq!(psnr["DSCN0010-2k.png"], psnr["DSCN0010-2k.tif"], "{stdout}");
    assert!(
        psnr["DSCN0010-2k.webp"] < psnr["DSCN0010-2k.png"],
        "{stdout}"
    );
    assert_eq!(rows(&stdout, "vipsthumbnail").len(), 6, "{stdout}");
    assert_eq!(rows(&stdout, "sharp").len(), 0, "{stdout}");
    // A format that cannot be made is one line naming what can.
    let o = thumbkit()
        .args([
            "bench",
            "--inputs",
            "webp,heic",
            "--images",
            "fixtures/DSCN0010.jpg",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot make `heic`"), "{err}");
}

/// Peak RSS per worker is the worker's own: the bench never holds an input itself (a
/// spawned child's `ru_maxrss` starts from its parent's peak, so reading a 27 MB TIFF used
/// to put every later worker, of every tool, above 27 MiB).
#[test]
fn a_large_input_does_not_raise_the_next_images_peak_rss() {
    let dir = temp_dir("bench-rss");
    let tif = dir.join("big.tif");
    let made = std::process::Command::new("vips")
        .args([
            "black",
            tif.to_str().unwrap(),
            "3000",
            "3000",
            "--bands",
            "3",
        ])
        .status()
        .unwrap();
    assert!(made.success());
    assert!(std::fs::metadata(&tif).unwrap().len() > 27_000_000);
    let small = dir.join("small.jpg");
    std::fs::write(&small, fixture("DSCN0010.jpg")).unwrap();
    let images = format!("{},{}", tif.display(), small.display());
    let o = thumbkit()
        .args(["bench", "--images", &images, "--sharp", "/nonexistent"])
        .args(["--rounds", "1", "--batch", "2", "--workers", "1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    // libvips' own floor is ~40 MiB; before the fix both read 66 MiB.
    for (tool, limit) in [("thumbkit", 27.0), ("vipsthumbnail", 55.0)] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with("small.jpg") && l.split_whitespace().nth(2) == Some(tool))
            .unwrap_or_else(|| panic!("no {tool} row: {stdout}"));
        let mib: f64 = row
            .split(" MiB")
            .next()
            .and_then(|s| s.split_whitespace().last())
            .unwrap()
            .parse()
            .unwrap();
        assert!(mib < limit, "{row}");
    }
}
