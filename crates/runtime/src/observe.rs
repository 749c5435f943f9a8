//! What every internal gRPC call carries and records, on both sides: the caller writes the
//! trace context and the request id of its current span into the call's headers and times the
//! call (`grpc_client_duration_seconds`); the server reads them into the parent and the
//! `request_id` of the span the handler runs in, and times its answer
//! (`grpc_server_duration_seconds`). Both by method and gRPC status code.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use boxoffice_telemetry::TraceHeaders;
use tonic::server::NamedService;
use tracing::Instrument as _;

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
        let method = request.uri().path().trim_start_matches('/').to_owned();
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
                let span = tracing::info_span!("grpc", method = %method, request_id = headers.request_id());
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
                        .unwrap_or("0")
                        .to_owned(),
                    // The call never reached the other side: unavailable.
                    Err(_) => "14".to_owned(),
                };
                metrics::histogram!(histogram, "method" => method, "code" => code)
                    .record(started.elapsed().as_secs_f64());
                result
            }
            .instrument(span),
        )
    }
}
