//! The states the public API shows.

use crate::names::named_enum;

named_enum! {
    /// Where a booking stands. Which changes are allowed is the bookings service's rule
    /// (`services/bookings/src/domain.rs`).
    pub enum BookingStatus ("booking status") {
        /// Holding its tickets until `expires_at`.
        Pending => "pending",
        /// Paid; its tickets are issued.
        Confirmed => "confirmed",
        /// Cancelled while pending, by its owner or because the event was cancelled.
        Cancelled => "cancelled",
        /// Not confirmed before `expires_at`; its tickets went back to sale.
        Expired => "expired",
        /// Cancelled after confirmation and paid back.
        Refunded => "refunded",
    }
}

impl BookingStatus {
    /// Pending and confirmed bookings hold units; the others have given theirs back.
    pub fn is_live(self) -> bool {
        matches!(self, BookingStatus::Pending | BookingStatus::Confirmed)
    }
}

named_enum! {
    /// Where an event stands.
    pub enum EventStatus ("event status") {
        /// Seen only by its owner and admins; not bookable.
        Draft => "draft",
        /// Visible to anyone; bookable from `sale_starts_at`.
        Published => "published",
        /// Off sale for good; its bookings are refunded. Only its organizer and admins see it.
        Cancelled => "cancelled",
    }
}

named_enum! {
    /// How a ticket category's places are laid out.
    pub enum CategoryKind ("category kind") {
        /// `capacity` interchangeable places.
        GeneralAdmission => "general_admission",
        /// Every seat of `sections` of the event's venue.
        Seated => "seated",
    }
}

named_enum! {
    /// Whether a seat can be had.
    pub enum SeatStatus ("seat status") {
        Available => "available",
        /// In a pending booking until its hold expires.
        Held => "held",
        Sold => "sold",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_one_name_for_the_api_and_the_databases() {
        for &status in BookingStatus::ALL {
            assert_eq!(BookingStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        for &status in EventStatus::ALL {
            assert_eq!(serde_json::from_value::<EventStatus>(status.as_str().into()).unwrap(), status);
        }
        assert_eq!(serde_json::to_value(CategoryKind::GeneralAdmission).unwrap(), "general_admission");
        assert_eq!(SeatStatus::names(), "available, held or sold");
        assert_eq!(BookingStatus::parse("Pending"), None);
    }
}
