//! The storage conformance suite: every `Store` method, the same assertions, against both
//! backends (the fs store in a temporary directory, and S3 on a real S3 server, at the
//! bucket's root and under a prefix), so the service can rely on one behaviour whichever
//! store it runs on.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use thumbkit::keys::ObjectKey;
use thumbkit::storage::{FsStore, Store};

use crate::helpers::app::*;

fn key(s: &str) -> ObjectKey {
    ObjectKey::parse(s).unwrap()
}

/// How a store names an object in an S3 event (bucket, full key), and whether it has
/// buckets at all.
struct Events {
    bucket: &'static str,
    prefix: &'static str,
}

async fn conformance(store: Arc<dyn Store>, events: Events) {
    let label = store.describe();
    assert!(!label.is_empty());
    store
        .check()
        .await
        .unwrap_or_else(|e| panic!("{label}: {e}"));

    // Missing objects are None, not errors; deleting one is not an error either.
    let k = key("photos/2024/été one+two.jpg");
    assert!(store.get(&k).await.unwrap().is_none(), "{label}");
    assert!(store.head(&k).await.unwrap().is_none(), "{label}");
    store.delete(&k).await.unwrap();

    // A round trip keeps the bytes, the size and the metadata (thumbkit's own is JSON).
    let meta = BTreeMap::from([
        ("thumbkit-blake3".to_owned(), "ab".repeat(32)),
        (
            "thumbkit-probe".to_owned(),
            r#"{"format":"jpeg","width":640,"height":480,"alpha":false}"#.to_owned(),
        ),
    ]);
    let put_etag = store
        .put(&k, Bytes::from_static(b"first"), "image/jpeg", &meta)
        .await
        .unwrap();
    let object = store.get(&k).await.unwrap().expect("stored");
    assert_eq!(
        put_etag, object.info.etag,
        "{label}: PUT says the ETag GET gives"
    );
    assert_eq!(&object.bytes[..], b"first", "{label}");
    assert_eq!(object.info.size, 5, "{label}");
    assert_eq!(object.info.metadata, meta, "{label}");
    let head = store.head(&k).await.unwrap().expect("stored");
    assert_eq!(head, object.info, "{label}: HEAD and GET agree");

    // Replacing changes the ETag and replaces the metadata whole.
    let put_again = store
        .put(
            &k,
            Bytes::from_static(b"second!"),
            "image/jpeg",
            &BTreeMap::new(),
        )
        .await
        .unwrap();
    let replaced = store.head(&k).await.unwrap().expect("stored");
    assert_ne!(replaced.etag, object.info.etag, "{label}");
    assert_eq!(put_again, replaced.etag, "{label}: without metadata too");
    assert_eq!(replaced.size, 7, "{label}");
    assert!(
        replaced.metadata.is_empty(),
        "{label}: {:?}",
        replaced.metadata
    );

    // Empty and large objects.
    let empty = key("photos/empty.bin");
    store
        .put(
            &empty,
            Bytes::new(),
            "application/octet-stream",
            &BTreeMap::new(),
        )
        .await
        .unwrap();
    let got = store.get(&empty).await.unwrap().expect("stored");
    assert_eq!((got.bytes.len(), got.info.size), (0, 0), "{label}");
    let large = key("photos/large.bin");
    let payload: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    store
        .put(
            &large,
            payload.clone().into(),
            "application/octet-stream",
            &BTreeMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get(&large).await.unwrap().unwrap().bytes,
        payload,
        "{label}"
    );

    // Concurrent writers of one key: one of them wins whole, never a mix.
    let contended = key("photos/contended.bin");
    let mut writers = Vec::new();
    for n in 0..8u8 {
        let (store, contended) = (store.clone(), contended.clone());
        writers.push(tokio::spawn(async move {
            let bytes = vec![n; 64 << 10 | usize::from(n)];
            store
                .put(
                    &contended,
                    bytes.into(),
                    "application/octet-stream",
                    &BTreeMap::new(),
                )
                .await
        }));
    }
    for w in writers {
        w.await.unwrap().unwrap();
    }
    let won = store.get(&contended).await.unwrap().unwrap();
    let n = won.bytes[0];
    assert_eq!(won.bytes.len(), 64 << 10 | usize::from(n), "{label}");
    assert!(
        won.bytes.iter().all(|&b| b == n),
        "{label}: bytes of two writers"
    );
    assert_eq!(won.info.size, won.bytes.len() as u64, "{label}");

    // Listing: every key under the prefix, none outside it; a prefix need
    // not end at a folder.
    let mut many: Vec<ObjectKey> = (0..40).map(|i| key(&format!("many/{i:03}.jpg"))).collect();
    for k in &many {
        store
            .put(k, Bytes::from_static(b"x"), "image/jpeg", &BTreeMap::new())
            .await
            .unwrap();
    }
    let mut listed = store.list("many/").await.unwrap();
    listed.sort();
    many.sort();
    assert_eq!(listed, many, "{label}");
    let mut partial = store.list("photos/20").await.unwrap();
    partial.sort();
    assert_eq!(partial, std::slice::from_ref(&k), "{label}");
    let everything = store.list("").await.unwrap();
    assert_eq!(everything.len(), 40 + 4, "{label}: {everything:?}");

    // Deleting removes the object and nothing else.
    store.delete(&k).await.unwrap();
    assert!(store.head(&k).await.unwrap().is_none(), "{label}");
    assert!(store.get(&k).await.unwrap().is_none(), "{label}");
    assert!(store.head(&large).await.unwrap().is_some(), "{label}");
    for k in &many {
        store.delete(k).await.unwrap();
    }
    assert!(store.list("many/").await.unwrap().is_empty(), "{label}");

    // An S3 event names the object by bucket and full key; another bucket, or a key
    // outside the prefix, is not this store's.
    let full = format!("{}photos/large.bin", events.prefix);
    assert_eq!(
        store.key_for_event(events.bucket, &full),
        Some(large.clone()),
        "{label}"
    );
    if !events.bucket.is_empty() {
        assert_eq!(
            store.key_for_event("another-bucket", &full),
            None,
            "{label}"
        );
        if !events.prefix.is_empty() {
            assert_eq!(
                store.key_for_event(events.bucket, "elsewhere/photos/large.bin"),
                None,
                "{label}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fs_store_conforms() {
    let root = temp_dir("conformance");
    let store = Arc::new(FsStore::open(&root).await.unwrap());
    conformance(
        store,
        Events {
            bucket: "",
            prefix: "",
        },
    )
    .await;
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_store_conforms_at_the_root_and_under_a_prefix() {
    let s3 = S3Server::start("conformance").await;
    conformance(
        s3.store("").await,
        Events {
            bucket: BUCKET,
            prefix: "",
        },
    )
    .await;
    let s3 = S3Server::start("conformance-prefixed").await;
    conformance(
        s3.store("site/").await,
        Events {
            bucket: BUCKET,
            prefix: "site/",
        },
    )
    .await;
}
