//! A copy, in this process, of a log kept in Redis: the entries appended within their lifetime,
//! followed as they arrive. The gateway uses it for the revocation list, which it reads on
//! every request and which changes rarely, so that a lookup costs a hash probe instead of a
//! round trip.
//!
//! The log is a Redis stream whose entries carry `entry` (the text) and `until` (when it stops
//! mattering, in Unix milliseconds of the Redis clock); writers trim entries older than their
//! lifetime. A background task reads the whole stream, then blocks on `XREAD` for what comes
//! next, on a connection of its own.
//!
//! An entry in the copy is always true (entries are only ever added). Its absence counts only
//! while the copy is current: it has read the stream and heard from Redis within
//! [`STALE_AFTER`] (the blocking read returns at least every [`BLOCK`]). Otherwise
//! [`LogFollower::contains`] says it does not know and the caller asks Redis itself, so a lost or
//! stalled connection never hides a new entry for longer than that.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use redis::aio::MultiplexedConnection;

use crate::redis_store::Connection;
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use tokio::sync::watch;

/// How long one blocking read waits for new entries.
pub const BLOCK: Duration = Duration::from_millis(250);
/// Without word from Redis for this long, the copy's "not there" is not trusted.
pub const STALE_AFTER: Duration = Duration::from_secs(1);
/// How long [`LogFollower::catch_up`] takes at most, reading the log's end included.
pub const CATCH_UP_WAIT: Duration = Duration::from_secs(2);
/// The pause before the task reconnects after an error; it doubles with every failure in a row,
/// up to the longest.
const RETRY_AFTER: Duration = Duration::from_millis(500);
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Entries read at a time.
const READ_COUNT: usize = 1_000;
/// Entries are kept this long past their `until`, so that a clock of this process that runs
/// ahead of Redis's does not drop them early.
const KEEP_PAST_UNTIL: Duration = Duration::from_secs(60);
/// How often entries past their time are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(10);
/// An entry is kept at most this long, whatever its `until` says.
const LONGEST_ENTRY_LIFE: Duration = Duration::from_secs(24 * 60 * 60);

/// A stream entry id: milliseconds, then a sequence number.
type Position = (u64, u64);

fn parse_position(id: &str) -> anyhow::Result<Position> {
    let (millis, sequence) = id.split_once('-').context("a stream id has a dash")?;
    Ok((millis.parse()?, sequence.parse()?))
}

fn unix_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}

pub struct LogFollower {
    log: String,
    /// Entry → its `until`.
    entries: Mutex<HashMap<String, u64>>,
    /// How far the copy has read the log; `None` until it has read it all once.
    applied: watch::Sender<Option<Position>>,
    /// When the task last heard from Redis and had read everything there was; `None` when the
    /// copy is not to be trusted.
    heard_at: Mutex<Option<Instant>>,
    /// For the tail reads of [`LogFollower::catch_up`]; the task has its own connection.
    connection: Connection,
}

impl LogFollower {
    /// Starts following `log` in a task that lives as long as the returned follower.
    pub(crate) fn start(client: redis::Client, connection: Connection, log: String) -> Arc<Self> {
        let follower = Arc::new(LogFollower {
            log,
            entries: Mutex::default(),
            applied: watch::Sender::new(None),
            heard_at: Mutex::new(None),
            connection,
        });
        tokio::spawn(follow(Arc::downgrade(&follower), client));
        follower
    }

    /// Whether `entry` is in the log: yes when the copy has it, no when the copy is current and
    /// does not, `None` (ask Redis) otherwise.
    pub fn contains(&self, entry: &str) -> Option<bool> {
        if self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).contains_key(entry) {
            return Some(true);
        }
        self.is_current().then_some(false)
    }

    /// Whether the copy has read the log and heard from Redis lately.
    pub fn is_current(&self) -> bool {
        let heard_at = *self.heard_at.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        heard_at.is_some_and(|at| at.elapsed() < STALE_AFTER)
    }

    /// Waits until the copy holds everything the log held when this was called, for a writer's
    /// caller that must see its own write in its next request. When the copy does not get there
    /// in time it stops answering, so that lookups go to Redis until it has caught up.
    pub async fn catch_up(&self) {
        if !self.is_current() {
            return; // Lookups go to Redis anyway.
        }
        let caught_up = async {
            let Some(tail) = self.tail().await? else { return Ok(()) };
            let mut applied = self.applied.subscribe();
            applied.wait_for(|applied| applied.is_some_and(|applied| applied >= tail)).await?;
            anyhow::Ok(())
        };
        let failure = match tokio::time::timeout(CATCH_UP_WAIT, caught_up).await {
            Ok(Ok(())) => return,
            Ok(Err(error)) => format!("{error:#}"),
            Err(_) => "it took too long".to_owned(),
        };
        tracing::warn!(log = %self.log, %failure, "the copy of a log did not catch up; reading Redis instead");
        self.set_stale();
    }

    async fn tail(&self) -> anyhow::Result<Option<Position>> {
        let mut connection = self.connection.clone();
        let reply: StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(&self.log)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut connection)
            .await
            .context("XREVRANGE in Redis")?;
        reply.ids.first().map(|entry| parse_position(&entry.id)).transpose()
    }

    #[cfg(test)]
    pub(crate) fn set_stale_for_tests(&self) {
        self.set_stale();
    }

    fn set_stale(&self) {
        *self.heard_at.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }

    fn heard(&self) {
        *self.heard_at.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
    }

    /// Adds entries read from the log and returns the position of the last.
    fn apply(&self, read: &[StreamId]) -> anyhow::Result<Option<Position>> {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut last = None;
        for item in read {
            last = Some(parse_position(&item.id)?);
            let (Some(entry), Some(until)) = (item.get::<String>("entry"), item.get::<u64>("until")) else {
                continue; // Not written by this crate.
            };
            let latest = unix_millis().saturating_add(LONGEST_ENTRY_LIFE.as_millis() as u64);
            entries.insert(entry, until.min(latest));
        }
        Ok(last)
    }

    fn prune(&self) {
        let now = unix_millis();
        let keep = KEEP_PAST_UNTIL.as_millis() as u64;
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.retain(|_, until| until.saturating_add(keep) > now);
        if entries.capacity() > 2 * entries.len() + 1024 {
            entries.shrink_to_fit();
        }
    }
}

/// The task: follows the log until the follower is dropped, starting over after any error. The
/// first failure in a row is a warning; the others, while Redis stays away, are debug lines.
async fn follow(follower: Weak<LogFollower>, client: redis::Client) {
    let mut pause = RETRY_AFTER;
    loop {
        let error = match follow_once(&follower, &client).await {
            Ok(()) => return, // The follower is gone.
            Err(error) => error,
        };
        let Some(strong) = follower.upgrade() else { return };
        // An attempt that read the whole log got through: this failure starts a new series.
        if strong.applied.borrow().is_some() {
            pause = RETRY_AFTER;
        }
        strong.set_stale();
        strong.applied.send_replace(None);
        let error = format!("{error:#}");
        if pause == RETRY_AFTER {
            tracing::warn!(log = %strong.log, %error, "following a log fails; reading Redis directly until it works again");
        } else {
            tracing::debug!(log = %strong.log, %error, "following a log still fails");
        }
        drop(strong);
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_RETRY_AFTER);
    }
}

async fn follow_once(follower: &Weak<LogFollower>, client: &redis::Client) -> anyhow::Result<()> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(STALE_AFTER)
        .set_response_timeout(BLOCK + STALE_AFTER);
    let mut connection: MultiplexedConnection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .context("connecting to Redis to follow a log")?;
    let Some(log) = follower.upgrade().map(|follower| follower.log.clone()) else { return Ok(()) };

    // Everything the log holds, then what comes next.
    let mut position: Position = (0, 0);
    loop {
        let reply: StreamRangeReply = redis::cmd("XRANGE")
            .arg(&log)
            .arg(format!("({}-{}", position.0, position.1))
            .arg("+")
            .arg("COUNT")
            .arg(READ_COUNT)
            .query_async(&mut connection)
            .await
            .context("XRANGE in Redis")?;
        let Some(follower) = follower.upgrade() else { return Ok(()) };
        if let Some(last) = follower.apply(&reply.ids)? {
            position = last;
        }
        if reply.ids.len() < READ_COUNT {
            break;
        }
    }
    let mut pruned_at = Instant::now();
    loop {
        {
            let Some(follower) = follower.upgrade() else { return Ok(()) };
            follower.applied.send_replace(Some(position));
            follower.heard();
            if pruned_at.elapsed() >= PRUNE_EVERY {
                follower.prune();
                pruned_at = Instant::now();
            }
        }
        loop {
            let reply: Option<StreamReadReply> = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(READ_COUNT)
                .arg("BLOCK")
                .arg(BLOCK.as_millis() as u64)
                .arg("STREAMS")
                .arg(&log)
                .arg(format!("{}-{}", position.0, position.1))
                .query_async(&mut connection)
                .await
                .context("XREAD in Redis")?;
            let read: Vec<StreamId> =
                reply.into_iter().flat_map(|reply| reply.keys).flat_map(|key| key.ids).collect();
            let Some(follower) = follower.upgrade() else { return Ok(()) };
            if let Some(last) = follower.apply(&read)? {
                position = last;
                follower.applied.send_replace(Some(position));
            }
            // A full read may have left more behind: read on before saying the copy is current.
            if read.len() < READ_COUNT {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_order_by_time_then_sequence() {
        assert!(parse_position("5-1").unwrap() > parse_position("5-0").unwrap());
        assert!(parse_position("6-0").unwrap() > parse_position("5-9").unwrap());
        assert!(parse_position("nonsense").is_err());
    }
}
