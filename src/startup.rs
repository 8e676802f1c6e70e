//! Builds the running service from a [`Config`]: opens and checks the store, loads the
//! presets, starts the service and binds the listener. `thumbkit serve` and the tests'
//! `spawn_app` both start here, so the tests run what production runs.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::{Config, ConfigError, StoreConfig};
use crate::preset::Presets;
use crate::queue::Consumer;
use crate::service::{ServiceError, Thumbnails};
use crate::storage::{FsStore, S3Options, S3Store, Sources, StorageSpec, Store, StoreError};

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("storage {store}: {source}")]
    Store {
        store: String,
        #[source]
        source: StoreError,
    },
    #[error("storage {store}: no answer within {after:?}")]
    StoreTimeout {
        store: String,
        after: std::time::Duration,
    },
    #[error("THUMBKIT_PREGENERATE: {0}")]
    Pregenerate(#[source] ServiceError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Server(#[source] std::io::Error),
}

impl StartupError {
    /// The same failure, saying which source's store it is about.
    fn in_source(self, name: &str) -> Self {
        match self {
            StartupError::Store { store, source } => StartupError::Store {
                store: format!("of the source {name} ({store})"),
                source,
            },
            StartupError::StoreTimeout { store, after } => StartupError::StoreTimeout {
                store: format!("of the source {name} ({store})"),
                after,
            },
            other => other,
        }
    }
}

type Server = Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;

/// thumbkit bound to its address, ready to [`run`](App::run).
pub struct App {
    addr: SocketAddr,
    service: Arc<Thumbnails>,
    server: Server,
    /// The SQS consumer's pollers, when a queue is configured; they stop with the server.
    consumer: Option<(Arc<Consumer>, tokio::task::JoinHandle<()>)>,
    /// How long pending variant writes get once the server has stopped.
    drain_timeout: std::time::Duration,
}

/// Opens the store and checks that it is usable (the bucket exists, the credentials work),
/// so that a bad configuration fails once, at start.
pub async fn open_store(config: &StoreConfig) -> Result<Arc<dyn Store>, StartupError> {
    let default = open_one(&config.spec, &config.s3, config.timeout).await?;
    if config.sources.is_empty() {
        return Ok(default);
    }
    let mut named = Vec::new();
    for source in &config.sources {
        let mut s3 = source.s3.clone();
        // A source without its own endpoint or profile is beside the default store.
        if s3.endpoint_url.is_none() && s3.profile.is_none() {
            s3.endpoint_url.clone_from(&config.s3.endpoint_url);
        }
        s3.path_style = s3.path_style.or(config.s3.path_style);
        let store = open_one(&source.spec, &s3, config.timeout)
            .await
            .map_err(|e| e.in_source(source.name.as_str()))?;
        named.push((source.clone(), store));
    }
    Ok(Arc::new(Sources::new(default, named)))
}

/// Opens one store and checks it.
async fn open_one(
    spec: &StorageSpec,
    s3: &S3Options,
    timeout: std::time::Duration,
) -> Result<Arc<dyn Store>, StartupError> {
    let store: Arc<dyn Store> = match spec {
        StorageSpec::Fs(root) => {
            let store = FsStore::open(root)
                .await
                .map_err(|source| StartupError::Store {
                    store: format!("fs:{}", root.display()),
                    source,
                })?;
            Arc::new(store)
        }
        StorageSpec::S3(location) => Arc::new(S3Store::connect(location.clone(), s3.clone()).await),
    };
    match tokio::time::timeout(timeout, store.check()).await {
        Ok(Ok(())) => Ok(store),
        Ok(Err(source)) => Err(StartupError::Store {
            store: store.describe(),
            source,
        }),
        Err(_) => Err(StartupError::StoreTimeout {
            store: store.describe(),
            after: timeout,
        }),
    }
}

/// Refuses presets limited to a source that is not configured.
fn check_sources(presets: &Presets, config: &Config) -> Result<(), ConfigError> {
    let configured = config.service.layout.sources();
    presets
        .check_sources(configured)
        .map_err(|reason| ConfigError::Invalid {
            setting: "THUMBKIT_SOURCES",
            reason,
        })
}

impl App {
    /// Opens the store and loads the presets that `config` names, then [`Self::build_with`].
    pub async fn build(
        config: Config,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<App, StartupError> {
        let presets = Presets::load(&config.preset_files).map_err(ConfigError::from)?;
        check_sources(&presets, &config)?;
        let store = open_store(&config.store).await?;
        Self::build_with(config, store, presets, shutdown).await
    }

    /// Starts the service over an opened `store` with loaded `presets` and binds
    /// `config.listen` (port 0 picks a free port). The server stops accepting when
    /// `shutdown` completes, then drains.
    pub async fn build_with(
        config: Config,
        store: Arc<dyn Store>,
        presets: Presets,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<App, StartupError> {
        check_sources(&presets, &config)?;
        let pregenerate = config.service.pregenerate.clone();
        let service = Arc::new(Thumbnails::new(store, presets, config.service));
        service
            .select_presets(&pregenerate)
            .map_err(StartupError::Pregenerate)?;
        let drain_timeout = config.http.connections.shutdown_timeout;
        // One signal stops both the server and the queue's pollers.
        let stop = tokio_util::sync::CancellationToken::new();
        let consumer = match &config.queue {
            Some(options) => {
                let consumer = Arc::new(Consumer::start(service.clone(), options).await);
                let polling = tokio::spawn(consumer.clone().run(stop.clone()));
                Some((consumer, polling))
            }
            None => None,
        };
        let trigger = stop.clone();
        let shutdown = async move {
            tokio::select! {
                () = shutdown => trigger.cancel(),
                () = trigger.cancelled() => {}
            }
        };
        let (addr, server) =
            crate::http::bind(config.listen, service.clone(), config.http, shutdown)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.listen,
                    source,
                })?;
        Ok(App {
            addr,
            service,
            server: Box::pin(server),
            consumer,
            drain_timeout,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SQS consumer, when a queue is configured.
    pub fn consumer(&self) -> Option<&Arc<Consumer>> {
        self.consumer.as_ref().map(|(c, _)| c)
    }

    /// The service behind the routes.
    pub fn service(&self) -> &Arc<Thumbnails> {
        &self.service
    }

    /// Serves until the shutdown signal, lets in-flight requests finish, then waits (for at
    /// most the shutdown timeout) for the variants still being written behind responses.
    pub async fn run(self) -> Result<(), StartupError> {
        tracing::info!(storage = %self.service.storage().describe(), presets = self.service.presets().len(), "serving on http://{}/t/<preset>/<key>", self.addr);
        let served = self.server.await.map_err(StartupError::Server);
        if let Some((_, polling)) = self.consumer {
            // The pollers finish the batches in hand; unfinished messages are redelivered.
            if tokio::time::timeout(self.drain_timeout, polling)
                .await
                .is_err()
            {
                tracing::warn!("gave up waiting for queue messages in progress");
            }
        }
        if tokio::time::timeout(self.drain_timeout, self.service.drain())
            .await
            .is_err()
        {
            tracing::warn!(
                "gave up waiting for variant writes after {:?}",
                self.drain_timeout
            );
        }
        tracing::info!("stopped");
        served
    }
}
