//! The failure responses that many operations share, declared once. Each is a component of the
//! document (`#/components/responses/<Name>`) and a type that an operation lists beside its own
//! responses: `responses((status = 200, body = EventResponse), Unauthorized, NotFound,
//! Unavailable)`. Failures whose meaning depends on the operation (409s, a login's 401) stay
//! written out on the operation.

use std::collections::BTreeMap;

use boxoffice_errors::PROBLEM_CONTENT_TYPE;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{IntoResponses, ToSchema as _};

use crate::problem::Problem;

/// One shared response: its status, its name under `components/responses`, and what it means.
pub struct Shared {
    pub status: u16,
    pub name: &'static str,
    pub description: &'static str,
}

macro_rules! shared_responses {
    ($( $(#[$doc:meta])* $type:ident => [ $( ($status:literal, $name:literal, $description:expr) ),+ $(,)? ]; )*) => {
        $(
            $(#[$doc])*
            pub struct $type;

            impl IntoResponses for $type {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    BTreeMap::from([
                        $( ($status.to_string(), RefOr::Ref(Ref::from_response_name($name))), )+
                    ])
                }
            }
        )*

        /// Every shared response, for the document's components.
        pub const ALL: &[Shared] = &[
            $( $( Shared { status: $status, name: $name, description: $description }, )+ )*
        ];
    };
}

shared_responses! {
    /// What any operation that reads a JSON body answers to a body it cannot read.
    BadBody => [
        (400, "BadRequest", "`bad_request`: the body is not well-formed JSON"),
        (413, "PayloadTooLarge", "`payload_too_large`: the body is larger than 1 MiB"),
        (415, "UnsupportedMediaType", "`unsupported_media_type`: the body is not sent as `Content-Type: application/json`"),
    ];
    /// A body (or a parameter) that is JSON of the wrong shape or breaks a rule.
    ValidationFailed => [
        (422, "ValidationFailed", "`validation_failed`: a field or parameter is missing, unknown or invalid; `detail` names it"),
    ];
    /// No valid access token: on an operation that needs one, or on one that takes one
    /// optionally when a token is sent.
    Unauthorized => [
        (401, "Unauthorized", "`unauthorized`: the access token is missing where one is needed, or is malformed, expired or revoked"),
    ];
    /// A valid token whose role or ownership does not allow the operation.
    Forbidden => [
        (403, "Forbidden", "`forbidden`: the caller's role, or ownership of the resource, does not allow this"),
    ];
    /// An `{id}` that names nothing the caller may see. An id that is not a UUID names nothing.
    NotFound => [
        (404, "NotFound", "`not_found`: no such resource, or none the caller may see"),
    ];
    /// Too many requests from one client address (or, for a login, too many failures).
    RateLimited => [
        (429, "RateLimited", "`rate_limited`: too many requests; wait `Retry-After` seconds"),
    ];
    /// A service behind the gateway, or the shared store, does not answer.
    Unavailable => [
        (503, "Unavailable", "`unavailable`: a service or the shared store does not answer; try again shortly"),
    ];
}

/// The shared responses as the document's `components/responses`.
pub fn components() -> BTreeMap<String, RefOr<Response>> {
    ALL.iter().map(|shared| (shared.name.to_owned(), RefOr::T(response(shared)))).collect()
}

fn response(shared: &Shared) -> Response {
    let problem = ContentBuilder::new().schema(Some(Ref::from_schema_name(Problem::name()))).build();
    let mut response =
        ResponseBuilder::new().description(shared.description).content(PROBLEM_CONTENT_TYPE, problem);
    // The headers that boxoffice_errors::problem_response adds for these statuses.
    match shared.status {
        401 => {
            let schema = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["Bearer"]));
            let header = HeaderBuilder::new()
                .schema(schema)
                .description(Some("The scheme to authenticate with: `Bearer`"));
            response = response.header("WWW-Authenticate", header.build());
        }
        429 => {
            let header = HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
                .description(Some("Seconds to wait before trying again"));
            response = response.header("Retry-After", header.build());
        }
        _ => {}
    }
    response.build()
}
