//! `/v1/originals/{key}` (upload, describe, delete) and `/v1/pregenerate` (a batch of keys):
//! what a backend calls when it stores an image, needs its thumbnail URLs, or removes it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::http::body::{read_limited, refuse_form_body, refuse_form_type};
use crate::http::problem::problem_response;
use crate::pipeline::Point;
use crate::preset::Preset;
use crate::service::manifest::Focus;
use crate::service::{ServiceError, Thumbnails};

/// Keys one `POST /v1/pregenerate` may name (more belong to `thumbkit pregen`).
const MAX_BATCH: usize = 1000;

/// The routes (behind the token).
pub fn routes() -> Router<Arc<Thumbnails>> {
    Router::new()
        .route(
            "/v1/originals/{*key}",
            get(describe).put(upload).delete(delete).patch(update),
        )
        .route("/v1/pregenerate", post(pregenerate))
}

/// `?pregenerate=`: `all` or preset names separated by `,`; `?focus=x,y`: the focal point.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    pregenerate: Option<String>,
    focus: Option<String>,
}

/// The longest `PATCH` body: a focal point is a few dozen bytes.
const MAX_PATCH: usize = 4096;

/// What `?focus=` and `PATCH` bodies may say of a focal point.
fn focus_point(x: f64, y: f64) -> Result<Point, ServiceError> {
    Point::new(x, y).ok_or_else(|| {
        ServiceError::BadUpload(format!(
            "focus must be two fractions of the picture between 0 and 1 (x from the left, \
             y from the top), such as 0.31,0.42; got {x},{y}"
        ))
    })
}

impl UploadQuery {
    /// `?focus=x,y`, checked before any body is read.
    pub fn focus(&self) -> Result<Option<Point>, ServiceError> {
        let Some(text) = &self.focus else {
            return Ok(None);
        };
        let bad = || {
            ServiceError::BadUpload(format!(
                "focus must be x,y: two fractions between 0 and 1, such as 0.31,0.42; got `{}`",
                text.chars().take(40).collect::<String>()
            ))
        };
        let (x, y) = text.split_once(',').ok_or_else(bad)?;
        let parse = |v: &str| v.trim().parse::<f64>().map_err(|_| bad());
        focus_point(parse(x)?, parse(y)?).map(Some)
    }

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

    /// The presets named (checked before any body is read); an unknown name is a bad
    /// request here, not a missing resource.
    pub fn presets<'a>(&self, service: &'a Thumbnails) -> Result<Vec<&'a Preset>, ServiceError> {
        service
            .select_presets(&self.preset_names())
            .map_err(|e| ServiceError::BadUpload(e.to_string()))
    }
}

/// Uploads an original (validated whole; nothing stored if refused), pre-generating on request.
#[utoipa::path(put, path = "/v1/originals/{key}", tag = "originals", security(("token" = [])),
    params(("key" = String, Path, description = "The original's key; may contain `/`"),
           ("pregenerate" = Option<String>, Query, description = "`all` or preset names, `,`-separated"),
           ("focus" = Option<String>, Query, description = "The focal point `smart` crops are centred on: `x,y`, fractions of the upright picture")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "Stored", body = crate::service::manifest::Manifest), (status = "default", description = "An error", body = crate::http::schemas::Problem, content_type = "application/problem+json")))]
pub(crate) async fn upload(
    State(service): State<Arc<Thumbnails>>,
    Path(key): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServiceError> {
    let presets = query.presets(&service)?;
    let focus = query.focus()?;
    refuse_form_type(&headers)?;
    // A place among the admitted jobs before the body is in memory: uploads count in the
    // same memory bound as renders.
    let admitted = service.admit_upload().await?;
    let bytes = read_limited(&headers, body, service.settings().limits.max_input_bytes).await?;
    refuse_form_body(&bytes)?;
    let manifest = service
        .upload(&key, bytes, &presets, admitted, focus)
        .await?;
    Ok((StatusCode::CREATED, Json(manifest)).into_response())
}

/// What thumbkit knows of an original and each preset's variant of it.
#[utoipa::path(get, path = "/v1/originals/{key}", tag = "originals", security(("token" = [])),
    params(("key" = String, Path, description = "The original's key; may contain `/`")),
    responses((status = 200, description = "The manifest", body = crate::service::manifest::Manifest), (status = "default", description = "An error", body = crate::http::schemas::Problem, content_type = "application/problem+json")))]
pub(crate) async fn describe(
    State(service): State<Arc<Thumbnails>>,
    Path(key): Path<String>,
) -> Result<Response, ServiceError> {
    Ok(Json(service.describe(&key).await?).into_response())
}

/// A `PATCH` body: `{"focus": {"x": 0.31, "y": 0.42}}`, or `{"focus": null}` to clear it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OriginalPatch {
    /// The focal point `smart` crops are centred on (fractions of the upright picture).
    focus: Option<Focus>,
}

/// Changes what an application says of an original: its focal point.
#[utoipa::path(patch, path = "/v1/originals/{key}", tag = "originals", security(("token" = [])),
    params(("key" = String, Path, description = "The original's key; may contain `/`")),
    request_body = OriginalPatch,
    responses((status = 200, description = "The manifest, with the new URLs", body = crate::service::manifest::Manifest), (status = "default", description = "An error", body = crate::http::schemas::Problem, content_type = "application/problem+json")))]
pub(crate) async fn update(
    State(service): State<Arc<Thumbnails>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServiceError> {
    let bytes = read_limited(&headers, body, MAX_PATCH).await?;
    let patch: OriginalPatch = serde_json::from_slice(&bytes).map_err(|e| {
        ServiceError::BadUpload(format!(
            "the body must be {{\"focus\": {{\"x\": 0.31, \"y\": 0.42}}}} or {{\"focus\": null}}: {e}"
        ))
    })?;
    let focus = patch.focus.map(|f| focus_point(f.x, f.y)).transpose()?;
    Ok(Json(service.set_focus(&key, focus).await?).into_response())
}

/// Deletes an original with every variant and record derived from it.
#[utoipa::path(delete, path = "/v1/originals/{key}", tag = "originals", security(("token" = [])),
    params(("key" = String, Path, description = "The original's key; may contain `/`")),
    responses((status = 200, description = "What was deleted", body = crate::service::uploads::Deleted), (status = "default", description = "An error", body = crate::http::schemas::Problem, content_type = "application/problem+json")))]
pub(crate) async fn delete(
    State(service): State<Arc<Thumbnails>>,
    Path(key): Path<String>,
) -> Result<Response, ServiceError> {
    Ok(Json(service.delete_original(&key).await?).into_response())
}

#[derive(Debug, Deserialize)]
struct PregenerateBody {
    keys: Vec<String>,
    /// Preset names; none or absent = all.
    #[serde(default)]
    presets: Vec<String>,
}

/// Renders the variants of up to 1000 originals already in the store.
#[utoipa::path(post, path = "/v1/pregenerate", tag = "originals", security(("token" = [])),
    request_body = crate::http::schemas::PregenerateRequest,
    responses((status = 200, description = "One result per key", body = crate::http::schemas::Results<crate::service::pregenerate::KeyOutcome>), (status = "default", description = "An error", body = crate::http::schemas::Problem, content_type = "application/problem+json")))]
pub(crate) async fn pregenerate(
    State(service): State<Arc<Thumbnails>>,
    body: axum::body::Bytes,
) -> Response {
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
