//! Recent "sold out" answers of the bookings service, repeated for a moment by the gateway
//! without asking it again.
//!
//! In an on-sale almost every hold asks for a category that is gone: the bookings service
//! answers each from its own memo (`boxoffice_bookings::sold_out`) without touching its store,
//! but every one of them still costs the gateway a gRPC call, which on the split deployment is
//! as much work again as the whole HTTP request.
//!
//! It only ever refuses, so it cannot sell anything twice, and it answers only what the service
//! would answer: a hold of one general-admission category, without seats and without an
//! `Idempotency-Key` (a retry of a hold that succeeded must get its booking). The service's
//! refusal of `n` tickets means fewer than `n` were free, so it stands for every quantity from
//! `n` up to the largest the service refused since the memo last had nothing to repeat (each of
//! those passed the service's checks of the event, so any quantity up to it does too), each for
//! [`SOLD_OUT_ECHO`] after the hold of the latest refusal that covers it was sent. The refusal
//! is the service's own, word for word.
//!
//! Once half of that time has passed, one hold at a time goes to the service again while the
//! others are still answered here, so a category that stays sold out costs the service one
//! call per gateway every [`ASK_AGAIN_AFTER`] or so, instead of a rush of every hold that
//! arrives between the memo's end and the service's next answer. A hold the service grants
//! ends the memo of its category at once, and a refusal of a hold sent before that grant came
//! is not remembered.
//!
//! Tickets returned to sale (a cancellation, a refund, an expired hold) are therefore offered
//! through a gateway of its own within [`SOLD_OUT_ECHO`] after the bookings replica that
//! answered it sees them: at most that and the bookings service's own memo, 150 ms, after their
//! return.
//!
//! The all-in-one process keeps this memo too: its call to the bookings service in the same
//! process still encodes, sends and decodes a gRPC request and its answer, which costs about as
//! much as the rest of a refused hold. There the bookings service tells the memo of every
//! release it makes ([`SoldOutAnswers::released`]), so tickets returned through it are on sale
//! at once, as they are in the service itself: the memo forgets the event's refusals, and a
//! refusal of a hold sent before the release is neither repeated nor remembered.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use boxoffice_errors::{Code, Error};
use boxoffice_proto::booking as pb;
use boxoffice_types::limits::events::MAX_TICKETS_PER_BOOKING;
use uuid::Uuid;

/// How long a "sold out" answer of the bookings service is repeated by a gateway, counted from
/// when the hold it answered was sent.
pub const SOLD_OUT_ECHO: Duration = Duration::from_millis(50);
/// How old an answer is when one hold at a time goes to the service again; also how long that
/// hold's answer is waited for before another may go.
pub const ASK_AGAIN_AFTER: Duration = Duration::from_millis(25);
/// Categories remembered at most; when full, the memo starts over.
const MAX_CATEGORIES: usize = 10_000;

/// A category: its event's id and its own, read as the bookings service reads them, so that
/// every spelling of one id is one category.
type Category = (Uuid, Uuid);

#[derive(Default)]
pub struct SoldOutAnswers {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    answers: HashMap<Category, Answer>,
    /// Events whose units came back in the last [`SOLD_OUT_ECHO`], and when: a refusal of a hold
    /// sent before then is not repeated (older ones have expired anyway).
    released: HashMap<Uuid, Instant>,
}

/// Whether a refusal of a hold of `event` sent at `sent` was decided before units came back.
fn decided_before_release(released: &HashMap<Uuid, Instant>, event: Uuid, sent: Instant) -> bool {
    released.get(&event).is_some_and(|released| sent < *released)
}

#[derive(Default)]
struct Answer {
    /// Until when each quantity is refused, the quantity `n` at `n - 1`; as many as the largest
    /// quantity refused since the memo last had nothing to repeat.
    until: Vec<Option<Instant>>,
    detail: String,
    /// Since when a hold is asking the service again.
    asking_since: Option<Instant>,
    /// When the service's last grant of a hold of the category came: a refusal of a hold sent
    /// before it may have been decided before it too.
    granted_at: Option<Instant>,
}

impl Answer {
    fn repeats_anything(&self, now: Instant) -> bool {
        self.until.iter().flatten().any(|until| *until > now)
    }
}

/// A hold the memo could answer, sent to the service: its answer goes to
/// [`SoldOutAnswers::answered`].
#[derive(Debug)]
pub struct Asked {
    category: Category,
    quantity: u32,
    sent: Instant,
    /// Whether it is the one hold asking again about an answer the memo still repeats.
    asking: bool,
}

/// The category a hold asks for and how many, when the memo may answer it.
fn shape(request: &pb::CreateBookingRequest) -> Option<(Category, u32)> {
    match request.items.as_slice() {
        [item]
            if request.seats.is_empty()
                && request.idempotency_key.is_none()
                && (1..=MAX_TICKETS_PER_BOOKING).contains(&item.quantity) =>
        {
            let event = Uuid::parse_str(request.event_id.trim()).ok()?;
            let category = Uuid::parse_str(item.category_id.trim()).ok()?;
            Some(((event, category), item.quantity))
        }
        _ => None,
    }
}

/// Where `quantity` (at least 1) is kept in [`Answer::until`].
fn slot(quantity: u32) -> usize {
    usize::try_from(quantity.saturating_sub(1)).unwrap_or(usize::MAX)
}

impl SoldOutAnswers {
    /// The service's refusal of a hold like this one, if it refused one a moment ago
    /// (`Err`); otherwise the hold goes to the service, and when the memo could have answered
    /// it, the service's answer is to be told to [`answered`](Self::answered) (`Ok(Some)`).
    pub fn check(&self, request: &pb::CreateBookingRequest) -> Result<Option<Asked>, Error> {
        self.check_at(request, Instant::now())
    }

    fn check_at(&self, request: &pb::CreateBookingRequest, now: Instant) -> Result<Option<Asked>, Error> {
        let Some((category, quantity)) = shape(request) else { return Ok(None) };
        let asked = Asked { category, quantity, sent: now, asking: false };
        let mut state = self.lock();
        let State { answers, released } = &mut *state;
        let Some(answer) = answers.get_mut(&category) else { return Ok(Some(asked)) };
        let Some(until) = answer.until.get(slot(quantity)).copied().flatten() else {
            return Ok(Some(asked));
        };
        // `until` is counted from when the latest refusal that covers this hold was sent.
        if now >= until || decided_before_release(released, category.0, until - SOLD_OUT_ECHO) {
            return Ok(Some(asked));
        }
        let old = now + (SOLD_OUT_ECHO - ASK_AGAIN_AFTER) >= until;
        let someone_asks = answer.asking_since.is_some_and(|since| now < since + ASK_AGAIN_AFTER);
        if old && !someone_asks {
            answer.asking_since = Some(now);
            return Ok(Some(Asked { asking: true, ..asked }));
        }
        Err(Error::new(Code::SoldOut, answer.detail.clone()))
    }

    /// What the service answered to a hold [`check`](Self::check) let through: `Ok` when it
    /// held the tickets.
    pub fn answered(&self, asked: Asked, answer: Result<(), &Error>) {
        self.answered_at(asked, answer, Instant::now());
    }

    fn answered_at(&self, asked: Asked, answer: Result<(), &Error>, now: Instant) {
        let mut state = self.lock();
        if let Some(answer) = state.answers.get_mut(&asked.category).filter(|_| asked.asking) {
            answer.asking_since = None;
        }
        if answer.is_err() && decided_before_release(&state.released, asked.category.0, asked.sent) {
            // Decided before units came back: perhaps not true any more.
            return;
        }
        let answers = &mut state.answers;
        let refusal = match answer {
            Err(error) if error.code == Code::SoldOut => Some(error),
            // Tickets were free: whatever was refused before may be free too.
            Ok(()) => None,
            // Another answer (the event's limit, an unknown category, the service down) is not
            // repeated, and makes no entry.
            Err(_) => return,
        };
        if answers.len() >= MAX_CATEGORIES && !answers.contains_key(&asked.category) {
            answers.retain(|_, answer| answer.repeats_anything(now));
            if answers.len() >= MAX_CATEGORIES {
                answers.clear();
            }
        }
        let answer = answers.entry(asked.category).or_default();
        let Some(refusal) = refusal else {
            answer.until.clear();
            answer.granted_at = Some(now);
            return;
        };
        if answer.granted_at.is_some_and(|granted_at| asked.sent < granted_at) {
            return;
        }
        // Nothing is repeated any more: what the service allowed then (its largest quantity, the
        // event's limit) is asked again.
        if !answer.repeats_anything(now) {
            answer.until.clear();
        }
        let quantity = slot(asked.quantity);
        if answer.until.len() <= quantity {
            answer.until.resize(quantity + 1, None);
        }
        let until = asked.sent + SOLD_OUT_ECHO;
        for known in &mut answer.until[quantity..] {
            *known = Some(known.map_or(until, |known| known.max(until)));
        }
        answer.detail.clone_from(&refusal.detail);
    }

    /// Units of `event_id` are back on sale (in the bookings service of this process): its
    /// refusals are not repeated any more, and one of a hold sent before now is not remembered.
    pub fn released(&self, event_id: Uuid) {
        self.released_at(event_id, Instant::now());
    }

    fn released_at(&self, event_id: Uuid, now: Instant) {
        let mut state = self.lock();
        state.released.retain(|_, released| now.saturating_duration_since(*released) < SOLD_OUT_ECHO);
        state.released.insert(event_id, now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = "0192f2a0-0000-7000-8000-000000000001";
    const CATEGORY: &str = "0192f2a0-0000-7000-8000-000000000002";
    const MS: Duration = Duration::from_millis(1);

    fn hold(quantity: u32) -> pb::CreateBookingRequest {
        pb::CreateBookingRequest {
            caller: None,
            event_id: EVENT.into(),
            items: vec![pb::BookingItemRequest { category_id: CATEGORY.into(), quantity }],
            seats: Vec::new(),
            idempotency_key: None,
        }
    }

    fn sold_out() -> Error {
        Error::new(Code::SoldOut, "not enough tickets left in category c")
    }

    /// The service refuses `quantity`, asked and answered at `at`.
    fn refuse(memo: &SoldOutAnswers, quantity: u32, at: Instant) {
        let asked = memo.check_at(&hold(quantity), at).expect("asks").expect("the memo may answer it");
        memo.answered_at(asked, Err(&sold_out()), at);
    }

    fn refused(memo: &SoldOutAnswers, quantity: u32, at: Instant) -> bool {
        memo.check_at(&hold(quantity), at).is_err()
    }

    #[test]
    fn a_refusal_stands_for_more_up_to_the_most_refused_and_only_for_a_moment() {
        let memo = SoldOutAnswers::default();
        let start = Instant::now();
        refuse(&memo, 4, start);
        refuse(&memo, 2, start);
        let asked = memo.check_at(&hold(5), start).unwrap().unwrap();
        memo.answered_at(asked, Err(&Error::new(Code::LimitExceeded, "no")), start);
        assert!(!refused(&memo, 1, start), "fewer than any refused may be free");
        for quantity in 2..=4 {
            let refusal = memo.check_at(&hold(quantity), start + MS).expect_err("refused");
            assert_eq!((refusal.code, refusal.detail.as_str()), (Code::SoldOut, sold_out().detail.as_str()));
        }
        assert!(!refused(&memo, 5, start), "more than any refused may be above the event's limit");
        let keyed = pb::CreateBookingRequest { idempotency_key: Some("k".into()), ..hold(2) };
        assert!(matches!(memo.check_at(&keyed, start), Ok(None)), "a retry with a key gets its booking");
        let seated = pb::CreateBookingRequest { seats: vec!["A/1/1".into()], ..hold(2) };
        assert!(matches!(memo.check_at(&seated, start), Ok(None)));
        assert!(!refused(&memo, 2, start + SOLD_OUT_ECHO), "the answer is asked again after the echo");
        let other = pb::CreateBookingRequest { event_id: CATEGORY.into(), ..hold(2) };
        assert!(memo.check_at(&other, start).unwrap().is_some(), "another event's category is its own");
    }

    #[test]
    fn every_spelling_of_a_category_is_one_and_only_ids_the_service_reads_are_remembered() {
        let memo = SoldOutAnswers::default();
        let start = Instant::now();
        refuse(&memo, 1, start);
        for spelling in
            [CATEGORY.to_uppercase(), format!("{{{CATEGORY}}}"), format!("  {}  ", CATEGORY.replace('-', ""))]
        {
            let request = pb::CreateBookingRequest {
                items: vec![pb::BookingItemRequest { category_id: spelling.clone(), quantity: 1 }],
                ..hold(1)
            };
            assert!(memo.check_at(&request, start + MS).is_err(), "{spelling}");
        }
        for category_id in ["not an id".to_owned(), format!("{CATEGORY}x")] {
            let request = pb::CreateBookingRequest {
                items: vec![pb::BookingItemRequest { category_id, quantity: 1 }],
                ..hold(1)
            };
            assert!(matches!(memo.check_at(&request, start + MS), Ok(None)), "never remembered");
        }
        assert!(matches!(memo.check_at(&hold(MAX_TICKETS_PER_BOOKING + 1), start), Ok(None)));
        // An answer other than sold out makes no entry.
        let unknown = pb::CreateBookingRequest { event_id: CATEGORY.into(), ..hold(1) };
        let asked = memo.check_at(&unknown, start).unwrap().unwrap();
        memo.answered_at(asked, Err(&Error::validation("not a category of this event")), start);
        assert_eq!(memo.lock().answers.len(), 1);
    }

    #[test]
    fn a_later_refusal_of_more_does_not_prolong_the_refusal_of_fewer() {
        let memo = SoldOutAnswers::default();
        let start = Instant::now();
        refuse(&memo, 1, start);
        // A unit comes back after 10 ms: only 1 is free then, so 3 are still refused.
        refuse(&memo, 3, start + 10 * MS);
        let end_of_one = start + SOLD_OUT_ECHO;
        assert!(!refused(&memo, 1, end_of_one), "1 is asked again 50 ms after its own refusal");
        assert!(!refused(&memo, 2, end_of_one));
        // 3 was refused later: one hold asks about it again, the others are still answered.
        assert!(memo.check_at(&hold(3), end_of_one).unwrap().is_some());
        assert!(refused(&memo, 3, end_of_one));
        assert!(!refused(&memo, 3, start + 10 * MS + SOLD_OUT_ECHO));
    }

    #[test]
    fn an_answer_counts_from_when_its_hold_was_sent_and_the_largest_is_forgotten_with_the_memo() {
        let memo = SoldOutAnswers::default();
        let start = Instant::now();
        let asked = memo.check_at(&hold(4), start).unwrap().unwrap();
        memo.answered_at(asked, Err(&sold_out()), start + 40 * MS);
        assert!(memo.check_at(&hold(4), start + 41 * MS).unwrap().is_some(), "already old: one hold asks");
        assert!(refused(&memo, 4, start + 42 * MS));
        assert!(!refused(&memo, 4, start + SOLD_OUT_ECHO), "50 ms after the hold was sent, not answered");
        // Nothing is repeated now: a refusal of 2 stands for 2 only, whatever was refused before
        // (the organizer may have lowered the event's limit since).
        refuse(&memo, 2, start + 60 * MS);
        assert!(refused(&memo, 2, start + 61 * MS));
        assert!(!refused(&memo, 3, start + 61 * MS) && !refused(&memo, 4, start + 61 * MS));
    }

    #[test]
    fn after_half_the_echo_one_hold_at_a_time_asks_again_and_never_past_the_echo() {
        let memo = SoldOutAnswers::default();
        let start = Instant::now();
        refuse(&memo, 3, start);
        refuse(&memo, 2, start);
        assert!(refused(&memo, 2, start + ASK_AGAIN_AFTER - MS), "a fresh answer is repeated");
        let asking = start + ASK_AGAIN_AFTER;
        let asked = memo.check_at(&hold(2), asking).expect("the first hold after half the echo asks");
        assert!(asked.is_some());
        assert!(refused(&memo, 2, asking + MS) && refused(&memo, 3, asking + MS), "the others are answered");
        // Another hold's answer (one more than ever refused) leaves the asking one alone.
        let other = memo.check_at(&hold(4), asking + MS).unwrap().unwrap();
        memo.answered_at(other, Err(&Error::new(Code::LimitExceeded, "at most 3")), asking + 2 * MS);
        assert!(refused(&memo, 2, asking + 3 * MS), "still one at a time");
        // The asking hold's answer renews the memo for another echo.
        memo.answered_at(asked.unwrap(), Err(&sold_out()), asking + 4 * MS);
        // The next asking hold's answer never comes (its client left): the others are answered
        // until the echo of the last refusal ends (past the first one's), and not after.
        let next = asking + ASK_AGAIN_AFTER;
        assert!(memo.check_at(&hold(2), next).unwrap().is_some());
        assert!(refused(&memo, 2, next + MS) && refused(&memo, 3, next + MS));
        assert!(next + MS > start + SOLD_OUT_ECHO);
        assert!(!refused(&memo, 2, asking + SOLD_OUT_ECHO));
    }

    #[test]
    fn a_hold_the_service_grants_ends_the_memo_and_older_refusals_are_not_remembered() {
        let memo = SoldOutAnswers::default();
        let start = Instant::now();
        refuse(&memo, 2, start);
        let before = memo.check_at(&hold(5), start + MS).unwrap().expect("5 is asked");
        let asked = memo.check_at(&hold(1), start + MS).unwrap().expect("1 is asked");
        memo.answered_at(asked, Ok(()), start + 2 * MS);
        assert!(!refused(&memo, 2, start + 3 * MS), "tickets came back: the service decides again");
        // A refusal of a hold sent before the grant came, answered after it.
        memo.answered_at(before, Err(&sold_out()), start + 4 * MS);
        assert!(!refused(&memo, 5, start + 5 * MS), "it may have been decided before the grant");
        // A refusal of a hold sent after it is remembered; an answer other than sold out to the
        // asking hold lets another ask.
        refuse(&memo, 2, start + 4 * MS);
        let asking = start + 4 * MS + ASK_AGAIN_AFTER;
        let asked = memo.check_at(&hold(2), asking).unwrap().unwrap();
        memo.answered_at(asked, Err(&Error::unavailable("down")), asking + MS);
        assert!(memo.check_at(&hold(2), asking + 2 * MS).unwrap().is_some());
        assert!(refused(&memo, 2, asking + 3 * MS));
    }

    #[test]
    fn a_release_ends_the_repeats_of_its_event_at_once_and_older_refusals_are_not_remembered() {
        let memo = SoldOutAnswers::default();
        let start = Instant::now();
        refuse(&memo, 2, start);
        let before = memo.check_at(&hold(1), start + MS).unwrap().expect("1 is asked");
        let other_event = pb::CreateBookingRequest { event_id: CATEGORY.into(), ..hold(2) };
        let asked = memo.check_at(&other_event, start).unwrap().unwrap();
        memo.answered_at(asked, Err(&sold_out()), start);
        memo.released_at(Uuid::parse_str(EVENT).unwrap(), start + 2 * MS);
        assert!(!refused(&memo, 2, start + 3 * MS), "the event's tickets are back on sale");
        assert!(memo.check_at(&other_event, start + 3 * MS).is_err(), "another event's refusal stands");
        // A refusal of a hold sent before the release, answered after it.
        memo.answered_at(before, Err(&sold_out()), start + 4 * MS);
        assert!(!refused(&memo, 1, start + 5 * MS), "it may have been decided before the release");
        // A refusal of a hold sent after the release is repeated, and after a later release not.
        refuse(&memo, 2, start + 6 * MS);
        assert!(refused(&memo, 2, start + 7 * MS));
        memo.released_at(Uuid::parse_str(EVENT).unwrap(), start + 8 * MS);
        assert!(!refused(&memo, 2, start + 9 * MS));
        // A release is kept only while a refusal before it could still be repeated.
        memo.released_at(Uuid::parse_str(CATEGORY).unwrap(), start + 8 * MS + SOLD_OUT_ECHO);
        assert_eq!(memo.lock().released.len(), 1);
    }
}
