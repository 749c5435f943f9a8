//! What every internal gRPC call carries and records, on both sides: the caller writes the
//! trace context and the request id of its current span into the call's headers and times the
//! call (`grpc_client_duration_seconds`); the server reads them into the parent and the
//! `request_id` of the span the handler runs in, and times its answer
//! (`grpc_server_duration_seconds`). Both by method and gRPC status code.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use boxoffice_telemetry::TraceHeaders;
use metrics::Histogram;
use tonic::server::NamedService;
use tracing::Instrument as _;

/// The method label: the call's path without its leading slash (`package.Service/Method`).
fn method_of(uri: &http::Uri) -> &str {
    uri.path().trim_start_matches('/')
}

/// Histogram → method → code → the series' handle.
type Handles = HashMap<&'static str, HashMap<String, HashMap<String, Histogram>>>;

/// The duration series of `histogram` for `method` and `code`. Every call records one, so the
/// handles are looked up once per series and kept, as the gateway keeps its request metrics'
/// (`services/gateway/src/request_metrics.rs`): a call then records without building label
/// strings or hashing them in the recorder's registry. The series are bounded: a server's
/// methods are only those of calls that passed the internal token, and codes are gRPC's.
fn duration_series(histogram: &'static str, method: &str, code: &str) -> Histogram {
    static HANDLES: OnceLock<Mutex<Handles>> = OnceLock::new();
    let mut handles =
        HANDLES.get_or_init(Mutex::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let by_method = handles.entry(histogram).or_default();
    if let Some(series) = by_method.get(method).and_then(|by_code| by_code.get(code)) {
        return series.clone();
    }
    let series = metrics::histogram!(histogram, "method" => method.to_owned(), "code" => code.to_owned());
    by_method.entry(method.to_owned()).or_default().insert(code.to_owned(), series.clone());
    series
}

/// Which side of a call is observed.
#[derive(Clone, Copy, Debug)]
enum Side {
    Client,
    /// A call to a server in this process: it runs in the caller's span, so no header is needed.
    InProcess,
    Server,
}

/// A gRPC client or server that carries trace headers and records its calls' durations.
#[derive(Clone, Debug)]
pub struct Observed<S> {
    inner: S,
    side: Side,
}

impl<S> Observed<S> {
    /// Observes the calls a client makes through `inner`.
    pub fn client(inner: S) -> Observed<S> {
        Observed { inner, side: Side::Client }
    }

    /// Observes the calls a client makes to a server in this process through `inner`.
    pub fn in_process(inner: S) -> Observed<S> {
        Observed { inner, side: Side::InProcess }
    }

    /// Observes the calls the server `inner` answers.
    pub fn server(inner: S) -> Observed<S> {
        Observed { inner, side: Side::Server }
    }
}

impl<S: NamedService> NamedService for Observed<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B, R> tower::Service<http::Request<B>> for Observed<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    R: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The URI's path is shared, not copied: the method label of the duration's series.
        let uri = request.uri().clone();
        let started = Instant::now();
        let (future, span, histogram) = match self.side {
            Side::Client => {
                TraceHeaders::current().write_http(request.headers_mut());
                (self.inner.call(request), tracing::Span::none(), "grpc_client_duration_seconds")
            }
            Side::InProcess => {
                (self.inner.call(request), tracing::Span::none(), "grpc_client_duration_seconds")
            }
            Side::Server => {
                let headers = TraceHeaders::from_http(request.headers());
                let method = method_of(&uri);
                let span = tracing::info_span!("grpc", method, request_id = headers.request_id());
                headers.adopt(&span);
                let future = span.in_scope(|| self.inner.call(request));
                (future, span, "grpc_server_duration_seconds")
            }
        };
        Box::pin(
            async move {
                let result = future.await;
                let code = match &result {
                    Ok(response) => response
                        .headers()
                        .get("grpc-status")
                        .and_then(|code| code.to_str().ok())
                        .unwrap_or("0"),
                    // The call never reached the other side: unavailable.
                    Err(_) => "14",
                };
                duration_series(histogram, method_of(&uri), code).record(started.elapsed().as_secs_f64());
                result
            }
            .instrument(span),
        )
    }
}
