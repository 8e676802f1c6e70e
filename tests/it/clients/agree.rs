//! The JS and Python helpers build exactly the srcsets the server's manifests hand out, signed
//! alike, when given the original's size and the preset as `GET /v1/presets` lists it: run
//! with `node` and `python3` against a real server's manifests for originals small and large,
//! landscape and portrait, and presets with densities and widths, `inside` and `cover`.

use std::sync::Arc;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::http::Options;
use thumbkit::service::Settings;
use thumbkit::signing::Signer;
use thumbkit::storage::{FsStore, Store};

const TOKEN: &str = "agree-token";
const KEY: &str = "agree-signing-key-0123456789";

/// Runs `script` (reading the cases' JSON on stdin) with `program`; what it printed.
fn run(program: &[&str], script: &str, cases: &str) -> String {
    use std::io::Write;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients");
    let mut child = std::process::Command::new(program[0])
        .args(&program[1..])
        .arg(script)
        .current_dir(root)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(cases.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_helpers_give_the_manifests_srcsets_for_every_original() {
    let root = temp_dir("agree");
    let store: Arc<dyn Store> = Arc::new(FsStore::open(&root).await.unwrap());
    let presets = thumbkit::preset::Presets::load(&[super::presets_dir()]).unwrap();
    let settings = Settings {
        signer: Some(Signer::parse(KEY).unwrap()),
        signed_url_ttl: std::time::Duration::from_secs(3600),
        ..Settings::default()
    };
    let options = Options {
        api_token: Some(TOKEN.into()),
        ..Options::default()
    };
    let app = spawn_app_with(store, presets, settings, options).await;
    let auth = format!("Bearer {TOKEN}");
    let headers = [("Authorization", auth.as_str())];
    let listed = send_with(app.addr, "GET", "/v1/presets", &headers, b"").await;
    let listed: serde_json::Value = serde_json::from_slice(&listed.body).unwrap();
    // A tiny PNG (smaller than every box), a 640x480, a 600x450, a portrait and a 12 MP photo.
    let tiny = {
        let img = image::RgbImage::from_pixel(90, 60, image::Rgb([10, 120, 200]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let originals = [
        ("tiny.png", tiny),
        ("dscn.jpg", fixture("DSCN0010.jpg")),
        ("land.jpg", fixture("Landscape_1.jpg")),
        ("portrait.jpg", fixture("Landscape_6.jpg")),
        ("big.jpg", fixture("IMG_9424.JPG")),
    ];
    let mut cases = Vec::new();
    for (key, bytes) in &originals {
        let r = send_with(
            app.addr,
            "PUT",
            &format!("/v1/originals/{key}"),
            &headers,
            bytes,
        )
        .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let m: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        for preset in listed.as_array().unwrap() {
            let name = preset["name"].as_str().unwrap();
            let Some(expected) = m["variants"][name]["srcset"].as_str() else {
                continue;
            };
            cases.push(serde_json::json!({
                "key": key, "hash": m["hash"], "preset": preset, "expected": expected,
                "original": {"width": m["width"], "height": m["height"]},
            }));
        }
    }
    assert!(cases.len() >= 15, "{}", cases.len());
    let input = serde_json::json!({"cases": cases, "key": KEY, "ttl": 3600}).to_string();
    let js = r#"
        import { srcset, sign } from "./js/thumbkit.js";
        let text = "";
        for await (const chunk of process.stdin) text += chunk;
        const input = JSON.parse(text);
        const out = [];
        for (const c of input.cases) {
            const signer = (u) => sign(u, input.key, { ttl: input.ttl });
            out.push(await srcset(c.key, c.preset, null, { hash: c.hash, original: c.original, signer }));
        }
        console.log(JSON.stringify(out));
    "#;
    let py = r#"
import json, sys
sys.path.insert(0, "python")
from thumbkit_client import sign, srcset
inp = json.load(sys.stdin)
out = [srcset(c["key"], c["preset"], hash=c["hash"], original=(c["original"]["width"], c["original"]["height"]),
              signer=lambda u: sign(u, inp["key"], ttl=inp["ttl"])) for c in inp["cases"]]
print(json.dumps(out))
"#;
    for (who, program) in [
        ("js", vec!["node", "--input-type=module", "-e"]),
        ("python", vec!["/usr/bin/python3", "-c"]),
    ] {
        let script = if who == "js" { js } else { py };
        let got: Vec<String> = serde_json::from_str(&run(&program, script, &input)).unwrap();
        for (case, got) in cases.iter().zip(&got) {
            assert_eq!(
                got,
                case["expected"].as_str().unwrap(),
                "{who}: {} with {}",
                case["key"],
                case["preset"]["name"]
            );
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// `next/image` with its default `deviceSizes` and `imageSizes`, through the JS loader made
/// from the server's own `GET /v1/presets` entry: every URL it asks for answers 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nextjs_loader_asks_only_for_urls_that_answer() {
    let root = temp_dir("next-loader");
    let store: Arc<dyn Store> = Arc::new(FsStore::open(&root).await.unwrap());
    let presets = thumbkit::preset::Presets::load(&[super::presets_dir()]).unwrap();
    let app = spawn_app(store, presets, Settings::default()).await;
    std::fs::create_dir_all(root.join("albums")).unwrap();
    std::fs::copy(fixtures().join("IMG_9424.JPG"), root.join("albums/cat.jpg")).unwrap();
    let listed = app.get("/v1/presets").await;
    let input = String::from_utf8(listed.body).unwrap();
    let js = r#"
        import { thumbkitLoader } from "./js/thumbkit.js";
        let text = "";
        for await (const chunk of process.stdin) text += chunk;
        const presets = JSON.parse(text);
        const sizes = [16, 32, 48, 64, 96, 128, 256, 384, 640, 750, 828, 1080, 1200, 1920, 2048, 3840];
        const out = [];
        for (const name of ["hero", "avatar", "card"]) {
            const loader = thumbkitLoader(presets.find((p) => p.name === name));
            for (const width of sizes) out.push(loader({ src: "/albums/cat.jpg", width, quality: 75 }));
        }
        console.log(JSON.stringify([...new Set(out)]));
    "#;
    let urls: Vec<String> =
        serde_json::from_str(&run(&["node", "--input-type=module", "-e"], js, &input)).unwrap();
    assert!(urls.len() >= 6, "{urls:?}");
    for url in &urls {
        let r = app.get(url).await;
        assert_eq!(r.status, 200, "{url}");
    }
    let _ = std::fs::remove_dir_all(&root);
}
