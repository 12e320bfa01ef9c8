//! The middleware that finds out who is calling. It runs on every request: it checks the
//! Bearer token or the access cookie, renews an expired access cookie from the refresh cookie
//! on the same response (silent renewal), and records the result as an `Authentication` in the
//! request's extensions (see `principal`).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header::AUTHORIZATION;
use http::HeaderMap;
use tower_cookies::Cookies;

use crate::server::http::guards::is_static_asset;
use crate::server::security::principal::{
    bearer_token, peer_address, Authentication, Client, CurrentUser,
};
use crate::server::sessions::{self, RefreshError};
use crate::server::startup::state::AppState;

pub async fn authenticate(
    State(state): State<AppState>,
    jar: Cookies,
    mut request: Request,
    next: Next,
) -> Response {
    // Static files are the same for everyone: no client, no session read, no renewal.
    if is_static_asset(request.uri().path()) {
        request.extensions_mut().insert(Authentication(None));
        return next.run(request).await;
    }
    let client = Client::resolve(
        request.headers(),
        peer_address(request.extensions()),
        &state.config.trusted_proxies,
    );
    let current = identify(&state, &jar, request.headers(), &client).await;
    request.extensions_mut().insert(client);
    request.extensions_mut().insert(Authentication(current));
    next.run(request).await
}

async fn identify(
    state: &AppState,
    jar: &Cookies,
    headers: &HeaderMap,
    client: &Client,
) -> Option<CurrentUser> {
    if headers.contains_key(AUTHORIZATION) {
        // An explicit credential decides alone; cookies are not consulted.
        let token = bearer_token(headers)?;
        return sessions::authenticate(state, token).await.ok();
    }
    if let Some(token) = state.cookies.access_token(jar) {
        if let Ok(user) = sessions::authenticate(state, &token).await {
            return Some(user);
        }
    }
    let Some(refresh) = state.cookies.refresh_token(jar) else {
        state.cookies.clear(jar);
        return None;
    };
    match sessions::refresh(state, &refresh, client).await {
        Ok(issued) => {
            state.cookies.set(jar, &issued);
            sessions::authenticate(state, &issued.access_token)
                .await
                .ok()
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
