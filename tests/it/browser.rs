//! The demo page in a real browser: Debian's headless Chromium opens `/`, uploads a real
//! photo through the browser-upload flow, and every variant (each step too) loads at the size
//! the manifest gives; the screenshot is kept and its thumbnails are not blank.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use crate::helpers::webdriver::Browser;
use thumbkit::http::Options;
use thumbkit::preset::Presets;
use thumbkit::service::Settings;
use thumbkit::storage::FsStore;

/// What the page shows once done: each card's variant, its image's natural size and where
/// it is on the screen.
const CARDS: &str = "
    if (document.body.dataset.state === 'error') return {error: document.getElementById('status').textContent};
    if (document.body.dataset.state !== 'done') return null;
    return {key: window.thumbkitManifest.key, cards: [...document.querySelectorAll('figure[data-variant]')].map(f => {
        const img = f.querySelector('img');
        const r = img.getBoundingClientRect();
        return {name: f.dataset.variant, width: img.naturalWidth, height: img.naturalHeight,
                loaded: img.dataset.loaded === 'true', x: r.x, y: r.y, w: r.width, h: r.height,
                facts: f.querySelector('.facts').textContent};
    })};";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_uploads_a_photo_and_shows_every_variant_at_its_manifest_size() {
    let root = temp_dir("browser");
    let store = Arc::new(FsStore::open(&root).await.unwrap());
    let presets = Presets::of(shipped_presets().iter().cloned().chain([preset(
        "card",
        "width = 240\nheight = 160\nfit = \"cover\"\nformat = \"auto\"\ndensities = [1, 2]",
    )]));
    let expected = presets.every().count();
    let options = Options {
        demo: true,
        ..Options::default()
    };
    let app = spawn_app_with(store, presets, Settings::default(), options).await;
    let browser = Browser::start().await;
    browser.goto(&format!("http://{}/", app.addr)).await;
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/IMG_9424.JPG");
    browser.choose_file("#file", &photo).await;
    let shown = browser.wait_for(CARDS, Duration::from_secs(120)).await;
    assert!(shown.get("error").is_none(), "the page failed: {shown}");
    let key = shown["key"].as_str().unwrap();
    let cards = shown["cards"].as_array().unwrap();
    assert_eq!(
        cards.len(),
        expected,
        "one card per variant, steps included: {shown}"
    );
    // The manifest as the API gives it, read here independently of the page.
    let manifest: serde_json::Value =
        serde_json::from_slice(&app.get(&format!("/v1/originals/{key}")).await.body).unwrap();
    for card in cards {
        let name = card["name"].as_str().unwrap();
        let info = &manifest["variants"][name];
        assert!(card["loaded"].as_bool().unwrap(), "{name} loaded");
        assert_eq!(
            (card["width"].as_u64(), card["height"].as_u64()),
            (info["width"].as_u64(), info["height"].as_u64()),
            "{name}: natural size against the manifest"
        );
        let facts = card["facts"].as_str().unwrap();
        assert!(
            facts.contains("bytes") && (facts.contains("hit-") || facts.contains("miss")),
            "{name}: {facts}"
        );
    }
    assert_eq!(manifest["variants"]["card@2x"]["width"], 480);
    // The subject `smart` crops keep is drawn over the whole picture, where the API says.
    let boxes = browser
        .script(
            "return [...document.querySelectorAll('#subject .box')].map(b => ({kind: b.dataset.kind, left: b.style.left}));",
        )
        .await;
    let boxes = boxes.as_array().unwrap();
    assert_eq!(boxes[0]["kind"], "subject", "{boxes:?}");
    let x = manifest["subject"]["x"].as_f64().unwrap();
    let left = boxes[0]["left"].as_str().unwrap().trim_end_matches('%');
    assert!(
        (left.parse::<f64>().unwrap() - x * 100.0).abs() < 0.01,
        "{boxes:?}"
    );
    // The placeholders: the API's colours as swatches, and its ThumbHash.
    let swatches = browser
        .script(
            "return [...document.querySelectorAll('#placeholders .swatch')].map(s => s.dataset.kind + ' ' + s.dataset.color).join(',') + '|' + document.querySelector('#placeholders .thumbhash').textContent;",
        )
        .await;
    let want = format!(
        "average {},dominant {}|thumbhash {}",
        manifest["average_color"].as_str().unwrap(),
        manifest["dominant_color"].as_str().unwrap(),
        manifest["thumbhash"].as_str().unwrap()
    );
    assert_eq!(swatches.as_str(), Some(want.as_str()));
    // The snippet carries the srcset.
    let snippet = browser
        .script("return [...document.querySelectorAll('#snippets pre')].map(p => p.textContent).join('\\n');")
        .await;
    assert!(snippet.as_str().unwrap().contains(" 2x\""), "{snippet}");

    let png = browser.screenshot().await;
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-page.png");
    std::fs::write(&out, &png).unwrap();
    println!("screenshot: {}", out.display());
    let shot = image::load_from_memory(&png).unwrap().to_rgb8();
    let mut checked = 0;
    for card in cards {
        let (x, y) = (card["x"].as_f64().unwrap(), card["y"].as_f64().unwrap());
        let (w, h) = (card["w"].as_f64().unwrap(), card["h"].as_f64().unwrap());
        if w < 8.0 || h < 8.0 || x + w > f64::from(shot.width()) || y + h > f64::from(shot.height())
        {
            continue;
        }
        let crop =
            image::imageops::crop_imm(&shot, x as u32, y as u32, w as u32, h as u32).to_image();
        let luma: Vec<f64> = crop
            .pixels()
            .map(|p| f64::from(p[0]) * 0.3 + f64::from(p[1]) * 0.59 + f64::from(p[2]) * 0.11)
            .collect();
        let mean = luma.iter().sum::<f64>() / luma.len() as f64;
        let sd = (luma.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / luma.len() as f64).sqrt();
        assert!(
            sd > 10.0,
            "{}: the thumbnail on screen is blank (sd {sd:.1})",
            card["name"]
        );
        checked += 1;
    }
    assert!(
        checked >= expected / 2,
        "most thumbnails are on screen: {checked} of {expected}"
    );
    browser.quit().await;
}
