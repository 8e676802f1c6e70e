//! `thumbkit gc` over a real S3 server: after a preset edit (and a preset removed), the dry
//! run lists exactly the variants of the old fingerprints, with their bytes, and deletes
//! nothing; `--delete` leaves exactly the current variants and every record in the bucket.

use std::collections::BTreeSet;
use std::path::Path;

use crate::helpers::fixtures::fixture;
use crate::helpers::process::{stderr, temp_dir};
use crate::helpers::s3::S3Server;
use crate::helpers::servers::Binary;

async fn thumbkit(s3: &S3Server, presets: &Path, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"));
    command
        .args(args)
        .env_clear()
        .env("THUMBKIT_PRESETS", presets)
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in Binary::s3_env(s3, "s3://photos") {
        command.env(k, v);
    }
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

async fn variants(s3: &S3Server) -> BTreeSet<String> {
    s3.keys("_variants/")
        .await
        .into_iter()
        .filter(|k| !k.starts_with("_variants/_"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn gc_lists_exactly_the_variants_of_old_fingerprints_then_deletes_only_them() {
    let s3 = S3Server::start("gc").await;
    s3.put("a/one.jpg", fixture("DSCN0010.jpg")).await;
    s3.put("a/two.jpg", fixture("IMG_9424.JPG")).await;
    let presets = temp_dir("gc-presets");
    for name in ["thumb", "small", "og"] {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("presets/{name}.toml"));
        std::fs::copy(shipped, presets.join(format!("{name}.toml"))).unwrap();
    }
    let pregen = thumbkit(&s3, &presets, &["pregen"]).await;
    assert!(pregen.status.success(), "{}", stderr(&pregen));
    let before = variants(&s3).await;
    // `small` is `auto`: JPEG, WebP and AVIF.
    assert_eq!(before.len(), 10, "{before:?}");
    let records_before: Vec<String> = s3.keys("_variants/_").await;
    assert!(!records_before.is_empty());

    // thumb edited (quality 80 -> 70), og removed, small untouched.
    let thumb = presets.join("thumb.toml");
    let edited = std::fs::read_to_string(&thumb)
        .unwrap()
        .replace("quality = 80", "quality = 70");
    std::fs::write(&thumb, edited).unwrap();
    std::fs::remove_file(presets.join("og.toml")).unwrap();
    let expected: BTreeSet<String> = before
        .iter()
        .filter(|k| {
            let file = k.rsplit('/').next().unwrap();
            file.starts_with("thumb.") || file.starts_with("og.")
        })
        .cloned()
        .collect();
    assert_eq!(expected.len(), 4);

    let dry = thumbkit(&s3, &presets, &["gc", "--dry-run"]).await;
    assert!(dry.status.success(), "{}", stderr(&dry));
    let out = String::from_utf8_lossy(&dry.stdout).into_owned();
    let listed: BTreeSet<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("stale  "))
        .map(|l| l.split("  ").next().unwrap().to_owned())
        .collect();
    assert_eq!(listed, expected, "{out}");
    let mut bytes = 0;
    for key in &expected {
        bytes += s3.get(key).await.unwrap().0.len();
    }
    assert!(
        out.contains(&format!(
            "gc: 4 stale variants ({bytes} bytes), 6 current kept; dry run"
        )),
        "{out}"
    );
    assert!(out.contains("(no preset og)"), "{out}");
    assert!(out.contains("(thumb is now "), "{out}");
    assert_eq!(variants(&s3).await, before, "a dry run deletes nothing");

    let deleted = thumbkit(&s3, &presets, &["gc", "--delete"]).await;
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    let kept: BTreeSet<String> = before.difference(&expected).cloned().collect();
    assert_eq!(variants(&s3).await, kept);
    assert_eq!(
        s3.keys("_variants/_").await,
        records_before,
        "records untouched"
    );
    assert!(s3.get("a/one.jpg").await.is_some() && s3.get("a/two.jpg").await.is_some());

    let again = thumbkit(&s3, &presets, &["gc"]).await;
    let out = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(
        out.contains("gc: 0 stale variants (0 bytes), 6 current kept"),
        "{out}"
    );
}
