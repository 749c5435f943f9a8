//! Structured logs (text or JSON, filtered by `RUST_LOG`) and the process-wide Prometheus
//! recorder that `GET /metrics` renders.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::EnvFilter;

const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,h2=warn,tower=warn,hyper=warn";

/// Installs the global log subscriber. Later calls do nothing, so tests may call it freely.
pub fn init_logs(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry.with(tracing_subscriber::fmt::layer().json().with_current_span(false)).try_init()
    } else {
        registry.with(tracing_subscriber::fmt::layer().with_target(false)).try_init()
    };
    // An error means a subscriber is already installed, which is what we want.
    let _ = result;
}

/// The process-wide metrics recorder, installed on first use. Every service in the process
/// records into it and every `/metrics` endpoint renders it.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5])
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may exist when a program embeds us; then ours only renders nothing.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}
