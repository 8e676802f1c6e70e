//! A real S3 server in process (s3s + s3s-fs with SigV4 auth on, port 0), with an SDK
//! client to look at the bucket as any other tool would.

#![allow(dead_code)]

use super::app::*;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use std::path::PathBuf;
use std::sync::Arc;
use thumbkit::storage::{S3Location, S3Options, S3Store, Store};

/// A real S3 server (s3s-fs) on 127.0.0.1, with SigV4 auth on and one bucket, [`BUCKET`].
#[derive(Clone)]
pub struct S3Server {
    pub endpoint: String,
    pub root: PathBuf,
    /// An SDK client for the test's own puts and checks.
    pub client: aws_sdk_s3::Client,
    /// The one bucket it holds.
    pub bucket: String,
    /// The only credentials it accepts (besides a policy's): key id and secret.
    pub access: (String, String),
}

impl S3Server {
    /// Starts a server over a fresh directory and creates [`BUCKET`].
    pub async fn start(tag: &str) -> Self {
        Self::start_with(tag, None).await
    }

    /// [`Self::start`], and with a policy: requests signed with
    /// [`policy::APP_KEY`](super::policy::APP_KEY) get only what it allows.
    pub async fn start_with(tag: &str, policy: Option<super::policy::Policy>) -> Self {
        Self::start_as(tag, policy, BUCKET, (ACCESS_KEY, SECRET_KEY)).await
    }

    /// A server holding `bucket` that accepts only `access` (key id, secret) and a policy's.
    pub async fn start_as(
        tag: &str,
        policy: Option<super::policy::Policy>,
        bucket: &str,
        access: (&str, &str),
    ) -> Self {
        let root = temp_dir(&format!("s3-{tag}"));
        let fs = s3s_fs::FileSystem::new(&root).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        let mut auth = s3s::auth::SimpleAuth::from_single(access.0, access.1);
        if let Some(policy) = policy {
            auth.register(
                super::policy::APP_KEY.into(),
                super::policy::APP_SECRET.into(),
            );
            builder.set_access(super::policy::PolicyAccess(policy));
        }
        builder.set_auth(auth);
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let service = service.clone();
                tokio::spawn(async move {
                    let builder = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    );
                    let _ = builder
                        .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        let endpoint = format!("http://{addr}");
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(access.0, access.1, None, None, "test"))
            .force_path_style(true)
            .build();
        let client = aws_sdk_s3::Client::from_conf(config);
        client.create_bucket().bucket(bucket).send().await.unwrap();
        Self {
            endpoint,
            root,
            client,
            bucket: bucket.to_owned(),
            access: (access.0.to_owned(), access.1.to_owned()),
        }
    }

    /// thumbkit's options for this server.
    pub fn options(&self) -> S3Options {
        S3Options {
            endpoint_url: Some(self.endpoint.clone()),
            path_style: Some(true),
            region: Some("us-east-1".into()),
            credentials: Some((self.access.0.clone(), self.access.1.clone())),
            profile: None,
        }
    }

    /// A thumbkit store over `s3://photos/{prefix}`.
    pub async fn store(&self, prefix: &str) -> Arc<dyn Store> {
        let location = S3Location::parse(&format!("{}/{prefix}", self.bucket)).unwrap();
        Arc::new(S3Store::connect(location, self.options()).await)
    }

    /// The server's address (for a proxy in front of it).
    pub fn addr(&self) -> std::net::SocketAddr {
        self.endpoint.trim_start_matches("http://").parse().unwrap()
    }

    /// A thumbkit store over the whole bucket, reached through `via` (a proxy's address).
    pub async fn store_via(&self, via: std::net::SocketAddr) -> Arc<dyn Store> {
        let options = S3Options {
            endpoint_url: Some(format!("http://{via}")),
            ..self.options()
        };
        let location = S3Location::parse(&self.bucket).unwrap();
        Arc::new(S3Store::connect(location, options).await)
    }

    /// Puts an object with the SDK, as any uploader would (no thumbkit metadata).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .unwrap();
    }

    /// An object's bytes and content type, or `None`.
    pub async fn get(&self, key: &str) -> Option<(Vec<u8>, String)> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        let content_type = out.content_type().unwrap_or_default().to_owned();
        let bytes = out.body.collect().await.ok()?.into_bytes().to_vec();
        Some((bytes, content_type))
    }

    /// How many rendered variants the bucket holds (records and staged uploads left out).
    pub async fn variants(&self) -> usize {
        let keys = self.keys("_variants/").await;
        keys.iter().filter(|k| super::app::is_variant(k)).count()
    }

    /// Every key in the bucket under `prefix` (every page of the listing).
    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.unwrap();
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        keys.sort();
        keys
    }
}
