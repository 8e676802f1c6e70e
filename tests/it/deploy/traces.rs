//! OpenTelemetry: `thumbkit serve` with `OTEL_EXPORTER_OTLP_ENDPOINT` sends the spans of a
//! cold thumbnail request (the request, its storage calls, decode, resize, encode) over
//! OTLP/HTTP to a collector in the test, in the trace its `traceparent` named.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::helpers::app::*;
use crate::helpers::fixtures::fixture;
use crate::helpers::process::temp_dir;

type Spans = Arc<Mutex<Vec<opentelemetry_proto::tonic::trace::v1::Span>>>;

/// A real HTTP server on 127.0.0.1 that decodes each OTLP export it is sent.
async fn collector() -> (std::net::SocketAddr, Spans) {
    let spans: Spans = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sink = spans.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let sink = sink.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let sink = sink.clone();
                        async move {
                            assert_eq!(req.uri().path(), "/v1/traces");
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let export = ExportTraceServiceRequest::decode(body).unwrap();
                            for rs in export.resource_spans {
                                for ss in rs.scope_spans {
                                    sink.lock().unwrap().extend(ss.spans);
                                }
                            }
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(
                                http_body_util::Full::new(bytes::Bytes::new()),
                            ))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    (addr, spans)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cold_request_sends_its_spans_in_the_callers_trace() {
    let (collector, spans) = collector().await;
    let root = temp_dir("traces");
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::write(root.join("a/cat.jpg"), fixture("IMG_9424.JPG")).unwrap();
    let server = Binary::start(&[
        ("THUMBKIT_STORAGE", format!("fs:{}", root.display())),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}")),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
    ]);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let traceparent = format!("00-{trace_id}-{parent}-01");
    let reply = request(
        server.addr,
        "GET",
        "/t/thumb/a/cat.jpg",
        &[("traceparent", &traceparent)],
    )
    .await;
    assert_eq!(reply.status, 200);
    let mut names = BTreeMap::<String, usize>::new();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        names.clear();
        for s in spans.lock().unwrap().iter() {
            *names.entry(s.name.clone()).or_default() += 1;
        }
        if ["decode", "resize", "encode", "GET /t/{preset}/{key}"]
            .iter()
            .all(|n| names.contains_key(*n))
            && names.contains_key("storage")
        {
            break;
        }
    }
    println!("spans received: {names:?}");
    let got = spans.lock().unwrap().clone();
    let request_span = got
        .iter()
        .find(|s| s.name == "GET /t/{preset}/{key}")
        .unwrap_or_else(|| panic!("no request span in {names:?}"));
    assert_eq!(
        hex::encode(&request_span.trace_id),
        trace_id,
        "in the caller's trace"
    );
    assert_eq!(
        hex::encode(&request_span.parent_span_id),
        parent,
        "the caller's span is its parent"
    );
    for name in ["decode", "resize", "encode", "storage"] {
        let span = got
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} span in {names:?}"));
        assert_eq!(
            hex::encode(&span.trace_id),
            trace_id,
            "{name} in the same trace"
        );
    }
    let storage_ops: Vec<String> = got
        .iter()
        .filter(|s| s.name == "storage")
        .flat_map(|s| s.attributes.iter())
        .filter(|a| a.key == "op")
        .map(|a| format!("{:?}", a.value))
        .collect();
    assert!(
        storage_ops.iter().any(|o| o.contains("get")),
        "{storage_ops:?}"
    );
}
