//! What the CDN is told when an original changes: its cache tag (every variant's responses
//! carry it) and the unpinned paths of its variants, sent by [`crate::purge::Purger`].

use crate::caching;
use crate::keys::ObjectKey;
use crate::purge::{Purge, PurgeReason};
use crate::service::Thumbnails;
use crate::service::manifest::variant_path;

impl Thumbnails {
    /// Tells the CDN (through `THUMBKIT_PURGE_WEBHOOK`, if set) to drop what it holds of the
    /// original at `key`, in the background.
    pub(crate) fn purge_cdn(&self, key: &ObjectKey, reason: PurgeReason) {
        let Some(purger) = &self.purger else {
            return;
        };
        let paths = self
            .presets()
            .every()
            .map(|p| format!("{}*", variant_path(p.name.as_str(), key)))
            .collect();
        purger.announce(Purge {
            reason,
            key: key.to_string(),
            tags: vec![caching::original_tag(key.as_str())],
            paths,
        });
    }
}
