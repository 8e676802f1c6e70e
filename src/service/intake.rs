//! The bodies of browser uploads being received on the fs store's own upload route: at most
//! one `PUT` per ticket, and one budget of bytes for all of them, so that no number of `PUT`s
//! holds more memory than one largest original.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// The bodies of ticket `PUT`s being received: at most one per ticket, and at most the input
/// limit in bytes for all of them, so that no number of `PUT`s can hold more memory than one
/// largest original, and none holds a render worker's place while its client sends.
#[derive(Debug)]
pub struct Intake {
    receiving: Mutex<HashSet<String>>,
    bytes: Arc<tokio::sync::Semaphore>,
    limit: u32,
}

impl Intake {
    /// Room for `limit` bytes of bodies at once.
    pub fn new(limit: usize) -> Self {
        let limit = u32::try_from(limit).unwrap_or(u32::MAX).max(1);
        Self {
            receiving: Mutex::new(HashSet::new()),
            bytes: Arc::new(tokio::sync::Semaphore::new(limit as usize)),
            limit,
        }
    }

    /// Takes ticket `id` for one `PUT`; false when another holds it.
    pub fn claim(&self, id: &str) -> bool {
        self.receiving
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned())
    }

    /// Gives ticket `id` back.
    pub fn release(&self, id: &str) {
        self.receiving
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    /// Room for `size` bytes (at most the whole budget), once it is free.
    pub async fn room(&self, size: u64) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let n = u32::try_from(size).unwrap_or(u32::MAX).min(self.limit);
        self.bytes.clone().acquire_many_owned(n).await.ok()
    }

    /// Bytes of bodies being received now.
    pub fn in_flight(&self) -> usize {
        self.limit as usize - self.bytes.available_permits()
    }
}
