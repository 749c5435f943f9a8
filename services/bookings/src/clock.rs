//! The bookings service's clock. Holds expire by it, so tests move it forward instead of
//! sleeping for ten minutes.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SubsecRound as _, Utc};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// An offset added to the system time; zero in production.
    offset: Arc<Mutex<Duration>>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, to the microsecond (what the databases store).
    pub fn now(&self) -> DateTime<Utc> {
        let offset = *self.offset.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (Utc::now() + offset).trunc_subsecs(6)
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: std::time::Duration) {
        let by = Duration::from_std(by).expect("a test advances the clock by a sane amount");
        *self.offset.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) += by;
    }
}
