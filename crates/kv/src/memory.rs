//! The embedded store: a map in memory with expiry, for one process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{Result, Store};

/// Expired entries are dropped lazily on access and in a sweep once the map grows past this many
/// entries since the last sweep, so that memory stays bounded by the live keys.
const SWEEP_EVERY_INSERTS: usize = 10_000;

struct Entry {
    value: String,
    expires_at: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    inserts_since_sweep: usize,
}

impl Inner {
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.entries.get(key).is_some_and(|entry| entry.expires_at <= now) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn insert(&mut self, key: &str, entry: Entry, now: Instant) {
        self.inserts_since_sweep += 1;
        if self.inserts_since_sweep >= SWEEP_EVERY_INSERTS {
            self.entries.retain(|_, entry| entry.expires_at > now);
            self.inserts_since_sweep = 0;
        }
        self.entries.insert(key.to_owned(), entry);
    }
}

/// An in-memory [`Store`]. Every operation takes one short lock, which makes each atomic.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    rooms: crate::waiting_room::MemoryRooms,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave an entry half-written, so a poisoned lock
        // is still safe to use.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn queue_visit(&self, room: &crate::RoomKeys, visit: &crate::Visit<'_>) -> Result<crate::Visited> {
        Ok(self.rooms.visit(&room.counters, visit))
    }

    async fn queue_finish(&self, room: &crate::RoomKeys, member: &str) -> Result<bool> {
        Ok(self.rooms.finish(&room.counters, member))
    }

    async fn set_ex(&self, key: &str, value: &str, ttl: Duration) -> Result<()> {
        let now = Instant::now();
        let entry = Entry { value: value.to_owned(), expires_at: now + ttl };
        self.lock().insert(key, entry, now);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<String>> {
        Ok(self.lock().live(key, Instant::now()).map(|entry| entry.value.clone()))
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.lock().live(key, Instant::now()).is_some())
    }

    async fn incr_in_window(&self, key: &str, ttl: Duration) -> Result<u64> {
        let now = Instant::now();
        let mut inner = self.lock();
        if let Some(entry) = inner.live(key, now) {
            let count = entry.value.parse::<u64>().unwrap_or(0) + 1;
            entry.value = count.to_string();
            return Ok(count);
        }
        inner.insert(key, Entry { value: "1".to_owned(), expires_at: now + ttl }, now);
        Ok(1)
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        let now = Instant::now();
        Ok(self.lock().live(key, now).map(|entry| entry.expires_at - now))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.lock().entries.remove(key);
        Ok(())
    }

    async fn set_and_log(&self, key: &str, _log: &str, _entry: &str, ttl: Duration) -> Result<()> {
        // Reading this store costs no more than a copy of its log would: no log.
        self.set_ex(key, "1", ttl).await
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}
