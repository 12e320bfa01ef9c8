//! The whole application in one router: pages, server functions, the JSON API and the layers
//! every request passes through.

use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, SET_COOKIE};
use http::{Method, StatusCode};
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use tower::{ServiceBuilder, ServiceExt};
use tower_cookies::CookieManagerLayer;
use tower_http::body::Limited;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;

use crate::app::{page_shell, shell, App};
use crate::server::http::{access, api, auth, error, form_errors, guards, metrics, oidc, passkeys};
use crate::server::startup::state::AppState;

/// The application with every layer.
pub fn router(state: AppState) -> Router {
    layered(routes(&state), state)
}

/// Every route of the application, without the layers.
pub fn routes(state: &AppState) -> Router<AppState> {
    // Leptos clones the page closure for every page: an `Arc` makes that one reference count.
    let options = std::sync::Arc::new(state.leptos_options.clone());
    let files = ServeDir::new(&*state.leptos_options.site_root)
        .precompressed_br()
        .precompressed_gzip();
    let (api, _) = api::router().split_for_parts();
    Router::new()
        .route("/favicon.ico", get(guards::favicon))
        .merge(api)
        .merge(api::docs())
        .merge(passkeys::routes())
        .merge(oidc::routes())
        .leptos_routes(state, page_routes(), move || page_shell(&options))
        .fallback(move |State(state): State<AppState>, request: Request| {
            files_or_not_found(files.clone(), state, request)
        })
}

/// Built files and `public/` (the favicon) from the site root; anything else is the 404
/// page. Files are served here rather than by Leptos's `file_and_error_handler`, which answers
/// a file inside a reactive owner made under whichever owner is current on its thread: when
/// that is a page being rendered on the same thread, the file's answer takes the page's
/// response headers (its CSP was seen arriving on `/favicon.svg`, leaving the page with the
/// default CSP that blocks its own script and styles).
///
/// Leptos's handler looks for the file once more before rendering the 404 page: a missing
/// file costs two lookups, a found one none of Leptos's work.
async fn files_or_not_found(files: ServeDir, state: AppState, request: Request) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        let mut probe = Request::new(Body::empty());
        *probe.method_mut() = request.method().clone();
        *probe.uri_mut() = request.uri().clone();
        *probe.headers_mut() = request.headers().clone();
        let Ok(found) = files.oneshot(probe).await;
        if found.status().is_success() || found.status() == StatusCode::NOT_MODIFIED {
            return found.map(Body::new);
        }
    }
    let uri = request.uri().clone();
    leptos_axum::file_and_error_handler::<AppState, _>(shell)(uri, State(state), request).await
}

/// Wraps `routes` in the layers every request passes through, outermost first: sensitive
/// headers → request id → access log → metrics → compression → security headers → served
/// methods → panic
/// shape → panic catcher → API error shape → timeout → body limit → cookies → form errors →
/// server-function status → CSRF → the page a form names → who → page access.
///
/// One stack, added with one `layer` call: axum boxes what each call returns and clones every
/// boxed level on each request, so seventeen separate calls cost a member page dozens of
/// allocations before any work is done.
pub fn layered(routes: Router<AppState>, state: AppState) -> Router {
    let sensitive = [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE];
    let stack = ServiceBuilder::new()
        .layer(SetSensitiveRequestHeadersLayer::new(sensitive))
        .layer(SetSensitiveResponseHeadersLayer::new([SET_COOKIE]))
        .layer(from_fn(access::request_id))
        .layer(access::access_log())
        .layer(from_fn_with_state(state.clone(), metrics::record))
        .layer(CompressionLayer::new())
        .layer(from_fn_with_state(state.clone(), guards::security_headers))
        .layer(from_fn(guards::served_methods))
        .layer(from_fn(access::panic_shape))
        .layer(access::catch_panic())
        .layer(from_fn(error::api_error_shape))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout,
        ))
        // The timeout's own answer is an empty body of the type below it, which must have a
        // default: the body limit's answers are turned back into axum's.
        .map_response(IntoResponse::into_response)
        .layer(RequestBodyLimitLayer::new(state.config.max_body_bytes))
        // The body limit wraps request bodies; the layers below it take axum's.
        .map_request(|request: Request<Limited<Body>>| request.map(Body::new))
        .layer(CookieManagerLayer::new())
        .layer(from_fn_with_state(
            state.clone(),
            form_errors::keep_values_out_of_addresses,
        ))
        .layer(from_fn(error::server_fn_status))
        .layer(from_fn_with_state(state.clone(), guards::csrf_guard))
        // After the CSRF check, which must judge the request's own headers.
        .layer(from_fn_with_state(
            state.clone(),
            form_errors::form_names_its_page,
        ))
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .layer(from_fn(guards::page_access));
    routes.layer(stack).with_state(state)
}

/// The page routes, generated once per process. Leptos suppresses resource loading
/// process-wide while it generates a route list, so generating it again while another router
/// renders a page can leave that page's resources pending forever (leptos-rs/leptos#4773).
pub fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}
