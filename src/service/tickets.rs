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

use crate::keys::ObjectKey;
use crate::pipeline::SourceFormat;
use crate::preset::Preset;
use crate::service::Thumbnails;
use crate::service::error::ServiceError;
use crate::service::manifest::Manifest;
use crate::service::render::Patience;
use crate::signing::now;
use crate::storage::Kind;

/// Longest a ticket's upload URL stays valid.
pub const MAX_TICKET_TTL: Duration = Duration::from_secs(15 * 60);

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

fn new_id(key: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS per process; with the time and the key, ids do
    // not repeat. They need not be secret: completing one needs the API token.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(key.as_bytes());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    blake3::hash(&h.finish().to_le_bytes()).to_hex()[..32].to_owned()
}

fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Thumbnails {
    fn staging(&self, id: &str, what: &str) -> Result<ObjectKey, ServiceError> {
        if !valid_id(id) {
            return Err(ServiceError::NoUpload(id.chars().take(64).collect()));
        }
        Ok(self.settings.layout.staging(id, what)?)
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
            let accepted: Vec<_> = SourceFormat::ALL.iter().map(|f| f.mime()).collect();
            return Err(ServiceError::BadUpload(format!(
                "content_type `{}` is not a format thumbkit can render; accepted: {}",
                request.content_type.chars().take(100).collect::<String>(),
                accepted.join(", ")
            )));
        }
        let ttl = self.settings.upload_ttl.min(MAX_TICKET_TTL);
        let id = new_id(key.as_str());
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

    /// The fs store's stand-in for a presigned URL: stores the bytes of ticket `id` (the
    /// caller has checked its signature).
    pub async fn receive_upload(&self, id: &str, bytes: Bytes) -> Result<(), ServiceError> {
        let intent = self.intent(id).await?;
        if bytes.len() as u64 != intent.size {
            return Err(ServiceError::BadUpload(format!(
                "the ticket is for {} bytes; {} were sent",
                intent.size,
                bytes.len()
            )));
        }
        let staged = self.staging(id, "bytes")?;
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
    ) -> Result<Manifest, ServiceError> {
        let intent = self.intent(id).await?;
        let staged = self.staging(id, "bytes")?;
        let ticket = self.staging(id, "json")?;
        let admitted = self.workers.admit(Patience::Wait).await?;
        let Some(object) = self.storage().get(&staged, Kind::Original).await? else {
            return Err(ServiceError::NothingUploaded(id.to_owned()));
        };
        let result = self
            .upload(&intent.key, object.bytes, pregenerate, admitted)
            .await;
        // Valid or not, the staged copy and the ticket are done with (an upload that failed
        // for a storage reason can be retried with a new ticket).
        self.storage().delete(&staged, Kind::Original).await?;
        self.storage().delete(&ticket, Kind::Record).await?;
        result
    }
}
