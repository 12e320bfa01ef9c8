//! The metrics listener (`METRICS_ADDR`, its own port so metrics are never public by
//! accident) and the middleware that records every request: request counts and latency by
//! route and status, login outcomes, and gauges read when scraped (sessions, hash queue,
//! outbox, database pool).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::header::CONTENT_TYPE;

use crate::server::http::guards::is_static_asset;
use crate::server::sessions;
use crate::server::startup::state::AppState;

/// Middleware: counts every request under its route pattern (`/api/v1/projects/{id}`), never
/// the raw path.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method()).to_string();
    let route = match request.extensions().get::<MatchedPath>() {
        Some(matched) => matched.as_str().to_string(),
        None if is_static_asset(request.uri().path()) => "static".to_string(),
        None => "unmatched".to_string(),
    };
    let response = next.run(request).await;
    state
        .metrics
        .observe(route, method, response.status().as_u16(), started.elapsed());
    response
}

/// A request method as a label: the standard ones by name, anything else as `other`, so
/// made-up methods cannot grow the map of series (nor fill the access log).
pub fn method_label(method: &http::Method) -> &'static str {
    use http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The whole exposition, gauges read now.
pub async fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(8 * 1024);
    state.metrics.write_requests(&mut out);
    state.metrics.write_logins(&mut out);
    let mut gauge = |name: &str, help: &str, value: String| {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        );
    };
    match sessions::count_active(state).await {
        Ok(n) => gauge(
            "gatehouse_active_sessions",
            "Sessions not ended, revoked or expired.",
            n.to_string(),
        ),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count sessions"),
    }
    gauge(
        "gatehouse_hash_queue_depth",
        "Password hashes running or waiting.",
        state.hasher.queue_depth().to_string(),
    );
    match state.mailer.backlog().await {
        Ok(n) => gauge(
            "gatehouse_outbox_backlog",
            "Emails not yet delivered.",
            n.to_string(),
        ),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count the outbox"),
    }
    let (size, idle) = state.db.connections();
    gauge(
        "gatehouse_db_pool_connections",
        "Open database connections.",
        size.to_string(),
    );
    gauge(
        "gatehouse_db_pool_in_use",
        "Database connections in use.",
        size.saturating_sub(idle).to_string(),
    );
    gauge(
        "gatehouse_db_pool_max",
        "Most database connections the pool opens.",
        state.db.max_connections().to_string(),
    );
    out
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        render(&state).await,
    )
        .into_response()
}

/// The metrics listener's router: `/metrics` and nothing else.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Serves `/metrics` on `addr` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    if let Err(e) = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, ?addr, "metrics listener failed");
    }
}
