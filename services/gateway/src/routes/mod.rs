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
use boxoffice_proto::user as pb;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::problem::{ApiError, ApiResult};

/// How many items a page of a list holds when the client does not say.
pub const DEFAULT_PAGE_LIMIT: u32 = 20;
/// The most items a page of a list holds, so that no request makes a service read a whole table.
pub const MAX_PAGE_LIMIT: u32 = 100;

/// Reads the `limit` query parameter of a list.
pub fn page_limit(limit: Option<u32>) -> ApiResult<u32> {
    match limit {
        None => Ok(DEFAULT_PAGE_LIMIT),
        Some(limit @ 1..=MAX_PAGE_LIMIT) => Ok(limit),
        Some(_) => Err(Error::validation(format!("limit: must be 1 to {MAX_PAGE_LIMIT}")).into()),
    }
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
    #[schema(schema_with = role_schema)]
    pub role: String,
    /// RFC 3339, UTC.
    #[schema(example = "2026-11-25T06:00:00.000Z")]
    pub created_at: String,
}

/// The schema of a role: one of three names.
pub fn role_schema() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["customer", "organizer", "admin"]))
        .description(Some("What the account may do: customer, organizer or admin"))
}

fn role_name(role: i32) -> ApiResult<String> {
    boxoffice_proto::role_from_wire(role)
        .map(|role| role.as_str().to_owned())
        .ok_or_else(|| Error::internal(format!("the users service sent an unknown role {role}")).into())
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
            role: role_name(user.role)?,
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
