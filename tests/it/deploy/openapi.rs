//! `/openapi.json`: an OpenAPI 3.1 document that names every route the routers register
//! (read from `src/http/`, so a new route without its annotation fails here), saved for
//! `scripts/openapi-check.py`, which validates it and matches every response the tests
//! recorded against the schema of its status.

use std::collections::BTreeSet;

use crate::helpers::app::*;

/// The routes the HTTP layer registers, by `.route("...")` in `src/http/`, in OpenAPI's
/// spelling (`{*key}` is `{key}`); the demo page and the peers' internal route aside.
fn registered_routes() -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "demo.rs" || name == "peers.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for piece in text.split(".route(").skip(1) {
            let Some(literal) = piece.trim_start().strip_prefix('"') else {
                continue;
            };
            let route = literal.split('"').next().unwrap();
            routes.insert(route.replace("{*", "{"));
        }
    }
    routes
}

#[tokio::test]
async fn the_document_names_every_route_and_is_saved_for_the_response_check() {
    let app = spawn_app(
        thumbkit::storage::FsStore::open(&temp_dir("openapi"))
            .await
            .map(|s| std::sync::Arc::new(s) as _)
            .unwrap(),
        shipped_presets(),
        thumbkit::service::Settings::default(),
    )
    .await;
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "application/json");
    let doc: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let registered = registered_routes();
    assert!(registered.len() >= 12, "{registered:?}");
    assert_eq!(documented, registered, "documented vs registered routes");
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
            assert!(op["summary"].is_string(), "{method} {path} has no summary");
        }
    }
    let dir = responses_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("openapi.json"), &reply.body).unwrap();
}
