//! Door staff: the organizer of an event lets other accounts check its tickets in, and nothing
//! else. The grant is the event's (it goes with the event when a draft is deleted); the bookings
//! service asks [`Events::is_door_staff`] when someone other than the organizer checks a
//! ticket in, at every scan, so a revoked grant stops at once.

use boxoffice_errors::{Code, Error};
use boxoffice_types::limits::events::MAX_DOOR_STAFF_PER_EVENT;
use boxoffice_types::Caller;
use uuid::Uuid;

use crate::service::{now, Events};
use crate::store::{DoorStaffRecord, EventRecord};

/// The doors a staff account is shown at most.
const MAX_LISTED_DOORS: u32 = 100;

impl Events {
    /// The accounts that may check the event's tickets in, for its organizer.
    pub async fn door_staff(&self, caller: Caller, event_id: Uuid) -> Result<Vec<DoorStaffRecord>, Error> {
        self.event_to_change(caller, event_id).await?;
        self.store.door_staff(event_id).await
    }

    /// Lets `user_id` (whose email the gateway looked up) check the event's tickets in.
    pub async fn grant_door_staff(
        &self,
        caller: Caller,
        event_id: Uuid,
        user_id: Uuid,
        email: &str,
    ) -> Result<Vec<DoorStaffRecord>, Error> {
        self.event_to_change(caller, event_id).await?;
        let staff = self.store.door_staff(event_id).await?;
        if staff.iter().any(|granted| granted.user_id == user_id) {
            return Ok(staff);
        }
        if staff.len() >= MAX_DOOR_STAFF_PER_EVENT {
            return Err(Error::new(
                Code::LimitExceeded,
                format!("email: an event has at most {MAX_DOOR_STAFF_PER_EVENT} door staff"),
            ));
        }
        let record = DoorStaffRecord { user_id, email: email.to_owned(), granted_at: now() };
        self.store.grant_door_staff(event_id, &record).await?;
        tracing::info!(%event_id, %user_id, "door staff granted");
        self.store.door_staff(event_id).await
    }

    pub async fn revoke_door_staff(
        &self,
        caller: Caller,
        event_id: Uuid,
        user_id: Uuid,
    ) -> Result<Vec<DoorStaffRecord>, Error> {
        self.event_to_change(caller, event_id).await?;
        if !self.store.revoke_door_staff(event_id, user_id).await? {
            return Err(Error::not_found("door staff"));
        }
        tracing::info!(%event_id, %user_id, "door staff revoked");
        self.store.door_staff(event_id).await
    }

    /// The published events whose door `caller` keeps, soonest first: where their scanner is.
    pub async fn doors(&self, caller: Caller) -> Result<Vec<EventRecord>, Error> {
        self.store.doors_of(caller.user_id, MAX_LISTED_DOORS).await
    }

    /// Whether `user_id` may check the event's tickets in as door staff (for the bookings
    /// service; the organizer and admins may anyway).
    pub async fn is_door_staff(&self, event_id: Uuid, user_id: Uuid) -> Result<bool, Error> {
        self.store.is_door_staff(event_id, user_id).await
    }
}
