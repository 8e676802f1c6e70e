//! The embedded default store: a local directory, each object a file at its key's path under
//! the root, its metadata in a sidecar JSON file.
//!
//! Crash consistency: the data is written to a temporary file, flushed and renamed into
//! place; only then is the sidecar written, and it names the identity (inode, mtime, size)
//! of the data file it describes. A reader trusts a sidecar only when that identity is the
//! file's own, so a crash at any point leaves an object with its own metadata or with none,
//! never the metadata of another version (which would file old pixels under a new hash).
//! Temporary files left by a crash are removed when the store is opened.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::atomic::{TMP_PREFIX, etag_of, remove_leftovers, unix_seconds, write_atomically};
use super::store::{Object, ObjectInfo, Store, StoreError};
use crate::keys::ObjectKey;

/// Folder inside the fs root that holds each object's metadata (as `{key}.json`). Keys may
/// start with a dot, so [`FsStore`] refuses this one folder name itself.
const META_DIR: &str = ".thumbkit-meta";

/// The sidecar: the metadata and the identity of the data file it belongs to.
#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    etag: String,
    metadata: BTreeMap<String, String>,
}

/// A store in a local directory: each object a file at its key's path under the root.
#[derive(Debug, Clone)]
pub struct FsStore {
    /// Canonical (symlinks resolved), so confinement checks compare real paths.
    root: PathBuf,
    /// As configured, for messages.
    shown: PathBuf,
}

impl FsStore {
    /// A store rooted at `root` (created when missing). Temporary files that a crash left
    /// behind are removed.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let shown = root.into();
        let unusable = |source: std::io::Error| {
            StoreError::Unreachable(format!("{}: {source}", shown.display()))
        };
        tokio::fs::create_dir_all(&shown).await.map_err(unusable)?;
        let root = tokio::fs::canonicalize(&shown).await.map_err(unusable)?;
        let walk_root = root.clone();
        let removed = tokio::task::spawn_blocking(move || remove_leftovers(&walk_root))
            .await
            .unwrap_or(0);
        if removed > 0 {
            tracing::info!(removed, root = %shown.display(), "removed temporary files left by an interrupted write");
        }
        Ok(Self { root, shown })
    }

    fn path(&self, key: &ObjectKey) -> Result<PathBuf, StoreError> {
        let first = key.as_str().split('/').next();
        // A folder named like a temporary file would hide its keys from every listing.
        let temporary = key.as_str().split('/').any(|s| s.starts_with(TMP_PREFIX));
        if first == Some(META_DIR) || temporary {
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

    /// Whether `path` (which exists) resolves inside the root: a symlink may not lead out.
    fn inside(&self, path: &Path) -> bool {
        match std::fs::canonicalize(path) {
            Ok(real) if real.starts_with(&self.root) => true,
            Ok(real) => {
                tracing::warn!(path = %path.display(), target = %real.display(), "refusing a symlink that leads out of the fs store");
                false
            }
            Err(_) => false,
        }
    }

    /// Whether every component of `path` (under the root) that exists is a real folder or
    /// file, or a symlink that resolves inside the root: checked before a write, a delete or a
    /// folder is made, so that none of them follows a link out of the root. (The store's root
    /// belongs to thumbkit: what races this check is a local user, not a request.)
    fn confined(&self, path: &Path) -> bool {
        let Ok(relative) = path.strip_prefix(&self.root) else {
            return false;
        };
        let mut walked = self.root.clone();
        for part in relative.components() {
            walked.push(part);
            match std::fs::symlink_metadata(&walked) {
                Ok(m) if m.file_type().is_symlink() => {
                    if !self.inside(&walked) {
                        return false;
                    }
                }
                Ok(_) => {}
                // Nothing further exists: what is made from here on is made inside.
                Err(_) => return true,
            }
        }
        true
    }

    /// The metadata in `key`'s sidecar, if the sidecar belongs to the data file `etag`.
    fn metadata(
        &self,
        key: &ObjectKey,
        etag: &str,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        match std::fs::read(self.meta_path(key)) {
            Ok(bytes) => match serde_json::from_slice::<Sidecar>(&bytes) {
                Ok(sidecar) if sidecar.etag == etag => Ok(sidecar.metadata),
                // Another version's (a write was interrupted) or unreadable: not this one's.
                _ => Ok(BTreeMap::new()),
            },
            Err(e) if is_absent(&e) => Ok(BTreeMap::new()),
            Err(e) => Err(io(key, e)),
        }
    }
}

/// Errors that mean "there is no object at this key" (S3 answers 404 for all of them): a
/// missing file, a file where a folder would be, a name too long for the filesystem.
fn is_absent(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::NotFound
            | ErrorKind::NotADirectory
            | ErrorKind::IsADirectory
            | ErrorKind::InvalidFilename
    ) || e.raw_os_error() == Some(libc::ELOOP)
}

/// Errors that mean the key cannot be a file here because of what is already stored.
fn is_conflict(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::NotADirectory
            | ErrorKind::IsADirectory
            | ErrorKind::AlreadyExists
            | ErrorKind::InvalidFilename
    )
}

fn io(key: &ObjectKey, source: std::io::Error) -> StoreError {
    StoreError::Io {
        key: key.to_string(),
        source,
    }
}

/// An error of a write: a conflict with what is stored, or I/O.
fn write_error(key: &ObjectKey, e: std::io::Error) -> StoreError {
    if is_conflict(&e) {
        StoreError::Conflict {
            key: key.to_string(),
            reason: "a folder of the key is a file in the fs store, or the key is a folder".into(),
        }
    } else {
        io(key, e)
    }
}

/// Each operation whole, on the calling (blocking) thread: the trait's methods run one on
/// tokio's blocking pool, one hand-off per call rather than one per system call (a write
/// is some 15 of them: folders, confinement, the file, its flush, the rename, the sidecar).
impl FsStore {
    fn head_now(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError> {
        let path = self.path(key)?;
        let meta = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Ok(None),
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(io(key, e)),
        };
        if !self.inside(&path) {
            return Ok(None);
        }
        let etag = etag_of(&meta);
        let metadata = self.metadata(key, &etag)?;
        Ok(Some(ObjectInfo {
            size: meta.len(),
            etag,
            metadata,
            modified: unix_seconds(&meta),
        }))
    }

    fn get_now(&self, key: &ObjectKey) -> Result<Option<Object>, StoreError> {
        let path = self.path(key)?;
        // The facts come from the open file itself, so they describe exactly these bytes
        // even if the object is replaced meanwhile.
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(io(key, e)),
        };
        let meta = file.metadata().map_err(|e| io(key, e))?;
        if !meta.is_file() || !self.inside(&path) {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| io(key, e))?;
        let etag = etag_of(&meta);
        let metadata = self.metadata(key, &etag)?;
        Ok(Some(Object {
            info: ObjectInfo {
                size: bytes.len() as u64,
                etag,
                metadata,
                modified: unix_seconds(&meta),
            },
            bytes: bytes.into(),
        }))
    }

    fn put_now(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        metadata: &BTreeMap<String, String>,
    ) -> Result<String, StoreError> {
        let path = self.path(key)?;
        if !self.confined(&path) || !self.confined(&self.meta_path(key)) {
            tracing::warn!(key = %key, "refusing a write through a symlink that leads out of the fs store");
            return Err(StoreError::Reserved(key.to_string()));
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| write_error(key, e))?;
            if !self.inside(dir) {
                return Err(StoreError::Reserved(key.to_string()));
            }
        }
        // Data first, committed by the rename; the sidecar after it names the data's
        // identity, so an interrupted write never pairs metadata with other bytes.
        let written = write_atomically(&path, bytes).map_err(|e| write_error(key, e))?;
        let etag = etag_of(&written);
        let sidecar = self.meta_path(key);
        if metadata.is_empty() {
            match std::fs::remove_file(&sidecar) {
                Err(e) if !is_absent(&e) => return Err(io(key, e)),
                _ => return Ok(etag),
            }
        }
        let json = serde_json::to_vec(&Sidecar {
            etag: etag.clone(),
            metadata: metadata.clone(),
        })
        .map_err(|e| StoreError::Metadata {
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        if let Some(dir) = sidecar.parent() {
            std::fs::create_dir_all(dir).map_err(|e| write_error(key, e))?;
        }
        write_atomically(&sidecar, &json)
            .map(|_| etag)
            .map_err(|e| write_error(key, e))
    }

    fn delete_now(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let path = self.path(key)?;
        // Past a link that leads out there is no object of this store (reads say 404).
        if !self.confined(&path) {
            tracing::warn!(key = %key, "not deleting through a symlink that leads out of the fs store");
            return Ok(());
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if is_absent(&e) => {}
            Err(e) => return Err(io(key, e)),
        }
        let meta = self.meta_path(key);
        if self.confined(&meta) {
            let _ = std::fs::remove_file(meta);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Store for FsStore {
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError> {
        let (this, key) = (self.clone(), key.clone());
        blocking(move || this.head_now(&key)).await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Object>, StoreError> {
        let (this, key) = (self.clone(), key.clone());
        blocking(move || this.get_now(&key)).await
    }

    async fn put(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        _content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<String, StoreError> {
        let (this, key, metadata) = (self.clone(), key.clone(), metadata.clone());
        blocking(move || this.put_now(&key, &bytes, &metadata)).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let (this, key) = (self.clone(), key.clone());
        blocking(move || this.delete_now(&key)).await
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
                    if relative == META_DIR || name.to_string_lossy().starts_with(TMP_PREFIX) {
                        continue;
                    }
                    // Not followed: file_type() describes the link itself.
                    let Ok(kind) = entry.file_type() else {
                        continue;
                    };
                    if kind.is_dir() {
                        // Only walk folders that can hold keys under the prefix.
                        let folder = format!("{relative}/");
                        if folder.starts_with(&prefix) || prefix.starts_with(&folder) {
                            dirs.push(path);
                        }
                    } else if kind.is_file()
                        && relative.starts_with(&prefix)
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
                self.shown.display()
            ))),
            Err(e) => Err(StoreError::Unreachable(format!(
                "{}: {e}",
                self.shown.display()
            ))),
        }
    }

    fn describe(&self) -> String {
        format!("fs:{}", self.shown.display())
    }
}

#[cfg(test)]
#[path = "fs_tests.rs"]
mod tests;

/// Runs one store operation on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    op: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(op)
        .await
        .map_err(|e| StoreError::Unreachable(format!("fs store: {e}")))?
}
