//! Who is calling. `authenticate` runs on every request: it checks the Bearer token or the
//! access cookie, renews an expired access cookie from the refresh cookie on the same response
//! (silent renewal), and records the result in the request's extensions. `CurrentUser` is then
//! the only way pages, server functions and the JSON API learn who is calling.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header::{AUTHORIZATION, USER_AGENT};
use http::request::Parts;
use http::HeaderMap;
use tower_cookies::Cookies;

use super::security::is_static_asset;
use super::sessions::RefreshError;
use super::state::AppState;
use super::users::Client;
use crate::domain::AppError;

pub use super::sessions::CurrentUser;

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }

    /// Reads what `authenticate` recorded. Used by the axum extractor and by server functions.
    pub fn from_parts(parts: &Parts) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<Authentication>()
            .and_then(|auth| auth.0.clone())
            .ok_or_else(AppError::unauthenticated)
    }
}

/// Recorded in every request's extensions by `authenticate`.
#[derive(Clone, Debug, Default)]
pub struct Authentication(pub Option<CurrentUser>);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(parts)
    }
}

pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

pub fn client_address(extensions: &http::Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string())
        .unwrap_or_default()
}

pub fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Browser and address of the caller, recorded with a new session.
#[derive(Clone, Debug, Default)]
pub struct ClientMeta {
    pub user_agent: String,
    pub ip_address: String,
}

impl ClientMeta {
    pub fn from_parts(parts: &Parts) -> Self {
        Self {
            user_agent: user_agent(&parts.headers).to_string(),
            ip_address: client_address(&parts.extensions),
        }
    }

    pub fn client(&self) -> Client<'_> {
        Client {
            user_agent: &self.user_agent,
            ip_address: &self.ip_address,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

pub async fn authenticate(
    State(state): State<AppState>,
    jar: Cookies,
    mut request: Request,
    next: Next,
) -> Response {
    // Static files are the same for everyone: no session read, no renewal.
    let current = if is_static_asset(request.uri().path()) {
        None
    } else {
        let address = client_address(request.extensions());
        identify(&state, &jar, request.headers(), &address).await
    };
    request.extensions_mut().insert(Authentication(current));
    next.run(request).await
}

async fn identify(
    state: &AppState,
    jar: &Cookies,
    headers: &HeaderMap,
    address: &str,
) -> Option<CurrentUser> {
    if headers.contains_key(AUTHORIZATION) {
        // An explicit credential decides alone; cookies are not consulted.
        let token = bearer_token(headers)?;
        return state.sessions.authenticate(token).await.ok();
    }
    if let Some(token) = state.cookies.access_token(jar) {
        if let Ok(user) = state.sessions.authenticate(&token).await {
            return Some(user);
        }
    }
    let Some(refresh) = state.cookies.refresh_token(jar) else {
        state.cookies.clear(jar);
        return None;
    };
    let renewed = state
        .sessions
        .refresh(&refresh, user_agent(headers), address)
        .await;
    match renewed {
        Ok(issued) => {
            state.cookies.set(jar, &issued);
            state.sessions.authenticate(&issued.access_token).await.ok()
        }
        Err(RefreshError::Invalid | RefreshError::Reused) => {
            state.cookies.clear(jar);
            None
        }
        // Keep the cookies: a parallel request has newer ones on their way, or a database
        // hiccup should not log the person out.
        Err(RefreshError::Raced | RefreshError::Internal) => None,
    }
}
