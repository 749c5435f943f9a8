//! The OpenAPI document, generated from the handlers' annotations: each feature of `routes/`
//! declares its own operations (`Doc`), nested here under `/api/v1`; [`responses`] holds the
//! failures many operations share, and [`fields`] the schemas of fields that the services check
//! beyond their JSON type.
//!
//! The document is exact: every operation lists every status the server answers it with, and
//! `scripts/schemathesis` checks the server against it.

pub mod fields;
pub mod responses;

use serde_json::{json, Value};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::Problem;
use crate::request_id::{REQUEST_ID_HEADER, REQUEST_ID_MAX_CHARS};
use crate::routes::{
    attendees, auth, bookings, door, events, health, queue, sales, tickets, users, venues, waiting_list,
};
use boxoffice_errors::Code;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "boxoffice",
        description = "The public API of boxoffice, a ticket booking system. Errors are \
            `application/problem+json` documents with a stable `code`. Unknown request fields \
            are refused with 422 `validation_failed`; integer fields of a request body take whole \
            numbers however they are written (`10`, `10.0`, `1e1`); integers in a query string \
            are digits. Every response carries `x-request-id`: the \
            client's, when it sent a safe one (1 to 128 characters of `A-Z a-z 0-9 . _ -`), \
            otherwise a new UUID."
    ),
    nest(
        (path = "/api/v1", api = auth::Doc),
        (path = "/api/v1", api = users::Doc),
        (path = "/api/v1", api = venues::Doc),
        (path = "/api/v1", api = events::Doc),
        (path = "/api/v1", api = sales::Doc),
        (path = "/api/v1", api = bookings::Doc),
        (path = "/api/v1", api = tickets::Doc),
        (path = "/api/v1", api = door::Doc),
        (path = "/api/v1", api = waiting_list::Doc),
        (path = "/api/v1", api = attendees::Doc),
        (path = "/api/v1", api = queue::Doc),
    ),
    paths(health::healthz, health::readyz, health::metrics),
    components(schemas(Problem, Code)),
    modifiers(&BearerAuth, &SharedResponses),
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

/// The document as it is served: [`ApiDoc`] with what utoipa's types cannot say, namely that
/// every response carries `x-request-id` and that each header it names is always sent.
pub fn document() -> Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
    let request_id = json!({
        "required": true,
        "description": "The client's id when it sent a safe one, otherwise a new UUID; also in the server's log",
        "schema": {"type": "string", "pattern": format!("^[A-Za-z0-9._-]{{1,{REQUEST_ID_MAX_CHARS}}}$")},
    });
    let mut shared = document["components"]["responses"].take();
    let mut responses: Vec<&mut Value> = Vec::new();
    if let Some(paths) = document["paths"].as_object_mut() {
        for operation in
            paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut())
        {
            if let Some(operation_responses) = operation["responses"].as_object_mut() {
                responses.extend(operation_responses.values_mut());
            }
        }
    }
    for response in
        responses.into_iter().chain(shared.as_object_mut().into_iter().flat_map(|map| map.values_mut()))
    {
        // A reference to a shared response gets its headers there.
        if response.get("$ref").is_some() {
            continue;
        }
        let headers = response
            .as_object_mut()
            .expect("a response is an object")
            .entry("headers")
            .or_insert_with(|| json!({}));
        for header in headers.as_object_mut().expect("headers are an object").values_mut() {
            header["required"] = json!(true);
        }
        headers[REQUEST_ID_HEADER] = request_id.clone();
    }
    document["components"]["responses"] = shared;
    document
}

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

/// Adds the shared failure responses to the components, where the operations refer to them.
struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.components.get_or_insert_with(Default::default).responses.extend(responses::components());
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

    /// Every operation of the document, with its path and method.
    fn operations(document: &Value) -> Vec<(String, String, Value)> {
        let mut operations = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                operations.push((path.clone(), method.clone(), operation.clone()));
            }
        }
        operations
    }

    fn statuses(operation: &Value) -> Vec<String> {
        operation["responses"].as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn every_operation_lists_the_failures_that_every_such_operation_can_answer() {
        let document = document();
        for (path, method, operation) in operations(&document) {
            let statuses = statuses(&operation);
            let name = format!("{method} {path}");
            let has = |status: &str| statuses.iter().any(|listed| listed == status);
            let security = operation["security"].as_array().cloned().unwrap_or_default();
            // Bearer auth, required or optional: a missing or bad token is a 401.
            if security.iter().any(|requirement| requirement.get("bearer").is_some()) {
                assert!(has("401"), "{name} needs 401");
            }
            if path.contains("{id}") {
                assert!(has("404"), "{name} needs 404");
            }
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(has(status), "{name} reads a body, so it needs {status}");
                }
            }
            if operation["parameters"]
                .as_array()
                .is_some_and(|parameters| parameters.iter().any(|parameter| parameter["in"] == "query"))
            {
                assert!(has("422"), "{name} reads its query, so it needs 422");
            }
            // Every operation but the process's own liveness and metrics calls a service.
            if !["/healthz", "/metrics"].contains(&path.as_str()) {
                assert!(has("503"), "{name} calls a service, so it needs 503");
            }
        }
        for path in ["/api/v1/auth/signup", "/api/v1/auth/login", "/api/v1/auth/refresh"] {
            let operation = &document["paths"][path]["post"];
            assert!(statuses(operation).contains(&"429".to_owned()), "{path} is rate limited");
        }
        let qr = &document["paths"]["/api/v1/tickets/{id}/qr"]["get"];
        assert!(statuses(qr).contains(&"410".to_owned()));
    }

    #[test]
    fn the_shared_responses_are_components_that_carry_their_headers() {
        let document = document();
        let components = &document["components"]["responses"];
        for shared in responses::ALL {
            let response = &components[shared.name];
            assert_eq!(
                response["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem"
            );
            assert_eq!(response["headers"][REQUEST_ID_HEADER]["required"], true, "{}", shared.name);
        }
        let retry_after = &components["RateLimited"]["headers"]["Retry-After"];
        assert_eq!(
            (&retry_after["required"], &retry_after["schema"]["type"]),
            (&json!(true), &json!("integer"))
        );
        assert_eq!(components["Unauthorized"]["headers"]["WWW-Authenticate"]["required"], true);
        let signup = &document["paths"]["/api/v1/auth/signup"]["post"]["responses"];
        assert_eq!(signup["429"]["$ref"], "#/components/responses/RateLimited");
    }

    #[test]
    fn every_response_documents_the_request_id() {
        let document = document();
        for (path, method, operation) in operations(&document) {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if response.get("$ref").is_some() {
                    continue;
                }
                let header = &response["headers"][REQUEST_ID_HEADER];
                assert_eq!(header["required"], true, "{method} {path} {status}");
                assert_eq!(header["schema"]["pattern"], "^[A-Za-z0-9._-]{1,128}$");
            }
        }
    }

    #[test]
    fn a_problem_code_is_one_of_the_stable_codes() {
        let document = document();
        let schemas = &document["components"]["schemas"];
        assert_eq!(schemas["Problem"]["properties"]["code"]["$ref"], "#/components/schemas/Code");
        let codes: Vec<&str> =
            schemas["Code"]["enum"].as_array().unwrap().iter().map(|code| code.as_str().unwrap()).collect();
        let expected: Vec<&str> = Code::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(codes, expected);
    }

    #[test]
    fn the_shared_enums_are_documented_by_the_names_the_api_sends() {
        use boxoffice_types::{BookingStatus, CategoryKind, EventStatus, Role, SeatStatus};

        let document = document();
        let names = |schema: &str| document["components"]["schemas"][schema]["enum"].clone();
        let expected = |names: Vec<&str>| json!(names);
        assert_eq!(names("BookingStatus"), expected(BookingStatus::ALL.iter().map(|v| v.as_str()).collect()));
        assert_eq!(names("EventStatus"), expected(EventStatus::ALL.iter().map(|v| v.as_str()).collect()));
        assert_eq!(names("CategoryKind"), expected(CategoryKind::ALL.iter().map(|v| v.as_str()).collect()));
        assert_eq!(names("SeatStatus"), expected(SeatStatus::ALL.iter().map(|v| v.as_str()).collect()));
        assert_eq!(names("Role"), expected(Role::ALL.iter().map(|v| v.as_str()).collect()));
    }

    /// The numbers the document states where utoipa takes only literals, against the constants
    /// they come from.
    #[test]
    fn the_documented_limits_are_the_constants() {
        use boxoffice_types::limits::events::{MAX_GENERAL_ADMISSION_CAPACITY, MAX_TICKETS_PER_BOOKING};
        use boxoffice_types::limits::{DEFAULT_PAGE_SIZE, IDEMPOTENCY_KEY_MAX_CHARS, MAX_PAGE_SIZE};

        let document = document();
        let schemas = &document["components"]["schemas"];
        let property = |schema: &str, name: &str| schemas[schema]["properties"][name].clone();
        let parameter = |path: &str, method: &str, name: &str| {
            document["paths"][path][method]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|parameter| parameter["name"] == name)
                .unwrap()["schema"]
                .clone()
        };
        for (path, method) in
            [("/api/v1/events", "get"), ("/api/v1/bookings", "get"), ("/api/v1/events/{id}/bookings", "get")]
        {
            let limit = parameter(path, method, "limit");
            assert_eq!(
                (&limit["maximum"], &limit["default"]),
                (&json!(MAX_PAGE_SIZE), &json!(DEFAULT_PAGE_SIZE))
            );
        }
        let key = parameter("/api/v1/bookings", "post", "Idempotency-Key");
        assert_eq!(key["maxLength"], json!(IDEMPOTENCY_KEY_MAX_CHARS));
        for (schema, name, maximum) in [
            ("CreateEventRequest", "max_tickets_per_booking", json!(MAX_TICKETS_PER_BOOKING)),
            ("UpdateEventRequest", "max_tickets_per_booking", json!(MAX_TICKETS_PER_BOOKING)),
            ("BookingItemRequest", "quantity", json!(MAX_TICKETS_PER_BOOKING)),
            ("CategoryRequest", "capacity", json!(MAX_GENERAL_ADMISSION_CAPACITY)),
            ("CategoryRequest", "price_cents", json!(boxoffice_types::limits::events::MAX_PRICE_CENTS)),
            ("RowLayout", "seats", json!(boxoffice_types::limits::events::MAX_SEATS_PER_ROW)),
            ("SectionLayout", "x", json!(boxoffice_types::limits::events::MAX_SECTION_OFFSET)),
            ("SectionLayout", "y", json!(boxoffice_types::limits::events::MAX_SECTION_OFFSET)),
            ("SectionLayout", "rotation", json!(boxoffice_types::limits::events::MAX_SECTION_ROTATION)),
            ("SectionLayout", "curve", json!(boxoffice_types::limits::events::MAX_ROW_CURVE)),
        ] {
            assert_eq!(property(schema, name)["maximum"], maximum, "{schema}.{name}");
        }
        for (schema, name, max_items) in [
            ("CreateVenueRequest", "sections", boxoffice_types::limits::events::MAX_SECTIONS_PER_VENUE),
            ("SectionLayout", "rows", boxoffice_types::limits::events::MAX_ROWS_PER_SECTION),
            ("CreateEventRequest", "categories", boxoffice_types::limits::events::MAX_CATEGORIES_PER_EVENT),
            ("UpdateEventRequest", "categories", boxoffice_types::limits::events::MAX_CATEGORIES_PER_EVENT),
        ] {
            assert_eq!(property(schema, name)["maxItems"], json!(max_items), "{schema}.{name}");
        }
    }
}
