//! For server functions: the app state, the calling person and their cookies, read from the
//! request context Leptos provides.

use http::request::Parts;
use leptos::prelude::use_context;
use tower_cookies::Cookies;

use crate::domain::AppError;
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::startup::state::AppState;

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

pub fn client() -> Result<Client, AppError> {
    Ok(Client::from_parts(&parts()?))
}

/// A new login (or a new account) from this browser replaces the session its cookies
/// belonged to, if any.
pub async fn end_previous_session(state: &AppState) -> Result<(), AppError> {
    crate::server::sessions::end_replaced(state, current_user().ok().as_ref()).await
}
