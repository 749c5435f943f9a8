//! The requests and responses of `/api/v1/events/*`, and their conversions to and from the
//! events service's wire types.

use boxoffice_errors::Error;
use boxoffice_proto::event as pb;
use boxoffice_proto::WireEnum as _;
use boxoffice_types::{CategoryKind, EventStatus};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::openapi::fields;
use crate::problem::{ApiError, ApiResult};
use crate::routes::service_id;
use crate::whole_number;

// ---- Requests ----

/// A ticket category: general admission with a `capacity`, or seated with the `sections` of the
/// event's venue whose seats it sells. Exactly one of the two is given.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryRequest {
    /// Unique within the event.
    #[schema(schema_with = fields::category_name, example = "Standing")]
    pub name: String,
    /// Minor units of `currency`.
    #[serde(deserialize_with = "whole_number::required")]
    #[schema(example = 4500, minimum = 0, maximum = 10_000_000_000_i64)]
    pub price_cents: i64,
    #[schema(schema_with = fields::currency)]
    pub currency: String,
    /// General admission: the number of places.
    #[serde(default, deserialize_with = "whole_number::optional")]
    #[schema(example = 500, minimum = 1, maximum = 1_000_000)]
    pub capacity: Option<u32>,
    /// Seated: section names of the event's venue. A section belongs to at most one category.
    #[schema(example = json!(["Floor"]), min_items = 1)]
    pub sections: Option<Vec<String>>,
}

impl CategoryRequest {
    /// `index` is the category's place in the request, to name it in the error.
    pub(super) fn into_proto(self, index: usize) -> ApiResult<pb::NewCategory> {
        // One DTO with two optional fields reads better in the API than an untagged enum, whose
        // errors cannot say which field is wrong; the oneof is decided here instead.
        let layout = match (self.capacity, self.sections) {
            (Some(capacity), None) => pb::new_category::Layout::Capacity(capacity),
            (None, Some(sections)) => pb::new_category::Layout::Seated(pb::SeatedSections { sections }),
            _ => {
                return Err(Error::validation(format!(
                    "categories[{index}]: give either capacity (general admission) or sections \
                     (seated)"
                ))
                .into())
            }
        };
        Ok(pb::NewCategory {
            name: self.name,
            price_cents: self.price_cents,
            currency: self.currency,
            layout: Some(layout),
        })
    }
}

pub(super) fn categories_into_proto(categories: Vec<CategoryRequest>) -> ApiResult<Vec<pb::NewCategory>> {
    categories.into_iter().enumerate().map(|(index, category)| category.into_proto(index)).collect()
}

/// A new event: at most 2,000,000 tickets over all its categories.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEventRequest {
    #[schema(schema_with = fields::event_name, example = "Winter Jazz Night")]
    pub name: String,
    /// Empty when absent.
    #[serde(default)]
    #[schema(schema_with = fields::description, example = "Three quartets, one night.")]
    pub description: String,
    /// The venue whose sections seated categories sell, one of the caller's; absent for general
    /// admission only.
    pub venue_id: Option<Uuid>,
    #[schema(schema_with = fields::city, example = "Lyon")]
    pub city: String,
    #[schema(schema_with = fields::starts_at)]
    pub starts_at: String,
    #[schema(schema_with = fields::ends_at)]
    pub ends_at: String,
    #[schema(schema_with = fields::sale_starts_at)]
    pub sale_starts_at: Option<String>,
    /// Default 10.
    #[serde(default, deserialize_with = "whole_number::optional")]
    #[schema(example = 10, minimum = 1, maximum = 50)]
    pub max_tickets_per_booking: Option<u32>,
    /// 1 to 50, their names unique within the event.
    #[schema(min_items = 1, max_items = 50)]
    pub categories: Vec<CategoryRequest>,
    /// A virtual waiting room in front of the on-sale; absent or `null`: none. Needs
    /// `sale_starts_at`.
    #[serde(default)]
    pub waiting_room: Option<WaitingRoomBody>,
    /// How long an offer from a sold-out category's waiting list lasts, in minutes; default 720
    /// (12 hours); 0: no waiting list.
    #[serde(default, deserialize_with = "whole_number::optional")]
    #[schema(example = 720, minimum = 0, maximum = 10080)]
    pub waiting_list_offer_minutes: Option<u32>,
    /// Whether the door accepts a ticket's static code (print-at-home) beside its rotating
    /// one; default true.
    #[serde(default)]
    pub static_codes: Option<bool>,
}

/// A virtual waiting room: buyers join its queue from `opens_at`; those who joined before the
/// sale starts are placed in a random order at the start, later ones behind them in arrival
/// order; they are let in at `admissions_per_minute`, each for `admission_minutes`, at most
/// `max_admitted` at once. While it is on, holding tickets needs the admission pass.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitingRoomBody {
    /// RFC 3339; no later than the event's `sale_starts_at`.
    #[schema(example = "2026-12-12T09:00:00Z")]
    pub opens_at: String,
    #[serde(deserialize_with = "whole_number::required")]
    #[schema(example = 600, minimum = 1, maximum = 100_000)]
    pub admissions_per_minute: u32,
    #[serde(deserialize_with = "whole_number::required")]
    #[schema(example = 10, minimum = 1, maximum = 60)]
    pub admission_minutes: u32,
    #[serde(deserialize_with = "whole_number::required")]
    #[schema(example = 2000, minimum = 1, maximum = 100_000)]
    pub max_admitted: u32,
    /// Leading zero bits of the SHA-256 proof of work a joining client must find; 0 (the
    /// default): none.
    #[serde(default, deserialize_with = "whole_number::optional")]
    #[schema(example = 0, minimum = 0, maximum = 24)]
    pub proof_of_work_bits: Option<u32>,
}

impl WaitingRoomBody {
    pub fn into_proto(self) -> pb::WaitingRoom {
        pb::WaitingRoom {
            opens_at: self.opens_at,
            admissions_per_minute: self.admissions_per_minute,
            admission_minutes: self.admission_minutes,
            max_admitted: self.max_admitted,
            proof_of_work_bits: self.proof_of_work_bits.unwrap_or(0),
        }
    }

    fn from_proto(room: pb::WaitingRoom) -> Self {
        WaitingRoomBody {
            opens_at: room.opens_at,
            admissions_per_minute: room.admissions_per_minute,
            admission_minutes: room.admission_minutes,
            max_admitted: room.max_admitted,
            proof_of_work_bits: Some(room.proof_of_work_bits),
        }
    }
}

/// A patch: absent fields stay as they are. `venue_id` and `categories` may change only while
/// the event is a draft.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEventRequest {
    /// `null` keeps the name.
    #[schema(schema_with = fields::event_name_patch)]
    pub name: Option<String>,
    /// `null` keeps the description.
    #[schema(schema_with = fields::description_patch)]
    pub description: Option<String>,
    /// `null` removes the venue.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub venue_id: Option<Option<Uuid>>,
    #[schema(schema_with = fields::city_patch)]
    pub city: Option<String>,
    #[schema(schema_with = fields::starts_at_patch)]
    pub starts_at: Option<String>,
    #[schema(schema_with = fields::ends_at_patch)]
    pub ends_at: Option<String>,
    /// `null` puts the event on sale as soon as it is published.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = fields::sale_starts_at)]
    pub sale_starts_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "whole_number::optional")]
    #[schema(minimum = 1, maximum = 50)]
    pub max_tickets_per_booking: Option<u32>,
    /// Replaces every category; the new ones get new ids. `null` keeps them.
    #[schema(min_items = 1, max_items = 50)]
    pub categories: Option<Vec<CategoryRequest>>,
    /// Sets the waiting room (also while on sale: its rate may be tuned live); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<WaitingRoomBody>)]
    pub waiting_room: Option<Option<WaitingRoomBody>>,
    /// 0 ends the waiting list (entries already waiting keep their place); else 5 to 10080.
    #[serde(default, deserialize_with = "whole_number::optional")]
    #[schema(minimum = 0, maximum = 10080)]
    pub waiting_list_offer_minutes: Option<u32>,
    /// false: the door accepts only the rotating codes from then on.
    pub static_codes: Option<bool>,
}

/// Tells a field that is absent (`None`, by `#[serde(default)]`) from one that is `null`
/// (`Some(None)`), which serde's plain `Option` folds together. A patch needs the difference:
/// absent keeps the value, `null` clears it.
fn present<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// How the events service reads a patch of a nullable field: absent keeps it, "" clears it.
pub(super) fn clearable(value: Option<Option<String>>) -> Option<String> {
    value.map(Option::unwrap_or_default)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListEventsQuery {
    /// Case-insensitive substring of the name or description; empty for any.
    #[param(schema_with = fields::search)]
    pub q: Option<String>,
    /// Case-insensitive exact city; empty for any.
    #[param(schema_with = fields::city_filter)]
    pub city: Option<String>,
    /// Only events starting at or after this; empty for any.
    #[param(schema_with = fields::from_filter)]
    pub from: Option<String>,
    /// Only events starting at or before this; empty for any.
    #[param(schema_with = fields::to_filter)]
    pub to: Option<String>,
    /// 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `true`: the caller's own events in every status instead of the published ones (needs a
    /// token).
    pub mine: Option<bool>,
}

// ---- Responses ----

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryResponse {
    /// Assigned by the server; new ones whenever the categories are replaced.
    pub id: String,
    #[schema(example = "Standing")]
    pub name: String,
    #[schema(example = 4500)]
    pub price_cents: i64,
    #[schema(example = "EUR")]
    pub currency: String,
    /// For a seated category, the number of seats in its sections.
    #[schema(example = 500)]
    pub capacity: u32,
    pub kind: CategoryKind,
    /// Only for seated categories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    pub id: Uuid,
    pub organizer_id: Uuid,
    #[schema(example = "Winter Jazz Night")]
    pub name: String,
    pub description: String,
    /// `null` for an event without a venue.
    pub venue_id: Option<Uuid>,
    #[schema(example = "Lyon")]
    pub city: String,
    /// RFC 3339, UTC.
    #[schema(example = "2026-12-12T19:00:00Z")]
    pub starts_at: String,
    /// RFC 3339, UTC.
    pub ends_at: String,
    /// RFC 3339, UTC; `null`: on sale as soon as published.
    pub sale_starts_at: Option<String>,
    pub status: EventStatus,
    #[schema(example = 10)]
    pub max_tickets_per_booking: u32,
    pub categories: Vec<CategoryResponse>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// `null`: no waiting room.
    pub waiting_room: Option<WaitingRoomBody>,
    /// How long an offer from a sold-out category's waiting list lasts, in minutes; 0: the event
    /// has no waiting list.
    #[schema(example = 720)]
    pub waiting_list_offer_minutes: u32,
    /// Whether the door accepts a ticket's static code beside its rotating one.
    pub static_codes: bool,
}

impl EventResponse {
    /// The name of one of its categories.
    pub fn category_name(&self, category_id: &str) -> Option<&str> {
        self.categories
            .iter()
            .find(|category| category.id == category_id)
            .map(|category| category.name.as_str())
    }

    pub fn from_proto(event: pb::Event) -> ApiResult<Self> {
        let status = EventStatus::from_wire(event.status)
            .ok_or_else(|| unexpected(format!("event status {}", event.status)))?;
        let categories =
            event.categories.into_iter().map(CategoryResponse::from_proto).collect::<ApiResult<_>>()?;
        Ok(EventResponse {
            id: service_id("events", &event.id)?,
            organizer_id: service_id("events", &event.organizer_id)?,
            name: event.name,
            description: event.description,
            venue_id: event.venue_id.map(|id| service_id("events", &id)).transpose()?,
            city: event.city,
            starts_at: event.starts_at,
            ends_at: event.ends_at,
            sale_starts_at: event.sale_starts_at,
            status,
            max_tickets_per_booking: event.max_tickets_per_booking,
            categories,
            created_at: event.created_at,
            waiting_room: event.waiting_room.map(WaitingRoomBody::from_proto),
            waiting_list_offer_minutes: event.waiting_list_offer_minutes,
            static_codes: event.static_codes,
        })
    }
}

impl CategoryResponse {
    fn from_proto(category: pb::Category) -> ApiResult<Self> {
        let kind = CategoryKind::from_wire(category.kind)
            .ok_or_else(|| unexpected(format!("category kind {}", category.kind)))?;
        let sections = (kind == CategoryKind::Seated).then_some(category.sections);
        Ok(CategoryResponse {
            id: category.id,
            name: category.name,
            price_cents: category.price_cents,
            currency: category.currency,
            capacity: category.capacity,
            kind,
            sections,
        })
    }
}

fn unexpected(what: String) -> ApiError {
    Error::internal(format!("the events service sent an unknown {what}")).into()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<EventResponse>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl EventPage {
    pub fn from_proto(page: pb::ListEventsResponse) -> ApiResult<Self> {
        Ok(EventPage {
            items: page.items.into_iter().map(EventResponse::from_proto).collect::<ApiResult<_>>()?,
            next_cursor: page.next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(json: &str) -> UpdateEventRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_patch_tells_an_absent_field_from_a_null_one() {
        let venue_id = Uuid::now_v7();
        let absent = patch("{}");
        assert_eq!(clearable(absent.sale_starts_at), None);
        assert_eq!(absent.venue_id, None);
        let cleared = patch(r#"{"venue_id": null, "sale_starts_at": null}"#);
        assert_eq!(cleared.venue_id, Some(None));
        assert_eq!(clearable(cleared.sale_starts_at), Some(String::new()));
        let set =
            patch(&format!(r#"{{"venue_id": "{venue_id}", "sale_starts_at": "2026-12-01T00:00:00Z"}}"#));
        assert_eq!(set.venue_id, Some(Some(venue_id)));
        assert_eq!(clearable(set.sale_starts_at).as_deref(), Some("2026-12-01T00:00:00Z"));
        assert!(serde_json::from_str::<UpdateEventRequest>(r#"{"status": "published"}"#).is_err());
    }

    #[test]
    fn a_category_has_either_a_capacity_or_sections() {
        let category = |json: &str| serde_json::from_str::<CategoryRequest>(json).unwrap();
        let general = category(r#"{"name": "A", "price_cents": 1, "currency": "EUR", "capacity": 5}"#);
        assert_eq!(general.into_proto(0).unwrap().layout, Some(pb::new_category::Layout::Capacity(5)));
        let seated = category(r#"{"name": "A", "price_cents": 1, "currency": "EUR", "sections": ["Floor"]}"#);
        assert!(matches!(seated.into_proto(0).unwrap().layout, Some(pb::new_category::Layout::Seated(_))));
        for json in [
            r#"{"name": "A", "price_cents": 1, "currency": "EUR"}"#,
            r#"{"name": "A", "price_cents": 1, "currency": "EUR", "capacity": 5, "sections": []}"#,
        ] {
            let ApiError(error) = category(json).into_proto(2).unwrap_err();
            assert_eq!(error.code, boxoffice_errors::Code::ValidationFailed);
            assert!(error.detail.starts_with("categories[2]: "), "{}", error.detail);
        }
    }
}
