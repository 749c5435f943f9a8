//! What every boxoffice process shares, whichever services it runs:
//!
//! - [`connection`]: how one service calls another, over the network with the internal token,
//!   or directly when both run in this process;
//! - [`deadline`]: the caller's deadline, sent with every call over the network and read by
//!   the service that does the work;
//! - [`internal_token`]: the shared secret that internal calls carry, and the check every gRPC
//!   server makes;
//! - [`grpc`]: serving a service's gRPC server behind that check;
//! - [`tls`]: TLS between services, in and out;
//! - [`observe`]: the trace headers and durations of every internal call, on both sides;
//! - [`admin`]: `/healthz`, `/readyz` and `/metrics` of a process that has no public API.

pub mod admin;
pub mod connection;
pub mod deadline;
pub mod grpc;
pub mod internal_token;
pub mod observe;
pub mod tls;

use axum::response::{IntoResponse as _, Response};
pub use connection::Connection;
pub use internal_token::InternalToken;
pub use tls::ServiceTls;

/// A generated gRPC server (`XServiceServer<Service>`), which can be served on the network or
/// called in this process.
pub trait GrpcServer:
    tower::Service<
        http::Request<tonic::body::Body>,
        Response = http::Response<tonic::body::Body>,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> GrpcServer for S where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// A failure as an HTTP answer: the problem document of `error`, for the public API and the
/// admin endpoints alike.
pub fn problem(error: &boxoffice_errors::Error) -> Response {
    boxoffice_errors::problem_response(error).map(axum::body::Body::from).into_response()
}
