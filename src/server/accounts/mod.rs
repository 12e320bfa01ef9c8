//! People's accounts: registration (`register`), logging in (`login`), profiles (`profile`),
//! password checks and changes (`passwords`), emailed links (`email_links`), administration
//! (`admin`) and the audit trail (`audit`).

pub mod admin;
pub mod audit;
pub mod email_links;
pub mod login;
pub mod passkeys;
pub mod passwords;
pub mod profile;
pub mod register;
pub mod two_step;

use crate::domain::AppError;
use crate::server::security::principal::CurrentUser;
use crate::server::startup::state::AppState;
pub use crate::server::store::users::User;
use crate::server::store::{users, Unique};

pub const INVALID_CREDENTIALS: &str = "Invalid email or password.";
pub const EMAIL_TAKEN: &str = "An account with this email already exists.";
pub const USERNAME_TAKEN: &str = "This username is already taken.";
/// `EMAIL_VERIFICATION=required`: a wrong password and an unconfirmed address answer alike.
pub const INVALID_CREDENTIALS_OR_UNCONFIRMED: &str = "Invalid email or password, or the \
     address is not confirmed yet: if you registered, open the link we emailed you (logging \
     in with the right password sends a fresh one).";
pub const LAST_ADMIN: &str = "The site needs at least one active administrator.";

/// The field error that explains a broken unique index.
pub fn taken(unique: Unique) -> AppError {
    match unique {
        Unique::UsersEmail => AppError::conflict("email", EMAIL_TAKEN),
        Unique::UsersUsername => AppError::conflict("username", USERNAME_TAKEN),
    }
}

pub async fn find_by_id(state: &AppState, id: i64) -> Result<Option<User>, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(users::find_by_id(&mut conn, id).await?)
}

pub async fn find_by_email(state: &AppState, email: &str) -> Result<Option<User>, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(users::find_by_email(&mut conn, email).await?)
}

/// The calling person's own account; a session whose account is gone is no session.
pub async fn current(state: &AppState, caller: &CurrentUser) -> Result<User, AppError> {
    find_by_id(state, caller.user_id)
        .await?
        .ok_or_else(AppError::unauthenticated)
}

/// A profile the caller may see: their own, or anyone's for an admin.
pub async fn profile_of(state: &AppState, caller: &CurrentUser, id: i64) -> Result<User, AppError> {
    if caller.user_id != id && !caller.is_admin() {
        return Err(AppError::forbidden("You may only access your own profile."));
    }
    find_by_id(state, id).await?.ok_or_else(AppError::not_found)
}
