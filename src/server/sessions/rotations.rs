//! Renewals in progress and the pairs recently handed out, per process: a parallel renewal
//! with the same refresh token waits for the first and gets the same pair.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::server::security::tokens::IssuedTokens;

/// A spent refresh token presented again within this window is a client that lost the renewal
/// response (or parallel requests racing), not a thief: it gets the pair already issued.
pub const REUSE_GRACE_SECS: i64 = 10;

/// Renewals in progress and the pairs recently handed out.
#[derive(Default)]
pub struct Rotations {
    /// For `REUSE_GRACE_SECS`, the pair each spent token (by digest) was exchanged for.
    recent: Mutex<HashMap<String, Rotated>>,
    /// One lock per presented token: parallel renewals with the same token wait for the first
    /// and share its pair, while unrelated renewals (and junk cookies) never wait on each other.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

struct Rotated {
    spent_at: i64,
    issued: IssuedTokens,
    /// Digest of `issued`'s refresh token, kept so it is hashed once.
    issued_digest: String,
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

    /// The pair `digest` was exchanged for, while within the grace and still current.
    pub(super) fn answered(&self, digest: &str, now: i64) -> Option<IssuedTokens> {
        let mut recent = lock(&self.recent);
        recent.retain(|_, rotated| now - rotated.spent_at < REUSE_GRACE_SECS);
        recent.get(digest).map(|rotated| rotated.issued.clone())
    }

    /// Remembers that `spent` bought `issued`. `spent` itself was the answer to an older
    /// token, if any: that older token is no longer the one spent last, so it loses its grace.
    pub(super) fn remember(&self, spent: String, issued: &IssuedTokens, now: i64) {
        let mut recent = lock(&self.recent);
        recent.retain(|_, rotated| rotated.issued_digest != spent);
        let rotated = Rotated {
            spent_at: now,
            issued: issued.clone(),
            issued_digest: issued.refresh_token.digest(),
        };
        recent.insert(spent, rotated);
    }
}
