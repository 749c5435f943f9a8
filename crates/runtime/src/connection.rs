//! How a service calls another: over the network, carrying the internal token, or by calling
//! the other service's gRPC server directly when both run in this process (which skips loopback
//! TCP and HTTP/2 framing on both sides of the call). Either way the call is timed, and over the
//! network it carries the trace headers ([`Observed`]); in this process it keeps the caller's span.

use std::time::Duration;

use anyhow::Context as _;
use tonic::transport::{Channel, Endpoint};
use tower::util::BoxCloneSyncService;
use tower::ServiceExt as _;

use crate::internal_token::{InternalToken, METADATA_KEY};
use crate::observe::Observed;
use crate::tls::ServiceTls;
use crate::GrpcServer;

/// A call from one service to another that takes longer than this has failed.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting to another service that takes longer than this has failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A way to reach one service, for its generated client (`XServiceClient::new(connection)`).
pub type Connection =
    BoxCloneSyncService<http::Request<tonic::body::Body>, http::Response<tonic::body::Body>, tonic::Status>;

/// A connection to the service at `url`, carrying `token` on every call, over TLS when the URL
/// is `https://`. It connects lazily: no service is called until a request needs it.
pub fn over_network(url: &str, token: &InternalToken, tls: &ServiceTls) -> anyhow::Result<Connection> {
    let channel = channel_to(url, tls)?;
    let token = token.header_value();
    let with_token = Observed::client(channel)
        .map_request(move |mut request: http::Request<tonic::body::Body>| {
            request.headers_mut().insert(METADATA_KEY, token.clone());
            request
        })
        .map_err(|error| tonic::Status::unavailable(format!("calling a service fails: {error}")));
    Ok(BoxCloneSyncService::new(with_token))
}

fn channel_to(url: &str, tls: &ServiceTls) -> anyhow::Result<Channel> {
    let mut endpoint = Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("reading the service URL {url}"))?
        .timeout(CALL_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true);
    if url.starts_with("https://") {
        endpoint = endpoint.tls_config(tls.client()).with_context(|| format!("setting up TLS to {url}"))?;
    }
    Ok(endpoint.connect_lazy())
}

/// A connection to a gRPC server in this process. The internal token guards the network; a
/// call within the process needs none.
pub fn in_process(server: impl GrpcServer) -> Connection {
    BoxCloneSyncService::new(
        Observed::in_process(server)
            .map_err(|never: std::convert::Infallible| -> tonic::Status { match never {} }),
    )
}
