//! Logging in with an email and a password: throttled, and constant-time with respect to
//! whether the account exists.

use crate::domain::{check_login, AppError, Email, ErrorKind, PASSWORD_MAX_LENGTH};
use crate::server::accounts::audit::{Event, EventKind};
use crate::server::ops::metrics::LoginOutcome;
use crate::server::security::password::Verified;
use crate::server::security::principal::Client;
use crate::server::security::throttle::{Guesser, Refused};
use crate::server::security::tokens::IssuedTokens;
use crate::server::sessions::{self, Amr};
use crate::server::startup::state::AppState;
use crate::server::store::users;

use super::passwords::verify_and_settle;
use super::two_step::{self, SecondStep};
use super::{
    email_links, find_by_email, User, INVALID_CREDENTIALS, INVALID_CREDENTIALS_OR_UNCONFIRMED,
};

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

/// The one answer to a failed login. With `EMAIL_VERIFICATION=required` it also covers an
/// unconfirmed address, so that no answer tells a taken address from a free one.
fn invalid_credentials(state: &AppState) -> AppError {
    let message = if state.config.mail.verification_required {
        INVALID_CREDENTIALS_OR_UNCONFIRMED
    } else {
        INVALID_CREDENTIALS
    };
    AppError::new(ErrorKind::Unauthenticated, message)
}

/// Checks the credentials (throttled, constant-time with respect to account existence) and
/// starts a session.
/// What a correct password leads to: a session, or (for an account with a second factor) a
/// pending login that the second step finishes.
pub enum Outcome {
    LoggedIn(LoggedIn),
    SecondStep(SecondStep),
}

pub async fn log_in(
    state: &AppState,
    credentials: Credentials<'_>,
    client: &Client,
) -> Result<Outcome, AppError> {
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
        let event = Event::new(EventKind::LoginThrottled).client(client);
        state
            .audit
            .record(subject.map_or(event.clone(), |id| event.subject(id)));
    }
    let refusal = if refusal.unavailable {
        AppError::busy(refusal.wait_secs)
    } else {
        AppError::too_many_requests(refusal.wait_secs)
    };
    state.hasher.refuse(refusal).await
}

async fn check_and_start(
    state: &AppState,
    credentials: Credentials<'_>,
    client: &Client,
) -> Result<Outcome, AppError> {
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
        return Err(invalid_credentials(state));
    };
    if password.chars().count() > PASSWORD_MAX_LENGTH {
        return Err(invalid_credentials(state));
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
            .await
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
    let device = claimed_device.filter(|device| {
        user.as_ref()
            .is_some_and(|u| device.belongs_to(u.id, u.created_at))
    });
    let guesser = match &device {
        Some(device) => Guesser::KnownDevice(&device.device_id),
        None => Guesser::Stranger {
            address: &client.ip_address,
        },
    };
    let subject = user.as_ref().map(|u| u.id);
    let failure = |reason: &'static str| {
        let event = Event::new(EventKind::LoginFailed)
            .client(client)
            .detail("reason", reason);
        state
            .audit
            .record(subject.map_or(event.clone(), |id| event.subject(id)));
    };
    let attempt = match state.throttle.begin(email.as_str(), guesser, now).await {
        Ok(attempt) => attempt,
        Err(refusal) => return Err(refused(state, client, refusal, subject).await),
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let unconfirmed =
        state.config.mail.verification_required && user.as_ref().is_some_and(|u| !u.email_verified);
    let verified = verify_and_settle(state, password, stored, attempt, unconfirmed).await?;
    let user = match (user, verified) {
        (Some(user), Verified::Yes | Verified::YesButRehash) => user,
        (Some(_), _) => {
            failure("wrong password");
            return Err(invalid_credentials(state));
        }
        (None, _) => {
            failure("no such account");
            return Err(invalid_credentials(state));
        }
    };
    if !user.is_active {
        failure("account deactivated");
        return Err(AppError::forbidden("This account has been deactivated."));
    }
    if state.config.mail.verification_required && !user.email_verified {
        // Answered as a wrong password is (an address someone else registered first must not
        // answer differently from a free one); the owner gets a fresh link.
        failure("email not confirmed");
        email_links::resend_after_refused_login(state, &user, client);
        return Err(invalid_credentials(state));
    }
    if verified == Verified::YesButRehash {
        let fresh = state.hasher.hash(password).await?;
        let mut conn = state.db.acquire().await?;
        users::set_password_hash(&mut conn, user.id, &fresh, now).await?;
    }
    let device_id = device.map(|d| d.device_id);
    if let Some(step) =
        two_step::second_step_needed(state, &user, remember, device_id.as_deref()).await?
    {
        tracing::info!(user_id = user.id, "password accepted; second step pending");
        return Ok(Outcome::SecondStep(step));
    }
    finish(state, user, remember, device_id, client, &[Amr::Password])
        .await
        .map(Outcome::LoggedIn)
}

/// Finishes a pending login with an app code or a recovery code (`two_step::verify`).
pub async fn finish_second_step(
    state: &AppState,
    token: &str,
    code: &str,
    client: &Client,
) -> Result<LoggedIn, AppError> {
    finish_verified(
        state,
        two_step::verify(state, token, code, client).await,
        client,
    )
    .await
}

/// Starts the session of a pending login whose second step `verified` (a code, or a passkey:
/// `passkeys::finish_second_step`) finished, and counts the outcome.
pub async fn finish_verified(
    state: &AppState,
    verified: Result<two_step::Verified, AppError>,
    client: &Client,
) -> Result<LoggedIn, AppError> {
    let outcome = match verified {
        Ok(verified) => {
            finish(
                state,
                verified.user,
                verified.remember,
                verified.device_id,
                client,
                &verified.amr,
            )
            .await
        }
        Err(err) => Err(err),
    };
    state.metrics.login(LoginOutcome::of(&outcome));
    outcome
}

/// Logs in the owner of a passkey (no password, no second step: a passkey verifies the person
/// itself). `device_token` keeps this client's device id when it is the account's.
pub async fn log_in_with_passkey(
    state: &AppState,
    user: User,
    remember: bool,
    device_token: Option<&str>,
    client: &Client,
) -> Result<LoggedIn, AppError> {
    let device_id = device_token
        .and_then(|token| state.keys.verify_device(token, state.now()))
        .filter(|device| device.belongs_to(user.id, user.created_at))
        .map(|device| device.device_id);
    let outcome = finish(state, user, remember, device_id, client, &[Amr::Passkey]).await;
    state.metrics.login(LoginOutcome::of(&outcome));
    outcome
}

/// Starts the session of a person who proved who they are (`amr`), and renews this client's
/// device token.
async fn finish(
    state: &AppState,
    user: User,
    remember: bool,
    device_id: Option<String>,
    client: &Client,
    amr: &[Amr],
) -> Result<LoggedIn, AppError> {
    let tokens = sessions::start_with(state, user.id, remember, client, amr).await?;
    let device_id = device_id.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let device_token = state
        .keys
        .issue_device(user.id, user.created_at, &device_id, state.now());
    tracing::info!(user_id = user.id, session_id = %tokens.session_id, "logged in");
    let mut event = Event::new(EventKind::LoginSucceeded)
        .by(user.id)
        .client(client)
        .session(&tokens.session_id);
    match amr {
        [_, Amr::App] => event = event.detail("with", "authenticator app"),
        [_, Amr::RecoveryCode] => event = event.detail("with", "recovery code"),
        [_, Amr::Passkey] => event = event.detail("with", "passkey"),
        [Amr::Passkey] => event = event.detail("with", "passkey, no password"),
        _ => {}
    }
    state.audit.record(event);
    Ok(LoggedIn {
        user,
        tokens,
        device_token,
    })
}
