//! `/api/v1/venues/*`: venues and their seat maps.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use boxoffice_proto::event as pb;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::{page_request, service_id, PageQuery, PathId};
use crate::auth::Organizer;
use crate::openapi::fields;
use crate::openapi::responses::{BadBody, Forbidden, NotFound, Unauthorized, Unavailable, ValidationFailed};
use crate::problem::{ApiJson, ApiQuery, ApiResult, Problem};
use crate::whole_number;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/venues", get(list_venues).post(create_venue))
        .route("/venues/{id}", get(get_venue).put(update_venue))
}

#[derive(OpenApi)]
#[openapi(paths(list_venues, create_venue, get_venue, update_venue))]
pub struct Doc;

/// A section of a venue: the same shape in a request and in a response.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionLayout {
    /// Unique in the venue; may not contain "/", the separator of seat ids.
    #[schema(schema_with = fields::section_name, example = "Floor")]
    pub name: String,
    /// 1 to 1,000 rows, their labels unique in the section.
    #[schema(min_items = 1, max_items = 1000)]
    pub rows: Vec<RowLayout>,
    /// Where the seat map draws the section's centre, in seat pitches (the distance between
    /// neighbouring seats of a row); `y` grows away from the stage. Given with `y`, or neither:
    /// the map lays out sections without a position by itself.
    #[serde(default, deserialize_with = "whole_number::optional", skip_serializing_if = "Option::is_none")]
    #[schema(example = -20, minimum = -10_000, maximum = 10_000)]
    pub x: Option<i32>,
    #[serde(default, deserialize_with = "whole_number::optional", skip_serializing_if = "Option::is_none")]
    #[schema(example = 15, minimum = -10_000, maximum = 10_000)]
    pub y: Option<i32>,
    /// Degrees clockwise.
    #[serde(default, deserialize_with = "whole_number::optional", skip_serializing_if = "Option::is_none")]
    #[schema(example = -30, minimum = -180, maximum = 180)]
    pub rotation: Option<i32>,
    /// Rows drawn as concentric arcs around the stage: the degrees of arc of the widest row; 0
    /// or absent draws straight rows.
    #[serde(default, deserialize_with = "whole_number::optional", skip_serializing_if = "Option::is_none")]
    #[schema(example = 40, minimum = 0, maximum = 180)]
    pub curve: Option<u32>,
    /// Where seat 1 of each row is drawn; seat ids do not depend on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "left_to_right")]
    pub numbering: Option<Numbering>,
    /// The distance between neighbouring seats of a row, in percent of a seat pitch.
    #[serde(default, deserialize_with = "whole_number::optional", skip_serializing_if = "Option::is_none")]
    #[schema(example = 100, minimum = 50, maximum = 400)]
    pub seat_spacing: Option<u32>,
    /// The distance between rows, in percent of the usual one.
    #[serde(default, deserialize_with = "whole_number::optional", skip_serializing_if = "Option::is_none")]
    #[schema(example = 120, minimum = 50, maximum = 400)]
    pub row_spacing: Option<u32>,
}

/// Where seat 1 of each row of a section is drawn, as the map is seen with the stage on top.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Numbering {
    LeftToRight,
    RightToLeft,
}

impl Numbering {
    fn as_str(self) -> &'static str {
        match self {
            Numbering::LeftToRight => "left_to_right",
            Numbering::RightToLeft => "right_to_left",
        }
    }

    fn from_proto(text: &str) -> ApiResult<Numbering> {
        match text {
            "left_to_right" => Ok(Numbering::LeftToRight),
            "right_to_left" => Ok(Numbering::RightToLeft),
            _ => {
                Err(boxoffice_errors::Error::internal(format!("the events service sent numbering {text:?}"))
                    .into())
            }
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RowLayout {
    /// Unique in its section; may not contain "/".
    #[schema(schema_with = fields::row_label, example = "A")]
    pub label: String,
    /// The number of seats in the row, numbered from 1.
    #[serde(deserialize_with = "whole_number::required")]
    #[schema(example = 20, minimum = 1, maximum = 2000)]
    pub seats: u32,
}

/// A venue and its seat map: at most 250,000 seats (`MAX_SEATS_PER_VENUE`), whose ids together
/// stay within 16 MiB.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVenueRequest {
    #[schema(schema_with = fields::venue_name, example = "Town Hall")]
    pub name: String,
    #[schema(schema_with = fields::city, example = "Lyon")]
    pub city: String,
    #[schema(schema_with = fields::address, example = "1 place de la Comédie")]
    pub address: String,
    /// 1 to 500 sections, their names unique in the venue.
    #[schema(min_items = 1, max_items = 500)]
    pub sections: Vec<SectionLayout>,
}

/// A venue with its seat map.
#[derive(Debug, Serialize, ToSchema)]
pub struct VenueResponse {
    pub id: Uuid,
    /// The organizer (or admin) who created it.
    pub organizer_id: Uuid,
    pub name: String,
    pub city: String,
    pub address: String,
    /// The number of seats in all sections.
    pub capacity: u32,
    /// RFC 3339, UTC.
    #[schema(example = "2026-11-25T06:00:00.000Z")]
    pub created_at: String,
    /// True once an event in the venue is published: its seats (section names, row labels,
    /// seat counts, numbering) can no longer change, only where and how they are drawn.
    pub seats_locked: bool,
    pub sections: Vec<SectionLayout>,
    /// Every seat of the venue as "<section>/<row>/<number>", in seat-map order.
    #[schema(example = json!(["Floor/A/1", "Floor/A/2"]))]
    pub seats: Vec<String>,
}

impl VenueResponse {
    pub fn from_proto(venue: pb::Venue) -> ApiResult<Self> {
        // The service lists the seat ids per row; clients want them in one list to draw the map
        // and to pick seats, so they are joined here in the order the service gave them.
        let seats = venue
            .sections
            .iter()
            .flat_map(|section| &section.rows)
            .flat_map(|row| row.seat_ids.iter().cloned())
            .collect();
        let sections = venue
            .sections
            .into_iter()
            .map(|section| {
                Ok(SectionLayout {
                    x: section.x,
                    y: section.y,
                    rotation: section.rotation,
                    curve: section.curve,
                    numbering: section.numbering.as_deref().map(Numbering::from_proto).transpose()?,
                    seat_spacing: section.seat_spacing,
                    row_spacing: section.row_spacing,
                    name: section.name,
                    rows: section
                        .rows
                        .into_iter()
                        .map(|row| RowLayout { label: row.label, seats: row.seats })
                        .collect(),
                })
            })
            .collect::<ApiResult<_>>()?;
        Ok(VenueResponse {
            id: service_id("events", &venue.id)?,
            organizer_id: service_id("events", &venue.organizer_id)?,
            name: venue.name,
            city: venue.city,
            address: venue.address,
            capacity: venue.capacity,
            created_at: venue.created_at,
            seats_locked: venue.seats_locked,
            sections,
            seats,
        })
    }
}

/// A venue in a list, without its seat map.
#[derive(Debug, Serialize, ToSchema)]
pub struct VenueSummary {
    pub id: Uuid,
    pub organizer_id: Uuid,
    pub name: String,
    pub city: String,
    pub address: String,
    pub capacity: u32,
    /// How many sections its map has.
    pub sections: u32,
    /// Their names, in map order.
    #[schema(example = json!(["Floor", "Balcony"]))]
    pub section_names: Vec<String>,
    /// RFC 3339, UTC.
    #[schema(example = "2026-11-25T06:00:00.000Z")]
    pub created_at: String,
    pub seats_locked: bool,
}

impl VenueSummary {
    pub fn from_proto(venue: pb::VenueSummary) -> ApiResult<Self> {
        Ok(VenueSummary {
            id: service_id("events", &venue.id)?,
            organizer_id: service_id("events", &venue.organizer_id)?,
            name: venue.name,
            city: venue.city,
            address: venue.address,
            capacity: venue.capacity,
            sections: u32::try_from(venue.section_names.len()).unwrap_or(u32::MAX),
            section_names: venue.section_names,
            created_at: venue.created_at,
            seats_locked: venue.seats_locked,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VenuePage {
    pub items: Vec<VenueSummary>,
    /// The `cursor` of the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

impl SectionLayout {
    fn into_proto(self) -> pb::NewSection {
        pb::NewSection {
            x: self.x,
            y: self.y,
            rotation: self.rotation,
            curve: self.curve,
            numbering: self.numbering.map(|numbering| numbering.as_str().to_owned()),
            seat_spacing: self.seat_spacing,
            row_spacing: self.row_spacing,
            name: self.name,
            rows: self
                .rows
                .into_iter()
                .map(|row| pb::NewRow { label: row.label, seats: row.seats })
                .collect(),
        }
    }
}

impl CreateVenueRequest {
    fn into_proto(self, caller: &crate::auth::AuthUser) -> pb::CreateVenueRequest {
        pb::CreateVenueRequest {
            caller: Some(caller.caller()),
            name: self.name,
            city: self.city,
            address: self.address,
            sections: self.sections.into_iter().map(SectionLayout::into_proto).collect(),
        }
    }
}

/// The venues the caller made (every venue, for an admin), newest first, without seat maps.
#[utoipa::path(get, path = "/venues", tag = "venues", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = VenuePage),
        ValidationFailed, Unauthorized, Forbidden, Unavailable,
    ))]
pub async fn list_venues(
    State(state): State<AppState>,
    Organizer(caller): Organizer,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<VenuePage>> {
    let request = pb::ListVenuesRequest {
        caller: Some(caller.caller()),
        page: Some(page_request(query.limit, query.cursor)?),
    };
    let page = state.events().list_venues(request).await?.into_inner();
    let items = page.items.into_iter().map(VenueSummary::from_proto).collect::<ApiResult<_>>()?;
    Ok(Json(VenuePage { items, next_cursor: page.next_cursor }))
}

/// Change a venue (its organizer or an admin): the body is the whole venue, as for creating one.
/// Its seats (section names, row labels, seat counts, and which end of a row is seat 1) may
/// change only while no event in it is published (`seats_locked`); otherwise 409 `conflict`.
/// Where and how sections are drawn, the name, the city and the address may always change.
#[utoipa::path(put, path = "/venues/{id}", tag = "venues", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The venue id")),
    request_body = CreateVenueRequest,
    responses(
        (status = 200, description = "The venue as changed", body = VenueResponse),
        (status = 409, description = "`conflict`: the seats would change while an event in the venue is published, or another edit kept winning", body = Problem, content_type = "application/problem+json"),
        BadBody, ValidationFailed, Unauthorized, Forbidden, NotFound, Unavailable,
    ))]
pub async fn update_venue(
    State(state): State<AppState>,
    Organizer(caller): Organizer,
    PathId(venue_id): PathId,
    ApiJson(body): ApiJson<CreateVenueRequest>,
) -> ApiResult<Json<VenueResponse>> {
    let request = pb::UpdateVenueRequest {
        caller: Some(caller.caller()),
        venue_id: venue_id.to_string(),
        name: body.name,
        city: body.city,
        address: body.address,
        sections: body.sections.into_iter().map(SectionLayout::into_proto).collect(),
    };
    let venue = state.events().update_venue(request).await?.into_inner();
    Ok(Json(VenueResponse::from_proto(venue)?))
}

/// Create a venue (organizers and admins). Its seats are numbered from the layout.
#[utoipa::path(post, path = "/venues", tag = "venues", security(("bearer" = [])),
    request_body = CreateVenueRequest,
    responses(
        (status = 201, description = "The venue with every seat listed by id", body = VenueResponse),
        BadBody, ValidationFailed, Unauthorized, Forbidden, Unavailable,
    ))]
pub async fn create_venue(
    State(state): State<AppState>,
    Organizer(caller): Organizer,
    ApiJson(body): ApiJson<CreateVenueRequest>,
) -> ApiResult<(StatusCode, Json<VenueResponse>)> {
    let venue = state.events().create_venue(body.into_proto(&caller)).await?.into_inner();
    Ok((StatusCode::CREATED, Json(VenueResponse::from_proto(venue)?)))
}

/// A venue with its seat map. Anyone may read it, so that clients can draw it.
#[utoipa::path(get, path = "/venues/{id}", tag = "venues",
    params(("id" = uuid::Uuid, Path, description = "The venue id")),
    responses((status = 200, body = VenueResponse), NotFound, Unavailable))]
pub async fn get_venue(
    State(state): State<AppState>,
    PathId(venue_id): PathId,
) -> ApiResult<Json<VenueResponse>> {
    let request = pb::GetVenueRequest { venue_id: venue_id.to_string() };
    let venue = state.events().get_venue(request).await?.into_inner();
    Ok(Json(VenueResponse::from_proto(venue)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_venue_lists_every_seat_in_one_list_in_seat_map_order() {
        let row = |label: &str, seat_ids: &[&str]| pb::Row {
            label: label.to_owned(),
            seats: u32::try_from(seat_ids.len()).unwrap(),
            seat_ids: seat_ids.iter().map(|id| (*id).to_owned()).collect(),
        };
        let venue = pb::Venue {
            id: Uuid::now_v7().to_string(),
            organizer_id: Uuid::now_v7().to_string(),
            name: "Hall".to_owned(),
            city: "Lyon".to_owned(),
            address: "1 rue".to_owned(),
            sections: vec![
                pb::Section {
                    name: "Floor".to_owned(),
                    rows: vec![row("A", &["Floor/A/1", "Floor/A/2"]), row("B", &["Floor/B/1"])],
                    ..Default::default()
                },
                pb::Section {
                    name: "Balcony".to_owned(),
                    rows: vec![row("A", &["Balcony/A/1"])],
                    x: Some(0),
                    y: Some(30),
                    rotation: Some(-15),
                    curve: Some(40),
                    ..Default::default()
                },
            ],
            capacity: 4,
            created_at: "2026-11-25T06:00:00Z".to_owned(),
            seats_locked: false,
        };
        let response = VenueResponse::from_proto(venue).unwrap();
        assert_eq!(response.seats, ["Floor/A/1", "Floor/A/2", "Floor/B/1", "Balcony/A/1"]);
        assert_eq!(response.sections[0].rows[0].seats, 2);
        let json = serde_json::to_value(&response.sections).unwrap();
        assert!(json[0].get("x").is_none(), "a section without a shape has none in the JSON");
        assert_eq!(
            (&json[1]["y"], &json[1]["rotation"], &json[1]["curve"]),
            (&30.into(), &(-15).into(), &40.into())
        );
    }
}
