//! The fs store's own tests: round trips, the reserved names, and the states a crash leaves.

use super::*;

fn key(s: &str) -> ObjectKey {
    ObjectKey::parse(s).unwrap()
}

async fn store(tag: &str) -> (FsStore, PathBuf) {
    let root = std::env::temp_dir().join(format!("thumbkit-store-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    (FsStore::open(&root).await.unwrap(), root)
}

#[tokio::test]
async fn put_get_head_delete() {
    let (s, root) = store("basic").await;
    let k = key("photos/2024/é one.jpg");
    assert!(s.get(&k).await.unwrap().is_none());
    let meta = BTreeMap::from([("thumbkit-hash".to_owned(), "abc".to_owned())]);
    s.put(&k, Bytes::from_static(b"first"), "image/jpeg", &meta)
        .await
        .unwrap();
    let Object { bytes, info } = s.get(&k).await.unwrap().unwrap();
    assert_eq!((&bytes[..], info.size), (&b"first"[..], 5));
    assert_eq!(info.metadata, meta);
    // Replacing the bytes changes the ETag.
    s.put(&k, Bytes::from_static(b"second!"), "", &BTreeMap::new())
        .await
        .unwrap();
    let info2 = s.head(&k).await.unwrap().unwrap();
    assert_ne!(info.etag, info2.etag);
    assert!(info2.metadata.is_empty());
    let other = key("photos/2025/b.jpg");
    s.put(&other, Bytes::from_static(b"b"), "", &meta)
        .await
        .unwrap();
    let mut listed = s.list("photos/").await.unwrap();
    listed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(listed, [k.clone(), other.clone()]);
    assert_eq!(
        s.list("photos/2025").await.unwrap(),
        std::slice::from_ref(&other)
    );
    assert!(s.list("nothing/").await.unwrap().is_empty());
    s.delete(&other).await.unwrap();
    s.delete(&k).await.unwrap();
    s.delete(&k).await.unwrap(); // idempotent
    assert!(s.head(&k).await.unwrap().is_none());
    // No temporary files are left behind.
    let leftovers: Vec<_> = walk(&root)
        .into_iter()
        .filter(|p| p.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn the_metadata_folder_is_not_an_object() {
    let (s, root) = store("reserved").await;
    let k = key(".thumbkit-meta/x.json");
    assert!(matches!(
        s.put(&k, Bytes::from_static(b"x"), "", &BTreeMap::new())
            .await,
        Err(StoreError::Reserved(_))
    ));
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn a_temporary_name_in_any_folder_is_refused() {
    let (s, root) = store("tmp-segment").await;
    for k in ["photos/.tmp-hidden/x.jpg", ".tmp-a/b.jpg", "a/.tmp-x"] {
        assert!(
            matches!(
                s.put(&key(k), Bytes::from_static(b"x"), "", &BTreeMap::new())
                    .await,
                Err(StoreError::Reserved(_))
            ),
            "{k}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// A link in the root that leads out: no write, delete or new folder goes through it
/// (reads already answer nothing), while a link that stays inside still works.
#[tokio::test]
async fn no_operation_follows_a_symlink_out_of_the_root() {
    let (s, root) = store("symlinks").await;
    let outside = root.with_extension("outside");
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("victim.txt"), b"keep me").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("linkdir")).unwrap();
    let victim = key("linkdir/victim.txt");
    assert!(s.get(&victim).await.unwrap().is_none());
    assert!(s.head(&victim).await.unwrap().is_none());
    s.delete(&victim).await.unwrap();
    assert_eq!(
        std::fs::read(outside.join("victim.txt")).unwrap(),
        b"keep me"
    );
    let through = key("linkdir/new/deeper/x.jpg");
    assert!(matches!(
        s.put(&through, Bytes::from_static(b"x"), "", &BTreeMap::new())
            .await,
        Err(StoreError::Reserved(_))
    ));
    assert!(!outside.join("new").exists(), "no folder made outside");
    // The metadata folder is walked the same way.
    std::fs::create_dir_all(root.join(META_DIR)).unwrap();
    std::os::unix::fs::symlink(&outside, root.join(META_DIR).join("meta")).unwrap();
    let meta = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
    assert!(matches!(
        s.put(&key("meta/x.jpg"), Bytes::from_static(b"x"), "", &meta)
            .await,
        Err(StoreError::Reserved(_))
    ));
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
    // A link inside the root is an ordinary folder.
    std::fs::create_dir_all(root.join("real")).unwrap();
    std::os::unix::fs::symlink(root.join("real"), root.join("alias")).unwrap();
    s.put(
        &key("alias/y.jpg"),
        Bytes::from_static(b"y"),
        "",
        &BTreeMap::new(),
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read(root.join("real/y.jpg")).unwrap(), b"y");
    s.delete(&key("alias/y.jpg")).await.unwrap();
    assert!(!root.join("real/y.jpg").exists());
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&outside);
}

/// The states a crash can leave between the data's rename and the sidecar's: new bytes
/// with the old sidecar, and half-written temporary files.
#[tokio::test]
async fn an_interrupted_write_never_pairs_metadata_with_other_bytes() {
    let (s, root) = store("crash-states").await;
    let k = key("u/photo.jpg");
    let v1 = BTreeMap::from([("thumbkit-blake3".to_owned(), "hash-of-v1".to_owned())]);
    s.put(&k, Bytes::from_static(b"version one"), "", &v1)
        .await
        .unwrap();
    assert_eq!(s.head(&k).await.unwrap().unwrap().metadata, v1);
    // Killed after the new data was renamed into place, before its sidecar was written.
    let tmp = root.join("u/.tmp-0123456789abcdef");
    std::fs::write(&tmp, b"version two!").unwrap();
    std::fs::rename(&tmp, root.join("u/photo.jpg")).unwrap();
    let info = s.head(&k).await.unwrap().unwrap();
    assert_eq!(info.size, 12);
    assert!(info.metadata.is_empty(), "v1's metadata on v2's bytes");
    let object = s.get(&k).await.unwrap().unwrap();
    assert_eq!(&object.bytes[..], b"version two!");
    assert!(object.info.metadata.is_empty());
    // Killed mid-write: temporary files of data and sidecar are removed at the next open.
    std::fs::write(root.join("u/.tmp-fedcba9876543210"), b"half").unwrap();
    std::fs::write(root.join(".thumbkit-meta/u/.tmp-00aa00aa00aa00aa"), b"{").unwrap();
    let reopened = FsStore::open(&root).await.unwrap();
    assert!(walk(&root).iter().all(|p| !p.contains(".tmp-")));
    assert_eq!(reopened.list("").await.unwrap(), std::slice::from_ref(&k));
    // Keys that would collide with temporary files are refused.
    assert!(matches!(
        s.put(&key("u/.tmp-x"), Bytes::new(), "", &BTreeMap::new())
            .await,
        Err(StoreError::Reserved(_))
    ));
    let _ = std::fs::remove_dir_all(&root);
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}
