//! Recent "sold out" answers of the bookings service, repeated for a moment by a gateway that
//! calls it over the network, without asking it again.
//!
//! In an on-sale almost every hold asks for a category that is gone: the bookings service
//! answers each from its own memo (`boxoffice_bookings::sold_out`) without touching its store,
//! but every one of them still costs the gateway a gRPC call over the network, which on the
//! split deployment is as much work again as the whole HTTP request. A gateway that calls the
//! bookings service in its own process does not keep this memo: that call is a function call,
//! and a unit released there is on sale at once.
//!
//! It only ever refuses, so it cannot sell anything twice, and it answers only what the service
//! would answer: a hold of one general-admission category, without seats and without an
//! `Idempotency-Key` (a retry of a hold that succeeded must get its booking), for a quantity
//! between the smallest and the largest the service refused within the last
//! [`SOLD_OUT_ECHO`] (each of those passed the service's checks of the event, so any quantity
//! between them does too, and fewer than the smallest were free). The refusal is the service's
//! own, word for word.
//!
//! Tickets returned to sale (a cancellation, a refund, an expired hold) are therefore offered
//! through such a gateway within [`SOLD_OUT_ECHO`] after the bookings replica that answered it
//! sees them: at most that and the bookings service's own memo, 150 ms, after their return.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use boxoffice_errors::{Code, Error};
use boxoffice_proto::booking as pb;

/// How long a "sold out" answer of the bookings service is repeated by a gateway.
pub const SOLD_OUT_ECHO: Duration = Duration::from_millis(50);
/// Categories remembered at most; when full, the memo starts over.
const MAX_CATEGORIES: usize = 10_000;

#[derive(Default)]
pub struct SoldOutAnswers {
    /// By (event id, category id), as the request names them.
    answers: Mutex<HashMap<(String, String), Answer>>,
}

struct Answer {
    fewest: u32,
    most: u32,
    until: Instant,
    detail: String,
}

/// The category a hold asks for and how many, when the memo may answer it.
fn shape(request: &pb::CreateBookingRequest) -> Option<((String, String), u32)> {
    match request.items.as_slice() {
        [item] if request.seats.is_empty() && request.idempotency_key.is_none() && item.quantity > 0 => {
            Some(((request.event_id.clone(), item.category_id.clone()), item.quantity))
        }
        _ => None,
    }
}

impl SoldOutAnswers {
    /// The service's refusal of a hold like this one, if it refused one a moment ago.
    pub fn refused(&self, request: &pb::CreateBookingRequest) -> Option<Error> {
        let (key, quantity) = shape(request)?;
        let answers = self.answers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let answer = answers.get(&key)?;
        (Instant::now() < answer.until && (answer.fewest..=answer.most).contains(&quantity))
            .then(|| Error::new(Code::SoldOut, answer.detail.clone()))
    }

    /// Remembers the service's answer to `request` if it was "sold out".
    pub fn remember(&self, request: &pb::CreateBookingRequest, answer: &Error) {
        if answer.code != Code::SoldOut {
            return;
        }
        let Some((key, quantity)) = shape(request) else { return };
        let now = Instant::now();
        let mut answers = self.answers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if answers.len() >= MAX_CATEGORIES && !answers.contains_key(&key) {
            answers.retain(|_, answer| answer.until > now);
            if answers.len() >= MAX_CATEGORIES {
                answers.clear();
            }
        }
        let fresh = Answer {
            fewest: quantity,
            most: quantity,
            until: now + SOLD_OUT_ECHO,
            detail: answer.detail.clone(),
        };
        match answers.get_mut(&key) {
            Some(known) if known.until > now => {
                known.fewest = known.fewest.min(quantity);
                known.most = known.most.max(quantity);
                known.until = fresh.until;
                known.detail = fresh.detail;
            }
            _ => {
                answers.insert(key, fresh);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(quantity: u32) -> pb::CreateBookingRequest {
        pb::CreateBookingRequest {
            caller: None,
            event_id: "e".into(),
            items: vec![pb::BookingItemRequest { category_id: "c".into(), quantity }],
            seats: Vec::new(),
            idempotency_key: None,
        }
    }

    #[test]
    fn a_refusal_is_repeated_for_quantities_between_those_refused_and_only_for_a_moment() {
        let memo = SoldOutAnswers::default();
        let sold_out = Error::new(Code::SoldOut, "not enough tickets left in category c");
        memo.remember(&hold(2), &sold_out);
        memo.remember(&hold(4), &sold_out);
        memo.remember(&hold(3), &Error::new(Code::LimitExceeded, "no"));
        assert!(memo.refused(&hold(1)).is_none(), "fewer than any refused may be free");
        for quantity in 2..=4 {
            let refusal = memo.refused(&hold(quantity)).expect("refused");
            assert_eq!((refusal.code, refusal.detail.as_str()), (Code::SoldOut, sold_out.detail.as_str()));
        }
        assert!(memo.refused(&hold(5)).is_none(), "more than any refused may be above the event's limit");
        let keyed = pb::CreateBookingRequest { idempotency_key: Some("k".into()), ..hold(2) };
        assert!(memo.refused(&keyed).is_none(), "a retry with a key gets its booking");
        let seated = pb::CreateBookingRequest { seats: vec!["A/1/1".into()], ..hold(2) };
        assert!(memo.refused(&seated).is_none());
        std::thread::sleep(SOLD_OUT_ECHO);
        assert!(memo.refused(&hold(2)).is_none(), "the answer is asked again after the echo");
    }
}
