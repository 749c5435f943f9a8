//! The queue of a virtual waiting room, in the shared store so that every gateway replica sees
//! one queue and one flow of admissions. Each visit of a buyer is one atomic step
//! ([`Store::queue_visit`](crate::Store::queue_visit)): it joins them if asked (one place per
//! member: a second join changes nothing), lets in as many as the rate and the free places
//! allow, and says where the buyer stands. A Lua script does it in Redis (`visit.lua`), a lock in
//! memory ([`MemoryRoom`]), with the same rules:
//!
//! - Before the start, joiners get a random draw; at the start their order is the draws' order
//!   (a shuffle: arriving early, or joining again, gives no advantage). Later joiners follow in
//!   arrival order.
//! - From the start, admissions flow at `rate_per_minute` (the first at the start, then one
//!   every `60000 / rate` ms, kept as the time of the next one), at most `max_admitted` at once;
//!   credit does not pile up while nobody waits or the places are full, so admissions never
//!   come in a burst.
//! - An admission lasts `admission_ms`; when it runs out, or its booking completes
//!   ([`Store::queue_finish`](crate::Store::queue_finish)), the place goes to the next one. A
//!   member whose admission ended may join again, at the back.

mod memory;

pub use memory::MemoryRooms;

/// The Redis script of one visit (see the module's rules).
pub(crate) const VISIT_SCRIPT: &str = include_str!("visit.lua");
/// The Redis script that ends an admission whose booking completed.
pub(crate) const FINISH_SCRIPT: &str = include_str!("finish.lua");

/// How often the measured admission rate is taken anew.
pub const RATE_WINDOW_MS: u64 = 30_000;

/// The keys of one room, under the store's prefix: `<room>:q` (the queue, by place), `:adm`
/// (admitted members, by the end of their admission), `:end` (members whose admission ended,
/// and how), `:h` (counters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomKeys {
    pub queue: String,
    pub admitted: String,
    pub ended: String,
    pub counters: String,
}

impl RoomKeys {
    pub fn new(room: &str) -> RoomKeys {
        RoomKeys {
            queue: format!("{room}:q"),
            admitted: format!("{room}:adm"),
            ended: format!("{room}:end"),
            counters: format!("{room}:h"),
        }
    }

    pub(crate) fn prefixed(&self, prefix: &str) -> RoomKeys {
        RoomKeys {
            queue: format!("{prefix}{}", self.queue),
            admitted: format!("{prefix}{}", self.admitted),
            ended: format!("{prefix}{}", self.ended),
            counters: format!("{prefix}{}", self.counters),
        }
    }
}

/// One visit of a member to a room, with the room's rules.
#[derive(Clone, Debug)]
pub struct Visit<'a> {
    pub member: &'a str,
    /// Join the queue (if not in it yet).
    pub join: bool,
    pub now_ms: u64,
    /// When admissions start (the sale's start).
    pub start_ms: u64,
    /// A random number below 2^53, the member's draw if they join before the start.
    pub draw: u64,
    pub rate_per_minute: u32,
    pub admission_ms: u64,
    pub max_admitted: u32,
    /// How long the room's keys are kept after this visit.
    pub keep_ms: u64,
}

/// Where a member stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    NotQueued,
    /// Joined before the start: their place is drawn when the sale starts.
    Drawing,
    /// `ahead` members are still to be let in before them.
    Waiting {
        ahead: u64,
    },
    Admitted {
        until_ms: u64,
    },
    /// Their admission ran out unused.
    Expired,
    /// Their admission ended with a completed booking.
    Completed,
}

/// A visit's answer: the member's standing and the room's figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Visited {
    pub standing: Standing,
    /// Members in the queue, admitted or not.
    pub queued: u64,
    /// Members let in so far.
    pub served: u64,
    /// Admissions per minute over the last measured window; `None` until one was measured.
    pub measured_per_minute: Option<f64>,
}

impl Visited {
    /// Reads the script's answer: `[standing, number, queued, served, measured rate or ""]`.
    pub(crate) fn from_script(answer: Vec<String>) -> anyhow::Result<Visited> {
        let [standing, number, queued, served, rate] = <[String; 5]>::try_from(answer)
            .map_err(|answer| anyhow::anyhow!("the waiting room script answered {answer:?}"))?;
        let number = number.parse::<f64>().unwrap_or(0.0).max(0.0) as u64;
        let standing = match standing.as_str() {
            "none" => Standing::NotQueued,
            "drawing" => Standing::Drawing,
            "waiting" => Standing::Waiting { ahead: number },
            "admitted" => Standing::Admitted { until_ms: number },
            "expired" => Standing::Expired,
            "completed" => Standing::Completed,
            other => anyhow::bail!("the waiting room script answered the standing {other:?}"),
        };
        Ok(Visited {
            standing,
            queued: queued.parse::<f64>()?.max(0.0) as u64,
            served: served.parse::<f64>()?.max(0.0) as u64,
            measured_per_minute: rate.parse::<f64>().ok(),
        })
    }
}

/// The draw of a member who joins before the start, as a score below 1 (the queue's places
/// after the start are 1, 2, 3, ...).
pub(crate) fn draw_score(draw: u64) -> f64 {
    (draw & ((1 << 53) - 1)) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests;
