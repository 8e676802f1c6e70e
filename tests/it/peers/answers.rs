//! What an owner answers is believed only when it is authenticated for the very request and
//! is the variant asked for: a fake peer's image, however labelled, and another preset
//! version's variant during a rolling edit are never served or cached; the asker renders.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{SECRET, free_addrs, nine_photos, owned_by, owns, peer_config, start, start_with};
use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::keys::ContentHash;
use thumbkit::peers::{PeerSecret, PeerUrl};

/// What the fake peer sends back.
#[derive(Clone, Copy, PartialEq)]
enum Forgery {
    /// A 900x600 PNG labelled `image/jpeg`, untagged.
    UntaggedPng,
    /// The same PNG, tagged with the real secret (a peer that has it but answers wrong).
    TaggedPng,
    /// A real JPEG of the wrong size (the original itself), tagged.
    TaggedWrongSize,
}

/// A peer that answers every request with `mode`'s forgery.
async fn fake_peer(mode: Arc<Mutex<Forgery>>, original: Vec<u8>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let png = {
        let img = image::RgbImage::from_pixel(900, 600, image::Rgb([200, 10, 10]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
            let nonce = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("x-thumbkit-peer:")
                        .map(str::to_owned)
                })
                .and_then(|v| v.trim().split('.').nth(1).map(str::to_owned))
                .unwrap_or_default();
            let forgery = *mode.lock().unwrap();
            let body = match forgery {
                Forgery::UntaggedPng | Forgery::TaggedPng => png.clone(),
                Forgery::TaggedWrongSize => original.clone(),
            };
            let tag = match forgery {
                Forgery::UntaggedPng => String::new(),
                _ => {
                    let secret = PeerSecret::parse(SECRET).unwrap();
                    let answer = thumbkit::peers::Answer {
                        content_type: "image/jpeg",
                        made: "alone",
                        bytes: &body,
                    };
                    let tag = secret.answer_tag(&nonce, &path, answer);
                    format!("x-thumbkit-peer-answer: {tag}\r\n")
                }
            };
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\nx-thumbkit-made: alone\r\n\
                 content-length: {}\r\n{tag}\r\n",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
            let _ = socket.write_all(&body).await;
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fake_or_wrong_peer_answer_is_rendered_over_and_counted() {
    let s3 = S3Server::start("fleet-forged").await;
    let photo = fixture("Landscape_1.jpg");
    let mode = Arc::new(Mutex::new(Forgery::UntaggedPng));
    let fake = fake_peer(mode.clone(), photo.clone()).await;
    let [me] = free_addrs(1)[..] else {
        unreachable!()
    };
    let all = [PeerUrl::of_addr(me), PeerUrl::of_addr(fake)];
    let a = start(&s3, me, peer_config(me, &all, SECRET)).await;
    // Copies of one photo made distinct by bytes after its end (which decoders ignore):
    // three whose variant the fake peer owns.
    let mut owned = Vec::new();
    for i in 0..64 {
        let mut bytes = photo.clone();
        bytes.extend_from_slice(format!("copy {i}").as_bytes());
        if owns(&a.app, &bytes, &all[1]) {
            let key = format!("forged/{i}.jpg");
            s3.put(&key, bytes.clone()).await;
            owned.push((key, bytes));
        }
        if owned.len() == 3 {
            break;
        }
    }
    assert_eq!(owned.len(), 3, "the fake peer owns some keys");
    for (i, forgery) in [
        Forgery::UntaggedPng,
        Forgery::TaggedPng,
        Forgery::TaggedWrongSize,
    ]
    .into_iter()
    .enumerate()
    {
        *mode.lock().unwrap() = forgery;
        let (key, bytes) = &owned[i];
        let hash = ContentHash::of(bytes);
        for url in [
            format!("/t/thumb/{key}"),
            format!("/t/thumb/{key}?v={hash}"),
        ] {
            let reply = a.app.get(&url).await;
            assert_eq!(reply.status, 200, "{url}");
            assert_ne!(reply.header("x-cache"), "hit-peer", "{url}");
            assert_eq!(reply.header("content-type"), "image/jpeg");
            let (w, h) = decode_rgb(&reply.body).dimensions();
            assert_eq!(
                w.max(h),
                320,
                "{url}: the preset's size, not the peer's {w}x{h}"
            );
        }
    }
    let rejected = a
        .app
        .metric("thumbkit_peer_requests_total", &["outcome=\"rejected\""])
        .await;
    assert!(rejected >= 3.0, "{rejected}");
    assert_eq!(
        a.app
            .metric("thumbkit_peer_requests_total", &["outcome=\"ok\""])
            .await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_rolling_preset_edit_the_old_owner_says_not_mine() {
    let s3 = S3Server::start("fleet-rolling").await;
    let keys = nine_photos(&s3, "rolling").await;
    let addrs = free_addrs(2);
    let all: Vec<PeerUrl> = addrs.iter().copied().map(PeerUrl::of_addr).collect();
    // B still runs the old `thumb` (200 px); A has the edited one (320 px).
    let dir = temp_dir("rolling-presets");
    for entry in
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets")).unwrap()
    {
        let entry = entry.unwrap();
        if entry.path().is_file() {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    let old = std::fs::read_to_string(dir.join("thumb.toml"))
        .unwrap()
        .replace("width = 320", "width = 200")
        .replace("height = 320", "height = 200");
    std::fs::write(dir.join("thumb.toml"), old).unwrap();
    let old_presets = thumbkit::preset::Presets::load(&[dir]).unwrap();
    let a = start(&s3, addrs[0], peer_config(addrs[0], &all, SECRET)).await;
    let b = start_with(
        &s3,
        addrs[1],
        peer_config(addrs[1], &all, SECRET),
        old_presets,
    )
    .await;
    let key = owned_by(&a.app, &keys, &all[1]);
    let reply = a.app.get(&format!("/t/thumb/{key}")).await;
    assert_eq!((reply.status, reply.header("x-cache")), (200, "miss"));
    let (w, h) = decode_rgb(&reply.body).dimensions();
    assert_eq!(
        w.max(h),
        320,
        "the edited preset's size, not the old owner's"
    );
    assert_eq!(
        a.app
            .metric("thumbkit_peer_requests_total", &["outcome=\"not_mine\""])
            .await,
        1.0
    );
    assert_eq!(b.app.metric("thumbkit_renders_total", &[]).await, 0.0);
}
