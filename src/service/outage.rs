//! Whether the store is taken to be down, and until when it is left alone: during an outage
//! a request with a stale answer at hand gets it at once, instead of each request waiting
//! for a storage timeout; the store is asked again at most once per [`OUTAGE_RECHECK`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::service::error::ServiceError;

/// During an outage, how often a request asks the store again instead of being answered
/// from what the store last confirmed.
pub const OUTAGE_RECHECK: Duration = Duration::from_secs(1);

/// The store's last failure to answer, if it has not answered since.
#[derive(Default)]
pub struct Outage {
    down: Mutex<Option<Down>>,
}

/// The store is down: since when it is left alone, and why.
#[derive(Debug, Clone)]
pub struct Down {
    recheck_at: Instant,
    /// The error that made answers stale, for the requests that cannot be answered.
    pub because: ServiceError,
}

impl Down {
    /// Whether it is time to ask the store again.
    pub fn recheck_due(&self) -> bool {
        Instant::now() >= self.recheck_at
    }
}

impl Outage {
    /// The outage under way, if any.
    pub fn current(&self) -> Option<Down> {
        self.down.lock().ok().and_then(|d| d.clone())
    }

    /// The store failed to answer: leave it alone for [`OUTAGE_RECHECK`].
    pub fn began(&self, because: ServiceError) {
        if let Ok(mut d) = self.down.lock() {
            // Logged once per outage, not per request answered from memory during it.
            if d.is_none() {
                tracing::warn!(error = %because.answered(), "the store cannot be reached; answering from what it last confirmed");
            }
            *d = Some(Down {
                recheck_at: Instant::now() + OUTAGE_RECHECK,
                because,
            });
        }
    }

    /// The store answered again.
    pub fn ended(&self) {
        if let Ok(mut d) = self.down.lock() {
            if d.is_some() {
                tracing::info!("the store answers again");
            }
            *d = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_leaves_the_store_alone_for_the_recheck_interval() {
        let outage = Outage::default();
        assert!(outage.current().is_none());
        outage.began(ServiceError::Busy);
        let down = outage.current().expect("an outage under way");
        assert!(!down.recheck_due(), "asked again at once");
        assert!(matches!(down.because, ServiceError::Busy));
        outage.ended();
        assert!(outage.current().is_none());
    }
}
