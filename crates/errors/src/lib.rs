//! The one error type that crosses service boundaries, and its one mapping to HTTP and gRPC.
//!
//! Every failure a client can see has a stable [`Code`]. A service returns an [`Error`]; the gRPC
//! layer turns it into a `tonic::Status` that carries the code in the [`CODE_METADATA_KEY`]
//! metadata entry, and the gateway turns the status back into an [`Error`] and then into an
//! RFC 9457 problem document. The detail of an internal error is logged where it happens and is
//! never sent.

use std::fmt;
use std::time::Duration;

mod problem;

pub use problem::{response as problem_response, Problem, PROBLEM_CONTENT_TYPE};

/// The metadata entry of a `tonic::Status` that carries the stable problem code.
pub const CODE_METADATA_KEY: &str = "x-boxoffice-code";
/// The metadata entry of a `tonic::Status` that carries `Retry-After` in seconds.
pub const RETRY_AFTER_METADATA_KEY: &str = "x-boxoffice-retry-after";

pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident => ($text:literal, $http:literal, $grpc:ident, $title:literal), )*) => {
        /// A stable, machine-readable reason for a failure.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The string sent as the problem's `code`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $text,)* }
            }

            pub fn http_status(self) -> http::StatusCode {
                match self {
                    $(Code::$variant => http::StatusCode::from_u16($http).expect("the status codes above are valid"),)*
                }
            }

            pub fn grpc_code(self) -> tonic::Code {
                match self { $(Code::$variant => tonic::Code::$grpc,)* }
            }

            /// A short, human-readable summary that does not change from one occurrence to the next.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }

            pub fn parse(text: &str) -> Option<Code> {
                match text { $($text => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    /// 400: the body is not well-formed JSON or a parameter cannot be read.
    BadRequest => ("bad_request", 400, InvalidArgument, "Bad request"),
    /// 401: no valid access token.
    Unauthorized => ("unauthorized", 401, Unauthenticated, "Unauthorized"),
    /// 401: wrong email or wrong password; the two are never told apart.
    InvalidCredentials => ("invalid_credentials", 401, Unauthenticated, "Invalid credentials"),
    /// 402: the payment provider declined the charge.
    PaymentDeclined => ("payment_declined", 402, FailedPrecondition, "Payment declined"),
    /// 403: authenticated, but not allowed to do this.
    Forbidden => ("forbidden", 403, PermissionDenied, "Forbidden"),
    /// 403: the event has a waiting room, and the request carries no valid admission pass for
    /// this account and this event.
    QueueRequired => ("queue_required", 403, PermissionDenied, "Queue required"),
    /// 404: no such resource, or not one the caller may know about.
    NotFound => ("not_found", 404, NotFound, "Not found"),
    /// 405: the path exists but not with this method.
    MethodNotAllowed => ("method_not_allowed", 405, Unimplemented, "Method not allowed"),
    /// 409: an account with this email exists.
    EmailTaken => ("email_taken", 409, AlreadyExists, "Email taken"),
    /// 409: not enough tickets left.
    SoldOut => ("sold_out", 409, ResourceExhausted, "Sold out"),
    /// 409: a chosen seat is held or sold.
    SeatUnavailable => ("seat_unavailable", 409, Aborted, "Seat unavailable"),
    /// 409: the hold expired before confirmation.
    HoldExpired => ("hold_expired", 409, FailedPrecondition, "Hold expired"),
    /// 409: the ticket was already admitted.
    AlreadyCheckedIn => ("already_checked_in", 409, AlreadyExists, "Already checked in"),
    /// 409: joining a waiting list of a category whose tickets are on sale.
    NotSoldOut => ("not_sold_out", 409, FailedPrecondition, "Not sold out"),
    /// 409: the resource is not in a state that allows this.
    Conflict => ("conflict", 409, FailedPrecondition, "Conflict"),
    /// 410: the ticket's booking was refunded; the ticket no longer admits anyone.
    TicketRefunded => ("ticket_refunded", 410, FailedPrecondition, "Ticket refunded"),
    /// 410: the ticket changed hands; the code shown is its earlier holder's and no longer admits.
    TicketTransferred => ("ticket_transferred", 410, FailedPrecondition, "Ticket transferred"),
    /// 413: the request body is larger than the gateway accepts.
    PayloadTooLarge => ("payload_too_large", 413, InvalidArgument, "Payload too large"),
    /// 415: the body is not `application/json`.
    UnsupportedMediaType => ("unsupported_media_type", 415, InvalidArgument, "Unsupported media type"),
    /// 422: a field is missing, unknown or invalid; `detail` names it.
    ValidationFailed => ("validation_failed", 422, InvalidArgument, "Validation failed"),
    /// 422: more tickets than a booking or a buyer may have.
    LimitExceeded => ("limit_exceeded", 422, OutOfRange, "Limit exceeded"),
    /// 422: a valid ticket, but for another event than the door's.
    WrongEvent => ("wrong_event", 422, FailedPrecondition, "Wrong event"),
    /// 422: a rotating ticket code older than the current and the previous step.
    CodeExpired => ("code_expired", 422, FailedPrecondition, "Code expired"),
    /// 422: a ticket's static code, at the door of an event that accepts only rotating codes.
    StaticCodeRefused => ("static_code_refused", 422, FailedPrecondition, "Static code refused"),
    /// 422: an idempotency key was reused with another request body.
    IdempotencyConflict => ("idempotency_conflict", 422, InvalidArgument, "Idempotency conflict"),
    /// 429: too many requests or too many failed logins; see `Retry-After`.
    RateLimited => ("rate_limited", 429, ResourceExhausted, "Too many requests"),
    /// 500: a bug or an unexpected failure; details are in the server's log.
    Internal => ("internal", 500, Internal, "Internal error"),
    /// 503: a dependency is unreachable.
    Unavailable => ("unavailable", 503, Unavailable, "Service unavailable"),
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure with a stable code and a detail that is safe to show to the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: Code,
    pub detail: String,
    pub retry_after: Option<Duration>,
}

impl Error {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Error { code, detail: detail.into(), retry_after: None }
    }

    pub fn validation(detail: impl Into<String>) -> Self {
        Error::new(Code::ValidationFailed, detail)
    }

    pub fn not_found(what: &str) -> Self {
        Error::new(Code::NotFound, format!("{what} not found"))
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Error::new(Code::Unauthorized, detail)
    }

    pub fn forbidden() -> Self {
        Error::new(Code::Forbidden, "you are not allowed to do this")
    }

    pub fn rate_limited(detail: impl Into<String>, retry_after: Duration) -> Self {
        Error { retry_after: Some(retry_after), ..Error::new(Code::RateLimited, detail) }
    }

    /// An unexpected failure. The cause is logged here, once, and replaced by a generic detail.
    #[track_caller]
    pub fn internal(cause: impl fmt::Display) -> Self {
        let location = std::panic::Location::caller();
        tracing::error!(%location, error = %cause, "internal error");
        Error::new(Code::Internal, "internal error; the server's log has the details")
    }

    pub fn unavailable(cause: impl fmt::Display) -> Self {
        tracing::warn!(error = %cause, "dependency unavailable");
        Error::new(Code::Unavailable, "a dependency is unavailable; try again shortly")
    }

    pub fn http_status(&self) -> http::StatusCode {
        self.code.http_status()
    }

    /// Reads an error back from a gRPC status produced by [`From<Error> for tonic::Status`].
    /// A status from elsewhere (a transport failure, a panic) is mapped by its gRPC code.
    pub fn from_status(status: &tonic::Status) -> Self {
        let metadata = status.metadata();
        let code =
            metadata.get(CODE_METADATA_KEY).and_then(|value| value.to_str().ok()).and_then(Code::parse);
        let retry_after = metadata
            .get(RETRY_AFTER_METADATA_KEY)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok())
            .map(Duration::from_secs);
        match code {
            Some(code) => Error { code, detail: status.message().to_owned(), retry_after },
            None => match status.code() {
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                    Error::unavailable(format!("{status:?}"))
                }
                tonic::Code::NotFound => Error::not_found("resource"),
                tonic::Code::Unauthenticated => Error::unauthorized("not authenticated"),
                tonic::Code::PermissionDenied => Error::forbidden(),
                _ => Error::internal(format!("unexpected gRPC status: {status:?}")),
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for Error {}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        let mut status = tonic::Status::new(error.code.grpc_code(), error.detail);
        let metadata = status.metadata_mut();
        metadata.insert(CODE_METADATA_KEY, error.code.as_str().parse().expect("codes are ASCII"));
        if let Some(retry_after) = error.retry_after {
            metadata.insert(
                RETRY_AFTER_METADATA_KEY,
                retry_after.as_secs().max(1).to_string().parse().expect("digits are ASCII"),
            );
        }
        status
    }
}

/// A gRPC handler's answer: the value, or the error as a status carrying its code.
pub fn grpc_reply<T>(result: Result<T>) -> std::result::Result<tonic::Response<T>, tonic::Status> {
    result.map(tonic::Response::new).map_err(tonic::Status::from)
}

/// `error` and its causes, joined by ": ": the message of a library's error often leaves its
/// cause out ("transport error"), and the cause is what an operator needs.
pub fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(error), |cause| cause.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_a_grpc_status() {
        for &code in Code::ALL {
            let error =
                Error { retry_after: Some(Duration::from_secs(7)), ..Error::new(code, "some detail") };
            let status = tonic::Status::from(error.clone());
            assert_eq!(Error::from_status(&status), error);
        }
    }

    #[test]
    fn codes_parse_from_their_own_text() {
        for &code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), Some(code));
        }
        assert_eq!(Code::parse("no_such_code"), None);
    }

    #[test]
    fn a_foreign_status_maps_by_its_grpc_code() {
        let status = tonic::Status::unavailable("connection refused");
        assert_eq!(Error::from_status(&status).code, Code::Unavailable);
    }
}
