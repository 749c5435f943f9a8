//! The production store: Redis 7, shared by every replica.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use redis::aio::ConnectionManager;
use redis::AsyncCommands as _;

use crate::log_follower::LogFollower;
use crate::{Result, Store};

/// Increments a counter and sets its expiry only when the increment created it, in one step.
const INCR_IN_WINDOW: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
";

/// Sets a key and appends it to a log, whose entries older than their lifetime it trims, in one
/// step, by the Redis clock.
///
/// KEYS: the key, the log (a stream). ARGV: the lifetime in milliseconds, the log entry.
const SET_AND_LOG: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[1])
-- The log first: a script stops at its first error, so a key is never set without its entry.
redis.call('XADD', KEYS[2], 'MINID', now - ttl, '*', 'entry', ARGV[2], 'until', now + ttl)
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return 1
";

/// How every Redis connection of boxoffice behaves: commands fail after a few seconds instead of
/// waiting for a server that does not answer, and a lost connection is retried briefly (each
/// command that meets a reconnection waits for it), so that requests get a 503 while Redis is
/// away rather than hang.
pub fn connection_config() -> redis::aio::ConnectionManagerConfig {
    redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(1))
        .set_response_timeout(Duration::from_secs(5))
        .set_number_of_retries(2)
        .set_factor(100)
        .set_max_delay(500)
}

/// A connection to Redis shared by a process's tasks: a [`ConnectionManager`] (one multiplexed
/// connection, replaced when it breaks) that sends a command once more when it met a connection
/// Redis had dropped (a restart, say): the manager has begun a new connection meanwhile, so the
/// first request after a restart succeeds instead of failing with "broken pipe". A command
/// that did run but whose reply was lost (a connection reset just then) runs twice: a rate-limit
/// counter then counts one request twice and the revocation log may hold an entry twice, which
/// both tolerate; the inventory's and the waiting room's scripts are idempotent.
#[derive(Clone)]
pub struct Connection(ConnectionManager);

impl redis::aio::ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, command: &'a redis::Cmd) -> redis::RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            match self.0.req_packed_command(command).await {
                Err(error) if error.is_connection_dropped() => self.0.req_packed_command(command).await,
                answer => answer,
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        Box::pin(async move {
            match self.0.req_packed_commands(pipeline, offset, count).await {
                Err(error) if error.is_connection_dropped() => {
                    self.0.req_packed_commands(pipeline, offset, count).await
                }
                answer => answer,
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}

/// Connects to Redis at `url` with [`connection_config`].
pub async fn connect(url: &str) -> Result<(redis::Client, Connection)> {
    let client = redis::Client::open(url).context("parsing the Redis URL")?;
    // A Redis starting with us (Compose, a cluster) refuses connections for a while.
    let refused = |error: &redis::RedisError| error.is_connection_refusal() || error.is_io_error();
    let connection = boxoffice_telemetry::retry_at_start("Redis refuses connections", refused, || {
        ConnectionManager::new_with_config(client.clone(), connection_config())
    })
    .await
    .context("connecting to Redis")?;
    Ok((client, Connection(connection)))
}

/// A [`Store`] on Redis. The connection manager multiplexes one connection and reconnects.
#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    connection: Connection,
    incr_in_window: redis::Script,
    set_and_log: redis::Script,
    queue_visit: redis::Script,
    queue_finish: redis::Script,
}

impl RedisStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let (client, connection) = connect(url).await?;
        Ok(RedisStore {
            client,
            connection,
            incr_in_window: redis::Script::new(INCR_IN_WINDOW),
            set_and_log: redis::Script::new(SET_AND_LOG),
            queue_visit: redis::Script::new(crate::waiting_room::VISIT_SCRIPT),
            queue_finish: redis::Script::new(crate::waiting_room::FINISH_SCRIPT),
        })
    }
}

fn millis(ttl: Duration) -> u64 {
    // Redis refuses an expiry of zero; the shortest it keeps is one millisecond.
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait::async_trait]
impl Store for RedisStore {
    async fn set_ex(&self, key: &str, value: &str, ttl: Duration) -> Result<()> {
        let mut connection = self.connection.clone();
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut connection)
            .await
            .context("SET in Redis")?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<String>> {
        let mut connection = self.connection.clone();
        connection.get(key).await.context("GET in Redis")
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        let mut connection = self.connection.clone();
        connection.exists(key).await.context("EXISTS in Redis")
    }

    async fn incr_in_window(&self, key: &str, ttl: Duration) -> Result<u64> {
        let mut connection = self.connection.clone();
        self.incr_in_window
            .key(key)
            .arg(millis(ttl))
            .invoke_async(&mut connection)
            .await
            .context("incrementing a windowed counter in Redis")
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>> {
        let mut connection = self.connection.clone();
        let ttl_ms: i64 =
            redis::cmd("PTTL").arg(key).query_async(&mut connection).await.context("PTTL in Redis")?;
        // -2: no such key; -1: a key without expiry, which this crate never writes.
        Ok(u64::try_from(ttl_ms).ok().map(Duration::from_millis))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let mut connection = self.connection.clone();
        let _: () = connection.del(key).await.context("DEL in Redis")?;
        Ok(())
    }

    async fn set_and_log(&self, key: &str, log: &str, entry: &str, ttl: Duration) -> Result<()> {
        let mut connection = self.connection.clone();
        let _: i64 = self
            .set_and_log
            .key(key)
            .key(log)
            .arg(millis(ttl))
            .arg(entry)
            .invoke_async(&mut connection)
            .await
            .context("setting and logging a key in Redis")?;
        Ok(())
    }

    async fn queue_visit(&self, room: &crate::RoomKeys, visit: &crate::Visit<'_>) -> Result<crate::Visited> {
        let mut connection = self.connection.clone();
        let answer: Vec<String> = self
            .queue_visit
            .key(&room.queue)
            .key(&room.admitted)
            .key(&room.ended)
            .key(&room.counters)
            .arg(visit.member)
            .arg(if visit.join { 1 } else { 0 })
            .arg(visit.now_ms)
            .arg(visit.start_ms)
            .arg(crate::waiting_room::draw_score(visit.draw))
            .arg(visit.rate_per_minute)
            .arg(visit.admission_ms)
            .arg(visit.max_admitted)
            .arg(visit.keep_ms.max(1))
            .arg(crate::waiting_room::RATE_WINDOW_MS)
            .invoke_async(&mut connection)
            .await
            .context("visiting a waiting room in Redis")?;
        crate::Visited::from_script(answer)
    }

    async fn queue_finish(&self, room: &crate::RoomKeys, member: &str) -> Result<bool> {
        let mut connection = self.connection.clone();
        let ended: i64 = self
            .queue_finish
            .key(&room.admitted)
            .key(&room.ended)
            .arg(member)
            .invoke_async(&mut connection)
            .await
            .context("ending an admission in Redis")?;
        Ok(ended == 1)
    }

    fn follow_log(&self, log: String) -> Option<Arc<LogFollower>> {
        Some(LogFollower::start(self.client.clone(), self.connection.clone(), log))
    }

    async fn ping(&self) -> Result<()> {
        let mut connection = self.connection.clone();
        let _: String = redis::cmd("PING").query_async(&mut connection).await.context("PING to Redis")?;
        Ok(())
    }
}
