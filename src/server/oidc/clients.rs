//! Apps registered to log people in through Gatehouse (OAuth clients): adding, listing and
//! removing them (`gatehouse oidc …`, `/admin/apps`), and checking who calls the token,
//! revocation and introspection endpoints.

use base64::Engine as _;
use http::HeaderMap;
use serde::Serialize;

use crate::domain::AppError;
use crate::server::accounts::audit::{Event, EventKind};
use crate::server::security::constant_time_eq;
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::security::second_factor::{open_text, seal_text};
use crate::server::security::tokens::{new_secret, secret_digest};
use crate::server::startup::state::AppState;
use crate::server::store::oidc::{self as store, ClientRow, NewClient};

/// The longest name an app may have.
pub const MAX_NAME_CHARS: usize = 100;
/// The most redirect URIs (and post-logout URIs) an app may register.
pub const MAX_URIS: usize = 10;
const MAX_URI_CHARS: usize = 2000;

/// An app as the CLI lists it and the admin page shows it (never its secret).
#[derive(Clone, Debug, Serialize)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub created_at: i64,
}

impl From<&ClientRow> for ClientView {
    fn from(row: &ClientRow) -> Self {
        Self {
            client_id: row.id.clone(),
            name: row.name.clone(),
            redirect_uris: uris(&row.redirect_uris),
            post_logout_redirect_uris: uris(&row.post_logout_redirect_uris),
            public: row.secret_digest.is_none(),
            created_at: row.created_at,
        }
    }
}

/// The URIs of a stored newline-separated list.
pub fn uris(stored: &str) -> Vec<String> {
    stored.lines().map(str::to_string).collect()
}

/// What `add` hands back: the secret only this once.
#[derive(Clone, Debug, Serialize)]
pub struct Added {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// What an app registers.
pub struct Registration<'a> {
    pub name: &'a str,
    pub redirect_uris: &'a [String],
    pub post_logout_redirect_uris: &'a [String],
    pub public: bool,
}

/// Checks one redirect URI (OAuth 2.1 §2.3.1, §7.5): absolute, `https` (or `http` on a
/// loopback host, for development and native apps), no fragment, no user information.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.is_empty() || uri.len() > MAX_URI_CHARS {
        return Err(format!(
            "A redirect URI must have 1 to {MAX_URI_CHARS} characters."
        ));
    }
    let parsed = url::Url::parse(uri).map_err(|_| format!("{uri} is not an absolute URL."))?;
    if parsed.fragment().is_some() {
        return Err(format!("{uri} must not have a fragment (#…)."));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("{uri} must not carry a user name or password."));
    }
    let loopback = crate::server::security::is_loopback_url(&parsed);
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!(
            "{uri} must use https (http is allowed for localhost and loopback addresses only)."
        )),
        _ => Err(format!("{uri} must be an https URL.")),
    }
}

fn check(registration: &Registration<'_>) -> Result<(), AppError> {
    let name = registration.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::field(
            "name",
            format!("Enter a name of 1 to {MAX_NAME_CHARS} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::field("name", "The name must be plain text."));
    }
    if registration.redirect_uris.is_empty() {
        return Err(AppError::field(
            "redirect_uris",
            "Enter at least one redirect URI.",
        ));
    }
    for (field, list) in [
        ("redirect_uris", registration.redirect_uris),
        (
            "post_logout_redirect_uris",
            registration.post_logout_redirect_uris,
        ),
    ] {
        if list.len() > MAX_URIS {
            return Err(AppError::field(
                field,
                format!("Enter at most {MAX_URIS} URIs."),
            ));
        }
        for uri in list {
            check_redirect_uri(uri).map_err(|message| AppError::field(field, message))?;
        }
    }
    Ok(())
}

fn new_client_id() -> String {
    // 128 random bits are plenty for a public identifier.
    new_secret()[..22].to_string()
}

/// Registers an app. A confidential app's secret is returned once and stored as a digest;
/// `reveal_to` (an admin's user id) also keeps it sealed for that admin's page to show once.
pub async fn add(
    state: &AppState,
    registration: &Registration<'_>,
    reveal_to: Option<i64>,
) -> Result<Added, AppError> {
    check(registration)?;
    let client_id = new_client_id();
    let secret = (!registration.public).then(new_secret);
    let digest = secret.as_deref().map(secret_digest);
    let sealed = match (&secret, reveal_to) {
        (Some(secret), Some(admin)) => Some(seal_text(
            &state.factor_key,
            &reveal_label(&client_id),
            admin,
            secret,
        )),
        _ => None,
    };
    let joined = |list: &[String]| {
        let mut unique: Vec<&str> = Vec::new();
        for uri in list {
            if !unique.contains(&uri.as_str()) {
                unique.push(uri);
            }
        }
        unique.join("\n")
    };
    let mut conn = state.db.acquire().await?;
    store::insert_client(
        &mut conn,
        &NewClient {
            id: &client_id,
            name: registration.name.trim(),
            secret_digest: digest.as_deref(),
            secret_reveal: sealed.as_deref(),
            redirect_uris: &joined(registration.redirect_uris),
            post_logout_redirect_uris: &joined(registration.post_logout_redirect_uris),
            now: state.now(),
        },
    )
    .await?;
    Ok(Added {
        client_id,
        client_secret: secret,
    })
}

fn reveal_label(client_id: &str) -> String {
    format!("oidc-client-secret:{client_id}")
}

/// The new secret of an app, once, for the admin who added it (their page right after).
pub async fn take_new_secret(
    state: &AppState,
    client_id: &str,
    admin: i64,
) -> Result<Option<String>, AppError> {
    let mut conn = state.db.acquire().await?;
    let Some(sealed) = store::take_secret_reveal(&mut conn, client_id).await? else {
        return Ok(None);
    };
    Ok(open_text(
        &state.factor_key,
        &reveal_label(client_id),
        admin,
        &sealed,
    ))
}

pub async fn list(state: &AppState) -> Result<Vec<ClientView>, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(store::clients(&mut conn)
        .await?
        .iter()
        .map(ClientView::from)
        .collect())
}

pub async fn find(state: &AppState, client_id: &str) -> Result<Option<ClientRow>, AppError> {
    if client_id.is_empty() || client_id.len() > 100 {
        return Ok(None);
    }
    let mut conn = state.db.acquire().await?;
    Ok(store::client(&mut conn, client_id).await?)
}

/// Removes an app; its consents, grants and tokens end with it. Its name, if it existed.
pub async fn remove(state: &AppState, client_id: &str) -> Result<Option<String>, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(store::delete_client(&mut conn, client_id).await?)
}

/// An admin added an app (the audit trail).
pub fn audit_added(state: &AppState, admin: &CurrentUser, client: &Client, id: &str, name: &str) {
    state.audit.record(
        Event::new(EventKind::AppRegistered)
            .actor(admin.user_id)
            .client(client)
            .session(&admin.session_id)
            .detail("client_id", id.to_string())
            .detail("app", name.to_string()),
    );
}

/// An admin removed an app (the audit trail).
pub fn audit_removed(state: &AppState, admin: &CurrentUser, client: &Client, id: &str, name: &str) {
    state.audit.record(
        Event::new(EventKind::AppUnregistered)
            .actor(admin.user_id)
            .client(client)
            .session(&admin.session_id)
            .detail("client_id", id.to_string())
            .detail("app", name.to_string()),
    );
}

/// Why a caller is not an authenticated client (RFC 6749 §5.2).
#[derive(Debug, PartialEq, Eq)]
pub enum ClientAuthError {
    /// Two ways at once, or none at all: `invalid_request`.
    Malformed(&'static str),
    /// Unknown client, wrong secret, or a secret the client must (not) have: `invalid_client`.
    Failed,
}

/// The client calling the token, revocation or introspection endpoint: `client_secret_basic`
/// (the `Authorization` header), `client_secret_post` (`client_id` and `client_secret` in the
/// body) or `none` (a public client's `client_id` alone).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &std::collections::HashMap<String, String>,
) -> Result<Result<ClientRow, ClientAuthError>, AppError> {
    let basic = match headers.get(http::header::AUTHORIZATION) {
        Some(value) => match basic_credentials(value.to_str().unwrap_or_default()) {
            Some(pair) => Some(pair),
            None => return Ok(Err(ClientAuthError::Failed)),
        },
        None => None,
    };
    // An empty secret is no secret (some libraries send one for public clients).
    let posted_secret = form.get("client_secret").filter(|s| !s.is_empty());
    let (client_id, secret) = match (basic, posted_secret) {
        (Some(_), Some(_)) => {
            return Ok(Err(ClientAuthError::Malformed(
                "Use one way to authenticate the client, not two.",
            )))
        }
        (Some((id, secret)), None) => {
            if form.get("client_id").is_some_and(|posted| *posted != id) {
                return Ok(Err(ClientAuthError::Failed));
            }
            (id, (!secret.is_empty()).then_some(secret))
        }
        (None, secret) => match form.get("client_id") {
            Some(id) => (id.clone(), secret.cloned()),
            None => {
                return Ok(Err(ClientAuthError::Malformed(
                    "The client must say who it is (client_id).",
                )))
            }
        },
    };
    let Some(client) = find(state, &client_id).await? else {
        return Ok(Err(ClientAuthError::Failed));
    };
    let good = match (&client.secret_digest, secret) {
        (Some(digest), Some(secret)) => {
            constant_time_eq(digest.as_bytes(), secret_digest(&secret).as_bytes())
        }
        (None, None) => true,
        _ => false,
    };
    Ok(if good {
        Ok(client)
    } else {
        Err(ClientAuthError::Failed)
    })
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |part: &str| {
        let plus = part.replace('+', "%20");
        serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={plus}"))
            .ok()
            .and_then(|mut pairs| pairs.pop())
            .map(|(_, value)| value)
    };
    Some((unescape(id)?, unescape(secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_https_or_loopback() {
        assert!(check_redirect_uri("https://app.example/cb").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:8000/cb").is_ok());
        assert!(check_redirect_uri("http://localhost:8000/cb?x=1").is_ok());
        assert!(check_redirect_uri("http://[::1]/cb").is_ok());
        assert!(check_redirect_uri("http://app.example/cb").is_err());
        assert!(check_redirect_uri("http://10.0.0.1/cb").is_err());
        assert!(check_redirect_uri("https://app.example/cb#frag").is_err());
        assert!(check_redirect_uri("https://user:pw@app.example/cb").is_err());
        assert!(check_redirect_uri("javascript:alert(1)").is_err());
        assert!(check_redirect_uri("/relative").is_err());
    }

    #[test]
    fn basic_credentials_are_url_decoded() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my%20app:s%3Acret+x")
        );
        assert_eq!(
            basic_credentials(&header),
            Some(("my app".to_string(), "s:cret x".to_string()))
        );
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
    }
}
