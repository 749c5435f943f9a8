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

/// Conversions between the wire's role enum and [`boxoffice_auth::Role`], written once.
mod role {
    use boxoffice_auth::Role;

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

    /// Reads the role of a wire message (an `i32`); `None` for unknown or unspecified values.
    pub fn role_from_wire(value: i32) -> Option<Role> {
        WireRole::try_from(value)
            .ok()
            .and_then(|role| Role::try_from(role).ok())
    }
}

pub use role::role_from_wire;
