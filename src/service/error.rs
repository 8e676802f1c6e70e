//! Why the service could not do what was asked: one enum for the whole layer, keeping the
//! storage error as its source; `http::problem` maps each to a status in one place.

use std::sync::Arc;
use std::time::Duration;

use crate::keys::KeyError;
use crate::pipeline::PipelineError;
use crate::service::workers::WorkError;
use crate::storage::StoreError;

/// Why a thumbnail could not be served.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    #[error("there is no preset named `{0}`")]
    UnknownPreset(String),
    #[error(
        "the preset `{preset}` does not render originals of {store} (its `sources` list \
         leaves it out)"
    )]
    NotForSource { preset: String, store: String },
    #[error("invalid object key: {0}")]
    BadKey(#[from] KeyError),
    #[error("`{0}` is reserved for thumbkit's own use; originals cannot live there")]
    ReservedKey(String),
    #[error("{0}")]
    Conflict(String),
    #[error("there is no pending upload `{0}` (it was completed, or never issued)")]
    NoUpload(String),
    #[error("upload `{0}` expired: its ticket's time is over; ask for a new ticket")]
    TicketExpired(String),
    #[error("a ticket's PUT must declare its Content-Length: the ticket's exact size")]
    LengthRequired,
    #[error("there is no original at `{0}`: thumbkit keeps its own files under that folder")]
    OwnArea(String),
    #[error("nothing has been uploaded for `{0}` yet; PUT the file to its upload_url first")]
    NothingUploaded(String),
    #[error("{0}")]
    BadUpload(String),
    #[error("there is no original at `{0}`")]
    NotFound(String),
    /// Nothing at a key that reads as `{name}:...` where no source has that name.
    #[error(
        "there is no original at `{key}`, and `{name}` is not one of this service's sources \
         (a bucket is reached only through a source configured in THUMBKIT_SOURCES)"
    )]
    NoSuchSource { key: String, name: String },
    #[error(
        "`{key}` does not have the content `v={pinned}` (now or no longer); `v` is the content \
         hash from the manifest or the ETag: its first 32 to all 64 hex digits"
    )]
    StalePin { key: String, pinned: String },
    #[error("{0}")]
    Pipeline(#[from] PipelineError),
    /// A failure remembered for the original's content: answered without reading it.
    #[error("{0}")]
    Remembered(PipelineError),
    /// The store failed; the client is told what it can act on, the log gets the rest.
    #[error("{}", .0.public_message())]
    Store(#[source] Arc<StoreError>),
    /// A peer asked for a variant of a preset version this instance does not have.
    #[error("the variant `{0}` is not this instance's: its preset differs here")]
    NotMine(String),
    #[error("`{0}` changed while it was being read; try again")]
    Changed(String),
    #[error("all render workers are busy and the queue is full; try again shortly")]
    Busy,
    #[error("rendering took longer than {0:?}")]
    RenderTimeout(Duration),
    /// An AVIF render outlasted its budget: the request is answered with WebP while the AVIF
    /// is finished behind it.
    #[error("the AVIF render took longer than its budget of {0:?}")]
    OverBudget(Duration),
    #[error("the request body did not arrive within {0:?}; nothing was stored")]
    BodyTimeout(Duration),
    #[error(
        "the request body is {bytes} bytes, over the limit of {limit} bytes; nothing was stored"
    )]
    BodyTooLarge { bytes: usize, limit: usize },
    #[error("the request took longer than {0:?}; try again shortly")]
    Deadline(Duration),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Reserved(key) => ServiceError::ReservedKey(key),
            StoreError::Conflict { .. } => ServiceError::Conflict(e.to_string()),
            e => ServiceError::Store(Arc::new(e)),
        }
    }
}

impl From<WorkError> for ServiceError {
    fn from(e: WorkError) -> Self {
        match e {
            WorkError::Busy => ServiceError::Busy,
            WorkError::Timeout(after) => ServiceError::RenderTimeout(after),
            WorkError::Crashed(why) => PipelineError::Internal(why).into(),
        }
    }
}

impl ServiceError {
    /// Nothing at `key`: [`ServiceError::NoSuchSource`] when its first segment reads as a
    /// source that `layout` does not have, else [`ServiceError::NotFound`].
    pub fn missing(key: &crate::keys::ObjectKey, layout: &crate::keys::Layout) -> Self {
        match layout.unconfigured_source(key.as_str()) {
            Some(name) => ServiceError::NoSuchSource {
                key: key.to_string(),
                name: name.to_owned(),
            },
            None => ServiceError::NotFound(key.to_string()),
        }
    }

    /// The error behind a shared single-flight failure (every waiter gets its own copy).
    pub fn unshare(e: Arc<ServiceError>) -> ServiceError {
        Arc::try_unwrap(e).unwrap_or_else(|shared| (*shared).clone())
    }

    /// The error as the client is told it (its `Display`), after logging once what only the
    /// operator should see: a store failure's whole story (endpoint, path, SDK cause). Called
    /// where the error is answered, so each failure is logged once.
    pub fn answered(&self) -> String {
        if let ServiceError::Store(e) = self {
            tracing::warn!(error = %e, "storage");
        }
        self.to_string()
    }

    /// The store could not be reached or did not answer in time: worth retrying (503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ServiceError::Store(e) if e.is_unavailable())
    }

    /// Worth doing again later, as it is: the store failed (or refused: a permission an
    /// operator may grant), the workers were busy or slow, the original changed while it was
    /// read, or a program the server lacks. What the original's own bytes decide (a corrupt
    /// file, a missing original, a bad key) is final: doing it again would fail again.
    pub fn is_transient(&self) -> bool {
        match self {
            ServiceError::Store(_)
            | ServiceError::Busy
            | ServiceError::RenderTimeout(_)
            | ServiceError::Deadline(_)
            | ServiceError::Changed(_) => true,
            ServiceError::Pipeline(e) => matches!(
                e,
                PipelineError::Unavailable(_) | PipelineError::TooSlow { .. }
            ),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use super::*;

    /// What `f` logs, as text.
    fn logged(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Lines(Arc<Mutex<Vec<u8>>>);
        impl Write for Lines {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if let Ok(mut l) = self.0.lock() {
                    l.extend_from_slice(buf);
                }
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = lines.0.lock().map(|l| l.clone()).unwrap_or_default();
        String::from_utf8_lossy(&text).into_owned()
    }

    #[test]
    fn a_store_failure_is_logged_once_where_it_is_answered_with_its_whole_story() {
        let story = "dns error: failed to lookup address information for s3.internal";
        let mut answer = String::new();
        let log = logged(|| {
            let e = ServiceError::from(StoreError::Unreachable(story.into()));
            // Passed along, shared between waiters, copied: not logged yet.
            let shared = Arc::new(e);
            let e = ServiceError::unshare(shared.clone());
            let _copy = (*shared).clone();
            answer = e.answered();
        });
        assert_eq!(log.matches(story).count(), 1, "{log}");
        // The client is told what it can act on, not the endpoint or the SDK's cause.
        assert!(!answer.contains("s3.internal"), "{answer}");
    }
}
