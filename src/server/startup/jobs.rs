//! Background work: every ten minutes, delete expired and long-ended sessions and audit events
//! past their retention, and forget old login failures.

use std::time::Duration;

use crate::server::startup::state::AppState;
use crate::server::{accounts::audit, sessions};

const EVERY: Duration = Duration::from_secs(600);

pub fn spawn_cleanup(state: AppState) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        loop {
            every.tick().await;
            if state.db.is_closed() {
                break;
            }
            state.throttle.prune(state.clock.now());
            match sessions::delete_stale(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "stale sessions cleaned up"),
                Err(e) => tracing::warn!(error = %e, "session clean-up failed"),
            }
            let keep = crate::server::store::secs(state.config.audit_retention);
            match audit::delete_before(&state.db, state.now() - keep).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "old audit events deleted"),
                Err(e) => tracing::warn!(error = %e, "audit clean-up failed"),
            }
        }
    });
}
