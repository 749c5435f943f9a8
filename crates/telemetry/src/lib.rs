//! Structured logs (text or JSON, filtered by `RUST_LOG`) and the process-wide Prometheus
//! recorder that `GET /metrics` renders.
//!
//! Every histogram gets buckets in its own unit, chosen by its name: `*_seconds` (latencies)
//! from a millisecond to seconds, `*_batch_size` (items per batch) in powers of two. A
//! histogram that matches none is rendered as a summary (quantiles), which fits any unit,
//! rather than in buckets of another unit, where every value would land in one bucket.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
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
        // Colour only on a terminal, and never with NO_COLOR set (https://no-color.org): a log
        // file or a collector gets plain text.
        let colour = std::io::IsTerminal::is_terminal(&std::io::stdout())
            && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
        registry.with(tracing_subscriber::fmt::layer().with_target(false).with_ansi(colour)).try_init()
    };
    // An error means a subscriber is already installed, which is what we want.
    let _ = result;
}

/// Buckets of latencies, in seconds: from a millisecond to a few seconds.
const SECONDS_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
/// Buckets of batch sizes, in items: powers of two up to 256, the largest batch the bookings
/// service's group commit makes.
const BATCH_SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// A recorder with buckets in each histogram's unit.
fn builder() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
        .and_then(|builder| {
            builder.set_buckets_for_metric(Matcher::Suffix("_batch_size".to_owned()), BATCH_SIZE_BUCKETS)
        })
        .expect("the buckets are not empty")
}

/// The process-wide metrics recorder, installed on first use. Every service in the process
/// records into it and every `/metrics` endpoint renders it.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        // Another recorder may exist when a program embeds us; then ours only renders nothing.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_histogram_counts_in_buckets_of_its_own_unit() {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::histogram!("bookings_commit_batch_size").record(100.0);
            metrics::histogram!("http_request_duration_seconds").record(0.02);
        });
        let rendered = handle.render();
        for line in [
            r#"bookings_commit_batch_size_bucket{le="64"} 0"#,
            r#"bookings_commit_batch_size_bucket{le="128"} 1"#,
            r#"bookings_commit_batch_size_bucket{le="+Inf"} 1"#,
            r#"http_request_duration_seconds_bucket{le="0.01"} 0"#,
            r#"http_request_duration_seconds_bucket{le="0.025"} 1"#,
        ] {
            assert!(rendered.lines().any(|rendered| rendered == line), "no `{line}` in:\n{rendered}");
        }
    }
}
