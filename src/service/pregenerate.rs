//! Variants rendered before the first visitor asks: after an upload, for a batch of keys
//! (`POST /v1/pregenerate`), and for each original of a backfill ([`super::backfill`]).

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;

use crate::keys::{ContentHash, ObjectKey};
use crate::pipeline::batch::{self, Composed};
use crate::pipeline::{self, OutputFormat, PipelineError};
use crate::preset::Preset;
use crate::service::error::ServiceError;
use crate::service::focus::{Crop, is_smart};
use crate::service::manifest::{Manifest, formats};
use crate::service::originals::{Fetched, Original};
use crate::service::workers::Patience;
use crate::service::{Made, Thumbnails, Variant};
use crate::storage::Kind;
use crate::video;

/// A variant that is not stored yet: which preset, which format, and its key.
struct Missing {
    preset: usize,
    format: OutputFormat,
    key: ObjectKey,
}

/// What pre-generation did for one preset.
#[derive(Debug, Clone)]
enum Outcome {
    /// Every variant was stored already.
    Existing,
    Rendered,
    Failed(ServiceError),
}

impl Outcome {
    /// As the manifest says it.
    fn text(&self) -> String {
        match self {
            Outcome::Existing => "existing".into(),
            Outcome::Rendered => "rendered".into(),
            Outcome::Failed(e) => format!("failed: {}", e.answered()),
        }
    }
}

/// What pre-generating one original did.
#[derive(Debug)]
pub struct Pregenerated {
    /// The manifest, each preset saying what was done (`existing`, `rendered`, `failed: …`).
    pub manifest: Manifest,
    /// The first failure worth trying again later (the store or the workers), if any.
    pub transient: Option<ServiceError>,
    /// The first failure that doing it again would not mend (the original's bytes), if any.
    pub lasting: Option<ServiceError>,
}

/// One preset composed (by its index among the presets asked for), or why not, with the
/// time composing it took.
type Composition = (usize, Result<Composed, PipelineError>, Duration);

impl Thumbnails {
    /// Renders and stores `presets`' variants of `key` that are not stored yet (in every
    /// format a client may be served), and answers with the manifest saying what was done.
    pub async fn pregenerate(
        &self,
        key: &str,
        presets: &[&Preset],
    ) -> Result<Pregenerated, ServiceError> {
        let key = self.original_key(key)?;
        let original = self.originals.resolve(&key).await?;
        Ok(self
            .pregenerate_original(&key, &original, None, presets)
            .await)
    }

    /// [`Self::pregenerate`] for an original already resolved; with its `bytes` when the
    /// caller holds them (an upload), so that they are not read back from the store.
    ///
    /// The missing variants are made from one decode ([`pipeline::batch`]): one job on a
    /// render worker decodes and resizes every preset, then each format is encoded as its own
    /// job, so the workers encode in parallel, and each is stored before this returns.
    pub(crate) async fn pregenerate_original(
        &self,
        key: &ObjectKey,
        original: &Original,
        bytes: Option<&Bytes>,
        presets: &[&Preset],
    ) -> Pregenerated {
        // A preset limited to other sources has no variant of this original.
        let offered = self.offered_of(key, presets);
        let presets = offered.as_slice();
        let focus = match self.presets().every().any(|p| is_smart(&p.spec)) {
            // Unreadable focal point: the manifest says none, and each smart render that
            // needs it fails on its own below.
            true => self.focus.of(key, &original.hash).await.ok().flatten(),
            false => None,
        };
        let mut manifest = Manifest::of(key, original, self.presets(), &self.settings, focus);
        let mut outcomes = vec![Outcome::Existing; presets.len()];
        let mut missing = Vec::new();
        let crops: Vec<Crop> = presets
            .iter()
            .map(|p| Crop::of(p, focus, original.record.saliency))
            .collect();
        for (i, preset) in presets.iter().enumerate() {
            for format in formats(preset, original, &self.settings.auto_formats) {
                let variant_key = self.variant_key(key, &original.hash, preset, &crops[i], format);
                match self.storage.head(&variant_key, Kind::Variant).await {
                    Ok(Some(_)) => {}
                    Ok(None) => missing.push(Missing {
                        preset: i,
                        format,
                        key: variant_key,
                    }),
                    Err(e) => {
                        outcomes[i] = Outcome::Failed(e.into());
                        missing.retain(|m| m.preset != i);
                        break;
                    }
                }
            }
        }
        if !missing.is_empty() {
            // Each preset as it renders for this original (a `smart` one with its subject).
            let cropped: Vec<Preset> = presets
                .iter()
                .zip(&crops)
                .map(|(p, c)| {
                    let mut p = (*p).clone();
                    p.spec = c.spec(&p.spec);
                    p
                })
                .collect();
            let cropped: Vec<&Preset> = cropped.iter().collect();
            self.render_missing(key, original, bytes, &cropped, &missing, &mut outcomes)
                .await;
        }
        for (preset, outcome) in presets.iter().zip(&outcomes) {
            if let Some(info) = manifest.variants.get_mut(preset.name.as_str()) {
                info.pregenerated = Some(outcome.text());
            }
        }
        let (mut transient, mut lasting) = (None, None);
        for outcome in outcomes {
            if let Outcome::Failed(e) = outcome {
                let first = if e.is_transient() {
                    &mut transient
                } else {
                    &mut lasting
                };
                first.get_or_insert(e);
            }
        }
        Pregenerated {
            manifest,
            transient,
            lasting,
        }
    }

    /// Renders and stores `missing` from one decode, writing each preset's outcome. Each
    /// preset's formats are encoded as soon as it is composed, while the decode's worker goes
    /// on with the smaller presets.
    async fn render_missing(
        &self,
        key: &ObjectKey,
        original: &Original,
        held: Option<&Bytes>,
        presets: &[&Preset],
        missing: &[Missing],
        outcomes: &mut [Outcome],
    ) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Composition>();
        let composing = self.compose(key, original, held, presets, missing, tx);
        let encoding = async {
            let mut pending = FuturesUnordered::new();
            let mut results: Vec<(usize, Result<(), ServiceError>)> = Vec::new();
            loop {
                tokio::select! {
                    next = rx.recv() => {
                        let Some((i, one, took)) = next else { break };
                        let of_preset = missing.iter().enumerate().filter(|(_, m)| m.preset == i);
                        match one {
                            Ok(composed) => {
                                let composed = Arc::new(composed);
                                for (j, m) in of_preset {
                                    let (composed, name) = (composed.clone(), presets[i].name.as_str());
                                    pending.push(async move {
                                        let stored = self.encode_and_store(m, composed, took, &original.hash, name);
                                        (j, stored.await)
                                    });
                                }
                            }
                            Err(e) => results.extend(of_preset.map(|(j, _)| (j, Err(e.clone().into())))),
                        }
                    }
                    Some(done) = pending.next(), if !pending.is_empty() => results.push(done),
                }
            }
            while let Some(done) = pending.next().await {
                results.push(done);
            }
            results
        };
        let (composed, results) = tokio::join!(composing, encoding);
        for (j, result) in results {
            let preset = missing[j].preset;
            match result {
                Ok(()) if !matches!(outcomes[preset], Outcome::Failed(_)) => {
                    outcomes[preset] = Outcome::Rendered;
                }
                Ok(()) => {}
                Err(e) => outcomes[preset] = Outcome::Failed(e),
            }
        }
        if let Err(e) = composed {
            for m in missing {
                if !matches!(outcomes[m.preset], Outcome::Rendered) {
                    outcomes[m.preset] = Outcome::Failed(e.clone());
                }
            }
        }
    }

    /// Decodes the original once and composes every preset `missing` names, on a worker,
    /// sending each (by its index in `presets`) to `tx` as soon as it is composed, with the
    /// time it took (the decode counts towards the first).
    async fn compose(
        &self,
        key: &ObjectKey,
        original: &Original,
        held: Option<&Bytes>,
        presets: &[&Preset],
        missing: &[Missing],
        tx: mpsc::UnboundedSender<Composition>,
    ) -> Result<(), ServiceError> {
        let wanted: Vec<usize> = (0..presets.len())
            .filter(|i| missing.iter().any(|m| m.preset == *i))
            .collect();
        let chosen: Vec<Preset> = wanted.iter().map(|&i| presets[i].clone()).collect();
        let admitted = self.workers.admit(Patience::Wait).await?;
        let fetched = match held {
            // An upload's own bytes: its hash was just computed from them.
            Some(bytes) => Fetched::Hashed(bytes.clone()),
            None => self.originals.fetch(key, original).await?,
        };
        let (bytes, hashed) = match fetched {
            Fetched::Hashed(bytes) => (bytes, true),
            Fetched::Unchecked(bytes) => (bytes, false),
            Fetched::Replaced => return Err(ServiceError::Changed(key.to_string())),
        };
        let (limits, expected) = (self.settings.limits, original.hash.clone());
        let cost = pipeline::decode_cost(&bytes);
        let job = self.workers.run(admitted, cost, move || {
            // As for a request: filed under the hash of the bytes it was rendered from.
            if !hashed && ContentHash::of(&bytes) != expected {
                return None;
            }
            let refs: Vec<&Preset> = chosen.iter().collect();
            let mut since = Instant::now();
            // A video's poster frame is extracted once for every preset.
            let bytes = match video::viewable(&bytes, &limits) {
                Ok(view) => view,
                Err(e) => return Some(Err(e)),
            };
            Some(batch::compose_each(
                &bytes,
                &refs.iter().map(|p| &p.spec).collect::<Vec<_>>(),
                &limits,
                &mut |i, one| {
                    // The receiver is gone only if the caller was dropped: nothing to tell.
                    let _ = tx.send((wanted[i], one, since.elapsed()));
                    since = Instant::now();
                },
            ))
        });
        match job.await? {
            None => {
                self.originals.distrust(key, original).await;
                Err(ServiceError::Changed(key.to_string()))
            }
            Some(Err(e)) => {
                self.originals.failed(original, &e).await;
                Err(e.into())
            }
            Some(Ok(())) => Ok(()),
        }
    }

    /// Encodes one format of a composed preset on a worker, stores it (before returning, as
    /// pre-generation promises) and keeps it in memory.
    async fn encode_and_store(
        &self,
        missing: &Missing,
        composed: Arc<Composed>,
        share: Duration,
        hash: &ContentHash,
        preset: &str,
    ) -> Result<(), ServiceError> {
        let format = missing.format;
        let admitted = self.workers.admit(Patience::Wait).await?;
        // The composed pixels are the preset's size: nothing to count.
        let job = self.workers.run(admitted, 0, move || {
            let started = Instant::now();
            composed.encode(format).map(|r| (r, started.elapsed()))
        });
        let (rendered, took) = job.await??;
        self.metrics.render(preset, (share + took).as_secs_f64());
        if let Some(p) = self.presets.get(preset) {
            self.count_budget(p, &rendered);
        }
        let variant = Variant {
            bytes: Bytes::from(rendered.bytes),
            format,
            hash: hash.clone(),
            made: Made::OneDecode,
            quality: rendered.quality,
        };
        let (bytes, metadata) = (variant.bytes.clone(), variant.metadata());
        self.storage
            .put(&missing.key, Kind::Variant, bytes, format.mime(), &metadata)
            .await?;
        self.cache_for(&missing.key)
            .insert(missing.key.as_str().to_owned(), Arc::new(variant))
            .await;
        Ok(())
    }

    /// Pre-generates `presets` (none = all) for each of `keys`, a few keys at a time, and
    /// answers per key with the manifest or the error.
    pub async fn pregenerate_many(
        self: &Arc<Self>,
        keys: Vec<String>,
        presets: &[String],
    ) -> Result<Vec<KeyOutcome>, ServiceError> {
        let names = if presets.is_empty() {
            vec!["all".to_owned()]
        } else {
            presets.to_vec()
        };
        self.select_presets(&names)?;
        let limit = Arc::new(Semaphore::new(self.settings.render_workers.max(1)));
        let mut jobs = JoinSet::new();
        for (i, key) in keys.into_iter().enumerate() {
            let (service, names, limit) = (self.clone(), names.clone(), limit.clone());
            jobs.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let result = match service.select_presets(&names) {
                    Ok(presets) => service
                        .pregenerate(&key, &presets)
                        .await
                        .map(|p| p.manifest),
                    Err(e) => Err(e),
                };
                (i, KeyOutcome::new(key, result))
            });
        }
        let mut out = jobs.join_all().await;
        out.sort_by_key(|(i, _)| *i);
        Ok(out.into_iter().map(|(_, o)| o).collect())
    }
}

/// One key's result in a batch.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeyOutcome {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl KeyOutcome {
    fn new(key: String, result: Result<Manifest, ServiceError>) -> Self {
        match result {
            Ok(m) => Self {
                key,
                manifest: Some(m),
                error: None,
            },
            Err(e) => Self {
                key,
                manifest: None,
                error: Some(e.answered()),
            },
        }
    }
}
