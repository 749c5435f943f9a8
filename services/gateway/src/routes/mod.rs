//! The public API, one module per feature.

pub mod auth;
pub mod bookings;
pub mod events;
pub mod health;
pub mod users;
pub mod venues;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use boxoffice_errors::Error;
use boxoffice_proto::common::PageRequest;
use boxoffice_proto::user as pb;
use boxoffice_proto::WireEnum as _;
use boxoffice_types::limits::PageSize;
use boxoffice_types::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
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
    /// 1 to 100.
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

/// An account as the API shows it. The password hash never leaves the users service.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "Ada")]
    pub first_name: String,
    #[schema(example = "Lovelace")]
    pub last_name: String,
    pub role: Role,
    /// RFC 3339, UTC.
    #[schema(example = "2026-11-25T06:00:00.000Z")]
    pub created_at: String,
}

impl UserResponse {
    pub fn from_proto(user: pb::User) -> ApiResult<Self> {
        let id = Uuid::parse_str(&user.id)
            .map_err(|error| Error::internal(format!("the users service sent a bad id: {error}")))?;
        Ok(UserResponse {
            id,
            email: user.email,
            first_name: user.first_name,
            last_name: user.last_name,
            role: Role::from_wire(user.role).ok_or_else(|| {
                Error::internal(format!("the users service sent an unknown role {}", user.role))
            })?,
            created_at: user.created_at,
        })
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
