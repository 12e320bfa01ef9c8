//! `GET /health` (liveness: the process answers and its database opens a query) and
//! `GET /ready` (readiness: the database answers and has every migration this binary needs).

use axum::extract::State;
use axum::Json;
use http::StatusCode;

use crate::server::startup::state::AppState;

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    status: &'static str,
    /// `ok` or `unreachable`.
    database: &'static str,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` or `not ready`.
    status: &'static str,
    /// `ok` or `unreachable`.
    database: &'static str,
    /// Migrations of this binary the database has not applied.
    pending_migrations: usize,
}

/// Liveness: the process answers and its database answers a trivial query.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "Up", body = Health),
        (status = 503, description = "The database is unreachable", body = Health),
    )
)]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let reachable = within_limit(state.db.ping()).await.map_err(|e| {
        tracing::error!(error = %e, "health check: database unreachable");
    });
    let body = Health {
        status: if reachable.is_ok() { "ok" } else { "degraded" },
        database: database_word(reachable.is_ok()),
    };
    (status(reachable.is_ok()), Json(body))
}

/// A database that does not answer within this is reported unreachable: a load balancer's
/// probe gets its answer in time, and the pool keeps trying to reconnect in the background.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

async fn within_limit<T>(
    check: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(outcome) => outcome.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
    }
}

fn database_word(reachable: bool) -> &'static str {
    if reachable {
        "ok"
    } else {
        "unreachable"
    }
}

fn status(ok: bool) -> StatusCode {
    if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Readiness: send traffic here only when the database answers and its schema is current.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "Database unreachable or migrations missing", body = Readiness),
    )
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let pending = within_limit(state.db.pending_migrations())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "readiness check: database unreachable");
        });
    let ready = pending == Ok(0);
    let body = Readiness {
        status: if ready { "ready" } else { "not ready" },
        database: database_word(pending.is_ok()),
        pending_migrations: pending.unwrap_or(0),
    };
    (status(ready), Json(body))
}
