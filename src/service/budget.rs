//! What the render workers may hold in decoded pixels at once. The pixel limit alone does
//! not bound memory: two workers each decoding a 49-megapixel PNG (a few KB of zlib) hold
//! 400 MB. Each job takes its decode's cost (from the header) out of one shared budget
//! before it starts, so large decodes run one at a time while small ones run side by side.

use std::sync::{Condvar, Mutex, PoisonError};

/// Decoded bytes a job may count on per worker: a 12 MP photo decoded whole, its resize and
/// its encode (the README's memory bound).
pub const PER_WORKER: u64 = 96 << 20;

/// A budget of bytes shared by the worker threads.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

/// Bytes taken from a [`Budget`], given back when dropped.
#[derive(Debug)]
pub struct Taken<'a> {
    budget: &'a Budget,
    bytes: u64,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Self {
            limit: limit.max(1),
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Takes `bytes`, blocking the (worker) thread until they are free. A job larger than
    /// the whole budget waits for all of it and then runs alone.
    pub fn take(&self, bytes: u64) -> Taken<'_> {
        let bytes = bytes.min(self.limit);
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        while *used + bytes > self.limit {
            used = self
                .freed
                .wait(used)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *used += bytes;
        Taken {
            budget: self,
            bytes,
        }
    }

    /// Bytes taken now.
    pub fn used(&self) -> u64 {
        *self.used.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let mut used = self
            .budget
            .used
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *used -= self.bytes;
        self.budget.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_job_larger_than_what_is_free_waits_for_it() {
        let budget = Arc::new(Budget::new(100));
        let first = budget.take(70);
        let b = budget.clone();
        let waiter = std::thread::spawn(move || {
            let _t = b.take(50);
            b.used()
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished(), "70 + 50 is over 100: it waits");
        assert_eq!(budget.used(), 70);
        drop(first);
        assert_eq!(waiter.join().ok(), Some(50));
        assert_eq!(budget.used(), 0);
        // Larger than the whole budget: it gets all of it, alone.
        let all = budget.take(1000);
        assert_eq!(budget.used(), 100);
        drop(all);
    }
}
