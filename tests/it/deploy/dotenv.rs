//! An app's `.env` with django-storages' names is all `thumbkit serve` needs: the bucket,
//! region, endpoint and keys come from it, the URLs it hands out are on THUMBKIT_PUBLIC_URL
//! (never on AWS_S3_CUSTOM_DOMAIN, which serves the originals), and the real environment
//! still wins over the file.

use crate::helpers::app::*;
use crate::helpers::fixtures::fixture;
use crate::helpers::process::{stderr, temp_dir};
use crate::helpers::s3::S3Server;
use crate::helpers::servers::Binary;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "dotenv-token";

fn dotenv(s3: &S3Server) -> String {
    format!(
        "# as django-storages reads it\n\
         AWS_STORAGE_BUCKET_NAME={BUCKET}\n\
         AWS_S3_REGION_NAME=us-east-1\n\
         AWS_S3_ENDPOINT_URL={}\n\
         AWS_S3_ACCESS_KEY_ID={ACCESS_KEY}\n\
         AWS_S3_SECRET_ACCESS_KEY=\"{SECRET_KEY}\"\n\
         AWS_S3_CUSTOM_DOMAIN=myapp-media.s3.amazonaws.com\n\
         THUMBKIT_PUBLIC_URL=https://cdn.example.test\n\
         THUMBKIT_API_TOKEN={TOKEN}\n",
        s3.endpoint
    )
}

async fn put(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    recorded(head.as_bytes(), parse_reply(&raw))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dotenv_with_django_storages_names_configures_the_bucket_and_the_cdn_urls() {
    // The originals' domain (AWS_S3_CUSTOM_DOMAIN) is never the thumbnails' base.
    let s3 = S3Server::start("dotenv").await;
    let dir = temp_dir("dotenv");
    std::fs::write(dir.join(".env"), dotenv(&s3)).unwrap();
    let server = Binary::start_in(&dir, &[]);

    let reply = put(
        server.addr,
        "/v1/originals/blog/cat.jpg",
        &fixture("IMG_9424.JPG"),
    )
    .await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let manifest: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    let thumb = manifest["variants"]["thumb"]["url"].as_str().unwrap();
    assert!(
        thumb.starts_with("https://cdn.example.test/t/thumb/blog/cat.jpg?v="),
        "{thumb}"
    );
    for (name, info) in manifest["variants"].as_object().unwrap() {
        let url = info["url"].as_str().unwrap();
        assert!(
            url.starts_with("https://cdn.example.test/t/"),
            "{name}: {url}"
        );
        if let Some(srcset) = info["srcset"].as_str() {
            for entry in srcset.split(", ") {
                assert!(
                    entry.starts_with("https://cdn.example.test/t/"),
                    "{name}: {entry}"
                );
            }
        }
    }
    // The original went to the bucket .env names, and the CDN's path serves the thumbnail.
    let (stored, _) = s3
        .get("blog/cat.jpg")
        .await
        .expect("the original in the bucket");
    assert_eq!(stored, fixture("IMG_9424.JPG"));
    let path = thumb.strip_prefix("https://cdn.example.test").unwrap();
    let served = request(server.addr, "GET", path, &[]).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), "image/jpeg");
    assert!(
        !s3.keys("_variants/").await.is_empty(),
        "the variant is stored in the same bucket"
    );
    assert!(!String::from_utf8_lossy(&reply.body).contains("myapp-media"));
}

/// Without THUMBKIT_PUBLIC_URL, AWS_S3_CUSTOM_DOMAIN (the originals' CDN) changes nothing:
/// manifests hand out paths, and `--print-config` and `doctor` say it is read, not used.
#[tokio::test(flavor = "multi_thread")]
async fn the_originals_custom_domain_is_read_but_never_the_thumbnail_base() {
    let s3 = S3Server::start("dotenv-domain").await;
    let dir = temp_dir("dotenv-domain");
    let env = dotenv(&s3).replace("THUMBKIT_PUBLIC_URL=https://cdn.example.test\n", "")
        + "AWS_QUERYSTRING_AUTH=True\n";
    std::fs::write(dir.join(".env"), env).unwrap();
    let server = Binary::start_in(&dir, &[]);
    let reply = put(
        server.addr,
        "/v1/originals/blog/dog.jpg",
        &fixture("IMG_9424.JPG"),
    )
    .await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let manifest: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    let thumb = manifest["variants"]["thumb"]["url"].as_str().unwrap();
    assert!(thumb.starts_with("/t/thumb/blog/dog.jpg?v="), "{thumb}");
    for command in [&["serve", "--print-config"][..], &["doctor"][..]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"))
            .args(command)
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        for var in ["AWS_S3_CUSTOM_DOMAIN", "AWS_QUERYSTRING_AUTH"] {
            assert!(
                text.lines()
                    .any(|l| l.contains(var) && l.contains("read, not used")),
                "{command:?} says nothing of {var}:\n{text}"
            );
        }
        assert!(
            !text.contains("THUMBKIT_PUBLIC_URL  https://myapp"),
            "{text}"
        );
    }
}

#[test]
fn print_config_says_where_each_value_came_from_and_masks_secrets() {
    let dir = temp_dir("print-config");
    let s3_endpoint = "http://127.0.0.1:9";
    std::fs::write(
        dir.join(".env"),
        format!(
            "AWS_STORAGE_BUCKET_NAME=media\nAWS_S3_ENDPOINT_URL={s3_endpoint}\n\
             THUMBKIT_PUBLIC_URL=https://cdn.example.test\nAWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n\
             AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY\n\
             THUMBKIT_API_TOKEN=a-token-from-dotenv\nTHUMBKIT_LOG=warn\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"))
        .args(["serve", "--print-config", "--memory-cache", "64MiB"])
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // The real environment wins over the file.
        .env("THUMBKIT_LOG", "debug")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| super::settings::line(&out, name);
    assert_eq!(
        line("THUMBKIT_STORAGE"),
        "s3://media AWS_STORAGE_BUCKET_NAME (.env)"
    );
    assert_eq!(
        line("THUMBKIT_S3_ENDPOINT"),
        format!("{s3_endpoint} AWS_S3_ENDPOINT_URL (.env)")
    );
    assert_eq!(line("THUMBKIT_PUBLIC_URL"), "https://cdn.example.test .env");
    assert_eq!(line("THUMBKIT_LOG"), "debug environment");
    assert_eq!(line("THUMBKIT_MEMORY_CACHE"), "64MiB flag --memory-cache");
    assert_eq!(line("THUMBKIT_LISTEN"), "127.0.0.1:8080 default");
    assert_eq!(line("THUMBKIT_API_TOKEN"), "******** (set) .env");
    assert_eq!(line("AWS_SECRET_ACCESS_KEY"), "******** (set) .env");
    assert_eq!(line("AWS_ACCESS_KEY_ID"), "AKIA…MPLE .env");
    for secret in [
        "a-token-from-dotenv",
        "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
    ] {
        assert!(!text.contains(secret), "{secret} printed:\n{text}");
    }
}

#[test]
fn with_neither_storage_nor_bucket_it_says_it_uses_the_embedded_default() {
    let dir = temp_dir("embedded-default");
    let mut server = Binary::start_in(&dir, &[]);
    let said = server.log.lock().unwrap().join("\n");
    assert!(
        said.contains(
            "neither THUMBKIT_STORAGE nor AWS_STORAGE_BUCKET_NAME is set: using the embedded default, the local directory fs:./data"
        ),
        "{said}"
    );
    server.signal(libc::SIGTERM);
    server.wait_for(std::time::Duration::from_secs(10));
    assert!(dir.join("data").is_dir());
}

#[test]
fn a_broken_dotenv_is_refused_with_its_line() {
    let dir = temp_dir("broken-dotenv");
    std::fs::write(dir.join(".env"), "GOOD=1\nTHIS IS NOT A SETTING\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"))
        .args(["serve", "--print-config"])
        .current_dir(&dir)
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("thumbkit: .env: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("line 2"), "{err}");
}

/// No secret reaches any output: a malformed `.env` line is named by its number, never
/// quoted, and passwords in endpoint URLs are masked by `--print-config`.
#[test]
fn no_secret_is_printed_by_a_dotenv_error_or_print_config() {
    let dir = temp_dir("secret-dotenv");
    std::fs::write(
        dir.join(".env"),
        "GOOD=1\nTHUMBKIT_API_TOKEN=hunter2-token value with spaces\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"))
        .args(["serve", "--print-config"])
        .current_dir(&dir)
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("line 2"), "{err}");
    assert!(!err.contains("hunter2"), "the secret was printed: {err}");
    let dir = temp_dir("secret-urls");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_thumbkit"))
        .args(["serve", "--print-config", "--storage", "s3://media"])
        .current_dir(&dir)
        .env_clear()
        .env(
            "THUMBKIT_S3_ENDPOINT",
            "http://minio:s3-pa55word@127.0.0.1:9",
        )
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://otel:otel-pa55word@127.0.0.1:4318",
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out);
    assert!(text.contains("http://minio:****@127.0.0.1:9"), "{text}");
    assert!(text.contains("http://otel:****@127.0.0.1:4318"), "{text}");
    assert!(
        !text.contains("pa55word"),
        "a password was printed:\n{text}"
    );
}
