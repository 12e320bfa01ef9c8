//! Passkeys on accounts (SPEC §7): adding and removing them on `/security`, logging in with
//! one (no password), and using one as a login's second step. The ceremonies themselves are
//! `security::webauthn`'s; this module keeps their state between the two calls of each
//! (`webauthn_ceremonies`, single use, five minutes) and the passkeys themselves.

use webauthn_rs::prelude::{Passkey, PublicKeyCredential, RegisterPublicKeyCredential};

use crate::domain::devices::describe_user_agent;
use crate::domain::{AppError, ErrorKind};
use crate::server::accounts::audit::{Event, EventKind};
use crate::server::accounts::passwords::require_current_password;
use crate::server::accounts::two_step::{self, Verified};
use crate::server::accounts::{find_by_id, User};
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::security::tokens::{new_secret, secret_digest as digest};
use crate::server::security::webauthn::{credential_id, user_handle, Refused};
use crate::server::sessions::Amr;
use crate::server::startup::clock::rfc3339;
use crate::server::startup::state::AppState;
use crate::server::store::factors::{self, NewCeremony, NewPasskey};

/// How long a ceremony waits for the browser's answer.
const CEREMONY_SECS: i64 = 5 * 60;
const NOT_VERIFIED: &str = "The passkey could not be verified. Try again, or use another way.";
const NAME_MAX_CHARS: usize = 64;

#[derive(Clone, Copy)]
enum Kind {
    Add,
    Login,
    SecondStep,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Login => "login",
            Self::SecondStep => "second_step",
        }
    }
}

/// A ceremony's first half: the handle the browser sends back and the options for
/// `navigator.credentials` (WebAuthn JSON).
#[derive(serde::Serialize)]
pub struct Started {
    pub ceremony: String,
    pub options: serde_json::Value,
}

/// A passkey as `/security` lists it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

fn refused(state: &AppState, why: Refused) -> AppError {
    match why {
        Refused::Invalid(reason) => {
            tracing::info!(%reason, "passkey refused");
            match state.passkeys.unavailable() {
                Some(why_not) => AppError::bad_request(why_not),
                None => AppError::new(ErrorKind::Unauthenticated, NOT_VERIFIED),
            }
        }
        Refused::State => AppError::internal(),
    }
}

fn expired_ceremony() -> AppError {
    AppError::bad_request("This passkey request has expired or was already used. Try again.")
}

async fn keep(
    state: &AppState,
    client: &Client,
    kind: Kind,
    user_id: Option<i64>,
    pending: Option<&str>,
    options: serde_json::Value,
    ceremony_state: &str,
) -> Result<Started, AppError> {
    // Each ceremony stores a challenge: a client may start only so many.
    state
        .throttle
        .passkey_ceremony(&client.ip_address, state.now())
        .await
        .map_err(AppError::too_many_requests)?;
    let handle = new_secret();
    let mut conn = state.db.acquire().await?;
    factors::insert_ceremony(
        &mut conn,
        &NewCeremony {
            id: &digest(&handle),
            kind: kind.as_str(),
            user_id,
            pending,
            state: ceremony_state,
            expires_at: state.now() + CEREMONY_SECS,
        },
    )
    .await?;
    Ok(Started {
        ceremony: handle,
        options,
    })
}

async fn take(state: &AppState, kind: Kind, handle: &str) -> Result<factors::Ceremony, AppError> {
    let mut conn = state.db.acquire().await?;
    factors::take_ceremony(&mut conn, &digest(handle), kind.as_str(), state.now())
        .await?
        .ok_or_else(expired_ceremony)
}

fn parse(row: &factors::PasskeyRow) -> Result<Passkey, AppError> {
    serde_json::from_str(&row.credential).map_err(AppError::internal_from)
}

pub async fn list(state: &AppState, user_id: i64) -> Result<Vec<PasskeyView>, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(factors::passkeys_of(&mut conn, user_id)
        .await?
        .into_iter()
        .map(|row| PasskeyView {
            id: row.id,
            name: row.name,
            created_at: rfc3339(row.created_at),
            last_used_at: row.last_used_at.map(rfc3339),
        })
        .collect())
}

/// Starts adding a passkey to the caller's account.
pub async fn start_adding(
    state: &AppState,
    caller: &CurrentUser,
    client: &Client,
) -> Result<Started, AppError> {
    two_step::require_recent_login(state, caller).await?;
    let existing = {
        let mut conn = state.db.acquire().await?;
        factors::passkeys_of(&mut conn, caller.user_id).await?
    };
    let exclude = existing
        .iter()
        .filter_map(|row| parse(row).ok())
        .map(|passkey| passkey.cred_id().clone())
        .collect();
    let account = &caller.account;
    let (options, ceremony_state) = state
        .passkeys
        .start_registration(
            user_handle(&state.factor_key, caller.user_id),
            &account.email,
            &account.username,
            exclude,
        )
        .map_err(|why| refused(state, why))?;
    keep(
        state,
        client,
        Kind::Add,
        Some(caller.user_id),
        None,
        options,
        &ceremony_state,
    )
    .await
}

/// Finishes adding a passkey, named after the browser and system that made it. The first
/// second factor also gets recovery codes, shown once by the next `/security` page.
pub async fn finish_adding(
    state: &AppState,
    caller: &CurrentUser,
    client: &Client,
    handle: &str,
    credential: &RegisterPublicKeyCredential,
) -> Result<(), AppError> {
    let ceremony = take(state, Kind::Add, handle).await?;
    if ceremony.user_id != Some(caller.user_id) {
        return Err(expired_ceremony());
    }
    two_step::require_recent_login(state, caller).await?;
    let passkey = state
        .passkeys
        .finish_registration(&ceremony.state, credential)
        .map_err(|why| refused(state, why))?;
    let had_factor = two_step::status(state, caller.user_id)
        .await?
        .has_second_factor();
    let stored = serde_json::to_string(&passkey).map_err(AppError::internal_from)?;
    let name: String = describe_user_agent(&client.user_agent)
        .chars()
        .take(NAME_MAX_CHARS)
        .collect();
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let added = factors::insert_passkey(
        &mut tx,
        &NewPasskey {
            id: &credential_id(passkey.cred_id()),
            user_id: caller.user_id,
            name: &name,
            credential: &stored,
            now,
        },
    )
    .await?;
    if !added {
        return Err(AppError::new(
            ErrorKind::Conflict,
            "This passkey is already registered.",
        ));
    }
    if !had_factor {
        two_step::store_new_codes(state, &mut tx, caller.user_id, now).await?;
    }
    two_step::notify_added(state, &mut tx, caller, &format!("A passkey ({name})")).await?;
    tx.commit().await?;
    state.mailer.wake();
    let event = |kind| {
        Event::new(kind)
            .by(caller.user_id)
            .client(client)
            .session(&caller.session_id)
    };
    state
        .audit
        .record(event(EventKind::PasskeyAdded).detail("name", name.as_str()));
    if !had_factor {
        state.audit.record(event(EventKind::RecoveryCodesGenerated));
    }
    Ok(())
}

/// Renames one of the caller's passkeys (1 to 64 characters).
pub async fn rename(
    state: &AppState,
    caller: &CurrentUser,
    id: &str,
    name: &str,
) -> Result<(), AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::field("name", "Enter a name for the passkey."));
    }
    if name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::field(
            "name",
            "A passkey's name is at most 64 characters, on one line.",
        ));
    }
    let mut conn = state.db.acquire().await?;
    if !factors::rename_passkey(&mut conn, caller.user_id, id, name).await? {
        return Err(AppError::new(
            ErrorKind::NotFound,
            "That passkey has already been removed.",
        ));
    }
    Ok(())
}

/// Removes one of the caller's passkeys after the current password; without another second
/// factor the recovery codes go too.
pub async fn remove(
    state: &AppState,
    caller: &CurrentUser,
    client: &Client,
    id: &str,
    current_password: &str,
) -> Result<(), AppError> {
    let user = find_by_id(state, caller.user_id)
        .await?
        .ok_or_else(AppError::unauthenticated)?;
    require_current_password(state, &user, current_password).await?;
    let mut tx = state.db.begin().await?;
    let name = factors::passkey(&mut tx, id)
        .await?
        .filter(|row| row.user_id == caller.user_id)
        .map(|row| row.name);
    let Some(name) = name else {
        return Err(AppError::new(
            ErrorKind::NotFound,
            "That passkey has already been removed.",
        ));
    };
    factors::delete_passkey(&mut tx, caller.user_id, id).await?;
    let app_on = factors::app_factor(&mut tx, caller.user_id)
        .await?
        .is_some_and(|app| app.enabled_at.is_some());
    if !app_on && factors::count_passkeys(&mut tx, caller.user_id).await? == 0 {
        factors::delete_recovery_codes(&mut tx, caller.user_id).await?;
    }
    tx.commit().await?;
    state.audit.record(
        Event::new(EventKind::PasskeyRemoved)
            .by(caller.user_id)
            .client(client)
            .session(&caller.session_id)
            .detail("name", name),
    );
    Ok(())
}

/// Starts a login with any passkey of this site: `conditional` for the Email field's
/// autofill.
pub async fn start_login(
    state: &AppState,
    client: &Client,
    conditional: bool,
) -> Result<Started, AppError> {
    let (options, ceremony_state) = state
        .passkeys
        .start_login(conditional)
        .map_err(|why| refused(state, why))?;
    keep(
        state,
        client,
        Kind::Login,
        None,
        None,
        options,
        &ceremony_state,
    )
    .await
}

/// Checks a passkey's answer to the stored challenge and the stored credential's counter,
/// and records the use (compare-and-set on the stored credential: two answers cannot both
/// move one counter on).
async fn verify_and_record(
    state: &AppState,
    row: &factors::PasskeyRow,
    updated: Passkey,
) -> Result<(), AppError> {
    let after = serde_json::to_string(&updated).map_err(AppError::internal_from)?;
    let mut conn = state.db.acquire().await?;
    if !factors::passkey_used(&mut conn, &row.id, &row.credential, &after, state.now()).await? {
        return Err(AppError::new(ErrorKind::Unauthenticated, NOT_VERIFIED));
    }
    Ok(())
}

/// Finishes a passwordless login: whose account the passkey opens.
pub async fn finish_login(
    state: &AppState,
    client: &Client,
    handle: &str,
    credential: &PublicKeyCredential,
) -> Result<User, AppError> {
    let ceremony = take(state, Kind::Login, handle).await?;
    let (user_handle_sent, id) = state
        .passkeys
        .identify(credential)
        .map_err(|why| refused(state, why))?;
    let row = {
        let mut conn = state.db.acquire().await?;
        factors::passkey(&mut conn, &id).await?
    };
    let Some(row) = row else {
        // A passkey this site no longer knows (removed, or the account reset).
        return Err(AppError::new(
            ErrorKind::Unauthenticated,
            "This passkey is not registered here any more. Log in with your password.",
        ));
    };
    let failed = |reason: &'static str| {
        state.audit.record(
            Event::new(EventKind::LoginFailed)
                .subject(row.user_id)
                .client(client)
                .detail("reason", reason),
        );
        AppError::new(ErrorKind::Unauthenticated, NOT_VERIFIED)
    };
    if user_handle_sent != user_handle(&state.factor_key, row.user_id) {
        return Err(failed("passkey of another account"));
    }
    let updated = match state
        .passkeys
        .finish_login(&ceremony.state, credential, parse(&row)?)
    {
        Ok(updated) => updated,
        Err(Refused::State) => return Err(AppError::internal()),
        Err(Refused::Invalid(reason)) => {
            tracing::info!(%reason, "passkey login refused");
            return Err(failed("passkey refused"));
        }
    };
    let user = find_by_id(state, row.user_id)
        .await?
        .ok_or_else(|| AppError::new(ErrorKind::Unauthenticated, NOT_VERIFIED))?;
    if !user.is_active {
        return Err(failed_inactive(state, client, &user));
    }
    verify_and_record(state, &row, updated).await?;
    Ok(user)
}

fn failed_inactive(state: &AppState, client: &Client, user: &User) -> AppError {
    state.audit.record(
        Event::new(EventKind::LoginFailed)
            .subject(user.id)
            .client(client)
            .detail("reason", "account deactivated"),
    );
    AppError::forbidden("This account has been deactivated.")
}

/// Starts a second step with one of the pending login's account's passkeys.
pub async fn start_second_step(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<Started, AppError> {
    let Some((pending, pending_digest)) = two_step::pending_login(state, token).await? else {
        return Err(two_step::expired());
    };
    let rows = {
        let mut conn = state.db.acquire().await?;
        factors::passkeys_of(&mut conn, pending.user_id).await?
    };
    let passkeys: Vec<Passkey> = rows.iter().filter_map(|row| parse(row).ok()).collect();
    if passkeys.is_empty() {
        return Err(AppError::bad_request("This account has no passkey."));
    }
    let (options, ceremony_state) = state
        .passkeys
        .start_second_step(&passkeys)
        .map_err(|why| refused(state, why))?;
    keep(
        state,
        client,
        Kind::SecondStep,
        Some(pending.user_id),
        Some(&pending_digest),
        options,
        &ceremony_state,
    )
    .await
}

/// Finishes a pending login with a passkey; spends the pending login.
pub async fn finish_second_step(
    state: &AppState,
    client: &Client,
    token: &str,
    handle: &str,
    credential: &PublicKeyCredential,
) -> Result<Verified, AppError> {
    let ceremony = take(state, Kind::SecondStep, handle).await?;
    let Some((pending, pending_digest)) = two_step::pending_login(state, token).await? else {
        return Err(two_step::expired());
    };
    if ceremony.pending.as_deref() != Some(pending_digest.as_str())
        || ceremony.user_id != Some(pending.user_id)
    {
        return Err(expired_ceremony());
    }
    let rows = {
        let mut conn = state.db.acquire().await?;
        factors::passkeys_of(&mut conn, pending.user_id).await?
    };
    let passkeys: Vec<Passkey> = rows.iter().filter_map(|row| parse(row).ok()).collect();
    let (used_id, updated) =
        match state
            .passkeys
            .finish_second_step(&ceremony.state, credential, &passkeys)
        {
            Ok(done) => done,
            Err(Refused::State) => return Err(AppError::internal()),
            Err(Refused::Invalid(reason)) => {
                tracing::info!(%reason, "passkey second step refused");
                state.audit.record(
                    Event::new(EventKind::SecondStepFailed)
                        .subject(pending.user_id)
                        .client(client)
                        .detail("reason", "passkey refused"),
                );
                return Err(AppError::new(ErrorKind::Unauthenticated, NOT_VERIFIED));
            }
        };
    let row = rows
        .iter()
        .find(|row| row.id == used_id)
        .ok_or_else(|| AppError::new(ErrorKind::Unauthenticated, NOT_VERIFIED))?;
    let user = find_by_id(state, pending.user_id)
        .await?
        .ok_or_else(two_step::expired)?;
    if !user.is_active {
        return Err(failed_inactive(state, client, &user));
    }
    verify_and_record(state, row, updated).await?;
    {
        let mut conn = state.db.acquire().await?;
        if !factors::spend_pending(&mut conn, &pending_digest, state.now()).await? {
            return Err(two_step::expired());
        }
    }
    Ok(Verified {
        user,
        remember: pending.remember,
        device_id: pending.device_id,
        amr: [Amr::Password, Amr::Passkey],
    })
}
