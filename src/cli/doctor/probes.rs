//! `thumbkit doctor`'s probes of each store: a PUT, HEAD, GET, LIST and DELETE of a probe
//! object in thumbkit's folder of the default store and of every source, each with its own
//! credentials, and the default store's keys that a source's name hides.

use std::time::Duration;

use bytes::Bytes;
use thumbkit::config::StoreConfig;
use thumbkit::keys::ObjectKey;
use thumbkit::storage::{StorageSpec, Store};

use super::report::Report;

/// Warns of the default store's keys that begin with a source's name and `:`: URLs spell
/// those as the source's keys, so the originals cannot be reached.
pub(super) async fn hidden_keys(config: &StoreConfig, report: &mut Report) {
    if config.sources.is_empty() {
        return;
    }
    let alone = StoreConfig {
        sources: Vec::new(),
        ..config.clone()
    };
    let Ok(default) = thumbkit::startup::open_store(&alone).await else {
        return;
    };
    for source in &config.sources {
        let prefix = format!("{}:", source.name);
        let listed = tokio::time::timeout(config.timeout, default.list(&prefix)).await;
        if let Ok(Ok(keys)) = listed
            && let Some(first) = keys.first()
        {
            let what = format!(
                "the default store has {} keys beginning `{prefix}` (such as `{first}`), \
                 which URLs now name as the source {}'s keys",
                keys.len(),
                source.name
            );
            let fix = format!("move them, or give the source {} another name", source.name);
            report.warn("sources", what, fix);
        }
    }
}

/// One store whose permissions are probed: the default one or a source.
#[derive(Clone, Copy)]
pub(super) struct Probed<'a> {
    pub(super) name: Option<&'a thumbkit::keys::SourceName>,
    pub(super) spec: &'a StorageSpec,
    /// thumbkit's folder in it.
    pub(super) prefix: &'a str,
}

impl Probed<'_> {
    /// A check's label: `PUT`, or `PUT docs` for the source `docs`.
    fn label(&self, what: &str) -> String {
        match self.name {
            Some(name) => format!("{what} {name}"),
            None => what.to_owned(),
        }
    }
}

/// PUT, HEAD, GET, LIST and DELETE of a probe object in thumbkit's own folder, as serving
/// needs them (variants written and read, a bucket listed, purges).
pub(super) async fn permissions(
    store: &dyn Store,
    probed: Probed<'_>,
    t: Duration,
    report: &mut Report,
) {
    let folder = match probed.name {
        Some(name) => format!("{name}:{}/_doctor/", probed.prefix),
        None => format!("{}/_doctor/", probed.prefix),
    };
    // A fresh name from the CSPRNG, so concurrent doctors never touch each other's probe.
    let nonce = thumbkit::signing::random_hex(16);
    let Ok(key) = ObjectKey::parse(&format!("{folder}probe-{nonce}")) else {
        report.fail(
            "permissions",
            "no probe key",
            "fix THUMBKIT_VARIANTS_PREFIX",
        );
        return;
    };
    let body = Bytes::from(format!("thumbkit doctor {nonce}\n"));
    let grants = Grants(probed);
    let label = |what: &str| probed.label(what);
    let (need, prefixed) = (
        |a: &str, on: &str| grants.need(a, on),
        |r: &str| grants.prefixed(r),
    );
    let timed = |r: Result<Result<(), String>, tokio::time::error::Elapsed>| {
        r.unwrap_or_else(|_| Err(format!("no answer within {t:?}")))
    };
    let empty = Default::default();
    let put = tokio::time::timeout(t, store.put(&key, body.clone(), "text/plain", &empty)).await;
    match timed(put.map(|r| r.map(|_| ()).map_err(|e| e.to_string()))) {
        Ok(()) => report.ok(&label("PUT"), format!("wrote {key}")),
        Err(e) => {
            let fix = need("s3:PutObject", &prefixed("/*"));
            report.fail(&label("PUT"), e, fix);
            // Nothing was written: the other probes have nothing to read.
            return;
        }
    }
    let head = tokio::time::timeout(t, store.head(&key)).await;
    match timed(head.map(|r| match r {
        Ok(Some(info)) if info.size == body.len() as u64 => Ok(()),
        Ok(Some(info)) => Err(format!("it is {} bytes, not {}", info.size, body.len())),
        Ok(None) => Err("the object just written is not there".into()),
        Err(e) => Err(e.to_string()),
    })) {
        Ok(()) => report.ok(&label("HEAD"), "sees it"),
        Err(e) => report.fail(&label("HEAD"), e, need("s3:GetObject", &prefixed("/*"))),
    }
    let get = tokio::time::timeout(t, store.get(&key)).await;
    match timed(get.map(|r| match r {
        Ok(Some(o)) if o.bytes == body => Ok(()),
        Ok(Some(_)) => Err("read back different bytes".into()),
        Ok(None) => Err("the object just written is not there".into()),
        Err(e) => Err(e.to_string()),
    })) {
        Ok(()) => report.ok(&label("GET"), "reads it back"),
        Err(e) => report.fail(&label("GET"), e, need("s3:GetObject", "/*")),
    }
    let list = tokio::time::timeout(t, store.list(&folder)).await;
    match timed(list.map(|r| match r {
        Ok(keys) if keys.contains(&key) => Ok(()),
        Ok(_) => Err(format!("listing {folder} does not show it")),
        Err(e) => Err(e.to_string()),
    })) {
        Ok(()) => report.ok(&label("LIST"), format!("lists {folder}")),
        Err(e) => report.fail(&label("LIST"), e, need("s3:ListBucket", "")),
    }
    let delete = tokio::time::timeout(t, store.delete(&key)).await;
    match timed(delete.map(|r| r.map_err(|e| e.to_string()))) {
        Ok(()) => report.ok(&label("DELETE"), "deletes it"),
        Err(e) => report.fail(
            &label("DELETE"),
            format!("{e} (the probe {key} is left behind)"),
            need("s3:DeleteObject", &prefixed("/*")),
        ),
    }
}

/// What to grant, in the words of the user's store.
struct Grants<'a>(Probed<'a>);

impl Grants<'_> {
    /// "grant `action` on the bucket's `on`" (S3), or the folder to make writable (fs).
    fn need(&self, action: &str, on: &str) -> String {
        match self.0.spec {
            StorageSpec::S3(l) => format!(
                "grant {action} on arn:aws:s3:::{}{on} (deploy/iam-policy.json)",
                l.bucket()
            ),
            StorageSpec::Fs(root) => format!(
                "let thumbkit's user write to {}",
                root.join(self.0.prefix).display()
            ),
        }
    }

    /// `rest` under the store's prefix and thumbkit's folder (S3), for an ARN.
    fn prefixed(&self, rest: &str) -> String {
        match self.0.spec {
            StorageSpec::S3(l) => format!("/{}{}{rest}", l.prefix(), self.0.prefix),
            StorageSpec::Fs(_) => String::new(),
        }
    }
}
