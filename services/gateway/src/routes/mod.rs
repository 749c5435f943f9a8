//! The public API, one module per feature.

pub mod auth;
pub mod health;
pub mod users;

use boxoffice_errors::Error;
use boxoffice_proto::user as pb;
use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::problem::ApiResult;

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
        .description(Some(
            "What the account may do: customer, organizer or admin",
        ))
}

fn role_name(role: i32) -> ApiResult<String> {
    boxoffice_proto::role_from_wire(role)
        .map(|role| role.as_str().to_owned())
        .ok_or_else(|| {
            Error::internal(format!("the users service sent an unknown role {role}")).into()
        })
}

impl UserResponse {
    pub fn from_proto(user: pb::User) -> ApiResult<Self> {
        let id = Uuid::parse_str(&user.id).map_err(|error| {
            Error::internal(format!("the users service sent a bad id: {error}"))
        })?;
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

/// A path id that is not a UUID names nothing: 404, as for an id that does not exist.
pub fn parse_path_id(text: &str, what: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| Error::not_found(what).into())
}
