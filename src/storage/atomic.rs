//! The fs store's crash-safe writes: each file is written to a temporary name, flushed and
//! renamed into place, so readers and a restart after a power cut see the old file or the
//! new one whole; temporaries a crash left are found by their name and removed. A file's
//! identity after such a write (its ETag) is here too.

use std::path::Path;

use std::io::Write;

/// Name prefix of temporary files; never a segment of a key (so never in a listing).
pub(super) const TMP_PREFIX: &str = ".tmp-";

/// Writes to a unique temporary file in the target's directory, flushes it to disk and
/// renames it over the target: readers see the old file or the new one, never a part of
/// either, and after a power cut the new file is whole. Returns the file's metadata (its
/// identity, which the rename keeps).
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<std::fs::Metadata> {
    let unique = blake3::hash(
        format!(
            "{}:{:?}:{:?}",
            std::process::id(),
            std::time::Instant::now(),
            path
        )
        .as_bytes(),
    );
    // Short, so that any key segment the key rules allow still fits in a file name.
    let tmp = path.with_file_name(format!("{TMP_PREFIX}{}", &unique.to_hex()[..16]));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_data()?;
        let meta = file.metadata()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        Ok(meta)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes every temporary file under `root` (what writes interrupted by a crash left);
/// returns how many.
pub(super) fn remove_leftovers(root: &Path) -> usize {
    let mut removed = 0;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX)
                && std::fs::remove_file(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// The ETag of a data file: a rename gives a new inode and the write a new mtime, so together
/// with the size they change whenever the bytes are replaced, as an S3 ETag does.
pub(super) fn etag_of(meta: &std::fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0u64;
    blake3::hash(format!("{inode}:{mtime}:{}", meta.len()).as_bytes()).to_hex()[..32].to_owned()
}

/// A file's modification time in Unix seconds.
pub(super) fn unix_seconds(meta: &std::fs::Metadata) -> Option<u64> {
    let modified = meta.modified().ok()?;
    Some(
        modified
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs(),
    )
}
