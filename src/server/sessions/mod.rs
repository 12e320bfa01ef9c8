//! Sessions: one row per login, an access JWT bound to it, and a chain of rotating refresh
//! tokens (RFC 9700). Ending a session is immediate because every access token is checked
//! against its session row.

pub mod cache;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::domain::{AppError, SessionView};
use crate::server::accounts::audit::{self, Event};
use crate::server::accounts::users::{User, UserRow, USER_COLUMNS_OF_U};
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::security::tokens::{AccessClaims, RefreshToken, TokenError};
use crate::server::sessions::cache::Confirmed;
use crate::server::startup::state::AppState;

/// A spent refresh token presented again within this window is a client that lost the renewal
/// response (or parallel requests racing), not a thief: it gets the pair already issued.
pub const REUSE_GRACE_SECS: i64 = 10;
/// `last_used_at` is written at most this often per session, to keep the per-request check
/// a read.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// A fresh access/refresh pair for one session. `Debug` leaves the tokens out.
#[derive(Clone)]
pub struct IssuedTokens {
    pub session_id: String,
    pub user_id: i64,
    pub access_token: String,
    pub access_expires_in: i64,
    pub refresh_token: RefreshToken,
    /// Seconds the cookies may persist ("remember me"); `None` for browser-session cookies.
    pub persist_for: Option<i64>,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("session_id", &self.session_id)
            .field("user_id", &self.user_id)
            .field("access_token", &"<redacted>")
            .field("refresh_token", &self.refresh_token)
            .finish()
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

/// Renewals in progress and the pairs recently handed out.
#[derive(Default)]
pub struct Rotations {
    /// For `REUSE_GRACE_SECS`, the pair each spent token (by digest) was exchanged for.
    recent: Mutex<HashMap<String, Rotated>>,
    /// One lock per presented token: parallel renewals with the same token wait for the first
    /// and share its pair, while unrelated renewals (and junk cookies) never wait on each other.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

struct Rotated {
    spent_at: i64,
    issued: IssuedTokens,
    /// Digest of `issued`'s refresh token, kept so it is hashed once.
    issued_digest: String,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Rotations {
    fn lock_for(&self, digest: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.in_flight)
            .entry(digest.to_string())
            .or_default()
            .clone()
    }

    fn release(&self, digest: &str, held: Arc<tokio::sync::Mutex<()>>) {
        let mut in_flight = lock(&self.in_flight);
        // Two owners left: the map and `held`. Nobody else is waiting.
        if Arc::strong_count(&held) == 2 {
            in_flight.remove(digest);
        }
    }

    /// The pair `digest` was exchanged for, while within the grace and still current.
    fn answered(&self, digest: &str, now: i64) -> Option<IssuedTokens> {
        let mut recent = lock(&self.recent);
        recent.retain(|_, rotated| now - rotated.spent_at < REUSE_GRACE_SECS);
        recent.get(digest).map(|rotated| rotated.issued.clone())
    }

    /// Remembers that `spent` bought `issued`. `spent` itself was the answer to an older
    /// token, if any: that older token is no longer the one spent last, so it loses its grace.
    fn remember(&self, spent: String, issued: &IssuedTokens, now: i64) {
        let mut recent = lock(&self.recent);
        recent.retain(|_, rotated| rotated.issued_digest != spent);
        let rotated = Rotated {
            spent_at: now,
            issued: issued.clone(),
            issued_digest: issued.refresh_token.digest(),
        };
        recent.insert(spent, rotated);
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
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

/// Starts a session for a successful login.
pub async fn start(
    state: &AppState,
    user_id: i64,
    remember: bool,
    client: &Client,
) -> Result<IssuedTokens, AppError> {
    let now = state.now();
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    let expires_at = expiry(state, remember, now, now);
    let issued = issue(state, &session_id, user_id, remember, expires_at, now);
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO sessions (id, user_id, remember, user_agent, ip_address, created_at, last_used_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&session_id)
    .bind(user_id)
    .bind(remember)
    .bind(&client.user_agent)
    .bind(&client.ip_address)
    .bind(now)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES (?, ?, ?)")
        .bind(issued.refresh_token.digest())
        .bind(&session_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(issued)
}

/// Verifies an access token and that its session is still alive. A token checked while the
/// database was as it is now is not verified again: its signature and claims cannot have
/// changed, nor can its session's row (see `session_cache`).
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
    let idle_limit = now - secs(state.config.sessions.idle_ttl);
    if confirmed.expires_at <= now || confirmed.last_used_at <= idle_limit {
        return Err(TokenError::Invalid);
    }
    if now - confirmed.last_used_at >= TOUCH_INTERVAL_SECS {
        let touched = sqlx::query("UPDATE sessions SET last_used_at = ? WHERE id = ?")
            .bind(now)
            .bind(&confirmed.session_id)
            .execute(&state.db)
            .await;
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
    static QUERY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT s.last_used_at, s.expires_at, {USER_COLUMNS_OF_U}
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = ? AND s.user_id = ? AND s.ended_at IS NULL AND s.expires_at > ?
               AND s.last_used_at > ? AND u.is_active = 1"
        )
    });
    let user_id = claims.user_id().ok_or(TokenError::Invalid)?;
    let row: Option<SessionUserRow> = sqlx::query_as(&QUERY)
        .bind(&claims.sid)
        .bind(user_id)
        .bind(now)
        .bind(now - secs(state.config.sessions.idle_ttl))
        .fetch_optional(&state.db)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "session lookup failed");
            TokenError::Invalid
        })?;
    let SessionUserRow {
        last_used_at,
        expires_at,
        user,
    } = row.ok_or(TokenError::Invalid)?;
    Ok(Confirmed {
        user_id,
        token: claims.lifetime(),
        session_id: claims.sid,
        last_used_at,
        expires_at,
        account: Arc::new(User::from(user).view()),
    })
}

#[derive(sqlx::FromRow)]
struct SessionUserRow {
    last_used_at: i64,
    expires_at: i64,
    #[sqlx(flatten)]
    user: UserRow,
}

#[derive(sqlx::FromRow)]
struct PresentedToken {
    session_id: String,
    spent_at: Option<i64>,
    /// Whether the token this one was exchanged for has been spent too.
    successor_spent: bool,
    user_id: i64,
    remember: bool,
    created_at: i64,
    expires_at: i64,
    last_used_at: i64,
    ended_at: Option<i64>,
    is_active: bool,
}

/// Spends a refresh token and issues the next pair (rotation with reuse detection).
pub async fn refresh(
    state: &AppState,
    presented: &RefreshToken,
    client: &Client,
) -> Result<IssuedTokens, RefreshError> {
    let digest = presented.digest();
    let held = state.rotations.lock_for(&digest);
    let outcome = {
        let _turn = held.lock().await;
        refresh_locked(state, &digest, client).await
    };
    state.rotations.release(&digest, held);
    outcome
}

async fn refresh_locked(
    state: &AppState,
    digest: &str,
    client: &Client,
) -> Result<IssuedTokens, RefreshError> {
    let now = state.now();
    if let Some(issued) = state.rotations.answered(digest, now) {
        // Only while the session lives: a logout right after a renewal must stick.
        return if is_live(state, &issued.session_id, now).await {
            Ok(issued)
        } else {
            Err(RefreshError::Invalid)
        };
    }
    let token: PresentedToken = sqlx::query_as(
        "SELECT rt.session_id, rt.spent_at, s.user_id, s.remember, s.created_at, s.expires_at,
                s.last_used_at, s.ended_at, u.is_active,
                EXISTS (SELECT 1 FROM refresh_tokens n
                        WHERE n.token_hash = rt.replaced_by AND n.spent_at IS NOT NULL)
                    AS successor_spent
         FROM refresh_tokens rt
         JOIN sessions s ON s.id = rt.session_id
         JOIN users u ON u.id = s.user_id
         WHERE rt.token_hash = ?",
    )
    .bind(digest)
    .fetch_optional(&state.db)
    .await?
    .ok_or(RefreshError::Invalid)?;
    if let Some(spent_at) = token.spent_at {
        return Err(spent_again(state, &token, spent_at, now).await);
    }
    let alive = token.ended_at.is_none()
        && token.expires_at > now
        && token.last_used_at > now - secs(state.config.sessions.idle_ttl)
        && token.is_active;
    if !alive {
        return Err(RefreshError::Invalid);
    }
    let issued = rotate(state, digest, &token, client, now).await?;
    state.rotations.remember(digest.to_string(), &issued, now);
    Ok(issued)
}

/// A spent token came back. Moments after it was spent, and if it is the token spent last,
/// it is most likely a race whose answer is not at hand (e.g. after a restart); otherwise the
/// chain has leaked and the session ends.
async fn spent_again(
    state: &AppState,
    token: &PresentedToken,
    spent_at: i64,
    now: i64,
) -> RefreshError {
    if now - spent_at < REUSE_GRACE_SECS && !token.successor_spent {
        return RefreshError::Raced;
    }
    if token.ended_at.is_none() {
        if let Err(e) = end(state, &token.session_id, "refresh_token_reuse").await {
            tracing::error!(error = %e, "could not end a session after refresh-token reuse");
            return RefreshError::Internal;
        }
        tracing::warn!(
            session_id = %token.session_id,
            user_id = token.user_id,
            "spent refresh token presented again: session ended as a suspected theft"
        );
        audit::record(
            state,
            Event::new("refresh_token_reused")
                .subject(token.user_id)
                .session(&token.session_id),
        );
        if let Ok(Some(user)) =
            crate::server::accounts::users::find_by_id(state, token.user_id).await
        {
            let notice = crate::server::accounts::users::notify(
                state,
                &user,
                "A session of your account was ended",
                "one of your sessions was ended because its refresh token was used twice, which \
                 can mean someone copied it. If you do not recognise this, change your password.",
            );
            if let Err(e) = notice.await {
                tracing::warn!(error = %e, "could not queue the theft notice");
            }
        }
    }
    RefreshError::Reused
}

/// Spends `digest` and stores its successor, in one transaction.
async fn rotate(
    state: &AppState,
    digest: &str,
    token: &PresentedToken,
    client: &Client,
    now: i64,
) -> Result<IssuedTokens, RefreshError> {
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
    let mut tx = state.db.begin().await?;
    let spent = sqlx::query(
        "UPDATE refresh_tokens SET spent_at = ?, replaced_by = ?
         WHERE token_hash = ? AND spent_at IS NULL",
    )
    .bind(now)
    .bind(&successor)
    .bind(digest)
    .execute(&mut *tx)
    .await?;
    if spent.rows_affected() != 1 {
        return Err(RefreshError::Invalid);
    }
    sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES (?, ?, ?)")
        .bind(&successor)
        .bind(&token.session_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE sessions SET last_used_at = ?, expires_at = ?, user_agent = ?, ip_address = ?
         WHERE id = ?",
    )
    .bind(now)
    .bind(expires_at)
    .bind(&client.user_agent)
    .bind(&client.ip_address)
    .bind(&token.session_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(issued)
}

/// Whether a session has neither ended nor expired, and its account is active.
pub async fn is_live(state: &AppState, session_id: &str, now: i64) -> bool {
    sqlx::query_scalar::<_, i64>(
        "SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = ? AND s.ended_at IS NULL AND s.expires_at > ? AND u.is_active = 1",
    )
    .bind(session_id)
    .bind(now)
    .fetch_optional(&state.db)
    .await
    .is_ok_and(|row| row.is_some())
}

/// Ends one session; its access and refresh tokens stop working at once.
pub async fn end(state: &AppState, session_id: &str, reason: &'static str) -> Result<(), AppError> {
    let ended: Option<i64> = sqlx::query_scalar(
        "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL
         RETURNING user_id",
    )
    .bind(state.now())
    .bind(reason)
    .bind(session_id)
    .fetch_optional(&state.db)
    .await?;
    if let Some(user_id) = ended {
        audit::record(
            state,
            Event::new("session_ended")
                .by(user_id)
                .session(session_id)
                .detail("how", reason),
        );
    }
    Ok(())
}

/// Ends one of `user_id`'s sessions. `false` when it is not theirs or already ended, so a
/// caller cannot learn whether another person's session id exists.
pub async fn end_owned(state: &AppState, user_id: i64, session_id: &str) -> Result<bool, AppError> {
    let result = sqlx::query(
        "UPDATE sessions SET ended_at = ?, end_reason = 'logged_out_elsewhere'
         WHERE id = ? AND user_id = ? AND ended_at IS NULL",
    )
    .bind(state.now())
    .bind(session_id)
    .bind(user_id)
    .execute(&state.db)
    .await?;
    let ended = result.rows_affected() == 1;
    if ended {
        audit::record(
            state,
            Event::new("session_ended")
                .by(user_id)
                .session(session_id)
                .detail("how", "logged_out_elsewhere"),
        );
    }
    Ok(ended)
}

/// Ends every session of `user_id` except `keep` (all of them when `keep` is `None`).
pub async fn end_all_for_user(
    state: &AppState,
    user_id: i64,
    keep: Option<&str>,
    reason: &str,
) -> Result<u64, AppError> {
    let mut conn = state.db.acquire().await?;
    let ended = end_all_in(&mut conn, user_id, keep, reason, state.now()).await?;
    if ended > 0 {
        audit::record(
            state,
            Event::new("session_ended")
                .subject(user_id)
                .detail("how", reason)
                .detail("sessions", ended.to_string()),
        );
    }
    Ok(ended)
}

/// `end_all_for_user` inside the caller's transaction.
pub async fn end_all_in(
    conn: &mut sqlx::SqliteConnection,
    user_id: i64,
    keep: Option<&str>,
    reason: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE sessions SET ended_at = ?, end_reason = ?
         WHERE user_id = ? AND ended_at IS NULL AND id IS NOT ?",
    )
    .bind(now)
    .bind(reason)
    .bind(user_id)
    .bind(keep)
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    user_agent: String,
    ip_address: String,
    created_at: i64,
    last_used_at: i64,
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
    let rows: Vec<SessionRow> = sqlx::query_as(
        "SELECT id, user_agent, ip_address, created_at, last_used_at FROM sessions
         WHERE user_id = ? AND ended_at IS NULL AND expires_at > ? AND last_used_at > ?
         ORDER BY last_used_at DESC, created_at DESC",
    )
    .bind(user_id)
    .bind(now)
    .bind(now - secs(state.config.sessions.idle_ttl))
    .fetch_all(&state.db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| SessionView {
            current: Some(row.id.as_str()) == current,
            device: describe_user_agent(&row.user_agent),
            ip_address: row.ip_address,
            created_at: crate::server::store::rfc3339(row.created_at),
            last_used_at: crate::server::store::rfc3339(row.last_used_at),
            id: row.id,
        })
        .collect())
}

/// Deletes sessions that expired, went idle, or ended more than a day ago.
/// Sessions that are still usable now (not ended, not expired, not idle too long).
pub async fn count_active(state: &AppState) -> Result<i64, sqlx::Error> {
    let now = state.now();
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL AND expires_at > ? AND last_used_at > ?",
    )
    .bind(now)
    .bind(now - secs(state.config.sessions.idle_ttl))
    .fetch_one(&state.db)
    .await
}

pub async fn delete_stale(state: &AppState) -> Result<u64, sqlx::Error> {
    let now = state.now();
    let result = sqlx::query(
        "DELETE FROM sessions WHERE expires_at <= ? OR last_used_at <= ? OR ended_at <= ?",
    )
    .bind(now)
    .bind(now - secs(state.config.sessions.idle_ttl))
    .bind(now - 86_400)
    .execute(&state.db)
    .await?;
    Ok(result.rows_affected())
}

/// "Chrome on Linux", "Firefox on Windows", or a plain fallback for unknown agents.
pub fn describe_user_agent(user_agent: &str) -> String {
    if user_agent.trim().is_empty() {
        return "Unknown device".to_string();
    }
    let Some(parsed) = woothee::parser::Parser::new().parse(user_agent) else {
        return "Unknown browser".to_string();
    };
    let browser = match parsed.name {
        "UNKNOWN" | "" => "Unknown browser",
        name => name,
    };
    let os = match parsed.os {
        "UNKNOWN" | "" => None,
        "Mac OSX" => Some("macOS"),
        os => Some(os),
    };
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::startup::config::Config;

    async fn state(dir: &tempfile::TempDir) -> AppState {
        let data_dir = dir.path().display().to_string();
        let config = Config::from_lookup(|name| match name {
            "DATA_DIR" => Some(data_dir.clone()),
            "REFRESH_TOKEN_TTL" => Some("1h".into()),
            "SESSION_MAX_LIFETIME" => Some("3h".into()),
            _ => None,
        })
        .unwrap();
        let state = AppState::new(
            config,
            leptos::config::LeptosOptions::builder()
                .output_name("gatehouse")
                .build(),
        )
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO users (id, email, username, password_hash, created_at, updated_at)
             VALUES (1, 'a@example.com', 'ada', 'x', 0, 0)",
        )
        .execute(&state.db)
        .await
        .unwrap();
        state
    }

    fn client() -> Client {
        Client::new("", "127.0.0.1")
    }

    #[tokio::test]
    async fn token_of_an_ended_session_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        let issued = start(&state, 1, false, &client()).await.unwrap();
        assert!(authenticate(&state, &issued.access_token).await.is_ok());
        end(&state, &issued.session_id, "logout").await.unwrap();
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
        let second = refresh(&state, &first.refresh_token, &client())
            .await
            .unwrap();
        assert_eq!(second.session_id, first.session_id);
        assert_ne!(second.refresh_token, first.refresh_token);
        // Within the grace window the same pair comes back.
        let again = refresh(&state, &first.refresh_token, &client())
            .await
            .unwrap();
        assert_eq!(again.refresh_token, second.refresh_token);
        // After it, reuse is theft: the whole session ends, newest token included.
        state.clock.advance(Duration::from_secs(60));
        assert_eq!(
            refresh(&state, &first.refresh_token, &client())
                .await
                .unwrap_err(),
            RefreshError::Reused
        );
        assert_eq!(
            refresh(&state, &second.refresh_token, &client())
                .await
                .unwrap_err(),
            RefreshError::Invalid
        );
        assert!(authenticate(&state, &second.access_token).await.is_err());
    }

    #[tokio::test]
    async fn only_the_token_spent_last_has_a_grace() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        let first = start(&state, 1, true, &client()).await.unwrap();
        let second = refresh(&state, &first.refresh_token, &client())
            .await
            .unwrap();
        let third = refresh(&state, &second.refresh_token, &client())
            .await
            .unwrap();
        // `first` is two steps behind: walking the chain is theft, even within seconds.
        assert_eq!(
            refresh(&state, &first.refresh_token, &client())
                .await
                .unwrap_err(),
            RefreshError::Reused
        );
        assert!(authenticate(&state, &third.access_token).await.is_err());
    }

    #[tokio::test]
    async fn the_grace_does_not_revive_an_ended_session() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        let first = start(&state, 1, true, &client()).await.unwrap();
        refresh(&state, &first.refresh_token, &client())
            .await
            .unwrap();
        end(&state, &first.session_id, "logout").await.unwrap();
        assert_eq!(
            refresh(&state, &first.refresh_token, &client())
                .await
                .unwrap_err(),
            RefreshError::Invalid
        );
    }

    #[tokio::test]
    async fn a_remembered_session_stops_sliding_at_the_absolute_cap() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        let mut pair = start(&state, 1, true, &client()).await.unwrap();
        // Renewed every 50 minutes, within the 1 h refresh lifetime, for 3 hours...
        for _ in 0..3 {
            state.clock.advance(Duration::from_secs(50 * 60));
            pair = refresh(&state, &pair.refresh_token, &client())
                .await
                .unwrap();
            assert!(pair.persist_for.unwrap() <= 3 * 3600);
        }
        // ...the session still ends 3 h after it started.
        state.clock.advance(Duration::from_secs(40 * 60));
        assert_eq!(
            refresh(&state, &pair.refresh_token, &client())
                .await
                .unwrap_err(),
            RefreshError::Invalid
        );
    }

    #[test]
    fn user_agents_read_as_words() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(describe_user_agent(chrome), "Chrome on Linux");
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
        assert_eq!(describe_user_agent(firefox), "Firefox on Windows 10");
        assert_eq!(describe_user_agent(""), "Unknown device");
    }
}
