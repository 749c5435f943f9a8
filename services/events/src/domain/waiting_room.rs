//! An event's virtual waiting room, as its organizer configures it: when the queue opens, how
//! fast buyers are let in, for how long, and how many at once. The queue itself is the
//! gateway's (in the shared store); the events service only keeps and checks the settings.

use boxoffice_errors::Error;
/// The limits that the gateway checks too.
pub use boxoffice_types::limits::events::{
    MAX_ADMISSIONS_PER_MINUTE, MAX_ADMISSION_MINUTES, MAX_ADMITTED_AT_ONCE, MAX_PROOF_OF_WORK_BITS,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::text::{format_time, parse_time};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingRoom {
    /// From when buyers may join; everyone who joins before the sale starts is placed in a random
    /// order at the start.
    pub opens_at: DateTime<Utc>,
    pub admissions_per_minute: u32,
    /// How long an admission lasts.
    pub admission_minutes: u32,
    /// The most buyers admitted at once.
    pub max_admitted: u32,
    /// Leading zero bits of the proof of work a joining client must find; 0: none.
    #[serde(default)]
    pub proof_of_work_bits: u32,
}

/// A waiting room as the organizer describes it.
#[derive(Clone, Debug, Default)]
pub struct NewWaitingRoom {
    pub opens_at: String,
    pub admissions_per_minute: u32,
    pub admission_minutes: u32,
    pub max_admitted: u32,
    pub proof_of_work_bits: u32,
}

impl WaitingRoom {
    /// Checks the settings against the event's sale start: the queue decides the order at the
    /// start of the sale, so there must be one, and the queue opens no later.
    pub fn parse(new: NewWaitingRoom, sale_starts_at: Option<DateTime<Utc>>) -> Result<WaitingRoom, Error> {
        let opens_at = parse_time(&new.opens_at, "waiting_room.opens_at")?;
        let Some(sale_starts_at) = sale_starts_at else {
            return Err(Error::validation(
                "waiting_room: a waiting room needs sale_starts_at, the moment its queue starts moving",
            ));
        };
        if opens_at > sale_starts_at {
            return Err(Error::validation("waiting_room.opens_at: must not be after sale_starts_at"));
        }
        let within = |value: u32, max: u32, field: &str| {
            if (1..=max).contains(&value) {
                Ok(value)
            } else {
                Err(Error::validation(format!("waiting_room.{field}: must be 1 to {max}")))
            }
        };
        let admissions_per_minute =
            within(new.admissions_per_minute, MAX_ADMISSIONS_PER_MINUTE, "admissions_per_minute")?;
        let admission_minutes = within(new.admission_minutes, MAX_ADMISSION_MINUTES, "admission_minutes")?;
        let max_admitted = within(new.max_admitted, MAX_ADMITTED_AT_ONCE, "max_admitted")?;
        if new.proof_of_work_bits > MAX_PROOF_OF_WORK_BITS {
            return Err(Error::validation(format!(
                "waiting_room.proof_of_work_bits: must be 0 to {MAX_PROOF_OF_WORK_BITS}"
            )));
        }
        Ok(WaitingRoom {
            opens_at,
            admissions_per_minute,
            admission_minutes,
            max_admitted,
            proof_of_work_bits: new.proof_of_work_bits,
        })
    }

    /// The settings as the organizer would send them again (to check them anew against a
    /// changed sale start).
    pub fn described(&self) -> NewWaitingRoom {
        NewWaitingRoom {
            opens_at: format_time(self.opens_at),
            admissions_per_minute: self.admissions_per_minute,
            admission_minutes: self.admission_minutes,
            max_admitted: self.max_admitted,
            proof_of_work_bits: self.proof_of_work_bits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> NewWaitingRoom {
        NewWaitingRoom {
            opens_at: "2030-05-01T09:00:00Z".into(),
            admissions_per_minute: 600,
            admission_minutes: 10,
            max_admitted: 2000,
            proof_of_work_bits: 0,
        }
    }

    #[test]
    fn a_waiting_room_opens_before_the_sale_and_keeps_within_its_limits() {
        let sale = Some(parse_time("2030-05-01T10:00:00Z", "t").unwrap());
        assert_eq!(WaitingRoom::parse(room(), sale).unwrap().admissions_per_minute, 600);
        let refused = [
            (
                NewWaitingRoom { opens_at: "2030-05-01T10:00:01Z".into(), ..room() },
                sale,
                "waiting_room.opens_at: ",
            ),
            (room(), None, "waiting_room: "),
            (
                NewWaitingRoom { admissions_per_minute: 0, ..room() },
                sale,
                "waiting_room.admissions_per_minute: ",
            ),
            (NewWaitingRoom { admission_minutes: 61, ..room() }, sale, "waiting_room.admission_minutes: "),
            (NewWaitingRoom { max_admitted: 0, ..room() }, sale, "waiting_room.max_admitted: "),
            (NewWaitingRoom { proof_of_work_bits: 99, ..room() }, sale, "waiting_room.proof_of_work_bits: "),
        ];
        for (new, sale, field) in refused {
            let error = WaitingRoom::parse(new, sale).unwrap_err();
            assert!(error.detail.starts_with(field), "{field}: {}", error.detail);
        }
    }
}
