//! S3 and S3-compatible stores (MinIO, Garage, R2, ...) through `aws-sdk-s3`, configured the
//! way AWS users expect: the standard credential chain and `AWS_*` variables
//! (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`,
//! `AWS_ENDPOINT_URL`, ...), with explicit [`S3Options`] taking precedence.
//!
//! Every key is placed under the location's prefix, and keys are [`ObjectKey`]s, so no
//! request reaches outside `s3://bucket/prefix/`.

mod errors;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::store::{Object, ObjectInfo, Store, StoreError};
use crate::keys::ObjectKey;

/// Region used when neither the options nor the environment name one (S3-compatible
/// servers mostly accept it; AWS redirects to the bucket's region).
const FALLBACK_REGION: &str = "us-east-1";

/// A bucket and an optional key prefix: `s3://BUCKET[/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
}

impl S3Location {
    /// Parses `BUCKET[/PREFIX]` (what follows `s3://`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (bucket, prefix) = s.split_once('/').unwrap_or((s, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid_bucket {
            return Err(format!(
                "`{bucket}` is not a bucket name (3-63 lowercase letters, digits, dots, hyphens)"
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() {
            ObjectKey::parse(prefix).map_err(|e| format!("the prefix `{prefix}`: {e}"))?;
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        })
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The prefix, empty or ending with `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// Settings that override the environment's (each `None` leaves the standard chain's).
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// e.g. `http://127.0.0.1:3900` for a local Garage (else `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// Path-style URLs (`endpoint/bucket/key`). Default: on when a custom endpoint is set,
    /// which is what MinIO, Garage and most S3-compatible servers need.
    pub path_style: Option<bool>,
    pub region: Option<String>,
    /// Static access key id and secret (else the credential chain).
    pub credentials: Option<(String, String)>,
    /// A named profile of the AWS config files (`~/.aws/config`, `~/.aws/credentials`)
    /// whose credentials, region and endpoint this store uses, whatever `AWS_*` says: how
    /// each of several sources gets its own.
    pub profile: Option<String>,
}

/// A store in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    location: S3Location,
    endpoint: String,
}

impl S3Store {
    /// A client for `location` from the standard AWS configuration plus `options`.
    /// Makes no request; [`Store::check`] tells whether the bucket is reachable.
    pub async fn connect(location: S3Location, options: S3Options) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &options.profile {
            // The default chains read `AWS_ACCESS_KEY_ID` and `AWS_REGION` before any
            // profile, which would give every source the default store's identity.
            use aws_config::profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider};
            loader = loader
                .profile_name(profile)
                .credentials_provider(
                    ProfileFileCredentialsProvider::builder()
                        .profile_name(profile)
                        .build(),
                )
                .region(
                    aws_config::meta::region::RegionProviderChain::first_try(
                        ProfileFileRegionProvider::builder()
                            .profile_name(profile)
                            .build(),
                    )
                    .or_default_provider(),
                );
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some((id, secret)) = &options.credentials {
            loader = loader.credentials_provider(Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "thumbkit",
            ));
        }
        let shared = loader.load().await;
        let endpoint = shared.endpoint_url().map(str::to_owned);
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(options.path_style.unwrap_or(endpoint.is_some()));
        if shared.region().is_none() {
            config = config.region(Region::new(FALLBACK_REGION));
        }
        if endpoint.is_some() {
            // Many S3-compatible servers reject the SDK's newer default checksum headers.
            config = config
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        Self {
            client: Client::from_conf(config.build()),
            // Shown in errors and logs: without a password the endpoint URL may carry.
            endpoint: endpoint.map_or_else(|| "AWS S3".into(), |e| crate::secrets::redact_url(&e)),
            location,
        }
    }

    /// The SDK client (for tools and tests that talk to the same bucket).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The object key in the bucket for `key`.
    pub fn full_key(&self, key: &ObjectKey) -> String {
        format!("{}{}", self.location.prefix, key.as_str())
    }
}

fn info(
    size: Option<i64>,
    etag: Option<&str>,
    metadata: Option<&HashMap<String, String>>,
    modified: Option<&aws_sdk_s3::primitives::DateTime>,
) -> ObjectInfo {
    ObjectInfo {
        modified: modified.and_then(|d| u64::try_from(d.secs()).ok()),
        size: size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
        etag: etag.unwrap_or_default().trim_matches('"').to_owned(),
        metadata: metadata
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_lowercase(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[async_trait::async_trait]
impl Store for S3Store {
    async fn get(&self, key: &ObjectKey) -> Result<Option<Object>, StoreError> {
        let full = self.full_key(key);
        let out = match self
            .client
            .get_object()
            .bucket(&self.location.bucket)
            .key(&full)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if Self::not_found(&e) => return Ok(None),
            Err(e) => return Err(self.error("get", &full, e)),
        };
        let info = info(
            out.content_length(),
            out.e_tag(),
            out.metadata(),
            out.last_modified(),
        );
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unreachable(format!("reading `{full}`: {e}")))?
            .into_bytes();
        Ok(Some(Object { bytes, info }))
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StoreError> {
        let full = self.full_key(key);
        match self
            .client
            .head_object()
            .bucket(&self.location.bucket)
            .key(&full)
            .send()
            .await
        {
            Ok(out) => Ok(Some(info(
                out.content_length(),
                out.e_tag(),
                out.metadata(),
                out.last_modified(),
            ))),
            Err(e) if Self::not_found(&e) => Ok(None),
            Err(e) => Err(self.error("head", &full, e)),
        }
    }

    async fn put(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        content_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<String, StoreError> {
        let full = self.full_key(key);
        let mut put = self
            .client
            .put_object()
            .bucket(&self.location.bucket)
            .key(&full)
            .body(ByteStream::from(bytes));
        if !content_type.is_empty() {
            put = put.content_type(content_type);
        }
        for (k, v) in metadata {
            put = put.metadata(k, v);
        }
        put.send()
            .await
            .map(|out| out.e_tag().unwrap_or_default().trim_matches('"').to_owned())
            .map_err(|e| self.error("put", &full, e))
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let full = self.full_key(key);
        match self
            .client
            .delete_object()
            .bucket(&self.location.bucket)
            .key(&full)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if Self::not_found(&e) => Ok(()),
            Err(e) => Err(self.error("delete", &full, e)),
        }
    }

    async fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        size: u64,
        ttl: std::time::Duration,
    ) -> Result<Option<String>, StoreError> {
        let full = self.full_key(key);
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl).map_err(|e| {
            StoreError::Backend {
                op: "presign",
                key: full.clone(),
                message: e.to_string(),
            }
        })?;
        let presigned = self
            .client
            .put_object()
            .bucket(&self.location.bucket)
            .key(&full)
            .content_type(content_type)
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .presigned(config)
            .await
            .map_err(|e| self.error("presign", &full, e))?;
        Ok(Some(presigned.uri().to_owned()))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        let full = format!("{}{prefix}", self.location.prefix);
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.location.bucket)
            .prefix(&full)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error("list", &full, e))?;
            for object in page.contents() {
                let relative = object
                    .key()
                    .and_then(|k| k.strip_prefix(self.location.prefix.as_str()));
                // Keys thumbkit could not have written (e.g. with `..`) are not its business.
                if let Some(key) = relative.and_then(|k| ObjectKey::parse(k).ok()) {
                    keys.push(key);
                }
            }
        }
        Ok(keys)
    }

    async fn server_time(&self) -> Option<std::time::SystemTime> {
        // Any answer carries `Date`, a refusal too: a HEAD of a key that does not exist.
        let key = format!(
            "{}_doctor/clock-{}",
            self.location.prefix,
            std::process::id()
        );
        let date = match self
            .client
            .head_object()
            .bucket(&self.location.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => return None,
            Err(e) => e.raw_response()?.headers().get("date").map(str::to_owned)?,
        };
        httpdate::parse_http_date(&date).ok()
    }

    async fn check(&self) -> Result<(), StoreError> {
        match self
            .client
            .head_bucket()
            .bucket(&self.location.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // HEAD has no body, so a missing bucket is a bare 404.
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => {
                Err(StoreError::NoBucket(self.location.bucket.clone()))
            }
            Err(e) => {
                let headless = self.error("check", &self.location.bucket, e);
                if matches!(
                    headless,
                    StoreError::Unreachable(_)
                        | StoreError::Overloaded { .. }
                        | StoreError::WrongRegion { .. }
                ) {
                    return Err(headless);
                }
                // A HEAD's error has no body, so no code or message ("HTTP 400"): a GET of
                // the same bucket gets the error document that says what is wrong.
                let listed = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.location.bucket)
                    .prefix(&self.location.prefix)
                    .max_keys(1)
                    .send()
                    .await;
                match listed {
                    Ok(_) => Err(headless),
                    Err(e) => Err(self.error("check", &self.location.bucket, e)),
                }
            }
        }
    }

    fn key_for_event(&self, bucket: &str, key: &str) -> Option<ObjectKey> {
        if bucket != self.location.bucket {
            return None;
        }
        ObjectKey::parse(key.strip_prefix(self.location.prefix.as_str())?).ok()
    }

    fn describe(&self) -> String {
        format!("s3://{}/{}", self.location.bucket, self.location.prefix)
    }
}
