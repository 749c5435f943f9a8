//! The admin endpoint of a process that runs one service and has no public API: `/healthz`
//! (alive), `/readyz` (its dependencies answer) and `/metrics` (Prometheus).

use std::future::Future;

use anyhow::Context as _;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use boxoffice_errors::{Code, Error};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::problem;

/// What `/healthz` and `/readyz` answer when all is well.
#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
}

/// The Prometheus text of every metric this process recorded.
pub fn metrics_text() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], boxoffice_telemetry::render_metrics())
}

/// Serves the admin endpoint on `listener` until `shutdown`. `ready` checks the service's
/// dependencies; its error is the 503's problem.
pub async fn serve<F, Fut>(listener: TcpListener, ready: F, shutdown: CancellationToken) -> anyhow::Result<()>
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    axum::serve(listener, router(ready))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("serving the admin endpoint")
}

fn router<F, Fut>(ready: F) -> Router
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    Router::new()
        .route("/healthz", get(|| async { Json(Health { status: "ok" }) }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    let answer = ready().await;
                    metrics::gauge!("service_ready").set(if answer.is_ok() { 1.0 } else { 0.0 });
                    match answer {
                        Ok(()) => Json(Health { status: "ready" }).into_response(),
                        Err(error) => problem(&error),
                    }
                }
            }),
        )
        .route("/metrics", get(|| async { metrics_text() }))
        .fallback(|| async { problem(&Error::new(Code::NotFound, "no such endpoint")) })
}
