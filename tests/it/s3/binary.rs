//! The `thumbkit serve` binary over S3, configured only with the standard `AWS_*` variables:
//! it serves, drains its writes on SIGTERM, and refuses bad credentials in one line.

use super::*;

/// Runs `thumbkit serve` with the environment of an AWS user; returns its address, and the
/// child.
fn start_binary(s3: &S3Server, storage: &str) -> (std::process::Child, Option<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_thumbkit"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("THUMBKIT_LISTEN", "127.0.0.1:0")
        .env("THUMBKIT_STORAGE", storage)
        .env(
            "THUMBKIT_PRESETS",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("presets"),
        )
        .env("AWS_ENDPOINT_URL", &s3.endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut addr = None;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(rest) = line.split("http://").nth(1) {
            addr = rest.split('/').next().map(str::to_owned);
            break;
        }
    }
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_binary_uses_the_standard_aws_variables_and_drains_on_sigterm() {
    let s3 = S3Server::start("binary").await;
    s3.put("site/photo.jpg", fixture("IMG_9424.JPG")).await;
    let server = {
        let s3 = s3.clone();
        tokio::task::spawn_blocking(move || start_binary(&s3, "s3://photos/site"))
            .await
            .unwrap()
    };
    let (mut child, addr) = server;
    let addr: std::net::SocketAddr = addr.expect("printed its address").parse().unwrap();
    let r = request(addr, "GET", "/t/thumb/photo.jpg", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "image/jpeg");
    assert_eq!(decode_rgb(&r.body).dimensions(), (320, 240));
    assert_no_metadata(&r.body, "served by the binary");

    // SIGTERM: the pending write behind the response is finished before the exit.
    let pid = i32::try_from(child.id()).unwrap();
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    let key = variant_key("site/", "IMG_9424.JPG", "thumb");
    assert_eq!(s3.get(&key).await.map(|(b, _)| b), Some(r.body));

    // A bucket that does not exist fails at start, with one line.
    let (child, addr) = {
        let s3 = s3.clone();
        tokio::task::spawn_blocking(move || start_binary(&s3, "s3://missing-bucket"))
            .await
            .unwrap()
    };
    assert!(addr.is_none());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("`missing-bucket` does not exist"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_at_start_say_what_is_wrong_in_one_line() {
    let s3 = S3Server::start("refused-start").await;
    let wrong_secret = S3Store::connect(
        S3Location::parse(BUCKET).unwrap(),
        S3Options {
            credentials: Some((ACCESS_KEY.into(), "not-the-secret".into())),
            ..s3.options()
        },
    )
    .await;
    use thumbkit::storage::Store;
    let e = wrong_secret.check().await.unwrap_err().to_string();
    // The HEAD's bare 403 is followed by a GET whose error document names the cause.
    assert!(e.starts_with("access denied (SignatureDoesNotMatch"), "{e}");
    assert!(e.contains("AWS_SECRET_ACCESS_KEY"), "{e}");
    assert!(!e.contains("): ;"), "{e}");

    let mut env = Binary::s3_env(&s3, "s3://photos");
    env.retain(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY");
    env.push(("AWS_SECRET_ACCESS_KEY", "not-the-secret".into()));
    let out = Command::new(env!("CARGO_BIN_EXE_thumbkit"))
        .args(["pregen", "--storage", "s3://photos"])
        .envs(env)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("thumbkit: storage s3://photos/: access denied (SignatureDoesNotMatch"),
        "{stderr}"
    );
}
