//! Sessions: one row per login, an access JWT bound to it, and a chain of rotating refresh
//! tokens (RFC 9700). Ending a session is immediate because every access token is checked
//! against its session row.

pub mod cache;
pub mod rotations;

use std::sync::Arc;

use self::cache::Confirmed;
use self::rotations::REUSE_GRACE_SECS;
use crate::domain::devices::describe_user_agent;
use crate::domain::{AppError, SessionView};
use crate::server::accounts::audit::{Event, EventKind};
use crate::server::mail::templates;
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::security::tokens::{AccessClaims, IssuedTokens, RefreshToken, TokenError};
use crate::server::startup::clock::rfc3339;
use crate::server::startup::state::AppState;
use crate::server::store::sessions::{self as store, NewSession, PresentedToken, Rotation};
use crate::server::store::{secs, users};

/// `last_used_at` is written at most this often per session, to keep the per-request check
/// a read.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// Why a session ended (stored with it, and shown in the audit trail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The person logged out.
    Logout,
    /// A new login on the same browser replaced it.
    ReplacedByLogin,
    /// Ended from another of the person's sessions.
    LoggedOutElsewhere,
    PasswordChanged,
    /// A spent refresh token came back: suspected theft.
    RefreshTokenReuse,
    /// An administrator deactivated the account.
    Deactivated,
    LoggedOutByAdmin,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::ReplacedByLogin => "replaced_by_login",
            Self::LoggedOutElsewhere => "logged_out_elsewhere",
            Self::PasswordChanged => "password_changed",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::Deactivated => "deactivated",
            Self::LoggedOutByAdmin => "logged_out_by_admin",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum RefreshError {
    /// Unknown, expired or ended; the client should log in again.
    Invalid,
    /// A spent token came back: the session was ended as a suspected theft.
    Reused,
    /// Spent moments ago by a parallel request whose new pair is not at hand (e.g. after a
    /// restart): refused, but the client's newer cookies must not be cleared.
    Raced,
    Internal,
}

impl From<sqlx::Error> for RefreshError {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(error = %err, "refresh failed");
        Self::Internal
    }
}

fn issue(
    state: &AppState,
    session_id: &str,
    user_id: i64,
    remember: bool,
    expires_at: i64,
    now: i64,
) -> IssuedTokens {
    IssuedTokens {
        session_id: session_id.to_string(),
        user_id,
        access_token: state.keys.issue_access(user_id, session_id, now),
        access_expires_in: secs(state.keys.access_ttl()),
        refresh_token: RefreshToken::generate(),
        persist_for: remember.then_some(expires_at - now),
    }
}

/// When a session must end at the latest: a remembered one slides with use up to the absolute
/// cap from its start; a browser session has a fixed limit.
fn expiry(state: &AppState, remember: bool, created_at: i64, now: i64) -> i64 {
    let policy = &state.config.sessions;
    let cap = created_at + secs(policy.max_lifetime);
    let limit = if remember {
        now + secs(policy.refresh_ttl)
    } else {
        created_at + secs(policy.browser_session_ttl)
    };
    limit.min(cap)
}

/// Sessions last used before this are idle (ended by inactivity).
fn idle_limit(state: &AppState, now: i64) -> i64 {
    now - secs(state.config.sessions.idle_ttl)
}

/// Starts a session for a successful login.
pub async fn start(
    state: &AppState,
    user_id: i64,
    remember: bool,
    client: &Client,
) -> Result<IssuedTokens, AppError> {
    start_with(state, user_id, remember, client, &[Amr::Password]).await
}

/// How a session's person proved who they are (RFC 8176's `amr` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Amr {
    /// A password.
    Password,
    /// A code from an authenticator app.
    App,
    /// A single-use recovery code.
    RecoveryCode,
    /// A passkey (proof of possession of a key, with user verification).
    Passkey,
}

impl Amr {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::App => "otp",
            // RFC 8176 has no value of its own for a recovery code; "kba" (knowledge-based)
            // is the nearest, and it tells the code apart from an app's.
            Self::RecoveryCode => "kba",
            Self::Passkey => "pop",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::App => "authenticator app",
            Self::RecoveryCode => "recovery code",
            Self::Passkey => "passkey",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        [Self::Password, Self::App, Self::RecoveryCode, Self::Passkey]
            .into_iter()
            .find(|amr| amr.as_str() == value)
    }
}

/// A stored `amr` list in words: "Password and authenticator app".
fn signed_in_with(stored: &str) -> String {
    let words: Vec<&str> = stored
        .split_whitespace()
        .filter_map(Amr::parse)
        .map(Amr::words)
        .collect();
    let text = match words.as_slice() {
        [] => "unknown".to_string(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    };
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Starts a session whose person proved who they are with `amr`.
pub async fn start_with(
    state: &AppState,
    user_id: i64,
    remember: bool,
    client: &Client,
    amr: &[Amr],
) -> Result<IssuedTokens, AppError> {
    let amr = amr.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(" ");
    let now = state.now();
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    let expires_at = expiry(state, remember, now, now);
    let issued = issue(state, &session_id, user_id, remember, expires_at, now);
    let mut tx = state.db.begin().await?;
    let session = NewSession {
        id: &session_id,
        user_id,
        remember,
        user_agent: &client.user_agent,
        ip_address: &client.ip_address,
        now,
        expires_at,
        refresh_digest: &issued.refresh_token.digest(),
        amr: &amr,
    };
    store::insert(&mut tx, &session).await?;
    tx.commit().await?;
    Ok(issued)
}

/// Verifies an access token and that its session is still alive. A token checked while the
/// database was as it is now is not verified again: its signature and claims cannot have
/// changed, nor can its session's row (see `cache`).
pub async fn authenticate(state: &AppState, access_token: &str) -> Result<CurrentUser, TokenError> {
    let now = state.now();
    let before = state.session_cache.stamp();
    let remembered = before.and_then(|stamp| state.session_cache.get(access_token, stamp));
    let confirmed = match remembered {
        Some(confirmed) => confirmed,
        None => {
            let claims = state.keys.verify_access(access_token, now)?;
            let confirmed = confirm(state, claims, now).await?;
            if let Some(stamp) = before {
                state
                    .session_cache
                    .remember(access_token, stamp, confirmed.clone());
            }
            confirmed
        }
    };
    // A remembered check still obeys the clock: lifetimes end without a commit.
    confirmed.token.check(now)?;
    if confirmed.expires_at <= now || confirmed.last_used_at <= idle_limit(state, now) {
        return Err(TokenError::Invalid);
    }
    if now - confirmed.last_used_at >= TOUCH_INTERVAL_SECS {
        let touched = match state.db.acquire().await {
            Ok(mut conn) => store::touch(&mut conn, &confirmed.session_id, now).await,
            Err(e) => Err(e),
        };
        if let Err(e) = touched {
            tracing::warn!(error = %e, "could not record session use");
        }
    }
    Ok(CurrentUser {
        user_id: confirmed.user_id,
        session_id: confirmed.session_id,
        account: confirmed.account,
    })
}

/// Asks the database whether the session of a verified token is live and whose account it
/// is, in one query.
async fn confirm(
    state: &AppState,
    claims: AccessClaims,
    now: i64,
) -> Result<Confirmed, TokenError> {
    let user_id = claims.user_id().ok_or(TokenError::Invalid)?;
    let lookup = async {
        let mut conn = state.db.acquire().await?;
        store::live_with_user(&mut conn, &claims.sid, user_id, now, idle_limit(state, now)).await
    };
    let live = lookup
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "session lookup failed");
            TokenError::Invalid
        })?
        .ok_or(TokenError::Invalid)?;
    Ok(Confirmed {
        user_id,
        token: claims.lifetime(),
        session_id: claims.sid,
        last_used_at: live.last_used_at,
        expires_at: live.expires_at,
        account: Arc::new(live.user.view()),
    })
}

/// Spends a refresh token and issues the next pair (rotation with reuse detection).
pub async fn refresh(
    state: &AppState,
    presented: &RefreshToken,
    client: &Client,
) -> Result<IssuedTokens, RefreshError> {
    let digest = presented.digest();
    // Parallel renewals with one token on this node wait for the first; across nodes the
    // database decides (`store::rotate`) and the loser gets the grace answer.
    let held = state.rotations.lock_for(&digest);
    let outcome = {
        let _turn = held.lock().await;
        refresh_locked(state, presented, &digest, client).await
    };
    state.rotations.release(&digest, held);
    outcome
}

async fn refresh_locked(
    state: &AppState,
    presented: &RefreshToken,
    digest: &str,
    client: &Client,
) -> Result<IssuedTokens, RefreshError> {
    let now = state.now();
    let token = presented_token(state, digest).await?;
    if let Some(spent_at) = token.spent_at {
        return spent_again(state, presented, &token, spent_at, now).await;
    }
    let alive = token.ended_at.is_none()
        && token.expires_at > now
        && token.last_used_at > idle_limit(state, now)
        && token.is_active;
    if !alive {
        return Err(RefreshError::Invalid);
    }
    match rotate(state, presented, digest, &token, client, now).await? {
        Some(issued) => Ok(issued),
        // Another node spent it first: answer as for any token spent moments ago.
        None => {
            let token = presented_token(state, digest).await?;
            let spent_at = token.spent_at.ok_or(RefreshError::Invalid)?;
            spent_again(state, presented, &token, spent_at, now).await
        }
    }
}

async fn presented_token(state: &AppState, digest: &str) -> Result<PresentedToken, RefreshError> {
    let mut conn = state.db.acquire().await?;
    store::presented_token(&mut conn, digest)
        .await?
        .ok_or(RefreshError::Invalid)
}

/// A spent token came back. Moments after it was spent, and if it is the token spent last,
/// it is a client that lost the renewal's answer or a parallel request: it gets the session's
/// current pair, whichever node spent it. Otherwise the chain has leaked and the session ends.
async fn spent_again(
    state: &AppState,
    presented: &RefreshToken,
    token: &PresentedToken,
    spent_at: i64,
    now: i64,
) -> Result<IssuedTokens, RefreshError> {
    if now - spent_at < REUSE_GRACE_SECS && !token.successor_spent {
        return grace_answer(state, presented, token, now);
    }
    if token.ended_at.is_none() {
        if let Err(e) = end(state, &token.session_id, EndReason::RefreshTokenReuse).await {
            tracing::error!(error = %e, "could not end a session after refresh-token reuse");
            return Err(RefreshError::Internal);
        }
        tracing::warn!(
            session_id = %token.session_id,
            user_id = token.user_id,
            "spent refresh token presented again: session ended as a suspected theft"
        );
        state.audit.record(
            Event::new(EventKind::RefreshTokenReused)
                .subject(token.user_id)
                .session(&token.session_id),
        );
        if let Err(e) = notify_theft(state, token.user_id).await {
            tracing::warn!(error = %e, "could not queue the theft notice");
        }
    }
    Err(RefreshError::Reused)
}

/// The session's current pair for a token spent within the grace: its successor, opened with
/// the presented token, and a new access token. Only while the session lives: a logout right
/// after a renewal must stick.
fn grace_answer(
    state: &AppState,
    presented: &RefreshToken,
    token: &PresentedToken,
    now: i64,
) -> Result<IssuedTokens, RefreshError> {
    let alive = token.ended_at.is_none() && token.expires_at > now && token.is_active;
    if !alive {
        return Err(RefreshError::Invalid);
    }
    let successor = token
        .grace_answer
        .as_deref()
        .and_then(|sealed| {
            presented.open_successor(sealed, &token.session_id, state.config.jwt_secret.expose())
        })
        .filter(|successor| token.replaced_by.as_deref() == Some(successor.digest().as_str()))
        // Spent before answers were kept (an older version): refused, not a theft.
        .ok_or(RefreshError::Raced)?;
    Ok(IssuedTokens {
        refresh_token: successor,
        ..issue(
            state,
            &token.session_id,
            token.user_id,
            token.remember,
            token.expires_at,
            now,
        )
    })
}

async fn notify_theft(state: &AppState, user_id: i64) -> Result<(), sqlx::Error> {
    let mut conn = state.db.acquire().await?;
    if let Some(user) = users::find_by_id(&mut conn, user_id).await? {
        let notice = templates::session_ended_after_reuse(&user.email, &user.username);
        state.mailer.send(&mut conn, &notice, state.now()).await?;
    }
    Ok(())
}

/// Spends `digest` and stores its successor, in one transaction; `None` when another
/// renewal spent it first.
async fn rotate(
    state: &AppState,
    presented: &RefreshToken,
    digest: &str,
    token: &PresentedToken,
    client: &Client,
    now: i64,
) -> Result<Option<IssuedTokens>, RefreshError> {
    let expires_at = expiry(state, token.remember, token.created_at, now);
    let issued = issue(
        state,
        &token.session_id,
        token.user_id,
        token.remember,
        expires_at,
        now,
    );
    let successor = issued.refresh_token.digest();
    let grace_answer = presented
        .seal_successor(
            &issued.refresh_token,
            &token.session_id,
            state.config.jwt_secret.expose(),
        )
        .ok_or(RefreshError::Internal)?;
    let mut tx = state.db.begin().await?;
    let rotation = Rotation {
        session_id: &token.session_id,
        spent: digest,
        successor: &successor,
        grace_answer: &grace_answer,
        expires_at,
        user_agent: &client.user_agent,
        ip_address: &client.ip_address,
        now,
    };
    if !store::rotate(&mut tx, &rotation).await? {
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(issued))
}

/// Whether a session has neither ended nor expired, and its account is active.
pub async fn is_live(state: &AppState, session_id: &str, now: i64) -> bool {
    let mut conn = match state.db.acquire().await {
        Ok(conn) => conn,
        Err(_) => return false,
    };
    store::is_live(&mut conn, session_id, now)
        .await
        .unwrap_or(false)
}

/// Ends one session; its access and refresh tokens stop working at once.
/// A new login (or a new account) from a browser replaces the session it had, if any.
pub async fn end_replaced(
    state: &AppState,
    previous: Option<&CurrentUser>,
) -> Result<(), AppError> {
    match previous {
        Some(previous) => end(state, &previous.session_id, EndReason::ReplacedByLogin).await,
        None => Ok(()),
    }
}

pub async fn end(state: &AppState, session_id: &str, reason: EndReason) -> Result<(), AppError> {
    end_one(state, session_id, None, reason).await.map(drop)
}

/// Ends one of `user_id`'s sessions. `false` when it is not theirs or already ended, so a
/// caller cannot learn whether another person's session id exists.
pub async fn end_owned(state: &AppState, user_id: i64, session_id: &str) -> Result<bool, AppError> {
    end_one(
        state,
        session_id,
        Some(user_id),
        EndReason::LoggedOutElsewhere,
    )
    .await
}

async fn end_one(
    state: &AppState,
    session_id: &str,
    owner: Option<i64>,
    reason: EndReason,
) -> Result<bool, AppError> {
    let mut conn = state.db.acquire().await?;
    let ended = store::end(&mut conn, session_id, owner, reason.as_str(), state.now()).await?;
    if let Some(user_id) = ended {
        state.audit.record(
            Event::new(EventKind::SessionEnded)
                .by(user_id)
                .session(session_id)
                .detail("how", reason.as_str()),
        );
    }
    Ok(ended.is_some())
}

/// Ends every session of `user_id` except `keep` (all of them when `keep` is `None`).
pub async fn end_all_for_user(
    state: &AppState,
    user_id: i64,
    keep: Option<&str>,
    reason: EndReason,
) -> Result<u64, AppError> {
    let mut conn = state.db.acquire().await?;
    let ended = end_all_in(&mut conn, user_id, keep, reason, state.now()).await?;
    if ended > 0 {
        state.audit.record(
            Event::new(EventKind::SessionEnded)
                .subject(user_id)
                .detail("how", reason.as_str())
                .detail("sessions", ended.to_string()),
        );
    }
    Ok(ended)
}

/// `end_all_for_user` inside the caller's transaction.
pub async fn end_all_in(
    conn: &mut crate::server::store::Conn,
    user_id: i64,
    keep: Option<&str>,
    reason: EndReason,
    now: i64,
) -> Result<u64, sqlx::Error> {
    // A security response (a new password, a deactivation, an admin's logout or reset) also
    // ends what apps were given for the person; logging out other browsers does not.
    if !matches!(
        reason,
        EndReason::LoggedOutElsewhere | EndReason::ReplacedByLogin
    ) {
        crate::server::store::oidc::revoke_grants_of(conn, user_id, now).await?;
    }
    store::end_all(conn, user_id, keep, reason.as_str(), now).await
}

/// The person's live sessions, most recently used first.
pub async fn list(state: &AppState, current: &CurrentUser) -> Result<Vec<SessionView>, AppError> {
    list_for(state, current.user_id, Some(&current.session_id)).await
}

/// `user_id`'s live sessions, most recently used first; `current` is marked.
pub async fn list_for(
    state: &AppState,
    user_id: i64,
    current: Option<&str>,
) -> Result<Vec<SessionView>, AppError> {
    let now = state.now();
    let mut conn = state.db.acquire().await?;
    let rows = store::list_live(&mut conn, user_id, now, idle_limit(state, now)).await?;
    Ok(rows
        .into_iter()
        .map(|row| SessionView {
            current: Some(row.id.as_str()) == current,
            device: describe_user_agent(&row.user_agent),
            ip_address: row.ip_address,
            created_at: rfc3339(row.created_at),
            last_used_at: rfc3339(row.last_used_at),
            signed_in_with: signed_in_with(&row.amr),
            amr: row.amr.split_whitespace().map(str::to_string).collect(),
            id: row.id,
        })
        .collect())
}

/// Sessions that are still usable now (not ended, not expired, not idle too long).
pub async fn count_active(state: &AppState) -> Result<i64, sqlx::Error> {
    let now = state.now();
    let mut conn = state.db.acquire().await?;
    store::count_live(&mut conn, now, idle_limit(state, now)).await
}

/// Deletes sessions that expired, went idle, or ended more than a day ago.
pub async fn delete_stale(state: &AppState) -> Result<u64, sqlx::Error> {
    let now = state.now();
    let mut conn = state.db.acquire().await?;
    let deleted = store::delete_stale(&mut conn, now, idle_limit(state, now), now - 86_400).await?;
    store::forget_grace_answers(&mut conn, now - REUSE_GRACE_SECS).await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::startup::config::Config;
    use std::time::Duration;

    async fn state(dir: &tempfile::TempDir) -> AppState {
        let state = node(dir).await;
        let mut conn = state.db.acquire().await.unwrap();
        let hash = crate::server::security::password::PasswordHash::from_stored("x".into());
        let id = users::insert(&mut conn, "a@example.com", "ada", &hash, 0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(id, 1);
        drop(conn);
        state
    }

    /// A process on the database in `dir`: a second one plays another node.
    async fn node(dir: &tempfile::TempDir) -> AppState {
        let data_dir = dir.path().display().to_string();
        let config = Config::from_lookup(|name| match name {
            "DATA_DIR" => Some(data_dir.clone()),
            "REFRESH_TOKEN_TTL" => Some("1h".into()),
            "SESSION_MAX_LIFETIME" => Some("3h".into()),
            _ => None,
        })
        .unwrap();
        AppState::new(
            config,
            leptos::config::LeptosOptions::builder()
                .output_name("gatehouse")
                .build(),
        )
        .await
        .unwrap()
    }

    fn client() -> Client {
        Client::new("", "127.0.0.1")
    }

    /// The next pair for `pair`'s refresh token.
    async fn renewed(state: &AppState, pair: &IssuedTokens) -> IssuedTokens {
        refresh(state, &pair.refresh_token, &client())
            .await
            .unwrap()
    }

    /// Why `pair`'s refresh token is refused.
    async fn refused(state: &AppState, pair: &IssuedTokens) -> RefreshError {
        refresh(state, &pair.refresh_token, &client())
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn token_of_an_ended_session_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        let issued = start(&state, 1, false, &client()).await.unwrap();
        assert!(authenticate(&state, &issued.access_token).await.is_ok());
        end(&state, &issued.session_id, EndReason::Logout)
            .await
            .unwrap();
        assert_eq!(
            authenticate(&state, &issued.access_token).await,
            Err(TokenError::Invalid)
        );
    }

    #[tokio::test]
    async fn rotation_spends_the_old_token_and_reuse_ends_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        let first = start(&state, 1, true, &client()).await.unwrap();
        let second = renewed(&state, &first).await;
        assert_eq!(second.session_id, first.session_id);
        assert_ne!(second.refresh_token, first.refresh_token);
        // Within the grace window the same pair comes back.
        let again = renewed(&state, &first).await;
        assert_eq!(again.refresh_token, second.refresh_token);
        // After it, reuse is theft: the whole session ends, newest token included.
        state.clock.advance(Duration::from_secs(60));
        assert_eq!(refused(&state, &first).await, RefreshError::Reused);
        assert_eq!(refused(&state, &second).await, RefreshError::Invalid);
        assert!(authenticate(&state, &second.access_token).await.is_err());
    }

    #[tokio::test]
    async fn another_node_gives_the_grace_answer_and_detects_reuse() {
        let dir = tempfile::tempdir().unwrap();
        let a = state(&dir).await;
        let b = node(&dir).await;
        let first = start(&a, 1, true, &client()).await.unwrap();
        let second = renewed(&a, &first).await;
        // Node b never saw the renewal: the database holds the answer.
        let again = renewed(&b, &first).await;
        assert_eq!(again.refresh_token, second.refresh_token);
        assert_eq!(again.session_id, first.session_id);
        assert!(authenticate(&b, &again.access_token).await.is_ok());
        let third = renewed(&b, &second).await;
        // Two steps behind, on either node: theft, and the session ends everywhere.
        assert_eq!(refused(&a, &first).await, RefreshError::Reused);
        assert!(authenticate(&b, &third.access_token).await.is_err());
        assert_eq!(refused(&a, &third).await, RefreshError::Invalid);
    }

    #[tokio::test]
    async fn parallel_renewals_on_two_nodes_get_one_pair() {
        let dir = tempfile::tempdir().unwrap();
        let a = state(&dir).await;
        let b = node(&dir).await;
        for _ in 0..10 {
            let first = start(&a, 1, true, &client()).await.unwrap();
            let (x, y) = tokio::join!(renewed(&a, &first), renewed(&b, &first));
            assert_eq!(x.refresh_token, y.refresh_token);
            assert!(authenticate(&a, &y.access_token).await.is_ok());
            assert!(renewed(&b, &x).await.session_id == first.session_id);
        }
    }

    #[tokio::test]
    async fn only_the_token_spent_last_has_a_grace() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        let first = start(&state, 1, true, &client()).await.unwrap();
        let second = renewed(&state, &first).await;
        let third = renewed(&state, &second).await;
        // `first` is two steps behind: walking the chain is theft, even within seconds.
        assert_eq!(refused(&state, &first).await, RefreshError::Reused);
        assert!(authenticate(&state, &third.access_token).await.is_err());
    }

    #[tokio::test]
    async fn the_grace_does_not_revive_an_ended_session() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        let first = start(&state, 1, true, &client()).await.unwrap();
        renewed(&state, &first).await;
        end(&state, &first.session_id, EndReason::Logout)
            .await
            .unwrap();
        assert_eq!(refused(&state, &first).await, RefreshError::Invalid);
    }

    #[tokio::test]
    async fn a_remembered_session_stops_sliding_at_the_absolute_cap() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        let mut pair = start(&state, 1, true, &client()).await.unwrap();
        // Renewed every 50 minutes, within the 1 h refresh lifetime, for 3 hours...
        for _ in 0..3 {
            state.clock.advance(Duration::from_secs(50 * 60));
            pair = renewed(&state, &pair).await;
            assert!(pair.persist_for.unwrap() <= 3 * 3600);
        }
        // ...the session still ends 3 h after it started.
        state.clock.advance(Duration::from_secs(40 * 60));
        assert_eq!(refused(&state, &pair).await, RefreshError::Invalid);
    }
}
