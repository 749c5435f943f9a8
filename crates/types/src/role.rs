//! Who is asking.

use uuid::Uuid;

use crate::names::named_enum;

named_enum! {
    /// What an account may do. New accounts are customers; only an admin or an operator changes
    /// this.
    pub enum Role ("role") {
        /// Buys tickets.
        Customer => "customer",
        /// Creates venues and events, and sees their sales.
        Organizer => "organizer",
        /// May do and see everything.
        Admin => "admin",
    }
}

/// Who is asking, as a verified access token says: every service call made on behalf of a user
/// carries one, and services decide ownership and roles from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub role: Role,
}

impl Caller {
    pub fn new(user_id: Uuid, role: Role) -> Self {
        Caller { user_id, role }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the caller may act on something `owner_id` owns: its owner, or an admin.
    pub fn owns(&self, owner_id: Uuid) -> bool {
        self.is_admin() || self.user_id == owner_id
    }

    /// Organizers and admins create venues and events.
    pub fn is_organizer(&self) -> bool {
        matches!(self.role, Role::Organizer | Role::Admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_their_names_only() {
        for &role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        assert!("Admin".parse::<Role>().is_err());
        let error = "root".parse::<Role>().unwrap_err();
        assert_eq!(error.to_string(), "unknown role `root`; expected one of customer, organizer or admin");
    }

    #[test]
    fn an_admin_owns_everything_and_others_their_own() {
        let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(Caller::new(me, Role::Customer).owns(me));
        assert!(!Caller::new(me, Role::Organizer).owns(other));
        assert!(Caller::new(me, Role::Admin).owns(other));
    }
}
