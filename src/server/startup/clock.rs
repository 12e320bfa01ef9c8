//! The time every rule reads: token expiry, session lifetimes, throttling windows and stored
//! timestamps. Production follows the system clock; tests move a clock forward instead of
//! sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Seconds added to the system time; shared by every clone, so moving one moves all.
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp() + self.offset_secs.load(Ordering::Relaxed)
    }

    /// Moves this clock and every clone of it forward. Only tests call it.
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX / 4);
        self.offset_secs.fetch_add(secs, Ordering::Relaxed);
    }
}

/// Unix seconds as RFC 3339, for the API and pages.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_one_clone_moves_them_all() {
        let clock = Clock::system();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(Duration::from_secs(3600));
        assert!(copy.now() >= before + 3600);
    }
}
