//! The whole application in one router: pages, server functions, the JSON API and the layers
//! every request passes through.

use std::sync::OnceLock;

use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use axum::Router;
use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, SET_COOKIE};
use http::StatusCode;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use tower_cookies::CookieManagerLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::timeout::TimeoutLayer;

use super::state::AppState;
use super::{access, auth, error, form_errors, metrics, rest, security};
use crate::app::{shell, App};

/// The application with every layer.
pub fn router(state: AppState) -> Router {
    layered(routes(&state), state)
}

/// Every route of the application, without the layers.
pub fn routes(state: &AppState) -> Router<AppState> {
    let options = state.leptos_options.clone();
    let (api, _) = rest::router().split_for_parts();
    Router::new()
        .route("/favicon.ico", get(security::favicon))
        .merge(api)
        .merge(rest::docs())
        .leptos_routes(state, page_routes(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
}

/// Wraps `routes` in the layers every request passes through. Outermost last: sensitive
/// headers → request id → access log → metrics → compression → security headers → panic
/// shape → panic catcher → API error shape → timeout → body limit → cookies → form errors →
/// server-function status → CSRF → who → page access.
pub fn layered(routes: Router<AppState>, state: AppState) -> Router {
    let sensitive = [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE];
    routes
        .layer(from_fn(security::page_access))
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .layer(from_fn_with_state(state.clone(), security::csrf_guard))
        .layer(from_fn(error::server_fn_status))
        .layer(from_fn_with_state(
            state.clone(),
            form_errors::keep_values_out_of_addresses,
        ))
        .layer(CookieManagerLayer::new())
        .layer(RequestBodyLimitLayer::new(state.config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout,
        ))
        .layer(from_fn(error::api_error_shape))
        .layer(access::catch_panic())
        .layer(from_fn(access::panic_shape))
        .layer(from_fn_with_state(
            state.clone(),
            security::security_headers,
        ))
        .layer(CompressionLayer::new())
        .layer(from_fn_with_state(state.clone(), metrics::record))
        .layer(access::access_log())
        .layer(from_fn(access::request_id))
        .layer(SetSensitiveResponseHeadersLayer::new([SET_COOKIE]))
        .layer(SetSensitiveRequestHeadersLayer::new(sensitive))
        .with_state(state)
}

/// The page routes, generated once per process. Leptos suppresses resource loading
/// process-wide while it generates a route list, so generating it again while another router
/// renders a page can leave that page's resources pending forever (leptos-rs/leptos#4773).
pub fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}
