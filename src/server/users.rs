//! Accounts: the service functions behind both the web pages and the JSON API.

use super::error::{OnConstraint, UniqueAnswer};
use super::password::{PasswordHash, Verified};
use super::principal::{Client, CurrentUser};
use super::sessions::{self, IssuedTokens};
use super::state::AppState;
use crate::domain::{
    check_login, check_password_change, check_profile, check_registration, AppError, Email,
    ErrorKind, NewAccount, UserView, Username,
};

pub const INVALID_CREDENTIALS: &str = "Invalid email or password.";
pub const EMAIL_TAKEN: &str = "An account with this email already exists.";
pub const USERNAME_TAKEN: &str = "This username is already taken.";

fn email_taken() -> AppError {
    AppError::conflict("email", EMAIL_TAKEN)
}

fn username_taken() -> AppError {
    AppError::conflict("username", USERNAME_TAKEN)
}

/// The answers to the users table's unique indexes.
const UNIQUE_ACCOUNT_FIELDS: [UniqueAnswer; 2] = [
    ("users.email", email_taken),
    ("users.username", username_taken),
];

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub username: String,
    pub role: String,
    pub is_active: bool,
    pub email_verified: bool,
    pub created_at: i64,
    pub password_hash: PasswordHash,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    email: String,
    username: String,
    role: String,
    is_active: bool,
    email_verified: bool,
    created_at: i64,
    password_hash: String,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            username: row.username,
            role: row.role,
            is_active: row.is_active,
            email_verified: row.email_verified,
            created_at: row.created_at,
            password_hash: PasswordHash::from_stored(row.password_hash),
        }
    }
}

impl User {
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            email: self.email.clone(),
            username: self.username.clone(),
            role: self.role.clone(),
            is_active: self.is_active,
            email_verified: self.email_verified,
            created_at: super::db::rfc3339(self.created_at),
        }
    }
}

const USER_COLUMNS: &str =
    "id, email, username, role, is_active, email_verified, created_at, password_hash";

pub async fn find_by_id(state: &AppState, id: i64) -> Result<Option<User>, AppError> {
    let row =
        sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id)
            .fetch_optional(&state.db)
            .await?;
    Ok(row.map(User::from))
}

async fn find_by_email(state: &AppState, email: &str) -> Result<Option<User>, AppError> {
    let row =
        sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?"))
            .bind(email)
            .fetch_optional(&state.db)
            .await?;
    Ok(row.map(User::from))
}

/// The calling person's own account; a session whose account is gone is no session.
pub async fn current(state: &AppState, caller: &CurrentUser) -> Result<User, AppError> {
    find_by_id(state, caller.user_id)
        .await?
        .ok_or_else(AppError::unauthenticated)
}

/// A profile the caller may see: their own, or anyone's for an admin.
pub async fn profile(state: &AppState, caller: &CurrentUser, id: i64) -> Result<User, AppError> {
    if caller.user_id != id && !caller.is_admin() {
        return Err(AppError::forbidden("You may only access your own profile."));
    }
    find_by_id(state, id).await?.ok_or_else(AppError::not_found)
}

pub struct Registration<'a> {
    pub email: &'a str,
    /// The API may leave it out; one is then derived from the email.
    pub username: Option<&'a str>,
    pub password: &'a str,
    /// The web form asks twice; the API does not.
    pub confirm_password: Option<&'a str>,
}

/// A username from the email's local part ("ada.l@x.io" → "ada.l"), padded to the minimum.
fn username_from_email(email: &Email) -> String {
    let local = email.as_str().split('@').next().unwrap_or_default();
    let mut name: String = local
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(24)
        .collect();
    while name.chars().count() < 3 {
        name.push('_');
    }
    name
}

pub async fn register(state: &AppState, input: Registration<'_>) -> Result<User, AppError> {
    let NewAccount {
        email,
        username,
        password,
    } = check_registration(
        input.email,
        input.username,
        input.password,
        input.confirm_password,
        state.config.password_min_length,
    )?;
    let username = match username {
        Some(username) => username,
        None => {
            let derived =
                Username::parse(&username_from_email(&email)).map_err(AppError::bad_request)?;
            free_username(state, derived).await?
        }
    };
    if find_by_email(state, email.as_str()).await?.is_some() {
        return Err(email_taken());
    }
    let hash = state.hasher.hash(password.expose()).await?;
    let now = state.now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (email, username, password_hash, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(email.as_str())
    .bind(username.as_str())
    .bind(hash.as_stored())
    .bind(now)
    .bind(now)
    .fetch_one(&state.db)
    .await
    .on_unique(&UNIQUE_ACCOUNT_FIELDS)?;
    tracing::info!(user_id = id, "account registered");
    find_by_id(state, id).await?.ok_or_else(AppError::internal)
}

/// Registers and logs the new person in on this client (the web form's flow).
pub async fn register_and_log_in(
    state: &AppState,
    input: Registration<'_>,
    client: &Client,
) -> Result<(User, IssuedTokens), AppError> {
    let user = register(state, input).await?;
    let issued = sessions::start(state, user.id, false, client).await?;
    Ok((user, issued))
}

/// Appends a number to a derived username until it is free.
async fn free_username(state: &AppState, base: Username) -> Result<Username, AppError> {
    let taken = |name: String| async move {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE username = ?")
            .bind(name)
            .fetch_one(&state.db)
            .await
            .map(|n| n > 0)
    };
    if !taken(base.as_str().to_string()).await? {
        return Ok(base);
    }
    for n in 2..1000 {
        let candidate = format!("{}{n}", base.as_str());
        if let Ok(name) = Username::parse(&candidate) {
            if !taken(candidate).await? {
                return Ok(name);
            }
        }
    }
    Err(username_taken())
}

/// Checks the credentials (throttled, constant-time with respect to account existence) and
/// starts a session.
pub async fn log_in(
    state: &AppState,
    raw_email: &str,
    password: &str,
    remember: bool,
    client: &Client,
) -> Result<(User, IssuedTokens), AppError> {
    check_login(raw_email, password)?;
    let account = raw_email.trim().to_lowercase();
    let attempt = state
        .throttle
        .begin(&account, Some(&client.ip_address), state.now())
        .map_err(AppError::too_many_requests)?;
    let user = match Email::parse(raw_email) {
        Ok(email) => find_by_email(state, email.as_str()).await?,
        Err(_) => None,
    };
    let verified = state
        .hasher
        .verify(password, user.as_ref().map(|u| &u.password_hash))
        .await?;
    let user = match (user, verified) {
        (Some(user), Verified::Yes | Verified::YesButRehash) => {
            if verified == Verified::YesButRehash {
                let fresh = state.hasher.hash(password).await?;
                store_password_hash(state, user.id, &fresh).await?;
            }
            user
        }
        // The attempt stays counted as a failure.
        _ => {
            return Err(AppError::new(
                ErrorKind::Unauthenticated,
                INVALID_CREDENTIALS,
            ));
        }
    };
    state.throttle.succeeded(attempt);
    if !user.is_active {
        return Err(AppError::forbidden("This account has been deactivated."));
    }
    let issued = sessions::start(state, user.id, remember, client).await?;
    tracing::info!(user_id = user.id, session_id = %issued.session_id, "logged in");
    Ok((user, issued))
}

async fn store_password_hash(
    state: &AppState,
    user_id: i64,
    hash: &PasswordHash,
) -> Result<(), AppError> {
    sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
        .bind(hash.as_stored())
        .bind(state.now())
        .bind(user_id)
        .execute(&state.db)
        .await?;
    Ok(())
}

/// Confirms the person knows their password before a sensitive change. Throttled like logins
/// (per account), so a borrowed session cannot be used to guess the password.
pub async fn require_current_password(
    state: &AppState,
    user: &User,
    current_password: &str,
) -> Result<(), AppError> {
    if current_password.is_empty() {
        return Err(AppError::field(
            "current_password",
            "Enter your current password.",
        ));
    }
    let attempt = state
        .throttle
        .begin(&format!("password-check:{}", user.id), None, state.now())
        .map_err(AppError::too_many_requests)?;
    match state
        .hasher
        .verify(current_password, Some(&user.password_hash))
        .await?
    {
        Verified::No => Err(AppError::field(
            "current_password",
            "Your current password is not correct.",
        )),
        Verified::Yes | Verified::YesButRehash => {
            state.throttle.succeeded(attempt);
            Ok(())
        }
    }
}

/// A change to a profile. Fields left `None` stay as they are.
#[derive(Default)]
pub struct ProfileChanges<'a> {
    pub username: Option<&'a str>,
    pub email: Option<&'a str>,
    /// A new password (the owner only); ends the owner's other sessions.
    pub password: Option<&'a str>,
    /// Required from the owner to change the email or the password.
    pub current_password: &'a str,
}

/// Changes `id`'s profile on behalf of `caller`: their own, or as an admin anyone's username
/// and email (without a password). Everything is checked before anything is saved, so a
/// refused change changes nothing.
pub async fn update_profile(
    state: &AppState,
    caller: &CurrentUser,
    id: i64,
    changes: ProfileChanges<'_>,
) -> Result<User, AppError> {
    let user = profile(state, caller, id).await?;
    let own = caller.user_id == id;
    if changes.password.is_some() && !own {
        return Err(AppError::forbidden(
            "Only the account's owner can change its password.",
        ));
    }
    let update = check_profile(changes.username, changes.email)?;
    let new_password = match changes.password {
        Some(new_password) => Some(check_password_change(
            changes.current_password,
            new_password,
            None,
            state.config.password_min_length,
            &[&user.email, &user.username],
        )?),
        None => None,
    };
    let username = update
        .username
        .map_or_else(|| user.username.clone(), |u| u.as_str().to_string());
    let email = update
        .email
        .map_or_else(|| user.email.clone(), |e| e.as_str().to_string());
    let email_changed = email != user.email;
    if own && (email_changed || new_password.is_some()) {
        require_current_password(state, &user, changes.current_password).await?;
    }
    let new_hash = match &new_password {
        Some(password) => Some(state.hasher.hash(password.expose()).await?),
        None => None,
    };
    sqlx::query(
        "UPDATE users SET username = ?, email = ?, updated_at = ?,
                email_verified = CASE WHEN ? THEN 0 ELSE email_verified END,
                password_hash = COALESCE(?, password_hash)
         WHERE id = ?",
    )
    .bind(&username)
    .bind(&email)
    .bind(state.now())
    .bind(email_changed)
    .bind(new_hash.as_ref().map(PasswordHash::as_stored))
    .bind(id)
    .execute(&state.db)
    .await
    .on_unique(&UNIQUE_ACCOUNT_FIELDS)?;
    if new_hash.is_some() {
        end_other_sessions_after_password_change(state, caller).await?;
    }
    find_by_id(state, id).await?.ok_or_else(AppError::not_found)
}

pub struct PasswordChange<'a> {
    pub current_password: &'a str,
    pub new_password: &'a str,
    /// The web form asks twice; the API does not.
    pub confirm_new_password: Option<&'a str>,
}

/// Changes the password and ends every other session of the person.
pub async fn change_password(
    state: &AppState,
    caller: &CurrentUser,
    change: PasswordChange<'_>,
) -> Result<(), AppError> {
    let user = current(state, caller).await?;
    let new_password = check_password_change(
        change.current_password,
        change.new_password,
        change.confirm_new_password,
        state.config.password_min_length,
        &[&user.email, &user.username],
    )?;
    require_current_password(state, &user, change.current_password).await?;
    let hash = state.hasher.hash(new_password.expose()).await?;
    store_password_hash(state, user.id, &hash).await?;
    end_other_sessions_after_password_change(state, caller).await
}

async fn end_other_sessions_after_password_change(
    state: &AppState,
    caller: &CurrentUser,
) -> Result<(), AppError> {
    let ended = sessions::end_all_for_user(
        state,
        caller.user_id,
        Some(&caller.session_id),
        "password_changed",
    )
    .await?;
    tracing::info!(
        user_id = caller.user_id,
        other_sessions_ended = ended,
        "password changed"
    );
    Ok(())
}

/// Deletes the account after checking the password; its sessions, projects and tasks go with
/// it (foreign keys cascade).
pub async fn delete_account(
    state: &AppState,
    caller: &CurrentUser,
    password: &str,
) -> Result<(), AppError> {
    let user = current(state, caller).await?;
    require_current_password(state, &user, password)
        .await
        .map_err(|mut err| {
            if let Some(message) = err.fields.remove("current_password") {
                err.fields.insert("password".into(), message);
            }
            err
        })?;
    sqlx::query("DELETE FROM users WHERE id = ?")
        .bind(user.id)
        .execute(&state.db)
        .await?;
    tracing::info!(user_id = user.id, "account deleted");
    Ok(())
}
