//! Tickets at the door: the QR image a buyer shows, and the check-in, which admits a ticket once.
//!
//! Who checks tickets in: the event's organizer, an admin, or an account the organizer made
//! the event's door staff (asked of the events service at every scan). A door names its event,
//! so a valid ticket of another event is refused as `wrong_event`.
//!
//! A ticket admits only while its booking is confirmed: the QR image of a refunded ticket is
//! refused as `ticket_refunded` (410), and checking it in as `conflict`.

use boxoffice_errors::{Code, Error};
use boxoffice_types::Caller;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::CheckIn;
use crate::domain::{BookingStatus, TicketRecord};
use crate::service::Bookings;

fn not_the_door() -> Error {
    Error::new(Code::Forbidden, "only the event's organizer, an admin or its door staff check tickets in")
}

impl Bookings {
    /// The QR code of one of `caller`'s tickets (any ticket, for an admin).
    pub async fn ticket_qr(&self, caller: Caller, ticket_id: Uuid) -> Result<Vec<u8>, Error> {
        let (ticket, status) = match self.inner.db.ticket(ticket_id).await? {
            Some((ticket, owner, status)) if caller.owns(owner) => (ticket, status),
            _ => return Err(Error::not_found("ticket")),
        };
        if status == BookingStatus::Refunded {
            return Err(Error::new(
                Code::TicketRefunded,
                "the ticket's booking was refunded; the ticket no longer admits anyone",
            ));
        }
        boxoffice_qr::png(&ticket.code).map_err(Error::internal)
    }

    /// Admits a ticket, once. `door`: the event the door admits to (by default the ticket's).
    pub async fn check_in(
        &self,
        caller: Caller,
        code: &str,
        door: Option<Uuid>,
    ) -> Result<(TicketRecord, DateTime<Utc>), Error> {
        let forged = || Error::validation("code: not a valid ticket code");
        let (ticket_id, event_id) = self.inner.signer.verify(code).ok_or_else(forged)?;
        self.require_door(caller, door.unwrap_or(event_id)).await?;
        if door.is_some_and(|door| door != event_id) {
            return Err(Error::new(Code::WrongEvent, "code: the ticket is for another event"));
        }
        let (ticket, _, status) = self.inner.db.ticket(ticket_id).await?.ok_or_else(forged)?;
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
