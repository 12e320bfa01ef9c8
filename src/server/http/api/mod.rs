//! The JSON API under `/api/v1`: thin handlers over the same service functions the pages use,
//! documented with OpenAPI from the same annotations that build the router.

mod admin;
mod auth;
mod extract;
mod projects;
mod responses;
mod sessions;
mod users;

use axum::Router;
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

pub use extract::{ApiForm, ApiJson};

use crate::domain::{AppError, ErrorKind};
use crate::server::http::health;
use crate::server::startup::state::AppState;

pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse API",
        version = "1",
        description = "Accounts, sessions, projects and tasks. Authenticate with \
                       `Authorization: Bearer <access token>` from `/auth/token` or `/auth/login`."
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Register, obtain, renew and end tokens"),
        (name = "users", description = "Accounts and profiles"),
        (name = "sessions", description = "Where the person is logged in"),
        (name = "projects", description = "The person's projects and tasks"),
        (name = "admin", description = "Administrators: accounts, their sessions and audit trail"),
        (name = "operations", description = "Liveness and readiness for load balancers and orchestrators"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        // Lets Swagger UI's "Authorize" log in with email and password.
        components.add_security_scheme(
            "password",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                "/api/v1/auth/token",
                Scopes::new(),
            ))])),
        );
    }
}

/// Every API route, with its documentation.
pub fn router() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .routes(routes!(auth::register))
        .routes(routes!(auth::token))
        .routes(routes!(auth::login))
        .routes(routes!(auth::mfa))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::forgot_password))
        .routes(routes!(auth::reset_password))
        .routes(routes!(users::me))
        .routes(routes!(users::get_profile, users::update_profile))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::end))
        .routes(routes!(projects::list, projects::create))
        .routes(routes!(projects::get, projects::update, projects::delete))
        .routes(routes!(projects::list_tasks, projects::add_task))
        .routes(routes!(projects::update_task, projects::delete_task))
        .routes(routes!(admin::list))
        .routes(routes!(admin::get, admin::update))
        .routes(routes!(admin::end_sessions))
        .routes(routes!(admin::reset_two_step));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .nest("/api/v1", v1)
}

/// The OpenAPI document and the interactive docs, both served from the binary.
pub fn docs() -> Router<AppState> {
    let (_, openapi) = router().split_for_parts();
    Router::new()
        .merge(SwaggerUi::new("/docs").url(OPENAPI_PATH, openapi))
        .route(
            "/api/v1/{*rest}",
            axum::routing::any(|| async {
                AppError::new(ErrorKind::NotFound, "No such endpoint.")
            }),
        )
}
