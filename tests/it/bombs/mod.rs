//! Bombs in every format (`make.rs`): each is refused from its header or rendered within the
//! limits, in bounded time, and a real `thumbkit serve` taking them as uploads over four
//! connections in a loop stays under the stated memory bound and stores none of the refused ones.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::pipeline::{self, Limits, OutputFormat, PipelineError};

mod documents;
mod extremes;
mod make;

const MIB: u64 = 1 << 20;
const TOKEN: &str = "bomb-test-token";

/// Refused from the header alone: the declared size is over the pixel limit.
const OVERSIZED: [&str; 9] = [
    "jxl-100000x100000.jxl",
    "jxl-1073741824x1.jxl",
    "ihdr-1000000x1000000.png",
    "screen-65535x65535.gif",
    "frame-65535x65535.gif",
    "vp8x-canvas-16777216.webp",
    "vp8l-16384x16384.webp",
    "tiff-1000000x1000000.tiff",
    "sof-65500x65500.jpg",
];

/// Rendered: the bomb is in a chunk or segment the pipeline never inflates or follows, or
/// (the 49-megapixel PNG of a few KB) within the pixel limit, decoded under the memory budget.
const RENDERED: [&str; 6] = [
    "idat-7000x7000-zeros.png",
    "ztxt-512mib.png",
    "itxt-512mib.png",
    "iccp-512mib.png",
    "comments-50000.jpg",
    "exif-loop.jpg",
];

#[test]
fn every_bomb_is_refused_from_its_header_or_rendered_within_the_limits() {
    let limits = Limits::default();
    let thumb = shipped("thumb");
    for bomb in make::all() {
        let name = bomb.name;
        let started = Instant::now();
        let header = pipeline::probe(&bomb.bytes, &limits);
        let checked = pipeline::validate(&bomb.bytes, &limits).map(|_| ());
        let rendered = pipeline::render(&bomb.bytes, &thumb.spec, OutputFormat::Jpeg, &limits);
        let took = started.elapsed();
        let outcome = match (&checked, &rendered) {
            (Ok(_), Ok(out)) => {
                assert!(out.width <= 320 && out.height <= 320, "{name}");
                assert_no_metadata(&out.bytes, name);
                format!("rendered {}x{}", out.width, out.height)
            }
            (Err(e), Err(_)) | (Ok(_), Err(e)) | (Err(e), Ok(_)) => {
                let msg = e.to_string();
                assert!(!msg.contains('\n'), "{name}: one line: {msg}");
                assert!(!matches!(e, PipelineError::Internal(_)), "{name}: {e:?}");
                format!("refused: {msg}")
            }
        };
        eprintln!(
            "{name:28} {:>8} bytes {:>6} ms  {outcome}",
            bomb.bytes.len(),
            took.as_millis()
        );
        // A guard against hangs and runaway work, not a speed figure: the slowest is ~1 s.
        assert!(took < Duration::from_secs(20), "{name}: {took:?}");
        if OVERSIZED.contains(&name) {
            // A GIF's frame declares its size in its own descriptor, read before any of its
            // pixels: the logical screen (the header) is small, the frame far outside it.
            let refused = if name.starts_with("frame-") {
                matches!(&checked, Err(PipelineError::Corrupt(m)) if m.contains("declares more"))
            } else {
                matches!(header, Err(PipelineError::TooManyPixels { .. }))
            };
            assert!(
                refused,
                "{name}: refused from its header, got {header:?} / {checked:?}"
            );
        }
        if RENDERED.contains(&name) {
            assert!(rendered.is_ok(), "{name}: {rendered:?}");
            assert!(checked.is_ok(), "{name}: {checked:?}");
        }
        if documents::REFUSED.contains(&name) {
            assert!(checked.is_err() && rendered.is_err(), "{name}: refused");
        }
        if documents::RENDERED.contains(&name) {
            assert!(rendered.is_ok() && checked.is_ok(), "{name}: {rendered:?}");
        }
        if name.starts_with("html") {
            assert!(
                matches!(header, Err(PipelineError::UnsupportedFormat(_))),
                "{name}: {header:?}"
            );
        }
    }
}

#[test]
fn every_bomb_meets_trim_masks_watermarks_and_budgets_as_it_meets_a_plain_preset() {
    let limits = Limits::default();
    let dir = temp_dir("bombs-operations");
    std::fs::create_dir_all(dir.join("marks")).expect("dir");
    let mark = image::RgbaImage::from_pixel(64, 16, image::Rgba([0, 0, 0, 160]));
    image::DynamicImage::ImageRgba8(mark)
        .save(dir.join("marks/m.png"))
        .expect("mark");
    let text = "width = 320\nheight = 320\nfit = \"cover\"\ntrim = true\nsharpen = 1\n\
                mask = \"circle\"\nmax_bytes = 2000\n\
                watermark = { image = \"marks/m.png\", position = \"tile\", min_width = 0 }";
    std::fs::write(dir.join("all.toml"), text).expect("preset");
    let all = thumbkit::preset::Preset::load(&dir.join("all.toml")).expect("loads");
    let thumb = shipped("thumb");
    for bomb in make::all() {
        let name = bomb.name;
        let started = Instant::now();
        let plain = pipeline::render(&bomb.bytes, &thumb.spec, OutputFormat::Jpeg, &limits);
        for format in [OutputFormat::Png, OutputFormat::Jpeg] {
            let out = pipeline::render(&bomb.bytes, &all.spec, format, &limits);
            match (&plain, &out) {
                (Ok(_), Ok(out)) => {
                    assert!(out.width <= 320 && out.height <= 320, "{name}");
                    assert_no_metadata(&out.bytes, name);
                }
                (Err(_), Err(e)) => {
                    assert!(!matches!(e, PipelineError::Internal(_)), "{name}: {e:?}");
                }
                (p, o) => panic!("{name} {format}: plain {p:?}, with every operation {o:?}"),
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{name}");
    }
}

/// Uploads `bytes` to `key` with pre-generation; returns the status and the answer.
async fn upload(addr: std::net::SocketAddr, key: &str, bytes: &[u8]) -> Reply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = format!(
        "PUT /v1/originals/{key}?pregenerate=thumb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n",
        bytes.len()
    )
    .into_bytes();
    request.extend_from_slice(bytes);
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(&request).await.expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("answer");
    crate::helpers::app::recorded(&request, parse_reply(&answer))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_taking_bombs_over_four_connections_stays_under_the_memory_bound() {
    let root = temp_dir("bomb-loop");
    let (workers, cache, bodies) = (2, 16 * MIB, 8 * MIB);
    let server = Binary::start(&[
        ("THUMBKIT_STORAGE", format!("fs:{}", root.display())),
        ("THUMBKIT_API_TOKEN", TOKEN.to_owned()),
        ("THUMBKIT_RENDER_WORKERS", workers.to_string()),
        ("THUMBKIT_MEMORY_CACHE", format!("{}MiB", cache / MIB)),
        ("THUMBKIT_MAX_INPUT_BYTES", format!("{}MiB", bodies / MIB)),
    ]);
    // The stated bound (README, "Memory"): the cache, 64 MiB of originals kept for renders,
    // the decode budget of each worker, the upload bodies being received, and 64 MiB.
    let bound = cache + 64 * MIB + workers * 96 * MIB + bodies + 64 * MIB;
    let addr = server.addr;
    let bombs: std::sync::Arc<Vec<(String, Vec<u8>)>> = std::sync::Arc::new(
        make::all()
            .into_iter()
            .map(|b| (b.name.to_owned(), b.bytes))
            .collect(),
    );
    let rounds = 3;
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let bombs = bombs.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for round in 0..rounds {
                    for i in 0..bombs.len() {
                        // Each connection starts at another bomb, so all kinds overlap.
                        let (name, bytes) = &bombs[(i + c * 5) % bombs.len()];
                        let key = format!("bombs/{c}/{round}/{name}");
                        let reply = upload(addr, &key, bytes).await;
                        answers.push((name.clone(), key, reply));
                    }
                }
                answers
            })
        })
        .collect();
    let mut outcomes: BTreeMap<String, u16> = BTreeMap::new();
    let mut stored_keys = Vec::new();
    for client in clients {
        for (name, key, reply) in client.await.expect("client") {
            let body = String::from_utf8_lossy(&reply.body).into_owned();
            match reply.status {
                201 => stored_keys.push(key),
                422 => {
                    assert_eq!(
                        reply.header("content-type"),
                        "application/problem+json",
                        "{name}"
                    );
                    let detail = reply.problem()["detail"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    assert!(
                        !detail.is_empty() && !detail.contains('\n'),
                        "{name}: {body}"
                    );
                    assert!(
                        !detail.contains(&root.display().to_string()),
                        "{name}: {detail}"
                    );
                }
                s => panic!("{name}: {s} {body}"),
            }
            let seen = *outcomes.entry(name.clone()).or_insert(reply.status);
            assert_eq!(seen, reply.status, "{name}: the same answer every time");
        }
    }
    let peak = server.memory("VmHWM");
    eprintln!(
        "4 connections x {rounds} rounds of {} bombs: peak RSS {} MiB (bound {} MiB); \
         answers {outcomes:?}",
        bombs.len(),
        peak / MIB,
        bound / MIB
    );
    assert!(
        peak <= bound,
        "peak RSS {} MiB over the bound of {} MiB",
        peak / MIB,
        bound / MIB
    );
    for name in OVERSIZED {
        assert_eq!(outcomes.get(name), Some(&422), "{name}");
    }
    for name in RENDERED {
        assert_eq!(outcomes.get(name), Some(&201), "{name}");
    }
    // What was refused left nothing behind; what was taken is there, with its thumbnail.
    let files: Vec<String> = walk(&root)
        .iter()
        .map(|p| {
            p.strip_prefix(&root)
                .expect("under root")
                .display()
                .to_string()
        })
        .collect();
    for (name, status) in &outcomes {
        let present = files
            .iter()
            .any(|f| f.ends_with(name.as_str()) && f.starts_with("bombs/"));
        assert_eq!(present, *status == 201, "{name}: stored only if taken");
    }
    assert!(
        files.iter().all(|f| !f.contains(".tmp-")),
        "no temporary file left"
    );
    for key in stored_keys.iter().take(6) {
        let r = request(addr, "GET", &format!("/t/thumb/{key}"), &[]).await;
        assert_eq!(r.status, 200, "{key}");
        assert_no_metadata(&r.body, key);
    }
    assert_eq!(request(addr, "GET", "/healthz", &[]).await.status, 200);
}

/// Writes every bomb to `$THUMBKIT_HOSTILE_DIR`, for measuring each through the CLI
/// (docs/formats.md): `cargo test --test it -- --ignored write_the_hostile_set`.
#[test]
#[ignore = "writes files for a measurement by hand"]
fn write_the_hostile_set() {
    let dir = std::env::var("THUMBKIT_HOSTILE_DIR").expect("THUMBKIT_HOSTILE_DIR");
    std::fs::create_dir_all(&dir).expect("dir");
    for bomb in make::all() {
        std::fs::write(std::path::Path::new(&dir).join(bomb.name), &bomb.bytes).expect("write");
    }
}

/// What the fuzzer found (`fixtures/hostile/`), through every entry point its target calls:
/// refused with a reason, never a decoder's panic turned into an internal error.
#[test]
fn what_the_fuzzer_found_meets_every_entry_point_without_a_panic() {
    let limits = Limits::default();
    let p = shipped("thumb");
    for path in walk(&fixtures().join("hostile")) {
        let name = path.display().to_string();
        let data = std::fs::read(&path).expect("fixture");
        let mut outcomes = vec![
            pipeline::validate(&data, &limits).map(|_| ()),
            pipeline::check(&data, &limits).map(|_| ()),
            pipeline::placeholder(&data, &limits).map(|_| ()),
        ];
        for format in [OutputFormat::Jpeg, OutputFormat::Png, OutputFormat::Webp] {
            outcomes.push(pipeline::render(&data, &p.spec, format, &limits).map(|_| ()));
        }
        for outcome in outcomes {
            assert!(
                !matches!(outcome, Err(PipelineError::Internal(_))),
                "{name}: {outcome:?}"
            );
        }
    }
}
