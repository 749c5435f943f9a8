//! Serving one service's gRPC server on the network, behind the internal token, each call
//! traced and timed ([`Observed`]).

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;

use crate::internal_token::InternalToken;
use crate::observe::Observed;
use crate::tls::ServiceTls;
use crate::GrpcServer;

/// Serves `server` on `listener` (over TLS when `tls` has a certificate), refusing every call
/// without `token`, until `shutdown`; then finishes the calls in flight.
pub async fn serve<S>(
    listener: TcpListener,
    server: S,
    token: InternalToken,
    tls: ServiceTls,
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
        .add_service(InterceptedService::new(Observed::server(server), token.require()))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown.cancelled_owned(),
        )
        .await
        .with_context(|| format!("serving {name}"))
}
