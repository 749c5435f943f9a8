//! The virtual waiting room in front of an event's on-sale (its settings are the event's, in the
//! events service; its queue is in the shared store, `boxoffice_kv::waiting_room`, so that every
//! gateway replica serves one queue and one flow of admissions).
//!
//! A buyer joins, polls their place, and once admitted gets an **admission pass**: the end of the
//! admission and a tag the gateway signs with a key derived from the token secret, bound to the
//! account and the event. While the room is on, holding tickets needs the pass (`X-Queue-Pass`,
//! or the web app's form field), checked here without a store round trip: another account's,
//! another event's, an altered or an expired pass is refused as `queue_required`. A confirmed
//! booking ends the admission at once, and its place goes to the next buyer; its pass is then
//! refused too (one read of the store per hold through a room). A buyer whose admission ended
//! may join again, at the back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boxoffice_errors::{Code, Error};
use boxoffice_kv::{Standing, Visit, Visited};
use boxoffice_proto::{booking as booking_pb, event as event_pb};
use chrono::{DateTime, Utc};
use tokio::time::Instant;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::AppState;

/// How long a gateway trusts what it read of an event's room (its settings, the units left),
/// from the start of the read; one request then reads it again.
const ROOM_INFO_TTL: Duration = Duration::from_secs(1);
/// How long an older reading is still given while one request reads the room again, and how
/// long a request waits for a first reading under way.
const ROOM_INFO_STALE_FOR: Duration = Duration::from_secs(3);
/// Rooms whose settings one gateway keeps at most.
const MAX_CACHED_ROOMS: usize = 10_000;
/// The purpose of an admission pass's tag.
const PASS_PURPOSE: &str = "waiting-room-pass";
/// The purpose of a proof-of-work challenge's tag.
const CHALLENGE_PURPOSE: &str = "waiting-room-challenge";
/// How long a proof-of-work challenge may be solved and used.
pub const CHALLENGE_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// A room's queue is kept this long after its event ends.
const KEEP_AFTER_END: Duration = Duration::from_secs(24 * 3600);
/// The header that carries the pass to `POST /api/v1/bookings`.
pub const PASS_HEADER: &str = "x-queue-pass";

/// What the gateway knows of an event's waiting room.
#[derive(Clone, Debug)]
pub struct RoomInfo {
    pub event_id: Uuid,
    pub opens_at: DateTime<Utc>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub admissions_per_minute: u32,
    pub admission: Duration,
    pub max_admitted: u32,
    pub proof_of_work_bits: u32,
    pub max_tickets_per_booking: u32,
    /// Units left on sale, over every category.
    pub available: u64,
    /// The room's series, labelled once per reading rather than on every visit.
    metrics: RoomMetrics,
}

/// The room's figures as its last visit read them: its length, admissions so far (whose rate
/// is the admission rate) and the rate it measured.
#[derive(Clone, Debug)]
struct RoomMetrics {
    queued: metrics::Gauge,
    admitted: metrics::Counter,
    admissions_per_minute: metrics::Gauge,
}

impl RoomMetrics {
    fn of(event_id: Uuid) -> RoomMetrics {
        let event_id = event_id.to_string();
        RoomMetrics {
            queued: metrics::gauge!("waiting_room_queued", "event_id" => event_id.clone()),
            admitted: metrics::counter!("waiting_room_admitted_total", "event_id" => event_id.clone()),
            admissions_per_minute: metrics::gauge!("waiting_room_admissions_per_minute", "event_id" => event_id),
        }
    }

    fn record(&self, visited: &Visited) {
        self.queued.set(visited.queued as f64);
        self.admitted.absolute(visited.served);
        if let Some(rate) = visited.measured_per_minute {
            self.admissions_per_minute.set(rate);
        }
    }
}

/// What was read of an event's room and when, and whether a request is reading it.
struct Reading {
    /// The last reading and when its read began; `None` until a first read of the room ends well.
    last: Option<(Instant, Option<Arc<RoomInfo>>)>,
    /// A request has claimed the room's next read (it may have given up waiting since, see
    /// [`Rooms`]).
    refreshing: bool,
    /// Reads of the room ended so far, however they ended.
    reads_ended: u64,
    /// How the last read that ended failed, if it did: the requests that waited for it, having
    /// no reading to give, answer the same.
    failure: Option<Error>,
    /// Told when a read ends: the requests waiting for a first reading wait for it.
    read_ended: Arc<tokio::sync::Notify>,
}

impl Reading {
    fn new() -> Reading {
        Reading { last: None, refreshing: false, reads_ended: 0, failure: None, read_ended: Arc::default() }
    }

    /// Whether it is worth keeping: read within [`ROOM_INFO_TTL`], or being read.
    fn is_live(&self) -> bool {
        self.refreshing || self.last.as_ref().is_some_and(|(read_at, _)| read_at.elapsed() < ROOM_INFO_TTL)
    }
}

/// The rooms of the events this gateway was asked about, each read about once a second by one
/// request at a time. When a reading is older than [`ROOM_INFO_TTL`], one request reads it again
/// while the others keep the old one; before a room's first reading, the others wait for the
/// read under way and answer as it ended (its reading, or its error). A read that hangs is
/// waited for [`ROOM_INFO_STALE_FOR`] at most: then the others read too, each for itself.
/// Without that, every request in flight when a reading aged (hundreds, in an on-sale) read it
/// again at once from the events and bookings services.
#[derive(Default)]
pub struct Rooms {
    cache: Mutex<HashMap<Uuid, Reading>>,
}

fn millis(time: DateTime<Utc>) -> u64 {
    u64::try_from(time.timestamp_millis()).unwrap_or(0)
}

impl Rooms {
    /// The event's room, `None` when it has none. An event the public cannot see is `not_found`
    /// (once the last reading that saw it is older than [`ROOM_INFO_TTL`], and read again).
    pub async fn info(&self, state: &AppState, event_id: Uuid) -> Result<Option<Arc<RoomInfo>>, Error> {
        self.info_or_read(event_id, read_room(state, event_id)).await
    }

    /// The event's room as last read; or, when that reading is too old and no other request is
    /// reading it, as `read` reads it now. Before a first reading, a request waits for the read
    /// under way and answers as it ended, or reads too after [`ROOM_INFO_STALE_FOR`].
    async fn info_or_read(
        &self,
        event_id: Uuid,
        read: impl std::future::Future<Output = Result<Option<RoomInfo>, Error>>,
    ) -> Result<Option<Arc<RoomInfo>>, Error> {
        let wait_until = Instant::now() + ROOM_INFO_STALE_FOR;
        let mut waited_for: Option<u64> = None;
        loop {
            let read_ended = {
                let mut cache = self.lock();
                if cache.len() >= MAX_CACHED_ROOMS && !cache.contains_key(&event_id) {
                    cache.retain(|_, reading| reading.is_live());
                }
                let reading = cache.entry(event_id).or_insert_with(Reading::new);
                match &reading.last {
                    Some((read_at, info)) if read_at.elapsed() < ROOM_INFO_TTL => return Ok(info.clone()),
                    Some((read_at, info))
                        if reading.refreshing && read_at.elapsed() < ROOM_INFO_STALE_FOR =>
                    {
                        return Ok(info.clone());
                    }
                    _ => {}
                }
                // The read this request waited for ended, and failed: its answer is this one's.
                if let (Some(seen), Some(failure)) = (waited_for, &reading.failure) {
                    if reading.reads_ended > seen {
                        return Err(failure.clone());
                    }
                }
                if reading.last.is_none() && reading.refreshing {
                    waited_for = Some(reading.reads_ended);
                    reading.read_ended.clone().notified_owned()
                } else {
                    reading.refreshing = true;
                    break;
                }
            };
            // The first reading is under way: wait for it, or read too if it hangs.
            if tokio::time::timeout_at(wait_until, read_ended).await.is_err() {
                break;
            }
        }
        // Whatever becomes of the read (an error, or the request given up half-way), the next
        // request may read, and those waiting for it are told.
        let mut refresh = Refresh { rooms: self, event_id, failure: None };
        let began = Instant::now();
        match read.await {
            Ok(info) => {
                let info = info.map(Arc::new);
                let mut cache = self.lock();
                let reading = cache.entry(event_id).or_insert_with(Reading::new);
                // A read that began before the last reading's (it hung, and others read since)
                // does not replace it.
                if reading.last.as_ref().is_none_or(|(read_at, _)| *read_at <= began) {
                    reading.last = Some((began, info.clone()));
                }
                drop(cache);
                drop(refresh);
                Ok(info)
            }
            Err(error) => {
                refresh.failure = Some(error.clone());
                drop(refresh);
                Err(error)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Reading>> {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A read of a room under way. When it ends, however (a reading stored, an error, or the request
/// given up half-way), the next request may read again, and the requests waiting for it are
/// told how it ended.
struct Refresh<'a> {
    rooms: &'a Rooms,
    event_id: Uuid,
    failure: Option<Error>,
}

impl Drop for Refresh<'_> {
    fn drop(&mut self) {
        if let Some(reading) = self.rooms.lock().get_mut(&self.event_id) {
            reading.refreshing = false;
            reading.reads_ended += 1;
            reading.failure = self.failure.take();
            reading.read_ended.notify_waiters();
        }
    }
}

async fn read_room(state: &AppState, event_id: Uuid) -> Result<Option<RoomInfo>, Error> {
    let request = event_pb::GetEventRequest { event_id: event_id.to_string(), caller: None };
    let event = state.events().get_event(request).await.map_err(|status| Error::from_status(&status))?;
    let event = event.into_inner();
    let Some(room) = event.waiting_room else { return Ok(None) };
    let time = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|error| Error::internal(format!("the events service sent a bad time {text:?}: {error}")))
    };
    let Some(sale_starts_at) = event.sale_starts_at.as_deref() else {
        return Err(Error::internal("the events service sent a waiting room without a sale start"));
    };
    let request = booking_pb::GetAvailabilityRequest { event_id: event_id.to_string(), caller: None };
    let available = match state.bookings().get_availability(request).await {
        Ok(availability) => availability.into_inner().categories.iter().map(|c| u64::from(c.available)).sum(),
        Err(status) => return Err(Error::from_status(&status)),
    };
    Ok(Some(RoomInfo {
        event_id,
        opens_at: time(&room.opens_at)?,
        starts_at: time(sale_starts_at)?,
        ends_at: time(&event.ends_at)?,
        admissions_per_minute: room.admissions_per_minute.max(1),
        admission: Duration::from_secs(u64::from(room.admission_minutes) * 60),
        max_admitted: room.max_admitted,
        proof_of_work_bits: room.proof_of_work_bits,
        max_tickets_per_booking: event.max_tickets_per_booking,
        available,
        metrics: RoomMetrics::of(event_id),
    }))
}

/// Where a buyer stands in a room, as the API tells it.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    pub standing: Standing,
    pub visited: Visited,
    /// The pass, while admitted.
    pub pass: Option<String>,
}

/// A solved proof of work, as a joining client sends it.
#[derive(Clone, Debug)]
pub struct Work {
    pub challenge: String,
    pub nonce: String,
}

/// A challenge for `user` to join the room: `<issued, ms>.<tag>`, bound to the account and the
/// event. The client finds a nonce such that SHA-256 of `<challenge>:<nonce>` starts with the
/// room's number of zero bits (hashcash), so that every place in the queue costs some CPU.
pub fn challenge(state: &AppState, room: &RoomInfo, user: AuthUser) -> String {
    let issued_ms = millis(Utc::now());
    let tag = state
        .tokens()
        .sign_proof(CHALLENGE_PURPOSE, &format!("{}|{}|{issued_ms}", room.event_id, user.user_id));
    format!("{issued_ms}.{tag}")
}

/// Checks a solved challenge: ours, for this account and event, fresh, and solved.
fn check_work(state: &AppState, room: &RoomInfo, user: AuthUser, work: Option<&Work>) -> Result<(), Error> {
    if room.proof_of_work_bits == 0 {
        return Ok(());
    }
    let Some(work) = work else {
        return Err(Error::validation(format!(
            "challenge: this waiting room asks a proof of work: solve the `challenge` of GET /events/{}/queue \
             and send it with its `nonce`",
            room.event_id
        )));
    };
    let issued = work.challenge.split_once('.').and_then(|(issued, tag)| {
        let issued_ms: u64 = issued.parse().ok()?;
        let text = format!("{}|{}|{issued_ms}", room.event_id, user.user_id);
        state.tokens().verify_proof(CHALLENGE_PURPOSE, &text, tag).then_some(issued_ms)
    });
    let lifetime = u64::try_from(CHALLENGE_LIFETIME.as_millis()).unwrap_or(u64::MAX);
    match issued {
        None => return Err(Error::validation("challenge: not a challenge this server gave this account")),
        Some(issued_ms) if issued_ms.saturating_add(lifetime) < millis(Utc::now()) => {
            return Err(Error::validation("challenge: too old; ask for a new one"))
        }
        Some(_) => {}
    }
    if work.nonce.len() > MAX_NONCE_CHARS || !solves(&work.challenge, &work.nonce, room.proof_of_work_bits) {
        return Err(Error::validation("nonce: does not solve the challenge"));
    }
    Ok(())
}

/// The longest nonce accepted.
const MAX_NONCE_CHARS: usize = 64;

/// Whether SHA-256 of `<challenge>:<nonce>` starts with `bits` zero bits.
pub fn solves(challenge: &str, nonce: &str, bits: u32) -> bool {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{challenge}:{nonce}").as_bytes());
    let mut zeros = 0;
    for byte in digest {
        if byte == 0 {
            zeros += 8;
            continue;
        }
        zeros += byte.leading_zeros();
        break;
    }
    zeros >= bits
}

/// One visit of `user` to the room: joining it (`join`, with the proof of work the room may ask)
/// or only looking.
pub async fn visit(state: &AppState, room: &RoomInfo, user: AuthUser, join: bool) -> Result<Place, Error> {
    visit_with(state, room, user, join, None).await
}

pub async fn visit_with(
    state: &AppState,
    room: &RoomInfo,
    user: AuthUser,
    join: bool,
    work: Option<&Work>,
) -> Result<Place, Error> {
    let now = Utc::now();
    if join && now < room.opens_at {
        return Err(Error::new(Code::Conflict, "the waiting room is not open yet; see its opens_at"));
    }
    if join && room.proof_of_work_bits > 0 {
        // Joining again keeps the place, with or without work; a first join needs it.
        let place = Box::pin(visit_with(state, room, user, false, None)).await?;
        if place.standing != Standing::NotQueued {
            return Ok(place);
        }
        check_work(state, room, user, work)?;
    }
    if now >= room.ends_at {
        return Err(Error::new(Code::Conflict, "the event is over"));
    }
    let keep = (room.ends_at - now).to_std().unwrap_or_default() + KEEP_AFTER_END;
    let member = user.user_id.to_string();
    let visit = Visit {
        member: &member,
        join,
        now_ms: millis(now),
        start_ms: millis(room.starts_at),
        draw: rand::random::<u64>() >> 11,
        rate_per_minute: room.admissions_per_minute,
        admission_ms: u64::try_from(room.admission.as_millis()).unwrap_or(u64::MAX),
        max_admitted: room.max_admitted,
        keep_ms: u64::try_from(keep.as_millis()).unwrap_or(u64::MAX),
    };
    let visited = state
        .kv()
        .queue_visit(&format!("wr:{}", room.event_id), &visit)
        .await
        .map_err(|error| Error::unavailable(format!("{error:#}")))?;
    room.metrics.record(&visited);
    let pass = match visited.standing {
        Standing::Admitted { until_ms } => Some(issue_pass(state, room.event_id, user.user_id, until_ms)),
        _ => None,
    };
    Ok(Place { standing: visited.standing, visited, pass })
}

fn pass_text(event_id: Uuid, user_id: Uuid, until_ms: u64) -> String {
    format!("{event_id}|{user_id}|{until_ms}")
}

/// `<end of admission, ms>.<tag>`: the account and the event are not in it, but in its tag, so
/// a pass only verifies for them.
pub fn issue_pass(state: &AppState, event_id: Uuid, user_id: Uuid, until_ms: u64) -> String {
    let tag = state.tokens().sign_proof(PASS_PURPOSE, &pass_text(event_id, user_id, until_ms));
    format!("{until_ms}.{tag}")
}

/// Checks a pass for this account and event, now, and answers the end of its admission.
pub fn check_pass(state: &AppState, event_id: Uuid, user_id: Uuid, pass: Option<&str>) -> Result<u64, Error> {
    let refused =
        |why: &str| Error::new(Code::QueueRequired, format!("this event has a waiting room: {why}"));
    let Some(pass) = pass.map(str::trim).filter(|pass| !pass.is_empty()) else {
        return Err(refused("join its queue, and hold tickets with the admission pass once let in"));
    };
    let valid = pass.split_once('.').and_then(|(until, tag)| {
        let until_ms: u64 = until.parse().ok()?;
        state
            .tokens()
            .verify_proof(PASS_PURPOSE, &pass_text(event_id, user_id, until_ms), tag)
            .then_some(until_ms)
    });
    match valid {
        None => Err(refused("the admission pass is not this account's pass for this event")),
        Some(until_ms) if until_ms <= millis(Utc::now()) => {
            Err(refused("the admission pass has run out; join the queue again"))
        }
        Some(until_ms) => Ok(until_ms),
    }
}

/// Where a paid booking marks the end of its buyer's admission: the time it ended, in ms.
fn spent_key(event_id: Uuid, user_id: Uuid) -> String {
    format!("wr:{event_id}:spent:{user_id}")
}

/// The gate of a hold: an event with a waiting room needs the caller's pass.
pub async fn admit_hold(
    state: &AppState,
    caller: AuthUser,
    event_id: Uuid,
    pass: Option<&str>,
) -> Result<(), Error> {
    let room = match state.rooms().info(state, event_id).await {
        Ok(room) => room,
        // The bookings service answers for an event it cannot sell.
        Err(error) if error.code == Code::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    let Some(room) = room else { return Ok(()) };
    let until_ms = check_pass(state, event_id, caller.user_id, pass)?;
    // A pass of an admission that a paid booking ended admits nothing more: the one read of the
    // store a hold through a waiting room costs (holds there come at the room's rate).
    let spent = state
        .kv()
        .get(&spent_key(event_id, caller.user_id))
        .await
        .map_err(|error| Error::unavailable(format!("{error:#}")))?;
    let admitted_at = until_ms.saturating_sub(u64::try_from(room.admission.as_millis()).unwrap_or(u64::MAX));
    match spent.and_then(|spent| spent.parse::<u64>().ok()) {
        Some(spent_at) if admitted_at <= spent_at => Err(Error::new(
            Code::QueueRequired,
            "this event has a waiting room: this admission ended with a paid booking; join the queue again",
        )),
        _ => Ok(()),
    }
}

/// After a confirmed booking: the buyer's admission ends, and its place goes to the next one.
pub async fn booking_completed(state: &AppState, user_id: Uuid, event_id: Uuid) {
    let Ok(Some(room)) = state.rooms().info(state, event_id).await else { return };
    let now = millis(Utc::now()).to_string();
    // Passes of this admission live at most as long as an admission.
    let (key, room_name, member) =
        (spent_key(event_id, user_id), format!("wr:{event_id}"), user_id.to_string());
    let spent = state.kv().set_ex(&key, &now, room.admission);
    let finished = state.kv().queue_finish(&room_name, &member);
    if let (Err(error), _) | (_, Err(error)) = tokio::join!(spent, finished) {
        tracing::warn!(%event_id, %error, "ending an admission after a booking failed; it runs out by itself");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn room(event_id: Uuid, available: u64) -> RoomInfo {
        let now = Utc::now();
        RoomInfo {
            event_id,
            opens_at: now,
            starts_at: now,
            ends_at: now,
            admissions_per_minute: 60,
            admission: Duration::from_secs(600),
            max_admitted: 100,
            proof_of_work_bits: 0,
            max_tickets_per_booking: 4,
            available,
            metrics: RoomMetrics::of(event_id),
        }
    }

    /// A read of the room that counts itself and finds `available` units left.
    async fn counted(reads: &AtomicUsize, event_id: Uuid, available: u64) -> Result<Option<RoomInfo>, Error> {
        reads.fetch_add(1, Ordering::SeqCst);
        Ok(Some(room(event_id, available)))
    }

    fn available(info: &Option<Arc<RoomInfo>>) -> u64 {
        info.as_ref().unwrap().available
    }

    #[tokio::test(start_paused = true)]
    async fn an_old_reading_is_read_again_by_one_request_while_the_others_keep_it() {
        let rooms = Rooms::default();
        let event_id = Uuid::now_v7();
        let reads = AtomicUsize::new(0);
        assert_eq!(
            available(&rooms.info_or_read(event_id, counted(&reads, event_id, 10)).await.unwrap()),
            10
        );
        for _ in 0..10 {
            rooms.info_or_read(event_id, counted(&reads, event_id, 0)).await.unwrap();
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1, "read once a second");

        tokio::time::advance(ROOM_INFO_TTL).await;
        // One request reads again, and its read takes a while.
        let (answer, answered) = tokio::sync::oneshot::channel();
        let slow = async {
            reads.fetch_add(1, Ordering::SeqCst);
            Ok(Some(room(event_id, answered.await.unwrap())))
        };
        let refreshing = rooms.info_or_read(event_id, slow);
        tokio::pin!(refreshing);
        assert!(futures::poll!(refreshing.as_mut()).is_pending());
        // Meanwhile every other request gets the old reading, and reads nothing.
        for _ in 0..100 {
            let info = rooms.info_or_read(event_id, counted(&reads, event_id, 0)).await.unwrap();
            assert_eq!(available(&info), 10);
        }
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        answer.send(7).unwrap();
        assert_eq!(available(&refreshing.await.unwrap()), 7);
        let info = rooms.info_or_read(event_id, counted(&reads, event_id, 0)).await.unwrap();
        assert_eq!(available(&info), 7, "the new reading, for everyone");
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_that_fails_or_is_given_up_lets_the_next_request_read() {
        let rooms = Rooms::default();
        let event_id = Uuid::now_v7();
        let reads = AtomicUsize::new(0);
        rooms.info_or_read(event_id, counted(&reads, event_id, 10)).await.unwrap();
        tokio::time::advance(ROOM_INFO_TTL).await;

        let failing = async { Err(Error::unavailable("the events service is away")) };
        assert!(rooms.info_or_read(event_id, failing).await.is_err());
        let info = rooms.info_or_read(event_id, counted(&reads, event_id, 5)).await.unwrap();
        assert_eq!(available(&info), 5, "read again after the failure");

        tokio::time::advance(ROOM_INFO_TTL).await;
        // The request reading it is given up half-way (its client went away).
        let never = std::future::pending::<Result<Option<RoomInfo>, Error>>();
        let mut abandoned = Box::pin(rooms.info_or_read(event_id, never));
        assert!(futures::poll!(abandoned.as_mut()).is_pending());
        assert_eq!(available(&rooms.info_or_read(event_id, counted(&reads, event_id, 0)).await.unwrap()), 5);
        drop(abandoned);
        let info = rooms.info_or_read(event_id, counted(&reads, event_id, 3)).await.unwrap();
        assert_eq!(available(&info), 3);
        assert_eq!(reads.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reading_is_kept_for_others_only_so_long_while_its_read_hangs() {
        let rooms = Rooms::default();
        let event_id = Uuid::now_v7();
        let reads = AtomicUsize::new(0);
        rooms.info_or_read(event_id, counted(&reads, event_id, 10)).await.unwrap();
        tokio::time::advance(ROOM_INFO_TTL).await;
        let hanging = rooms.info_or_read(event_id, std::future::pending());
        tokio::pin!(hanging);
        assert!(futures::poll!(hanging.as_mut()).is_pending());

        tokio::time::advance(ROOM_INFO_STALE_FOR - ROOM_INFO_TTL).await;
        let info = rooms.info_or_read(event_id, counted(&reads, event_id, 2)).await.unwrap();
        assert_eq!(available(&info), 2, "too old to give: read by the request itself");
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn before_a_rooms_first_reading_the_others_wait_for_the_one_under_way() {
        let rooms = Rooms::default();
        let event_id = Uuid::now_v7();
        let reads = AtomicUsize::new(0);
        let (answer, answered) = tokio::sync::oneshot::channel();
        let slow = async {
            reads.fetch_add(1, Ordering::SeqCst);
            Ok(Some(room(event_id, answered.await.unwrap())))
        };
        let mut first = Box::pin(rooms.info_or_read(event_id, slow));
        assert!(futures::poll!(first.as_mut()).is_pending());
        let mut others = Box::pin(futures::future::join_all(
            (0..50).map(|_| rooms.info_or_read(event_id, counted(&reads, event_id, 0))),
        ));
        assert!(futures::poll!(others.as_mut()).is_pending(), "they wait");
        answer.send(9).unwrap();
        assert_eq!(available(&first.await.unwrap()), 9);
        for info in others.await {
            assert_eq!(available(&info.unwrap()), 9);
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1, "read once for all");

        // A first read that fails: those waiting for it answer as it did, without reading.
        let other_event = Uuid::now_v7();
        let (fail, failed) = tokio::sync::oneshot::channel::<()>();
        let failing = async {
            failed.await.unwrap();
            Err(Error::not_found("event"))
        };
        let mut first = Box::pin(rooms.info_or_read(other_event, failing));
        assert!(futures::poll!(first.as_mut()).is_pending());
        let mut others = Box::pin(futures::future::join_all(
            (0..10).map(|_| rooms.info_or_read(other_event, counted(&reads, other_event, 4))),
        ));
        assert!(futures::poll!(others.as_mut()).is_pending());
        fail.send(()).unwrap();
        let error = first.await.unwrap_err();
        for answer in others.await {
            assert_eq!(answer.unwrap_err(), error);
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1, "no read of their own");
        // The next request reads again.
        let info = rooms.info_or_read(other_event, counted(&reads, other_event, 4)).await.unwrap();
        assert_eq!(available(&info), 4);
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_that_began_before_the_last_reading_does_not_replace_it() {
        let rooms = Rooms::default();
        let event_id = Uuid::now_v7();
        let reads = AtomicUsize::new(0);
        rooms.info_or_read(event_id, counted(&reads, event_id, 10)).await.unwrap();
        tokio::time::advance(ROOM_INFO_TTL).await;
        let (answer, answered) = tokio::sync::oneshot::channel();
        let slow = async { Ok(Some(room(event_id, answered.await.unwrap()))) };
        let mut slow = Box::pin(rooms.info_or_read(event_id, slow));
        assert!(futures::poll!(slow.as_mut()).is_pending());
        tokio::time::advance(ROOM_INFO_STALE_FOR).await;
        // The slow read has hung too long: a request reads for itself, and sees the sale go on.
        assert_eq!(available(&rooms.info_or_read(event_id, counted(&reads, event_id, 3)).await.unwrap()), 3);
        answer.send(8).unwrap();
        assert_eq!(available(&slow.await.unwrap()), 8, "its caller gets what it read");
        let info = rooms.info_or_read(event_id, counted(&reads, event_id, 0)).await.unwrap();
        assert_eq!(available(&info), 3, "the later reading stays");
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_reading_that_hangs_is_waited_for_only_so_long() {
        let rooms = Rooms::default();
        let event_id = Uuid::now_v7();
        let reads = AtomicUsize::new(0);
        let mut hanging = Box::pin(rooms.info_or_read(event_id, std::future::pending()));
        assert!(futures::poll!(hanging.as_mut()).is_pending());
        let waiting = rooms.info_or_read(event_id, counted(&reads, event_id, 6));
        tokio::pin!(waiting);
        let started = Instant::now();
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        tokio::time::advance(ROOM_INFO_STALE_FOR - Duration::from_millis(1)).await;
        assert!(futures::poll!(waiting.as_mut()).is_pending(), "it waits");
        assert_eq!(reads.load(Ordering::SeqCst), 0);
        assert_eq!(available(&waiting.await.unwrap()), 6, "read by the request itself");
        assert_eq!(started.elapsed(), ROOM_INFO_STALE_FOR, "after waiting so long, no longer");
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        // Its reading is there for the next ones.
        assert_eq!(available(&rooms.info_or_read(event_id, counted(&reads, event_id, 0)).await.unwrap()), 6);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }
}
