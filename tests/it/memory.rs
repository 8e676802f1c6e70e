//! Memory under load, measured on the real `thumbkit serve` process from the kernel
//! (`/proc/{pid}/status`): a burst of cold 12 MP renders stays under the stated bound, and a
//! PNG whose ICC profile inflates to 100 MB costs no more than an ordinary small PNG.

use std::io::Write;
use std::time::Duration;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::pipeline::png::chunk;

const MIB: u64 = 1 << 20;

/// A valid 256x256 PNG whose `iCCP` profile inflates to 100 MB (about 100 KB on disk).
fn metadata_bomb() -> Vec<u8> {
    let img = image::RgbImage::from_fn(256, 256, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let mut plain = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut plain),
        image::ImageFormat::Png,
    )
    .unwrap();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        z.write_all(&zeros).unwrap();
    }
    let mut iccp = b"bomb\0\0".to_vec();
    iccp.extend(z.finish().unwrap());
    // Signature and IHDR (8 + 25 bytes), then the bomb, a text chunk, and the rest.
    let mut out = plain[..33].to_vec();
    out.extend(chunk(b"iCCP", &iccp));
    out.extend_from_slice(&plain[33..]);
    out
}

/// The bomb with a text chunk after its header, so that each copy has its own hash.
fn copy_of(bomb: &[u8], tag: usize) -> Vec<u8> {
    let mut out = bomb[..33].to_vec();
    out.extend(chunk(b"tEXt", format!("Comment\0copy {tag}").as_bytes()));
    out.extend_from_slice(&bomb[33..]);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metadata_bombs_cost_what_a_small_png_costs() {
    let root = temp_dir("bombs");
    let bomb = metadata_bomb();
    assert!(bomb.len() < 200_000, "{} bytes", bomb.len());
    // Uploads validate it (probe, inspect, decode, BlurHash) within the same bounds.
    let limits = thumbkit::pipeline::Limits::default();
    assert!(thumbkit::pipeline::validate(&bomb, &limits).is_ok());
    assert!(thumbkit::pipeline::placeholder(&bomb, &limits).is_ok());
    for i in 0..40 {
        std::fs::create_dir_all(root.join("b")).unwrap();
        std::fs::write(root.join(format!("b/{i}.png")), copy_of(&bomb, i)).unwrap();
    }
    let server = Binary::start(&[
        ("THUMBKIT_STORAGE", format!("fs:{}", root.display())),
        ("THUMBKIT_RENDER_QUEUE", "40".into()),
    ]);
    let before = server.memory("VmRSS");
    let addr = server.addr;
    let requests: Vec<_> = (0..40)
        .map(|i| {
            tokio::spawn(
                async move { request(addr, "GET", &format!("/t/thumb/b/{i}.png"), &[]).await },
            )
        })
        .collect();
    for r in requests {
        let r = r.await.unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(decode_rgb(&r.body).dimensions(), (256, 256));
        assert_no_metadata(&r.body, "bomb thumbnail");
    }
    let peak = server.memory("VmHWM");
    println!(
        "40 metadata bombs at once: RSS {} MiB before, peak {} MiB",
        before / MIB,
        peak / MIB
    );
    // Inflated, 40 profiles would be 4 GB; all 40 renders together stay under 80 MiB.
    assert!(
        peak < before + 80 * MIB,
        "peak {} MiB, {} MiB before",
        peak / MIB,
        before / MIB
    );
}

/// The stated bound (README, "Memory"): RSS <= memory cache + originals kept for renders
/// (64 MiB) + per render worker 100 MiB (a 12 MP photo decoded whole for `large`, its resize
/// and encode buffers) + 64 MiB base, whatever the load.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cold_12_megapixel_renders_stay_under_the_memory_bound() {
    let root = temp_dir("rss");
    let presets = temp_dir("rss-presets");
    // Ten presets like `large` (2048 px, decoded at full size), each its own variant.
    for q in 0..10 {
        std::fs::write(
            presets.join(format!("large{q}.toml")),
            format!(
                "width = 2048\nheight = 2048\nformat = \"jpeg\"\nquality = {}\n",
                80 + q
            ),
        )
        .unwrap();
    }
    // Twenty distinct 12 MP originals (bytes after the end of image make each its own hash).
    let photo = fixture("IMG_9424.JPG");
    std::fs::create_dir_all(root.join("p")).unwrap();
    for i in 0..20 {
        let mut copy = photo.clone();
        copy.extend_from_slice(format!("copy {i}").as_bytes());
        std::fs::write(root.join(format!("p/{i}.jpg")), copy).unwrap();
    }
    let workers = 2u64;
    let cache = 64 * MIB;
    let server = Binary::start(&[
        ("THUMBKIT_STORAGE", format!("fs:{}", root.display())),
        ("THUMBKIT_PRESETS", presets.display().to_string()),
        ("THUMBKIT_RENDER_WORKERS", workers.to_string()),
        ("THUMBKIT_MEMORY_CACHE", "64MiB".into()),
        ("THUMBKIT_RENDER_TIMEOUT", "120s".into()),
        ("THUMBKIT_REQUEST_TIMEOUT", "300s".into()),
    ]);
    let addr = server.addr;
    // Ten clients, 200 cold renders; a client refused with 503 (queue full) retries.
    let clients: Vec<_> = (0..10)
        .map(|c| {
            tokio::spawn(async move {
                for n in 0..20 {
                    let (key, preset) = ((c * 20 + n) % 20, (c * 20 + n) / 20);
                    let path = format!("/t/large{preset}/p/{key}.jpg");
                    loop {
                        let r = request(addr, "GET", &path, &[]).await;
                        if r.status == 503 {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                        assert_eq!(r.status, 200, "{path}");
                        break;
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    let peak = server.memory("VmHWM");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = server.memory("VmRSS");
    let bound = cache + 64 * MIB + workers * 100 * MIB + 64 * MIB;
    println!(
        "200 cold 12 MP renders, 10 clients, {workers} workers: peak RSS {} MiB, idle {} MiB, bound {} MiB",
        peak / MIB,
        idle / MIB,
        bound / MIB
    );
    assert!(
        peak <= bound,
        "peak {} MiB over the bound of {} MiB",
        peak / MIB,
        bound / MIB
    );
    assert!(idle <= bound);
}
