//! Giving a ticket to another account: the holder names the account (the gateway finds it by
//! email), the ticket moves to its next generation with a new static code, and every code of
//! the earlier holder (static or rotating) stops admitting at once. The transfer is recorded
//! (`ticket_transfers`) and told (`ticket.transferred`).
//!
//! A booking with a ticket in someone else's hands is no longer refunded at its buyer's request:
//! the money would go back to the buyer while the ticket admits its new holder.

use boxoffice_errors::{Code, Error};
use boxoffice_types::Caller;
use uuid::Uuid;

use crate::domain::{TicketRecord, MAX_TRANSFERS_PER_TICKET};
use crate::service::Bookings;

impl Bookings {
    /// Gives one of `caller`'s tickets to the account `to`. Runs to the end on its own task
    /// once begun.
    pub async fn transfer_ticket(
        &self,
        caller: Caller,
        ticket_id: Uuid,
        to: Uuid,
    ) -> Result<TicketRecord, Error> {
        self.detached(move |this| async move { this.give(caller, ticket_id, to).await }).await
    }

    async fn give(&self, caller: Caller, ticket_id: Uuid, to: Uuid) -> Result<TicketRecord, Error> {
        let (ticket, buyer) = self.held_ticket_and_buyer(caller, ticket_id).await?;
        let from = ticket.holder(buyer);
        if from != caller.user_id {
            // An admin reads any ticket but gives only their own.
            return Err(Error::not_found("ticket"));
        }
        if to == from {
            return Err(Error::validation("email: that is your own account"));
        }
        if ticket.checked_in_at.is_some() {
            return Err(Error::new(
                Code::Conflict,
                "the ticket was used at the door; it cannot change hands",
            ));
        }
        if ticket.generation >= MAX_TRANSFERS_PER_TICKET {
            return Err(Error::new(
                Code::LimitExceeded,
                format!("a ticket changes hands at most {MAX_TRANSFERS_PER_TICKET} times"),
            ));
        }
        let event = self.inner.catalog.event(ticket.event_id).await?;
        if self.inner.clock.now() >= event.ends_at {
            return Err(Error::new(Code::Conflict, "the event is over"));
        }
        let code = self.inner.signer.code(ticket.id, ticket.event_id, ticket.generation + 1);
        // Back to its buyer, a ticket is theirs as if it had never left.
        let holder = (to != buyer).then_some(to);
        if !self.inner.db.transfer_ticket(&ticket, from, to, holder, &code, self.inner.clock.now()).await? {
            return Err(Error::new(
                Code::Conflict,
                "the ticket changed meanwhile (used, refunded or given away); look at it again",
            ));
        }
        metrics::counter!("bookings_tickets_transferred_total").increment(1);
        tracing::info!(%ticket_id, "a ticket changed hands");
        Ok(TicketRecord { holder_id: holder, generation: ticket.generation + 1, code, ..ticket })
    }

    /// The tickets `caller` holds: bought and kept, or received.
    pub async fn held_tickets(&self, caller: Caller) -> Result<Vec<TicketRecord>, Error> {
        self.inner.db.held_tickets(caller.user_id, boxoffice_types::limits::MAX_PAGE_SIZE).await
    }
}
