//! The revocation list: the sessions whose access tokens must be refused before they expire.
//! The users service writes it (logout, password and role changes, account deletion, a reused
//! refresh token); the gateway reads it for every authenticated request.
//!
//! Each revoked session is a key, `revoked-session:<id>`, and an entry in the log `revocations`.
//! On Redis the gateway follows the log into a copy of its own ([`LogFollower`]), so that the
//! check costs no round trip; it reads the keys whenever that copy is not current. After a call
//! of its own that may have revoked sessions, it waits for its copy to catch up, so that a
//! client's next request through the same gateway sees the revocation. Other gateway replicas
//! see it as soon as their copy reads it, within milliseconds.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::{Kv, LogFollower, Result};

/// The log of revocations, under the store's prefix.
const LOG: &str = "revocations";

/// The key that marks a session revoked.
pub fn revoked_session_key(session_id: Uuid) -> String {
    format!("revoked-session:{session_id}")
}

impl Kv {
    /// Puts a session on the revocation list for `ttl` (at least the life of its access tokens).
    pub async fn revoke_session(&self, session_id: Uuid, ttl: Duration) -> Result<()> {
        let key = self.key(&revoked_session_key(session_id));
        self.store.set_and_log(&key, &self.key(LOG), &session_id.to_string(), ttl).await
    }

    /// The revocation list as a reader sees it. On Redis this starts following the log (in a
    /// task that ends when the last clone is dropped), so make one and share it.
    pub fn revocations(&self) -> Revocations {
        Revocations { kv: self.clone(), follower: self.store.follow_log(self.key(LOG)) }
    }
}

#[derive(Clone)]
pub struct Revocations {
    kv: Kv,
    follower: Option<Arc<LogFollower>>,
}

impl Revocations {
    pub async fn is_revoked(&self, session_id: Uuid) -> Result<bool> {
        if let Some(follower) = &self.follower {
            let mut buffer = Uuid::encode_buffer();
            if let Some(revoked) = follower.contains(session_id.hyphenated().encode_lower(&mut buffer)) {
                metrics::counter!("revocation_checks_total", "answered_by" => "copy").increment(1);
                return Ok(revoked);
            }
        }
        metrics::counter!("revocation_checks_total", "answered_by" => "store").increment(1);
        self.kv.exists(&revoked_session_key(session_id)).await
    }

    /// Waits (briefly) until this reader sees every revocation made so far: for the caller of a
    /// request that may have revoked sessions, whose next request must be refused.
    pub async fn catch_up(&self) {
        if let Some(follower) = &self.follower {
            follower.catch_up().await;
        }
    }

    /// Whether lookups are answered from a current copy of the log (for tests and metrics).
    pub fn is_following(&self) -> bool {
        self.follower.as_ref().is_some_and(|follower| follower.is_current())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    async fn redis_kv(prefix: &str) -> Kv {
        let url =
            std::env::var("BOXOFFICE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        Kv::redis(&url, prefix).await.expect("Redis is reachable for the tests")
    }

    async fn until_following(revocations: &Revocations) {
        let started = Instant::now();
        while !revocations.is_following() {
            assert!(started.elapsed() < Duration::from_secs(5), "the copy of the log never became current");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn a_revocation_is_seen_by_every_reader(writer: Kv, reader: Kv) {
        let before = Uuid::now_v7();
        writer.revoke_session(before, Duration::from_secs(60)).await.unwrap();
        let revocations = reader.revocations();
        // Before its copy is current, a reader asks the store.
        assert!(revocations.is_revoked(before).await.unwrap());
        let after = Uuid::now_v7();
        writer.revoke_session(after, Duration::from_secs(60)).await.unwrap();
        revocations.catch_up().await;
        assert!(revocations.is_revoked(before).await.unwrap());
        assert!(revocations.is_revoked(after).await.unwrap());
        assert!(!revocations.is_revoked(Uuid::now_v7()).await.unwrap());
    }

    #[tokio::test]
    async fn the_memory_store_keeps_revocations() {
        let kv = Kv::memory();
        a_revocation_is_seen_by_every_reader(kv.clone(), kv).await;
    }

    #[tokio::test]
    async fn a_reader_on_redis_sees_revocations_from_another_process() {
        let prefix = format!("boxoffice-test:{}:", Uuid::new_v4());
        let (writer, reader) = (redis_kv(&prefix).await, redis_kv(&prefix).await);
        a_revocation_is_seen_by_every_reader(writer, reader).await;
    }

    #[tokio::test]
    async fn a_current_copy_answers_and_follows_new_revocations() {
        let prefix = format!("boxoffice-test:{}:", Uuid::new_v4());
        let (writer, reader) = (redis_kv(&prefix).await, redis_kv(&prefix).await);
        let old = Uuid::now_v7();
        writer.revoke_session(old, Duration::from_secs(60)).await.unwrap();
        let revocations = reader.revocations();
        until_following(&revocations).await;
        assert!(revocations.is_revoked(old).await.unwrap(), "the copy starts with the whole log");
        for _ in 0..50 {
            let session = Uuid::now_v7();
            writer.revoke_session(session, Duration::from_secs(60)).await.unwrap();
            revocations.catch_up().await;
            assert!(revocations.is_following());
            assert!(revocations.is_revoked(session).await.unwrap());
        }
        // The copy's entries always count; its silence counts only while it is current, else the
        // keys decide. (Keys written or removed behind the log's back show which one answered.)
        let session = Uuid::now_v7();
        writer.revoke_session(session, Duration::from_secs(60)).await.unwrap();
        revocations.catch_up().await;
        writer.delete(&revoked_session_key(session)).await.unwrap();
        let key_only = Uuid::now_v7();
        writer.set_ex(&revoked_session_key(key_only), "1", Duration::from_secs(60)).await.unwrap();
        assert!(revocations.is_revoked(session).await.unwrap(), "answered from the copy");
        assert!(!revocations.is_revoked(key_only).await.unwrap(), "answered from the current copy");
        revocations.follower.as_ref().unwrap().set_stale_for_tests();
        assert!(revocations.is_revoked(session).await.unwrap(), "an entry of a stale copy still counts");
        assert!(revocations.is_revoked(key_only).await.unwrap(), "answered from the key");
    }

    #[tokio::test]
    async fn the_log_forgets_revocations_older_than_their_lifetime() {
        let prefix = format!("boxoffice-test:{}:", Uuid::new_v4());
        let kv = redis_kv(&prefix).await;
        kv.revoke_session(Uuid::now_v7(), Duration::from_millis(20)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        kv.revoke_session(Uuid::now_v7(), Duration::from_millis(20)).await.unwrap();
        let url =
            std::env::var("BOXOFFICE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let mut connection =
            redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
        let length: u64 =
            redis::cmd("XLEN").arg(format!("{prefix}{LOG}")).query_async(&mut connection).await.unwrap();
        assert_eq!(length, 1);
        let _: () =
            redis::cmd("DEL").arg(format!("{prefix}{LOG}")).query_async(&mut connection).await.unwrap();
    }
}
