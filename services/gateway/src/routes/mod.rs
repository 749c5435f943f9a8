//! The public API, one module per feature. Each feature declares its routes (`router`, merged
//! by [`crate::router`]) and its part of the OpenAPI document (`Doc`, nested by
//! [`crate::openapi::ApiDoc`]) side by side, with paths relative to `/api/v1`; its requests,
//! responses and their conversions to and from the services' wire types live beside the handlers,
//! or in a `dto.rs` of the feature's own when there are many.
//!
//! What every feature shares is here: the `{id}` of a path, the page of a list, and reading the
//! ids that services send.

pub mod attendees;
pub mod auth;
pub mod bookings;
pub mod docs;
pub mod door;
pub mod events;
pub mod health;
pub mod queue;
pub mod sales;
pub mod tickets;
pub mod users;
pub mod venues;
pub mod waiting_list;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use boxoffice_errors::Error;
use boxoffice_proto::common::PageRequest;
use boxoffice_types::limits::PageSize;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::problem::{ApiError, ApiResult};

/// The page of a list a client asks for, checked here as the service will check it again.
pub fn page_request(limit: Option<u32>, cursor: Option<String>) -> ApiResult<PageRequest> {
    Ok(PageRequest::new(PageSize::parse(limit)?, non_empty(cursor)))
}

/// The page of a list: how many items, from where.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 100 (`boxoffice_types::limits::MAX_PAGE_SIZE`).
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// An HTML form sends its empty fields as `name=`; an empty filter means no filter.
pub fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.is_empty())
}

/// Reads an id that a service sent. One that is not a UUID is the service's bug, not the
/// client's, so it is an internal error.
pub fn service_id(service: &str, text: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(text).map_err(|error| {
        Error::internal(format!("the {service} service sent a bad id {text:?}: {error}")).into()
    })
}

/// Two ids of a path (`/users/{id}/sessions/{session_id}`): as [`PathId`], a segment that is
/// not a UUID names nothing, a 404.
pub struct PathIds(pub Uuid, pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let not_found = || ApiError(Error::not_found("resource"));
        let Path((first, second)) =
            Path::<(String, String)>::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        let parse = |text: &str| Uuid::parse_str(text).map_err(|_| not_found());
        Ok(PathIds(parse(&first)?, parse(&second)?))
    }
}

/// The `{id}` of a path. One that is not a UUID (or not even UTF-8) names nothing: 404, as for
/// an id that does not exist, and always as a problem document.
pub struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let not_found = || ApiError(Error::not_found("resource"));
        let Path(text) = Path::<String>::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        Uuid::parse_str(&text).map(PathId).map_err(|_| not_found())
    }
}
