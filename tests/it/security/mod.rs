//! The attacks of the security review of upload tickets, the internal key area, peers,
//! connections and signed URLs, each replayed through a real socket: what an attacker without
//! the token tries, and what thumbkit answers.

mod area;
mod connections;
mod signed;
mod tickets;
mod tokenless;

use std::sync::Arc;

use crate::helpers::app::*;
use thumbkit::http::Options;
use thumbkit::service::Settings;
use thumbkit::storage::{FsStore, Store};

const TOKEN: &str = "a-token-for-the-security-tests";

/// thumbkit over a fresh fs store (with the token), and the store's root.
async fn fs_app(tag: &str, settings: Settings) -> (App, std::path::PathBuf) {
    let root = temp_dir(tag);
    let store: Arc<dyn Store> = Arc::new(FsStore::open(&root).await.unwrap());
    let options = Options {
        api_token: Some(TOKEN.into()),
        ..Options::default()
    };
    (
        spawn_app_with(store, shipped_presets(), settings, options).await,
        root,
    )
}

/// The bearer header.
fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// A ticket for `size` bytes of `content_type` at `key`.
async fn ticket(app: &App, key: &str, content_type: &str, size: usize) -> serde_json::Value {
    let ask = serde_json::json!({"key": key, "content_type": content_type, "size": size});
    let auth = bearer();
    let r = send_with(
        app.addr,
        "POST",
        "/v1/uploads",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        ask.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    serde_json::from_slice(&r.body).unwrap()
}
