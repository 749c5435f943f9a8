//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::Problem;
use crate::routes::{auth, health, users, UserResponse};

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
        health::healthz, health::readyz, health::metrics,
    ),
    components(schemas(
        Problem, UserResponse, auth::SignupRequest, auth::LoginRequest, auth::RefreshRequest,
        auth::TokenResponse, users::UpdateMeRequest, users::ChangePasswordRequest,
        users::SetRoleRequest, health::HealthResponse,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "users", description = "The caller's account, and admin views of all accounts"),
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
