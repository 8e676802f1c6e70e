//! No output carries metadata: every container segment and chunk parsed from the bytes, GPS
//! gone from every GPS-tagged fixture, and `inspect` agreeing with the fixtures' manifest.

use super::*;

#[test]
fn no_output_carries_metadata() {
    let p = preset("m", "width = 200\nheight = 200");
    for entry in manifest() {
        if entry["expect"] != "ok" {
            continue;
        }
        let name = entry["file"].as_str().unwrap_or_default();
        let bytes = fixture(name);
        for format in [OutputFormat::Jpeg, OutputFormat::Png, OutputFormat::Webp] {
            let out = render(&bytes, &p, format);
            assert_no_metadata(&out.bytes, &format!("{name} as {format}"));
            let report = inspect::inspect(&out.bytes).expect("output inspects");
            assert!(
                report.metadata.is_empty(),
                "{name} as {format}: {:?}",
                report.metadata
            );
        }
    }
}

#[test]
fn inspect_agrees_with_the_manifest() {
    // inspect is what the no-metadata checks lean on; prove it sees what exiftool saw.
    for entry in manifest() {
        if !entry["expect"]
            .as_str()
            .unwrap_or_default()
            .starts_with("ok")
        {
            continue;
        }
        let name = entry["file"].as_str().unwrap_or_default();
        let r = inspect::inspect(&fixture(name)).expect(name);
        assert_eq!(
            u64::from(r.width),
            entry["width"].as_u64().unwrap(),
            "{name} width"
        );
        assert_eq!(
            u64::from(r.height),
            entry["height"].as_u64().unwrap(),
            "{name} height"
        );
        for (field, seen) in [
            ("has_gps", r.metadata.gps),
            ("has_icc", r.metadata.icc),
            ("has_exif", r.metadata.exif),
            ("has_iptc", r.metadata.iptc),
        ] {
            assert_eq!(seen, entry[field] == true, "{name}: {field}");
        }
        // sample.jpg has an XMP segment holding a malformed packet that exiftool does not
        // count; thumbkit counts the segment, so it may see XMP where exiftool saw none.
        if entry["has_xmp"] == true {
            assert!(r.metadata.xmp, "{name}: has_xmp");
        }
        if let Some(o) = entry["exif_orientation"].as_u64() {
            assert_eq!(u64::from(r.orientation), o, "{name} orientation");
        }
    }
}

#[test]
fn gps_is_gone_from_outputs() {
    for name in GPS_FILES {
        let bytes = fixture(name);
        let before = inspect::inspect(&bytes).unwrap().metadata;
        // flower2.webp has EXIF and XMP but, per the manifest, no GPS tags.
        assert!(
            before.gps || (before.exif && before.xmp),
            "{name} carries location data to begin with"
        );
        for format in [OutputFormat::Jpeg, OutputFormat::Webp, OutputFormat::Png] {
            let out = render(&bytes, &shipped("thumb"), format);
            assert!(out.width <= 320 && out.height <= 320);
            let m = inspect::inspect(&out.bytes).unwrap().metadata;
            assert!(!m.gps && !m.exif, "{name} as {format} still has EXIF/GPS");
            assert_no_metadata(&out.bytes, name);
        }
    }
}
