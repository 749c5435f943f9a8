//! The generated gRPC types, servers and typed clients of every boxoffice service, and their
//! conversions to the shared types of `boxoffice-types`.
//!
//! Servers and clients share these types; no other crate defines a copy of a wire type. Each
//! pair of a shared type and its wire twin converts here, once: services and the gateway convert
//! at their edges (`grpc.rs`, client adapters) and their cores never see a wire type.

/// The generated code, nested as its protobuf packages are (`boxoffice.user.v1`), which is how
/// the packages refer to each other.
mod generated {
    pub mod boxoffice {
        pub mod common {
            pub mod v1 {
                tonic::include_proto!("boxoffice.common.v1");
            }
        }
        pub mod user {
            pub mod v1 {
                tonic::include_proto!("boxoffice.user.v1");
            }
        }
        pub mod event {
            pub mod v1 {
                tonic::include_proto!("boxoffice.event.v1");
            }
        }
        pub mod booking {
            pub mod v1 {
                tonic::include_proto!("boxoffice.booking.v1");
            }
        }
        pub mod domain {
            pub mod v1 {
                tonic::include_proto!("boxoffice.domain.v1");
            }
        }
    }
}

pub use generated::boxoffice::booking::v1 as booking;
pub use generated::boxoffice::common::v1 as common;
/// The domain events of `proto/domain_events.proto`: the envelope and every payload.
pub use generated::boxoffice::domain::v1 as domain;
pub use generated::boxoffice::event::v1 as event;
pub use generated::boxoffice::user::v1 as user;

use boxoffice_errors::Error;
use boxoffice_types::limits::PageSize;
use boxoffice_types::{BookingStatus, Caller, CategoryKind, EventStatus, Role, SeatStatus};
use uuid::Uuid;

/// A shared enum and the wire enum it travels as. Wire enums arrive as `i32` and may hold a
/// number this build does not know, or their `UNSPECIFIED` zero, which no shared value has.
pub trait WireEnum: Sized + Copy {
    /// The shared value of a wire number; `None` for `UNSPECIFIED` and unknown numbers.
    fn from_wire(value: i32) -> Option<Self>;
    /// The wire number of the shared value.
    fn to_wire(self) -> i32;
}

/// Pairs each variant of a shared enum with the same-named variant of its wire enum.
macro_rules! wire_enum {
    ($shared:ty => $wire:ty { $($variant:ident),+ $(,)? }) => {
        impl From<$shared> for $wire {
            fn from(value: $shared) -> Self {
                match value { $(<$shared>::$variant => <$wire>::$variant,)+ }
            }
        }

        impl WireEnum for $shared {
            fn from_wire(value: i32) -> Option<Self> {
                match <$wire>::try_from(value).ok()? {
                    $(<$wire>::$variant => Some(<$shared>::$variant),)+
                    <$wire>::Unspecified => None,
                }
            }

            fn to_wire(self) -> i32 {
                <$wire>::from(self).into()
            }
        }
    };
}

wire_enum!(Role => common::Role { Customer, Organizer, Admin });
wire_enum!(BookingStatus => booking::BookingStatus { Pending, Confirmed, Cancelled, Expired, Refunded });
wire_enum!(SeatStatus => booking::SeatStatus { Available, Held, Sold });
wire_enum!(EventStatus => event::EventStatus { Draft, Published, Cancelled });
wire_enum!(CategoryKind => event::CategoryKind { GeneralAdmission, Seated });

impl From<Caller> for common::Caller {
    fn from(caller: Caller) -> Self {
        common::Caller { user_id: caller.user_id.to_string(), role: caller.role.to_wire() }
    }
}

impl TryFrom<common::Caller> for Caller {
    type Error = Error;

    /// Fails with `unauthorized` when the user id or the role cannot be read: the gateway sends
    /// only callers of verified tokens, so a bad one is not a user.
    fn try_from(caller: common::Caller) -> Result<Self, Error> {
        let user_id = Uuid::parse_str(&caller.user_id).ok();
        match (user_id, Role::from_wire(caller.role)) {
            (Some(user_id), Some(role)) => Ok(Caller { user_id, role }),
            _ => Err(Error::unauthorized("the caller is not a user with a role")),
        }
    }
}

/// The caller a call needs: absent is `unauthorized`.
pub fn required_caller(caller: Option<common::Caller>) -> Result<Caller, Error> {
    caller.ok_or_else(|| Error::unauthorized("this needs an access token"))?.try_into()
}

/// The caller of a call that anyone may make, if there is one.
pub fn optional_caller(caller: Option<common::Caller>) -> Result<Option<Caller>, Error> {
    caller.map(Caller::try_from).transpose()
}

/// A page of a list as a client asked for it.
impl common::PageRequest {
    pub fn new(size: PageSize, cursor: Option<String>) -> Self {
        common::PageRequest { limit: size.get(), cursor }
    }

    /// The page size, checked: a service checks it whatever its caller did.
    pub fn size(&self) -> Result<PageSize, Error> {
        PageSize::from_wire(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: WireEnum + PartialEq + std::fmt::Debug>(all: &[T]) {
        for &value in all {
            assert_eq!(T::from_wire(value.to_wire()), Some(value));
        }
        assert_eq!(T::from_wire(0), None, "UNSPECIFIED is no value");
        assert_eq!(T::from_wire(i32::MAX), None);
    }

    #[test]
    fn every_shared_enum_round_trips_through_its_wire_enum() {
        round_trips(Role::ALL);
        round_trips(BookingStatus::ALL);
        round_trips(SeatStatus::ALL);
        round_trips(EventStatus::ALL);
        round_trips(CategoryKind::ALL);
    }

    #[test]
    fn a_caller_round_trips_and_a_bad_one_is_unauthorized() {
        let caller = Caller::new(Uuid::now_v7(), Role::Organizer);
        assert_eq!(required_caller(Some(caller.into())).unwrap(), caller);
        assert_eq!(optional_caller(None).unwrap(), None);
        let code = boxoffice_errors::Code::Unauthorized;
        assert_eq!(required_caller(None).unwrap_err().code, code);
        let bad = common::Caller { user_id: "me".to_owned(), role: Role::Admin.to_wire() };
        assert_eq!(required_caller(Some(bad)).unwrap_err().code, code);
        let unspecified = common::Caller { user_id: Uuid::now_v7().to_string(), role: 0 };
        assert_eq!(required_caller(Some(unspecified)).unwrap_err().code, code);
    }
}
