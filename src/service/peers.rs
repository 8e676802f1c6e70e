//! Variants between instances ([`crate::peers`]): a non-owner that misses memory asks the
//! variant's owner, and keeps what it gets in a small hot cache of its own (a share of the
//! memory budget), so each variant lives once in the fleet's main memory while the hottest
//! stay a local hit everywhere. Whatever goes wrong with the owner, the asker renders the
//! variant itself: a duplicate render at worst, never a failed request or a stale result
//! (the variant's key names the original's content hash, so any copy of it is current).

use std::sync::Arc;

use moka::future::Cache;
use percent_encoding::utf8_percent_encode;

use crate::keys::{ContentHash, Fingerprint, ObjectKey};
use crate::peers::{Fetched, PeerError, PeerUrl, Peers};
use crate::pipeline::{self, OutputFormat};
use crate::preset::Preset;
use crate::service::error::ServiceError;
use crate::service::manifest::PATH;
use crate::service::variants::{Job, Tier};
use crate::service::{Thumbnails, Variant};

/// The internal route's path for one exact variant:
/// `/_peer/v2/{preset}/{fingerprint}/{ext}/{hash}/{key}`. The fingerprint makes an owner whose
/// preset differs (a rolling edit) answer "not mine" instead of another version's variant.
pub fn peer_path(
    preset: &Preset,
    fingerprint: &Fingerprint,
    format: OutputFormat,
    hash: &ContentHash,
    key: &ObjectKey,
) -> String {
    let key = utf8_percent_encode(key.as_str(), PATH);
    format!(
        "/_peer/v2/{}/{fingerprint}/{}/{hash}/{key}",
        preset.name,
        format.extension()
    )
}

/// What an owner's answer must be for `job`: the format asked for, at the size the preset
/// gives this original (read from the answer's header, so nothing else is ever served or
/// cached under the variant's key).
fn check_answer(fetched: &Fetched, job: &Job<'_>, limits: &pipeline::Limits) -> Result<(), String> {
    if fetched.content_type != job.format.mime() {
        return Err(format!(
            "labelled {}",
            fetched.content_type.chars().take(60).collect::<String>()
        ));
    }
    let probe = pipeline::probe(&fetched.bytes, limits).map_err(|e| e.to_string())?;
    if probe.format.mime() != job.format.mime() {
        return Err(format!(
            "{} bytes labelled {}",
            probe.format,
            job.format.mime()
        ));
    }
    let want = pipeline::output_size(job.original.record.upright(), &job.preset.spec);
    if (probe.width, probe.height) != want {
        return Err(format!(
            "{}x{} where the variant is {}x{}",
            probe.width, probe.height, want.0, want.1
        ));
    }
    Ok(())
}

/// What a peer asks for: one exact variant, as its path names it.
#[derive(Debug, Clone, Copy)]
pub struct PeerAsk<'a> {
    pub preset: &'a str,
    pub fingerprint: &'a str,
    pub format: &'a str,
    pub hash: &'a str,
    pub key: &'a str,
}

impl Thumbnails {
    /// The instances this one shares its variants with, when configured.
    pub fn peers(&self) -> Option<&Arc<Peers>> {
        self.peers.as_ref()
    }

    /// The peer that owns the variant at `key`, unless it is this instance (or there are no
    /// peers).
    pub(super) fn owner_of(&self, key: &ObjectKey) -> Option<PeerUrl> {
        self.peers.as_ref()?.owner_of(key.as_str())
    }

    /// The memory tier a variant at `key` is kept in here: the main one when this instance
    /// owns it, else the hot cache.
    pub(super) fn cache_for(&self, key: &ObjectKey) -> &Cache<String, Arc<Variant>> {
        match self.owner_of(key) {
            Some(_) => &self.hot,
            None => &self.memory,
        }
    }

    /// Asks `owner` for `job`'s variant; `None` when this instance should render it itself.
    pub(super) async fn ask_owner_for(
        &self,
        owner: &PeerUrl,
        job: &Job<'_>,
    ) -> Result<Option<Variant>, ServiceError> {
        let Some(peers) = &self.peers else {
            return Ok(None);
        };
        let fingerprint = &job.crop.fingerprint;
        let path = peer_path(
            job.preset,
            fingerprint,
            job.format,
            &job.original.hash,
            job.key,
        );
        let limits = self.settings.limits;
        match peers
            .fetch(owner, &path, |f| check_answer(f, job, &limits))
            .await
        {
            Ok(fetched) => Ok(Some(Variant {
                made: crate::service::Made::parse(Some(&fetched.made)),
                bytes: fetched.bytes,
                format: job.format,
                hash: job.original.hash.clone(),
                quality: None,
            })),
            // The owner's AVIF is still being made: answer in the next format, as the owner
            // would have.
            Err(PeerError::Answered {
                over_budget: true, ..
            }) => Err(ServiceError::OverBudget(self.settings.avif_budget)),
            Err(e) => {
                tracing::debug!(peer = %owner, error = %e, "rendering here instead");
                Ok(None)
            }
        }
    }

    /// A variant a peer asks for, taking this instance to own it: from memory, the store, or
    /// rendered here once however many ask (never passed on to another peer). `hash` is the
    /// content the asker resolved; when this instance knows other content for the key, the
    /// answer is [`ServiceError::Changed`] and the asker renders for itself.
    pub async fn for_peer(&self, exact: PeerAsk<'_>) -> Result<(Arc<Variant>, Tier), ServiceError> {
        let PeerAsk {
            preset,
            fingerprint,
            format,
            hash,
            key,
        } = exact;
        let preset = self
            .presets
            .get(preset)
            .ok_or_else(|| ServiceError::UnknownPreset(preset.to_owned()))?;
        // The preset's own fingerprint, or it tagged with a focal point (checked against this
        // instance's view of the original below).
        let base = preset.fingerprint().as_str();
        let ours = fingerprint == base
            || fingerprint
                .strip_prefix(base)
                .is_some_and(|tag| tag.starts_with('-'));
        let not_mine = || {
            ServiceError::NotMine(format!(
                "{}.{}",
                preset.name,
                fingerprint.chars().take(40).collect::<String>()
            ))
        };
        if !ours {
            return Err(not_mine());
        }
        let format = OutputFormat::parse(format)
            .ok_or_else(|| ServiceError::UnknownPreset(format!("{}/{format}", preset.name)))?;
        let hash = ContentHash::parse(hash)?;
        let key = self.original_key(key)?;
        self.offered(preset, &key)?;
        let asked = Fingerprint(fingerprint.to_owned());
        let variant_key =
            self.settings
                .layout
                .variant(&key, &hash, &preset.name, &asked, format.extension());
        if let Some(v) = self.memory.get(variant_key.as_str()).await {
            return Ok((v, Tier::Memory));
        }
        let original = self.originals.resolve(&key).await?;
        if original.hash != hash {
            return Err(ServiceError::Changed(key.to_string()));
        }
        let crop = self.crop_of(preset, &key, &original).await?;
        if crop.fingerprint != asked {
            // This instance places the crop elsewhere (a focal point it has not seen move).
            return Err(not_mine());
        }
        let job = Job {
            key: &key,
            variant_key: &variant_key,
            original: &original,
            preset,
            crop: &crop,
            format,
        };
        let deadline = self.settings.request_timeout;
        tokio::time::timeout(deadline, self.cached_or_rendered(job, false))
            .await
            .unwrap_or(Err(ServiceError::Deadline(deadline)))
    }
}
