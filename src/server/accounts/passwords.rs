//! Checking a person's password (throttled), choosing a new one, and what follows a change.

use crate::domain::{check_password_change, AppError, Password};
use crate::server::mail::{self, templates};
use crate::server::security::password::{PasswordHash, Verified};
use crate::server::security::throttle::Attempt;
use crate::server::sessions::{self, EndReason};
use crate::server::startup::state::AppState;
use crate::server::store::email_tokens;
use crate::server::store::Conn;

use super::User;

/// Verifies a password and settles its throttle attempt in a task of its own, so the attempt
/// is settled by the real outcome even if the client goes away mid-check.
/// `refused_anyway`: a right password that will still be refused (an unconfirmed address
/// with verification required) counts as a failure, so the throttle answers it as it answers
/// a wrong one.
pub(super) async fn verify_and_settle(
    state: &AppState,
    password: &str,
    stored: Option<PasswordHash>,
    attempt: Attempt,
    refused_anyway: bool,
) -> Result<Verified, AppError> {
    let state = state.clone();
    let password = password.to_string();
    tokio::spawn(async move {
        let outcome = state.hasher.verify(&password, stored.as_ref()).await;
        match &outcome {
            Ok(Verified::Yes | Verified::YesButRehash) if refused_anyway => {}
            Ok(Verified::Yes | Verified::YesButRehash) => state.throttle.succeeded(attempt).await,
            Ok(Verified::No) => {}
            Err(_) => state.throttle.cancelled(attempt).await,
        }
        outcome
    })
    .await
    .map_err(AppError::internal_from)?
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
        .await
        .map_err(AppError::too_many_requests)?;
    let stored = Some(user.password_hash.clone());
    match verify_and_settle(state, current_password, stored, attempt, false).await? {
        Verified::No => Err(AppError::field(
            "current_password",
            "Your current password is not correct.",
        )),
        Verified::Yes | Verified::YesButRehash => Ok(()),
    }
}

/// The password-change form's checks, with the strength estimate off the async workers.
pub(super) async fn strong_new_password(
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

/// After a new password is stored: every session but `keep` ends, every pending emailed link
/// (reset, confirmation, change of address) stops working, and the owner is told by mail
/// (inside the caller's transaction).
pub async fn after_password_change(
    conn: &mut Conn,
    state: &AppState,
    user: &User,
    keep: Option<&str>,
    now: i64,
) -> Result<(), AppError> {
    let ended = sessions::end_all_in(conn, user.id, keep, EndReason::PasswordChanged, now).await?;
    email_tokens::delete_all_for(conn, user.id).await?;
    let origin = &state.config.public_url.origin;
    let notice = templates::password_changed(&user.email, &user.username, origin);
    mail::enqueue(conn, &notice, now).await?;
    tracing::info!(
        user_id = user.id,
        sessions_ended = ended,
        "password changed"
    );
    Ok(())
}
