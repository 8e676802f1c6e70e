//! `POST /v1/hooks/s3`: S3 event notifications, straight from a tool that posts them or
//! through SNS (the way AWS delivers them over HTTP), whose messages must verify before
//! anything is done. A created original gets its variants pre-generated, a removed one its
//! variants purged.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use crate::http::problem::problem_response;
use crate::service::Thumbnails;
use crate::service::events::Notification;
use crate::sns::{self, Sns, SnsError, SnsOptions};

/// Records one `POST /v1/hooks/s3` may carry: S3 sends one per event, so more is not S3.
const MAX_EVENTS: usize = 100;

/// The hook's route (behind the token), trusting SNS messages as `sns` says.
pub fn routes(sns: &SnsOptions) -> Router<Arc<Thumbnails>> {
    let sns = Arc::new(Sns::new(sns.clone()));
    Router::new().route("/v1/hooks/s3", post(s3_hook).layer(axum::Extension(sns)))
}

/// S3 event notifications: straight from a tool that posts them, or through SNS (the way
/// AWS delivers them over HTTP), whose messages must verify before anything is done.
/// S3 event notifications delivered by SNS (signature verified; subscriptions confirmed).
#[utoipa::path(post, path = "/v1/hooks/s3", tag = "events", security(("token" = [])),
    request_body(content = String, content_type = "text/plain", description = "An SNS message (JSON)"),
    responses((status = 200, description = "What was done", body = crate::http::schemas::HookOutcome), (status = "default", description = "An error", body = crate::http::schemas::Problem, content_type = "application/problem+json")))]
pub(crate) async fn s3_hook(
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
        if sns.required() {
            return problem_response(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "with THUMBKIT_SNS_TOPICS set, only signed SNS messages from those topics are \
                 acted on, not bare S3 event notifications",
            );
        }
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
        // SNS delivers at least once: a redelivered message is acknowledged, not redone.
        _ if !sns.first_time(&message).await => {
            tracing::info!(message_id = %message.message_id, "an SNS message seen before");
            Json(serde_json::json!({ "results": [], "duplicate": message.message_id }))
                .into_response()
        }
        _ => match serde_json::from_str::<serde_json::Value>(&message.message) {
            Ok(inner) => {
                let response = s3_events(&service, &inner).await;
                // SNS delivers it again after a 5xx: it must not be taken for a duplicate then.
                if response.status().is_server_error() {
                    sns.forget(&message).await;
                }
                response
            }
            Err(e) => {
                let detail = format!("the SNS Message is not an S3 event notification: {e}");
                problem_response(StatusCode::BAD_REQUEST, "Bad Request", &detail)
            }
        },
    }
}

/// Acts on the records of an S3 event notification (or an EventBridge event from S3);
/// acknowledges S3's `s3:TestEvent`, sent when notifications are configured.
async fn s3_events(service: &Thumbnails, value: &serde_json::Value) -> Response {
    let events = match Notification::from_value(value) {
        Ok(Notification::Events(events)) => events,
        Ok(Notification::Test) => {
            tracing::info!(bucket = ?value.get("Bucket"), "S3 test event received");
            return Json(serde_json::json!({ "results": [], "test_event": true })).into_response();
        }
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
    if let Some(failed) = results.iter().find(|r| r.transient) {
        // 503 tells SNS (and any sender that retries) to deliver it again later; what was
        // done is not redone (stored variants are found), what failed is tried again.
        let detail = format!(
            "`{}` failed for a passing reason ({}); send the notification again",
            failed.key,
            failed
                .detail
                .as_deref()
                .unwrap_or("the store or the render queue")
        );
        let mut response = problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            &detail,
        );
        response
            .headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("30"));
        return response;
    }
    Json(serde_json::json!({ "results": results })).into_response()
}
