//! Accounts: the service functions behind both the web pages and the JSON API.

use sqlx::SqlitePool;

use super::db::{self, now};
use super::password::{PasswordHash, Verified};
use super::sessions::{CurrentUser, IssuedTokens};
use super::state::AppState;
use crate::domain::{
    check_login, check_password_change, check_profile, check_registration, AppError, Email,
    ErrorKind, NewAccount, UserView, Username,
};

pub const INVALID_CREDENTIALS: &str = "Invalid email or password.";
pub const EMAIL_TAKEN: &str = "An account with this email already exists.";
pub const USERNAME_TAKEN: &str = "This username is already taken.";

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
            created_at: db::rfc3339(self.created_at),
        }
    }
}

const USER_COLUMNS: &str =
    "id, email, username, role, is_active, email_verified, created_at, password_hash";

pub async fn find_by_id(db: &SqlitePool, id: i64) -> Result<Option<User>, AppError> {
    sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await
        .map(|row| row.map(User::from))
        .map_err(db::internal)
}

async fn find_by_email(db: &SqlitePool, email: &str) -> Result<Option<User>, AppError> {
    sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?"))
        .bind(email)
        .fetch_optional(db)
        .await
        .map(|row| row.map(User::from))
        .map_err(db::internal)
}

/// The one place where a broken unique index becomes a client error.
fn on_unique(err: sqlx::Error) -> AppError {
    match db::unique_violation(&err).as_deref() {
        Some("users.email") => AppError::conflict("email", EMAIL_TAKEN),
        Some("users.username") => AppError::conflict("username", USERNAME_TAKEN),
        _ => db::internal(err),
    }
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
    let keep = |err: AppError| {
        err.with_values([
            ("email", input.email),
            ("username", input.username.unwrap_or_default()),
        ])
    };
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
            free_username(&state.db, derived).await?
        }
    };
    if find_by_email(&state.db, email.as_str()).await?.is_some() {
        return Err(keep(AppError::conflict("email", EMAIL_TAKEN)));
    }
    let hash = state.hasher.hash(password.expose()).await?;
    let now = now();
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
    .map_err(|e| keep(on_unique(e)))?;
    tracing::info!(user_id = id, "account registered");
    find_by_id(&state.db, id)
        .await?
        .ok_or_else(AppError::internal)
}

/// Appends a number to a derived username until it is free.
async fn free_username(db: &SqlitePool, base: Username) -> Result<Username, AppError> {
    let taken = |name: String| async move {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE username = ?")
            .bind(name)
            .fetch_one(db)
            .await
            .map(|n| n > 0)
            .map_err(db::internal)
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
    Err(AppError::conflict("username", USERNAME_TAKEN))
}

pub struct Client<'a> {
    pub user_agent: &'a str,
    pub ip_address: &'a str,
}

/// Checks the credentials (throttled, constant-time with respect to account existence) and
/// starts a session.
pub async fn log_in(
    state: &AppState,
    raw_email: &str,
    password: &str,
    remember: bool,
    client: Client<'_>,
) -> Result<(User, IssuedTokens), AppError> {
    check_login(raw_email, password)?;
    let keep = |err: AppError| err.with_values([("email", raw_email)]);
    let account = raw_email.trim().to_lowercase();
    let attempt = state
        .throttle
        .begin(&account, Some(client.ip_address), now())
        .map_err(|wait| keep(AppError::too_many_requests(wait)))?;
    let user = match Email::parse(raw_email) {
        Ok(email) => find_by_email(&state.db, email.as_str()).await?,
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
                store_password_hash(&state.db, user.id, &fresh).await?;
            }
            user
        }
        // The attempt stays counted as a failure.
        _ => {
            return Err(keep(AppError::new(
                ErrorKind::Unauthenticated,
                INVALID_CREDENTIALS,
            )));
        }
    };
    state.throttle.succeeded(attempt);
    if !user.is_active {
        return Err(keep(AppError::forbidden(
            "This account has been deactivated.",
        )));
    }
    let issued = state
        .sessions
        .start(user.id, remember, client.user_agent, client.ip_address)
        .await?;
    tracing::info!(user_id = user.id, session_id = %issued.session_id, "logged in");
    Ok((user, issued))
}

async fn store_password_hash(
    db: &SqlitePool,
    user_id: i64,
    hash: &PasswordHash,
) -> Result<(), AppError> {
    sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
        .bind(hash.as_stored())
        .bind(now())
        .bind(user_id)
        .execute(db)
        .await
        .map_err(db::internal)?;
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
        .begin(&format!("password-check:{}", user.id), None, now())
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

pub struct ProfileChanges<'a> {
    pub username: Option<&'a str>,
    pub email: Option<&'a str>,
    /// Required when the email changes.
    pub current_password: &'a str,
}

pub async fn update_profile(
    state: &AppState,
    user_id: i64,
    changes: ProfileChanges<'_>,
) -> Result<User, AppError> {
    apply_profile_changes(
        state,
        user_id,
        changes.username,
        changes.email,
        Some(changes.current_password),
    )
    .await
}

/// An admin may correct another person's username or email without their password.
pub async fn admin_update_profile(
    state: &AppState,
    user_id: i64,
    username: Option<&str>,
    email: Option<&str>,
) -> Result<User, AppError> {
    apply_profile_changes(state, user_id, username, email, None).await
}

/// `current_password: None` skips the password check for an email change (admins only).
async fn apply_profile_changes(
    state: &AppState,
    user_id: i64,
    new_username: Option<&str>,
    new_email: Option<&str>,
    current_password: Option<&str>,
) -> Result<User, AppError> {
    let user = find_by_id(&state.db, user_id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let keep = |err: AppError| {
        err.with_values([
            ("username", new_username.unwrap_or(&user.username)),
            ("email", new_email.unwrap_or(&user.email)),
        ])
    };
    let update = check_profile(new_username, new_email).map_err(keep)?;
    let username = update
        .username
        .map_or_else(|| user.username.clone(), |u| u.as_str().to_string());
    let email = update
        .email
        .map_or_else(|| user.email.clone(), |e| e.as_str().to_string());
    if let (true, Some(current_password)) = (email != user.email, current_password) {
        require_current_password(state, &user, current_password)
            .await
            .map_err(keep)?;
    }
    let email_changed = email != user.email;
    sqlx::query(
        "UPDATE users SET username = ?, email = ?, updated_at = ?,
                email_verified = CASE WHEN ? THEN 0 ELSE email_verified END
         WHERE id = ?",
    )
    .bind(&username)
    .bind(&email)
    .bind(now())
    .bind(email_changed)
    .bind(user_id)
    .execute(&state.db)
    .await
    .map_err(|e| keep(on_unique(e)))?;
    find_by_id(&state.db, user_id)
        .await?
        .ok_or_else(AppError::not_found)
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
    principal: &CurrentUser,
    change: PasswordChange<'_>,
) -> Result<(), AppError> {
    let user = find_by_id(&state.db, principal.user_id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let new_password = check_password_change(
        change.current_password,
        change.new_password,
        change.confirm_new_password,
        state.config.password_min_length,
        &[&user.email, &user.username],
    )?;
    require_current_password(state, &user, change.current_password).await?;
    let hash = state.hasher.hash(new_password.expose()).await?;
    store_password_hash(&state.db, user.id, &hash).await?;
    let ended = state
        .sessions
        .end_all_for_user(user.id, Some(&principal.session_id), "password_changed")
        .await?;
    tracing::info!(
        user_id = user.id,
        other_sessions_ended = ended,
        "password changed"
    );
    Ok(())
}

/// Deletes the account after checking the password; its sessions, projects and tasks go with
/// it (foreign keys cascade).
pub async fn delete_account(
    state: &AppState,
    user_id: i64,
    password: &str,
) -> Result<(), AppError> {
    let user = find_by_id(&state.db, user_id)
        .await?
        .ok_or_else(AppError::not_found)?;
    require_current_password(state, &user, password)
        .await
        .map_err(|mut err| {
            if let Some(message) = err.fields.remove("current_password") {
                err.fields.insert("password".into(), message);
            }
            err
        })?;
    sqlx::query("DELETE FROM users WHERE id = ?")
        .bind(user_id)
        .execute(&state.db)
        .await
        .map_err(db::internal)?;
    tracing::info!(user_id, "account deleted");
    Ok(())
}
