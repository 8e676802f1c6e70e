//! Several buckets behind one service (`THUMBKIT_SOURCES`): each [`SourceSpec`] names a
//! store beside the default one, and [`Sources`] is the one [`Store`] the service sees,
//! sending `docs:scans/a.pdf` to the `docs` store as `scans/a.pdf` and every other key to
//! the default store. A key can only name a configured source, so no request reaches a
//! bucket that is not configured.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::s3::S3Options;
use super::spec::StorageSpec;
use super::store::{Object, ObjectInfo, Store, StoreError};
use crate::keys::{ObjectKey, SourceName, split_source};

/// One entry of `THUMBKIT_SOURCES`: `NAME=s3://BUCKET[/PREFIX][?profile=P&region=R&endpoint=URL]`
/// or `NAME=fs:PATH`.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub name: SourceName,
    pub spec: StorageSpec,
    /// Its own profile, region and endpoint; `None`s fall back to the AWS chain.
    pub s3: S3Options,
}

impl SourceSpec {
    /// Parses the comma-separated list; names must be distinct.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, String> {
        let mut out: Vec<Self> = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let source = Self::parse(entry)?;
            if out.iter().any(|s| s.name == source.name) {
                return Err(format!("the source `{}` is named twice", source.name));
            }
            out.push(source);
        }
        Ok(out)
    }

    /// Parses one `NAME=LOCATION[?OPTIONS]`.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let Some((name, location)) = entry.split_once('=') else {
            return Err(format!(
                "`{}` is not NAME=s3://BUCKET[/PREFIX] (e.g. docs=s3://private-docs/scans)",
                entry.chars().take(80).collect::<String>()
            ));
        };
        let name = SourceName::parse(name.trim())?;
        let (location, options) = location.split_once('?').unwrap_or((location, ""));
        let spec = StorageSpec::parse(location.trim()).map_err(|e| format!("{name}: {e}"))?;
        let mut s3 = S3Options::default();
        for pair in options.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.is_empty() || matches!(spec, StorageSpec::Fs(_)) {
                return Err(format!(
                    "{name}: `{}` is not an option of an s3:// source (profile=, region=, endpoint=)",
                    pair.chars().take(60).collect::<String>()
                ));
            }
            match key {
                "profile" => s3.profile = Some(value.to_owned()),
                "region" => s3.region = Some(value.to_owned()),
                "endpoint" if value.starts_with("http://") || value.starts_with("https://") => {
                    s3.endpoint_url = Some(value.to_owned());
                }
                _ => {
                    return Err(format!(
                        "{name}: `{}` is not one of profile=NAME, region=NAME, endpoint=http(s)://...",
                        crate::secrets::redact_url(pair)
                    ));
                }
            }
        }
        Ok(Self { name, spec, s3 })
    }

    /// As it would be written, without options (for logs).
    pub fn describe(&self) -> String {
        format!("{}={}", self.name, self.spec.describe())
    }
}

/// The default store and the configured sources, as one [`Store`].
#[derive(Debug)]
pub struct Sources {
    default: Arc<dyn Store>,
    named: BTreeMap<String, Arc<dyn Store>>,
    /// The sources in a bucket, which S3 events can name (a directory has no events).
    buckets: Vec<String>,
}

impl Sources {
    /// `default` and each opened source.
    pub fn new(default: Arc<dyn Store>, named: Vec<(SourceSpec, Arc<dyn Store>)>) -> Self {
        let buckets = (named.iter())
            .filter(|(spec, _)| matches!(spec.spec, StorageSpec::S3(_)))
            .map(|(spec, _)| spec.name.as_str().to_owned())
            .collect();
        let named = named
            .into_iter()
            .map(|(spec, s)| (spec.name.as_str().to_owned(), s))
            .collect();
        Self {
            default,
            named,
            buckets,
        }
    }

    /// The store that holds `key` and the key in it.
    fn route(&self, key: &ObjectKey) -> Result<(&Arc<dyn Store>, ObjectKey), StoreError> {
        match split_source(key.as_str(), |n| self.named.contains_key(n)) {
            Some((name, rest)) => {
                let store = &self.named[name];
                let rest = ObjectKey::parse(rest).map_err(|e| StoreError::Conflict {
                    key: key.to_string(),
                    reason: e.to_string(),
                })?;
                Ok((store, rest))
            }
            None => Ok((&self.default, key.clone())),
        }
    }
}

#[async_trait::async_trait]
impl Store for Sources {
    async fn get(&self, key: &ObjectKey) -> Result<Option<Object>, StoreError> {
        let (store, key) = self.route(key)?;
        store.get(&key).await
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError> {
        let (store, key) = self.route(key)?;
        store.head(&key).await
    }

    async fn put(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<String, StoreError> {
        let (store, key) = self.route(key)?;
        store.put(&key, bytes, content_type, metadata).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let (store, key) = self.route(key)?;
        store.delete(&key).await
    }

    async fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        size: u64,
        ttl: Duration,
    ) -> Result<Option<String>, StoreError> {
        let (store, key) = self.route(key)?;
        store.presign_put(&key, content_type, size, ttl).await
    }

    /// `docs:scans/` lists the `docs` store under `scans/`; any other prefix, the default.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        let Some((name, rest)) = split_source(prefix, |n| self.named.contains_key(n)) else {
            return self.default.list(prefix).await;
        };
        let keys = self.named[name].list(rest).await?;
        Ok(keys
            .iter()
            .filter_map(|k| ObjectKey::parse(&format!("{name}:{k}")).ok())
            .collect())
    }

    /// The default store's check. Each source was checked when it was opened (a source that
    /// cannot be read fails the start); afterwards one bucket's outage fails only its own
    /// requests (503), and must not take the instance out of a load balancer's rotation
    /// while it serves the other buckets.
    async fn check(&self) -> Result<(), StoreError> {
        self.default.check().await
    }

    fn describe(&self) -> String {
        let named: Vec<String> = (self.named.iter())
            .map(|(n, s)| format!("{n}={}", s.describe()))
            .collect();
        format!(
            "{} (sources: {})",
            self.default.describe(),
            named.join(", ")
        )
    }

    async fn server_time(&self) -> Option<std::time::SystemTime> {
        self.default.server_time().await
    }

    /// The store whose bucket and prefix hold the object, the most specific one (the
    /// longest prefix) when several do; the key comes back with its source's name.
    fn key_for_event(&self, bucket: &str, key: &str) -> Option<ObjectKey> {
        let default = self.default.key_for_event(bucket, key).map(|k| (None, k));
        let named = (self.named.iter())
            .filter(|(n, _)| self.buckets.contains(n))
            .filter_map(|(n, s)| s.key_for_event(bucket, key).map(|k| (Some(n), k)));
        // A source wins a tie with the default store (a directory takes any bucket's event).
        let (name, rest) = named.chain(default).min_by_key(|(_, k)| k.as_str().len())?;
        match name {
            Some(name) => ObjectKey::parse(&format!("{name}:{rest}")).ok(),
            None => Some(rest),
        }
    }
}
