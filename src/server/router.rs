//! The whole application in one router: pages, server functions, the JSON API and the layers
//! every request passes through.

use std::sync::OnceLock;

use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use axum::Router;
use http::StatusCode;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use tower_cookies::CookieManagerLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use super::state::AppState;
use super::{auth, error, health, rest, security};
use crate::app::{shell, App};

pub fn router(state: AppState) -> Router {
    let options = state.leptos_options.clone();
    let (api, _) = rest::router().split_for_parts();
    Router::new()
        .route("/health", get(health::health))
        .merge(api)
        .merge(rest::docs())
        .leptos_routes(&state, page_routes(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // Outermost last: trace → headers → API error shape → timeout → body limit → cookies →
        // server-function status → CSRF → who → page access.
        .layer(from_fn(security::page_access))
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .layer(from_fn_with_state(state.clone(), security::csrf_guard))
        .layer(from_fn(error::server_fn_status))
        .layer(CookieManagerLayer::new())
        .layer(RequestBodyLimitLayer::new(state.config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout,
        ))
        .layer(from_fn(error::api_error_shape))
        .layer(from_fn_with_state(
            state.clone(),
            security::security_headers,
        ))
        // The span names the path only: query strings may carry tokens (reset and
        // confirmation links) and must never reach a log line.
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &http::Request<_>| {
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                )
            }),
        )
        .with_state(state)
}

/// The page routes, generated once per process. Leptos suppresses resource loading
/// process-wide while it generates a route list, so generating it again while another router
/// renders a page can leave that page's resources pending forever (leptos-rs/leptos#4773).
pub fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}
