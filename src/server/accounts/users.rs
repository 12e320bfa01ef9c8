//! Accounts: the service functions behind both the web pages and the JSON API.

use sqlx::SqliteConnection;

use crate::domain::{
    check_login, check_password_change, check_profile, check_registration, AppError, Email,
    ErrorKind, NewAccount, Password, UserView, Username, PASSWORD_MAX_LENGTH,
};
use crate::server::accounts::audit::{self, Event};
use crate::server::accounts::email_links;
use crate::server::http::error::{unique_index, OnConstraint, UniqueAnswer};
use crate::server::mail::{self, Mail};
use crate::server::ops::metrics::LoginOutcome;
use crate::server::security::password::{PasswordHash, Verified};
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::security::throttle::{Attempt, Guesser, Refused};
use crate::server::sessions::{self, IssuedTokens};
use crate::server::startup::state::AppState;

pub const INVALID_CREDENTIALS: &str = "Invalid email or password.";
pub const EMAIL_TAKEN: &str = "An account with this email already exists.";
pub const USERNAME_TAKEN: &str = "This username is already taken.";
pub const EMAIL_NOT_CONFIRMED: &str =
    "Confirm your email address first: open the link we sent you when you registered.";

pub fn email_taken() -> AppError {
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
pub(crate) struct UserRow {
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
            created_at: crate::server::store::rfc3339(self.created_at),
        }
    }
}

const USER_COLUMNS: &str =
    "id, email, username, role, is_active, email_verified, created_at, password_hash";
/// `USER_COLUMNS` of the `users` table aliased `u`, for queries that join it.
pub(crate) const USER_COLUMNS_OF_U: &str = "u.id, u.email, u.username, u.role, u.is_active, \
     u.email_verified, u.created_at, u.password_hash";

pub async fn find_by_id(state: &AppState, id: i64) -> Result<Option<User>, AppError> {
    let row =
        sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id)
            .fetch_optional(&state.db)
            .await?;
    Ok(row.map(User::from))
}

pub async fn find_by_email(state: &AppState, email: &str) -> Result<Option<User>, AppError> {
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

/// What a registration led to.
pub enum Registered {
    /// The account exists and may log in.
    Account(User),
    /// `EMAIL_VERIFICATION=required`: the same answer whether or not the address already had
    /// an account; a link (or, for a taken address, a notice to its owner) is on its way.
    CheckInbox,
}

/// Creates an account. Every answer, including "email taken", comes after the same work (the
/// checks, then a password hash, then one insert), so its timing does not tell whether an
/// account exists; the one conflict it reports is the field the person must change.
pub async fn register(
    state: &AppState,
    input: Registration<'_>,
    client: &Client,
) -> Result<Registered, AppError> {
    let (email, username, password) = (
        input.email.to_string(),
        input.username.map(str::to_string),
        input.password.to_string(),
    );
    let confirm = input.confirm_password.map(str::to_string);
    let min_length = state.config.password_min_length;
    // The strength estimate is CPU work: off the async workers, behind the hashing bound.
    let NewAccount {
        email,
        username,
        password,
    } = state
        .hasher
        .run(move || {
            check_registration(
                &email,
                username.as_deref(),
                &password,
                confirm.as_deref(),
                min_length,
            )
        })
        .await??;
    state
        .throttle
        .register(
            &client.ip_address,
            state.config.registration_limit,
            state.now(),
        )
        .map_err(AppError::too_many_requests)?;
    let hash = state.hasher.hash(password.expose()).await?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let inserted = match username {
        Some(username) => insert_user(&mut tx, &email, &username, &hash, now).await?,
        None => insert_with_derived_username(&mut tx, &email, &hash, now).await?,
    };
    let required = state.config.mail.verification_required;
    let id = match inserted {
        Ok(id) => id,
        Err(Taken::Email) if required => {
            drop(tx);
            email_links::queue_registration_attempt_notice(state, email.as_str()).await?;
            return Ok(Registered::CheckInbox);
        }
        Err(taken) => return Err(taken.answer()),
    };
    email_links::queue_verification(&mut tx, state, id, email.as_str(), now).await?;
    tx.commit().await?;
    state.mailer.wake();
    tracing::info!(user_id = id, "account registered");
    audit::record(state, Event::new("registered").by(id).client(client));
    audit::record(
        state,
        Event::new("verification_sent").subject(id).client(client),
    );
    if required {
        return Ok(Registered::CheckInbox);
    }
    let user = find_by_id(state, id)
        .await?
        .ok_or_else(AppError::internal)?;
    Ok(Registered::Account(user))
}

/// Registers and logs the new person in on this client (the web form's flow); `None` when
/// they must first confirm their address.
pub async fn register_and_log_in(
    state: &AppState,
    input: Registration<'_>,
    client: &Client,
) -> Result<Option<IssuedTokens>, AppError> {
    match register(state, input, client).await? {
        Registered::Account(user) => {
            Ok(Some(sessions::start(state, user.id, false, client).await?))
        }
        Registered::CheckInbox => Ok(None),
    }
}

/// Which unique field an insert ran into.
enum Taken {
    Email,
    Username,
}

impl Taken {
    fn answer(self) -> AppError {
        match self {
            Self::Email => email_taken(),
            Self::Username => username_taken(),
        }
    }
}

async fn insert_user(
    conn: &mut SqliteConnection,
    email: &Email,
    username: &Username,
    hash: &PasswordHash,
    now: i64,
) -> Result<Result<i64, Taken>, AppError> {
    let inserted = sqlx::query_scalar(
        "INSERT INTO users (email, username, password_hash, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(email.as_str())
    .bind(username.as_str())
    .bind(hash.as_stored())
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await;
    match inserted {
        Ok(id) => Ok(Ok(id)),
        Err(e) => match unique_index(&e) {
            Some("users.email") => Ok(Err(Taken::Email)),
            Some("users.username") => Ok(Err(Taken::Username)),
            _ => Err(e.into()),
        },
    }
}

/// The person chose no username: take one from the email, and if it is taken (also by a
/// registration running at the same moment), the next free numbered one.
async fn insert_with_derived_username(
    conn: &mut SqliteConnection,
    email: &Email,
    hash: &PasswordHash,
    now: i64,
) -> Result<Result<i64, Taken>, AppError> {
    let base = username_from_email(email);
    let candidates = std::iter::once(base.clone()).chain((2..1000).map(|n| format!("{base}{n}")));
    for candidate in candidates {
        let Ok(username) = Username::parse(&candidate) else {
            continue;
        };
        match insert_user(conn, email, &username, hash, now).await? {
            Err(Taken::Username) => continue,
            outcome => return Ok(outcome),
        }
    }
    Ok(Err(Taken::Username))
}

/// What a login attempt presents.
pub struct Credentials<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub remember: bool,
    /// The device token this client got from an earlier login, if any.
    pub device_token: Option<&'a str>,
}

/// A successful login: the session's tokens and this client's (renewed) device token.
pub struct LoggedIn {
    pub user: User,
    pub tokens: IssuedTokens,
    pub device_token: String,
}

fn invalid_credentials() -> AppError {
    AppError::new(ErrorKind::Unauthenticated, INVALID_CREDENTIALS)
}

/// Verifies a password and settles its throttle attempt in a task of its own, so the attempt
/// is settled by the real outcome even if the client goes away mid-check.
async fn verify_and_settle(
    state: &AppState,
    password: &str,
    stored: Option<PasswordHash>,
    attempt: Attempt,
) -> Result<Verified, AppError> {
    let state = state.clone();
    let password = password.to_string();
    tokio::spawn(async move {
        let outcome = state.hasher.verify(&password, stored.as_ref()).await;
        match &outcome {
            Ok(Verified::Yes | Verified::YesButRehash) => state.throttle.succeeded(attempt),
            Ok(Verified::No) => {}
            Err(_) => state.throttle.cancelled(attempt),
        }
        outcome
    })
    .await
    .map_err(AppError::internal_from)?
}

/// Checks the credentials (throttled, constant-time with respect to account existence) and
/// starts a session.
pub async fn log_in(
    state: &AppState,
    credentials: Credentials<'_>,
    client: &Client,
) -> Result<LoggedIn, AppError> {
    let outcome = check_and_start(state, credentials, client).await;
    state.metrics.login(LoginOutcome::of(&outcome));
    outcome
}

/// A guess the throttle refused, answered at the pace of refusals (`pacing`). Only the first
/// refusal by each throttle entry is written to the audit log, about `subject` (the account,
/// if there is one).
async fn refused(
    state: &AppState,
    client: &Client,
    refusal: Refused,
    subject: Option<i64>,
) -> AppError {
    if refusal.first {
        let event = Event::new("login_throttled").client(client);
        audit::record(state, subject.map_or(event.clone(), |id| event.subject(id)));
    }
    let refusal = AppError::too_many_requests(refusal.wait_secs);
    state.hasher.refuse(refusal).await
}

async fn check_and_start(
    state: &AppState,
    credentials: Credentials<'_>,
    client: &Client,
) -> Result<LoggedIn, AppError> {
    let Credentials {
        email,
        password,
        remember,
        device_token,
    } = credentials;
    check_login(email, password)?;
    // No account has such an email or password: answer before any bookkeeping, so junk
    // identifiers cost nothing to store.
    let Ok(email) = Email::parse(email) else {
        return Err(invalid_credentials());
    };
    if password.chars().count() > PASSWORD_MAX_LENGTH {
        return Err(invalid_credentials());
    }
    if state.hasher.logins_full() {
        return Err(state.hasher.busy().await);
    }
    let now = state.now();
    let claimed_device = device_token.and_then(|token| state.keys.verify_device(token, now));
    // A client without a device token that is over a limit is refused before the account is
    // looked up: a flood of refused guesses costs no database work.
    if claimed_device.is_none() {
        if let Err(refusal) = state
            .throttle
            .check_stranger(email.as_str(), &client.ip_address, now)
        {
            // Looked up only for the audit event, once per throttle entry.
            let subject = if refusal.first {
                find_by_email(state, email.as_str()).await?.map(|u| u.id)
            } else {
                None
            };
            return Err(refused(state, client, refusal, subject).await);
        }
    }
    let user = find_by_email(state, email.as_str()).await?;
    let device =
        claimed_device.filter(|device| user.as_ref().is_some_and(|u| u.id == device.user_id));
    let guesser = match &device {
        Some(device) => Guesser::KnownDevice(&device.device_id),
        None => Guesser::Stranger {
            address: &client.ip_address,
        },
    };
    let subject = user.as_ref().map(|u| u.id);
    let failure = |reason: &'static str| {
        let event = Event::new("login_failed")
            .client(client)
            .detail("reason", reason);
        audit::record(state, subject.map_or(event.clone(), |id| event.subject(id)));
    };
    let attempt = match state.throttle.begin(email.as_str(), guesser, now) {
        Ok(attempt) => attempt,
        Err(refusal) => return Err(refused(state, client, refusal, subject).await),
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = verify_and_settle(state, password, stored, attempt).await?;
    let user = match (user, verified) {
        (Some(user), Verified::Yes | Verified::YesButRehash) => user,
        (Some(_), _) => {
            failure("wrong password");
            return Err(invalid_credentials());
        }
        (None, _) => {
            failure("no such account");
            return Err(invalid_credentials());
        }
    };
    if verified == Verified::YesButRehash {
        let fresh = state.hasher.hash(password).await?;
        let mut conn = state.db.acquire().await?;
        store_password_hash(&mut conn, user.id, &fresh, now).await?;
    }
    if !user.is_active {
        failure("account deactivated");
        return Err(AppError::forbidden("This account has been deactivated."));
    }
    if state.config.mail.verification_required && !user.email_verified {
        failure("email not confirmed");
        return Err(AppError::forbidden(EMAIL_NOT_CONFIRMED));
    }
    let tokens = sessions::start(state, user.id, remember, client).await?;
    let device_id = device
        .map(|d| d.device_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let device_token = state.keys.issue_device(user.id, &device_id, now);
    tracing::info!(user_id = user.id, session_id = %tokens.session_id, "logged in");
    audit::record(
        state,
        Event::new("login_succeeded")
            .by(user.id)
            .client(client)
            .session(&tokens.session_id),
    );
    Ok(LoggedIn {
        user,
        tokens,
        device_token,
    })
}

pub async fn store_password_hash(
    conn: &mut SqliteConnection,
    user_id: i64,
    hash: &PasswordHash,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
        .bind(hash.as_stored())
        .bind(now)
        .bind(user_id)
        .execute(conn)
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
        .begin_password_check(user.id, state.now())
        .map_err(AppError::too_many_requests)?;
    let stored = Some(user.password_hash.clone());
    match verify_and_settle(state, current_password, stored, attempt).await? {
        Verified::No => Err(AppError::field(
            "current_password",
            "Your current password is not correct.",
        )),
        Verified::Yes | Verified::YesButRehash => Ok(()),
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
/// A saved profile change.
pub struct ProfileUpdated {
    pub user: User,
    /// The owner changed their email: it changes once the link sent here is used.
    pub confirmation_sent_to: Option<String>,
}

pub async fn update_profile(
    state: &AppState,
    caller: &CurrentUser,
    id: i64,
    changes: ProfileChanges<'_>,
) -> Result<ProfileUpdated, AppError> {
    let user = profile(state, caller, id).await?;
    let own = caller.user_id == id;
    if changes.password.is_some() && !own {
        return Err(AppError::forbidden(
            "Only the account's owner can change its password.",
        ));
    }
    let update = check_profile(changes.username, changes.email)?;
    let new_password = match changes.password {
        Some(new_password) => Some(
            // The API calls the new password `password`; the form's checks say `new_password`.
            strong_new_password(state, &user, changes.current_password, new_password, None)
                .await
                .map_err(|err| err.rename_field("new_password", "password"))?,
        ),
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
    // The owner's new address must prove itself first; an admin's correction applies at once.
    let confirm_new_email = own && email_changed;
    if confirm_new_email && find_by_email(state, &email).await?.is_some() {
        return Err(email_taken());
    }
    let stored_email = if confirm_new_email {
        &user.email
    } else {
        &email
    };
    let now = state.now();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE users SET username = ?, email = ?, updated_at = ?,
                email_verified = CASE WHEN email <> ? THEN 0 ELSE email_verified END,
                password_hash = COALESCE(?, password_hash)
         WHERE id = ?",
    )
    .bind(&username)
    .bind(stored_email)
    .bind(now)
    .bind(stored_email)
    .bind(new_hash.as_ref().map(PasswordHash::as_stored))
    .bind(id)
    .execute(&mut *tx)
    .await
    .on_unique(&UNIQUE_ACCOUNT_FIELDS)?;
    if new_hash.is_some() {
        after_password_change(&mut tx, state, &user, Some(&caller.session_id), now).await?;
        audit::record(
            state,
            Event::new("password_changed")
                .by(user.id)
                .session(&caller.session_id),
        );
    }
    if confirm_new_email {
        email_links::request_email_change(&mut tx, state, &user, caller, &email, now).await?;
        audit::record(
            state,
            Event::new("email_change_requested")
                .by(user.id)
                .session(&caller.session_id)
                .detail("new_email", email.clone()),
        );
    }
    tx.commit().await?;
    state.mailer.wake();
    let user = find_by_id(state, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(ProfileUpdated {
        user,
        confirmation_sent_to: confirm_new_email.then_some(email),
    })
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
    let new_password = strong_new_password(
        state,
        &user,
        change.current_password,
        change.new_password,
        change.confirm_new_password,
    )
    .await?;
    require_current_password(state, &user, change.current_password).await?;
    let hash = state.hasher.hash(new_password.expose()).await?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    store_password_hash(&mut tx, user.id, &hash, now).await?;
    after_password_change(&mut tx, state, &user, Some(&caller.session_id), now).await?;
    tx.commit().await?;
    state.mailer.wake();
    audit::record(
        state,
        Event::new("password_changed")
            .by(user.id)
            .session(&caller.session_id),
    );
    Ok(())
}

/// The password-change form's checks, with the strength estimate off the async workers.
async fn strong_new_password(
    state: &AppState,
    user: &User,
    current_password: &str,
    new_password: &str,
    confirmation: Option<&str>,
) -> Result<Password, AppError> {
    let (current, new, confirm) = (
        current_password.to_string(),
        new_password.to_string(),
        confirmation.map(str::to_string),
    );
    let (email, username) = (user.email.clone(), user.username.clone());
    let min_length = state.config.password_min_length;
    state
        .hasher
        .run(move || {
            check_password_change(
                &current,
                &new,
                confirm.as_deref(),
                min_length,
                &[&email, &username],
            )
        })
        .await?
}

/// After a new password is stored: every session but `keep` ends, pending reset links stop
/// working, and the owner is told by mail (inside the caller's transaction).
pub async fn after_password_change(
    conn: &mut SqliteConnection,
    state: &AppState,
    user: &User,
    keep: Option<&str>,
    now: i64,
) -> Result<(), AppError> {
    let ended = sessions::end_all_in(conn, user.id, keep, "password_changed", now).await?;
    sqlx::query("DELETE FROM email_tokens WHERE user_id = ? AND purpose = 'reset'")
        .bind(user.id)
        .execute(&mut *conn)
        .await?;
    let notice = Mail {
        to: user.email.clone(),
        subject: "Your password was changed".into(),
        body: format!(
            "Hello {},\n\nthe password of your Gatehouse account was just changed, and its other \
             sessions were logged out. If this was not you, reset your password at once: \
             {}/forgot-password\n",
            user.username, state.config.public_url.origin
        ),
    };
    mail::enqueue(conn, &notice, now).await?;
    tracing::info!(
        user_id = user.id,
        sessions_ended = ended,
        "password changed"
    );
    Ok(())
}

/// Mails `user` a short notice ("Hello NAME, TEXT").
pub async fn notify(
    state: &AppState,
    user: &User,
    subject: &str,
    text: &str,
) -> Result<(), AppError> {
    let mail = Mail {
        to: user.email.clone(),
        subject: subject.to_string(),
        body: format!("Hello {},\n\n{text}\n", user.username),
    };
    mail::send(state, &mail).await?;
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
        .map_err(|err| err.rename_field("current_password", "password"))?;
    sqlx::query("DELETE FROM users WHERE id = ?")
        .bind(user.id)
        .execute(&state.db)
        .await?;
    tracing::info!(user_id = user.id, "account deleted");
    audit::record(
        state,
        Event::new("account_deleted")
            .by(user.id)
            .session(&caller.session_id),
    );
    Ok(())
}
