//! Who is calling. `auth::authenticate` records an `Authentication` in every request's
//! extensions; `CurrentUser` and `Client` are then the only way pages, server functions and the
//! JSON API learn who is calling and from where. This module depends on nothing else in the
//! server, so every other module may use it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use http::header::{AUTHORIZATION, USER_AGENT};
use http::request::Parts;
use http::HeaderMap;

use crate::domain::AppError;

/// The calling person: who a valid access token speaks for, and through which session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentUser {
    pub user_id: i64,
    pub session_id: String,
    pub role: String,
}

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

impl Authentication {
    pub fn of(extensions: &http::Extensions) -> Option<&CurrentUser> {
        extensions
            .get::<Authentication>()
            .and_then(|auth| auth.0.as_ref())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(parts)
    }
}

/// The caller's browser and network address, recorded with sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Client {
    pub user_agent: String,
    pub ip_address: String,
}

/// Longest user agent kept; browsers send about 150 characters.
const MAX_USER_AGENT: usize = 512;

impl Client {
    pub fn new(user_agent: &str, ip_address: &str) -> Self {
        Self {
            user_agent: user_agent.chars().take(MAX_USER_AGENT).collect(),
            ip_address: ip_address.to_string(),
        }
    }

    pub fn from_request(headers: &HeaderMap, extensions: &http::Extensions) -> Self {
        let user_agent = headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let ip_address = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string())
            .unwrap_or_default();
        Self::new(user_agent, &ip_address)
    }

    pub fn from_parts(parts: &Parts) -> Self {
        Self::from_request(&parts.headers, &parts.extensions)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
