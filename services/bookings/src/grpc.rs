//! The gRPC face of the bookings service: converts wire types and calls [`Bookings`].

use boxoffice_errors::{grpc_reply as reply, Error};
use boxoffice_proto::booking as pb;
use boxoffice_proto::booking::booking_service_server::{BookingService, BookingServiceServer};
use boxoffice_proto::common::Empty;
use boxoffice_proto::{optional_caller, required_caller as caller, WireEnum as _};
use boxoffice_types::limits::MAX_GRPC_MESSAGE_BYTES;
use boxoffice_types::SeatStatus;
use chrono::{DateTime, Utc};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::db::CategorySales;
use crate::domain::{
    BookingRecord, BookingStatus, EntryStatus, NewBooking, TicketRecord, WaitingEntry, ACTIVITY_BUCKET,
    HOLD_DEADLINE,
};
use crate::inventory::{Availability, UnitState};
use crate::queries::{BookingPage, EventStats};
use crate::service::Bookings;
use crate::tickets::code::ROTATION_STEP;

pub fn server(bookings: Bookings) -> BookingServiceServer<Bookings> {
    BookingServiceServer::new(bookings)
        .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_GRPC_MESSAGE_BYTES)
}

type Reply<T> = Result<Response<T>, Status>;

fn parse_id(text: &str, what: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(text.trim()).map_err(|_| Error::not_found(what))
}

fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A ticket as its booking's buyer sees it: a ticket given to someone else shows no code.
fn ticket_to_proto(ticket: TicketRecord, buyer: Uuid) -> pb::Ticket {
    let transferred = ticket.holder(buyer) != buyer;
    pb::Ticket {
        id: ticket.id.to_string(),
        category_id: ticket.category_id.to_string(),
        seat: ticket.seat,
        code: if transferred { String::new() } else { ticket.code },
        checked_in_at: ticket.checked_in_at.map(format_time),
        transferred,
    }
}

/// A ticket as its holder sees it.
fn held_ticket_to_proto(ticket: TicketRecord) -> pb::HeldTicket {
    let (booking_id, event_id, price_cents) = (ticket.booking_id, ticket.event_id, ticket.price_cents);
    let received = ticket.holder_id.is_some();
    // Seen by its holder, whoever bought it.
    let holder = ticket.holder_id.unwrap_or_default();
    let shown = ticket_to_proto(ticket, holder);
    pb::HeldTicket {
        ticket: Some(shown),
        booking_id: booking_id.to_string(),
        event_id: event_id.to_string(),
        price_cents,
        received,
    }
}

fn booking_to_proto(booking: BookingRecord) -> pb::Booking {
    pb::Booking {
        id: booking.id.to_string(),
        event_id: booking.event_id.to_string(),
        user_id: booking.user_id.to_string(),
        status: booking.status.to_wire(),
        items: booking
            .items
            .into_iter()
            .map(|item| pb::BookingItem {
                category_id: item.category_id.to_string(),
                quantity: item.quantity,
                unit_price_cents: item.unit_price_cents,
            })
            .collect(),
        seats: booking.seats,
        total_cents: booking.total_cents,
        currency: booking.currency,
        expires_at: format_time(booking.expires_at),
        created_at: format_time(booking.created_at),
        tickets: booking.tickets.into_iter().map(|ticket| ticket_to_proto(ticket, booking.user_id)).collect(),
    }
}

fn entry_to_proto(entry: WaitingEntry) -> pb::WaitingListEntry {
    let status = match entry.status {
        EntryStatus::Waiting => pb::WaitingListStatus::Waiting,
        EntryStatus::Offered => pb::WaitingListStatus::Offered,
        EntryStatus::Bought => pb::WaitingListStatus::Bought,
        EntryStatus::Declined => pb::WaitingListStatus::Declined,
        EntryStatus::Lapsed => pb::WaitingListStatus::Lapsed,
        EntryStatus::Left => pb::WaitingListStatus::Left,
        EntryStatus::Closed => pb::WaitingListStatus::Closed,
    };
    pb::WaitingListEntry {
        id: entry.id.to_string(),
        event_id: entry.event_id.to_string(),
        category_id: entry.category_id.to_string(),
        quantity: entry.quantity,
        status: status.into(),
        position: entry.position,
        booking_id: entry.booking_id.map(|id| id.to_string()),
        offered_quantity: entry.offered_quantity,
        offer_minutes: entry.offer_minutes,
        created_at: format_time(entry.created_at),
        updated_at: format_time(entry.updated_at),
    }
}

fn page_to_proto((bookings, next_cursor): BookingPage) -> pb::ListBookingsResponse {
    pb::ListBookingsResponse { items: bookings.into_iter().map(booking_to_proto).collect(), next_cursor }
}

fn availability_to_proto(event_id: Uuid, availability: Availability) -> pb::Availability {
    pb::Availability {
        event_id: event_id.to_string(),
        categories: availability
            .categories
            .into_iter()
            .map(|(category_id, counts)| pb::CategoryAvailability {
                id: category_id.to_string(),
                available: counts.available(),
                held: counts.held,
                sold: counts.sold,
                capacity: counts.capacity,
            })
            .collect(),
        seats: availability
            .seats
            .into_iter()
            .map(|(seat_id, category_id, state)| pb::SeatAvailability {
                id: seat_id,
                category_id: category_id.to_string(),
                status: match state {
                    None => SeatStatus::Available,
                    Some(UnitState::Held) => SeatStatus::Held,
                    Some(UnitState::Sold) => SeatStatus::Sold,
                }
                .to_wire(),
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl BookingService for Bookings {
    async fn create_booking(&self, request: Request<pb::CreateBookingRequest>) -> Reply<pb::Booking> {
        // Given up before the caller stops waiting, so that a caller told it failed has no booking.
        let deadline = boxoffice_runtime::deadline::within(request.metadata(), HOLD_DEADLINE);
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let new = NewBooking {
                event_id: parse_id(&request.event_id, "event")?,
                items: request.items.into_iter().map(|item| (item.category_id, item.quantity)).collect(),
                seats: request.seats,
                idempotency_key: request.idempotency_key,
            };
            self.create_booking_by(caller, new, deadline).await.map(booking_to_proto)
        };
        reply(result.await)
    }

    async fn get_booking(&self, request: Request<pb::GetBookingRequest>) -> Reply<pb::Booking> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            self.booking(caller, parse_id(&request.booking_id, "booking")?).await.map(booking_to_proto)
        };
        reply(result.await)
    }

    async fn list_bookings(
        &self,
        request: Request<pb::ListBookingsRequest>,
    ) -> Reply<pb::ListBookingsResponse> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let page = request.page.unwrap_or_default();
            self.list(caller, page.size()?, page.cursor.as_deref()).await.map(page_to_proto)
        };
        reply(result.await)
    }

    async fn confirm_booking(&self, request: Request<pb::ConfirmBookingRequest>) -> Reply<pb::Booking> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let booking_id = parse_id(&request.booking_id, "booking")?;
            let token = request.payment_token;
            self.confirm(caller, booking_id, &token).await.map(booking_to_proto)
        };
        reply(result.await)
    }

    async fn cancel_booking(&self, request: Request<pb::CancelBookingRequest>) -> Reply<pb::Booking> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let booking_id = parse_id(&request.booking_id, "booking")?;
            self.cancel(caller, booking_id).await.map(booking_to_proto)
        };
        reply(result.await)
    }

    async fn get_ticket_qr(&self, request: Request<pb::GetTicketQrRequest>) -> Reply<pb::TicketQr> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let png =
                self.ticket_qr(caller, parse_id(&request.ticket_id, "ticket")?, request.rotating).await?;
            Ok(pb::TicketQr { png })
        };
        reply(result.await)
    }

    async fn check_in(&self, request: Request<pb::CheckInRequest>) -> Reply<pb::CheckInResult> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let door = request
                .event_id
                .as_deref()
                .map(|id| {
                    Uuid::parse_str(id).map_err(|_| Error::validation("event_id: must be an event's id"))
                })
                .transpose()?;
            let (ticket, checked_in_at) = Bookings::check_in(self, caller, &request.code, door).await?;
            Ok(pb::CheckInResult {
                ticket_id: ticket.id.to_string(),
                event_id: ticket.event_id.to_string(),
                seat: ticket.seat,
                checked_in_at: format_time(checked_in_at),
                category_id: ticket.category_id.to_string(),
            })
        };
        reply(result.await)
    }

    async fn join_waiting_list(
        &self,
        request: Request<pb::JoinWaitingListRequest>,
    ) -> Reply<pb::WaitingListEntry> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let event_id = parse_id(&request.event_id, "event")?;
            let category_id = Uuid::parse_str(request.category_id.trim())
                .map_err(|_| Error::validation("category_id: not a category of this event"))?;
            let entry = self.join_waiting_list(caller, event_id, category_id, request.quantity).await?;
            Ok(entry_to_proto(entry))
        };
        reply(result.await)
    }

    async fn list_waiting_list(
        &self,
        request: Request<pb::ListWaitingListRequest>,
    ) -> Reply<pb::WaitingListEntries> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let entries = self.waiting_entries(caller).await?;
            Ok(pb::WaitingListEntries { items: entries.into_iter().map(entry_to_proto).collect() })
        };
        reply(result.await)
    }

    async fn leave_waiting_list(
        &self,
        request: Request<pb::LeaveWaitingListRequest>,
    ) -> Reply<pb::WaitingListEntry> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let entry_id = parse_id(&request.entry_id, "waiting-list entry")?;
            Ok(entry_to_proto(Bookings::leave_waiting_list(self, caller, entry_id).await?))
        };
        reply(result.await)
    }

    async fn get_ticket_code(&self, request: Request<pb::GetTicketCodeRequest>) -> Reply<pb::TicketCode> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let ticket_id = parse_id(&request.ticket_id, "ticket")?;
            let code = self.ticket_code(caller, ticket_id).await?;
            Ok(pb::TicketCode {
                ticket_id: ticket_id.to_string(),
                code: code.code,
                next_at: format_time(code.next_at),
                rotates_every_seconds: u32::try_from(ROTATION_STEP.num_seconds()).unwrap_or(u32::MAX),
            })
        };
        reply(result.await)
    }

    async fn transfer_ticket(&self, request: Request<pb::TransferTicketRequest>) -> Reply<pb::HeldTicket> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let ticket_id = parse_id(&request.ticket_id, "ticket")?;
            let to = Uuid::parse_str(request.to_user_id.trim())
                .map_err(|_| Error::validation("to_user_id: not an account id"))?;
            Ok(held_ticket_to_proto(Bookings::transfer_ticket(self, caller, ticket_id, to).await?))
        };
        reply(result.await)
    }

    async fn list_tickets(&self, request: Request<pb::ListTicketsRequest>) -> Reply<pb::HeldTickets> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let tickets = self.held_tickets(caller).await?;
            Ok(pb::HeldTickets { items: tickets.into_iter().map(held_ticket_to_proto).collect() })
        };
        reply(result.await)
    }

    async fn get_door_count(&self, request: Request<pb::DoorCountRequest>) -> Reply<pb::DoorCount> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let event_id = parse_id(&request.event_id, "event")?;
            let (checked_in, tickets) = self.door_count(caller, event_id).await?;
            Ok(pb::DoorCount { checked_in, tickets })
        };
        reply(result.await)
    }

    async fn get_availability(
        &self,
        request: Request<pb::GetAvailabilityRequest>,
    ) -> Reply<pb::Availability> {
        let request = request.into_inner();
        let result = async {
            let event_id = parse_id(&request.event_id, "event")?;
            let caller = optional_caller(request.caller)?;
            let (_, availability) = self.availability(caller, event_id).await?;
            Ok(availability_to_proto(event_id, availability))
        };
        reply(result.await)
    }

    async fn get_event_stats(&self, request: Request<pb::GetEventStatsRequest>) -> Reply<pb::EventStats> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let event_id = parse_id(&request.event_id, "event")?;
            let EventStats { event, availability, sales, activity, waiting } =
                self.stats(caller, event_id).await?;
            let waiting_in = |category_id: Uuid| {
                waiting.iter().find(|(id, _)| *id == category_id).map_or(0, |(_, count)| *count)
            };
            let sales_of = |category_id: Uuid| {
                sales
                    .iter()
                    .find(|(id, _)| *id == category_id)
                    .map(|(_, sales)| sales.clone())
                    .unwrap_or_default()
            };
            let categories: Vec<pb::CategoryStats> = availability
                .categories
                .iter()
                .map(|(category_id, counts)| {
                    let CategorySales { revenue_cents, checked_in, .. } = sales_of(*category_id);
                    pb::CategoryStats {
                        category_id: category_id.to_string(),
                        sold: counts.sold,
                        held: counts.held,
                        available: counts.available(),
                        revenue_cents,
                        checked_in,
                        waiting: waiting_in(*category_id),
                    }
                })
                .collect();
            Ok(pb::EventStats {
                event_id: event_id.to_string(),
                sold: categories.iter().map(|category| category.sold).sum(),
                held: categories.iter().map(|category| category.held).sum(),
                available: categories.iter().map(|category| category.available).sum(),
                revenue_cents: categories.iter().map(|category| category.revenue_cents).sum(),
                checked_in: categories.iter().map(|category| category.checked_in).sum(),
                waiting: categories.iter().map(|category| category.waiting).sum(),
                currency: event
                    .categories
                    .first()
                    .map(|category| category.currency.clone())
                    .unwrap_or_default(),
                categories,
                activity: Some(pb::Activity {
                    bucket_seconds: u32::try_from(ACTIVITY_BUCKET.as_secs()).unwrap_or(u32::MAX),
                    until: format_time(activity.until),
                    holds: activity.holds,
                    sales: activity.sales,
                }),
            })
        };
        reply(result.await)
    }

    async fn list_event_bookings(
        &self,
        request: Request<pb::ListEventBookingsRequest>,
    ) -> Reply<pb::ListBookingsResponse> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let event_id = parse_id(&request.event_id, "event")?;
            let status = request
                .status
                .map(|status| {
                    BookingStatus::from_wire(status)
                        .ok_or_else(|| Error::validation("status: not a booking status"))
                })
                .transpose()?;
            let page = request.page.unwrap_or_default();
            self.event_bookings(caller, event_id, status, page.size()?, page.cursor.as_deref())
                .await
                .map(page_to_proto)
        };
        reply(result.await)
    }

    async fn load_inventory(&self, request: Request<pb::LoadInventoryRequest>) -> Reply<Empty> {
        let result = async {
            let event_id = parse_id(&request.into_inner().event_id, "event")?;
            self.load_inventory(event_id).await.map(|()| Empty {})
        };
        reply(result.await)
    }

    async fn check_ready(&self, _request: Request<Empty>) -> Reply<Empty> {
        reply(Bookings::check_ready(self).await.map(|()| Empty {}))
    }
}
