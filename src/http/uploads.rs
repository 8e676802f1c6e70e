//! Browser uploads in three steps: the backend asks for a ticket (`POST /v1/uploads`), the
//! browser `PUT`s the file to the ticket's URL (presigned S3, or `PUT /v1/uploads/{id}` with
//! the fs store, authorised by the URL's signature instead of the token), and the backend
//! completes it (`POST /v1/uploads/{id}/complete`), which validates it like a direct upload.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};

use crate::http::body::read_limited;
use crate::http::originals::UploadQuery;
use crate::http::problem::problem_response;
use crate::service::tickets::UploadRequest;
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

async fn start_upload(
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
async fn receive_upload(
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
    // Held while the body is in memory, like any upload.
    let _admitted = service.admit_upload().await?;
    let bytes = read_limited(&headers, body, service.settings().limits.max_input_bytes).await?;
    service.receive_upload(&id, bytes).await?;
    Ok(StatusCode::OK.into_response())
}

async fn complete_upload(
    State(service): State<Arc<Thumbnails>>,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
) -> Result<Response, ServiceError> {
    let presets = query.presets(&service)?;
    let manifest = service.complete_upload(&id, &presets).await?;
    Ok((StatusCode::CREATED, Json(manifest)).into_response())
}
