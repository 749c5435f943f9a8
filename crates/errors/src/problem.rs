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
            problem_type: format!("{PROBLEM_TYPE_PREFIX}{}", error.code),
            title: error.code.title().to_owned(),
            status: error.http_status().as_u16(),
            detail: error.detail.clone(),
            code: error.code.as_str().to_owned(),
        }
    }
}

/// The prefix of every problem's `type`, followed by its code.
const PROBLEM_TYPE_PREFIX: &str = "urn:boxoffice:problem:";

/// A [`Problem`] as it is written: the same fields, borrowed from the error, so that answering
/// a failure (most answers of an on-sale are `sold_out`) builds no strings but the body.
#[derive(Serialize)]
struct ProblemView<'a> {
    #[serde(rename = "type", serialize_with = "problem_type")]
    code_for_type: crate::Code,
    title: &'static str,
    status: u16,
    detail: &'a str,
    code: &'static str,
}

fn problem_type<S: serde::Serializer>(code: &crate::Code, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!("{PROBLEM_TYPE_PREFIX}{code}"))
}

/// The HTTP answer to `error`: its status, the problem document, and the headers its code calls
/// for (`Retry-After` when the client should wait, `WWW-Authenticate` on a 401).
pub fn response(error: &Error) -> http::Response<Vec<u8>> {
    let view = ProblemView {
        code_for_type: error.code,
        title: error.code.title(),
        status: error.http_status().as_u16(),
        detail: &error.detail,
        code: error.code.as_str(),
    };
    // Room for the fixed fields and the detail, so the body is written without growing.
    let mut body = Vec::with_capacity(160 + error.detail.len());
    serde_json::to_writer(&mut body, &view).expect("a problem serializes");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_document_is_the_problem_of_the_error() {
        for &code in crate::Code::ALL {
            let error = Error::new(code, "a \"quoted\" detail");
            let written: Problem = serde_json::from_slice(response(&error).body()).unwrap();
            assert_eq!(written, Problem::new(&error));
        }
    }
}
