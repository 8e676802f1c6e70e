//! What a backend uses to hand out URLs: `thumbkit url` (a URL, a `srcset`, signed or not)
//! and the signing vectors that the JS and Python helpers (`clients/`) are tested against too.

mod agree;

use std::path::Path;

use thumbkit::signing::Signer;

use crate::helpers::process::{stderr, thumbkit};

fn vectors() -> Vec<serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/signing-vectors.json");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

#[test]
fn the_rust_signer_agrees_with_the_shared_vectors_and_verifies_them() {
    let vectors = vectors();
    assert!(vectors.len() >= 5);
    for v in vectors {
        let signer = Signer::parse(v["key"].as_str().unwrap()).unwrap();
        let expires = v["expires"].as_u64().unwrap();
        // A lifetime is rounded up to a quarter of it, as the JS and Python signers do.
        if let (Some(now), Some(ttl)) = (v["now"].as_u64(), v["ttl"].as_u64()) {
            let ttl = std::time::Duration::from_secs(ttl);
            assert_eq!(
                thumbkit::signing::expiry(now, ttl),
                expires,
                "{}",
                v["description"]
            );
        }
        let signed = signer.sign(v["path"].as_str().unwrap(), expires);
        assert_eq!(
            signed,
            v["signed"].as_str().unwrap(),
            "{}",
            v["description"]
        );
        let (path, query) = signed.split_once('?').unwrap();
        // The vectors check the signature's canonical form, parameters of any name included.
        let names: Vec<&str> = query
            .split('&')
            .filter_map(|p| p.split('=').next())
            .collect();
        let any = thumbkit::signing::Rules {
            params: &names,
            max_ahead: u64::MAX,
        };
        assert_eq!(
            signer.verify(path, query, expires, any),
            Ok(()),
            "{}",
            v["description"]
        );
    }
}

/// A presets folder with the shipped presets and a responsive one.
pub(super) fn presets_dir() -> std::path::PathBuf {
    let dir = crate::helpers::process::temp_dir("url-presets");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets");
    for entry in std::fs::read_dir(shipped).unwrap() {
        let path = entry.unwrap().path();
        // The preset files (presets/examples/ is a folder of its own).
        if path.is_file() {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(
        dir.join("hero.toml"),
        "widths = [320, 640, 1280]\nformat = \"jpeg\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("card.toml"),
        "width = 200\nheight = 100\nfit = \"cover\"\ndensities = [1, 2]\n",
    )
    .unwrap();
    dir
}

#[test]
fn thumbkit_url_prints_urls_and_srcsets_pinned_and_signed() {
    let dir = presets_dir();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = thumbkit();
        cmd.arg("url").args(args).arg("--preset-files").arg(&dir);
        cmd.env_remove("THUMBKIT_SIGNING_KEY");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let stdout = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).trim().to_owned();
    let plain = run(&["a b/p.jpg", "--preset", "card"], &[]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert_eq!(stdout(&plain), "/t/card/a%20b/p.jpg");
    let set = run(
        &[
            "p.jpg",
            "--preset",
            "card",
            "--srcset",
            "--base",
            "https://img.example/",
        ],
        &[],
    );
    assert_eq!(
        stdout(&set),
        "https://img.example/t/card/p.jpg 1x, https://img.example/t/card@2x/p.jpg 2x"
    );
    // Pinned to a local copy: its content hash, and the widths this photo really gets.
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/DSCN0010.jpg");
    let hash = blake3::hash(&std::fs::read(&photo).unwrap())
        .to_hex()
        .to_string();
    let pinned = run(
        &[
            "p.jpg",
            "--preset",
            "hero",
            "--srcset",
            "--file",
            photo.to_str().unwrap(),
        ],
        &[],
    );
    let line = stdout(&pinned);
    assert!(
        line.starts_with(&format!("/t/hero/p.jpg?v={hash} 320w, ")),
        "{line}"
    );
    assert!(
        line.contains(&format!("/t/hero@640w/p.jpg?v={hash} 640w")),
        "{line}"
    );
    // DSCN0010 is 640 wide and `inside` does not enlarge: the 1280 step repeats 640w.
    assert_eq!(line.matches("w,").count() + 1, 2, "{line}");
    // Signed: every URL verifies with the key.
    let key = "first-key-0123456789";
    let signed = run(
        &[
            "p.jpg", "--preset", "card", "--srcset", "--sign", "--ttl", "1h",
        ],
        &[("THUMBKIT_SIGNING_KEY", key)],
    );
    let signer = Signer::parse(key).unwrap();
    let now = thumbkit::signing::now();
    for entry in stdout(&signed).split(", ") {
        let url = entry.rsplit_once(' ').unwrap().0;
        let (path, query) = url.split_once('?').unwrap();
        let rules = thumbkit::signing::Rules {
            params: &["v", "download"],
            max_ahead: thumbkit::signing::Rules::ahead_for(std::time::Duration::from_secs(3600)),
        };
        assert_eq!(signer.verify(path, query, now, rules), Ok(()), "{url}");
        assert!(
            signer.verify(path, query, now + 4501, rules).is_err(),
            "expires an hour later, rounded up to the quarter hour"
        );
    }
    // Mistakes are one line and exit 1.
    for (args, env, why) in [
        (vec!["p.jpg", "--preset", "nope"], vec![], "no preset named"),
        (
            vec!["p.jpg", "--preset", "thumb", "--srcset"],
            vec![],
            "no steps",
        ),
        (
            vec!["p.jpg", "--preset", "card", "--sign"],
            vec![],
            "THUMBKIT_SIGNING_KEY",
        ),
        (
            vec!["/abs.jpg", "--preset", "card"],
            vec![],
            "not a usable key",
        ),
    ] {
        let out = run(&args, &env);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(why), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `thumbkit presets --json` is what `GET /v1/presets` answers: boxes and steps, for a loader
/// built ahead of time.
#[tokio::test]
async fn presets_json_is_what_the_server_lists() {
    let dir = presets_dir();
    let out = thumbkit()
        .args(["presets", "--json", "--preset-files"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = crate::helpers::app::temp_dir("presets-json");
    let store: std::sync::Arc<dyn thumbkit::storage::Store> =
        std::sync::Arc::new(thumbkit::storage::FsStore::open(&root).await.unwrap());
    let presets = thumbkit::preset::Presets::load(&[dir]).unwrap();
    let app =
        crate::helpers::app::spawn_app(store, presets, thumbkit::service::Settings::default())
            .await;
    let served: serde_json::Value =
        serde_json::from_slice(&app.get("/v1/presets").await.body).unwrap();
    assert_eq!(cli, served);
    let hero = cli
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "hero")
        .unwrap();
    let widths: Vec<u64> = hero["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["width"].as_u64().unwrap())
        .collect();
    assert_eq!(widths, [320, 640, 1280]);
    assert_eq!(hero["steps"][1]["name"], "hero@640w");
}
