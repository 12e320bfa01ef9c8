//! Two-step verification (SPEC §7): turning an authenticator app on and off, recovery codes,
//! and the second step of a login.
//!
//! - After a correct password, an account with a second factor gets a pending login (a random
//!   token whose SHA-256 is stored, good for five minutes and one success), not a session.
//! - A code is checked under the login throttle's rules, with the account's own key
//!   (`second-step:<id>`): the client's device budget when it had logged in to the account
//!   before, the address and account budgets otherwise. Every wrong code answers "That code is
//!   not valid.", whether it was wrong, replayed or a spent recovery code.
//! - A code is spent in the same transaction as the pending login: two requests with one
//!   code, or with one pending login, cannot both succeed.

use crate::domain::{AppError, ErrorKind};
use crate::server::accounts::audit::{Event, EventKind};
use crate::server::accounts::passwords::require_current_password;
use crate::server::accounts::{find_by_id, User};
use crate::server::mail::templates;
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::security::second_factor::{
    self, open_text, qr_svg, recovery_codes, recovery_digest, seal_text, AppSecret,
};
use crate::server::security::throttle::Guesser;
use crate::server::security::tokens::{new_secret, secret_digest as digest};
use crate::server::sessions::{self, Amr, EndReason};
use crate::server::startup::state::AppState;
use crate::server::store::factors::{self, NewPendingLogin};

/// The one answer to a wrong, replayed or spent code.
pub const INVALID_CODE: &str = "That code is not valid.";
/// How long a login waits for its second step.
pub const PENDING_SECS: i64 = 5 * 60;
/// How long an authenticator-app set-up waits for its first code.
const SETUP_SECS: i64 = 15 * 60;
/// How long new recovery codes wait to be shown.
const REVEAL_SECS: i64 = 10 * 60;
const REVEAL_LABEL: &str = "recovery codes to show";
const EXPIRED: &str = "Your login took too long or has already been used. Log in again.";

/// A second factor a login can be finished with (the API's `methods`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Totp,
    Passkey,
    RecoveryCode,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Passkey => "passkey",
            Self::RecoveryCode => "recovery_code",
        }
    }
}

/// What an account has of second factors (what `/security` shows).
pub use factors::Summary as Status;

impl Status {
    pub fn has_second_factor(&self) -> bool {
        self.app_on || self.passkeys > 0
    }

    pub fn methods(&self) -> Vec<Method> {
        let mut methods = Vec::new();
        if self.app_on {
            methods.push(Method::Totp);
        }
        if self.passkeys > 0 {
            methods.push(Method::Passkey);
        }
        if self.has_second_factor() && self.codes_left > 0 {
            methods.push(Method::RecoveryCode);
        }
        methods
    }
}

pub async fn status(state: &AppState, user_id: i64) -> Result<Status, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(factors::summary(&mut conn, user_id).await?)
}

/// How recent a login must be to add a second factor: a session found later (a borrowed
/// laptop, a stolen cookie) must not be able to add a way in of its own.
const RECENT_LOGIN_SECS: i64 = 15 * 60;

/// Refuses to add a second factor from a session whose login is older than 15 minutes.
pub(crate) async fn require_recent_login(
    state: &AppState,
    caller: &CurrentUser,
) -> Result<(), AppError> {
    let started = {
        let mut conn = state.db.acquire().await?;
        crate::server::store::sessions::started_at(&mut conn, &caller.session_id).await?
    };
    match started {
        Some(at) if at + RECENT_LOGIN_SECS >= state.now() => Ok(()),
        _ => Err(AppError::forbidden(
            "For your security, log out and log in again before adding a second factor: \
             this session's login is more than 15 minutes old.",
        )),
    }
}

/// Tells the person a second factor was added (queued in `tx`, with the change).
pub(crate) async fn notify_added(
    state: &AppState,
    tx: &mut crate::server::store::Tx,
    user: &CurrentUser,
    what: &str,
) -> Result<(), AppError> {
    let notice = templates::second_factor_added(
        &user.account.email,
        &user.account.username,
        what,
        &state.config.public_url.origin,
    );
    crate::server::mail::enqueue(tx, &notice, state.now()).await?;
    Ok(())
}

/// An authenticator-app set-up in progress: what the person scans or types.
#[derive(Clone, Debug)]
pub struct AppSetup {
    pub setup_key: String,
    pub qr_svg: String,
}

/// Starts (or restarts) setting up an authenticator app with a new secret.
pub async fn begin_app_setup(state: &AppState, caller: &CurrentUser) -> Result<(), AppError> {
    require_recent_login(state, caller).await?;
    let secret = AppSecret::generate();
    let sealed = secret.seal(&state.factor_key, caller.user_id);
    let mut conn = state.db.acquire().await?;
    if !factors::begin_app_setup(&mut conn, caller.user_id, &sealed, state.now()).await? {
        return Err(AppError::new(
            ErrorKind::Conflict,
            "Your authenticator app is already on.",
        ));
    }
    Ok(())
}

/// The set-up in progress, if one was started in the last fifteen minutes.
pub async fn app_setup(
    state: &AppState,
    caller: &CurrentUser,
) -> Result<Option<AppSetup>, AppError> {
    let Some((secret, _)) = pending_secret(state, caller.user_id).await? else {
        return Ok(None);
    };
    let account = &caller.account.email;
    let uri = secret.otpauth_uri(account);
    let qr = qr_svg(&uri, "QR code for your authenticator app").ok_or_else(AppError::internal)?;
    Ok(Some(AppSetup {
        setup_key: secret.setup_key(),
        qr_svg: qr,
    }))
}

/// The set-up in progress and its stored (sealed) form, if one was started in the last
/// fifteen minutes and the app is not on yet.
async fn pending_secret(
    state: &AppState,
    user_id: i64,
) -> Result<Option<(AppSecret, String)>, AppError> {
    let mut conn = state.db.acquire().await?;
    let Some(app) = factors::app_factor(&mut conn, user_id).await? else {
        return Ok(None);
    };
    if app.enabled_at.is_some() || app.created_at + SETUP_SECS <= state.now() {
        return Ok(None);
    }
    Ok(AppSecret::open(&app.secret, &state.factor_key, user_id).map(|s| (s, app.secret)))
}

fn code_refused() -> AppError {
    AppError::field("code", INVALID_CODE)
}

/// Turns the app being set up on with its first code. The first second factor also gets
/// recovery codes, shown once by the next `/security` page (`take_new_codes`).
pub async fn turn_on_app(
    state: &AppState,
    caller: &CurrentUser,
    client: &Client,
    code: &str,
) -> Result<(), AppError> {
    if code.trim().is_empty() {
        return Err(AppError::field(
            "code",
            "Enter the 6-digit code your app shows.",
        ));
    }
    let Some((secret, sealed)) = pending_secret(state, caller.user_id).await? else {
        return Err(AppError::bad_request(
            "This set-up has expired. Select \"Set up authenticator app\" to start again.",
        ));
    };
    require_recent_login(state, caller).await?;
    // Wrong set-up codes have a budget of their own, per session: a borrowed session cannot
    // probe for a working code at leisure, and mistyped codes do not block password checks.
    let now = state.now();
    let budget = format!("app-setup:{}", caller.user_id);
    let attempt = state
        .throttle
        .begin(&budget, Guesser::KnownDevice(&caller.session_id), now)
        .await
        .map_err(|refused| AppError::too_many_requests(refused.wait_secs))?;
    let Ok(step) = secret.accepts(code, now, None) else {
        return Err(code_refused());
    };
    state.throttle.succeeded(attempt).await;
    let had_factor = status(state, caller.user_id).await?.has_second_factor();
    let mut tx = state.db.begin().await?;
    if !factors::enable_app(&mut tx, caller.user_id, &sealed, step, now).await? {
        return Err(AppError::new(
            ErrorKind::Conflict,
            "This set-up changed meanwhile (another tab?). Reload the page and try again.",
        ));
    }
    if !had_factor {
        store_new_codes(state, &mut tx, caller.user_id, now).await?;
    }
    notify_added(state, &mut tx, caller, "An authenticator app").await?;
    tx.commit().await?;
    state.mailer.wake();
    record(state, caller, client, EventKind::AppTurnedOn);
    if !had_factor {
        record(state, caller, client, EventKind::RecoveryCodesGenerated);
    }
    Ok(())
}

/// A new set of recovery codes replaces the old one; the codes wait, sealed, to be shown.
pub(crate) async fn store_new_codes(
    state: &AppState,
    tx: &mut crate::server::store::Tx,
    user_id: i64,
    now: i64,
) -> Result<(), AppError> {
    let codes = recovery_codes();
    let digests: Vec<String> = codes
        .iter()
        .filter_map(|code| recovery_digest(&state.factor_key, code))
        .collect();
    factors::replace_recovery_codes(tx, user_id, &digests).await?;
    let sealed = seal_text(&state.factor_key, REVEAL_LABEL, user_id, &codes.join("\n"));
    factors::put_reveal(tx, user_id, &sealed, now + REVEAL_SECS).await?;
    Ok(())
}

/// The recovery codes made since the page was last shown, once: a second call finds none.
pub async fn take_new_codes(
    state: &AppState,
    caller: &CurrentUser,
) -> Result<Option<Vec<String>>, AppError> {
    let mut conn = state.db.acquire().await?;
    let Some(sealed) = factors::take_reveal(&mut conn, caller.user_id, state.now()).await? else {
        return Ok(None);
    };
    Ok(
        open_text(&state.factor_key, REVEAL_LABEL, caller.user_id, &sealed)
            .map(|codes| codes.lines().map(str::to_string).collect()),
    )
}

/// Turns the app off after the current password; without another second factor the
/// recovery codes go too.
pub async fn turn_off_app(
    state: &AppState,
    caller: &CurrentUser,
    client: &Client,
    current_password: &str,
) -> Result<(), AppError> {
    let user = own_account(state, caller).await?;
    require_current_password(state, &user, current_password).await?;
    let mut tx = state.db.begin().await?;
    let removed = factors::delete_app(&mut tx, caller.user_id).await?;
    if factors::count_passkeys(&mut tx, caller.user_id).await? == 0 {
        factors::delete_recovery_codes(&mut tx, caller.user_id).await?;
    }
    tx.commit().await?;
    if removed {
        record(state, caller, client, EventKind::AppTurnedOff);
    }
    Ok(())
}

/// New recovery codes after the current password; the old ones stop working.
pub async fn regenerate_codes(
    state: &AppState,
    caller: &CurrentUser,
    client: &Client,
    current_password: &str,
) -> Result<(), AppError> {
    let user = own_account(state, caller).await?;
    if !status(state, caller.user_id).await?.has_second_factor() {
        return Err(AppError::bad_request(
            "Recovery codes come with a second factor: add a passkey or set up an authenticator app first.",
        ));
    }
    require_current_password(state, &user, current_password).await?;
    let mut tx = state.db.begin().await?;
    store_new_codes(state, &mut tx, caller.user_id, state.now()).await?;
    tx.commit().await?;
    record(state, caller, client, EventKind::RecoveryCodesGenerated);
    Ok(())
}

async fn own_account(state: &AppState, caller: &CurrentUser) -> Result<User, AppError> {
    find_by_id(state, caller.user_id)
        .await?
        .ok_or_else(AppError::unauthenticated)
}

fn record(state: &AppState, caller: &CurrentUser, client: &Client, kind: EventKind) {
    state.audit.record(
        Event::new(kind)
            .by(caller.user_id)
            .client(client)
            .session(&caller.session_id),
    );
}

/// Removes every second factor of `user` and its pending logins (an administrator's reset).
pub async fn remove_all(state: &AppState, user_id: i64) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    factors::delete_app(&mut tx, user_id).await?;
    factors::delete_recovery_codes(&mut tx, user_id).await?;
    factors::delete_passkeys(&mut tx, user_id).await?;
    factors::delete_reveal(&mut tx, user_id).await?;
    factors::delete_pending_of(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(())
}

/// A login waiting for its second step: the token the client holds and the methods it can
/// finish with.
pub struct SecondStep {
    pub token: String,
    pub methods: Vec<Method>,
}

/// After a correct password: `Some` when the account has a second factor, with the pending
/// login that stands in for a session until the second step.
pub async fn second_step_needed(
    state: &AppState,
    user: &User,
    remember: bool,
    device_id: Option<&str>,
) -> Result<Option<SecondStep>, AppError> {
    let methods = status(state, user.id).await?.methods();
    if methods.is_empty() {
        return Ok(None);
    }
    let token = new_secret();
    let now = state.now();
    let mut conn = state.db.acquire().await?;
    factors::insert_pending(
        &mut conn,
        &NewPendingLogin {
            digest: &digest(&token),
            user_id: user.id,
            remember,
            device_id,
            now,
            expires_at: now + PENDING_SECS,
        },
    )
    .await?;
    Ok(Some(SecondStep { token, methods }))
}

/// The methods the pending login with `token` can be finished with (the verify page's
/// choices); `None` when it expired or was used.
pub async fn pending_methods(
    state: &AppState,
    token: &str,
) -> Result<Option<Vec<Method>>, AppError> {
    let Some((pending, _)) = pending_login(state, token).await? else {
        return Ok(None);
    };
    Ok(Some(status(state, pending.user_id).await?.methods()))
}

/// The unexpired pending login with `token`, and its digest.
pub(crate) async fn pending_login(
    state: &AppState,
    token: &str,
) -> Result<Option<(factors::PendingLogin, String)>, AppError> {
    let token_digest = digest(token);
    let mut conn = state.db.acquire().await?;
    Ok(factors::pending(&mut conn, &token_digest, state.now())
        .await?
        .map(|pending| (pending, token_digest)))
}

/// A second step that succeeded: whose login it finishes, and how.
pub struct Verified {
    pub user: User,
    pub remember: bool,
    pub device_id: Option<String>,
    pub amr: [Amr; 2],
}

/// The answer to a pending login that expired, was used, or never was.
pub fn expired() -> AppError {
    AppError::new(ErrorKind::Unauthenticated, EXPIRED)
}

/// Checks `code` (an app code or a recovery code) for the pending login `token` and spends
/// both. Throttled like passwords; every wrong code gets the same answer.
pub async fn verify(
    state: &AppState,
    token: &str,
    code: &str,
    client: &Client,
) -> Result<Verified, AppError> {
    let now = state.now();
    let Some((pending, token_digest)) = pending_login(state, token).await? else {
        return Err(expired());
    };
    let user_id = pending.user_id;
    let active = {
        let mut conn = state.db.acquire().await?;
        crate::server::store::users::find_by_id(&mut conn, user_id)
            .await?
            .is_some_and(|user| user.is_active)
    };
    if !active {
        return Err(AppError::forbidden("This account has been deactivated."));
    }
    let budget = format!("second-step:{user_id}");
    let guesser = match pending.device_id.as_deref() {
        Some(device) => Guesser::KnownDevice(device),
        None => Guesser::Stranger {
            address: &client.ip_address,
        },
    };
    let attempt = match state.throttle.begin(&budget, guesser, now).await {
        Ok(attempt) => attempt,
        Err(refused) => {
            if refused.first {
                state.audit.record(
                    Event::new(EventKind::SecondStepThrottled)
                        .subject(user_id)
                        .client(client),
                );
            }
            return Err(if refused.unavailable {
                AppError::busy(refused.wait_secs)
            } else {
                AppError::too_many_requests(refused.wait_secs)
            });
        }
    };
    let failed = |reason: &'static str| {
        state.audit.record(
            Event::new(EventKind::SecondStepFailed)
                .subject(user_id)
                .client(client)
                .detail("reason", reason),
        );
        let mut err = AppError::field("code", INVALID_CODE);
        err.kind = ErrorKind::InvalidCode;
        err
    };
    let app = {
        let mut conn = state.db.acquire().await?;
        factors::app_factor(&mut conn, user_id).await?
    };
    let secret = app
        .as_ref()
        .filter(|app| app.enabled_at.is_some())
        .and_then(|app| AppSecret::open(&app.secret, &state.factor_key, user_id));
    let mut tx = state.db.begin().await?;
    let method = if let Some(digest) = recovery_digest(&state.factor_key, code) {
        if !factors::spend_recovery_code(&mut tx, user_id, &digest, now).await? {
            return Err(failed("wrong recovery code"));
        }
        Amr::RecoveryCode
    } else {
        let Some(secret) = secret else {
            return Err(failed("wrong code"));
        };
        let last = app.as_ref().and_then(|app| app.last_step);
        let step = match secret.accepts(code, now, last) {
            Ok(step) => step,
            Err(second_factor::CodeRefused::Replayed) => return Err(failed("code used before")),
            Err(second_factor::CodeRefused::Invalid) => return Err(failed("wrong code")),
        };
        if !factors::spend_step(&mut tx, user_id, step).await? {
            return Err(failed("code used before"));
        }
        Amr::App
    };
    if !factors::spend_pending(&mut tx, &token_digest, now).await? {
        state.throttle.cancelled(attempt).await;
        return Err(expired());
    }
    let user = {
        let Some(user) = crate::server::store::users::find_by_id(&mut tx, user_id).await? else {
            return Err(expired());
        };
        user
    };
    if method == Amr::RecoveryCode {
        let left = factors::recovery_codes_left(&mut tx, user_id).await?;
        let notice = templates::recovery_code_used(
            &user.email,
            &user.username,
            left,
            &state.config.public_url.origin,
        );
        crate::server::mail::enqueue(&mut tx, &notice, now).await?;
    }
    tx.commit().await?;
    state.throttle.succeeded(attempt).await;
    if method == Amr::RecoveryCode {
        state.mailer.wake();
        state.audit.record(
            Event::new(EventKind::RecoveryCodeUsed)
                .by(user_id)
                .client(client),
        );
    }
    if !user.is_active {
        return Err(AppError::forbidden("This account has been deactivated."));
    }
    Ok(Verified {
        user,
        remember: pending.remember,
        device_id: pending.device_id,
        amr: [Amr::Password, method],
    })
}

/// Everything an administrator's "Reset two-step verification" does beyond the audit event:
/// the factors go, the person's sessions end, and they are told by mail.
pub async fn reset_by_admin(state: &AppState, user: &User) -> Result<(), AppError> {
    remove_all(state, user.id).await?;
    sessions::end_all_for_user(state, user.id, None, EndReason::LoggedOutByAdmin).await?;
    let notice =
        templates::two_step_reset(&user.email, &user.username, &state.config.public_url.origin);
    let mut conn = state.db.acquire().await?;
    state.mailer.send(&mut conn, &notice, state.now()).await?;
    Ok(())
}

/// Forgets pending logins and unshown codes that expired (the clean-up job).
pub async fn delete_expired(state: &AppState) -> Result<u64, sqlx::Error> {
    let now = state.now();
    let mut conn = state.db.acquire().await?;
    let pending = factors::delete_expired_pending(&mut conn, now).await?;
    let reveals = factors::delete_expired_reveals(&mut conn, now).await?;
    let ceremonies = factors::delete_expired_ceremonies(&mut conn, now).await?;
    Ok(pending + reveals + ceremonies)
}
