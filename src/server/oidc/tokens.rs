//! What apps get and check: the token endpoint (codes and refresh tokens), ID tokens, RFC 9068
//! access tokens, userinfo, revocation (RFC 7009) and introspection (RFC 7662).
//!
//! Every token names its grant. Access tokens are JWTs a resource server verifies with the
//! JWK set alone, so they end when they expire (`ACCESS_TOKEN_TTL`); userinfo, introspection
//! and refresh look the grant up and refuse at once when it was revoked, its consent removed,
//! its app removed or its person deactivated.

use std::collections::HashMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::domain::AppError;
use crate::server::accounts::audit::{Event, EventKind};
use crate::server::oidc::authorize::verifier_matches;
use crate::server::security::principal::Client;
use crate::server::security::tokens::{new_secret, secret_digest};
use crate::server::startup::state::AppState;
use crate::server::store::oidc::{self as store, ClientRow, GrantRow};
use crate::server::store::users;

/// The `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TYP: &str = "at+jwt";

/// An OAuth error answer: `{"error", "error_description"}` with its status.
#[derive(Debug)]
pub struct OAuthError {
    pub status: http::StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = match error {
            "invalid_client" | "invalid_token" => http::StatusCode::UNAUTHORIZED,
            "server_error" => http::StatusCode::INTERNAL_SERVER_ERROR,
            "temporarily_unavailable" => http::StatusCode::SERVICE_UNAVAILABLE,
            _ => http::StatusCode::BAD_REQUEST,
        };
        Self {
            status,
            error,
            description: description.into(),
        }
    }

    fn grant(description: &str) -> Self {
        Self::new("invalid_grant", description)
    }
}

impl From<AppError> for OAuthError {
    fn from(err: AppError) -> Self {
        tracing::warn!(error = %err, "token endpoint failed");
        if err.kind == crate::domain::ErrorKind::Unavailable {
            return Self::new("temporarily_unavailable", "Please try again shortly.");
        }
        Self::new("server_error", "Something went wrong. Please try again.")
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(err: sqlx::Error) -> Self {
        AppError::from(err).into()
    }
}

/// The claims of an access token (RFC 9068 §2.2) and the grant it belongs to.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub scope: String,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The grant (Gatehouse's own claim): revoking it ends the token at userinfo and
    /// introspection.
    pub gid: String,
}

/// RFC 8176 values for a session's stored `amr` ("pwd otp", "pop").
pub fn amr_values(stored: &str) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    let mut factors = 0;
    for value in stored.split_whitespace() {
        let mapped: &[&str] = match value {
            "pwd" => &["pwd"],
            "otp" => &["otp"],
            "kba" => &["kba"],
            // A passkey: a hardware-bound key with user verification.
            "pop" => &["hwk", "user"],
            _ => &[],
        };
        if !mapped.is_empty() {
            factors += if value == "pop" { 2 } else { 1 };
        }
        for m in mapped {
            if !values.iter().any(|v| v == m) {
                values.push((*m).to_string());
            }
        }
    }
    if factors >= 2 {
        values.push("mfa".to_string());
    }
    values
}

fn has_scope(scopes: &str, scope: &str) -> bool {
    scopes.split(' ').any(|s| s == scope)
}

/// The person's claims the scopes allow (userinfo, ID tokens).
fn person_claims(user: &users::User, scopes: &str) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.id.to_string()));
    if has_scope(scopes, "profile") {
        claims.insert("preferred_username".into(), json!(user.username));
        claims.insert("name".into(), json!(user.username));
    }
    if has_scope(scopes, "email") {
        claims.insert("email".into(), json!(user.email));
        claims.insert("email_verified".into(), json!(user.email_verified));
    }
    claims
}

/// `at_hash`: the left half of the access token's SHA-256, base64url (OIDC Core §3.1.3.6).
fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The token endpoint: `authorization_code` and `refresh_token` grants.
pub async fn exchange(
    state: &AppState,
    client: &ClientRow,
    form: &HashMap<String, String>,
    who: &Client,
) -> Result<Value, OAuthError> {
    let param = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    match param("grant_type") {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri), Some(verifier)) =
                (param("code"), param("redirect_uri"), param("code_verifier"))
            else {
                return Err(OAuthError::new(
                    "invalid_request",
                    "code, redirect_uri and code_verifier are required.",
                ));
            };
            code_grant(state, client, code, redirect_uri, verifier, who).await
        }
        Some("refresh_token") => {
            let Some(token) = param("refresh_token") else {
                return Err(OAuthError::new(
                    "invalid_request",
                    "refresh_token is required.",
                ));
            };
            refresh_grant(state, client, token, param("scope"), who).await
        }
        Some(_) => Err(OAuthError::new(
            "unsupported_grant_type",
            "Only authorization_code and refresh_token are supported.",
        )),
        None => Err(OAuthError::new("invalid_request", "grant_type is missing.")),
    }
}

async fn code_grant(
    state: &AppState,
    client: &ClientRow,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
    who: &Client,
) -> Result<Value, OAuthError> {
    let now = state.now();
    let digest = secret_digest(code);
    let mut conn = state.db.acquire().await?;
    let Some(row) = store::code(&mut conn, &digest).await? else {
        return Err(OAuthError::grant("The code is not valid."));
    };
    let grant = store::grant(&mut conn, &row.grant_id).await?;
    // Bound to its client: another client's code is refused without touching it.
    let Some(grant) = grant.filter(|grant| grant.client_id == client.id) else {
        return Err(OAuthError::grant("The code is not valid."));
    };
    if row.used_at.is_some() || !store::spend_code(&mut conn, &digest, now).await? {
        // A second use: whoever has the code now may not be the app. What the first use
        // issued ends (OAuth 2.1 §4.1.3).
        return Err(reused(state, &mut conn, &grant, who, "code").await);
    }
    if row.expires_at <= now {
        return Err(OAuthError::grant("The code has expired."));
    }
    if row.redirect_uri != redirect_uri {
        return Err(OAuthError::grant(
            "redirect_uri differs from the authorization request's.",
        ));
    }
    if !verifier_matches(verifier, &row.code_challenge) {
        return Err(OAuthError::grant(
            "code_verifier does not match the code_challenge.",
        ));
    }
    if !grant.is_live(now) {
        return Err(OAuthError::grant("The authorization has ended."));
    }
    drop(conn);
    issue(
        state,
        client,
        &grant,
        &grant.scopes,
        row.nonce.as_deref(),
        who,
    )
    .await
}

async fn refresh_grant(
    state: &AppState,
    client: &ClientRow,
    token: &str,
    scope: Option<&str>,
    who: &Client,
) -> Result<Value, OAuthError> {
    let now = state.now();
    let digest = secret_digest(token);
    let mut conn = state.db.acquire().await?;
    let Some(row) = store::refresh_token(&mut conn, &digest).await? else {
        return Err(OAuthError::grant("The refresh token is not valid."));
    };
    let Some(grant) = store::grant(&mut conn, &row.grant_id)
        .await?
        .filter(|grant| grant.client_id == client.id)
    else {
        return Err(OAuthError::grant("The refresh token is not valid."));
    };
    if row.spent_at.is_some() || !store::spend_refresh_token(&mut conn, &digest, now).await? {
        // A spent token presented again: the chain leaked. The whole grant ends.
        return Err(reused(state, &mut conn, &grant, who, "refresh_token").await);
    }
    if !grant.is_live(now) || !has_scope(&grant.scopes, "offline_access") {
        return Err(OAuthError::grant("The authorization has ended."));
    }
    let scopes = match scope {
        Some(asked) => {
            let narrowed: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
            if narrowed.is_empty() || narrowed.iter().any(|s| !has_scope(&grant.scopes, s)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    "A refresh cannot ask for more than the grant allows.",
                ));
            }
            narrowed.join(" ")
        }
        None => grant.scopes.clone(),
    };
    drop(conn);
    issue(state, client, &grant, &scopes, None, who).await
}

/// A spent code or refresh token presented again: the grant ends (audited), and the answer
/// says it was used already.
async fn reused(
    state: &AppState,
    conn: &mut crate::server::store::Conn,
    grant: &GrantRow,
    who: &Client,
    token: &'static str,
) -> OAuthError {
    if let Err(err) = store::revoke_grant(conn, &grant.id, state.now()).await {
        return err.into();
    }
    state.audit.record(
        Event::new(EventKind::AppTokenReused)
            .subject(grant.user_id)
            .client(who)
            .detail("client_id", grant.client_id.clone())
            .detail("token", token),
    );
    OAuthError::grant(&format!(
        "The {} was used already.",
        token.replace('_', " ")
    ))
}

/// An access token, an ID token and (with `offline_access`) a new refresh token.
async fn issue(
    state: &AppState,
    client: &ClientRow,
    grant: &GrantRow,
    scopes: &str,
    nonce: Option<&str>,
    who: &Client,
) -> Result<Value, OAuthError> {
    let now = state.now();
    let issuer = state.config.public_url.origin.clone();
    let ttl = state.config.sessions.access_ttl.as_secs() as i64;
    let user = {
        let mut conn = state.db.acquire().await?;
        users::find_by_id(&mut conn, grant.user_id).await?
    };
    let Some(user) = user.filter(|user| user.is_active) else {
        return Err(OAuthError::grant("The account is no longer active."));
    };
    let amr = amr_values(&grant.amr);
    let access = AccessClaims {
        iss: issuer.clone(),
        sub: user.id.to_string(),
        aud: client.id.clone(),
        client_id: client.id.clone(),
        exp: now + ttl,
        iat: now,
        jti: uuid::Uuid::new_v4().simple().to_string(),
        scope: scopes.to_string(),
        auth_time: grant.auth_time,
        amr: amr.clone(),
        gid: grant.id.clone(),
    };
    let access_token = state
        .oidc_keys
        .sign(&access, ACCESS_TYP)
        .map_err(|e| AppError::internal_from(std::io::Error::other(e)))?;
    let mut id = person_claims(&user, scopes);
    id.insert("iss".into(), json!(issuer));
    id.insert("aud".into(), json!(client.id));
    id.insert("azp".into(), json!(client.id));
    id.insert("exp".into(), json!(now + ttl));
    id.insert("iat".into(), json!(now));
    id.insert("auth_time".into(), json!(grant.auth_time));
    id.insert("at_hash".into(), json!(at_hash(&access_token)));
    if !amr.is_empty() {
        id.insert("amr".into(), json!(amr));
    }
    if let Some(nonce) = nonce {
        id.insert("nonce".into(), json!(nonce));
    }
    let id_token = state
        .oidc_keys
        .sign(&Value::Object(id), "JWT")
        .map_err(|e| AppError::internal_from(std::io::Error::other(e)))?;
    let mut answer = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": scopes,
    });
    if has_scope(scopes, "openid") {
        answer["id_token"] = json!(id_token);
    }
    if has_scope(&grant.scopes, "offline_access") {
        let refresh = new_secret();
        let mut conn = state.db.acquire().await?;
        store::insert_refresh_token(&mut conn, &secret_digest(&refresh), &grant.id, now).await?;
        answer["refresh_token"] = json!(refresh);
    }
    state.audit.record(
        Event::new(EventKind::AppTokensIssued)
            .subject(user.id)
            .client(who)
            .detail("client_id", client.id.clone())
            .detail("app", client.name.clone())
            .detail("scopes", scopes.to_string()),
    );
    Ok(answer)
}

/// An access token that is good now: signed by a published key, not expired, its grant live.
pub async fn check_access_token(
    state: &AppState,
    token: &str,
) -> Result<Option<(AccessClaims, GrantRow)>, AppError> {
    let now = state.now();
    let Some(claims) = state.oidc_keys.verify::<AccessClaims>(
        token,
        ACCESS_TYP,
        &state.config.public_url.origin,
        now,
    ) else {
        return Ok(None);
    };
    let mut conn = state.db.acquire().await?;
    let grant = store::grant(&mut conn, &claims.gid).await?;
    Ok(grant
        .filter(|grant| grant.is_live(now) && grant.client_id == claims.client_id)
        .map(|grant| (claims, grant)))
}

/// The userinfo endpoint's answer for a good access token (OIDC Core §5.3).
pub async fn userinfo(state: &AppState, token: &str) -> Result<Option<Value>, AppError> {
    let Some((claims, grant)) = check_access_token(state, token).await? else {
        return Ok(None);
    };
    if !has_scope(&claims.scope, "openid") {
        return Ok(None);
    }
    let mut conn = state.db.acquire().await?;
    let Some(user) = users::find_by_id(&mut conn, grant.user_id)
        .await?
        .filter(|user| user.is_active)
    else {
        return Ok(None);
    };
    Ok(Some(Value::Object(person_claims(&user, &claims.scope))))
}

/// What a token is, for the client that presents it: the grant behind an access or refresh
/// token of this client.
async fn find_grant(
    state: &AppState,
    client: &ClientRow,
    token: &str,
    hint: Option<&str>,
) -> Result<Option<(GrantRow, Option<AccessClaims>)>, AppError> {
    let now = state.now();
    let as_access = || async {
        let claims = state.oidc_keys.verify::<AccessClaims>(
            token,
            ACCESS_TYP,
            &state.config.public_url.origin,
            now,
        );
        Ok::<_, AppError>(match claims {
            Some(claims) => {
                let mut conn = state.db.acquire().await?;
                store::grant(&mut conn, &claims.gid)
                    .await?
                    .map(|grant| (grant, Some(claims)))
            }
            None => None,
        })
    };
    let as_refresh = || async {
        let mut conn = state.db.acquire().await?;
        let Some(row) = store::refresh_token(&mut conn, &secret_digest(token)).await? else {
            return Ok::<_, AppError>(None);
        };
        if row.spent_at.is_some() {
            return Ok(None);
        }
        Ok(store::grant(&mut conn, &row.grant_id)
            .await?
            .map(|grant| (grant, None)))
    };
    let found = if hint == Some("refresh_token") {
        match as_refresh().await? {
            Some(found) => Some(found),
            None => as_access().await?,
        }
    } else {
        match as_access().await? {
            Some(found) => Some(found),
            None => as_refresh().await?,
        }
    };
    Ok(found.filter(|(grant, _)| grant.client_id == client.id))
}

/// RFC 7009: ends the grant behind the token. Unknown tokens and other clients' tokens are
/// answered the same (nothing to do).
pub async fn revoke(
    state: &AppState,
    client: &ClientRow,
    token: &str,
    hint: Option<&str>,
) -> Result<(), AppError> {
    if let Some((grant, _)) = find_grant(state, client, token, hint).await? {
        let mut conn = state.db.acquire().await?;
        store::revoke_grant(&mut conn, &grant.id, state.now()).await?;
    }
    Ok(())
}

/// RFC 7662: whether the token is good now, and what it stands for.
pub async fn introspect(
    state: &AppState,
    client: &ClientRow,
    token: &str,
    hint: Option<&str>,
) -> Result<Value, AppError> {
    let now = state.now();
    let Some((grant, claims)) = find_grant(state, client, token, hint).await? else {
        return Ok(json!({ "active": false }));
    };
    if !grant.is_live(now) {
        return Ok(json!({ "active": false }));
    }
    // The username only when the app may see it.
    let username = if has_scope(&grant.scopes, "profile") {
        let mut conn = state.db.acquire().await?;
        users::find_by_id(&mut conn, grant.user_id)
            .await?
            .map(|user| user.username)
    } else {
        None
    };
    let mut answer = match claims {
        Some(claims) => json!({
            "active": true,
            "token_type": "Bearer",
            "scope": claims.scope,
            "client_id": claims.client_id,
            "sub": claims.sub,
            "aud": claims.aud,
            "iss": claims.iss,
            "exp": claims.exp,
            "iat": claims.iat,
            "jti": claims.jti,
        }),
        None => json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": grant.scopes,
            "client_id": grant.client_id,
            "sub": grant.user_id.to_string(),
            "iss": state.config.public_url.origin,
            "exp": grant.expires_at,
        }),
    };
    if let Some(username) = username {
        answer["username"] = json!(username);
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amr_follows_rfc_8176() {
        assert_eq!(amr_values("pwd"), ["pwd"]);
        assert_eq!(amr_values("pwd otp"), ["pwd", "otp", "mfa"]);
        assert_eq!(amr_values("pop"), ["hwk", "user", "mfa"]);
        assert_eq!(amr_values("pwd pop"), ["pwd", "hwk", "user", "mfa"]);
        assert!(amr_values("").is_empty());
    }

    #[test]
    fn at_hash_is_the_left_half_of_the_digest() {
        // OIDC Core's example token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y" hashes to
        // "77QmUPtjPfzWtF2AnpK9RQ".
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
