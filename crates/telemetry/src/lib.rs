//! Structured logs (text or JSON, filtered by `RUST_LOG`), traces exported over OTLP when an
//! endpoint is set ([`trace`]), and the process-wide Prometheus recorder that `GET /metrics`
//! renders, with the help text of every metric ([`catalog`]).
//!
//! Every histogram gets buckets in its own unit, chosen by its name: `*_seconds` (latencies)
//! from a millisecond to seconds, `*_batch_size` (items per batch) in powers of two. A
//! histogram that matches none is rendered as a summary (quantiles), which fits any unit,
//! rather than in buckets of another unit, where every value would land in one bucket.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::filter::{filter_fn, FilterExt as _, LevelFilter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

pub mod catalog;
mod process;
mod request_id;
pub mod trace;

pub use request_id::{current_request_id, RequestIdLayer};
pub use trace::{TraceHeaders, Tracing};

/// Without `RUST_LOG`: info, but only warnings from the libraries that talk a lot (and the
/// access log of `tower_http`, which `tower=warn` would otherwise silence: targets match by
/// prefix).
const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,h2=warn,tower=warn,tower_http=info,hyper=warn";

/// How a process logs and traces.
#[derive(Clone, Debug, Default)]
pub struct LogSettings {
    /// JSON lines for collectors, else text for people.
    pub json: bool,
    /// The OTLP/gRPC endpoint spans are exported to (`http://collector:4317`); none exports
    /// nothing.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the exported spans.
    pub service_name: String,
    /// A PEM file of authorities an https:// endpoint's certificate may chain to, besides the
    /// Mozilla roots.
    pub ca_file: Option<std::path::PathBuf>,
}

/// Installs the global log subscriber (and the span exporter, when an endpoint is set). Later
/// calls do nothing, so tests may call it freely. Call it inside the Tokio runtime: the
/// exporter runs on it. Keep what it returns, and shut it down at exit to send the last spans.
pub fn init_logs(settings: &LogSettings) -> anyhow::Result<Tracing> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    // Colour only on a terminal, and never with NO_COLOR set (https://no-color.org): a log file
    // or a collector gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let tracing = Tracing::new(settings)?;
    let result = subscriber(&tracing, settings.json, filter, std::io::stdout, colour).try_init();
    // An error means a subscriber is already installed, which is what we want.
    let _ = result;
    Ok(tracing)
}

/// The process's subscriber: request ids, the span exporter when spans are exported, and the
/// log lines (see [`log_layer`]).
fn subscriber<W>(
    tracing: &Tracing,
    json: bool,
    filter: EnvFilter,
    writer: W,
    colour: bool,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    // Every filter here knows the most verbose level it may let through (the log filter's, or
    // info for spans), so the libraries' `debug!` and `trace_span!` below it (h2 makes several per
    // frame) cost one comparison with a static level rather than a visit to the subscriber.
    let verbose = filter.max_level_hint().map_or(LevelFilter::TRACE, |hint| hint.max(LevelFilter::INFO));
    // When spans are exported: OpenTelemetry's own diagnostics are never dispatched (they come
    // from inside the exporter's callbacks), and every callsite is asked per call rather than by
    // an interest cached at its first use ([`AskedPerCall`]), which the per-layer filters below
    // need: without it, spans went missing from the traces and the log lines at random. Without
    // an exporter it is left out: asking per call costs every disabled `debug!` of the
    // libraries on the hot path.
    let quiet = tracing_subscriber::filter::Targets::new()
        .with_default(verbose)
        .with_target("opentelemetry", LevelFilter::OFF)
        .with_target("opentelemetry_sdk", LevelFilter::OFF)
        .with_target("opentelemetry_otlp", LevelFilter::OFF);
    let quiet = tracing.is_exporting().then_some(AskedPerCall(quiet));
    tracing_subscriber::registry()
        .with(quiet)
        .with(RequestIdLayer.with_filter(spans_only()))
        .with(tracing.layer().map(|layer| layer.with_filter(spans_only())))
        .with(log_layer(json, filter, writer, colour))
}

/// A global filter whose callsites are asked on every call (`Interest::sometimes`), never
/// remembered as always enabled. The per-layer filters below learn whether a span is theirs from
/// the `enabled` call just before it is made; a callsite remembered as always enabled skips that
/// call, and its span then gets whatever the last `enabled` call (another callsite's, or a `log`
/// record's, which sqlx makes after its queries) left: spans went missing from the exported
/// traces and the log lines at random (tokio-rs/tracing#2519; tests/api/traces.rs checks).
struct AskedPerCall(tracing_subscriber::filter::Targets);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for AskedPerCall {
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if self.0.would_enable(metadata.target(), metadata.level()) {
            tracing::subscriber::Interest::sometimes()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(
        &self,
        metadata: &tracing::Metadata<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        self.0.would_enable(metadata.target(), metadata.level())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        tracing_subscriber::Layer::<S>::max_level_hint(&self.0)
    }
}

/// Spans at info and above, whatever the log filter lets through: request ids and traces follow
/// them, so an operator who logs only warnings still gets traces and ids that carry along.
fn spans_only<S>() -> impl tracing_subscriber::layer::Filter<S> + Clone {
    filter_fn(|metadata| metadata.is_span() && *metadata.level() <= tracing::Level::INFO)
        .with_max_level_hint(LevelFilter::INFO)
}

/// The log lines, as text or JSON, of what `filter` lets through. Each names the spans it was
/// written in (the request id among their fields) even when the filter leaves out info: spans
/// print nothing by themselves.
fn log_layer<S, W>(
    json: bool,
    filter: EnvFilter,
    writer: W,
    colour: bool,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = filter.or(spans_only());
    if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_writer(writer)
            .with_filter(filter)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(colour)
            .with_writer(writer)
            .with_filter(filter)
            .boxed()
    }
}

/// How long a starting process waits for a database or Redis that refuses connections (one
/// starting at the same time, in Compose or a cluster) before it gives up.
pub const START_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(60);
/// The longest pause between two tries at start.
const START_RETRY_MAX_PAUSE: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `connect` until it succeeds, or fails otherwise than by `is_refused`, or
/// [`START_RETRY_FOR`] has passed; each refusal is logged as `what` (what refuses, "PostgreSQL
/// refuses connections") with the wait before the next try.
pub async fn retry_at_start<T, E, F, Fut>(
    what: &str,
    is_refused: impl Fn(&E) -> bool,
    mut connect: F,
) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(250);
    loop {
        match connect().await {
            Err(error) if is_refused(&error) && started.elapsed() + pause < START_RETRY_FOR => {
                tracing::warn!(%error, retry_in = ?pause, "{what}; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(START_RETRY_MAX_PAUSE);
            }
            result => return result,
        }
    }
}

/// Buckets of latencies, in seconds: from a millisecond to a few seconds.
const SECONDS_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
/// Buckets of batch sizes, in items: powers of two up to 256, the largest batch the bookings
/// service's group commit makes.
const BATCH_SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// How often the samples of the histograms are summed into their buckets.
const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// A recorder with buckets in each histogram's unit.
fn builder() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
        .and_then(|builder| {
            builder.set_buckets_for_metric(Matcher::Suffix("_batch_size".to_owned()), BATCH_SIZE_BUCKETS)
        })
        .expect("the buckets are not empty")
}

/// The metrics in the Prometheus text format, with the process metrics read now.
pub fn render_metrics() -> String {
    let handle = metrics();
    process::record();
    handle.render()
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
        catalog::describe();
        // A histogram keeps every sample until it is summed into its buckets, which a render
        // does, or this: without it, a process nobody scrapes grows by a few bytes a request.
        let upkept = handle.clone();
        let _ = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || loop {
            std::thread::sleep(METRICS_UPKEEP);
            upkept.run_upkeep();
        });
        handle
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a log layer wrote.
    #[derive(Clone, Default)]
    struct Written(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Written {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_warning_names_its_request_id_when_only_warnings_are_logged() {
        for json in [false, true] {
            let written = Written::default();
            let writer = written.clone();
            let subscriber = tracing_subscriber::registry()
                .with(RequestIdLayer.with_filter(spans_only()))
                .with(log_layer(json, EnvFilter::new("warn"), move || writer.clone(), false));
            tracing::subscriber::with_default(subscriber, || {
                let _request = tracing::info_span!("request", request_id = "req-warned-1").entered();
                tracing::info!("left out");
                tracing::warn!("kept");
            });
            let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
            assert_eq!(text.lines().count(), 1, "{text}");
            assert!(text.contains("kept") && text.contains("req-warned-1"), "json {json}: {text}");
        }
    }

    #[test]
    fn what_no_filter_lets_through_is_left_out_by_a_static_level() {
        use tracing::Subscriber as _;
        let tracing = Tracing::new(&LogSettings::default()).unwrap();
        for (directives, level) in [
            ("warn", LevelFilter::INFO),
            ("info,h2=warn", LevelFilter::INFO),
            ("debug", LevelFilter::DEBUG),
            ("warn,boxoffice_bookings=debug", LevelFilter::DEBUG),
            // A directive on a span's field values may enable anything below that span.
            ("warn,[request{route=/x}]=debug", LevelFilter::TRACE),
        ] {
            let subscriber = subscriber(&tracing, true, EnvFilter::new(directives), std::io::sink, false);
            // Spans at info are kept for the request ids whatever the log filter says.
            assert_eq!(subscriber.max_level_hint(), Some(level), "{directives}");
        }
    }

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
