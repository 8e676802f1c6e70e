//! S3's answers turned into [`StoreError`]s a person can act on: unreachable, refused
//! credentials, a region mismatch (with the region the bucket is in), a missing bucket.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use super::{FALLBACK_REGION, S3Store};
use crate::storage::store::StoreError;

impl S3Store {
    /// Turns an SDK error into a [`StoreError`] a person can act on.
    pub(super) fn error<E>(&self, op: &'static str, key: &str, err: SdkError<E>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match &err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
                StoreError::Unreachable(format!("{} ({})", self.endpoint, root_cause(&err)))
            }
            SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
                let status = err.raw_response().map(|r| r.status().as_u16());
                let code = err.code().unwrap_or_default().to_owned();
                let message = err.message().unwrap_or_default().to_owned();
                // S3 names the bucket's region in a header on redirects and region errors.
                let bucket_region = err
                    .raw_response()
                    .and_then(|r| r.headers().get("x-amz-bucket-region"))
                    .map(str::to_owned);
                let configured = self
                    .client
                    .config()
                    .region()
                    .map_or_else(|| FALLBACK_REGION.to_owned(), |r| r.to_string());
                let region_error = code == "AuthorizationHeaderMalformed"
                    && message.to_ascii_lowercase().contains("region")
                    || code == "PermanentRedirect"
                    || matches!(status, Some(301))
                    || bucket_region.as_deref().is_some_and(|r| r != configured);
                if region_error {
                    return StoreError::WrongRegion {
                        configured,
                        expected: bucket_region.or_else(|| expected_region(&message)),
                    };
                }
                let described = format!(
                    "{} {code} {message}",
                    status.map_or("no status".into(), |s| format!("HTTP {s}"))
                )
                .trim()
                .to_owned();
                match (code.as_str(), status) {
                    ("NoSuchBucket", _) => StoreError::NoBucket(self.location.bucket.clone()),
                    // Transient by S3's own account: the SDK has already retried them with
                    // backoff, so what is left is an outage for this request (503, not 502).
                    ("SlowDown" | "ServiceUnavailable" | "InternalError" | "RequestTimeout", _)
                    | (_, Some(500 | 502 | 503 | 504)) => StoreError::Overloaded {
                        op,
                        key: key.to_owned(),
                        message: described,
                    },
                    (
                        "AccessDenied"
                        | "InvalidAccessKeyId"
                        | "SignatureDoesNotMatch"
                        | "InvalidToken"
                        | "ExpiredToken"
                        | "AuthorizationHeaderMalformed",
                        _,
                    )
                    | (_, Some(401 | 403)) => StoreError::Denied {
                        code: if code.is_empty() {
                            format!("HTTP {}", status.unwrap_or_default())
                        } else {
                            code
                        },
                        message,
                    },
                    _ => StoreError::Backend {
                        op,
                        key: key.to_owned(),
                        message: described,
                    },
                }
            }
            _ => StoreError::Backend {
                op,
                key: key.to_owned(),
                message: root_cause(&err),
            },
        }
    }

    pub(super) fn not_found<E>(err: &SdkError<E>) -> bool
    where
        E: ProvideErrorMetadata,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        // A 404 without a code is a HEAD's "not found"; NoSuchBucket is not an absent key.
        status == Some(404) && err.code() != Some("NoSuchBucket")
    }
}

/// The last two messages of an error's source chain ("tcp connect error: Connection
/// refused"): what a person can act on, without the SDK's wrappers and debug dumps.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        chain.push(e.to_string());
        source = e.source();
    }
    let start = chain.len().saturating_sub(2);
    chain[start..].join(": ")
}

/// The region an S3 error message says it expected ("... the region 'us-east-1' is wrong;
/// expecting 'eu-west-1'").
fn expected_region(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("expecting '")?;
    let region = rest.split('\'').next()?;
    (!region.is_empty()).then(|| region.to_owned())
}
