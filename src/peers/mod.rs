//! Instances that share one bucket, and which of them owns a variant: each variant key has
//! one owner among the live peers by rendezvous (highest-random-weight) hashing, so every
//! instance agrees on it without talking, and a change of peers moves only the keys of the
//! peer that came or went. A non-owner that misses memory asks the owner ([`client`]); the
//! owner serves from its memory, the store, or renders once. A peer that does not answer is
//! taken to be down for a while, and its keys go to the next peer in their ranking.
//!
//! Peers come from configuration only (`THUMBKIT_PEERS`: URLs, or `dns:NAME:PORT` resolved
//! periodically), never from a request.

pub mod auth;
pub mod client;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

pub use auth::{Answer, PeerAuthError, PeerSecret};
pub use client::{Fetched, PeerError};

use crate::metrics::Metrics;

/// The share of `THUMBKIT_MEMORY_CACHE` that holds variants fetched from their owners, in
/// eighths (like groupcache's hot cache, an eighth of the memory budget).
pub const HOT_SHARE_EIGHTHS: u64 = 1;

/// How often `dns:` peers are looked up again.
pub const DNS_REFRESH: Duration = Duration::from_secs(10);

/// A peer's base URL: `http://HOST:PORT`, nothing after it (normalised, so that every
/// instance hashes the same string for the same peer).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerUrl(String);

impl PeerUrl {
    /// `http://host[:port][/]`; https, paths, queries and credentials are refused (peers talk
    /// plain HTTP on the private network, authenticated by the shared secret).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let rest = s
            .strip_prefix("http://")
            .ok_or_else(|| format!("peer `{s}` must start with http://"))?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty()
            || authority.contains(['/', '?', '#', '@'])
            || authority
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "peer `{s}` must be http://HOST:PORT, with no path or credentials"
            ));
        }
        let with_port = if authority.rsplit_once(':').is_some_and(|(_, p)| {
            !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && !p.contains(']')
        }) {
            authority.to_ascii_lowercase()
        } else {
            format!("{}:80", authority.to_ascii_lowercase())
        };
        Ok(Self(format!("http://{with_port}")))
    }

    /// The URL of a listen address.
    pub fn of_addr(addr: SocketAddr) -> Self {
        Self(format!("http://{addr}"))
    }

    /// `http://host:port`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PeerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the peers come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerSource {
    /// A fixed list (the instance's own URL among them).
    List(Vec<PeerUrl>),
    /// Every address `NAME` resolves to, on `PORT` (a Kubernetes headless service).
    Dns { name: String, port: u16 },
}

impl PeerSource {
    /// `http://a:8080,http://b:8080` or `dns:NAME:PORT`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(dns) = s.trim().strip_prefix("dns:") {
            let (name, port) = dns
                .rsplit_once(':')
                .ok_or("`dns:` peers need a port: dns:NAME:PORT")?;
            let port = port
                .parse()
                .map_err(|_| format!("`{port}` is not a port (dns:NAME:PORT)"))?;
            if name.is_empty() || name.contains(['/', ' ']) {
                return Err(format!("`{name}` is not a host name (dns:NAME:PORT)"));
            }
            return Ok(Self::Dns {
                name: name.to_owned(),
                port,
            });
        }
        let mut urls: Vec<PeerUrl> = s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(PeerUrl::parse)
            .collect::<Result<_, _>>()?;
        urls.sort();
        urls.dedup();
        if urls.is_empty() {
            return Err("no peers given".into());
        }
        Ok(Self::List(urls))
    }
}

/// How this instance finds and talks to its peers.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    pub source: PeerSource,
    /// This instance's own URL, as the others know it.
    pub me: PeerUrl,
    pub secret: PeerSecret,
    /// Longest a peer may take to answer before this instance renders the variant itself.
    pub timeout: Duration,
    /// How long a peer that did not answer is left out of the ranking.
    pub down_for: Duration,
}

/// One peer, and until when it is taken to be down (ms since the [`Peers`] began; 0: up).
#[derive(Debug)]
struct Member {
    url: PeerUrl,
    down_until: AtomicU64,
}

/// The live view of the peers, shared by the requests.
pub struct Peers {
    me: PeerUrl,
    members: RwLock<Arc<Vec<Arc<Member>>>>,
    secret: PeerSecret,
    timeout: Duration,
    down_for: Duration,
    started: Instant,
    client: client::Client,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers")
            .field("me", &self.me)
            .field("members", &self.urls())
            .finish_non_exhaustive()
    }
}

/// The rendezvous weight of `peer` for `key`: the same on every instance.
fn weight(peer: &PeerUrl, key: &str) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(peer.as_str().as_bytes());
    hasher.update(&[0]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

impl Peers {
    /// The peers of `config` (a `dns:` source starts with this instance alone and is looked
    /// up at once and then every [`DNS_REFRESH`], for as long as the returned value lives).
    pub fn start(config: &PeerConfig, metrics: Arc<Metrics>) -> Arc<Self> {
        let initial = match &config.source {
            PeerSource::List(urls) => urls.clone(),
            PeerSource::Dns { .. } => vec![config.me.clone()],
        };
        let peers = Arc::new(Self {
            me: config.me.clone(),
            members: RwLock::new(Arc::new(Vec::new())),
            secret: config.secret.clone(),
            timeout: config.timeout,
            down_for: config.down_for,
            started: Instant::now(),
            client: client::Client::new(),
            metrics,
        });
        peers.set(initial);
        if let PeerSource::Dns { name, port } = &config.source
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(refresh_dns(Arc::downgrade(&peers), name.clone(), *port));
        }
        peers
    }

    /// Replaces the peer list (this instance is always in it); peers that stay keep their
    /// down marks.
    pub fn set(&self, mut urls: Vec<PeerUrl>) {
        if !urls.contains(&self.me) {
            urls.push(self.me.clone());
        }
        urls.sort();
        urls.dedup();
        let old = self.snapshot();
        let members = urls
            .into_iter()
            .map(|url| {
                old.iter()
                    .find(|m| m.url == url)
                    .cloned()
                    .unwrap_or_else(|| {
                        Arc::new(Member {
                            url,
                            down_until: AtomicU64::new(0),
                        })
                    })
            })
            .collect();
        if let Ok(mut guard) = self.members.write() {
            *guard = Arc::new(members);
        }
    }

    fn snapshot(&self) -> Arc<Vec<Arc<Member>>> {
        self.members
            .read()
            .map(|m| m.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Every peer's URL, this instance's included.
    pub fn urls(&self) -> Vec<PeerUrl> {
        self.snapshot().iter().map(|m| m.url.clone()).collect()
    }

    /// This instance's URL.
    pub fn me(&self) -> &PeerUrl {
        &self.me
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The peer that owns `key` among those not taken to be down, or `None` when it is this
    /// instance.
    pub fn owner_of(&self, key: &str) -> Option<PeerUrl> {
        let now = self.now_ms();
        let members = self.snapshot();
        let owner = members
            .iter()
            .filter(|m| m.url == self.me || m.down_until.load(Ordering::Relaxed) <= now)
            .max_by_key(|m| (weight(&m.url, key), m.url.clone()))?;
        (owner.url != self.me).then(|| owner.url.clone())
    }

    /// Leaves `peer` out of the ranking for a while.
    fn mark_down(&self, peer: &PeerUrl) {
        let until = self
            .now_ms()
            .saturating_add(u64::try_from(self.down_for.as_millis()).unwrap_or(u64::MAX));
        if let Some(m) = self.snapshot().iter().find(|m| &m.url == peer) {
            m.down_until.store(until, Ordering::Relaxed);
        }
        tracing::warn!(peer = %peer, down_for = ?self.down_for, "a peer did not answer; rendering its variants here meanwhile");
    }

    /// Checks a peer request's `X-Thumbkit-Peer` header for a `GET` of `path` sent to this
    /// instance; returns the nonce its answer must be tagged with.
    pub fn verify(&self, header: Option<&str>, path: &str) -> Result<String, PeerAuthError> {
        self.secret
            .verify(header, self.me.as_str(), path, crate::signing::now())
    }

    /// The `X-Thumbkit-Peer-Answer` tag of an answer to the request with `nonce` for `path`.
    pub fn answer_tag(&self, nonce: &str, path: &str, answer: Answer<'_>) -> String {
        self.secret.answer_tag(nonce, path, answer)
    }

    /// GETs `path` from `owner` and checks that the answer is the owner's, to this request,
    /// and passes `check` (what the variant must be); a peer that cannot be reached or does
    /// not answer in time is marked down. Every outcome is counted.
    pub async fn fetch(
        &self,
        owner: &PeerUrl,
        path: &str,
        check: impl FnOnce(&Fetched) -> Result<(), String>,
    ) -> Result<Fetched, PeerError> {
        let result = self
            .fetch_checked(owner, path)
            .await
            .and_then(|fetched| match check(&fetched) {
                Ok(()) => Ok(fetched),
                Err(why) => {
                    tracing::warn!(peer = %owner, %why, "a peer answered something else than the variant asked for; rendering here");
                    Err(PeerError::Rejected(why))
                }
            });
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => {
                if e.means_down() {
                    self.mark_down(owner);
                }
                e.outcome()
            }
        };
        self.metrics.peer_request(outcome);
        result
    }

    async fn fetch_checked(&self, owner: &PeerUrl, path: &str) -> Result<Fetched, PeerError> {
        let (auth, nonce) = self
            .secret
            .sign(owner.as_str(), path, crate::signing::now());
        let url = format!("{owner}{path}");
        let fetched = self.client.get(&url, &auth, self.timeout).await?;
        let answer = Answer {
            content_type: &fetched.content_type,
            made: &fetched.made,
            bytes: &fetched.bytes,
        };
        let verified = self
            .secret
            .verify_answer(fetched.tag.as_deref(), &nonce, path, answer);
        match verified {
            Ok(()) => Ok(fetched),
            Err(e) => {
                tracing::warn!(peer = %owner, error = %e, "a peer's answer is not authenticated; rendering here");
                Err(PeerError::Rejected(e.to_string()))
            }
        }
    }
}

/// Looks `name` up now and every [`DNS_REFRESH`] until the peers are dropped; a failed
/// lookup keeps the last list.
async fn refresh_dns(peers: Weak<Peers>, name: String, port: u16) {
    loop {
        match tokio::net::lookup_host((name.as_str(), port)).await {
            Ok(addrs) => {
                let urls = addrs.map(PeerUrl::of_addr).collect();
                match peers.upgrade() {
                    Some(p) => p.set(urls),
                    None => return,
                }
            }
            Err(e) => tracing::warn!(name = %name, error = %e, "cannot look the peers up"),
        }
        tokio::time::sleep(DNS_REFRESH).await;
        if peers.strong_count() == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
