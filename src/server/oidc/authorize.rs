//! The authorization endpoint's rules (OpenID Connect Core §3.1.2, OAuth 2.1 §4.1): which
//! requests are answered with an error page, which are sent back with an error, and when the
//! person must log in or consent before the app gets a code.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::domain::AppError;
use crate::server::accounts::audit::{Event, EventKind};
use crate::server::oidc::clients;
use crate::server::security::constant_time_eq;
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::security::tokens::{new_secret, secret_digest};
use crate::server::startup::state::AppState;
use crate::server::store::oidc::{self as store, ClientRow, NewCode, NewGrant};
use crate::server::store::sessions as session_store;

/// The scopes Gatehouse knows, in the order pages list them.
pub const SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
/// How long a code lives (SPEC §8).
pub const CODE_SECS: i64 = 60;
/// The longest `state` or `nonce` accepted: they come back in addresses.
const MAX_PARAM_CHARS: usize = 512;
/// Our own parameter: the person was sent to log in (again) for this request at this time
/// (`prompt=login`, `max_age`), and a login since then satisfies it. Signed with a key from
/// `JWT_SECRET` over the time and the app (`marker`): nobody can add one to skip a login the
/// app asked for. Good for `MARKER_SECS`.
pub const AUTH_AFTER: &str = "auth_after";
const MARKER_SECS: i64 = 600;
/// Nodes' clocks may differ this much: a login a node dates a little before the marker
/// another node wrote still counts (`max_age=0` would otherwise send the person round).
const CLOCK_SKEW_SECS: i64 = 5;

/// What the endpoint was asked, once the app and its redirect URI are known to be registered.
#[derive(Clone, Debug)]
pub struct Request {
    pub client: ClientRow,
    pub redirect_uri: String,
    /// Known scopes only, in `SCOPES` order; `openid` is always one of them.
    pub scopes: Vec<&'static str>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub prompt_none: bool,
    pub prompt_login: bool,
    pub prompt_consent: bool,
    pub max_age: Option<i64>,
    pub auth_after: Option<i64>,
}

/// Why a request gets no code.
#[derive(Debug)]
pub enum Refusal {
    /// The app or its redirect URI is not registered: an error page (HTTP 400), never a
    /// redirect (OAuth 2.1 §4.1.2.1).
    Page(String),
    /// Sent back to the app's redirect URI as `error`.
    Redirect(String),
}

/// What the endpoint does next with a valid request.
#[derive(Debug)]
pub enum Next {
    /// The person logs in (again) first: the login page's address.
    LogIn(String),
    /// The person decides on the consent page: its address.
    Consent(String),
    /// Back to the app: the redirect URI with a code or an error.
    ToApp(String),
}

fn oauth_error(issuer: &str, request: &Request, error: &str, description: &str) -> String {
    redirect_with(
        &request.redirect_uri,
        &[
            ("error", error),
            ("error_description", description),
            ("state", request.state.as_deref().unwrap_or_default()),
            ("iss", issuer),
        ],
    )
}

/// `name=value` pairs, each name at most once (RFC 6749 §3.1): `None` when one repeats or the
/// encoding is broken. Every endpoint and the consent page read requests with it.
pub fn single_params(encoded: &str) -> Option<HashMap<String, String>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(encoded).ok()?;
    let mut params = HashMap::new();
    for (name, value) in pairs {
        if params.insert(name, value).is_some() {
            return None;
        }
    }
    Some(params)
}

/// `uri` with `params` (empty values left out) added to its query.
pub fn redirect_with(uri: &str, params: &[(&str, &str)]) -> String {
    let Ok(mut url) = url::Url::parse(uri) else {
        return uri.to_string();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
    }
    url.to_string()
}

/// Checks a request. The app and its redirect URI come first: until both are known, nothing
/// may be sent anywhere.
pub async fn check(state: &AppState, params: &HashMap<String, String>) -> Result<Request, Refusal> {
    let param = |name: &str| params.get(name).map(String::as_str);
    let Some(client_id) = param("client_id").filter(|id| !id.is_empty()) else {
        return Err(Refusal::Page(
            "The app did not say who it is (client_id is missing).".into(),
        ));
    };
    let client = match clients::find(state, client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            return Err(Refusal::Page(
                "This app is not registered with Gatehouse.".into(),
            ))
        }
        Err(_) => {
            return Err(Refusal::Page(
                "Gatehouse cannot check this app right now. Please try again.".into(),
            ))
        }
    };
    let Some(redirect_uri) = param("redirect_uri") else {
        return Err(Refusal::Page(
            "The app did not say where to send you back (redirect_uri is missing).".into(),
        ));
    };
    if !clients::uris(&client.redirect_uris)
        .iter()
        .any(|registered| registered == redirect_uri)
    {
        return Err(Refusal::Page(
            "The app asked to send you back to an address it has not registered.".into(),
        ));
    }
    let mut request = Request {
        redirect_uri: redirect_uri.to_string(),
        client,
        scopes: Vec::new(),
        state: param("state").map(str::to_string),
        nonce: None,
        code_challenge: String::new(),
        prompt_none: false,
        prompt_login: false,
        prompt_consent: false,
        max_age: None,
        auth_after: None,
    };
    let issuer = state.config.public_url.origin.clone();
    let refuse = |request: &Request, error: &str, description: &str| {
        Err(Refusal::Redirect(oauth_error(
            &issuer,
            request,
            error,
            description,
        )))
    };
    if request
        .state
        .as_ref()
        .is_some_and(|s| s.len() > MAX_PARAM_CHARS)
    {
        request.state = None;
        return refuse(&request, "invalid_request", "state is too long.");
    }
    if param("request").is_some() {
        return refuse(
            &request,
            "request_not_supported",
            "Request objects are not supported.",
        );
    }
    if param("request_uri").is_some() {
        return refuse(
            &request,
            "request_uri_not_supported",
            "request_uri is not supported.",
        );
    }
    match param("response_type") {
        Some("code") => {}
        None => return refuse(&request, "invalid_request", "response_type is missing."),
        Some(_) => {
            return refuse(
                &request,
                "unsupported_response_type",
                "Only the authorization code flow (response_type=code) is supported.",
            )
        }
    }
    if param("response_mode").is_some_and(|mode| mode != "query") {
        return refuse(
            &request,
            "invalid_request",
            "Only response_mode=query is supported.",
        );
    }
    let asked: Vec<&str> = param("scope").unwrap_or_default().split(' ').collect();
    if !asked.contains(&"openid") {
        return refuse(&request, "invalid_scope", "The openid scope is required.");
    }
    request.scopes = SCOPES
        .into_iter()
        .filter(|scope| asked.contains(scope))
        .collect();
    match (param("code_challenge"), param("code_challenge_method")) {
        (Some(challenge), Some("S256")) if is_challenge(challenge) => {
            request.code_challenge = challenge.to_string();
        }
        (Some(_), Some("S256")) => {
            return refuse(
                &request,
                "invalid_request",
                "code_challenge must be 43 base64url characters (SHA-256).",
            )
        }
        (None, _) => {
            return refuse(
                &request,
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256.",
            )
        }
        (Some(_), _) => {
            return refuse(
                &request,
                "invalid_request",
                "Only code_challenge_method=S256 is supported.",
            )
        }
    }
    if let Some(nonce) = param("nonce") {
        if nonce.len() > MAX_PARAM_CHARS {
            return refuse(&request, "invalid_request", "nonce is too long.");
        }
        request.nonce = Some(nonce.to_string());
    }
    for value in param("prompt").unwrap_or_default().split(' ') {
        match value {
            "" | "select_account" => {}
            "none" => request.prompt_none = true,
            "login" => request.prompt_login = true,
            "consent" => request.prompt_consent = true,
            _ => return refuse(&request, "invalid_request", "Unknown prompt value."),
        }
    }
    if request.prompt_none && (request.prompt_login || request.prompt_consent) {
        return refuse(
            &request,
            "invalid_request",
            "prompt=none cannot be combined with other values.",
        );
    }
    if let Some(raw) = param("max_age") {
        match raw.parse::<i64>() {
            Ok(seconds) if seconds >= 0 => request.max_age = Some(seconds),
            _ => {
                return refuse(
                    &request,
                    "invalid_request",
                    "max_age must be a number of seconds.",
                )
            }
        }
    }
    request.auth_after = param(AUTH_AFTER)
        .and_then(|raw| marker_time(state, &request.client.id, raw))
        .filter(|at| state.now() - at <= MARKER_SECS);
    Ok(request)
}

/// A PKCE S256 challenge: base64url of 32 bytes (RFC 7636 §4.2).
fn is_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `verifier` answers `challenge` (S256).
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    use base64::Engine as _;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed
        && base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()))
            == challenge
}

fn marker_signature(state: &AppState, client_id: &str, at: i64) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(state.config.jwt_secret.expose())
        .expect("HMAC takes any key length");
    mac.update(format!("gatehouse-oidc-auth-after\0{client_id}\0{at}").as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// `auth_after`'s value: the time and its signature.
fn marker(state: &AppState, client_id: &str, at: i64) -> String {
    format!("{at}.{}", marker_signature(state, client_id, at))
}

/// The time of a marker this server signed for this app.
fn marker_time(state: &AppState, client_id: &str, raw: &str) -> Option<i64> {
    let (at, signature) = raw.split_once('.')?;
    let at: i64 = at.parse().ok()?;
    let expected = marker_signature(state, client_id, at);
    constant_time_eq(expected.as_bytes(), signature.as_bytes()).then_some(at)
}

/// Whether the person must log in (again) for this request: `prompt=login`, or a login older
/// than `max_age`, unless they logged in since they were sent to for it.
fn needs_fresh_login(request: &Request, auth_time: i64, now: i64) -> bool {
    let since_sent = request
        .auth_after
        .is_some_and(|after| auth_time >= after - CLOCK_SKEW_SECS);
    let too_old = request
        .max_age
        .is_some_and(|max_age| now - auth_time > max_age);
    !since_sent && (request.prompt_login || too_old)
}

/// The login page for this request when the person must log in (again) before it goes on.
pub async fn fresh_login_needed(
    state: &AppState,
    request: &Request,
    params: &HashMap<String, String>,
    current: &CurrentUser,
) -> Result<Option<String>, AppError> {
    let now = state.now();
    let fresh = match login_of(state, &current.session_id).await? {
        Some((auth_time, _)) => !needs_fresh_login(request, auth_time, now),
        None => false,
    };
    Ok((!fresh).then(|| {
        login_address(&format!(
            "/oauth/authorize?{}",
            after_login(state, request, params, now)
        ))
    }))
}

/// The query of `original` without `prompt=login` and with a new `auth_after`: where the
/// person comes back after logging in (again).
fn after_login(
    state: &AppState,
    request: &Request,
    original: &HashMap<String, String>,
    now: i64,
) -> String {
    let mut pairs: Vec<(&str, String)> = original
        .iter()
        .filter(|(name, _)| name.as_str() != AUTH_AFTER)
        .filter_map(|(name, value)| {
            if name != "prompt" {
                return Some((name.as_str(), value.clone()));
            }
            let kept: Vec<&str> = value.split(' ').filter(|v| *v != "login").collect();
            let kept = kept.join(" ");
            (!kept.trim().is_empty()).then_some((name.as_str(), kept))
        })
        .collect();
    pairs.sort();
    pairs.push((AUTH_AFTER, marker(state, &request.client.id, now)));
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// The login page's address, coming back to this request.
fn login_address(next: &str) -> String {
    let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    format!("/login?{query}")
}

/// Decides what happens to a valid request for whoever is logged in.
pub async fn decide(
    state: &AppState,
    request: &Request,
    params: &HashMap<String, String>,
    current: Option<&CurrentUser>,
) -> Result<Next, AppError> {
    let issuer = state.config.public_url.origin.as_str();
    let now = state.now();
    let Some(current) = current else {
        if request.prompt_none {
            return Ok(Next::ToApp(oauth_error(
                issuer,
                request,
                "login_required",
                "The person is not logged in.",
            )));
        }
        return Ok(Next::LogIn(login_address(&format!(
            "/oauth/authorize?{}",
            after_login(state, request, params, now)
        ))));
    };
    if let Some(login) = fresh_login_needed(state, request, params, current).await? {
        if request.prompt_none {
            return Ok(Next::ToApp(oauth_error(
                issuer,
                request,
                "login_required",
                "The person must log in again.",
            )));
        }
        return Ok(Next::LogIn(login));
    }
    let allowed = {
        let mut conn = state.db.acquire().await?;
        store::consent(&mut conn, current.user_id, &request.client.id).await?
    };
    let covered = allowed.as_deref().is_some_and(|allowed| {
        let allowed: Vec<&str> = allowed.split(' ').collect();
        request.scopes.iter().all(|scope| allowed.contains(scope))
    });
    if !covered || request.prompt_consent {
        if request.prompt_none {
            return Ok(Next::ToApp(oauth_error(
                issuer,
                request,
                "consent_required",
                "The person has not allowed this app yet.",
            )));
        }
        let query = serde_urlencoded::to_string(
            params.iter().collect::<std::collections::BTreeMap<_, _>>(),
        )
        .unwrap_or_default();
        return Ok(Next::Consent(format!("/consent?{query}")));
    }
    issue_code(state, request, current).await.map(Next::ToApp)
}

/// When and how the session's person logged in: `auth_time` and their `amr` values (none
/// when the session has just ended).
async fn login_of(state: &AppState, session_id: &str) -> Result<Option<(i64, String)>, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(session_store::login_of(&mut conn, session_id).await?)
}

/// The person allowed the app: the consent is remembered and the app gets a code.
pub async fn allow(
    state: &AppState,
    request: &Request,
    current: &CurrentUser,
    client: &Client,
) -> Result<String, AppError> {
    let scopes = request.scopes.join(" ");
    {
        let mut conn = state.db.acquire().await?;
        // What was allowed before stays allowed (older grants may hold it): the union.
        let before = store::consent(&mut conn, current.user_id, &request.client.id).await?;
        let before = before.unwrap_or_default();
        let allowed: Vec<&str> = SCOPES
            .into_iter()
            .filter(|scope| {
                request.scopes.contains(scope) || before.split(' ').any(|s| s == *scope)
            })
            .collect();
        store::save_consent(
            &mut conn,
            current.user_id,
            &request.client.id,
            &allowed.join(" "),
            state.now(),
        )
        .await?;
    }
    state.audit.record(
        Event::new(EventKind::AppAllowed)
            .by(current.user_id)
            .client(client)
            .session(&current.session_id)
            .detail("client_id", request.client.id.clone())
            .detail("app", request.client.name.clone())
            .detail("scopes", scopes),
    );
    issue_code(state, request, current).await
}

/// The person refused: back to the app with `access_denied`.
pub fn deny(state: &AppState, request: &Request) -> String {
    oauth_error(
        &state.config.public_url.origin,
        request,
        "access_denied",
        "The person did not allow the app.",
    )
}

/// A grant and its code; the app's redirect URI with the code, `state` and `iss`.
async fn issue_code(
    state: &AppState,
    request: &Request,
    current: &CurrentUser,
) -> Result<String, AppError> {
    let (auth_time, amr) = login_of(state, &current.session_id)
        .await?
        .ok_or_else(AppError::unauthenticated)?;
    let now = state.now();
    let code = new_secret();
    let grant_id = uuid::Uuid::new_v4().simple().to_string();
    let lifetime = if request.scopes.contains(&"offline_access") {
        state.config.sessions.refresh_ttl
    } else {
        state.config.sessions.access_ttl
    };
    let scopes = request.scopes.join(" ");
    let mut tx = state.db.begin().await?;
    store::insert_grant_with_code(
        &mut tx,
        &NewGrant {
            id: &grant_id,
            client_id: &request.client.id,
            user_id: current.user_id,
            scopes: &scopes,
            auth_time,
            amr: &amr,
            now,
            // The code is exchanged within a minute; the grant lasts as long as its tokens.
            expires_at: now + CODE_SECS + lifetime.as_secs() as i64,
        },
        &NewCode {
            digest: &secret_digest(&code),
            redirect_uri: &request.redirect_uri,
            code_challenge: &request.code_challenge,
            nonce: request.nonce.as_deref(),
            expires_at: now + CODE_SECS,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(redirect_with(
        &request.redirect_uri,
        &[
            ("code", code.as_str()),
            ("state", request.state.as_deref().unwrap_or_default()),
            ("iss", &state.config.public_url.origin),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_verifier_matches_its_challenge_only() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_challenge(challenge));
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches(challenge, challenge));
        assert!(!verifier_matches("short", challenge));
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(single_params("a=1&b=2").is_some());
        assert!(single_params("a=1&a=2").is_none());
        assert_eq!(single_params("").unwrap().len(), 0);
    }

    #[test]
    fn redirects_keep_the_registered_query() {
        assert_eq!(
            redirect_with(
                "https://app.example/cb?x=1",
                &[("code", "a b"), ("state", "")]
            ),
            "https://app.example/cb?x=1&code=a+b"
        );
    }
}
