//! Sessions: one row per login, an access JWT bound to it, and a chain of rotating refresh
//! tokens (RFC 9700). Ending a session is immediate because every access token is checked
//! against its session row.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::Mutex;

use super::db::{self, now};
use super::tokens::{RefreshToken, TokenError, TokenKeys};
use crate::domain::{AppError, SessionView};

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

/// The calling person: who a valid access token speaks for, and through which session.
/// `server::auth` records it per request; it is the only way handlers learn who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentUser {
    pub user_id: i64,
    pub session_id: String,
    pub role: String,
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

pub struct SessionStore {
    db: SqlitePool,
    keys: TokenKeys,
    refresh_ttl: i64,
    browser_session_ttl: i64,
    idle_ttl: i64,
    /// Serialises renewals and remembers, for `REUSE_GRACE_SECS`, the pair each spent token
    /// was exchanged for.
    recent_rotations: Mutex<HashMap<String, (i64, IssuedTokens)>>,
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    session_id: String,
    spent_at: Option<i64>,
    user_id: i64,
    remember: bool,
    expires_at: i64,
    last_used_at: i64,
    ended_at: Option<i64>,
    is_active: bool,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    user_agent: String,
    ip_address: String,
    created_at: i64,
    last_used_at: i64,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

impl SessionStore {
    pub fn new(
        db: SqlitePool,
        keys: TokenKeys,
        refresh_ttl: Duration,
        browser_session_ttl: Duration,
        idle_ttl: Duration,
    ) -> Self {
        Self {
            db,
            keys,
            refresh_ttl: secs(refresh_ttl),
            browser_session_ttl: secs(browser_session_ttl),
            idle_ttl: secs(idle_ttl),
            recent_rotations: Mutex::new(HashMap::new()),
        }
    }

    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    fn issue(
        &self,
        session_id: &str,
        user_id: i64,
        remember: bool,
        expires_at: i64,
        now: i64,
    ) -> IssuedTokens {
        IssuedTokens {
            session_id: session_id.to_string(),
            user_id,
            access_token: self.keys.issue_access(user_id, session_id, now),
            access_expires_in: secs(self.keys.access_ttl()),
            refresh_token: RefreshToken::generate(),
            persist_for: remember.then_some(expires_at - now),
        }
    }

    /// Starts a session for a successful login.
    pub async fn start(
        &self,
        user_id: i64,
        remember: bool,
        user_agent: &str,
        ip_address: &str,
    ) -> Result<IssuedTokens, AppError> {
        let now = now();
        let session_id = uuid::Uuid::new_v4().simple().to_string();
        let lifetime = if remember {
            self.refresh_ttl
        } else {
            self.browser_session_ttl
        };
        let expires_at = now + lifetime;
        let issued = self.issue(&session_id, user_id, remember, expires_at, now);
        let user_agent: String = user_agent.chars().take(512).collect();
        let mut tx = self.db.begin().await.map_err(db::internal)?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, remember, user_agent, ip_address, created_at, last_used_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&session_id)
        .bind(user_id)
        .bind(remember)
        .bind(user_agent)
        .bind(ip_address)
        .bind(now)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db::internal)?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES (?, ?, ?)",
        )
        .bind(issued.refresh_token.digest())
        .bind(&session_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db::internal)?;
        tx.commit().await.map_err(db::internal)?;
        Ok(issued)
    }

    /// Verifies an access token and that its session is still alive.
    pub async fn authenticate(&self, access_token: &str) -> Result<CurrentUser, TokenError> {
        let claims = self.keys.verify_access(access_token)?;
        let user_id = claims.user_id().ok_or(TokenError::Invalid)?;
        let now = now();
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT s.last_used_at, u.role FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = ? AND s.user_id = ? AND s.ended_at IS NULL AND s.expires_at > ?
               AND s.last_used_at > ? AND u.is_active = 1",
        )
        .bind(&claims.sid)
        .bind(user_id)
        .bind(now)
        .bind(now - self.idle_ttl)
        .fetch_optional(&self.db)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "session lookup failed");
            TokenError::Invalid
        })?;
        let (last_used_at, role) = row.ok_or(TokenError::Invalid)?;
        if now - last_used_at >= TOUCH_INTERVAL_SECS {
            let touched = sqlx::query("UPDATE sessions SET last_used_at = ? WHERE id = ?")
                .bind(now)
                .bind(&claims.sid)
                .execute(&self.db)
                .await;
            if let Err(e) = touched {
                tracing::warn!(error = %e, "could not record session use");
            }
        }
        Ok(CurrentUser {
            user_id,
            session_id: claims.sid,
            role,
        })
    }

    /// Spends a refresh token and issues the next pair (rotation with reuse detection).
    pub async fn refresh(
        &self,
        presented: &RefreshToken,
        user_agent: &str,
        ip_address: &str,
    ) -> Result<IssuedTokens, RefreshError> {
        let digest = presented.digest();
        let mut recent = self.recent_rotations.lock().await;
        let now = now();
        recent.retain(|_, (spent_at, _)| now - *spent_at < REUSE_GRACE_SECS);
        if let Some((_, issued)) = recent.get(&digest) {
            // Only while the session lives: a logout right after a renewal must stick.
            if self.is_alive(&issued.session_id, now).await {
                return Ok(issued.clone());
            }
            return Err(RefreshError::Invalid);
        }
        let internal = |e: sqlx::Error| {
            tracing::error!(error = %e, "refresh failed");
            RefreshError::Internal
        };
        let row: Option<RefreshRow> = sqlx::query_as(
            "SELECT rt.session_id, rt.spent_at, s.user_id, s.remember, s.expires_at, s.last_used_at,
                    s.ended_at, u.is_active
             FROM refresh_tokens rt
             JOIN sessions s ON s.id = rt.session_id
             JOIN users u ON u.id = s.user_id
             WHERE rt.token_hash = ?",
        )
        .bind(&digest)
        .fetch_optional(&self.db)
        .await
        .map_err(internal)?;
        let row = row.ok_or(RefreshError::Invalid)?;

        if let Some(spent_at) = row.spent_at {
            if now - spent_at < REUSE_GRACE_SECS {
                // Spent moments ago but the pair it bought is not at hand (e.g. a restart):
                // refuse without punishing what is most likely a race.
                return Err(RefreshError::Raced);
            }
            if row.ended_at.is_none() {
                self.end(&row.session_id, "refresh_token_reuse")
                    .await
                    .map_err(|_| RefreshError::Internal)?;
                tracing::warn!(
                    session_id = %row.session_id,
                    user_id = row.user_id,
                    "spent refresh token presented again: session ended as a suspected theft"
                );
            }
            return Err(RefreshError::Reused);
        }
        let alive = row.ended_at.is_none()
            && row.expires_at > now
            && row.last_used_at > now - self.idle_ttl
            && row.is_active;
        if !alive {
            return Err(RefreshError::Invalid);
        }

        let expires_at = if row.remember {
            now + self.refresh_ttl
        } else {
            row.expires_at
        };
        let issued = self.issue(&row.session_id, row.user_id, row.remember, expires_at, now);
        let user_agent: String = user_agent.chars().take(512).collect();
        let mut tx = self.db.begin().await.map_err(internal)?;
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET spent_at = ? WHERE token_hash = ? AND spent_at IS NULL",
        )
        .bind(now)
        .bind(&digest)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        if spent.rows_affected() != 1 {
            return Err(RefreshError::Invalid);
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES (?, ?, ?)",
        )
        .bind(issued.refresh_token.digest())
        .bind(&row.session_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        sqlx::query(
            "UPDATE sessions SET last_used_at = ?, expires_at = ?, user_agent = ?, ip_address = ? WHERE id = ?",
        )
        .bind(now)
        .bind(expires_at)
        .bind(user_agent)
        .bind(ip_address)
        .bind(&row.session_id)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        recent.insert(digest, (now, issued.clone()));
        Ok(issued)
    }

    async fn is_alive(&self, session_id: &str, now: i64) -> bool {
        sqlx::query_scalar::<_, i64>(
            "SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = ? AND s.ended_at IS NULL AND s.expires_at > ? AND u.is_active = 1",
        )
        .bind(session_id)
        .bind(now)
        .fetch_optional(&self.db)
        .await
        .is_ok_and(|row| row.is_some())
    }

    /// Ends one session; its access and refresh tokens stop working at once.
    pub async fn end(&self, session_id: &str, reason: &str) -> Result<(), AppError> {
        sqlx::query(
            "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
        )
        .bind(now())
        .bind(reason)
        .bind(session_id)
        .execute(&self.db)
        .await
        .map_err(db::internal)?;
        Ok(())
    }

    /// Ends one of `user_id`'s sessions. `false` when it is not theirs or already ended, so a
    /// caller cannot learn whether another person's session id exists.
    pub async fn end_owned(&self, user_id: i64, session_id: &str) -> Result<bool, AppError> {
        let result = sqlx::query(
            "UPDATE sessions SET ended_at = ?, end_reason = 'logged_out_elsewhere'
             WHERE id = ? AND user_id = ? AND ended_at IS NULL",
        )
        .bind(now())
        .bind(session_id)
        .bind(user_id)
        .execute(&self.db)
        .await
        .map_err(db::internal)?;
        Ok(result.rows_affected() == 1)
    }

    /// Ends every session of `user_id` except `keep` (all of them when `keep` is `None`).
    pub async fn end_all_for_user(
        &self,
        user_id: i64,
        keep: Option<&str>,
        reason: &str,
    ) -> Result<u64, AppError> {
        let result = sqlx::query(
            "UPDATE sessions SET ended_at = ?, end_reason = ?
             WHERE user_id = ? AND ended_at IS NULL AND id IS NOT ?",
        )
        .bind(now())
        .bind(reason)
        .bind(user_id)
        .bind(keep)
        .execute(&self.db)
        .await
        .map_err(db::internal)?;
        Ok(result.rows_affected())
    }

    /// The person's live sessions, most recently used first.
    pub async fn list(&self, user_id: i64, current: &str) -> Result<Vec<SessionView>, AppError> {
        let now = now();
        let rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT id, user_agent, ip_address, created_at, last_used_at FROM sessions
             WHERE user_id = ? AND ended_at IS NULL AND expires_at > ? AND last_used_at > ?
             ORDER BY last_used_at DESC, created_at DESC",
        )
        .bind(user_id)
        .bind(now)
        .bind(now - self.idle_ttl)
        .fetch_all(&self.db)
        .await
        .map_err(db::internal)?;
        Ok(rows
            .into_iter()
            .map(|row| SessionView {
                current: row.id == current,
                device: describe_user_agent(&row.user_agent),
                ip_address: row.ip_address,
                created_at: db::rfc3339(row.created_at),
                last_used_at: db::rfc3339(row.last_used_at),
                id: row.id,
            })
            .collect())
    }

    /// Deletes sessions that expired, went idle, or ended more than a day ago.
    pub async fn delete_stale(&self) -> Result<u64, sqlx::Error> {
        let now = now();
        let result = sqlx::query(
            "DELETE FROM sessions WHERE expires_at <= ? OR last_used_at <= ? OR ended_at <= ?",
        )
        .bind(now)
        .bind(now - self.idle_ttl)
        .bind(now - 86_400)
        .execute(&self.db)
        .await?;
        Ok(result.rows_affected())
    }
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
    use crate::server::config::SigningSecret;

    async fn store(dir: &tempfile::TempDir) -> SessionStore {
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let pool = db::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO users (id, email, username, password_hash, created_at, updated_at)
             VALUES (1, 'a@example.com', 'ada', 'x', 0, 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        let keys = TokenKeys::new(&SigningSecret::new(vec![7; 32]), Duration::from_secs(900));
        SessionStore::new(
            pool,
            keys,
            Duration::from_secs(3600),
            Duration::from_secs(600),
            Duration::from_secs(3600),
        )
    }

    #[tokio::test]
    async fn token_of_an_ended_session_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let issued = store.start(1, false, "", "127.0.0.1").await.unwrap();
        assert!(store.authenticate(&issued.access_token).await.is_ok());
        store.end(&issued.session_id, "logout").await.unwrap();
        assert_eq!(
            store.authenticate(&issued.access_token).await,
            Err(TokenError::Invalid)
        );
    }

    #[tokio::test]
    async fn rotation_spends_the_old_token_and_reuse_ends_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let first = store.start(1, true, "", "").await.unwrap();
        let second = store.refresh(&first.refresh_token, "", "").await.unwrap();
        assert_eq!(second.session_id, first.session_id);
        assert_ne!(second.refresh_token, first.refresh_token);
        // Within the grace window the same pair comes back.
        let again = store.refresh(&first.refresh_token, "", "").await.unwrap();
        assert_eq!(again.refresh_token, second.refresh_token);
        // After it, reuse is theft: the whole session ends, newest token included.
        sqlx::query("UPDATE refresh_tokens SET spent_at = spent_at - 60")
            .execute(&store.db)
            .await
            .unwrap();
        store.recent_rotations.lock().await.clear();
        assert_eq!(
            store
                .refresh(&first.refresh_token, "", "")
                .await
                .unwrap_err(),
            RefreshError::Reused
        );
        assert_eq!(
            store
                .refresh(&second.refresh_token, "", "")
                .await
                .unwrap_err(),
            RefreshError::Invalid
        );
        assert!(store.authenticate(&second.access_token).await.is_err());
    }

    #[tokio::test]
    async fn the_grace_does_not_revive_an_ended_session() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let first = store.start(1, true, "", "").await.unwrap();
        store.refresh(&first.refresh_token, "", "").await.unwrap();
        store.end(&first.session_id, "logout").await.unwrap();
        assert_eq!(
            store
                .refresh(&first.refresh_token, "", "")
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
