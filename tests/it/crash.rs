//! Crash consistency: a real `thumbkit serve` is killed with SIGKILL at many points while
//! uploads replace originals and pre-generate variants, then restarted. Afterwards every
//! stored object's metadata matches its bytes, every variant sits under the hash of the
//! image it shows, every key serves its own picture, and no temporary file is left.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::keys::ObjectKey;
use thumbkit::storage::{FsStore, Store};

const TOKEN: &str = "crash-test-token";
const KEYS: [&str; 3] = ["u/photo.jpg", "u/other.jpg", "v/third.jpg"];

/// Three small photos told apart by their thumbnails' sizes: small, so that the time of a
/// cycle goes to writes, where the kills should land.
fn photos() -> Vec<(Vec<u8>, (u32, u32))> {
    vec![
        (fixture("Flag_of_the_Netherlands.jpg"), (320, 213)),
        (fixture("sample.jpg"), (210, 320)),
        (fixture("32-lens_data.jpeg"), (200, 133)),
    ]
}

/// The thumbnail size each content hash must have.
fn sizes_by_hash() -> BTreeMap<String, (u32, u32)> {
    photos()
        .into_iter()
        .map(|(bytes, size)| (blake3::hash(&bytes).to_hex().to_string(), size))
        .collect()
}

/// Uploads the photos over the keys in turn, with pre-generation, until the server dies.
async fn hammer(addr: std::net::SocketAddr, worker: usize) {
    let photos = photos();
    for round in 0.. {
        let key = KEYS[(worker + round) % KEYS.len()];
        let (bytes, _) = &photos[(worker * 7 + round) % photos.len()];
        let head = format!(
            "PUT /v1/originals/{key}?pregenerate=thumb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Authorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n",
            bytes.len()
        );
        use tokio::io::AsyncWriteExt;
        let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
            return;
        };
        let mut request = head.into_bytes();
        request.extend_from_slice(bytes);
        if stream.write_all(&request).await.is_err() {
            return;
        }
        let mut answer = Vec::new();
        use tokio::io::AsyncReadExt;
        if stream.read_to_end(&mut answer).await.is_err() || answer.is_empty() {
            return;
        }
    }
}

/// Starts the server, lets uploads run for `after`, and kills it with SIGKILL.
async fn kill_mid_write(env: &[(&str, String)], after: Duration) {
    let server = Binary::start(env);
    let addr = server.addr;
    let uploads: Vec<_> = (0..4).map(|w| tokio::spawn(hammer(addr, w))).collect();
    tokio::time::sleep(after).await;
    server.signal(libc::SIGKILL);
    drop(server);
    for u in uploads {
        let _ = u.await;
    }
}

/// Every key serves the thumbnail of the bytes stored under it.
async fn each_key_serves_its_own_picture(
    addr: std::net::SocketAddr,
    stored: &BTreeMap<String, Vec<u8>>,
) {
    let sizes = sizes_by_hash();
    for (key, bytes) in stored {
        let hash = blake3::hash(bytes).to_hex().to_string();
        let want = sizes[&hash];
        let r = request(addr, "GET", &format!("/t/thumb/{key}"), &[]).await;
        assert_eq!(r.status, 200, "{key}");
        assert_eq!(
            decode_rgb(&r.body).dimensions(),
            want,
            "{key} serves its own picture"
        );
    }
}

/// A variant key's content hash (`_variants/{h[0..2]}/{h}/...`).
fn variant_hash(key: &str) -> Option<&str> {
    let mut parts = key.strip_prefix("_variants/")?.split('/');
    let (_, hash) = (parts.next()?, parts.next()?);
    (hash.len() == 64).then_some(hash)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_mid_write_the_fs_store_stays_consistent() {
    let root = temp_dir("crash-fs");
    let env = vec![
        ("THUMBKIT_STORAGE", format!("fs:{}", root.display())),
        ("THUMBKIT_API_TOKEN", TOKEN.to_owned()),
    ];
    let sizes = sizes_by_hash();
    for round in 0..25u64 {
        // Spread the kills over the first uploads and well into the steady state.
        kill_mid_write(&env, Duration::from_millis(60 + round * 97 % 900)).await;
        // The restart clears what the crash left half-written.
        let server = Binary::start(&env);
        let leftovers: Vec<String> = walk(&root)
            .into_iter()
            .map(|p| p.display().to_string())
            .filter(|p| p.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "round {round}: {leftovers:?}");
        let store = FsStore::open(&root).await.unwrap();
        let mut stored = BTreeMap::new();
        for key in store.list("").await.unwrap() {
            let object = store.get(&key).await.unwrap().expect("listed");
            let actual = blake3::hash(&object.bytes).to_hex().to_string();
            if let Some(hash) = variant_hash(key.as_str()) {
                let want = sizes
                    .get(hash)
                    .unwrap_or_else(|| panic!("{key}: unknown content"));
                assert_eq!(
                    decode_rgb(&object.bytes).dimensions(),
                    *want,
                    "round {round}: {key} shows its hash's image"
                );
            } else if !key.as_str().starts_with("_variants/") {
                if let Some(claimed) = object.info.metadata.get("thumbkit-blake3") {
                    assert_eq!(
                        claimed, &actual,
                        "round {round}: {key}'s metadata matches its bytes"
                    );
                }
                stored.insert(key.to_string(), object.bytes.to_vec());
            }
        }
        each_key_serves_its_own_picture(server.addr, &stored).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_mid_write_the_s3_store_stays_consistent() {
    let s3 = S3Server::start("crash").await;
    let mut env = Binary::s3_env(&s3, "s3://photos");
    env.push(("THUMBKIT_API_TOKEN", TOKEN.to_owned()));
    let sizes = sizes_by_hash();
    let store: Arc<dyn Store> = s3.store("").await;
    for round in 0..5u64 {
        kill_mid_write(&env, Duration::from_millis(80 + round * 173 % 700)).await;
        let server = Binary::start(&env);
        let mut stored = BTreeMap::new();
        for key in s3.keys("").await {
            let object = store
                .get(&ObjectKey::parse(&key).unwrap())
                .await
                .unwrap()
                .expect("listed");
            let actual = blake3::hash(&object.bytes).to_hex().to_string();
            if let Some(hash) = variant_hash(&key) {
                let want = sizes
                    .get(hash)
                    .unwrap_or_else(|| panic!("{key}: unknown content"));
                assert_eq!(
                    decode_rgb(&object.bytes).dimensions(),
                    *want,
                    "round {round}: {key}"
                );
            } else if !key.starts_with("_variants/") {
                if let Some(claimed) = object.info.metadata.get("thumbkit-blake3") {
                    assert_eq!(
                        claimed, &actual,
                        "round {round}: {key}'s metadata matches its bytes"
                    );
                }
                stored.insert(key, object.bytes.to_vec());
            }
        }
        each_key_serves_its_own_picture(server.addr, &stored).await;
    }
}
