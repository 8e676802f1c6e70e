//! Each client address's share of the connections (`THUMBKIT_MAX_CONNECTIONS_PER_CLIENT`): one
//! address past its share is answered 429 at once and closed, so it cannot hold every slot;
//! the proxies in front (`THUMBKIT_TRUSTED_PROXIES`) are exempt.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// A client's share of `max_connections` unless configured: a quarter, at least 8 (a browser
/// opens 6 per host).
pub fn default_max_per_client(max_connections: usize) -> usize {
    (max_connections / 4).max(8)
}

/// Open connections by client address.
#[derive(Debug, Default)]
pub(crate) struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// One connection counted against its client's cap, until dropped.
pub(crate) struct ClientSlot {
    table: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    /// A slot for `ip`, unless it holds `cap` already.
    pub(crate) fn take(table: &Arc<PerClient>, ip: IpAddr, cap: usize) -> Option<ClientSlot> {
        let mut open = table
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = open.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            table: table.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self
            .table
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// What a client over its share gets before its connection is closed: a 429 it can read.
pub(crate) fn refusal(cap: usize) -> Vec<u8> {
    let body = format!(
        "{{\"type\":\"about:blank\",\"title\":\"Too Many Requests\",\"status\":429,\
         \"detail\":\"this address already holds {cap} connections, its share \
         (THUMBKIT_MAX_CONNECTIONS_PER_CLIENT); reuse them or close some\"}}"
    );
    let head = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/problem+json\r\n\
         retry-after: 1\r\ncache-control: no-store\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    (head + &body).into_bytes()
}
