//! The embedded default store: a local directory, each object a file at its key's path under
//! the root, its metadata in a sidecar JSON file. Writes go to a temporary file that is then
//! renamed, so a reader sees the old object or the new one, never a part of either.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use bytes::Bytes;

use super::{Object, ObjectInfo, Store, StoreError};
use crate::keys::ObjectKey;

/// Folder inside the fs root that holds each object's metadata (as `{key}.json`). Keys may
/// start with a dot, so [`FsStore`] refuses this one folder name itself.
const META_DIR: &str = ".thumbkit-meta";

/// A store in a local directory: each object a file at its key's path under the root.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    /// A store rooted at `root` (created when missing).
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        tokio::fs::create_dir_all(&root)
            .await
            .map_err(|source| StoreError::Io {
                key: root.display().to_string(),
                source,
            })?;
        Ok(Self { root })
    }

    fn path(&self, key: &ObjectKey) -> Result<PathBuf, StoreError> {
        if key.as_str().split('/').next() == Some(META_DIR) {
            return Err(StoreError::Reserved(key.to_string()));
        }
        // Safe to join: an ObjectKey has no absolute path, `.` or `..` segment.
        Ok(self.root.join(key.as_str()))
    }

    fn meta_path(&self, key: &ObjectKey) -> PathBuf {
        self.root
            .join(META_DIR)
            .join(format!("{}.json", key.as_str()))
    }

    fn io(key: &ObjectKey) -> impl Fn(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            key: key.to_string(),
            source,
        }
    }
}

#[async_trait::async_trait]
impl Store for FsStore {
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError> {
        let io = Self::io(key);
        let meta = match tokio::fs::metadata(self.path(key)?).await {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        // A rename gives a new inode and mtime: together with the size they change whenever
        // the bytes are replaced, as an S3 ETag does.
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0u64;
        let etag = blake3::hash(format!("{inode}:{mtime}:{}", meta.len()).as_bytes()).to_hex()
            [..32]
            .to_owned();
        let metadata = match tokio::fs::read(self.meta_path(key)).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Metadata {
                key: key.to_string(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(io(e)),
        };
        Ok(Some(ObjectInfo {
            size: meta.len(),
            etag,
            metadata,
        }))
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Object>, StoreError> {
        let Some(info) = self.head(key).await? else {
            return Ok(None);
        };
        match tokio::fs::read(self.path(key)?).await {
            Ok(bytes) => Ok(Some(Object {
                bytes: bytes.into(),
                info,
            })),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io(key)(e)),
        }
    }

    async fn put(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        _content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let io = Self::io(key);
        let path = self.path(key)?;
        // Metadata first: a reader that sees the new object also sees its metadata. No
        // metadata, no sidecar (and none left from a previous version).
        if metadata.is_empty() {
            match tokio::fs::remove_file(self.meta_path(key)).await {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(io(e)),
                _ => {}
            }
        } else {
            let meta_json = serde_json::to_vec(metadata).map_err(|e| StoreError::Metadata {
                key: key.to_string(),
                reason: e.to_string(),
            })?;
            write_atomically(&self.meta_path(key), &meta_json)
                .await
                .map_err(&io)?;
        }
        write_atomically(&path, &bytes).await.map_err(io)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Self::io(key)(e)),
        }
        let _ = tokio::fs::remove_file(self.meta_path(key)).await;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        // A directory walk is blocking I/O.
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            let mut dirs = vec![root.clone()];
            while let Some(dir) = dirs.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(source) => {
                        return Err(StoreError::Io {
                            key: dir.display().to_string(),
                            source,
                        });
                    }
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    let Ok(relative) = path.strip_prefix(&root) else {
                        continue;
                    };
                    let Some(relative) = relative.to_str() else {
                        continue;
                    };
                    let name = entry.file_name();
                    if relative == META_DIR || name.to_string_lossy().starts_with(".tmp-") {
                        continue;
                    }
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        // Only walk folders that can hold keys under the prefix.
                        let folder = format!("{relative}/");
                        if folder.starts_with(&prefix) || prefix.starts_with(&folder) {
                            dirs.push(path);
                        }
                    } else if relative.starts_with(&prefix)
                        && let Ok(key) = ObjectKey::parse(relative)
                    {
                        keys.push(key);
                    }
                }
            }
            Ok(keys)
        })
        .await
        .map_err(|e| StoreError::Unreachable(format!("listing: {e}")))?
    }

    async fn check(&self) -> Result<(), StoreError> {
        match tokio::fs::metadata(&self.root).await {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::Unreachable(format!(
                "{} is not a directory",
                self.root.display()
            ))),
            Err(e) => Err(StoreError::Unreachable(format!(
                "{}: {e}",
                self.root.display()
            ))),
        }
    }

    fn describe(&self) -> String {
        format!("fs:{}", self.root.display())
    }
}

/// Writes to a unique temporary file in the target's directory, then renames it over the
/// target: readers see the old file or the new one, never a part of either.
async fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let unique =
        blake3::hash(format!("{}:{:?}", std::process::id(), std::time::Instant::now()).as_bytes());
    let tmp = path.with_file_name(format!(
        ".tmp-{}-{}",
        &unique.to_hex()[..16],
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("object")
    ));
    let result = async {
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, path).await
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ObjectKey {
        ObjectKey::parse(s).unwrap()
    }

    async fn store(tag: &str) -> (FsStore, PathBuf) {
        let root =
            std::env::temp_dir().join(format!("thumbkit-store-{tag}-{}", std::process::id()));
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
}
