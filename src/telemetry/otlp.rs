//! OpenTelemetry traces over OTLP/HTTP (protobuf), on the standard `OTEL_*` variables
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`, `OTEL_BSP_*`): the spans of each
//! request, its storage calls, decode, resize and encode, with the parent taken from an
//! incoming `traceparent` and passed on to peers. Sent with the hyper client already in
//! the tree, on a one-thread runtime of its own, so the batch exporter's thread can use it.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HeaderExtractor, HeaderInjector, HttpClient, HttpError};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Why traces cannot be exported as configured.
#[derive(Debug, thiserror::Error)]
pub enum TracingError {
    #[error(
        "OTEL_EXPORTER_OTLP_ENDPOINT `{0}`: only http:// collectors are supported (a local agent or sidecar)"
    )]
    Https(String),
    #[error("OTEL_EXPORTER_OTLP_ENDPOINT: {0}")]
    Exporter(String),
    #[error("tracing: cannot start the exporter's runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// The exporter, while it runs; spans still queued are sent when it is dropped.
#[derive(Default)]
pub struct Tracing {
    provider: Option<SdkTracerProvider>,
}

impl Tracing {
    /// The layer that turns thumbkit's spans into OpenTelemetry spans, if exporting.
    pub fn layer<S>(&self) -> Option<impl tracing_subscriber::Layer<S> + use<S>>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let provider = self.provider.as_ref()?;
        Some(tracing_opentelemetry::layer().with_tracer(provider.tracer("thumbkit")))
    }

    /// Whether spans are exported.
    pub fn is_on(&self) -> bool {
        self.provider.is_some()
    }
}

impl Drop for Tracing {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Starts the exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` (or its traces variant) is set.
pub fn from_env() -> Result<Tracing, TracingError> {
    let endpoint = [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()));
    let Some(endpoint) = endpoint else {
        return Ok(Tracing::default());
    };
    if !endpoint.starts_with("http://") {
        return Err(TracingError::Https(crate::secrets::redact_url(&endpoint)));
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_http_client(Sender::start()?)
        .build()
        .map_err(|e| TracingError::Exporter(e.to_string()))?;
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "thumbkit".into());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .build(),
        )
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(Tracing {
        provider: Some(provider),
    })
}

/// Makes `span` a child of the trace an incoming request's `traceparent` names, if any.
pub fn parent_from(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    let cx = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let _ = span.set_parent(cx);
}

/// Adds the current span's `traceparent` to an outgoing request (to a peer).
pub fn inject_traceparent(headers: &mut axum::http::HeaderMap) {
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
}

/// The exporter's HTTP client: hyper on a runtime of its own, callable from any thread.
#[derive(Debug, Clone)]
struct Sender {
    runtime: Arc<tokio::runtime::Runtime>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Sender {
    fn start() -> Result<Self, TracingError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("thumbkit-otlp")
            .enable_all()
            .build()
            .map_err(TracingError::Runtime)?;
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(Self {
            runtime: Arc::new(runtime),
            client,
        })
    }
}

#[async_trait::async_trait]
impl HttpClient for Sender {
    async fn send_bytes(
        &self,
        request: axum::http::Request<Bytes>,
    ) -> Result<axum::http::Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let call = async move {
            let (parts, body) = request.into_parts();
            let response = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                client.request(axum::http::Request::from_parts(parts, Full::new(body))),
            )
            .await
            .map_err(|_| "the collector did not answer within 10 s".to_owned())?
            .map_err(|e| e.to_string())?;
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok::<_, String>(axum::http::Response::from_parts(parts, bytes))
        };
        self.runtime
            .spawn(call)
            .await
            .map_err(|e| HttpError::from(e.to_string()))?
            .map_err(HttpError::from)
    }
}
