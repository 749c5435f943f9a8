//! Liveness, readiness and metrics, at the root rather than under `/api/v1`, where every
//! service's admin endpoint serves them too.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use boxoffice_errors::Error;
use boxoffice_proto::common::Empty;
use serde::Serialize;
use utoipa::ToSchema;

use crate::openapi::responses::Unavailable;
use crate::problem::ApiResult;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = HealthResponse)))]
pub async fn healthz() -> Json<HealthResponse> {
    Json(HealthResponse { status: "ok" })
}

/// The gateway's dependencies answer: the users, events and bookings services (and their
/// databases) and the shared store; and the users service signs access tokens with the secret
/// the gateway verifies them with. Otherwise 503.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = HealthResponse), Unavailable))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<HealthResponse>> {
    check_ready(&state).await?;
    Ok(Json(HealthResponse { status: "ready" }))
}

/// What the gateway's readiness checks, for `/readyz` here and on the admin endpoint.
pub async fn check_ready(state: &AppState) -> Result<(), Error> {
    state.kv().ping().await.map_err(|error| Error::unavailable(format!("{error:#}")))?;
    let unready = |status: tonic::Status| Error::from_status(&status);
    state.users().check_ready(Empty {}).await.map_err(unready)?;
    let signing = state.users().get_token_key_id(Empty {}).await.map_err(unready)?.into_inner().key_id;
    if signing != state.tokens().key_id() {
        tracing::error!(
            "the users service signs access tokens with another secret than the gateway checks them \
             with: give both the same BOXOFFICE_JWT_SECRET"
        );
        return Err(Error::unavailable("the users service and the gateway have different token secrets"));
    }
    state.events().check_ready(Empty {}).await.map_err(unready)?;
    state.bookings().check_ready(Empty {}).await.map_err(unready)?;
    Ok(())
}

/// Prometheus metrics of the whole process.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], boxoffice_telemetry::render_metrics())
}
