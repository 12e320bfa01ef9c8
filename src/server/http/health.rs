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
    match state.db.ping().await {
        Ok(_) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                database: "ok",
            }),
        ),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "degraded",
                    database: "unreachable",
                }),
            )
        }
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
    match state.db.pending_migrations().await {
        Ok(0) => (
            StatusCode::OK,
            Json(Readiness {
                status: "ready",
                database: "ok",
                pending_migrations: 0,
            }),
        ),
        Ok(pending) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Readiness {
                status: "not ready",
                database: "ok",
                pending_migrations: pending,
            }),
        ),
        Err(e) => {
            tracing::error!(error = %e, "readiness check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Readiness {
                    status: "not ready",
                    database: "unreachable",
                    pending_migrations: 0,
                }),
            )
        }
    }
}
