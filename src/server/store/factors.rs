//! Second factors (`app_factors`, `recovery_codes`) and logins waiting for their second step
//! (`pending_logins`). Secrets arrive sealed and codes as digests: nothing here sees a secret.

use super::{execute, on, Conn};

/// An account's authenticator app.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AppFactor {
    pub secret: String,
    pub enabled_at: Option<i64>,
    pub last_step: Option<i64>,
    pub created_at: i64,
}

pub async fn app_factor(conn: &mut Conn, user_id: i64) -> Result<Option<AppFactor>, sqlx::Error> {
    on!(conn, |c| sqlx::query_as::<_, AppFactor>(
        "SELECT secret, enabled_at, last_step, created_at FROM app_factors WHERE user_id = $1"
    )
    .bind(user_id)
    .fetch_optional(c)
    .await)
}

/// What an account has of second factors, in one query (every password login asks).
#[derive(Clone, Copy, Debug, Default, sqlx::FromRow)]
pub struct Summary {
    pub app_on: bool,
    pub passkeys: i64,
    pub codes_left: i64,
}

pub async fn summary(conn: &mut Conn, user_id: i64) -> Result<Summary, sqlx::Error> {
    on!(conn, |c| {
        sqlx::query_as::<_, Summary>(
        "SELECT
             EXISTS (SELECT 1 FROM app_factors WHERE user_id = $1 AND enabled_at IS NOT NULL) AS app_on,
             (SELECT COUNT(*) FROM passkeys WHERE user_id = $1) AS passkeys,
             (SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL) AS codes_left"
    )
    .bind(user_id)
    .fetch_one(c)
    .await
    })
}

/// Starts (or restarts) a set-up with a new sealed secret, unless the app is already on:
/// whether it was stored.
pub async fn begin_app_setup(
    conn: &mut Conn,
    user_id: i64,
    sealed: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    execute!(
        conn,
        "INSERT INTO app_factors (user_id, secret, enabled_at, last_step, created_at)
         VALUES ($1, $2, NULL, NULL, $3)
         ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, last_step = NULL,
             created_at = excluded.created_at
         WHERE app_factors.enabled_at IS NULL",
        user_id,
        sealed,
        now
    )
    .map(|changed| changed == 1)
}

/// Turns the set-up of `sealed` on with the step of its first code: false when the set-up
/// changed meanwhile or the app is on already.
pub async fn enable_app(
    conn: &mut Conn,
    user_id: i64,
    sealed: &str,
    step: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    execute!(
        conn,
        "UPDATE app_factors SET enabled_at = $1, last_step = $2
         WHERE user_id = $3 AND secret = $4 AND enabled_at IS NULL",
        now,
        step,
        user_id,
        sealed
    )
    .map(|changed| changed == 1)
}

/// Spends `step` for the account's app (on): false when that step or a later one was already
/// accepted, so two requests with one code cannot both pass.
pub async fn spend_step(conn: &mut Conn, user_id: i64, step: i64) -> Result<bool, sqlx::Error> {
    execute!(
        conn,
        "UPDATE app_factors SET last_step = $1
         WHERE user_id = $2 AND enabled_at IS NOT NULL AND (last_step IS NULL OR last_step < $1)",
        step,
        user_id
    )
    .map(|changed| changed == 1)
}

/// Removes the app (on or being set up): whether there was one.
pub async fn delete_app(conn: &mut Conn, user_id: i64) -> Result<bool, sqlx::Error> {
    execute!(conn, "DELETE FROM app_factors WHERE user_id = $1", user_id).map(|n| n > 0)
}

/// Replaces the account's recovery codes with `digests`.
pub async fn replace_recovery_codes(
    conn: &mut Conn,
    user_id: i64,
    digests: &[String],
) -> Result<(), sqlx::Error> {
    delete_recovery_codes(conn, user_id).await?;
    for digest in digests {
        execute!(
            conn,
            "INSERT INTO recovery_codes (user_id, digest, used_at) VALUES ($1, $2, NULL)",
            user_id,
            digest.as_str()
        )?;
    }
    Ok(())
}

pub async fn delete_recovery_codes(conn: &mut Conn, user_id: i64) -> Result<u64, sqlx::Error> {
    execute!(
        conn,
        "DELETE FROM recovery_codes WHERE user_id = $1",
        user_id
    )
}

/// Spends the account's unused code with `digest`: whether there was one.
pub async fn spend_recovery_code(
    conn: &mut Conn,
    user_id: i64,
    digest: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    execute!(
        conn,
        "UPDATE recovery_codes SET used_at = $1
         WHERE user_id = $2 AND digest = $3 AND used_at IS NULL",
        now,
        user_id,
        digest
    )
    .map(|changed| changed == 1)
}

/// How many of the account's recovery codes are unused.
pub async fn recovery_codes_left(conn: &mut Conn, user_id: i64) -> Result<i64, sqlx::Error> {
    on!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL"
    )
    .bind(user_id)
    .fetch_one(c)
    .await)
}

/// A login waiting for its second step.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PendingLogin {
    pub user_id: i64,
    pub remember: bool,
    pub device_id: Option<String>,
}

pub struct NewPendingLogin<'a> {
    pub digest: &'a str,
    pub user_id: i64,
    pub remember: bool,
    pub device_id: Option<&'a str>,
    pub now: i64,
    pub expires_at: i64,
}

pub async fn insert_pending(
    conn: &mut Conn,
    login: &NewPendingLogin<'_>,
) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "INSERT INTO pending_logins (digest, user_id, remember, device_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        login.digest,
        login.user_id,
        login.remember,
        login.device_id,
        login.now,
        login.expires_at
    )
    .map(drop)
}

/// The unexpired pending login with `digest`.
pub async fn pending(
    conn: &mut Conn,
    digest: &str,
    now: i64,
) -> Result<Option<PendingLogin>, sqlx::Error> {
    on!(conn, |c| sqlx::query_as::<_, PendingLogin>(
        "SELECT user_id, remember, device_id FROM pending_logins
         WHERE digest = $1 AND expires_at > $2"
    )
    .bind(digest)
    .bind(now)
    .fetch_optional(c)
    .await)
}

/// Spends the pending login with `digest`: false when it expired or was spent meanwhile.
pub async fn spend_pending(conn: &mut Conn, digest: &str, now: i64) -> Result<bool, sqlx::Error> {
    execute!(
        conn,
        "DELETE FROM pending_logins WHERE digest = $1 AND expires_at > $2",
        digest,
        now
    )
    .map(|n| n == 1)
}

/// Forgets every pending login of the account (its factors were reset).
pub async fn delete_pending_of(conn: &mut Conn, user_id: i64) -> Result<u64, sqlx::Error> {
    execute!(
        conn,
        "DELETE FROM pending_logins WHERE user_id = $1",
        user_id
    )
}

/// Forgets pending logins that expired before `now`.
pub async fn delete_expired_pending(conn: &mut Conn, now: i64) -> Result<u64, sqlx::Error> {
    execute!(
        conn,
        "DELETE FROM pending_logins WHERE expires_at <= $1",
        now
    )
}

/// Keeps new recovery codes (sealed) until the page shows them, replacing any not shown yet.
pub async fn put_reveal(
    conn: &mut Conn,
    user_id: i64,
    sealed: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "INSERT INTO recovery_code_reveals (user_id, sealed, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, expires_at = excluded.expires_at",
        user_id,
        sealed,
        expires_at
    )
    .map(drop)
}

/// Takes the account's unshown recovery codes (sealed), if they have not expired: a second
/// call finds nothing.
pub async fn take_reveal(
    conn: &mut Conn,
    user_id: i64,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    on!(conn, |c| sqlx::query_scalar(
        "DELETE FROM recovery_code_reveals WHERE user_id = $1 AND expires_at > $2 RETURNING sealed"
    )
    .bind(user_id)
    .bind(now)
    .fetch_optional(c)
    .await)
}

/// Forgets the account's unshown recovery codes (its factors were reset).
pub async fn delete_reveal(conn: &mut Conn, user_id: i64) -> Result<u64, sqlx::Error> {
    execute!(
        conn,
        "DELETE FROM recovery_code_reveals WHERE user_id = $1",
        user_id
    )
}

/// Forgets unshown recovery codes that expired before `now`.
pub async fn delete_expired_reveals(conn: &mut Conn, now: i64) -> Result<u64, sqlx::Error> {
    execute!(
        conn,
        "DELETE FROM recovery_code_reveals WHERE expires_at <= $1",
        now
    )
}

/// A passkey as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: String,
    pub user_id: i64,
    pub name: String,
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub struct NewPasskey<'a> {
    pub id: &'a str,
    pub user_id: i64,
    pub name: &'a str,
    pub credential: &'a str,
    pub now: i64,
}

/// Stores a new passkey: false when its credential id is registered already (to anyone).
pub async fn insert_passkey(
    conn: &mut Conn,
    passkey: &NewPasskey<'_>,
) -> Result<bool, sqlx::Error> {
    execute!(
        conn,
        "INSERT INTO passkeys (id, user_id, name, credential, created_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT (id) DO NOTHING",
        passkey.id,
        passkey.user_id,
        passkey.name,
        passkey.credential,
        passkey.now
    )
    .map(|n| n == 1)
}

const PASSKEY_COLUMNS: &str = "id, user_id, name, credential, created_at, last_used_at";

pub async fn passkeys_of(conn: &mut Conn, user_id: i64) -> Result<Vec<PasskeyRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
    );
    on!(conn, |c| sqlx::query_as::<_, PasskeyRow>(&sql)
        .bind(user_id)
        .fetch_all(c)
        .await)
}

pub async fn passkey(conn: &mut Conn, id: &str) -> Result<Option<PasskeyRow>, sqlx::Error> {
    let sql = format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE id = $1");
    on!(conn, |c| sqlx::query_as::<_, PasskeyRow>(&sql)
        .bind(id)
        .fetch_optional(c)
        .await)
}

pub async fn count_passkeys(conn: &mut Conn, user_id: i64) -> Result<i64, sqlx::Error> {
    on!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM passkeys WHERE user_id = $1"
    )
    .bind(user_id)
    .fetch_one(c)
    .await)
}

/// Records a use: the credential's new counter and flags, and when; false when the stored
/// credential is no longer `before` (another use was recorded meanwhile).
pub async fn passkey_used(
    conn: &mut Conn,
    id: &str,
    before: &str,
    credential: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    execute!(
        conn,
        "UPDATE passkeys SET credential = $1, last_used_at = $2 WHERE id = $3 AND credential = $4",
        credential,
        now,
        id,
        before
    )
    .map(|n| n == 1)
}

/// Renames one of the account's passkeys: whether it had it.
pub async fn rename_passkey(
    conn: &mut Conn,
    user_id: i64,
    id: &str,
    name: &str,
) -> Result<bool, sqlx::Error> {
    execute!(
        conn,
        "UPDATE passkeys SET name = $1 WHERE user_id = $2 AND id = $3",
        name,
        user_id,
        id
    )
    .map(|n| n == 1)
}

/// Removes one of the account's passkeys: whether it had it.
pub async fn delete_passkey(conn: &mut Conn, user_id: i64, id: &str) -> Result<bool, sqlx::Error> {
    execute!(
        conn,
        "DELETE FROM passkeys WHERE user_id = $1 AND id = $2",
        user_id,
        id
    )
    .map(|n| n == 1)
}

pub async fn delete_passkeys(conn: &mut Conn, user_id: i64) -> Result<u64, sqlx::Error> {
    execute!(conn, "DELETE FROM passkeys WHERE user_id = $1", user_id)
}

/// A ceremony between its two calls.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Ceremony {
    pub kind: String,
    pub user_id: Option<i64>,
    pub pending: Option<String>,
    pub state: String,
}

pub struct NewCeremony<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub user_id: Option<i64>,
    pub pending: Option<&'a str>,
    pub state: &'a str,
    pub expires_at: i64,
}

pub async fn insert_ceremony(
    conn: &mut Conn,
    ceremony: &NewCeremony<'_>,
) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "INSERT INTO webauthn_ceremonies (id, kind, user_id, pending, state, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        ceremony.id,
        ceremony.kind,
        ceremony.user_id,
        ceremony.pending,
        ceremony.state,
        ceremony.expires_at
    )
    .map(drop)
}

/// Takes the unexpired ceremony `id` of `kind`: a second take finds nothing (single use).
pub async fn take_ceremony(
    conn: &mut Conn,
    id: &str,
    kind: &str,
    now: i64,
) -> Result<Option<Ceremony>, sqlx::Error> {
    on!(conn, |c| sqlx::query_as::<_, Ceremony>(
        "DELETE FROM webauthn_ceremonies WHERE id = $1 AND kind = $2 AND expires_at > $3
         RETURNING kind, user_id, pending, state"
    )
    .bind(id)
    .bind(kind)
    .bind(now)
    .fetch_optional(c)
    .await)
}

pub async fn delete_expired_ceremonies(conn: &mut Conn, now: i64) -> Result<u64, sqlx::Error> {
    execute!(
        conn,
        "DELETE FROM webauthn_ceremonies WHERE expires_at <= $1",
        now
    )
}
