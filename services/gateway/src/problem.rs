//! Errors as RFC 9457 problem documents, and the JSON and query-string extractors whose every
//! rejection is one.

use std::error::Error as _;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use boxoffice_errors::{Code, Error};
use serde::de::DeserializeOwned;

pub use boxoffice_errors::Problem;

/// The error every handler returns.
#[derive(Debug)]
pub struct ApiError(pub Error);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        ApiError(error)
    }
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        ApiError(Error::from_status(&status))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        boxoffice_runtime::problem(&self.0)
    }
}

/// A JSON body, with every rejection a problem: a body that is not JSON is 400; a body that is
/// JSON but has a missing, unknown or mistyped field is 422 `validation_failed`, naming the field.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(&request) {
            return Err(ApiError(not_json()));
        }
        let bytes = read_body(request, state).await?;
        parse_json(&bytes).map(ApiJson).map_err(ApiError)
    }
}

/// A JSON body that may be left out, for the actions that need no input today but may take
/// some later (cancelling a booking): an empty body is `None` whatever its `Content-Type`, and
/// so is a JSON `null` (which is how the OpenAPI document spells an optional body); any other
/// body is read as [`ApiJson`] reads it, so `{}` passes and an unknown field is still a 422.
pub struct ApiOptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for ApiOptionalJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = has_json_content_type(&request);
        let bytes = read_body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ApiOptionalJson(None));
        }
        if !is_json {
            return Err(ApiError(not_json()));
        }
        if bytes.trim_ascii() == b"null" {
            return Ok(ApiOptionalJson(None));
        }
        parse_json(&bytes).map(|value| ApiOptionalJson(Some(value))).map_err(ApiError)
    }
}

fn not_json() -> Error {
    Error::new(Code::UnsupportedMediaType, "the body must be JSON with `Content-Type: application/json`")
}

async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, Error> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::new(
                Code::PayloadTooLarge,
                format!("the body is larger than {} bytes", crate::MAX_REQUEST_BODY_BYTES),
            )
        } else {
            Error::new(Code::BadRequest, rejection.body_text())
        }
    })
}

/// The query string, with every rejection a problem: a parameter that is missing or cannot be
/// read as its type is 422 `validation_failed`, naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::try_from_uri(&parts.uri).map(|Query(value)| ApiQuery(value)).map_err(|rejection| {
            // axum reads the query with serde_path_to_error, so the rejection's source says
            // "<parameter>: <what is wrong>" without axum's generic prefix.
            let detail = rejection.source().map_or_else(|| rejection.body_text(), ToString::to_string);
            ApiError(Error::validation(detail))
        })
    }
}

fn has_json_content_type(request: &Request) -> bool {
    let Some(value) = request.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    // Every request body is an object with named fields; serde would also build a struct from
    // an array of its fields in order, which skips the names and so the unknown-field check.
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first.is_some_and(|&byte| byte != b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(Error::validation("the body must be a JSON object"));
    }
    // Most bodies are right: they are read once, without tracking where a mistake would be.
    // Only a body that fails is read again, by serde_path_to_error, to name the field.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| (error.path().to_string(), error.into_inner()))
        .and_then(|value| deserializer.end().map(|()| value).map_err(|error| (String::new(), error)));
    let (path, error) = match parsed {
        Ok(value) => return Ok(value),
        Err(failure) => failure,
    };
    // serde_json reports some type mismatches (a number where an enum belongs) as syntax
    // errors; whether the body is JSON at all is what tells the client's two mistakes apart.
    if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err() {
        return Err(Error::new(Code::BadRequest, format!("the body is not valid JSON: {error}")));
    }
    let detail = if path.is_empty() || path == "." { error.to_string() } else { format!("{path}: {error}") };
    Err(Error::validation(detail))
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Page {
        limit: Option<u32>,
        mine: Option<bool>,
    }

    async fn query(uri: &str) -> Result<Page, Error> {
        let (mut parts, ()) = Request::get(uri).body(()).unwrap().into_parts();
        ApiQuery::<Page>::from_request_parts(&mut parts, &())
            .await
            .map(|ApiQuery(page)| page)
            .map_err(|ApiError(error)| error)
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Nothing {}

    async fn optional_body(content_type: Option<&str>, body: &'static str) -> Result<Option<Nothing>, Error> {
        let mut request = Request::post("/bookings/1/cancel");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request.body(axum::body::Body::from(body)).unwrap();
        ApiOptionalJson::<Nothing>::from_request(request, &())
            .await
            .map(|ApiOptionalJson(value)| value)
            .map_err(|ApiError(error)| error)
    }

    #[tokio::test]
    async fn an_optional_body_may_be_empty_or_an_empty_object_but_nothing_else() {
        assert!(optional_body(None, "").await.unwrap().is_none());
        assert!(optional_body(Some("application/json"), " \n").await.unwrap().is_none());
        assert!(optional_body(Some("application/json"), " null ").await.unwrap().is_none());
        assert!(optional_body(Some("application/json"), "{}").await.unwrap().is_some());
        let error = optional_body(Some("application/json"), r#"{"status": "cancelled"}"#).await.unwrap_err();
        assert_eq!(error.code, Code::ValidationFailed);
        let error = optional_body(Some("application/json"), "[]").await.unwrap_err();
        assert_eq!(error.code, Code::ValidationFailed);
        let error = optional_body(None, "{}").await.unwrap_err();
        assert_eq!(error.code, Code::UnsupportedMediaType);
        let error = optional_body(Some("application/json"), "{").await.unwrap_err();
        assert_eq!(error.code, Code::BadRequest);
    }

    #[tokio::test]
    async fn a_query_parameter_of_the_wrong_type_is_a_422_naming_it() {
        let error = query("/events?limit=ten").await.unwrap_err();
        assert_eq!(error.code, Code::ValidationFailed);
        assert!(error.detail.starts_with("limit: "), "{}", error.detail);
        let error = query("/events?mine=yes").await.unwrap_err();
        assert!(error.detail.starts_with("mine: "), "{}", error.detail);
        let page = query("/events?limit=5&mine=true&other=1").await.unwrap();
        assert_eq!((page.limit, page.mine), (Some(5), Some(true)));
        let page = query("/events").await.unwrap();
        assert_eq!((page.limit, page.mine), (None, None));
    }
}
