//! Background work: every ten minutes, delete expired and long-ended sessions, ended app
//! grants, and audit events
//! past their retention (once per interval among all processes on the database:
//! `store::jobs`), and forget this process's old login failures.

use std::time::Duration;

use crate::server::accounts::{audit, two_step};
use crate::server::startup::state::AppState;
use crate::server::{sessions, store};

const EVERY: Duration = Duration::from_secs(600);

/// Whether this process runs this interval's clean-up (another may have taken the turn).
pub async fn cleanup_turn(state: &AppState) -> bool {
    let turn = async {
        let mut conn = state.db.acquire().await?;
        let interval = store::secs(EVERY);
        store::jobs::take_turn(&mut conn, "cleanup", state.now(), interval).await
    };
    turn.await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "clean-up: cannot take the turn");
        false
    })
}

pub fn spawn_cleanup(state: AppState) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        loop {
            every.tick().await;
            if state.db.is_closed() {
                break;
            }
            state.throttle.prune(state.clock.now()).await;
            if !cleanup_turn(&state).await {
                continue;
            }
            match sessions::delete_stale(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "stale sessions cleaned up"),
                Err(e) => tracing::warn!(error = %e, "session clean-up failed"),
            }
            match two_step::delete_expired(&state).await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pending login clean-up failed"),
            }
            match state.resubmissions.prune(state.now()).await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "submission clean-up failed"),
            }
            // Ended grants are kept a day: a code or refresh token presented again meanwhile
            // is still recognised as a reuse.
            let ended = async {
                let mut conn = state.db.acquire().await?;
                store::oidc::delete_ended_grants(&mut conn, state.now() - 86_400).await
            };
            match ended.await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "grant clean-up failed"),
            }
            let keep = store::secs(state.config.audit_retention);
            match audit::delete_before(&state.db, state.now() - keep).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "old audit events deleted"),
                Err(e) => tracing::warn!(error = %e, "audit clean-up failed"),
            }
        }
    });
}
