//! Tickets at the door: the QR image a buyer shows, and the check-in, which admits a ticket once.
//!
//! Who checks tickets in: the event's organizer, an admin, or an account the organizer made
//! the event's door staff (asked of the events service at every scan). A door names its event,
//! so a valid ticket of another event is refused as `wrong_event`.
//!
//! A ticket admits only while its booking is confirmed: the QR image of a refunded ticket is
//! refused as `ticket_refunded` (410), and checking it in as `conflict`.
//!
//! The door takes a ticket's rotating code (`tickets::code`) for its current and previous step
//! by the service's clock (older: `code_expired`), and its static code unless the event refuses
//! static codes (`static_code_refused`). A code of an earlier generation of a ticket that
//! changed hands is refused as `ticket_transferred` (410).

use boxoffice_errors::{Code, Error};
use boxoffice_types::Caller;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::CheckIn;
use crate::domain::{BookingStatus, TicketRecord};
use crate::service::Bookings;
use crate::tickets::code::{step_of, CodeKind, RotatingCode, ACCEPTED_STEPS};

fn not_the_door() -> Error {
    Error::new(Code::Forbidden, "only the event's organizer, an admin or its door staff check tickets in")
}

impl Bookings {
    /// The QR code of one of the tickets `caller` holds (any ticket, for an admin): of its
    /// static code, or of its current rotating code.
    pub async fn ticket_qr(&self, caller: Caller, ticket_id: Uuid, rotating: bool) -> Result<Vec<u8>, Error> {
        let code = if rotating {
            self.ticket_code(caller, ticket_id).await?.code
        } else {
            self.held_ticket(caller, ticket_id).await?.code
        };
        boxoffice_qr::png(&code).map_err(Error::internal)
    }

    /// The current rotating code of one of the tickets `caller` holds.
    pub async fn ticket_code(&self, caller: Caller, ticket_id: Uuid) -> Result<RotatingCode, Error> {
        let ticket = self.held_ticket(caller, ticket_id).await?;
        Ok(self.inner.signer.rotating_code(
            ticket.id,
            ticket.event_id,
            ticket.generation,
            self.inner.clock.now(),
        ))
    }

    /// A ticket `caller` holds (any, for an admin) that still admits someone.
    pub(crate) async fn held_ticket(&self, caller: Caller, ticket_id: Uuid) -> Result<TicketRecord, Error> {
        Ok(self.held_ticket_and_buyer(caller, ticket_id).await?.0)
    }

    /// [`Self::held_ticket`], with its booking's buyer.
    pub(crate) async fn held_ticket_and_buyer(
        &self,
        caller: Caller,
        ticket_id: Uuid,
    ) -> Result<(TicketRecord, Uuid), Error> {
        let (ticket, buyer, status) = match self.inner.db.ticket(ticket_id).await? {
            Some((ticket, buyer, status)) if caller.owns(ticket.holder(buyer)) => (ticket, buyer, status),
            _ => return Err(Error::not_found("ticket")),
        };
        if status == BookingStatus::Refunded {
            return Err(Error::new(
                Code::TicketRefunded,
                "the ticket's booking was refunded; the ticket no longer admits anyone",
            ));
        }
        Ok((ticket, buyer))
    }

    /// Admits a ticket, once. `door`: the event the door admits to (by default the ticket's).
    /// Every scan is counted by outcome; a refusal is logged (without the code, which admits).
    pub async fn check_in(
        &self,
        caller: Caller,
        code: &str,
        door: Option<Uuid>,
    ) -> Result<(TicketRecord, DateTime<Utc>), Error> {
        let admitted = self.admit(caller, code, door).await;
        let outcome = match &admitted {
            Ok(_) => "admitted",
            Err(error) => {
                tracing::info!(door = ?door, code = error.code.as_str(), detail = %error.detail, "check-in refused");
                error.code.as_str()
            }
        };
        metrics::counter!("bookings_check_ins_total", "outcome" => outcome).increment(1);
        admitted
    }

    async fn admit(
        &self,
        caller: Caller,
        code: &str,
        door: Option<Uuid>,
    ) -> Result<(TicketRecord, DateTime<Utc>), Error> {
        let forged = || Error::validation("code: not a valid ticket code");
        let claim = self.inner.signer.verify(code).ok_or_else(forged)?;
        let event_id = claim.event_id;
        self.require_door(caller, door.unwrap_or(event_id)).await?;
        if door.is_some_and(|door| door != event_id) {
            return Err(Error::new(Code::WrongEvent, "code: the ticket is for another event"));
        }
        let (ticket, _, status) = self.inner.db.ticket(claim.ticket_id).await?.ok_or_else(forged)?;
        if claim.generation != ticket.generation {
            return Err(Error::new(
                Code::TicketTransferred,
                "code: the ticket changed hands; this code is its earlier holder's and no longer admits",
            ));
        }
        match claim.kind {
            CodeKind::Static => {
                if !self.inner.catalog.event(event_id).await?.static_codes {
                    return Err(Error::new(
                        Code::StaticCodeRefused,
                        "code: this event admits only the rotating code on the holder's screen",
                    ));
                }
            }
            CodeKind::Rotating { step } => {
                let now = step_of(self.inner.clock.now());
                if step > now || now - step >= ACCEPTED_STEPS {
                    return Err(Error::new(
                        Code::CodeExpired,
                        "code: this rotating code is too old (a screenshot?); show the ticket's live code",
                    ));
                }
            }
        }
        let ticket_id = ticket.id;
        if status != BookingStatus::Confirmed {
            return Err(Error::new(Code::Conflict, format!("the ticket's booking is {}", status.as_str())));
        }
        match self.inner.db.check_in(ticket_id, self.inner.clock.now()).await? {
            CheckIn::Admitted(at) => Ok((ticket, at)),
            CheckIn::NotConfirmed => {
                Err(Error::new(Code::Conflict, "the ticket's booking is no longer confirmed"))
            }
            CheckIn::AlreadyAdmitted(at) => Err(Error::new(
                Code::AlreadyCheckedIn,
                format!(
                    "the ticket was checked in at {}",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            )),
        }
    }

    /// How many of the event's tickets were admitted, of how many, for whoever keeps its door.
    pub async fn door_count(&self, caller: Caller, event_id: Uuid) -> Result<(u32, u32), Error> {
        self.require_door(caller, event_id).await?;
        let sales = self.inner.db.sales(event_id).await?;
        let checked_in = sales.iter().map(|(_, sales)| sales.checked_in).sum();
        let tickets = sales.iter().map(|(_, sales)| sales.sold).sum();
        Ok((checked_in, tickets))
    }

    /// The organizer, an admin, or the event's door staff; anyone else is refused, for an event
    /// that does not exist too (a door of nothing admits no one).
    async fn require_door(&self, caller: Caller, event_id: Uuid) -> Result<(), Error> {
        let event = match self.inner.catalog.event(event_id).await {
            Ok(event) => event,
            Err(error) if error.code == Code::NotFound => return Err(not_the_door()),
            Err(error) => return Err(error),
        };
        if event.is_organized_by(caller) || self.inner.catalog.is_door_staff(event_id, caller.user_id).await?
        {
            Ok(())
        } else {
            Err(not_the_door())
        }
    }
}
