//! The example presets in `presets/examples` (a blurred hero backdrop, a watermarked share
//! card within a byte budget, a round avatar, a trimmed product tile) do what their comments
//! say, rendered and served through a real socket as a product would use them.

use std::path::Path;
use std::sync::Arc;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use bytes::Bytes;
use thumbkit::keys::ObjectKey;
use thumbkit::pipeline::OutputFormat;
use thumbkit::preset::{Preset, Presets};
use thumbkit::service::Settings;
use thumbkit::storage::{FsStore, Store};

fn example(name: &str) -> Preset {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("presets/examples/{name}.toml"));
    Preset::load(&path).expect("the example loads")
}

fn rgba(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes)
        .expect("decodes")
        .into_rgba8()
}

#[test]
fn the_examples_render_what_their_comments_promise() {
    let photo = fixture("IMG_9424.JPG");
    // hero-bg: the box, and blurred (few strong neighbour differences).
    let hero = render(&photo, &example("hero-bg"), OutputFormat::Png);
    assert_eq!((hero.width, hero.height), (1600, 600));
    let img = decode_rgb(&hero.bytes);
    let steps = img
        .rows()
        .flat_map(|row| {
            let row: Vec<_> = row.collect();
            row.windows(2)
                .map(|p| p[0].0[1].abs_diff(p[1].0[1]))
                .collect::<Vec<_>>()
        })
        .filter(|&d| d > 6)
        .count();
    assert!(steps < 1000, "{steps} sharp steps in a blurred backdrop");
    // share: the card's size, within 300 KB, the dark badge in its bottom-right corner.
    let share = example("share");
    let card = render(&photo, &share, OutputFormat::Jpeg);
    assert_eq!((card.width, card.height), (1200, 630));
    assert!(card.bytes.len() <= 300_000 && card.quality.is_some());
    let img = decode_rgb(&card.bytes);
    let plain = preset(
        "plain",
        "width = 1200\nheight = 630\nfit = \"cover\"\ngravity = \"smart\"\nformat = \"jpeg\"",
    );
    let under = decode_rgb(&render(&photo, &plain, OutputFormat::Jpeg).bytes);
    let (x, y) = (1200 - 24 - 10, 630 - 24 - 10);
    let sum = |p: [u8; 3]| p.iter().map(|&c| u32::from(c)).sum::<u32>();
    let (badge, sky) = (sum(img.get_pixel(x, y).0), sum(under.get_pixel(x, y).0));
    assert!(
        badge * 4 < sky * 3,
        "the badge darkens its corner: {badge} against {sky}"
    );
    // avatar-round: transparent corners in every format that has alpha.
    let avatar = render(&photo, &example("avatar-round"), OutputFormat::Webp);
    let img = rgba(&avatar.bytes);
    assert_eq!(img.dimensions(), (128, 128));
    assert_eq!(
        (img.get_pixel(0, 0).0[3], img.get_pixel(64, 64).0[3]),
        (0, 255)
    );
}

#[test]
fn a_product_on_white_fills_its_tile_once_trimmed() {
    // A product shot: the photo small in the middle of a wide white sheet.
    let photo = decode_rgb(&fixture("Landscape_1.jpg"));
    let mut sheet = image::RgbImage::from_pixel(1600, 1200, image::Rgb([255, 255, 255]));
    image::imageops::overlay(&mut sheet, &photo, 500, 400);
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(sheet)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    let tile = rgba(&render(&png, &example("product"), OutputFormat::Png).bytes);
    assert_eq!(tile.dimensions(), (600, 600));
    // 600x450 of photo padded to the square: white bands of 75 rows above and below.
    assert_eq!(tile.get_pixel(300, 60).0, [255, 255, 255, 255]);
    let inside = tile.get_pixel(300, 300).0;
    assert_ne!(
        &inside[..3],
        &[255, 255, 255],
        "the photo fills the tile's width"
    );
    assert!(tile.get_pixel(300, 80).0[..3] != [255, 255, 255]);
    assert_eq!(tile.get_pixel(0, 0).0[3], 0, "rounded corners");
}

#[tokio::test]
async fn a_budgeted_preset_says_its_quality_on_a_render_and_on_a_store_hit() {
    let root = temp_dir("examples-quality");
    let store: Arc<dyn Store> = Arc::new(FsStore::open(&root).await.expect("store"));
    let dirs = [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("presets"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/examples"),
    ];
    let presets = || Presets::load(&dirs).expect("presets and examples load together");
    let app = spawn_app(store.clone(), presets(), Settings::default()).await;
    let key = ObjectKey::parse("shop/p.jpg").expect("key");
    let bytes = Bytes::from(fixture("2569067123_aca715a2ee_o.jpg"));
    store
        .put(&key, bytes, "image/jpeg", &Default::default())
        .await
        .expect("put");
    let first = app.get("/t/share/shop/p.jpg").await;
    assert_eq!(first.status, 200);
    let q: u8 = first
        .header("x-thumbkit-quality")
        .parse()
        .expect("a quality");
    assert!((30..=85).contains(&q), "q{q}");
    assert!(first.body.len() <= 300_000);
    assert_eq!(
        app.metric("thumbkit_budget_renders_total", &["preset=\"share\""])
            .await,
        1.0
    );
    app.service.drain().await;
    // Another instance finds it in the store, and still knows what quality it was made at.
    let other = spawn_app(store, presets(), Settings::default()).await;
    let again = other.get("/t/share/shop/p.jpg").await;
    assert_eq!(again.header("x-cache"), "hit-store");
    assert_eq!(again.header("x-thumbkit-quality"), q.to_string());
    assert_eq!(again.body, first.body);
    // A preset without a budget says nothing.
    let plain = app.get("/t/thumb/shop/p.jpg").await;
    assert_eq!(plain.header("x-thumbkit-quality"), "");
}
