//! Serving one service's gRPC server on the network, behind the internal token, each call
//! traced and timed ([`Observed`]); from the moment the process is asked to stop, its
//! `CheckReady` answers not ready ([`Draining`]), so that callers probing it stop calling it
//! before its listener closes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;

use crate::internal_token::InternalToken;
use crate::observe::Observed;
use crate::tls::ServiceTls;
use crate::GrpcServer;

/// Serves `server` on `listener` (over TLS when `tls` has a certificate), refusing every call
/// without `token`, until `shutdown`; then finishes the calls in flight. Once `draining` is
/// cancelled, `CheckReady` answers `UNAVAILABLE` while every other call is still served.
pub async fn serve<S>(
    listener: TcpListener,
    server: S,
    token: InternalToken,
    tls: ServiceTls,
    draining: CancellationToken,
    shutdown: CancellationToken,
) -> anyhow::Result<()>
where
    S: GrpcServer + NamedService,
{
    let name = S::NAME;
    let mut builder = Server::builder();
    if let Some(config) = tls.server() {
        builder = builder.tls_config(config).with_context(|| format!("setting up TLS for {name}"))?;
    }
    builder
        .add_service(InterceptedService::new(
            Draining { inner: Observed::server(server), draining },
            token.require(),
        ))
        .serve_with_incoming_shutdown(
            // Frames are sent as soon as they are written, not held back until the peer
            // acknowledges those before (Nagle's algorithm): the clients set the same.
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown.cancelled_owned(),
        )
        .await
        .with_context(|| format!("serving {name}"))
}

/// A gRPC server whose `CheckReady` answers `UNAVAILABLE` once `draining` is cancelled.
#[derive(Clone)]
struct Draining<S> {
    inner: S,
    draining: CancellationToken,
}

impl<S: NamedService> NamedService for Draining<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower::Service<http::Request<tonic::body::Body>> for Draining<S>
where
    S: tower::Service<
        http::Request<tonic::body::Body>,
        Response = http::Response<tonic::body::Body>,
        Error = std::convert::Infallible,
    >,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if self.draining.is_cancelled() && crate::connection::asks_readiness(request.uri().path()) {
            let answer = tonic::Status::unavailable("shutting down").into_http();
            return Box::pin(std::future::ready(Ok(answer)));
        }
        Box::pin(self.inner.call(request))
    }
}
