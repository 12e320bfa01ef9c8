//! Account email flows: confirming an address (of a new account, or a new address for an
//! existing one) and resetting a forgotten password. Links carry single-use tokens: 256 random
//! bits, stored only as SHA-256, bound to one purpose and one account, expiring, and spent
//! atomically, so a second or parallel use fails. Opening a link only shows a page; the button
//! on it spends the token, so mail scanners that fetch links cannot burn it.

use sqlx::SqliteConnection;

use crate::domain::{check_new_password, AppError, Email, ErrorKind};
use crate::server::accounts::audit::{self, Event};
use crate::server::accounts::users::{self, User};
use crate::server::http::error::OnConstraint;
use crate::server::mail::{self, Mail};
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::security::tokens::RefreshToken as SecretToken;
use crate::server::sessions;
use crate::server::startup::state::AppState;

pub const INVALID_LINK: &str =
    "This link is invalid, has expired or was already used. Ask for a new one.";

/// No live token of that purpose: to a client, an unknown link (404).
fn invalid_link() -> AppError {
    AppError::new(ErrorKind::NotFound, INVALID_LINK)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Verify,
    Reset,
    ChangeEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
            Self::ChangeEmail => "change_email",
        }
    }
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

/// Links are built from `PUBLIC_URL`, never from the request's `Host`.
fn link(state: &AppState, path: &str, token: &SecretToken) -> String {
    format!(
        "{}{path}?token={}",
        state.config.public_url.origin,
        token.expose()
    )
}

/// A new token for `purpose`; the account's unused ones for the same purpose stop working.
async fn issue(
    conn: &mut SqliteConnection,
    user_id: i64,
    purpose: Purpose,
    change: Option<(&str, &str)>,
    lifetime: i64,
    now: i64,
) -> Result<SecretToken, sqlx::Error> {
    sqlx::query("DELETE FROM email_tokens WHERE user_id = ? AND purpose = ?")
        .bind(user_id)
        .bind(purpose.as_str())
        .execute(&mut *conn)
        .await?;
    let token = SecretToken::generate();
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, new_email, session_id, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(token.digest())
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(change.map(|(email, _)| email))
    .bind(change.map(|(_, session)| session))
    .bind(now)
    .bind(now + lifetime)
    .execute(&mut *conn)
    .await?;
    Ok(token)
}

#[derive(sqlx::FromRow)]
struct Spent {
    user_id: i64,
    purpose: String,
    new_email: Option<String>,
    session_id: Option<String>,
}

/// Spends a token of one of `purposes`: exactly one caller gets it, before it expires. A token
/// of another purpose is left alone.
async fn spend(
    conn: &mut SqliteConnection,
    raw: &str,
    purposes: (Purpose, Purpose),
    now: i64,
) -> Result<Option<Spent>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM email_tokens
         WHERE token_hash = ? AND (purpose = ? OR purpose = ?) AND expires_at > ?
         RETURNING user_id, purpose, new_email, session_id",
    )
    .bind(SecretToken::from_client(raw).digest())
    .bind(purposes.0.as_str())
    .bind(purposes.1.as_str())
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// Queues the link that confirms a new account's address (inside the caller's transaction).
pub async fn queue_verification(
    conn: &mut SqliteConnection,
    state: &AppState,
    user_id: i64,
    email: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let lifetime = secs(state.config.mail.verify_ttl);
    let token = issue(conn, user_id, Purpose::Verify, None, lifetime, now).await?;
    let body = format!(
        "Hello,\n\nplease confirm that {email} is your email address by opening this link and \
         pressing \"Confirm email address\":\n\n{}\n\nThe link works for {} hours. If you did not \
         create a Gatehouse account, ignore this message.\n",
        link(state, "/verify-email", &token),
        lifetime / 3600
    );
    let mail = Mail {
        to: email.to_string(),
        subject: "Confirm your email address".into(),
        body,
    };
    mail::enqueue(conn, &mail, now).await
}

/// Tells the owner of `email` that someone tried to register with it (when verification is
/// required, registration answers the same for taken and free addresses).
pub async fn queue_registration_attempt_notice(
    state: &AppState,
    email: &str,
) -> Result<(), AppError> {
    let body = format!(
        "Hello,\n\nsomeone tried to create a Gatehouse account with {email}, which already has \
         one. If it was you, log in instead, or reset your password at {}/forgot-password. \
         Otherwise you can ignore this message.\n",
        state.config.public_url.origin
    );
    let mail = Mail {
        to: email.to_string(),
        subject: "Someone tried to register with your address".into(),
        body,
    };
    Ok(mail::send(state, &mail).await?)
}

/// Sends a fresh confirmation link to the caller's address: at most one a minute.
pub async fn resend_verification(
    state: &AppState,
    caller: &CurrentUser,
    client: &Client,
) -> Result<(), AppError> {
    let user = users::current(state, caller).await?;
    if user.email_verified {
        return Ok(());
    }
    let now = state.now();
    state
        .throttle
        .mail(&format!("verify:{}", user.id), &client.ip_address, now)
        .map_err(AppError::too_many_requests)?;
    let mut tx = state.db.begin().await?;
    queue_verification(&mut tx, state, user.id, &user.email, now).await?;
    tx.commit().await?;
    state.mailer.wake();
    audit::record(
        state,
        Event::new("verification_sent").by(user.id).client(client),
    );
    Ok(())
}

/// What a confirmation link did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// The account's address is confirmed.
    Verified,
    /// The account now uses this (confirmed) address.
    EmailChanged(String),
}

/// Spends a confirmation link: a new account's, or a new address's.
pub async fn confirm(state: &AppState, raw_token: &str) -> Result<Confirmed, AppError> {
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let spent = spend(
        &mut tx,
        raw_token,
        (Purpose::Verify, Purpose::ChangeEmail),
        now,
    )
    .await?
    .ok_or_else(invalid_link)?;
    let confirmed = if spent.purpose == Purpose::ChangeEmail.as_str() {
        let new_email = spent.new_email.unwrap_or_default();
        let session = spent.session_id.unwrap_or_default();
        // A pending change dies with the session that asked for it.
        if !sessions::is_live(state, &session, now).await {
            return Err(invalid_link());
        }
        sqlx::query("UPDATE users SET email = ?, email_verified = 1, updated_at = ? WHERE id = ?")
            .bind(&new_email)
            .bind(now)
            .bind(spent.user_id)
            .execute(&mut *tx)
            .await
            .on_unique(&[("users.email", users::email_taken)])?;
        tracing::info!(user_id = spent.user_id, "email address changed");
        audit::record(
            state,
            Event::new("email_changed")
                .by(spent.user_id)
                .detail("new_email", new_email.clone()),
        );
        Confirmed::EmailChanged(new_email)
    } else {
        sqlx::query("UPDATE users SET email_verified = 1, updated_at = ? WHERE id = ?")
            .bind(now)
            .bind(spent.user_id)
            .execute(&mut *tx)
            .await?;
        tracing::info!(user_id = spent.user_id, "email address confirmed");
        audit::record(state, Event::new("email_verified").by(spent.user_id));
        Confirmed::Verified
    };
    tx.commit().await?;
    Ok(confirmed)
}

/// Asks to move `user` to `new_email`: a link goes to the new address, a notice to the old one,
/// and the account keeps its address until the link is used from the session `caller`.
pub async fn request_email_change(
    conn: &mut SqliteConnection,
    state: &AppState,
    user: &User,
    caller: &CurrentUser,
    new_email: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let lifetime = secs(state.config.mail.verify_ttl);
    let change = Some((new_email, caller.session_id.as_str()));
    let token = issue(conn, user.id, Purpose::ChangeEmail, change, lifetime, now).await?;
    let confirm = Mail {
        to: new_email.to_string(),
        subject: "Confirm your new email address".into(),
        body: format!(
            "Hello {},\n\nto use {new_email} for your Gatehouse account, open this link and press \
             \"Confirm email address\":\n\n{}\n\nThe link works for {} hours, from the session that \
             asked for it. Until then your account keeps its current address.\n",
            user.username,
            link(state, "/verify-email", &token),
            lifetime / 3600
        ),
    };
    let notice = Mail {
        to: user.email.clone(),
        subject: "Your email address is about to change".into(),
        body: format!(
            "Hello {},\n\nsomeone logged in to your Gatehouse account asked to change its email \
             address to {new_email}. It changes only once the link sent there is used. If this \
             was not you, change your password now: {}/profile\n",
            user.username, state.config.public_url.origin
        ),
    };
    mail::enqueue(conn, &confirm, now).await?;
    mail::enqueue(conn, &notice, now).await
}

/// Asks for a reset link. The answer, and its timing, are the same whether or not the address
/// has an account: everything after checking the address's syntax happens off the request.
pub async fn request_reset(
    state: &AppState,
    raw_email: &str,
    client: &Client,
) -> Result<(), AppError> {
    let email = Email::parse(raw_email).map_err(|message| AppError::field("email", message))?;
    let (state, client) = (state.clone(), client.clone());
    tokio::spawn(async move {
        if let Err(e) = send_reset(&state, &email, &client).await {
            tracing::warn!(error = %e, "could not queue a reset link");
        }
    });
    Ok(())
}

async fn send_reset(state: &AppState, email: &Email, client: &Client) -> Result<(), AppError> {
    let now = state.now();
    // Silent limits: the person sees the same answer either way.
    if state
        .throttle
        .mail(email.as_str(), &client.ip_address, now)
        .is_err()
    {
        tracing::info!("reset link not sent: too many asked for this address or client");
        return Ok(());
    }
    let Some(user) = users::find_by_email(state, email.as_str()).await? else {
        return Ok(());
    };
    if !user.is_active {
        return Ok(());
    }
    queue_reset(state, &user).await?;
    audit::record(
        state,
        Event::new("reset_requested")
            .subject(user.id)
            .client(client),
    );
    Ok(())
}

/// Mails `user` a fresh reset link (also an admin's action).
pub async fn queue_reset(state: &AppState, user: &User) -> Result<(), AppError> {
    let now = state.now();
    let lifetime = secs(state.config.mail.reset_ttl);
    let mut tx = state.db.begin().await?;
    let token = issue(&mut tx, user.id, Purpose::Reset, None, lifetime, now).await?;
    let mail = Mail {
        to: user.email.clone(),
        subject: "Reset your password".into(),
        body: format!(
            "Hello {},\n\nto choose a new password for your Gatehouse account, open this link:\n\n\
             {}\n\nThe link works once, for {} minutes. If you did not ask for it, ignore this \
             message: your password stays as it is.\n",
            user.username,
            link(state, "/reset-password", &token),
            lifetime / 60
        ),
    };
    mail::enqueue(&mut tx, &mail, now).await?;
    tx.commit().await?;
    state.mailer.wake();
    tracing::info!(user_id = user.id, "password reset link queued");
    Ok(())
}

/// Sets a new password from a reset link. Every session of the account ends; the person logs
/// in again with the new password.
pub async fn reset_password(
    state: &AppState,
    raw_token: &str,
    new_password: &str,
    confirmation: Option<&str>,
) -> Result<(), AppError> {
    let now = state.now();
    // Whose password it is decides the strength check (not built from their own email), and a
    // typo in the new password must not spend the link: look before spending.
    let holder: Option<i64> = sqlx::query_scalar(
        "SELECT user_id FROM email_tokens WHERE token_hash = ? AND purpose = 'reset' AND expires_at > ?",
    )
    .bind(SecretToken::from_client(raw_token).digest())
    .bind(now)
    .fetch_optional(&state.db)
    .await?;
    let invalid = || invalid_link();
    let user = match holder {
        Some(id) => users::find_by_id(state, id)
            .await?
            .ok_or_else(invalid_link)?,
        None => return Err(invalid()),
    };
    let (new, confirm) = (new_password.to_string(), confirmation.map(str::to_string));
    let (email, username) = (user.email.clone(), user.username.clone());
    let min_length = state.config.password_min_length;
    let password = state
        .hasher
        .run(move || check_new_password(&new, confirm.as_deref(), min_length, &[&email, &username]))
        .await??;
    let hash = state.hasher.hash(password.expose()).await?;
    let mut tx = state.db.begin().await?;
    if spend(&mut tx, raw_token, (Purpose::Reset, Purpose::Reset), now)
        .await?
        .is_none()
    {
        return Err(invalid_link());
    }
    users::store_password_hash(&mut tx, user.id, &hash, now).await?;
    users::after_password_change(&mut tx, state, &user, None, now).await?;
    tx.commit().await?;
    state.mailer.wake();
    tracing::info!(user_id = user.id, "password reset");
    audit::record(state, Event::new("password_reset").subject(user.id));
    Ok(())
}
