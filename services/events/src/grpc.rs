//! The gRPC face of the events service: converts wire types and calls [`Events`]. Nothing here
//! decides anything; every rule is in the feature modules and [`crate::domain`].

use boxoffice_errors::{grpc_reply as reply, Error};
use boxoffice_proto::common::Empty;
use boxoffice_proto::event as pb;
use boxoffice_proto::event::event_service_server::{EventService, EventServiceServer};
use boxoffice_proto::{optional_caller, required_caller as caller, WireEnum as _};
use boxoffice_types::limits::PageSize;
use boxoffice_types::limits::MAX_GRPC_MESSAGE_BYTES;
use boxoffice_types::CategoryKind;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::domain::{
    format_time, seat_id, Category, NewCategory, NewPlacement, NewWaitingRoom, Placement, RowLayout,
    SectionLayout, SectionShape, ShapeInput,
};
use crate::editing::{EventPatch, NewEvent};
use crate::search::ListRequest;
use crate::service::Events;
use crate::store::{DoorStaffRecord, EventRecord, VenueRecord};

pub fn server(events: Events) -> EventServiceServer<Events> {
    EventServiceServer::new(events)
        .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_GRPC_MESSAGE_BYTES)
}

type Reply<T> = Result<Response<T>, Status>;

fn parse_id(text: &str, what: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(text).map_err(|_| Error::not_found(what))
}

fn venue_to_proto(venue: VenueRecord) -> pb::Venue {
    let sections = venue
        .layout
        .sections()
        .iter()
        .map(|section| pb::Section {
            x: section.shape.position.map(|(x, _)| x),
            y: section.shape.position.map(|(_, y)| y),
            rotation: section.shape.rotation,
            curve: section.shape.curve,
            numbering: section.shape.numbering.map(|numbering| numbering.as_str().to_owned()),
            seat_spacing: section.shape.seat_spacing,
            row_spacing: section.shape.row_spacing,
            name: section.name.clone(),
            rows: section
                .rows
                .iter()
                .map(|row| pb::Row {
                    label: row.label.clone(),
                    seats: row.seats,
                    seat_ids: (1..=row.seats)
                        .map(|number| seat_id(&section.name, &row.label, number))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    pb::Venue {
        id: venue.id.to_string(),
        organizer_id: venue.organizer_id.to_string(),
        name: venue.name,
        city: venue.city,
        address: venue.address,
        capacity: u32::try_from(venue.layout.capacity()).unwrap_or(u32::MAX),
        sections,
        created_at: format_time(venue.created_at),
        seats_locked: venue.seats_locked,
    }
}

fn new_sections(sections: Vec<pb::NewSection>) -> Result<Vec<SectionLayout>, Error> {
    sections
        .into_iter()
        .enumerate()
        .map(|(index, section)| {
            let field = format!("sections[{index}]");
            let input = ShapeInput {
                x: section.x,
                y: section.y,
                rotation: section.rotation,
                curve: section.curve,
                numbering: section.numbering,
                seat_spacing: section.seat_spacing,
                row_spacing: section.row_spacing,
            };
            Ok(SectionLayout {
                name: section.name,
                rows: section
                    .rows
                    .into_iter()
                    .map(|row| RowLayout { label: row.label, seats: row.seats })
                    .collect(),
                shape: SectionShape::parse(input, &field)?,
            })
        })
        .collect()
}

fn door_staff_to_proto(staff: Vec<DoorStaffRecord>) -> pb::DoorStaffList {
    let items = staff
        .into_iter()
        .map(|staff| pb::DoorStaff {
            user_id: staff.user_id.to_string(),
            email: staff.email,
            granted_at: format_time(staff.granted_at),
        })
        .collect();
    pb::DoorStaffList { items }
}

fn category_to_proto(category: Category) -> pb::Category {
    let (kind, sections) = match category.placement {
        Placement::GeneralAdmission => (CategoryKind::GeneralAdmission, Vec::new()),
        Placement::Seated { sections } => (CategoryKind::Seated, sections),
    };
    pb::Category {
        id: category.id.to_string(),
        name: category.name,
        price_cents: category.price_cents,
        currency: category.currency,
        capacity: category.capacity,
        kind: kind.to_wire(),
        sections,
    }
}

pub fn event_to_proto(event: EventRecord) -> pb::Event {
    pb::Event {
        id: event.id.to_string(),
        organizer_id: event.organizer_id.to_string(),
        name: event.name,
        description: event.description,
        venue_id: event.venue_id.map(|id| id.to_string()),
        city: event.city,
        starts_at: format_time(event.starts_at),
        ends_at: format_time(event.ends_at),
        sale_starts_at: event.sale_starts_at.map(format_time),
        status: event.status.to_wire(),
        max_tickets_per_booking: event.max_tickets_per_booking,
        categories: event.categories.into_iter().map(category_to_proto).collect(),
        created_at: format_time(event.created_at),
        waiting_room: event.waiting_room.map(|room| pb::WaitingRoom {
            opens_at: format_time(room.opens_at),
            admissions_per_minute: room.admissions_per_minute,
            admission_minutes: room.admission_minutes,
            max_admitted: room.max_admitted,
            proof_of_work_bits: room.proof_of_work_bits,
        }),
        waiting_list_offer_minutes: event.waiting_list_offer_minutes,
        static_codes: event.static_codes,
    }
}

fn new_waiting_room(room: pb::WaitingRoom) -> NewWaitingRoom {
    NewWaitingRoom {
        opens_at: room.opens_at,
        admissions_per_minute: room.admissions_per_minute,
        admission_minutes: room.admission_minutes,
        max_admitted: room.max_admitted,
        proof_of_work_bits: room.proof_of_work_bits,
    }
}

fn new_categories(categories: Vec<pb::NewCategory>) -> Vec<NewCategory> {
    categories
        .into_iter()
        .map(|category| NewCategory {
            name: category.name,
            price_cents: category.price_cents,
            currency: category.currency,
            placement: match category.layout {
                Some(pb::new_category::Layout::Capacity(capacity)) => NewPlacement::Capacity(capacity),
                Some(pb::new_category::Layout::Seated(seated)) => NewPlacement::Sections(seated.sections),
                None => NewPlacement::Missing,
            },
        })
        .collect()
}

#[tonic::async_trait]
impl EventService for Events {
    async fn create_venue(&self, request: Request<pb::CreateVenueRequest>) -> Reply<pb::Venue> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let sections = new_sections(request.sections)?;
            let venue =
                Events::create_venue(self, caller, &request.name, &request.city, &request.address, sections)
                    .await?;
            Ok(venue_to_proto(venue))
        };
        reply(result.await)
    }

    async fn update_venue(&self, request: Request<pb::UpdateVenueRequest>) -> Reply<pb::Venue> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let venue_id = parse_id(&request.venue_id, "venue")?;
            let sections = new_sections(request.sections)?;
            let venue = Events::update_venue(
                self,
                caller,
                venue_id,
                &request.name,
                &request.city,
                &request.address,
                sections,
            )
            .await?;
            Ok(venue_to_proto(venue))
        };
        reply(result.await)
    }

    async fn list_venues(&self, request: Request<pb::ListVenuesRequest>) -> Reply<pb::ListVenuesResponse> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let page = request.page.unwrap_or_default();
            let limit = PageSize::from_wire(page.limit)?;
            let (venues, next_cursor) =
                Events::list_venues(self, caller, limit, page.cursor.as_deref()).await?;
            let items = venues
                .into_iter()
                .map(|venue| pb::VenueSummary {
                    id: venue.id.to_string(),
                    organizer_id: venue.organizer_id.to_string(),
                    capacity: u32::try_from(venue.layout.capacity()).unwrap_or(u32::MAX),
                    section_names: venue
                        .layout
                        .sections()
                        .iter()
                        .map(|section| section.name.clone())
                        .collect(),
                    name: venue.name,
                    city: venue.city,
                    address: venue.address,
                    created_at: format_time(venue.created_at),
                    seats_locked: venue.seats_locked,
                })
                .collect();
            Ok(pb::ListVenuesResponse { items, next_cursor })
        };
        reply(result.await)
    }

    async fn list_door_staff(&self, request: Request<pb::DoorStaffRequest>) -> Reply<pb::DoorStaffList> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let event_id = parse_id(&request.event_id, "event")?;
            Ok(door_staff_to_proto(self.door_staff(caller, event_id).await?))
        };
        reply(result.await)
    }

    async fn grant_door_staff(&self, request: Request<pb::DoorStaffRequest>) -> Reply<pb::DoorStaffList> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let event_id = parse_id(&request.event_id, "event")?;
            let user_id = parse_id(&request.user_id, "account")?;
            Ok(door_staff_to_proto(
                Events::grant_door_staff(self, caller, event_id, user_id, &request.email).await?,
            ))
        };
        reply(result.await)
    }

    async fn revoke_door_staff(&self, request: Request<pb::DoorStaffRequest>) -> Reply<pb::DoorStaffList> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let event_id = parse_id(&request.event_id, "event")?;
            let user_id = parse_id(&request.user_id, "door staff")?;
            Ok(door_staff_to_proto(Events::revoke_door_staff(self, caller, event_id, user_id).await?))
        };
        reply(result.await)
    }

    async fn list_doors(&self, request: Request<pb::ListDoorsRequest>) -> Reply<pb::ListEventsResponse> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let items = self.doors(caller).await?.into_iter().map(event_to_proto).collect();
            Ok(pb::ListEventsResponse { items, next_cursor: None })
        };
        reply(result.await)
    }

    async fn is_door_staff(
        &self,
        request: Request<pb::IsDoorStaffRequest>,
    ) -> Reply<pb::IsDoorStaffResponse> {
        let request = request.into_inner();
        let result = async {
            let event_id = parse_id(&request.event_id, "event")?;
            let user_id = parse_id(&request.user_id, "account")?;
            Ok(pb::IsDoorStaffResponse { granted: Events::is_door_staff(self, event_id, user_id).await? })
        };
        reply(result.await)
    }

    async fn get_venue(&self, request: Request<pb::GetVenueRequest>) -> Reply<pb::Venue> {
        let result = async {
            let venue_id = parse_id(&request.into_inner().venue_id, "venue")?;
            Ok(venue_to_proto(self.venue(venue_id).await?))
        };
        reply(result.await)
    }

    async fn create_event(&self, request: Request<pb::CreateEventRequest>) -> Reply<pb::Event> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let new = NewEvent {
                name: request.name,
                description: request.description,
                venue_id: request.venue_id,
                city: request.city,
                starts_at: request.starts_at,
                ends_at: request.ends_at,
                sale_starts_at: request.sale_starts_at,
                max_tickets_per_booking: request.max_tickets_per_booking,
                categories: new_categories(request.categories),
                waiting_room: request.waiting_room.map(new_waiting_room),
                waiting_list_offer_minutes: request.waiting_list_offer_minutes,
                static_codes: request.static_codes,
            };
            Ok(event_to_proto(Events::create_event(self, caller, new).await?))
        };
        reply(result.await)
    }

    async fn update_event(&self, request: Request<pb::UpdateEventRequest>) -> Reply<pb::Event> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let event_id = parse_id(&request.event_id, "event")?;
            let patch = EventPatch {
                name: request.name,
                description: request.description,
                venue_id: request.venue_id,
                city: request.city,
                starts_at: request.starts_at,
                ends_at: request.ends_at,
                sale_starts_at: request.sale_starts_at,
                max_tickets_per_booking: request.max_tickets_per_booking,
                categories: request.categories.map(|list| new_categories(list.categories)),
                waiting_room: request.waiting_room.map(|patch| patch.room.map(new_waiting_room)),
                waiting_list_offer_minutes: request.waiting_list_offer_minutes,
                static_codes: request.static_codes,
            };
            Ok(event_to_proto(Events::update_event(self, caller, event_id, patch).await?))
        };
        reply(result.await)
    }

    async fn publish_event(&self, request: Request<pb::PublishEventRequest>) -> Reply<pb::Event> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let event_id = parse_id(&request.event_id, "event")?;
            Ok(event_to_proto(self.publish(caller, event_id).await?))
        };
        reply(result.await)
    }

    async fn cancel_event(&self, request: Request<pb::CancelEventRequest>) -> Reply<pb::Event> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let event_id = parse_id(&request.event_id, "event")?;
            Ok(event_to_proto(self.cancel(caller, event_id).await?))
        };
        reply(result.await)
    }

    async fn delete_event(&self, request: Request<pb::DeleteEventRequest>) -> Reply<Empty> {
        let request = request.into_inner();
        let result = async {
            let caller = caller(request.caller)?;
            let event_id = parse_id(&request.event_id, "event")?;
            self.delete(caller, event_id).await.map(|()| Empty {})
        };
        reply(result.await)
    }

    async fn get_event(&self, request: Request<pb::GetEventRequest>) -> Reply<pb::Event> {
        let request = request.into_inner();
        let result = async {
            let caller = optional_caller(request.caller)?;
            let event_id = parse_id(&request.event_id, "event")?;
            Ok(event_to_proto(self.event(caller, event_id).await?))
        };
        reply(result.await)
    }

    async fn list_events(&self, request: Request<pb::ListEventsRequest>) -> Reply<pb::ListEventsResponse> {
        let request = request.into_inner();
        let result = async {
            let caller = optional_caller(request.caller)?;
            let page = request.page.unwrap_or_default();
            let list = ListRequest {
                q: request.q,
                city: request.city,
                from: request.from,
                to: request.to,
                limit: page.size()?,
                cursor: page.cursor,
                mine: request.mine,
            };
            let (events, next_cursor) = self.list(caller, list).await?;
            Ok(pb::ListEventsResponse {
                items: events.into_iter().map(event_to_proto).collect(),
                next_cursor,
            })
        };
        reply(result.await)
    }

    async fn get_event_inventory(
        &self,
        request: Request<pb::GetEventInventoryRequest>,
    ) -> Reply<pb::EventInventory> {
        let result = async {
            let request = request.into_inner();
            let event_id = parse_id(&request.event_id, "event")?;
            let (event, units) = self.inventory(event_id, !request.event_only).await?;
            let units = units
                .into_iter()
                .map(|units| pb::CategoryUnits {
                    category_id: units.category_id.to_string(),
                    capacity: units.capacity,
                    seat_ids: units.seat_ids,
                })
                .collect();
            Ok(pb::EventInventory { event: Some(event_to_proto(event)), units })
        };
        reply(result.await)
    }

    async fn check_ready(&self, _request: Request<Empty>) -> Reply<Empty> {
        reply(Events::check_ready(self).await.map(|()| Empty {}))
    }
}
