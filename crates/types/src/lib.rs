//! The words every boxoffice service and the gateway share.
//!
//! A value that crosses a service boundary has one Rust definition, here, and one wire
//! definition, in `proto/`; `boxoffice-proto` converts between the two, once per pair. A
//! service's own domain types (a booking, a seat map) stay in the service.
//!
//! - [`Role`] and [`Caller`]: who is asking, as a verified access token says.
//! - [`BookingStatus`], [`EventStatus`], [`CategoryKind`], [`SeatStatus`]: the states the public
//!   API shows, with the names it shows them by.
//! - [`limits`]: the bounds both sides of a call check (page sizes, message sizes, keys).
//! - [`money`]: amounts of money as people read them.

pub mod limits;
pub mod money;
mod names;
mod role;
mod status;

pub use names::UnknownName;
pub use role::{Caller, Role};
pub use status::{BookingStatus, CategoryKind, EventStatus, SeatStatus};
