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
use crate::GrpcServer;

/// Serves `server` on `listener`, refusing every call without `token`, until `shutdown`; then
/// finishes the calls in flight.
pub async fn serve<S>(
    listener: TcpListener,
    server: S,
    token: InternalToken,
    shutdown: CancellationToken,
) -> anyhow::Result<()>
where
    S: GrpcServer + NamedService,
{
    let name = S::NAME;
    Server::builder()
        .add_service(InterceptedService::new(Observed::server(server), token.require()))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown.cancelled_owned(),
        )
        .await
        .with_context(|| format!("serving {name}"))
}
