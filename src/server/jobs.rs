//! Background work: every ten minutes, delete expired and long-ended sessions and forget old
//! login failures.

use std::time::Duration;

use super::sessions;
use super::state::AppState;

const EVERY: Duration = Duration::from_secs(600);

pub fn spawn_cleanup(state: AppState) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        loop {
            every.tick().await;
            state.throttle.prune(state.clock.now());
            match sessions::delete_stale(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "stale sessions cleaned up"),
                Err(e) => tracing::warn!(error = %e, "session clean-up failed"),
            }
        }
    });
}
