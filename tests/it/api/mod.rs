//! The upload-hook API (`/v1/originals`) over a real S3 server, through real sockets:
//! validated uploads and their manifests, pre-generation, hostile uploads, tokens, deletes.

use std::time::Duration;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::http::Options;
use thumbkit::pipeline::Limits;
use thumbkit::service::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod documents;
mod events;
mod focus;
mod formats;
mod frontends;
mod purge;
mod tickets;
mod uploads;
mod videos;

const TOKEN: &str = "s3cret-token";

/// Sends `body` with `method` to `path` (with the bearer token when `token` is given).
async fn send(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    send_with(addr, method, path, &headers, body).await
}

fn json(r: &Reply) -> serde_json::Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&r.body)))
}

async fn app_with_token(s3: &S3Server, settings: Settings) -> App {
    let options = Options {
        api_token: Some(TOKEN.into()),
        ..Options::default()
    };
    spawn_app_with(s3.store("").await, shipped_presets(), settings, options).await
}
