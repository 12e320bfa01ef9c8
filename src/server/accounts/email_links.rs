//! Account email flows: confirming an address (of a new account, or a new address for an
//! existing one) and resetting a forgotten password. Links carry single-use tokens: 256 random
//! bits, stored only as SHA-256, bound to one purpose and one account, expiring, and spent
//! atomically, so a second or parallel use fails. Opening a link only shows a page; the button
//! on it spends the token, so mail scanners that fetch links cannot burn it.

use crate::domain::{check_new_password, AppError, Email, ErrorKind};
use crate::server::accounts::audit::{Event, EventKind};
use crate::server::mail::{self, templates};
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::security::tokens::RefreshToken as SecretToken;
use crate::server::sessions;
use crate::server::startup::state::AppState;
use crate::server::store::email_tokens::{self, NewToken, Purpose};
use crate::server::store::{secs, users, Conn};

use super::passwords::after_password_change;
use super::{current, find_by_email, find_by_id, taken, User};

pub const INVALID_LINK: &str =
    "This link is invalid, has expired or was already used. Ask for a new one.";

/// No live token of that purpose: to a client, an unknown link (404).
fn invalid_link() -> AppError {
    AppError::new(ErrorKind::NotFound, INVALID_LINK)
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
    conn: &mut Conn,
    user_id: i64,
    purpose: Purpose,
    change: Option<(&str, &str)>,
    lifetime: i64,
    now: i64,
) -> Result<SecretToken, sqlx::Error> {
    let token = SecretToken::generate();
    let row = NewToken {
        digest: &token.digest(),
        user_id,
        purpose,
        change,
        now,
        expires_at: now + lifetime,
    };
    email_tokens::replace(conn, &row).await?;
    Ok(token)
}

/// Queues the link that confirms a new account's address (inside the caller's transaction).
pub async fn queue_verification(
    conn: &mut Conn,
    state: &AppState,
    user_id: i64,
    email: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let lifetime = secs(state.config.mail.verify_ttl);
    let token = issue(conn, user_id, Purpose::Verify, None, lifetime, now).await?;
    let link = link(state, "/verify-email", &token);
    let mail = templates::confirm_address(email, &link, lifetime / 3600);
    mail::enqueue(conn, &mail, now).await
}

/// Tells the owner of `email` that someone tried to register with it (when verification is
/// required, registration answers the same for taken and free addresses). Counted by the
/// same mail limits as reset links, so registering again and again cannot bomb the owner.
pub async fn registration_attempt_notice(
    state: &AppState,
    email: &str,
    client: &Client,
) -> Result<(), AppError> {
    let origin = &state.config.public_url.origin;
    notice_if_allowed(
        state,
        email,
        client,
        templates::registration_attempt(email, origin),
    )
    .await
}

/// Queues `mail` about `email` unless the mail limits for it are reached (silently: the
/// answer is the same either way).
async fn notice_if_allowed(
    state: &AppState,
    email: &str,
    client: &Client,
    mail: mail::Mail,
) -> Result<(), AppError> {
    let now = state.now();
    if !notice_allowed(state, email, client, now).await {
        return Ok(());
    }
    let mut conn = state.db.acquire().await?;
    Ok(state.mailer.send(&mut conn, &mail, now).await?)
}

/// Whether a notice to `email` (not a link) is within the mail limits. Notices have their
/// own count, so they never use up the address's reset links.
pub async fn notice_allowed(state: &AppState, email: &str, client: &Client, now: i64) -> bool {
    let subject = format!("notice:{}", email.to_lowercase());
    let allowed = state
        .throttle
        .mail(&subject, &client.ip_address, false, now)
        .await
        .is_ok();
    if !allowed {
        tracing::info!("notice not sent: too many asked for this address or client");
    }
    allowed
}

/// A login was refused because the address is not confirmed yet, with the right password:
/// a fresh link goes out (at most one a minute), in the background so that the answer and
/// its timing are those of a wrong password.
pub fn resend_after_refused_login(state: &AppState, user: &User, client: &Client) {
    let (state, client, user) = (state.clone(), client.clone(), user.clone());
    let background = state.background.clone();
    background.spawn(async move {
        match queue_fresh_link(&state, &user, &client, false).await {
            Ok(()) => state.audit.record(
                Event::new(EventKind::VerificationSent)
                    .subject(user.id)
                    .client(&client),
            ),
            Err(e) if e.kind == ErrorKind::TooManyRequests => {}
            Err(e) => tracing::warn!(error = %e, "could not queue a confirmation link"),
        }
    });
}

/// Queues a fresh confirmation link to `user`'s address, within the mail limits
/// (`Throttle::mail`; `known_device` as there): 429 when they are reached.
async fn queue_fresh_link(
    state: &AppState,
    user: &User,
    client: &Client,
    known_device: bool,
) -> Result<(), AppError> {
    let now = state.now();
    let subject = format!("verify:{}", user.id);
    state
        .throttle
        .mail(&subject, &client.ip_address, known_device, now)
        .await
        .map_err(AppError::too_many_requests)?;
    let mut tx = state.db.begin().await?;
    queue_verification(&mut tx, state, user.id, &user.email, now).await?;
    tx.commit().await?;
    state.mailer.wake();
    Ok(())
}

/// Sends a fresh confirmation link to the caller's address: at most one a minute.
pub async fn resend_verification(
    state: &AppState,
    caller: &CurrentUser,
    client: &Client,
) -> Result<(), AppError> {
    let user = current(state, caller).await?;
    if user.email_verified {
        return Ok(());
    }
    // A logged-in member: not held to the address-wide cap.
    queue_fresh_link(state, &user, client, true).await?;
    state.audit.record(
        Event::new(EventKind::VerificationSent)
            .by(user.id)
            .client(client),
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
    let digest = SecretToken::from_client(raw_token).digest();
    let mut tx = state.db.begin().await?;
    let spent = email_tokens::spend(
        &mut tx,
        &digest,
        (Purpose::Verify, Purpose::ChangeEmail),
        now,
    )
    .await?
    .ok_or_else(invalid_link)?;
    let confirmed = if spent.purpose == Purpose::ChangeEmail {
        let new_email = spent.new_email.unwrap_or_default();
        let session = spent.session_id.unwrap_or_default();
        // A pending change dies with the session that asked for it.
        if !sessions::is_live(state, &session, now).await {
            return Err(invalid_link());
        }
        users::set_confirmed_email(&mut tx, spent.user_id, &new_email, now)
            .await?
            .map_err(taken)?;
        // Links sent to the old address (a reset, say) must not outlive the change.
        email_tokens::delete_all_for(&mut tx, spent.user_id).await?;
        tracing::info!(user_id = spent.user_id, "email address changed");
        state.audit.record(
            Event::new(EventKind::EmailChanged)
                .by(spent.user_id)
                .detail("new_email", new_email.clone()),
        );
        Confirmed::EmailChanged(new_email)
    } else {
        users::mark_email_verified(&mut tx, spent.user_id, now).await?;
        tracing::info!(user_id = spent.user_id, "email address confirmed");
        state
            .audit
            .record(Event::new(EventKind::EmailVerified).by(spent.user_id));
        Confirmed::Verified
    };
    tx.commit().await?;
    Ok(confirmed)
}

/// Tells `user`'s current address that a change to `new_email` was asked for.
async fn queue_change_notice(
    conn: &mut Conn,
    state: &AppState,
    user: &User,
    new_email: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let origin = &state.config.public_url.origin;
    let notice =
        templates::address_change_requested(&user.email, &user.username, new_email, origin);
    mail::enqueue(conn, &notice, now).await
}

/// Who gets what when a member asks to move to another address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewAddress {
    /// A free address: it gets the link.
    Free,
    /// Another account's (verification required): no link is mailed; its owner is told,
    /// unless the mail limits for the address are reached.
    Taken { notify_owner: bool },
}

/// Asks to move `user` to `new_email`: a link goes to the new address, a notice to the old one,
/// and the account keeps its address until the link is used from the session `caller`. For a
/// taken address everything the member can observe is the same (an earlier link stops
/// working, the old address gets its notice); the link is made but never mailed.
pub async fn request_email_change(
    conn: &mut Conn,
    state: &AppState,
    user: &User,
    caller: &CurrentUser,
    new_email: &str,
    new_address: NewAddress,
    now: i64,
) -> Result<(), sqlx::Error> {
    let lifetime = secs(state.config.mail.verify_ttl);
    let change = Some((new_email, caller.session_id.as_str()));
    let token = issue(conn, user.id, Purpose::ChangeEmail, change, lifetime, now).await?;
    match new_address {
        NewAddress::Free => {
            let link = link(state, "/verify-email", &token);
            let confirm =
                templates::confirm_new_address(new_email, &user.username, &link, lifetime / 3600);
            mail::enqueue(conn, &confirm, now).await?;
        }
        NewAddress::Taken { notify_owner } => {
            if notify_owner {
                let origin = &state.config.public_url.origin;
                mail::enqueue(conn, &templates::address_claimed(new_email, origin), now).await?;
            }
        }
    }
    queue_change_notice(conn, state, user, new_email, now).await
}

/// Asks for a reset link. The answer, and its timing, are the same whether or not the address
/// has an account: everything after checking the address's syntax happens off the request.
/// `device_token` is the device cookie the client holds, if any: a client the account logged
/// in from before is not held to the address's overall limit (`Throttle::mail`).
pub async fn request_reset(
    state: &AppState,
    raw_email: &str,
    client: &Client,
    device_token: Option<String>,
) -> Result<(), AppError> {
    let email = Email::parse(raw_email).map_err(|message| AppError::field("email", message))?;
    let background = state.background.clone();
    let (state, client) = (state.clone(), client.clone());
    background.spawn(async move {
        if let Err(e) = send_reset(&state, &email, &client, device_token.as_deref()).await {
            tracing::warn!(error = %e, "could not queue a reset link");
        }
    });
    Ok(())
}

async fn send_reset(
    state: &AppState,
    email: &Email,
    client: &Client,
    device_token: Option<&str>,
) -> Result<(), AppError> {
    let now = state.now();
    let user = find_by_email(state, email.as_str()).await?;
    let known_device = device_token
        .and_then(|token| state.keys.verify_device(token, now))
        .zip(user.as_ref())
        .is_some_and(|(device, user)| device.belongs_to(user.id, user.created_at));
    // Silent limits: the person sees the same answer either way.
    if state
        .throttle
        .mail(email.as_str(), &client.ip_address, known_device, now)
        .await
        .is_err()
    {
        tracing::info!("reset link not sent: too many asked for this address or client");
        return Ok(());
    }
    let Some(user) = user else {
        return Ok(());
    };
    if !user.is_active {
        return Ok(());
    }
    queue_reset(state, &user).await?;
    state.audit.record(
        Event::new(EventKind::ResetRequested)
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
    let link = link(state, "/reset-password", &token);
    let mail = templates::reset_password(&user.email, &user.username, &link, lifetime / 60);
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
    let digest = SecretToken::from_client(raw_token).digest();
    // Whose password it is decides the strength check (not built from their own email), and a
    // typo in the new password must not spend the link: look before spending.
    let mut conn = state.db.acquire().await?;
    let holder = email_tokens::holder(&mut conn, &digest, Purpose::Reset, now).await?;
    drop(conn);
    let user = match holder {
        Some(id) => find_by_id(state, id).await?.ok_or_else(invalid_link)?,
        None => return Err(invalid_link()),
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
    if email_tokens::spend(&mut tx, &digest, (Purpose::Reset, Purpose::Reset), now)
        .await?
        .is_none()
    {
        return Err(invalid_link());
    }
    users::set_password_hash(&mut tx, user.id, &hash, now).await?;
    // The link came to this address: it is confirmed.
    users::mark_email_verified(&mut tx, user.id, now).await?;
    after_password_change(&mut tx, state, &user, None, now).await?;
    tx.commit().await?;
    state.mailer.wake();
    tracing::info!(user_id = user.id, "password reset");
    state
        .audit
        .record(Event::new(EventKind::PasswordReset).subject(user.id));
    Ok(())
}
