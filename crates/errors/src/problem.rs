//! The RFC 9457 problem document every HTTP endpoint of boxoffice answers a failure with: the
//! public API and the admin endpoint of every service alike.

use serde::{Deserialize, Serialize};

use crate::Error;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem document with boxoffice's stable `code`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:boxoffice:problem:<code>`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(example = "urn:boxoffice:problem:validation_failed"))]
    pub problem_type: String,
    /// The same for every occurrence of the `code`.
    #[cfg_attr(feature = "openapi", schema(example = "Validation failed"))]
    pub title: String,
    /// The HTTP status.
    #[cfg_attr(feature = "openapi", schema(example = 422, minimum = 400, maximum = 599))]
    pub status: u16,
    /// What went wrong this time; a field's problem starts with the field's name.
    #[cfg_attr(feature = "openapi", schema(example = "password: must be 8 to 128 characters"))]
    pub detail: String,
    /// Stable and machine-readable.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::Code))]
    pub code: String,
}

impl Problem {
    pub fn new(error: &Error) -> Self {
        Problem {
            problem_type: format!("urn:boxoffice:problem:{}", error.code),
            title: error.code.title().to_owned(),
            status: error.http_status().as_u16(),
            detail: error.detail.clone(),
            code: error.code.as_str().to_owned(),
        }
    }
}

/// The HTTP answer to `error`: its status, the problem document, and the headers its code calls
/// for (`Retry-After` when the client should wait, `WWW-Authenticate` on a 401).
pub fn response(error: &Error) -> http::Response<Vec<u8>> {
    let body = serde_json::to_vec(&Problem::new(error)).expect("a problem serializes");
    let mut response = http::Response::new(body);
    *response.status_mut() = error.http_status();
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
    if let Some(retry_after) = error.retry_after {
        headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from(retry_after.as_secs().max(1)));
    }
    if error.code.http_status() == http::StatusCode::UNAUTHORIZED {
        headers.insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
    }
    response
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for crate::Code {
    /// Every stable code, as an enum of strings.
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(crate::Code::ALL.iter().map(|code| code.as_str())))
            .description(Some("A stable, machine-readable reason for the failure"))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for crate::Code {}
