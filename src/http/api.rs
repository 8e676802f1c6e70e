//! The JSON API for upload hooks (`/v1/...`): upload, describe and delete originals, and
//! list presets. Every route needs the token when one is configured, as
//! `Authorization: Bearer <token>` or as the password of HTTP basic auth (the only way an SNS
//! subscription can send it); `thumbkit serve` refuses to listen beyond loopback without one
//! unless told to.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;

use crate::http::{problem, problem_response};
use crate::preset::Preset;
use crate::service::events::S3Event;
use crate::service::tickets::UploadRequest;
use crate::service::{ServiceError, Thumbnails};
use crate::sns::{self, Sns, SnsError};

/// The API's routes. With a `token`, every route needs it, reads included: manifests hand
/// out signed URLs and tell which keys exist, and each costs storage calls. The one
/// exception is the fs store's upload URL, which its ticket's signature authorises.
pub fn routes(options: &crate::http::Options) -> Router<Arc<Thumbnails>> {
    // Only a digest is kept, and digests are compared in constant time (blake3::Hash's ==).
    let expected = options
        .api_token
        .as_deref()
        .map(|t| blake3::hash(t.trim().as_bytes()));
    let sns = Arc::new(Sns::new(options.sns.clone()));
    let guarded = Router::new()
        .route(
            "/v1/originals/{*key}",
            get(describe).put(upload).delete(delete),
        )
        .route("/v1/pregenerate", post(pregenerate))
        .route("/v1/hooks/s3", post(s3_hook).layer(axum::Extension(sns)))
        .route("/v1/uploads", post(start_upload))
        .route("/v1/uploads/{id}/complete", post(complete_upload))
        .route("/v1/presets", get(presets))
        .route_layer(middleware::from_fn_with_state(expected, require_token));
    Router::new()
        .route("/v1/uploads/{id}", put(receive_upload))
        .merge(guarded)
}

async fn require_token(
    State(expected): State<Option<blake3::Hash>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(expected) = expected {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(given_token);
        let valid = given
            .as_deref()
            .is_some_and(|g| blake3::hash(g.trim().as_bytes()) == expected);
        if !valid {
            let detail = if given.is_some() {
                "the token is not valid"
            } else {
                "this endpoint needs the token (THUMBKIT_API_TOKEN): `Authorization: Bearer \
                 <token>`, or as the basic-auth password (https://thumbkit:<token>@host/...)"
            };
            let mut response = problem_response(StatusCode::UNAUTHORIZED, "Unauthorized", detail);
            // Both schemes: SNS sends basic-auth credentials only after a challenge for them.
            let headers = response.headers_mut();
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            headers.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"thumbkit\""),
            );
            return response;
        }
    }
    next.run(request).await
}

/// The token in an `Authorization` value: a bearer token, or a basic-auth password (any
/// user name).
fn given_token(value: &str) -> Option<String> {
    use base64::Engine as _;
    if let Some(token) = value.strip_prefix("Bearer ") {
        return Some(token.to_owned());
    }
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':')
        .map(|(_, password)| password.to_owned())
}

#[derive(Debug, Deserialize)]
struct UploadQuery {
    /// `all` or preset names separated by `,`.
    pregenerate: Option<String>,
}

impl UploadQuery {
    fn preset_names(&self) -> Vec<String> {
        self.pregenerate
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// The presets `?pregenerate=` names (checked before any body is read); an unknown name is
/// a bad request here, not a missing resource.
fn pregenerate_presets<'a>(
    service: &'a Thumbnails,
    query: &UploadQuery,
) -> Result<Vec<&'a Preset>, ServiceError> {
    service
        .select_presets(&query.preset_names())
        .map_err(|e| ServiceError::BadUpload(e.to_string()))
}

/// Reads a body of at most `limit` bytes: a declared `Content-Length` over it is refused
/// before reading, and reading stops at the limit, so an endless body costs at most `limit`
/// bytes of memory.
async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ServiceError> {
    let too_large = |bytes: usize| ServiceError::BodyTooLarge { bytes, limit };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = declared.filter(|&n| n > limit) {
        return Err(too_large(n));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(too_large(limit.saturating_add(1)))
        }
        Err(e) => match crate::http::deadline::BodyTimeout::find(e.as_ref()) {
            Some(t) => Err(ServiceError::BodyTimeout(t.0)),
            None => Err(ServiceError::BadUpload(format!(
                "the upload could not be read to its end: {e}"
            ))),
        },
    }
}

async fn upload(
    State(service): State<Arc<Thumbnails>>,
    Path(key): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let presets = match pregenerate_presets(&service, &query) {
        Ok(p) => p,
        Err(e) => return problem(&e),
    };
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("multipart/"));
    if multipart {
        return problem(&not_raw());
    }
    let limit = service.settings().limits.max_input_bytes;
    // A place among the admitted jobs before the body is in memory: uploads count in the
    // same memory bound as renders.
    let admitted = match service.admit_upload().await {
        Ok(a) => a,
        Err(e) => return problem(&e),
    };
    let bytes = match read_limited(&headers, body, limit).await {
        Ok(b) => b,
        Err(e) => return problem(&e),
    };
    if looks_like_form(&bytes) {
        return problem(&not_raw());
    }
    match service.upload(&key, bytes, &presets, admitted).await {
        Ok(manifest) => (StatusCode::CREATED, Json(manifest)).into_response(),
        Err(e) => problem(&e),
    }
}

/// The refusal of a form upload (`curl -F`): the API takes the file itself as the body.
fn not_raw() -> ServiceError {
    ServiceError::BadUpload(
        "the body must be the raw image file, not a multipart form: send it as the whole body \
         (curl --data-binary @photo.jpg, or -T photo.jpg), not with curl -F"
            .into(),
    )
}

/// A multipart form body sent under another content type: `--boundary` then a form-data part.
fn looks_like_form(body: &[u8]) -> bool {
    const PART: &[u8] = b"content-disposition: form-data";
    let head = &body[..body.len().min(1024)];
    head.starts_with(b"--")
        && head
            .windows(PART.len())
            .any(|w| w.eq_ignore_ascii_case(PART))
}

async fn describe(State(service): State<Arc<Thumbnails>>, Path(key): Path<String>) -> Response {
    match service.describe(&key).await {
        Ok(manifest) => Json(manifest).into_response(),
        Err(e) => problem(&e),
    }
}

async fn delete(State(service): State<Arc<Thumbnails>>, Path(key): Path<String>) -> Response {
    match service.delete_original(&key).await {
        Ok(deleted) => Json(deleted).into_response(),
        Err(e) => problem(&e),
    }
}

/// Records one `POST /v1/hooks/s3` may carry: S3 sends one per event, so more is not S3.
const MAX_EVENTS: usize = 100;

/// Keys one `POST /v1/pregenerate` may name (more belong to `thumbkit pregen`).
const MAX_BATCH: usize = 1000;

#[derive(Debug, Deserialize)]
struct PregenerateBody {
    keys: Vec<String>,
    /// Preset names; none or absent = all.
    #[serde(default)]
    presets: Vec<String>,
}

async fn pregenerate(State(service): State<Arc<Thumbnails>>, body: axum::body::Bytes) -> Response {
    let bad = |detail: String| problem_response(StatusCode::BAD_REQUEST, "Bad Request", &detail);
    let body: PregenerateBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return bad(format!(
                "the body must be {{\"keys\": [...], \"presets\": [...]}}: {e}"
            ));
        }
    };
    if body.keys.len() > MAX_BATCH {
        return bad(format!(
            "{} keys in one request; at most {MAX_BATCH} (use `thumbkit pregen` for a bucket)",
            body.keys.len()
        ));
    }
    match service.pregenerate_many(body.keys, &body.presets).await {
        Ok(results) => Json(serde_json::json!({ "results": results })).into_response(),
        Err(e) => bad(e.to_string()),
    }
}

/// S3 event notifications: straight from a tool that posts them, or through SNS (the way
/// AWS delivers them over HTTP), whose messages must verify before anything is done.
async fn s3_hook(
    State(service): State<Arc<Thumbnails>>,
    axum::Extension(sns): axum::Extension<Arc<Sns>>,
    body: axum::body::Bytes,
) -> Response {
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            let detail = format!("not an S3 event notification or SNS message: {e}");
            return problem_response(StatusCode::BAD_REQUEST, "Bad Request", &detail);
        }
    };
    let Some(message) = sns::Message::from_value(&value) else {
        return s3_events(&service, &value).await;
    };
    let sns_problem = |e: SnsError| {
        let status = match e {
            SnsError::Malformed(_) => StatusCode::BAD_REQUEST,
            SnsError::Refused(_) => StatusCode::FORBIDDEN,
            SnsError::Unreachable(_) => StatusCode::BAD_GATEWAY,
        };
        tracing::warn!(error = %e, "SNS message not acted on");
        problem_response(
            status,
            status.canonical_reason().unwrap_or("Error"),
            &e.to_string(),
        )
    };
    let message = match message {
        Ok(m) => m,
        Err(e) => return sns_problem(e),
    };
    if let Err(e) = sns.verify(&message).await {
        return sns_problem(e);
    }
    match message.kind.as_str() {
        "SubscriptionConfirmation" => match sns.confirm(&message).await {
            Ok(()) => {
                tracing::info!(topic = %message.topic_arn, "confirmed the SNS subscription");
                Json(serde_json::json!({ "confirmed": message.topic_arn })).into_response()
            }
            Err(e) => sns_problem(e),
        },
        "UnsubscribeConfirmation" => {
            tracing::info!(topic = %message.topic_arn, "SNS unsubscribed this endpoint");
            Json(serde_json::json!({ "unsubscribed": message.topic_arn })).into_response()
        }
        _ => match serde_json::from_str::<serde_json::Value>(&message.message) {
            Ok(inner) => s3_events(&service, &inner).await,
            Err(e) => {
                let detail = format!("the SNS Message is not an S3 event notification: {e}");
                problem_response(StatusCode::BAD_REQUEST, "Bad Request", &detail)
            }
        },
    }
}

/// Acts on the records of an S3 event notification; acknowledges S3's `s3:TestEvent`, sent
/// when notifications are configured.
async fn s3_events(service: &Thumbnails, value: &serde_json::Value) -> Response {
    if value.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
        tracing::info!(bucket = ?value.get("Bucket"), "S3 test event received");
        return Json(serde_json::json!({ "results": [], "test_event": true })).into_response();
    }
    let events = match S3Event::from_value(value) {
        Ok(events) => events,
        Err(e) => {
            return problem_response(StatusCode::BAD_REQUEST, "Bad Request", &e.to_string());
        }
    };
    if events.len() > MAX_EVENTS {
        let detail = format!(
            "{} records in one notification; at most {MAX_EVENTS} (S3 sends one per event)",
            events.len()
        );
        return problem_response(StatusCode::PAYLOAD_TOO_LARGE, "Content Too Large", &detail);
    }
    let mut results = Vec::with_capacity(events.len());
    for event in &events {
        results.push(service.handle_event(event).await);
    }
    Json(serde_json::json!({ "results": results })).into_response()
}

async fn start_upload(State(service): State<Arc<Thumbnails>>, body: axum::body::Bytes) -> Response {
    let request: UploadRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let detail = format!(
                "the body must be {{\"key\": ..., \"content_type\": ..., \"size\": ...}}: {e}"
            );
            return problem_response(StatusCode::BAD_REQUEST, "Bad Request", &detail);
        }
    };
    match service.start_upload(&request).await {
        Ok(ticket) => (StatusCode::CREATED, Json(ticket)).into_response(),
        Err(e) => problem(&e),
    }
}

/// The fs store's upload endpoint: the browser's `PUT`, authorised by the ticket's signed
/// URL instead of the API token.
async fn receive_upload(
    State(service): State<Arc<Thumbnails>>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let verified = service.verify_upload_url(uri.path(), uri.query().unwrap_or_default());
    if let Err(e) = verified {
        return problem_response(StatusCode::FORBIDDEN, "Forbidden", &e.to_string());
    }
    let limit = service.settings().limits.max_input_bytes;
    // Held while the body is in memory, like any upload.
    let _admitted = match service.admit_upload().await {
        Ok(a) => a,
        Err(e) => return problem(&e),
    };
    let bytes = match read_limited(&headers, body, limit).await {
        Ok(b) => b,
        Err(e) => return problem(&e),
    };
    match service.receive_upload(&id, bytes).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => problem(&e),
    }
}

async fn complete_upload(
    State(service): State<Arc<Thumbnails>>,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
) -> Response {
    let presets = match pregenerate_presets(&service, &query) {
        Ok(p) => p,
        Err(e) => return problem(&e),
    };
    match service.complete_upload(&id, &presets).await {
        Ok(manifest) => (StatusCode::CREATED, Json(manifest)).into_response(),
        Err(e) => problem(&e),
    }
}

async fn presets(State(service): State<Arc<Thumbnails>>) -> Response {
    let list: Vec<_> = service
        .presets()
        .iter()
        .map(|p| {
            serde_json::json!({
                "name": p.name.as_str(),
                "fingerprint": p.fingerprint().to_string(),
                "summary": p.summary(),
            })
        })
        .collect();
    Json(list).into_response()
}
