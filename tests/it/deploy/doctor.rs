//! `thumbkit doctor` against the in-process S3 server enforcing `deploy/iam-policy.json`:
//! every check passes under the shipped policy (which also serves a cold thumbnail), and
//! with `s3:PutObject` taken out exactly the PUT check fails, with the grant that fixes it.

use crate::helpers::app::*;
use crate::helpers::fixtures::fixture;
use crate::helpers::policy::{APP_KEY, APP_SECRET, Policy};
use crate::helpers::s3::S3Server;
use crate::helpers::servers::Binary;

fn app_env(s3: &S3Server) -> Vec<(&'static str, String)> {
    vec![
        ("THUMBKIT_STORAGE", format!("s3://{BUCKET}")),
        ("AWS_ENDPOINT_URL", s3.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", APP_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", APP_SECRET.into()),
        ("AWS_REGION", "us-east-1".into()),
        (
            "THUMBKIT_PRESETS",
            format!("{}/presets", env!("CARGO_MANIFEST_DIR")),
        ),
        ("AWS_CONFIG_FILE", "/nonexistent".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

async fn doctor(s3: &S3Server) -> (Option<i32>, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"));
    command.arg("doctor").env_clear();
    for (k, v) in app_env(s3) {
        command.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

fn failures(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("FAIL")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_passes_under_the_shipped_policy_which_also_serves_thumbnails() {
    let s3 = S3Server::start_with(
        "doctor-ok",
        Some(Policy::shipped("iam-policy.json", BUCKET)),
    )
    .await;
    let (code, text) = doctor(&s3).await;
    println!("{text}");
    assert_eq!(code, Some(0), "{text}");
    for check in [
        "store", "clock", "PUT", "HEAD", "GET", "LIST", "DELETE", "presets", "memory",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("ok    {check}: "))),
            "no passing {check} line:\n{text}"
        );
    }
    // No token: a warning that says what it means and how to fix it, not a failure.
    assert!(
        text.lines().any(|l| l.starts_with("WARN  secrets: ")
            && l.contains("without THUMBKIT_API_TOKEN")
            && l.contains("set THUMBKIT_API_TOKEN")),
        "{text}"
    );
    assert!(
        text.contains("ok    clock: 0 s from the store's clock")
            || text.contains("ok    clock: 1 s"),
        "{text}"
    );
    assert!(
        s3.keys("_variants/_doctor/").await.is_empty(),
        "the probe is left behind"
    );

    // The same key and policy serve a cold thumbnail and store its variant.
    s3.put("albums/cat.jpg", fixture("IMG_9424.JPG")).await;
    let server = Binary::start(&app_env(&s3));
    let reply = request(server.addr, "GET", "/t/thumb/albums/cat.jpg", &[]).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    // The variant is written behind the response.
    let mut stored = Vec::new();
    for _ in 0..50 {
        stored = s3.keys("_variants/").await;
        if stored.iter().any(|k| k.contains("/thumb.")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        stored
            .iter()
            .any(|k| k.ends_with(".jpg") && k.contains("/thumb.")),
        "{stored:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_names_the_missing_put_permission_and_its_fix() {
    let policy = Policy::shipped("iam-policy.json", BUCKET).without("s3:PutObject");
    let s3 = S3Server::start_with("doctor-noput", Some(policy)).await;
    let (code, text) = doctor(&s3).await;
    println!("{text}");
    assert_eq!(code, Some(1), "{text}");
    let failed = failures(&text);
    assert_eq!(failed.len(), 1, "{text}");
    assert!(failed[0].starts_with("FAIL  PUT: "), "{text}");
    assert!(failed[0].contains("AccessDenied"), "{text}");
    assert!(
        failed[0].ends_with(
            "-> grant s3:PutObject on arn:aws:s3:::photos/_variants/* (deploy/iam-policy.json)"
        ),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("thumbkit: 1 check failed"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_probes_each_source_with_its_own_credentials() {
    // The default store may do everything; the `docs` source's profile lacks DeleteObject.
    let media = S3Server::start("doctor-src-media").await;
    let policy = Policy::shipped("iam-policy.json", "private-docs").without("s3:DeleteObject");
    let docs = S3Server::start_as(
        "doctor-src-docs",
        Some(policy),
        "private-docs",
        ("docs-admin", "docs-admin-secret-0123456789"),
    )
    .await;
    let dir = crate::helpers::process::temp_dir("doctor-src-aws");
    let (config, credentials) = (dir.join("config"), dir.join("credentials"));
    let profile = format!(
        "[profile docs]\nregion = us-east-1\nendpoint_url = {}\n",
        docs.endpoint
    );
    std::fs::write(&config, profile).unwrap();
    let keys =
        format!("[docs]\naws_access_key_id = {APP_KEY}\naws_secret_access_key = {APP_SECRET}\n");
    std::fs::write(&credentials, keys).unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"));
    command.arg("doctor").env_clear();
    for (k, v) in [
        ("THUMBKIT_STORAGE", format!("s3://{BUCKET}")),
        ("THUMBKIT_S3_ENDPOINT", media.endpoint.clone()),
        (
            "THUMBKIT_SOURCES",
            "docs=s3://private-docs?profile=docs".into(),
        ),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_CONFIG_FILE", config.display().to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            credentials.display().to_string(),
        ),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        (
            "THUMBKIT_PRESETS",
            format!("{}/presets", env!("CARGO_MANIFEST_DIR")),
        ),
    ] {
        command.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("{text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    for passed in [
        "PUT: ",
        "DELETE: ",
        "PUT docs: ",
        "GET docs: ",
        "LIST docs: ",
    ] {
        let line = format!("ok    {passed}");
        assert!(
            text.lines().any(|l| l.starts_with(&line)),
            "no `{line}`:\n{text}"
        );
    }
    let failed = failures(&text);
    assert_eq!(failed.len(), 1, "{text}");
    assert!(failed[0].starts_with("FAIL  DELETE docs: "), "{text}");
    assert!(
        failed[0].ends_with(
            "-> grant s3:DeleteObject on arn:aws:s3:::private-docs/_variants/* (deploy/iam-policy.json)"
        ),
        "{text}"
    );
}

#[test]
fn the_policy_evaluator_denies_what_the_policy_does_not_grant() {
    let p = Policy::shipped("iam-policy.json", "b");
    assert!(p.allows("s3:GetObject", "arn:aws:s3:::b/albums/cat.jpg"));
    assert!(p.allows("s3:PutObject", "arn:aws:s3:::b/_variants/ab/x.jpg"));
    assert!(!p.allows("s3:PutObject", "arn:aws:s3:::b/albums/cat.jpg"));
    assert!(!p.allows("s3:DeleteObject", "arn:aws:s3:::b/albums/cat.jpg"));
    assert!(p.allows("s3:ListBucket", "arn:aws:s3:::b"));
    assert!(!p.allows("s3:DeleteBucket", "arn:aws:s3:::b"));
    let uploads = Policy::shipped("iam-policy-uploads.json", "b");
    assert!(uploads.allows("s3:PutObject", "arn:aws:s3:::b/albums/cat.jpg"));
}
