//! The cache of public event reads, in the shared store.
//!
//! Only published events are cached, under `event:<id>`. Every change to an event deletes its
//! entry before the change is answered, and a failed delete fails the change, so a reader never
//! sees an older copy after a change it was told about. The expiry only bounds how long a read
//! that raced a change (read from the database before, written to the cache after) serves the
//! older copy.

use std::time::Duration;

use boxoffice_errors::Error;
use boxoffice_kv::Kv;
use uuid::Uuid;

use crate::store::EventRecord;

/// How long a public event stays in the cache.
pub const EVENT_CACHE_TTL: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct EventCache {
    kv: Kv,
}

fn cache_key(event_id: Uuid) -> String {
    format!("event:{event_id}")
}

impl EventCache {
    pub fn new(kv: Kv) -> Self {
        EventCache { kv }
    }

    /// The cached copy, if any. The cache is an optimisation: when it fails, the database
    /// answers.
    pub async fn get(&self, event_id: Uuid) -> Option<EventRecord> {
        let text = self.kv.get(&cache_key(event_id)).await.ok().flatten()?;
        serde_json::from_str(&text).ok()
    }

    /// Keeps a copy of a published event; a failure only costs the next reader a database read.
    pub async fn put(&self, event: &EventRecord) {
        let Ok(text) = serde_json::to_string(event) else {
            return;
        };
        if let Err(error) = self.kv.set_ex(&cache_key(event.id), &text, EVENT_CACHE_TTL).await {
            tracing::warn!(error = %error, "caching an event fails");
        }
    }

    /// Drops the cached copy after a change; a failure here would serve stale data, so it fails
    /// the request.
    pub async fn forget(&self, event_id: Uuid) -> Result<(), Error> {
        self.kv.delete(&cache_key(event_id)).await.map_err(kv_unavailable)
    }

    pub async fn ping(&self) -> Result<(), Error> {
        self.kv.ping().await.map_err(kv_unavailable)
    }
}

fn kv_unavailable(error: anyhow::Error) -> Error {
    Error::unavailable(format!("{error:#}"))
}
