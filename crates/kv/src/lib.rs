//! The fast shared store for short-lived facts: revoked sessions, failed-login counters, rate
//! limits and caches.
//!
//! Production uses Redis, so that every replica of every service sees the same facts; the
//! embedded default uses an in-memory map with the same semantics. Both sit behind [`Store`],
//! and [`Kv`] adds the key prefix that keeps deployments (and tests) that share a Redis apart.

use std::sync::Arc;
use std::time::Duration;

pub mod log_follower;
mod memory;
mod redis_store;
pub mod revocations;
pub mod waiting_room;

pub use log_follower::LogFollower;
pub use memory::MemoryStore;
pub use redis_store::{
    connect as connect_redis, connection_config as redis_connection_config, Connection as RedisConnection,
    RedisStore,
};
pub use revocations::{revoked_session_key, Revocations};
pub use waiting_room::{RoomKeys, Standing, Visit, Visited};

pub type Result<T> = anyhow::Result<T>;

/// The operations the services need, each atomic on its own.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Sets `key` to `value`, expiring after `ttl`.
    async fn set_ex(&self, key: &str, value: &str, ttl: Duration) -> Result<()>;
    async fn get(&self, key: &str) -> Result<Option<String>>;
    async fn exists(&self, key: &str) -> Result<bool>;
    /// Adds one to the counter at `key` and returns the new value. A counter that did not exist
    /// starts at one and expires after `ttl` (a fixed window); later increments keep that expiry.
    async fn incr_in_window(&self, key: &str, ttl: Duration) -> Result<u64>;
    /// The time left before `key` expires, or `None` when it does not exist.
    async fn ttl(&self, key: &str) -> Result<Option<Duration>>;
    async fn delete(&self, key: &str) -> Result<()>;
    /// Sets `key` for `ttl`, as [`Store::set_ex`] with the value `1`, and appends `entry` to the
    /// log at `log` with the same lifetime, in one step (a store without logs only sets the key).
    async fn set_and_log(&self, key: &str, log: &str, entry: &str, ttl: Duration) -> Result<()>;
    /// A copy of the log at `log`, kept current in this process, for a store that is far away
    /// (Redis); `None` for one that is as cheap to read as a copy (memory).
    fn follow_log(&self, _log: String) -> Option<Arc<LogFollower>> {
        None
    }
    /// One atomic visit to a waiting room (see [`waiting_room`]).
    async fn queue_visit(&self, room: &RoomKeys, visit: &Visit<'_>) -> Result<Visited>;
    /// Ends `member`'s admission because their booking completed; false when they had none.
    async fn queue_finish(&self, room: &RoomKeys, member: &str) -> Result<bool>;
    /// Checks that the store answers.
    async fn ping(&self) -> Result<()>;
}

/// A [`Store`] with a key prefix.
#[derive(Clone)]
pub struct Kv {
    store: Arc<dyn Store>,
    prefix: Arc<str>,
}

impl Kv {
    pub fn new(store: Arc<dyn Store>, prefix: &str) -> Self {
        Kv { store, prefix: prefix.into() }
    }

    /// An in-memory store, for the embedded default.
    pub fn memory() -> Self {
        Kv::new(Arc::new(MemoryStore::new()), "")
    }

    /// Connects to Redis at `url`; every key is prefixed with `prefix`.
    pub async fn redis(url: &str, prefix: &str) -> Result<Self> {
        Ok(Kv::new(Arc::new(RedisStore::connect(url).await?), prefix))
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    pub async fn set_ex(&self, key: &str, value: &str, ttl: Duration) -> Result<()> {
        self.store.set_ex(&self.key(key), value, ttl).await
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>> {
        self.store.get(&self.key(key)).await
    }

    pub async fn exists(&self, key: &str) -> Result<bool> {
        self.store.exists(&self.key(key)).await
    }

    pub async fn incr_in_window(&self, key: &str, ttl: Duration) -> Result<u64> {
        self.store.incr_in_window(&self.key(key), ttl).await
    }

    pub async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        self.store.ttl(&self.key(key)).await
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        self.store.delete(&self.key(key)).await
    }

    pub async fn ping(&self) -> Result<()> {
        self.store.ping().await
    }

    /// A visit to the waiting room named `room` (see [`waiting_room`]).
    pub async fn queue_visit(&self, room: &str, visit: &Visit<'_>) -> Result<Visited> {
        self.store.queue_visit(&RoomKeys::new(room).prefixed(&self.prefix), visit).await
    }

    pub async fn queue_finish(&self, room: &str, member: &str) -> Result<bool> {
        self.store.queue_finish(&RoomKeys::new(room).prefixed(&self.prefix), member).await
    }
}

/// One suite of behaviour, run against both stores, so that the two cannot drift apart.
#[cfg(test)]
mod tests {
    use super::*;

    async fn redis_kv() -> Kv {
        let url =
            std::env::var("BOXOFFICE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let prefix = format!("boxoffice-test:{}:", uuid::Uuid::new_v4());
        Kv::redis(&url, &prefix).await.expect("Redis is reachable for the tests")
    }

    async fn behaves_as_a_store(kv: Kv) {
        kv.ping().await.unwrap();
        assert_eq!(kv.get("missing").await.unwrap(), None);
        assert!(!kv.exists("missing").await.unwrap());
        assert_eq!(kv.ttl("missing").await.unwrap(), None);

        kv.set_ex("a", "1", Duration::from_secs(60)).await.unwrap();
        assert_eq!(kv.get("a").await.unwrap().as_deref(), Some("1"));
        assert!(kv.exists("a").await.unwrap());
        let ttl = kv.ttl("a").await.unwrap().unwrap();
        assert!(ttl > Duration::from_secs(55) && ttl <= Duration::from_secs(60));
        kv.delete("a").await.unwrap();
        assert!(!kv.exists("a").await.unwrap());

        assert_eq!(kv.incr_in_window("n", Duration::from_secs(60)).await.unwrap(), 1);
        assert_eq!(kv.incr_in_window("n", Duration::from_secs(1)).await.unwrap(), 2);
        let ttl = kv.ttl("n").await.unwrap().unwrap();
        assert!(ttl > Duration::from_secs(55), "a later increment keeps the first expiry");

        kv.set_ex("short", "x", Duration::from_millis(50)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(!kv.exists("short").await.unwrap(), "keys expire");
    }

    #[tokio::test]
    async fn the_memory_store_behaves_as_a_store() {
        behaves_as_a_store(Kv::memory()).await;
    }

    #[tokio::test]
    async fn the_redis_store_behaves_as_a_store() {
        behaves_as_a_store(redis_kv().await).await;
    }

    /// A Redis server of the test's own on a free loopback port, stopped when dropped.
    struct PrivateRedis {
        port: u16,
        process: std::process::Child,
    }

    impl PrivateRedis {
        fn start(port: u16) -> PrivateRedis {
            let process = std::process::Command::new("redis-server")
                .args([
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server runs (scripts/test installs it)");
            let redis = PrivateRedis { port, process };
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return redis;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            panic!("redis-server does not listen on port {port}");
        }
    }

    impl Drop for PrivateRedis {
        fn drop(&mut self) {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }

    #[tokio::test]
    async fn the_first_command_after_a_redis_restart_succeeds() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let redis = PrivateRedis::start(port);
        let kv = Kv::redis(&format!("redis://127.0.0.1:{}", redis.port), "restart:").await.unwrap();
        kv.set_ex("a", "1", Duration::from_secs(60)).await.unwrap();
        // Restarted empty; the store's connection is now one Redis has closed.
        drop(redis);
        let _redis = PrivateRedis::start(port);
        assert_eq!(kv.get("a").await.unwrap(), None, "the command is sent again on a new connection");
        kv.set_ex("b", "2", Duration::from_secs(60)).await.unwrap();
        assert_eq!(kv.get("b").await.unwrap().as_deref(), Some("2"));
    }

    #[tokio::test]
    async fn prefixes_keep_two_deployments_apart() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let one = Kv::new(store.clone(), "one:");
        let two = Kv::new(store, "two:");
        one.set_ex("k", "v", Duration::from_secs(60)).await.unwrap();
        assert!(!two.exists("k").await.unwrap());
    }
}
