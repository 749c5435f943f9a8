//! Recent "sold out" answers of the inventory store, remembered for a moment. Only the
//! inventory's façade (`inventory/guarded.rs`) uses it, and it runs the whole protocol below.
//!
//! Once a category is gone, almost every request of an on-sale asks for it anyway: in a flash
//! sale of 10,000 units for 100,000 buyers, 96% of the holds are refused. The store answers each
//! of them correctly, but on Redis that is a round trip per refusal. This memo answers them
//! here instead, for at most [`SOLD_OUT_MEMO_TTL`] after the store last said so.
//!
//! It only ever refuses, so it cannot sell anything twice. What it must not do is refuse tickets
//! that are back on sale:
//! - A release in this process (a cancellation, a refund, an expired hold) forgets the event's
//!   refusals once the store has taken the units back, so tickets return to sale at once.
//! - A refusal that was decided before such a release is not remembered after it: every refusal
//!   carries the count of releases seen before the store was asked, and any release moves it on.
//! - A release in another replica of the bookings service is seen here when the memo expires,
//!   [`SOLD_OUT_MEMO_TTL`] at most.
//! - Whoever else repeats these refusals in this process (the gateway's echo, in the all-in-one
//!   process) is told of every release too ([`SoldOutMemo::tell_releases_to`]).
//!
//! A refusal of `n` units means fewer than `n` were free, so requests for `n` or more are
//! refused and requests for fewer still go to the store.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// How long a "sold out" answer of the store is repeated without asking it again.
pub const SOLD_OUT_MEMO_TTL: Duration = Duration::from_millis(100);
/// Events remembered at most; when full, the memo starts over (refusals are short-lived anyway).
const MAX_EVENTS: usize = 10_000;

/// Told the event of every release in this process, after the memo forgot its refusals.
pub type ReleaseListener = Box<dyn Fn(Uuid) + Send + Sync>;

#[derive(Default)]
pub struct SoldOutMemo {
    state: Mutex<State>,
    listeners: Mutex<Vec<ReleaseListener>>,
}

#[derive(Default)]
struct State {
    /// Releases so far, of any event.
    releases: u64,
    /// Event id → category id → the store's last refusal.
    events: HashMap<Uuid, HashMap<Uuid, Refusal>>,
}

struct Refusal {
    /// The store refused this many units (fewer were free)...
    quantity: u32,
    /// ...at this moment.
    at: Instant,
}

/// The releases seen before the store is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generation(u64);

impl SoldOutMemo {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The first category of `quantities` that the store refused recently for as many units or
    /// fewer, if any.
    pub fn refused(&self, event_id: Uuid, quantities: &[(Uuid, u32)]) -> Option<Uuid> {
        let state = self.lock();
        let refusals = state.events.get(&event_id)?;
        quantities.iter().find_map(|(category_id, quantity)| {
            let refusal = refusals.get(category_id)?;
            (refusal.quantity <= *quantity && refusal.at.elapsed() < SOLD_OUT_MEMO_TTL)
                .then_some(*category_id)
        })
    }

    pub fn generation(&self) -> Generation {
        Generation(self.lock().releases)
    }

    /// Remembers that the store refused `quantity` units of `category_id`, unless units were
    /// released since `generation` was read.
    pub fn remember(&self, event_id: Uuid, generation: Generation, category_id: Uuid, quantity: u32) {
        let mut state = self.lock();
        if state.releases != generation.0 {
            return;
        }
        if state.events.len() >= MAX_EVENTS && !state.events.contains_key(&event_id) {
            state.events.clear();
        }
        let refusals = state.events.entry(event_id).or_default();
        let now = Instant::now();
        match refusals.get_mut(&category_id) {
            // A live refusal of fewer units says more; keep it until it expires.
            Some(refusal) if refusal.quantity < quantity && now - refusal.at < SOLD_OUT_MEMO_TTL => {}
            _ => {
                refusals.insert(category_id, Refusal { quantity, at: now });
            }
        }
    }

    /// Forgets the event's refusals: some of its units are back on sale. Call it after the
    /// store has taken them back.
    pub fn released(&self, event_id: Uuid) {
        {
            let mut state = self.lock();
            state.releases += 1;
            state.events.remove(&event_id);
        }
        for listener in self.listeners.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter() {
            listener(event_id);
        }
    }

    /// Tells `listener` of every release from now on: something else in this process that
    /// repeats the store's refusals forgets them at once too.
    pub fn tell_releases_to(&self, listener: ReleaseListener) {
        self.listeners.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(listener);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_covers_as_many_units_or_more_until_it_expires() {
        let memo = SoldOutMemo::default();
        let (event, category, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        memo.remember(event, memo.generation(), category, 2);
        assert_eq!(memo.refused(event, &[(category, 2)]), Some(category));
        assert_eq!(memo.refused(event, &[(other, 1), (category, 4)]), Some(category));
        assert_eq!(memo.refused(event, &[(category, 1)]), None, "one unit may still be free");
        assert_eq!(memo.refused(event, &[(other, 4)]), None);
        assert_eq!(memo.refused(Uuid::now_v7(), &[(category, 4)]), None);
        std::thread::sleep(SOLD_OUT_MEMO_TTL);
        assert_eq!(memo.refused(event, &[(category, 4)]), None);
    }

    #[test]
    fn the_smaller_refusal_wins() {
        let memo = SoldOutMemo::default();
        let (event, category) = (Uuid::now_v7(), Uuid::now_v7());
        memo.remember(event, memo.generation(), category, 1);
        memo.remember(event, memo.generation(), category, 3);
        assert_eq!(memo.refused(event, &[(category, 1)]), Some(category));
        memo.remember(event, memo.generation(), category, 1);
        assert_eq!(memo.refused(event, &[(category, 1)]), Some(category));
    }

    #[test]
    fn a_release_forgets_refusals_and_refusals_decided_before_it() {
        let memo = SoldOutMemo::default();
        let (event, category) = (Uuid::now_v7(), Uuid::now_v7());
        memo.remember(event, memo.generation(), category, 1);
        let before = memo.generation();
        memo.released(event);
        assert_eq!(memo.refused(event, &[(category, 1)]), None);
        // A refusal the store gave before the release came back after it.
        memo.remember(event, before, category, 1);
        assert_eq!(memo.refused(event, &[(category, 1)]), None);
        memo.remember(event, memo.generation(), category, 1);
        assert_eq!(memo.refused(event, &[(category, 1)]), Some(category));
    }

    #[test]
    fn every_release_is_told_to_the_listeners_after_the_memo_forgot_it() {
        let memo = std::sync::Arc::new(SoldOutMemo::default());
        let (event, category) = (Uuid::now_v7(), Uuid::now_v7());
        let told = std::sync::Arc::new(Mutex::new(Vec::new()));
        let (listened, seen) = (memo.clone(), told.clone());
        memo.tell_releases_to(Box::new(move |released| {
            // The memo has already forgotten the event's refusals when the listener hears of it.
            let forgotten = listened.refused(released, &[(category, 1)]).is_none();
            seen.lock().unwrap().push((released, forgotten));
        }));
        memo.remember(event, memo.generation(), category, 1);
        memo.released(event);
        memo.released(event);
        assert_eq!(*told.lock().unwrap(), vec![(event, true), (event, true)]);
    }
}
