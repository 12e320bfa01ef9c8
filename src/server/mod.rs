//! Server-only code: configuration, storage, security and the HTTP surface.

pub mod auth;
pub mod config;
pub mod cookies;
pub mod db;
pub mod password;
pub mod projects;
pub mod rest;
pub mod security;
pub mod sessions;
pub mod state;
pub mod throttle;
pub mod tokens;
pub mod users;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use tower_cookies::CookieManagerLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use tracing_subscriber::EnvFilter;

use crate::app::{shell, App};
use crate::domain::{AppError, ErrorKind};
use state::AppState;

/// The whole application: pages, server functions, the JSON API and their security layers.
pub fn router(state: AppState) -> Router {
    let routes = page_routes();
    let options = state.leptos_options.clone();
    let (api, _) = rest::router().split_for_parts();
    Router::new()
        .route("/health", get(health))
        .merge(api)
        .merge(rest::docs())
        .leptos_routes(&state, routes, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // Outermost last: trace → headers → API error shape → body limit → cookies → CSRF → who → page access.
        .layer(from_fn(security::page_access))
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .layer(from_fn_with_state(state.clone(), security::csrf_guard))
        .layer(from_fn(server_fn_status))
        .layer(CookieManagerLayer::new())
        .layer(RequestBodyLimitLayer::new(state.config.max_body_bytes))
        .layer(from_fn(rest::error_shape))
        .layer(from_fn_with_state(
            state.clone(),
            security::security_headers,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The page routes, generated once per process. Leptos suppresses resource loading
/// process-wide while it generates a route list, so generating it again while another router
/// renders a page can leave that page's resources pending forever (leptos-rs/leptos#4773).
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
    database: &'static str,
}

async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(&state.db)
        .await
    {
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

pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::Validation => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Server functions answer every error with 500; give the client's error its real status
/// (422, 401, 429, …) so only real faults look like faults.
async fn server_fn_status(request: Request, next: Next) -> Response {
    let is_server_fn =
        request.uri().path().starts_with("/api/") && !request.uri().path().starts_with("/api/v1/");
    let response = next.run(request).await;
    if !is_server_fn || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "").into_response();
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = status_of(err.kind);
        if let Some(secs) = err.retry_after_secs {
            if let Ok(value) = secs.to_string().parse() {
                parts.headers.insert(http::header::RETRY_AFTER, value);
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

/// Starts the server; a bad setting ends start-up with a message naming it.
pub async fn run() -> ExitCode {
    init_tracing();
    let config = match config::Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("gatehouse: invalid configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    let leptos_options = match leptos::config::get_configuration(None) {
        Ok(conf) => conf.leptos_options,
        Err(e) => {
            eprintln!("gatehouse: invalid Leptos configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = leptos_options.site_addr;
    let state = match AppState::new(config, leptos_options).await {
        Ok(state) => state,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return ExitCode::FAILURE;
        }
    };
    spawn_cleanup(state.clone());
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("gatehouse: LEPTOS_SITE_ADDR: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("listening on http://{addr}");
    if let Err(e) = serve(listener, state, shutdown_signal()).await {
        eprintln!("gatehouse: server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Serves the application on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Pages stream out in chunks; without TCP_NODELAY, Nagle's algorithm and delayed ACKs add
    // ~40 ms to some responses.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Every ten minutes: deletes expired and long-ended sessions, forgets old login failures.
fn spawn_cleanup(state: AppState) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        loop {
            every.tick().await;
            state.throttle.prune(db::now());
            match state.sessions.delete_stale().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "stale sessions cleaned up"),
                Err(e) => tracing::warn!(error = %e, "session clean-up failed"),
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Server-function helpers: the app state and the calling person, from the request context.
pub mod context {
    use http::request::Parts;
    use leptos::prelude::use_context;
    use tower_cookies::Cookies;

    use super::auth::{ClientMeta, CurrentUser};
    use super::state::AppState;
    use crate::domain::AppError;

    pub fn state() -> Result<AppState, AppError> {
        use_context::<AppState>().ok_or_else(AppError::internal)
    }

    fn parts() -> Result<Parts, AppError> {
        use_context::<Parts>().ok_or_else(AppError::internal)
    }

    pub fn current_user() -> Result<CurrentUser, AppError> {
        CurrentUser::from_parts(&parts()?)
    }

    pub fn cookie_jar() -> Result<Cookies, AppError> {
        parts()?
            .extensions
            .get::<Cookies>()
            .cloned()
            .ok_or_else(AppError::internal)
    }

    pub fn client_meta() -> Result<ClientMeta, AppError> {
        Ok(ClientMeta::from_parts(&parts()?))
    }
}
