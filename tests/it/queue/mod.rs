//! S3 events pulled from SQS (a real SQS API: moto in server mode): every shape S3 sends,
//! what is deleted and what is left for redelivery, outages of the store and of the queue,
//! `thumbkit events --once`, and a fleet of instances over one queue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use crate::helpers::sqs::*;
use thumbkit::config::Config;
use thumbkit::queue::QueueOptions;
use thumbkit::service::Settings;
use thumbkit::storage::Store;

mod cli;
mod consumer;
mod fleet;
mod sources;

/// The options of a consumer of the queue at `url` on `endpoint`, polling briefly so that
/// the tests end soon.
fn options(endpoint: &str, url: &str) -> QueueOptions {
    QueueOptions {
        wait: Duration::from_secs(1),
        endpoint_url: Some(endpoint.to_owned()),
        credentials: Some((MOTO_KEY.0.into(), MOTO_KEY.1.into())),
        ..QueueOptions::new(url)
    }
}

/// thumbkit over `store` pulling the queue `options` name, as `thumbkit serve` runs.
async fn spawn_consumer(store: Arc<dyn Store>, settings: Settings, queue: QueueOptions) -> App {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        service: settings,
        queue: Some(queue),
        ..Config::default()
    };
    let app = thumbkit::startup::App::build_with(
        config,
        store,
        shipped_presets(),
        std::future::pending(),
    )
    .await
    .unwrap();
    let (addr, service) = (app.addr(), app.service().clone());
    tokio::spawn(app.run());
    App { addr, service }
}

/// Settings that pre-generate only `presets` (the tests are about the queue, not renders).
fn pregenerating(presets: &[&str]) -> Settings {
    Settings {
        pregenerate: presets.iter().map(|p| p.to_string()).collect(),
        ..Settings::default()
    }
}

/// The queue's counter for `outcome` in `app`'s metrics.
async fn messages(app: &App, outcome: &str) -> f64 {
    app.metric(
        "thumbkit_queue_messages_total",
        &[&format!("outcome=\"{outcome}\"")],
    )
    .await
}

/// Waits at most `limit` until `app` has counted `n` messages as `outcome`.
async fn counted(app: &App, outcome: &str, n: f64, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if messages(app, outcome).await >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
