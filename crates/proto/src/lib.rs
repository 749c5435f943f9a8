//! The generated gRPC types, servers and typed clients of every boxoffice service.
//!
//! Servers and clients share these types; no other crate defines a copy of a wire type.

pub mod user {
    tonic::include_proto!("boxoffice.user.v1");
}

pub mod event {
    tonic::include_proto!("boxoffice.event.v1");
}

pub mod booking {
    tonic::include_proto!("boxoffice.booking.v1");
}

/// Conversions between the wire's role enums and [`boxoffice_auth::Role`], written once.
mod role {
    use std::fmt;

    use boxoffice_auth::Role;

    use crate::booking::{Caller as BookingCaller, Role as BookingRole};
    use crate::event::{Caller, Role as EventRole};
    use crate::user::Role as WireRole;

    impl From<Role> for WireRole {
        fn from(role: Role) -> Self {
            match role {
                Role::Customer => WireRole::Customer,
                Role::Organizer => WireRole::Organizer,
                Role::Admin => WireRole::Admin,
            }
        }
    }

    impl TryFrom<WireRole> for Role {
        type Error = WireRole;

        /// Fails for `ROLE_UNSPECIFIED`, which no account has.
        fn try_from(role: WireRole) -> Result<Self, WireRole> {
            match role {
                WireRole::Customer => Ok(Role::Customer),
                WireRole::Organizer => Ok(Role::Organizer),
                WireRole::Admin => Ok(Role::Admin),
                WireRole::Unspecified => Err(role),
            }
        }
    }

    // event.proto keeps its own copy of the role enum so that its package does not import the
    // users service's; the two copies convert the same way.
    impl From<Role> for EventRole {
        fn from(role: Role) -> Self {
            match role {
                Role::Customer => EventRole::Customer,
                Role::Organizer => EventRole::Organizer,
                Role::Admin => EventRole::Admin,
            }
        }
    }

    impl TryFrom<EventRole> for Role {
        type Error = EventRole;

        /// Fails for `ROLE_UNSPECIFIED`, which no caller has.
        fn try_from(role: EventRole) -> Result<Self, EventRole> {
            match role {
                EventRole::Customer => Ok(Role::Customer),
                EventRole::Organizer => Ok(Role::Organizer),
                EventRole::Admin => Ok(Role::Admin),
                EventRole::Unspecified => Err(role),
            }
        }
    }

    impl Caller {
        /// The caller of an events call, from a verified access token's subject and role.
        pub fn new(user_id: impl fmt::Display, role: Role) -> Self {
            Caller { user_id: user_id.to_string(), role: EventRole::from(role).into() }
        }
    }

    // booking.proto keeps a third copy, for the same reason as event.proto.
    impl From<Role> for BookingRole {
        fn from(role: Role) -> Self {
            match role {
                Role::Customer => BookingRole::Customer,
                Role::Organizer => BookingRole::Organizer,
                Role::Admin => BookingRole::Admin,
            }
        }
    }

    impl TryFrom<BookingRole> for Role {
        type Error = BookingRole;

        /// Fails for `ROLE_UNSPECIFIED`, which no caller has.
        fn try_from(role: BookingRole) -> Result<Self, BookingRole> {
            match role {
                BookingRole::Customer => Ok(Role::Customer),
                BookingRole::Organizer => Ok(Role::Organizer),
                BookingRole::Admin => Ok(Role::Admin),
                BookingRole::Unspecified => Err(role),
            }
        }
    }

    impl BookingCaller {
        /// The caller of a bookings call, from a verified access token's subject and role.
        pub fn new(user_id: impl fmt::Display, role: Role) -> Self {
            BookingCaller { user_id: user_id.to_string(), role: BookingRole::from(role).into() }
        }
    }

    /// Reads the role of a wire message (an `i32`); `None` for unknown or unspecified values.
    pub fn role_from_wire(value: i32) -> Option<Role> {
        WireRole::try_from(value).ok().and_then(|role| Role::try_from(role).ok())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn every_role_round_trips_through_every_wire_enum() {
            for role in [Role::Customer, Role::Organizer, Role::Admin] {
                assert_eq!(Role::try_from(WireRole::from(role)), Ok(role));
                assert_eq!(Role::try_from(EventRole::from(role)), Ok(role));
                assert_eq!(Role::try_from(BookingRole::from(role)), Ok(role));
            }
            let caller = Caller::new("0190a5a4-0000-7000-8000-000000000000", Role::Organizer);
            assert_eq!(caller.role(), EventRole::Organizer);
            let caller = BookingCaller::new("0190a5a4-0000-7000-8000-000000000000", Role::Admin);
            assert_eq!(caller.role(), BookingRole::Admin);
            assert_eq!(caller.user_id, "0190a5a4-0000-7000-8000-000000000000");
        }
    }
}

pub use role::role_from_wire;

/// Reads the caller that every internal call carries (`user_id`, `role` of any of the
/// services' `Caller` messages, whose role numbers are the same); `None` when either is not
/// valid.
pub fn caller_from_wire(user_id: &str, role: i32) -> Option<(uuid::Uuid, boxoffice_auth::Role)> {
    Some((uuid::Uuid::parse_str(user_id).ok()?, role_from_wire(role)?))
}

/// The shared secret that every internal gRPC call carries, so that only boxoffice's own
/// services (and not any process that can reach a service's port) may call it.
pub mod internal_auth {
    use std::sync::Arc;

    use tonic::metadata::{Ascii, MetadataValue};
    use tonic::service::Interceptor;
    use tonic::{Request, Status};

    pub const METADATA_KEY: &str = "x-boxoffice-internal-token";
    /// Shorter secrets are refused at start; a generated one has 43 characters.
    pub const MIN_TOKEN_CHARS: usize = 32;

    /// Client side: adds the token to every call.
    #[derive(Clone)]
    pub struct AttachToken(MetadataValue<Ascii>);

    impl AttachToken {
        pub fn new(token: &str) -> Result<Self, Status> {
            token
                .parse()
                .map(AttachToken)
                .map_err(|_| Status::invalid_argument("the internal token must be ASCII"))
        }
    }

    impl Interceptor for AttachToken {
        fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
            request.metadata_mut().insert(METADATA_KEY, self.0.clone());
            Ok(request)
        }
    }

    /// Server side: refuses every call without the token.
    #[derive(Clone)]
    pub struct RequireToken(Arc<[u8]>);

    impl RequireToken {
        pub fn new(token: &str) -> Self {
            RequireToken(token.as_bytes().into())
        }
    }

    impl Interceptor for RequireToken {
        fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
            let presented = request.metadata().get(METADATA_KEY).map(|value| value.as_bytes());
            match presented {
                Some(presented) if constant_time_eq(presented, &self.0) => Ok(request),
                _ => Err(Status::unauthenticated("internal calls need the internal token")),
            }
        }
    }

    /// Compares without stopping at the first difference, so the time taken reveals nothing
    /// about how much of a guess was right.
    fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
        left.len() == right.len() && left.iter().zip(right).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn only_the_right_token_passes() {
            let mut require = RequireToken::new("s3cret-s3cret-s3cret-s3cret-s3cret");
            let mut attach = AttachToken::new("s3cret-s3cret-s3cret-s3cret-s3cret").unwrap();
            assert!(require.call(attach.call(Request::new(())).unwrap()).is_ok());
            let mut wrong = AttachToken::new("s3cret-s3cret-s3cret-s3cret-s3creT").unwrap();
            assert!(require.call(wrong.call(Request::new(())).unwrap()).is_err());
            assert!(require.call(Request::new(())).is_err());
        }
    }
}
