//! Renewals in progress on this process: a parallel renewal with the same refresh token waits
//! for the first and then gets its answer from the database (the grace answer). This only
//! saves work; across nodes the database decides which renewal wins (`store::rotate`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// A spent refresh token presented again within this window is a client that lost the renewal
/// response (or parallel requests racing), not a thief: it gets the session's current pair.
pub const REUSE_GRACE_SECS: i64 = 10;

/// Renewals in progress, one lock per presented token (by digest): parallel renewals with the
/// same token wait for the first, while unrelated renewals (and junk cookies) never wait on
/// each other.
#[derive(Default)]
pub struct Rotations {
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Rotations {
    pub(super) fn lock_for(&self, digest: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.in_flight)
            .entry(digest.to_string())
            .or_default()
            .clone()
    }

    pub(super) fn release(&self, digest: &str, held: Arc<tokio::sync::Mutex<()>>) {
        let mut in_flight = lock(&self.in_flight);
        // Two owners left: the map and `held`. Nobody else is waiting.
        if Arc::strong_count(&held) == 2 {
            in_flight.remove(digest);
        }
    }
}
