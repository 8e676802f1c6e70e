//! Preset files: every error names the file, the field and the reason; the shipped presets
//! are what the README says.

use std::path::Path;

use thumbkit::preset::{Fit, FormatChoice, Preset, PresetError, Presets};

fn parse_err(text: &str) -> String {
    Preset::parse("p", text, Path::new("presets/p.toml"))
        .expect_err(text)
        .to_string()
}

#[test]
fn field_errors_name_file_field_and_reason() {
    for (text, field, reason) in [
        ("width = 0", "width", "between 1 and 10000"),
        ("width = 20000", "width", "between 1 and 10000"),
        ("width = 10\nquality = 101", "quality", "between 1 and 100"),
        ("width = 10\nbackground = \"blue\"", "background", "#rrggbb"),
        (
            "fit = \"cover\"\nwidth = 10",
            "height",
            "needs both width and height",
        ),
        (
            "width = 10\ngravity = \"north\"",
            "gravity",
            "only applies to fit = \"cover\"",
        ),
        ("quality = 80", "width", "needs a width, a height, or both"),
    ] {
        let e = parse_err(text);
        assert!(e.starts_with("presets/p.toml"), "{e}");
        assert!(e.contains(&format!("`{field}`")), "{text}: {e}");
        assert!(e.contains(reason), "{text}: {e}");
    }
}

#[test]
fn unknown_keys_and_bad_values_are_named() {
    let e = parse_err("width = 10\nqualty = 80");
    assert!(e.contains("presets/p.toml") && e.contains("qualty"), "{e}");
    let e = parse_err("width = 10\nfit = \"stretch\"");
    assert!(e.contains("stretch") && e.contains("fit"), "{e}");
    let e = parse_err("width = \"big\"");
    assert!(e.contains("width"), "{e}");
    let e = parse_err("width = 10\nformat = \"gif\"");
    assert!(e.contains("gif"), "{e}");
}

/// Every mistake is said in the preset's words: the key, what it allows, what was found;
/// never a deserializer's ("expected i64", "untagged enum"), and a syntax error by its line.
#[test]
fn mistakes_are_told_in_the_presets_words() {
    for (text, words) in [
        (
            "width = 10\nquality = {jpeg=80, png=9}",
            &[
                "field `quality`",
                "`png`",
                "PNG is lossless",
                "jpeg, webp and avif",
            ][..],
        ),
        (
            "width = \"640\"",
            &[
                "field `width`",
                "whole number of pixels",
                "the string \"640\"",
            ],
        ),
        (
            "width = 10\nquality = \"high\"",
            &["field `quality`", "1 to 100", "the string \"high\""],
        ),
        (
            "width = 10\nfit = \"stretch\"",
            &[
                "field `fit`",
                "inside, cover, contain or fill",
                "\"stretch\"",
            ],
        ),
        (
            "width = 10\nupscale = \"yes\"",
            &["field `upscale`", "true or false"],
        ),
        (
            "width = 10\ndensities = [1, 1.5]",
            &["field `densities`", "whole numbers", "1.5", "[1, 2, 3]"],
        ),
        (
            "width = 10\nqualty = 80",
            &["unknown key `qualty`", "quality"],
        ),
        ("width = 10\nfit = \"cover\n", &["line 2, column"]),
        (
            "width = 10\nformat = \"jpeg\"\nanimation = \"keep\"",
            &["field `animation`", "a JPEG is one frame"],
        ),
        (
            "width = 10\nheight = 10\nfit = \"contain\"\nformat = \"jpeg\"\nbackground = \"#ffffff00\"",
            &["field `background`", "no transparency"],
        ),
    ] {
        let e = parse_err(text);
        assert!(e.starts_with("presets/p.toml: "), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        for word in words {
            assert!(e.contains(word), "{text}: `{word}` not in: {e}");
        }
        for serde in ["i64", "untagged", "variant", "invalid type"] {
            assert!(!e.contains(serde), "{text}: {e}");
        }
    }
    // What JPEG can hold still parses: a transparent background with fit = inside (no pad),
    // and an opaque one with contain.
    for ok in [
        "width = 10\nheight = 10\nformat = \"jpeg\"\nbackground = \"#ffffff00\"",
        "width = 10\nheight = 10\nfit = \"contain\"\nformat = \"jpeg\"\nbackground = \"#000000\"",
        "width = 10\nformat = \"webp\"\nanimation = \"keep\"",
    ] {
        assert!(Preset::parse("p", ok, Path::new("p.toml")).is_ok(), "{ok}");
    }
}

#[test]
fn bad_names_and_duplicates_are_refused() {
    let e = Preset::parse("Thumb", "width = 1", Path::new("presets/Thumb.toml")).unwrap_err();
    assert!(e.to_string().contains("only a-z, 0-9"), "{e}");
    let root = crate::helpers::app::temp_dir("dup");
    let (a, b) = (root.join("a"), root.join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(a.join("thumb.toml"), "width = 1").unwrap();
    std::fs::write(b.join("thumb.toml"), "width = 2").unwrap();
    let e = Presets::load(&[&a, &b]).unwrap_err();
    assert!(matches!(e, PresetError::Duplicate { .. }), "{e}");
    assert!(e.to_string().contains("already defined"), "{e}");
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(matches!(
        Presets::load(&[&empty]),
        Err(PresetError::Empty { .. })
    ));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn shipped_presets_are_as_documented() {
    let presets = Presets::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("presets")]).unwrap();
    assert_eq!(presets.len(), 6);
    let thumb = presets.get("thumb").unwrap();
    assert_eq!(
        (thumb.spec.width, thumb.spec.height, thumb.spec.fit),
        (Some(320), Some(320), Fit::Inside)
    );
    assert_eq!(
        (thumb.spec.format, thumb.spec.quality.jpeg),
        (FormatChoice::Jpeg, 80)
    );
    for (name, side) in [("small", 640), ("medium", 1280), ("large", 2048)] {
        let p = presets.get(name).unwrap();
        assert_eq!(
            (p.spec.width, p.spec.fit, p.spec.format),
            (Some(side), Fit::Inside, FormatChoice::Auto)
        );
    }
    let avatar = presets.get("avatar").unwrap();
    assert_eq!(
        (avatar.spec.width, avatar.spec.height, avatar.spec.fit),
        (Some(128), Some(128), Fit::Cover)
    );
    let og = presets.get("og").unwrap();
    assert_eq!(
        (og.spec.width, og.spec.height, og.spec.fit, og.spec.format),
        (Some(1200), Some(630), Fit::Cover, FormatChoice::Jpeg)
    );
}

#[test]
fn editing_a_preset_file_changes_its_fingerprint_reformatting_does_not() {
    let dir = crate::helpers::app::temp_dir("fp");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p.toml");
    std::fs::write(&file, "width = 320\nheight = 320\nquality = 80").unwrap();
    let first = Preset::load(&file).unwrap().fingerprint().clone();
    std::fs::write(&file, "# reordered\nquality=80\nheight=320\n\nwidth=320\n").unwrap();
    assert_eq!(&first, Preset::load(&file).unwrap().fingerprint());
    std::fs::write(&file, "width = 320\nheight = 320\nquality = 81").unwrap();
    assert_ne!(&first, Preset::load(&file).unwrap().fingerprint());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cover_presets_fill_their_box_even_from_a_small_original_and_inside_ones_do_not_enlarge() {
    // An 80x80 original (a small avatar upload) and a 100x50 one.
    let encode = |w: u32, h: u32| {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 128]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let square = encode(80, 80);
    let wide = encode(100, 50);
    let size = |bytes: &[u8], preset: &str| {
        let out = crate::helpers::fixtures::render(
            bytes,
            &crate::helpers::fixtures::shipped(preset),
            thumbkit::pipeline::OutputFormat::Png,
        );
        (out.width, out.height)
    };
    assert_eq!(size(&square, "avatar"), (128, 128));
    assert_eq!(size(&wide, "avatar"), (128, 128));
    assert_eq!(size(&wide, "og"), (1200, 630));
    assert_eq!(size(&square, "thumb"), (80, 80));
    assert_eq!(size(&square, "medium"), (80, 80));
    // Explicit `upscale = false` keeps a cover preset at the source's resolution.
    let strict = crate::helpers::fixtures::preset(
        "strict",
        "width = 128\nheight = 128\nfit = \"cover\"\nupscale = false",
    );
    let out =
        crate::helpers::fixtures::render(&square, &strict, thumbkit::pipeline::OutputFormat::Png);
    assert_eq!((out.width, out.height), (80, 80));
    assert!(
        crate::helpers::fixtures::shipped("avatar").spec.upscale
            && !crate::helpers::fixtures::shipped("thumb").spec.upscale
    );
}

fn card(text: &str) -> Result<Preset, PresetError> {
    Preset::parse("card", text, Path::new("presets/card.toml"))
}

#[test]
fn densities_and_widths_make_named_steps_with_their_own_boxes() {
    let p = card("width = 200\nheight = 100\nfit = \"cover\"\ndensities = [1, 2, 3]").unwrap();
    let steps = p.step_presets();
    let names: Vec<_> = steps.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, ["card@2x", "card@3x"]);
    assert_eq!(
        (steps[0].spec.width, steps[0].spec.height),
        (Some(400), Some(200))
    );
    assert_ne!(steps[0].fingerprint(), p.fingerprint());
    let w = card("height = 300\nwidths = [400, 800]").unwrap();
    assert_eq!(w.spec.width, Some(400));
    let steps = w.step_presets();
    assert_eq!(
        (steps[0].spec.width, steps[0].spec.height),
        (Some(800), Some(600))
    );
    assert_eq!(
        w.step_for_hints(None, Some(500)).as_deref(),
        Some("card@800w")
    );
    assert_eq!(w.step_for_hints(None, Some(300)), None);
    assert_eq!(
        p.step_for_hints(Some(2.0), None).as_deref(),
        Some("card@2x")
    );
    assert_eq!(
        p.step_for_hints(Some(1.5), None).as_deref(),
        Some("card@2x")
    );
    assert_eq!(
        p.step_for_hints(Some(9.0), None).as_deref(),
        Some("card@3x")
    );
    assert_eq!(p.step_for_hints(None, None), None);
}

#[test]
fn bad_steps_are_refused_naming_the_field() {
    for (bad, field) in [
        ("width = 100\ndensities = [2]", "densities"),
        ("width = 100\ndensities = [1, 1]", "densities"),
        ("width = 100\ndensities = [1, 9]", "densities"),
        ("width = 4000\ndensities = [1, 3]", "densities"),
        ("width = 100\nwidths = [200, 400]", "widths"),
        ("widths = []", "widths"),
        ("widths = [400, 300]", "widths"),
        ("width = 100\ndensities = [1]\nwidths = [100]", "widths"),
        ("width = 100\nsizes = \"50vw\"", "sizes"),
        ("width = 100\nclient_hints = true", "client_hints"),
    ] {
        let err = card(bad).unwrap_err().to_string();
        assert!(err.contains(field), "{bad}: {err}");
    }
}

#[test]
fn a_preset_fallback_is_found_beside_its_file_or_refused_at_load() {
    let dir = crate::helpers::app::temp_dir("fallback");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("card.toml"),
        "width = 100\nfallback = \"placeholder.png\"\n",
    )
    .unwrap();
    let err = Presets::load(&[&dir]).unwrap_err().to_string();
    assert!(
        err.contains("fallback") && err.contains("placeholder.png"),
        "{err}"
    );
    let swiss = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/swiss.png");
    std::fs::copy(swiss, dir.join("placeholder.png")).unwrap();
    let presets = Presets::load(&[&dir]).unwrap();
    let card = presets.get("card").unwrap();
    assert_eq!(
        card.fallback.as_deref(),
        Some(dir.join("placeholder.png").as_path())
    );
    let _ = std::fs::remove_dir_all(&dir);
}
