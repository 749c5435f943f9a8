//! Traces: one booking is one trace, from the HTTP request through every gRPC call and every
//! domain event to the email.
//!
//! Spans are `tracing` spans; when an OTLP endpoint is set, `tracing-opentelemetry` turns them
//! into OpenTelemetry spans, exported in batches over OTLP/gRPC. What crosses a process
//! boundary is a [`TraceHeaders`]: the W3C `traceparent` of the current span and the request
//! id, written into HTTP/2 headers of a gRPC call or Kafka message headers (through the outbox
//! row), and read back into the parent of the span that handles it.

use std::collections::HashMap;

use anyhow::Context as _;
use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithTonicConfig as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tonic::transport::ClientTlsConfig;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::request_id::current_request_id;

/// The W3C trace context header.
pub const TRACEPARENT: &str = "traceparent";
/// The request id header, as the gateway answers it.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest request id kept: longer than any id scheme a client would use (a UUID is 36),
/// short enough for a log line.
pub const REQUEST_ID_MAX_CHARS: usize = 128;

/// The span exporter of this process, if an OTLP endpoint is set.
#[derive(Debug, Default)]
pub struct Tracing {
    provider: Option<SdkTracerProvider>,
}

impl Tracing {
    pub(crate) fn new(settings: &crate::LogSettings) -> anyhow::Result<Tracing> {
        let Some(endpoint) = settings.otlp_endpoint.as_deref().filter(|endpoint| !endpoint.is_empty()) else {
            return Ok(Tracing::default());
        };
        let mut builder = opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(endpoint);
        if endpoint.starts_with("https://") {
            // A collector behind TLS: the Mozilla roots, and a private authority's if given.
            let mut tls = ClientTlsConfig::new().with_webpki_roots();
            if let Some(path) = &settings.ca_file {
                let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
            }
            builder = builder.with_tls_config(tls);
        }
        let exporter =
            builder.build().with_context(|| format!("setting up the OTLP exporter to {endpoint}"))?;
        // The batch processor that runs on Tokio: the gRPC exporter needs its reactor. Batch
        // size and delay follow the standard OTEL_BSP_* variables.
        let processor =
            opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
                exporter,
                opentelemetry_sdk::runtime::Tokio,
            )
            .build();
        let resource =
            opentelemetry_sdk::Resource::builder().with_service_name(settings.service_name.clone()).build();
        let provider =
            SdkTracerProvider::builder().with_span_processor(processor).with_resource(resource).build();
        Ok(Tracing { provider: Some(provider) })
    }

    /// The layer that turns spans into OpenTelemetry spans, when spans are exported.
    pub(crate) fn layer<S>(&self) -> Option<impl tracing_subscriber::Layer<S> + 'static>
    where
        S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        let tracer = self.provider.as_ref()?.tracer("boxoffice");
        Some(tracing_opentelemetry::layer().with_tracer(tracer))
    }

    /// Whether spans are exported.
    pub fn is_exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends the spans still waiting and stops the exporter. It blocks: call it off the runtime's
    /// workers (`spawn_blocking`) while the runtime still runs.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(error) = provider.shutdown() {
                eprintln!("sending the last spans fails: {error}");
            }
        }
    }
}

/// What a unit of work carries from one process to the next: the W3C trace context of the span
/// it came from, and the request id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceHeaders {
    pub traceparent: Option<String>,
    pub request_id: Option<String>,
}

impl TraceHeaders {
    /// The current span's trace context (when spans are exported) and request id.
    pub fn current() -> TraceHeaders {
        let mut fields = HashMap::new();
        TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut fields);
        TraceHeaders { traceparent: fields.remove(TRACEPARENT), request_id: current_request_id() }
    }

    /// Read from the headers of a call or a message: at most one of each, of safe characters,
    /// else none (a malformed `traceparent` starts a new trace).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> TraceHeaders {
        let mut headers = TraceHeaders::default();
        for (name, value) in pairs {
            let Ok(value) = std::str::from_utf8(value) else { continue };
            if name.eq_ignore_ascii_case(TRACEPARENT) && is_traceparent(value) {
                headers.traceparent = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case(REQUEST_ID_HEADER) && is_safe_request_id(value.as_bytes()) {
                headers.request_id = Some(value.to_owned());
            }
        }
        headers
    }

    /// A client's headers as the edge takes them: its trace id and parent span, with the
    /// client's flags replaced by "sampled", so that a client cannot hide its requests from the
    /// traces (with the default sampler, every request is exported anyway).
    pub fn sampled_here(mut self) -> TraceHeaders {
        if let Some(traceparent) = &mut self.traceparent {
            // `00-<trace id>-<parent id>-<flags>`: the flags are characters 53 and 54 (ASCII).
            if is_traceparent(traceparent) {
                traceparent.replace_range(53..55, "01");
            } else {
                self.traceparent = None;
            }
        }
        self
    }

    /// Read from HTTP headers (a gRPC call's metadata).
    pub fn from_http(headers: &http::HeaderMap) -> TraceHeaders {
        TraceHeaders::from_pairs([TRACEPARENT, REQUEST_ID_HEADER].into_iter().filter_map(|name| {
            let mut values = headers.get_all(name).iter();
            match (values.next(), values.next()) {
                (Some(value), None) => Some((name, value.as_bytes())),
                _ => None,
            }
        }))
    }

    /// The headers to send, by name.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [(TRACEPARENT, self.traceparent.as_deref()), (REQUEST_ID_HEADER, self.request_id.as_deref())]
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
    }

    /// Writes them into the headers of an HTTP request (a gRPC call), replacing any there.
    pub fn write_http(&self, headers: &mut http::HeaderMap) {
        for (name, value) in self.pairs() {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
    }

    /// Makes `span` a child of the span these headers came from (when spans are exported).
    pub fn adopt(&self, span: &tracing::Span) {
        if let Some(traceparent) = &self.traceparent {
            let carrier = SingleHeader(traceparent);
            let parent = TraceContextPropagator::new().extract(&carrier);
            span.set_parent(parent);
        }
    }

    /// The request id as a span field value: empty when there is none.
    pub fn request_id(&self) -> &str {
        self.request_id.as_deref().unwrap_or("")
    }
}

/// `00-<32 hex>-<16 hex>-<2 hex>`, or a later version of the same shape and length or longer.
fn is_traceparent(value: &str) -> bool {
    value.len() >= 55
        && value.len() <= 256
        && value.bytes().all(|byte| byte.is_ascii_hexdigit() || byte == b'-')
}

/// Whether a request id may be kept and carried along as it is: 1 to [`REQUEST_ID_MAX_CHARS`]
/// characters of `A-Z a-z 0-9 . _ -` (it is echoed in headers and written to logs).
pub fn is_safe_request_id(id: &[u8]) -> bool {
    (1..=REQUEST_ID_MAX_CHARS).contains(&id.len())
        && id.iter().all(|&byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// A carrier of the one header the W3C propagator reads.
struct SingleHeader<'a>(&'a str);

impl Extractor for SingleHeader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        key.eq_ignore_ascii_case(TRACEPARENT).then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_headers_are_carried() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let read = TraceHeaders::from_pairs([
            ("traceparent", good.as_bytes()),
            ("X-Request-Id", b"req-1".as_slice()),
        ]);
        assert_eq!(read.traceparent.as_deref(), Some(good));
        assert_eq!(read.request_id.as_deref(), Some("req-1"));
        let bad = TraceHeaders::from_pairs([
            ("traceparent", b"<script>".as_slice()),
            ("x-request-id", b"two words".as_slice()),
        ]);
        assert_eq!(bad, TraceHeaders::default());
        let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        let edge = TraceHeaders::from_pairs([("traceparent", unsampled.as_bytes())]).sampled_here();
        assert_eq!(edge.traceparent.as_deref(), Some(good), "the edge decides the sampling");
        let mut headers = http::HeaderMap::new();
        read.write_http(&mut headers);
        assert_eq!(TraceHeaders::from_http(&headers), read);
    }

    #[test]
    fn without_an_exporter_the_current_span_has_no_trace_context() {
        assert_eq!(TraceHeaders::current(), TraceHeaders::default());
    }
}
