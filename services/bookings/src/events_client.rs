//! [`EventCatalog`] over gRPC: the events service's `GetEventInventory`, its answer parsed once
//! into the bookings service's terms. Besides `grpc.rs`, this is the only place in the crate that
//! speaks the events service's wire types.

use std::sync::Arc;

use async_trait::async_trait;
use boxoffice_errors::Error;
use boxoffice_proto::event as pb;
use boxoffice_proto::event::event_service_client::EventServiceClient;
use boxoffice_proto::WireEnum as _;
use boxoffice_runtime::Connection;
use boxoffice_types::limits::MAX_GRPC_MESSAGE_BYTES;
use boxoffice_types::{CategoryKind, EventStatus};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalog::{EventCatalog, EventUnits, SaleCategory, SaleEvent};
use crate::inventory::{CategorySpec, CategoryUnits};

/// The events service's client. Clones share the connection.
#[derive(Clone)]
pub struct EventsClient(EventServiceClient<Connection>);

impl EventsClient {
    pub fn new(connection: Connection) -> Self {
        EventsClient(
            EventServiceClient::new(connection)
                .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_GRPC_MESSAGE_BYTES),
        )
    }
}

#[async_trait]
impl EventCatalog for EventsClient {
    async fn event(&self, event_id: Uuid, known_units: Option<Arc<EventUnits>>) -> Result<SaleEvent, Error> {
        let request = pb::GetEventInventoryRequest {
            event_id: event_id.to_string(),
            event_only: known_units.is_some(),
        };
        let inventory = self
            .0
            .clone()
            .get_event_inventory(request)
            .await
            .map_err(|status| Error::from_status(&status))?
            .into_inner();
        let event = inventory
            .event
            .ok_or_else(|| Error::internal("the events service sent an inventory without its event"))?;
        parse_event(event, known_units, inventory.units)
    }

    async fn is_door_staff(&self, event_id: Uuid, user_id: Uuid) -> Result<bool, Error> {
        let request = pb::IsDoorStaffRequest { event_id: event_id.to_string(), user_id: user_id.to_string() };
        let answer =
            self.0.clone().is_door_staff(request).await.map_err(|status| Error::from_status(&status))?;
        Ok(answer.into_inner().granted)
    }
}

/// The events service sent something it never sends: a bug on one side.
fn unreadable(what: &str, value: impl std::fmt::Display) -> Error {
    Error::internal(format!("the events service sent an unreadable {what}: {value}"))
}

fn parse_uuid(what: &str, text: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(text).map_err(|_| unreadable(what, text))
}

fn parse_time(what: &str, text: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| unreadable(what, text))
}

fn parse_event(
    event: pb::Event,
    known_units: Option<Arc<EventUnits>>,
    units: Vec<pb::CategoryUnits>,
) -> Result<SaleEvent, Error> {
    let categories = event
        .categories
        .into_iter()
        .map(|category| {
            Ok(SaleCategory {
                id: parse_uuid("category id", &category.id)?,
                price_cents: category.price_cents,
                currency: category.currency,
                kind: CategoryKind::from_wire(category.kind)
                    .ok_or_else(|| unreadable("category kind", category.kind))?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let units = match known_units {
        Some(units) => units,
        None => Arc::new(parse_units(&categories, units)?),
    };
    Ok(SaleEvent {
        id: parse_uuid("event id", &event.id)?,
        organizer_id: parse_uuid("organizer id", &event.organizer_id)?,
        status: EventStatus::from_wire(event.status)
            .ok_or_else(|| unreadable("event status", event.status))?,
        starts_at: parse_time("start", &event.starts_at)?,
        ends_at: parse_time("end", &event.ends_at)?,
        sale_starts_at: event
            .sale_starts_at
            .as_deref()
            .map(|text| parse_time("sale start", text))
            .transpose()?,
        max_tickets_per_booking: event.max_tickets_per_booking,
        waiting_list_offer: (event.waiting_list_offer_minutes > 0)
            .then(|| chrono::Duration::minutes(i64::from(event.waiting_list_offer_minutes))),
        static_codes: event.static_codes,
        categories,
        units,
    })
}

/// One spec per entry, in the events service's order: a seated category sells its seats, a
/// general-admission one `capacity` numbered units.
fn parse_units(categories: &[SaleCategory], units: Vec<pb::CategoryUnits>) -> Result<EventUnits, Error> {
    let specs = units
        .into_iter()
        .map(|units| {
            let category_id = parse_uuid("category id", &units.category_id)?;
            let kind = categories
                .iter()
                .find(|category| category.id == category_id)
                .map(|category| category.kind)
                .ok_or_else(|| unreadable("category of units", category_id))?;
            let units = match kind {
                CategoryKind::Seated => CategoryUnits::Seated { seat_ids: units.seat_ids },
                CategoryKind::GeneralAdmission => {
                    CategoryUnits::GeneralAdmission { capacity: units.capacity }
                }
            };
            Ok(CategorySpec { category_id, units })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(EventUnits::new(specs))
}
