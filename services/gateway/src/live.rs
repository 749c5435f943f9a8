//! Live availability: `GET /api/v1/events/{id}/availability/stream` pushes what is left of an
//! event to every browser that has its page open, as Server-Sent Events.
//!
//! However many browsers watch an event, this gateway process asks the bookings service about it
//! once per [`POLL_INTERVAL`] ([`AvailabilityHub`] keeps one watch per event, started by its
//! first viewer and stopped [`IDLE_GRACE`] after its last one left). Each answer is compared with
//! the previous one once, and only what changed is sent, as one frame rendered once and shared by
//! every stream.
//!
//! The encoding is compact for large venues: seats are numbered by their place in the venue's
//! seat list (`GET /api/v1/venues/{id}`, `seats`), a `snapshot` gives one character per seat
//! (`a` available, `h` held, `s` sold, `x` not on sale), and a `changes` frame lists only
//! `[index, status]` pairs. Both carry every category's counts and a version that grows by one
//! with each change; a stream that falls behind the shared frames gets a new snapshot. An event
//! that goes off sale (cancelled) ends its streams with a `closed` event.
//!
//! Metrics: `gateway_availability_watches` (events watched, each one upstream reader) and
//! `gateway_availability_streams` (browsers following them).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::response::sse::{Event, KeepAlive, Sse};
use boxoffice_errors::{Code, Error};
use boxoffice_proto::booking as booking_pb;
use boxoffice_proto::event as event_pb;
use boxoffice_proto::WireEnum as _;
use boxoffice_types::SeatStatus;
use futures::stream::{self, Stream};
use serde::Serialize;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::routes::sales::CategoryAvailability as CategoryCounts;
use crate::routes::venues::VenueResponse;
use crate::AppState;

/// How often a watched event's availability is read.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long a watch outlives its last viewer, so that a reload does not restart it.
pub const IDLE_GRACE: Duration = Duration::from_secs(5);
/// A comment sent on a quiet stream, so that proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The `changes` frames a stream may fall behind before it is sent a snapshot instead.
const FRAMES_BUFFERED: usize = 64;

/// The status characters of the compact encoding.
const NOT_ON_SALE: u8 = b'x';

fn status_byte(status: SeatStatus) -> u8 {
    match status {
        SeatStatus::Available => b'a',
        SeatStatus::Held => b'h',
        SeatStatus::Sold => b's',
    }
}

/// One reading of an event's availability.
struct Snapshot {
    version: u64,
    categories: Vec<CategoryCounts>,
    /// One status byte per seat of the venue, in the venue's seat order.
    seats: Vec<u8>,
    rendered: OnceLock<Arc<str>>,
}

impl Snapshot {
    fn frame(&self) -> Arc<str> {
        self.rendered
            .get_or_init(|| {
                #[derive(Serialize)]
                struct Frame<'a> {
                    version: u64,
                    categories: &'a [CategoryCounts],
                    seats: &'a str,
                }
                let seats = std::str::from_utf8(&self.seats).expect("status bytes are ASCII");
                let frame = Frame { version: self.version, categories: &self.categories, seats };
                serde_json::to_string(&frame).expect("a frame serializes").into()
            })
            .clone()
    }

    /// The `changes` frame from `previous` to this snapshot; `None` when nothing changed.
    fn changes_since(&self, previous: &Snapshot) -> Option<Arc<str>> {
        let seats: Vec<(usize, char)> = self
            .seats
            .iter()
            .zip(&previous.seats)
            .enumerate()
            .filter(|(_, (now, before))| now != before)
            .map(|(index, (now, _))| (index, char::from(*now)))
            .collect();
        if seats.is_empty() && self.categories == previous.categories {
            return None;
        }
        #[derive(Serialize)]
        struct Frame<'a> {
            version: u64,
            categories: &'a [CategoryCounts],
            seats: Vec<(usize, char)>,
        }
        let frame = Frame { version: self.version, categories: &self.categories, seats };
        Some(serde_json::to_string(&frame).expect("a frame serializes").into())
    }
}

/// A frame shared by every stream of an event.
#[derive(Clone)]
enum Frame {
    Changes {
        version: u64,
        data: Arc<str>,
    },
    /// The event is no longer on sale (cancelled, or unpublished): the streams end.
    Closed,
}

/// The data of the last frame of a stream whose event went off sale.
const CLOSED: &str = r#"{"reason":"the event is no longer on sale"}"#;

type Current = Option<Result<Arc<Snapshot>, Error>>;

struct Watch {
    changes: broadcast::Sender<Frame>,
    current: watch::Sender<Current>,
}

/// Every event this gateway process watches.
#[derive(Default)]
pub struct AvailabilityHub {
    watches: Mutex<HashMap<Uuid, Arc<Watch>>>,
}

impl AvailabilityHub {
    /// A stream of the event's availability: a snapshot first, then its changes. Fails (404) for
    /// an event the public cannot see.
    pub async fn stream(
        &self,
        state: &AppState,
        event_id: Uuid,
    ) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>> + use<>>, Error> {
        let (watch, changes) = {
            let mut watches = self.watches.lock().expect("the hub is never poisoned");
            let watch = watches
                .entry(event_id)
                .or_insert_with(|| {
                    let (changes, _) = broadcast::channel(FRAMES_BUFFERED);
                    let watch = Arc::new(Watch { changes, current: watch::Sender::new(None) });
                    tokio::spawn(follow(state.clone(), event_id, watch.clone()));
                    watch
                })
                .clone();
            metrics::gauge!("gateway_availability_watches").set(watches.len() as f64);
            // Subscribed under the lock: a watch never stops while a stream is joining it.
            let changes = watch.changes.subscribe();
            (watch, changes)
        };
        let mut current = watch.current.subscribe();
        let first = current
            .wait_for(Option::is_some)
            .await
            .map_err(|_| Error::unavailable("the availability watch stopped"))?
            .clone()
            .expect("waited for a reading")?;
        let stream = stream::unfold(
            Follower {
                watch,
                changes,
                sent: None,
                pending: Some(first),
                closed: false,
                _counted: StreamCount::open(),
            },
            |mut follower| async move {
                let event = follower.next().await?;
                Some((Ok(event), follower))
            },
        );
        Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
    }
}

/// One browser's stream.
struct Follower {
    watch: Arc<Watch>,
    changes: broadcast::Receiver<Frame>,
    /// The version the browser has.
    sent: Option<u64>,
    /// A snapshot to send next.
    pending: Option<Arc<Snapshot>>,
    /// The `closed` frame was sent: the stream ends.
    closed: bool,
    _counted: StreamCount,
}

/// Counts the open streams (`gateway_availability_streams`) while it lives.
struct StreamCount;

impl StreamCount {
    fn open() -> StreamCount {
        metrics::gauge!("gateway_availability_streams").increment(1.0);
        StreamCount
    }
}

impl Drop for StreamCount {
    fn drop(&mut self) {
        metrics::gauge!("gateway_availability_streams").decrement(1.0);
    }
}

impl Follower {
    async fn next(&mut self) -> Option<Event> {
        if self.closed {
            return None;
        }
        loop {
            if let Some(snapshot) = self.pending.take() {
                self.sent = Some(snapshot.version);
                return Some(Event::default().event("snapshot").data(&*snapshot.frame()));
            }
            match self.changes.recv().await {
                Ok(Frame::Changes { version, .. }) if self.sent.is_some_and(|sent| version <= sent) => {
                    continue
                }
                Ok(Frame::Changes { version, data }) => {
                    self.sent = Some(version);
                    return Some(Event::default().event("changes").data(&*data));
                }
                Ok(Frame::Closed) => {
                    self.closed = true;
                    return Some(Event::default().event("closed").data(CLOSED));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let current = self.watch.current.borrow().clone();
                    self.pending = current.and_then(Result::ok);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// Where each seat of the event's venue is in the seat order.
struct SeatOrder {
    index: HashMap<String, usize>,
}

impl SeatOrder {
    async fn load(state: &AppState, event_id: Uuid) -> Result<SeatOrder, Error> {
        let event = state
            .events()
            .get_event(event_pb::GetEventRequest { event_id: event_id.to_string(), caller: None })
            .await
            .map_err(|status| Error::from_status(&status))?
            .into_inner();
        let Some(venue_id) = event.venue_id else {
            return Ok(SeatOrder { index: HashMap::new() });
        };
        let venue = state
            .events()
            .get_venue(event_pb::GetVenueRequest { venue_id })
            .await
            .map_err(|status| Error::from_status(&status))?
            .into_inner();
        // The seat order is the venue's `seats` list of the API, so it is read the same way.
        let seats = VenueResponse::from_proto(venue).map_err(|error| error.0)?.seats;
        let index = seats.into_iter().enumerate().map(|(index, id)| (id, index)).collect();
        Ok(SeatOrder { index })
    }

    async fn read(&self, state: &AppState, event_id: Uuid, version: u64) -> Result<Snapshot, Error> {
        let request = booking_pb::GetAvailabilityRequest { event_id: event_id.to_string(), caller: None };
        let availability = state
            .bookings()
            .get_availability(request)
            .await
            .map_err(|status| Error::from_status(&status))?
            .into_inner();
        let mut seats = vec![NOT_ON_SALE; self.index.len()];
        for seat in &availability.seats {
            let status = SeatStatus::from_wire(seat.status).ok_or_else(|| {
                Error::internal(format!("the bookings service sent seat status {}", seat.status))
            })?;
            if let Some(&index) = self.index.get(&seat.id) {
                seats[index] = status_byte(status);
            }
        }
        let categories = availability.categories.into_iter().map(CategoryCounts::from_proto).collect();
        Ok(Snapshot { version, categories, seats, rendered: OnceLock::new() })
    }
}

/// Stops counting an event as watched; its watch is ending.
fn forget(watches: &mut HashMap<Uuid, Arc<Watch>>, event_id: Uuid) {
    watches.remove(&event_id);
    metrics::gauge!("gateway_availability_watches").set(watches.len() as f64);
}

/// The watch of one event: reads it every [`POLL_INTERVAL`] while anyone listens.
async fn follow(state: AppState, event_id: Uuid, watch: Arc<Watch>) {
    let hub = state.live();
    let mut order = None;
    let mut last: Option<Arc<Snapshot>> = None;
    let mut idle_since: Option<Instant> = None;
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if watch.changes.receiver_count() == 0 {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= IDLE_GRACE {
                let mut watches = hub.watches.lock().expect("the hub is never poisoned");
                if watch.changes.receiver_count() == 0 {
                    forget(&mut watches, event_id);
                    return;
                }
            }
            continue;
        }
        idle_since = None;
        let version = last.as_ref().map_or(1, |last| last.version + 1);
        let reading = async {
            if order.is_none() {
                order = Some(SeatOrder::load(&state, event_id).await?);
            }
            order.as_ref().expect("loaded above").read(&state, event_id, version).await
        }
        .await;
        match (reading, &last) {
            (Ok(snapshot), None) => {
                let snapshot = Arc::new(snapshot);
                last = Some(snapshot.clone());
                watch.current.send_replace(Some(Ok(snapshot)));
            }
            (Ok(snapshot), Some(previous)) => {
                let Some(data) = snapshot.changes_since(previous) else {
                    continue;
                };
                let snapshot = Arc::new(snapshot);
                last = Some(snapshot.clone());
                watch.current.send_replace(Some(Ok(snapshot)));
                let _ = watch.changes.send(Frame::Changes { version, data });
            }
            // Nothing to show yet: whoever waits is told, and the next viewer starts afresh.
            (Err(error), None) => {
                forget(&mut hub.watches.lock().expect("the hub is never poisoned"), event_id);
                watch.current.send_replace(Some(Err(error)));
                return;
            }
            // The viewers keep the last reading while the service is away; an event gone off
            // sale ends their streams with a last frame that says so.
            (Err(error), Some(_)) => {
                if error.code == Code::NotFound {
                    forget(&mut hub.watches.lock().expect("the hub is never poisoned"), event_id);
                    let _ = watch.changes.send(Frame::Closed);
                    return;
                }
                tracing::debug!(%event_id, %error, "reading availability failed; retrying");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(version: u64, seats: &str, available: u32) -> Snapshot {
        let categories =
            vec![CategoryCounts { id: "c".into(), capacity: 4, available, held: 4 - available, sold: 0 }];
        Snapshot { version, categories, seats: seats.as_bytes().to_vec(), rendered: OnceLock::new() }
    }

    #[test]
    fn a_snapshot_is_one_character_per_seat_and_changes_name_only_what_changed() {
        let before = snapshot(1, "aaax", 3);
        assert_eq!(
            &*before.frame(),
            r#"{"version":1,"categories":[{"id":"c","capacity":4,"available":3,"held":1,"sold":0}],"seats":"aaax"}"#
        );
        let after = snapshot(2, "ahax", 2);
        let changes = after.changes_since(&before).unwrap();
        assert!(changes.contains(r#""seats":[[1,"h"]]"#), "{changes}");
        assert!(snapshot(3, "ahax", 2).changes_since(&after).is_none());
    }
}
