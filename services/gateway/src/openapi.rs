//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use boxoffice_errors::Code;
use boxoffice_types::{BookingStatus, CategoryKind, EventStatus, Role, SeatStatus};

use crate::problem::Problem;
use crate::routes::{auth, bookings, events, health, users, venues, UserResponse};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "boxoffice",
        description = "The public API of boxoffice, a ticket booking system. Errors are \
            `application/problem+json` documents with a stable `code`. Unknown request fields \
            are refused with 422 `validation_failed`. Every response carries `x-request-id`."
    ),
    paths(
        auth::signup, auth::login, auth::refresh, auth::logout,
        users::me, users::update_me, users::delete_me, users::change_password,
        users::get_user, users::set_role,
        venues::create_venue, venues::get_venue,
        events::create_event, events::list_events, events::get_event, events::update_event,
        events::delete_event, events::publish_event, events::cancel_event,
        events::availability, events::stats, events::event_bookings,
        bookings::create_booking, bookings::list_bookings, bookings::get_booking,
        bookings::confirm_booking, bookings::cancel_booking, bookings::ticket_qr,
        bookings::check_in,
        health::healthz, health::readyz, health::metrics,
    ),
    components(schemas(
        Problem, Code, Role, UserResponse, auth::SignupRequest, auth::LoginRequest, auth::RefreshRequest,
        auth::TokenResponse, users::UpdateMeRequest, users::ChangePasswordRequest,
        users::SetRoleRequest, health::HealthResponse,
        venues::CreateVenueRequest, venues::SectionLayout, venues::RowLayout,
        venues::VenueResponse,
        events::CreateEventRequest, events::UpdateEventRequest, events::CategoryRequest,
        events::EventResponse, events::CategoryResponse, EventStatus,
        CategoryKind, events::EventPage, events::AvailabilityResponse,
        events::CategoryAvailability, events::SeatAvailability, SeatStatus,
        events::EventStatsResponse, events::CategoryStatsResponse,
        bookings::CreateBookingRequest, bookings::BookingItemRequest,
        bookings::ConfirmBookingRequest, bookings::CancelBookingRequest, bookings::CheckInRequest,
        bookings::BookingResponse, bookings::BookingItemResponse, bookings::TicketResponse,
        BookingStatus, bookings::BookingPage, bookings::CheckInResponse,
        bookings::PngImage,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "users", description = "The caller's account, and admin views of all accounts"),
        (name = "venues", description = "Venues and their seat maps"),
        (name = "events", description = "Events, their ticket categories, and what is left to sell"),
        (name = "bookings", description = "Holding tickets, paying for them, and checking them in"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".to_owned());
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_every_venue_and_event_endpoint() {
        let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let paths = &document["paths"];
        for (path, method) in [
            ("/api/v1/venues", "post"),
            ("/api/v1/venues/{id}", "get"),
            ("/api/v1/events", "get"),
            ("/api/v1/events", "post"),
            ("/api/v1/events/{id}", "get"),
            ("/api/v1/events/{id}", "patch"),
            ("/api/v1/events/{id}", "delete"),
            ("/api/v1/events/{id}/publish", "post"),
            ("/api/v1/events/{id}/cancel", "post"),
            ("/api/v1/events/{id}/availability", "get"),
            ("/api/v1/events/{id}/stats", "get"),
            ("/api/v1/events/{id}/bookings", "get"),
            ("/api/v1/bookings", "get"),
            ("/api/v1/bookings", "post"),
            ("/api/v1/bookings/{id}", "get"),
            ("/api/v1/bookings/{id}/confirm", "post"),
            ("/api/v1/bookings/{id}/cancel", "post"),
            ("/api/v1/tickets/{id}/qr", "get"),
            ("/api/v1/checkin", "post"),
        ] {
            assert!(paths[path][method].is_object(), "{method} {path} is missing");
        }
    }

    #[test]
    fn the_document_names_the_idempotency_key_and_the_png() {
        let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let create = &document["paths"]["/api/v1/bookings"]["post"];
        assert_eq!(create["tags"], serde_json::json!(["bookings"]));
        let parameters = create["parameters"].as_array().unwrap();
        assert!(parameters.iter().any(|parameter| parameter["name"] == "Idempotency-Key"
            && parameter["in"] == "header"
            && parameter["required"] == false));
        let qr = &document["paths"]["/api/v1/tickets/{id}/qr"]["get"]["responses"]["200"]["content"];
        assert!(qr["image/png"].is_object(), "{qr}");
        let cancel = &document["paths"]["/api/v1/bookings/{id}/cancel"]["post"]["requestBody"];
        assert_ne!(cancel["required"], true, "{cancel}");
    }
}
