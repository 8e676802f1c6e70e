//! Browser uploads that do not pass the bytes through thumbkit: the backend asks for an
//! upload ticket, the browser `PUT`s the file to the ticket's URL (a presigned S3 URL, or
//! thumbkit's own signed endpoint with the fs store), and the backend completes it, which
//! validates the staged object exactly like a direct upload and moves it to its key.
//!
//! Staged objects and tickets live in thumbkit's folder ([`crate::keys::Layout::staging`]),
//! never at the key, so nothing unvalidated is ever served; any instance can complete any
//! ticket.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::keys::{ObjectKey, SourceName};
use crate::pipeline::{Point, SourceFormat};
use crate::preset::Preset;
use crate::service::Thumbnails;
use crate::service::error::ServiceError;
use crate::service::manifest::Manifest;
use crate::service::workers::Patience;
use crate::signing::now;
use crate::storage::Kind;

/// Longest a ticket's upload URL stays valid.
pub const MAX_TICKET_TTL: Duration = Duration::from_secs(15 * 60);

/// Longest a ticket's `PUT` waits for room among the bodies being received before it is
/// answered 503.
const INTAKE_WAIT: Duration = Duration::from_secs(10);

/// A ticket's `PUT` let in: the ticket is taken (no second `PUT` runs beside it) and `size`
/// bytes of the intake are held until it is dropped.
#[derive(Debug)]
pub struct Receiving<'a> {
    intake: &'a super::intake::Intake,
    id: String,
    intent: Intent,
    _room: tokio::sync::OwnedSemaphorePermit,
}

impl Receiving<'_> {
    /// The exact number of bytes the body must have.
    pub fn size(&self) -> u64 {
        self.intent.size
    }
}

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        self.intake.release(&self.id);
    }
}

/// What a ticket's `PUT` says about its body, read from its headers.
#[derive(Debug, Clone, Copy)]
pub struct Declared<'a> {
    pub content_type: Option<&'a str>,
    pub length: Option<u64>,
}

/// What the backend asks to upload.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct UploadRequest {
    pub key: String,
    pub content_type: String,
    pub size: u64,
}

/// What is remembered of a ticket until it is completed.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Intent {
    key: String,
    content_type: String,
    size: u64,
    expires: u64,
}

/// Where and how the browser uploads the file.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ticket {
    pub id: String,
    pub method: &'static str,
    pub upload_url: String,
    /// Headers the browser must send with the `PUT`.
    pub headers: BTreeMap<String, String>,
    /// Unix seconds.
    pub expires_at: u64,
    /// `POST` here (with the API token) once the browser is done.
    pub complete_url: String,
}

/// A ticket id: 128 bits from the OS's CSPRNG, so no id can be guessed or made to repeat.
/// A source's ticket says whose it is (`docs.{hex}`), so that it is staged in that source's
/// store and any instance can find it there.
fn new_id(source: Option<&SourceName>) -> String {
    let random = crate::signing::random_hex(16);
    match source {
        Some(name) => format!("{name}.{random}"),
        None => random,
    }
}

fn valid_hex(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Thumbnails {
    /// The staged bytes (`what` = `bytes`) or ticket (`json`) of the upload `id`, in the
    /// store of the source the id names.
    fn staging(&self, id: &str, what: &str) -> Result<ObjectKey, ServiceError> {
        let layout = &self.settings.layout;
        let (source, hex) = match id.split_once('.') {
            Some((name, hex)) => (layout.source(name).map(Some), hex),
            None => (Some(None), id),
        };
        match source {
            Some(source) if valid_hex(hex) => Ok(layout.staging(source, hex, what)?),
            _ => Err(ServiceError::NoUpload(id.chars().take(64).collect())),
        }
    }

    /// Issues a ticket for uploading `request.size` bytes to `request.key`.
    pub async fn start_upload(&self, request: &UploadRequest) -> Result<Ticket, ServiceError> {
        let key = self.original_key(&request.key)?;
        let limit = self.settings.limits.max_input_bytes as u64;
        if request.size == 0 || request.size > limit {
            return Err(ServiceError::BadUpload(format!(
                "size must be between 1 and {limit} bytes, not {}",
                request.size
            )));
        }
        // A ticket for a type that can never complete would only cost the client an upload.
        if SourceFormat::from_mime(&request.content_type).is_none() {
            let accepted: Vec<_> = SourceFormat::ALL
                .iter()
                .map(|f| f.mime())
                .chain(SourceFormat::VIDEO_MIMES)
                .collect();
            return Err(ServiceError::BadUpload(format!(
                "content_type `{}` is not a format thumbkit can render; accepted: {}",
                request.content_type.chars().take(100).collect::<String>(),
                accepted.join(", ")
            )));
        }
        let ttl = self.settings.upload_ttl.min(MAX_TICKET_TTL);
        let source = self
            .settings
            .layout
            .source_of(key.as_str())
            .map(|(name, _)| name);
        let id = new_id(source);
        let expires = now() + ttl.as_secs();
        let staged = self.staging(&id, "bytes")?;
        let upload_url = match self
            .storage()
            .presign_put(&staged, &request.content_type, request.size, ttl)
            .await?
        {
            Some(url) => url,
            // No presigning (fs store): thumbkit's own endpoint, signed the same way.
            None => self
                .upload_signer
                .sign(&format!("/v1/uploads/{id}"), expires),
        };
        let intent = Intent {
            key: key.to_string(),
            content_type: request.content_type.clone(),
            size: request.size,
            expires,
        };
        let json = serde_json::to_vec(&intent)
            .map_err(|e| ServiceError::BadUpload(format!("cannot record the upload: {e}")))?;
        self.storage()
            .put(
                &self.staging(&id, "json")?,
                Kind::Record,
                json.into(),
                "application/json",
                &BTreeMap::new(),
            )
            .await?;
        Ok(Ticket {
            complete_url: format!("/v1/uploads/{id}/complete"),
            id,
            method: "PUT",
            upload_url,
            headers: BTreeMap::from([("Content-Type".into(), request.content_type.clone())]),
            expires_at: expires,
        })
    }

    async fn intent(&self, id: &str) -> Result<Intent, ServiceError> {
        let object = self
            .storage()
            .get(&self.staging(id, "json")?, Kind::Record)
            .await?
            .ok_or_else(|| ServiceError::NoUpload(id.to_owned()))?;
        serde_json::from_slice(&object.bytes).map_err(|_| ServiceError::NoUpload(id.to_owned()))
    }

    /// The fs store's stand-in for a presigned URL, first half: lets in a `PUT` for ticket
    /// `id` (the caller has checked its signature) from its headers alone, before any body
    /// byte is read: the ticket must be pending and unexpired, not already received or being
    /// received, and the `PUT` must declare the ticket's content type and exact size.
    pub async fn admit_ticket_upload(
        &self,
        id: &str,
        declared: Declared<'_>,
    ) -> Result<Receiving<'_>, ServiceError> {
        let intent = self.intent(id).await?;
        if intent.expires < now() {
            return Err(ServiceError::TicketExpired(id.to_owned()));
        }
        let sent_type = declared.content_type.unwrap_or("(none)").trim();
        if !sent_type.eq_ignore_ascii_case(intent.content_type.trim()) {
            return Err(ServiceError::BadUpload(format!(
                "the ticket is for `Content-Type: {}`; this PUT sends `{}`",
                intent.content_type,
                sent_type.chars().take(100).collect::<String>()
            )));
        }
        let length = declared.length.ok_or(ServiceError::LengthRequired)?;
        if length > intent.size {
            return Err(ServiceError::BodyTooLarge {
                bytes: usize::try_from(length).unwrap_or(usize::MAX),
                limit: usize::try_from(intent.size).unwrap_or(usize::MAX),
            });
        }
        if length < intent.size {
            return Err(ServiceError::BadUpload(format!(
                "the ticket is for {} bytes; this PUT declares {length}",
                intent.size
            )));
        }
        if !self.intake.claim(id) {
            return Err(ServiceError::Conflict(format!(
                "upload `{id}` is already being received"
            )));
        }
        let room = self.intake_room(intent.size);
        let receiving = |room| Receiving {
            intake: &self.intake,
            id: id.to_owned(),
            intent: intent.clone(),
            _room: room,
        };
        // Taken before anything can fail, so that the guard gives the ticket back.
        let guard = match room.await {
            Ok(room) => receiving(room),
            Err(e) => {
                self.intake.release(id);
                return Err(e);
            }
        };
        if self
            .storage()
            .head(&self.staging(id, "bytes")?, Kind::Original)
            .await?
            .is_some()
        {
            return Err(ServiceError::Conflict(format!(
                "upload `{id}` has its bytes already: a ticket takes one upload; complete it, \
                 or ask for a new ticket"
            )));
        }
        Ok(guard)
    }

    /// Room for `size` bytes among the bodies being received, waiting at most [`INTAKE_WAIT`].
    async fn intake_room(
        &self,
        size: u64,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, ServiceError> {
        match tokio::time::timeout(INTAKE_WAIT, self.intake.room(size)).await {
            Ok(Some(room)) => Ok(room),
            _ => Err(ServiceError::Busy),
        }
    }

    /// Checks the signature of an fs-store upload URL (`path` and `query` as requested): no
    /// parameter but `exp` and `sig`, and no `exp` further ahead than a ticket lives.
    pub fn verify_upload_url(
        &self,
        path: &str,
        query: &str,
    ) -> Result<(), crate::signing::SignatureError> {
        let ttl = self.settings.upload_ttl.min(MAX_TICKET_TTL);
        let rules = crate::signing::Rules {
            params: &[],
            max_ahead: ttl.as_secs() + crate::signing::CLOCK_SKEW_SECS,
        };
        self.upload_signer
            .verify(path, query, crate::signing::now(), rules)
    }

    /// The second half: stores the body of a `PUT` let in by [`Self::admit_ticket_upload`].
    pub async fn receive_upload(
        &self,
        receiving: Receiving<'_>,
        bytes: Bytes,
    ) -> Result<(), ServiceError> {
        let intent = &receiving.intent;
        if bytes.len() as u64 != intent.size {
            return Err(ServiceError::BadUpload(format!(
                "the ticket is for {} bytes; {} were sent",
                intent.size,
                bytes.len()
            )));
        }
        let staged = self.staging(&receiving.id, "bytes")?;
        self.storage()
            .put(
                &staged,
                Kind::Original,
                bytes,
                &intent.content_type,
                &BTreeMap::new(),
            )
            .await?;
        Ok(())
    }

    /// Validates what the browser uploaded for ticket `id` like a direct upload, stores it
    /// at its key and answers with the manifest. Invalid uploads are deleted (422).
    pub async fn complete_upload(
        &self,
        id: &str,
        pregenerate: &[&Preset],
        focus: Option<Point>,
    ) -> Result<Manifest, ServiceError> {
        let intent = self.intent(id).await?;
        let staged = self.staging(id, "bytes")?;
        let ticket = self.staging(id, "json")?;
        if intent.expires < now() {
            // Nothing of an expired ticket is ever stored: what was staged goes with it.
            self.storage().delete(&staged, Kind::Original).await?;
            self.storage().delete(&ticket, Kind::Record).await?;
            return Err(ServiceError::TicketExpired(id.to_owned()));
        }
        let admitted = self.workers.admit(Patience::Wait).await?;
        let Some(object) = self.storage().get(&staged, Kind::Original).await? else {
            return Err(ServiceError::NothingUploaded(id.to_owned()));
        };
        let result = self
            .upload(&intent.key, object.bytes, pregenerate, admitted, focus)
            .await;
        // Valid or not, the staged copy and the ticket are done with (an upload that failed
        // for a storage reason can be retried with a new ticket).
        self.storage().delete(&staged, Kind::Original).await?;
        self.storage().delete(&ticket, Kind::Record).await?;
        result
    }
}
