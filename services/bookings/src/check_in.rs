//! Tickets at the door: the QR image a buyer shows, and the organizer's check-in, which admits
//! a ticket once.
//!
//! A ticket admits only while its booking is confirmed: the QR image of a refunded ticket is
//! refused as `ticket_refunded` (410), and checking it in as `conflict`.

use boxoffice_errors::{Code, Error};
use boxoffice_types::{Caller, Role};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::CheckIn;
use crate::domain::{BookingStatus, TicketRecord};
use crate::service::Bookings;

fn not_the_organizer() -> Error {
    Error::new(Code::Forbidden, "only the event's organizer or an admin checks tickets in")
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

    /// Admits a ticket, once, for the event's organizer or an admin.
    pub async fn check_in(&self, caller: Caller, code: &str) -> Result<(TicketRecord, DateTime<Utc>), Error> {
        if caller.role == Role::Customer {
            return Err(not_the_organizer());
        }
        let forged = || Error::validation("code: not a valid ticket code");
        let (ticket_id, event_id) = self.inner.signer.verify(code).ok_or_else(forged)?;
        let event = self.inner.catalog.event(event_id).await?;
        if !event.is_organized_by(caller) {
            return Err(not_the_organizer());
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
}
