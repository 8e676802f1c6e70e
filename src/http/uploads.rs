//! Browser uploads in three steps: the backend asks for a ticket (`POST /v1/uploads`), the
//! browser `PUT`s the file to the ticket's URL (presigned S3, or `PUT /v1/uploads/{id}` with
//! the fs store, authorised by the URL's signature instead of the token), and the backend
//! completes it (`POST /v1/uploads/{id}/complete`), which validates it like a direct upload.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};

use crate::http::body::read_limited;
use crate::http::originals::UploadQuery;
use crate::http::problem::problem_response;
use crate::service::tickets::{Declared, UploadRequest};
use crate::service::{ServiceError, Thumbnails};

/// The backend's routes (behind the token).
pub fn routes() -> Router<Arc<Thumbnails>> {
    Router::new()
        .route("/v1/uploads", post(start_upload))
        .route("/v1/uploads/{id}/complete", post(complete_upload))
}

/// The browser's route (its ticket's signature authorises it).
pub fn browser_routes() -> Router<Arc<Thumbnails>> {
    Router::new().route("/v1/uploads/{id}", put(receive_upload))
}

/// Starts a browser upload: a ticket with the URL the browser `PUT`s the file to.
#[utoipa::path(post, path = "/v1/uploads", tag = "uploads", security(("token" = [])),
    request_body = crate::service::tickets::UploadRequest,
    responses((status = 201, description = "The ticket", body = crate::service::tickets::Ticket), (status = "default", description = "An error", body = crate::http::schemas::Problem, content_type = "application/problem+json")))]
pub(crate) async fn start_upload(
    State(service): State<Arc<Thumbnails>>,
    body: axum::body::Bytes,
) -> Result<Response, ServiceError> {
    let request: UploadRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let detail = format!(
                "the body must be {{\"key\": ..., \"content_type\": ..., \"size\": ...}}: {e}"
            );
            return Ok(problem_response(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                &detail,
            ));
        }
    };
    let ticket = service.start_upload(&request).await?;
    Ok((StatusCode::CREATED, Json(ticket)).into_response())
}

/// The fs store's upload endpoint: the browser's `PUT`.
/// The local directory store's upload URL (S3 presigns its own): the browser's `PUT`.
#[utoipa::path(put, path = "/v1/uploads/{id}", tag = "uploads",
    params(("id" = String, Path, description = "The ticket's id"),
           ("exp" = u64, Query, description = "Expiry, Unix seconds"),
           ("sig" = String, Query, description = "The ticket's signature")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "Received"), (status = "default", description = "An error", body = crate::http::schemas::Problem, content_type = "application/problem+json")))]
pub(crate) async fn receive_upload(
    State(service): State<Arc<Thumbnails>>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServiceError> {
    if let Err(e) = service.verify_upload_url(uri.path(), uri.query().unwrap_or_default()) {
        return Ok(problem_response(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &e.to_string(),
        ));
    }
    // Everything the headers can tell is checked before a body byte is read; the body then
    // holds room among the uploads being received, never a render worker's place.
    let declared = Declared {
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        length: headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok()),
    };
    let receiving = service.admit_ticket_upload(&id, declared).await?;
    let limit = usize::try_from(receiving.size()).unwrap_or(usize::MAX);
    let bytes = read_limited(&headers, body, limit).await?;
    service.receive_upload(receiving, bytes).await?;
    Ok(StatusCode::OK.into_response())
}

/// Completes a browser upload: validates and stores it (as `PUT /v1/originals`).
#[utoipa::path(post, path = "/v1/uploads/{id}/complete", tag = "uploads", security(("token" = [])),
    params(("id" = String, Path, description = "The ticket's id"),
           ("pregenerate" = Option<String>, Query, description = "`all` or preset names"),
           ("focus" = Option<String>, Query, description = "The focal point `smart` crops are centred on: `x,y`, fractions of the upright picture")),
    responses((status = 201, description = "Stored", body = crate::service::manifest::Manifest), (status = "default", description = "An error", body = crate::http::schemas::Problem, content_type = "application/problem+json")))]
pub(crate) async fn complete_upload(
    State(service): State<Arc<Thumbnails>>,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
) -> Result<Response, ServiceError> {
    let presets = query.presets(&service)?;
    let focus = query.focus()?;
    let manifest = service.complete_upload(&id, &presets, focus).await?;
    Ok((StatusCode::CREATED, Json(manifest)).into_response())
}
