//! What the notifications service asks the events service, when the events topic has not told
//! it of an event an email is about (one published before this service first ran, or longer
//! ago than the topic keeps): `GetEvent` and its venue's name. Besides `consumer.rs` and
//! `users_client.rs`, the only place in the crate that speaks another service's wire types.

use boxoffice_errors::Error;
use boxoffice_proto::event as pb;
use boxoffice_proto::event::event_service_client::EventServiceClient;
use boxoffice_runtime::Connection;
use boxoffice_types::limits::MAX_GRPC_MESSAGE_BYTES;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::absent_if_not_found;
use crate::domain::{CategoryName, EventInfo};

/// The events service's client. Clones share the connection.
#[derive(Clone)]
pub struct EventsClient(EventServiceClient<Connection>);

/// The events service sent something it never sends: a bug on one side.
fn unreadable(what: &str, value: &str) -> Error {
    Error::internal(format!("the events service sent an unreadable {what}: {value}"))
}

fn parse_time(what: &str, text: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| unreadable(what, text))
}

impl EventsClient {
    pub fn new(connection: Connection) -> Self {
        EventsClient(
            EventServiceClient::new(connection)
                .max_decoding_message_size(MAX_GRPC_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_GRPC_MESSAGE_BYTES),
        )
    }

    /// Published event `event_id` as it is now, or `None` when the events service shows no
    /// such event to anyone (a draft, a cancelled or deleted one).
    pub async fn event(&self, event_id: Uuid) -> Result<Option<EventInfo>, Error> {
        let request = pb::GetEventRequest { event_id: event_id.to_string(), caller: None };
        let Some(event) = absent_if_not_found(self.0.clone().get_event(request).await)? else {
            return Ok(None);
        };
        let event = event.into_inner();
        let venue_name = match event.venue_id {
            Some(venue_id) => {
                let request = pb::GetVenueRequest { venue_id };
                absent_if_not_found(self.0.clone().get_venue(request).await)?
                    .map(|venue| venue.into_inner().name)
            }
            None => None,
        };
        let categories = event
            .categories
            .into_iter()
            .map(|category| {
                let id =
                    Uuid::parse_str(&category.id).map_err(|_| unreadable("category id", &category.id))?;
                Ok(CategoryName { id, name: category.name })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Some(EventInfo {
            id: event_id,
            name: event.name,
            city: event.city,
            venue_name,
            starts_at: parse_time("start", &event.starts_at)?,
            ends_at: parse_time("end", &event.ends_at)?,
            categories,
            // Older than any domain event about it, which therefore replaces what this says.
            changed_at: DateTime::UNIX_EPOCH,
            revision: 0,
        }))
    }
}
