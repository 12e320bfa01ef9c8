//! The OpenID Provider's tables: apps (`oidc_clients`), what people allowed them
//! (`oidc_consents`), and grants with their codes and refresh tokens. Secrets arrive as
//! digests: nothing here sees a client secret, a code or a refresh token.

use super::{execute, on, Conn};

/// A registered app.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub secret_digest: Option<String>,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub created_at: i64,
}

const CLIENT_COLUMNS: &str =
    "id, name, secret_digest, redirect_uris, post_logout_redirect_uris, created_at";

pub struct NewClient<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub secret_digest: Option<&'a str>,
    pub secret_reveal: Option<&'a str>,
    pub redirect_uris: &'a str,
    pub post_logout_redirect_uris: &'a str,
    pub now: i64,
}

pub async fn insert_client(conn: &mut Conn, client: &NewClient<'_>) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "INSERT INTO oidc_clients
             (id, name, secret_digest, secret_reveal, redirect_uris, post_logout_redirect_uris,
              created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        client.id,
        client.name,
        client.secret_digest,
        client.secret_reveal,
        client.redirect_uris,
        client.post_logout_redirect_uris,
        client.now
    )
    .map(drop)
}

pub async fn client(conn: &mut Conn, id: &str) -> Result<Option<ClientRow>, sqlx::Error> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE id = $1");
    on!(conn, |c| sqlx::query_as::<_, ClientRow>(&sql)
        .bind(id)
        .fetch_optional(c)
        .await)
}

/// Every app, oldest first.
pub async fn clients(conn: &mut Conn) -> Result<Vec<ClientRow>, sqlx::Error> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM oidc_clients ORDER BY created_at, id");
    on!(conn, |c| sqlx::query_as::<_, ClientRow>(&sql)
        .fetch_all(c)
        .await)
}

/// Removes an app with its consents and grants: its name, when there was one.
pub async fn delete_client(conn: &mut Conn, id: &str) -> Result<Option<String>, sqlx::Error> {
    on!(conn, |c| sqlx::query_scalar::<_, String>(
        "DELETE FROM oidc_clients WHERE id = $1 RETURNING name"
    )
    .bind(id)
    .fetch_optional(c)
    .await)
}

/// The sealed new secret of an app, taken (it is shown once): the first reader gets it.
pub async fn take_secret_reveal(conn: &mut Conn, id: &str) -> Result<Option<String>, sqlx::Error> {
    let sealed: Option<Option<String>> = on!(conn, |c| sqlx::query_scalar(
        "SELECT secret_reveal FROM oidc_clients WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    let Some(sealed) = sealed.flatten() else {
        return Ok(None);
    };
    let taken = execute!(
        conn,
        "UPDATE oidc_clients SET secret_reveal = NULL WHERE id = $1 AND secret_reveal = $2",
        id,
        sealed.as_str()
    )?;
    Ok((taken == 1).then_some(sealed))
}

/// The scopes the person allowed the app, space-separated.
pub async fn consent(
    conn: &mut Conn,
    user_id: i64,
    client_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    on!(conn, |c| sqlx::query_scalar::<_, String>(
        "SELECT scopes FROM oidc_consents WHERE user_id = $1 AND client_id = $2"
    )
    .bind(user_id)
    .bind(client_id)
    .fetch_optional(c)
    .await)
}

pub async fn save_consent(
    conn: &mut Conn,
    user_id: i64,
    client_id: &str,
    scopes: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "INSERT INTO oidc_consents (user_id, client_id, scopes, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes,
             updated_at = excluded.updated_at",
        user_id,
        client_id,
        scopes,
        now
    )
    .map(drop)
}

/// Removes a consent and revokes every grant the person gave the app: whether there was one.
pub async fn delete_consent(
    conn: &mut Conn,
    user_id: i64,
    client_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    execute!(
        conn,
        "UPDATE oidc_grants SET revoked_at = $1
         WHERE user_id = $2 AND client_id = $3 AND revoked_at IS NULL",
        now,
        user_id,
        client_id
    )?;
    execute!(
        conn,
        "DELETE FROM oidc_consents WHERE user_id = $1 AND client_id = $2",
        user_id,
        client_id
    )
    .map(|n| n > 0)
}

/// An app a person allowed, as `/apps` lists it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ConsentRow {
    pub client_id: String,
    pub name: String,
    pub scopes: String,
    pub updated_at: i64,
}

pub async fn consents_of(conn: &mut Conn, user_id: i64) -> Result<Vec<ConsentRow>, sqlx::Error> {
    on!(conn, |c| sqlx::query_as::<_, ConsentRow>(
        "SELECT k.client_id, c.name, k.scopes, k.updated_at
         FROM oidc_consents k JOIN oidc_clients c ON c.id = k.client_id
         WHERE k.user_id = $1 ORDER BY c.name, k.client_id"
    )
    .bind(user_id)
    .fetch_all(c)
    .await)
}

pub struct NewGrant<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub user_id: i64,
    pub scopes: &'a str,
    pub auth_time: i64,
    pub amr: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

pub struct NewCode<'a> {
    pub digest: &'a str,
    pub redirect_uri: &'a str,
    pub code_challenge: &'a str,
    pub nonce: Option<&'a str>,
    pub expires_at: i64,
}

/// Stores a grant and the code that stands for it.
pub async fn insert_grant_with_code(
    conn: &mut Conn,
    grant: &NewGrant<'_>,
    code: &NewCode<'_>,
) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "INSERT INTO oidc_grants
             (id, client_id, user_id, scopes, auth_time, amr, created_at, expires_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
        grant.id,
        grant.client_id,
        grant.user_id,
        grant.scopes,
        grant.auth_time,
        grant.amr,
        grant.now,
        grant.expires_at
    )?;
    execute!(
        conn,
        "INSERT INTO oidc_codes
             (digest, grant_id, redirect_uri, code_challenge, nonce, expires_at, used_at)
         VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        code.digest,
        grant.id,
        code.redirect_uri,
        code.code_challenge,
        code.nonce,
        code.expires_at
    )
    .map(drop)
}

/// A grant with what its tokens say about the person.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub user_id: i64,
    pub scopes: String,
    pub auth_time: i64,
    pub amr: String,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub is_active: bool,
    pub consented: bool,
}

impl GrantRow {
    /// Its tokens are good: not revoked or expired, the person active and the consent kept.
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now && self.is_active && self.consented
    }
}

pub async fn grant(conn: &mut Conn, id: &str) -> Result<Option<GrantRow>, sqlx::Error> {
    on!(conn, |c| sqlx::query_as::<_, GrantRow>(
        "SELECT g.id, g.client_id, g.user_id, g.scopes, g.auth_time, g.amr, g.expires_at,
                g.revoked_at, u.is_active,
                EXISTS (SELECT 1 FROM oidc_consents k
                        WHERE k.user_id = g.user_id AND k.client_id = g.client_id) AS consented
         FROM oidc_grants g JOIN users u ON u.id = g.user_id
         WHERE g.id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)
}

/// Revokes every grant of a person (all apps).
pub async fn revoke_grants_of(conn: &mut Conn, user_id: i64, now: i64) -> Result<u64, sqlx::Error> {
    execute!(
        conn,
        "UPDATE oidc_grants SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        now,
        user_id
    )
}

pub async fn revoke_grant(conn: &mut Conn, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    execute!(
        conn,
        "UPDATE oidc_grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        now,
        id
    )
    .map(|n| n > 0)
}

/// A code as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CodeRow {
    pub grant_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub async fn code(conn: &mut Conn, digest: &str) -> Result<Option<CodeRow>, sqlx::Error> {
    on!(conn, |c| sqlx::query_as::<_, CodeRow>(
        "SELECT grant_id, redirect_uri, code_challenge, nonce, expires_at, used_at
         FROM oidc_codes WHERE digest = $1"
    )
    .bind(digest)
    .fetch_optional(c)
    .await)
}

/// Spends a code: false when it was spent already (by a parallel request too).
pub async fn spend_code(conn: &mut Conn, digest: &str, now: i64) -> Result<bool, sqlx::Error> {
    execute!(
        conn,
        "UPDATE oidc_codes SET used_at = $1 WHERE digest = $2 AND used_at IS NULL",
        now,
        digest
    )
    .map(|n| n == 1)
}

pub async fn insert_refresh_token(
    conn: &mut Conn,
    digest: &str,
    grant_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "INSERT INTO oidc_refresh_tokens (digest, grant_id, issued_at, spent_at)
         VALUES ($1, $2, $3, NULL)",
        digest,
        grant_id,
        now
    )
    .map(drop)
}

/// A refresh token as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RefreshRow {
    pub grant_id: String,
    pub issued_at: i64,
    pub spent_at: Option<i64>,
}

pub async fn refresh_token(
    conn: &mut Conn,
    digest: &str,
) -> Result<Option<RefreshRow>, sqlx::Error> {
    on!(conn, |c| sqlx::query_as::<_, RefreshRow>(
        "SELECT grant_id, issued_at, spent_at FROM oidc_refresh_tokens WHERE digest = $1"
    )
    .bind(digest)
    .fetch_optional(c)
    .await)
}

/// Spends a refresh token: false when it was spent already.
pub async fn spend_refresh_token(
    conn: &mut Conn,
    digest: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    execute!(
        conn,
        "UPDATE oidc_refresh_tokens SET spent_at = $1 WHERE digest = $2 AND spent_at IS NULL",
        now,
        digest
    )
    .map(|n| n == 1)
}

/// Forgets grants (with their codes and refresh tokens) that ended before `before`.
pub async fn delete_ended_grants(conn: &mut Conn, before: i64) -> Result<u64, sqlx::Error> {
    execute!(
        conn,
        "DELETE FROM oidc_grants WHERE expires_at < $1 OR revoked_at < $1",
        before
    )
}
