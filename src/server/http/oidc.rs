//! The OpenID Provider's endpoints (SPEC §8): discovery, the JWK set, authorization and
//! consent, token, userinfo, revocation, introspection and RP-initiated logout.
//!
//! Token, userinfo, revocation, introspection, discovery and the JWK set take no cookies: apps
//! call them with their own credentials, from servers or (public clients) from browsers, so
//! they answer any origin (`Access-Control-Allow-Origin: *`) and are not subject to the
//! same-site check of cookie requests (`guards::csrf_guard` skips `COOKIELESS`).

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Value};
use tower_cookies::Cookies;

use crate::server::http::error::escape_html;
use crate::server::oidc::authorize::{self, single_params, Next, Refusal};
use crate::server::oidc::clients::{self, ClientAuthError};
use crate::server::oidc::tokens::{self, OAuthError};
use crate::server::security::principal::{Authentication, Client};
use crate::server::sessions::{self, EndReason};
use crate::server::startup::state::AppState;

pub const AUTHORIZE: &str = "/oauth/authorize";
pub const CONSENT: &str = "/oauth/consent";
pub const TOKEN: &str = "/oauth/token";
pub const USERINFO: &str = "/oauth/userinfo";
pub const JWKS: &str = "/oauth/jwks";
pub const REVOKE: &str = "/oauth/revoke";
pub const INTROSPECT: &str = "/oauth/introspect";
pub const LOGOUT: &str = "/oauth/logout";
pub const DISCOVERY: &str = "/.well-known/openid-configuration";

/// Endpoints apps call with their own credentials, never with a person's cookies.
pub const COOKIELESS: [&str; 4] = [TOKEN, USERINFO, REVOKE, INTROSPECT];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(DISCOVERY, get(discovery).options(preflight))
        .route(JWKS, get(jwks).options(preflight))
        .route(AUTHORIZE, get(authorize_endpoint).post(authorize_posted))
        .route(CONSENT, post(consent))
        .route(TOKEN, post(token).options(preflight))
        .route(
            USERINFO,
            get(userinfo).post(userinfo_post).options(preflight),
        )
        .route(REVOKE, post(revoke).options(preflight))
        .route(INTROSPECT, post(introspect).options(preflight))
        .route(LOGOUT, get(logout).post(logout_confirmed))
}

fn cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    headers.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type"),
    );
    response
}

fn json_answer(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    cors(response)
}

fn oauth_error(err: OAuthError) -> Response {
    let status = err.status;
    let mut response = json_answer(
        status,
        json!({ "error": err.error, "error_description": err.description }),
    );
    if err.error == "invalid_client" {
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"gatehouse\""),
        );
    }
    response
}

/// A page of its own for what cannot go back to the app (unknown app or redirect URI).
fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Cannot log in to this app - Gatehouse</title></head><body><main>\
         <h1>Cannot log in to this app</h1><p role=\"alert\">{}</p>\
         <p><a href=\"/\">Go to Gatehouse</a></p></main></body></html>",
        escape_html(message)
    );
    let mut response = (status, axum::response::Html(body)).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Back to the app. A request that started on this site (a form's answer, or a redirect
/// after one) gets a page that moves on by itself: browsers apply a page's `form-action` to
/// every redirect that follows a form, and this site's allows only itself. Anything else (the
/// app's own link) gets a plain redirect.
fn to_app(headers: &HeaderMap, url: &str) -> Response {
    let from_here = headers
        .get("sec-fetch-site")
        .is_some_and(|site| site == "same-origin");
    if from_here {
        hand_back(url)
    } else {
        found(url)
    }
}

/// `302 Found`, the redirect OAuth's examples use (RFC 6749 §4.1.2; OAuth 2.1 allows any but
/// 307, which would repeat a POST's body).
fn found(url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(location) => (StatusCode::FOUND, [(http::header::LOCATION, location)]).into_response(),
        Err(_) => error_page(StatusCode::BAD_REQUEST, "The app's address cannot be used."),
    }
}

fn hand_back(url: &str) -> Response {
    let url = escape_html(url);
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0;url={url}\">\
         <title>Returning to the app - Gatehouse</title></head><body><main>\
         <h1>Returning to the app</h1><p><a href=\"{url}\">Continue</a></p>\
         </main></body></html>"
    );
    let mut response = axum::response::Html(body).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn discovery(State(state): State<AppState>) -> Response {
    let issuer = state.config.public_url.origin.as_str();
    let at = |path: &str| format!("{issuer}{path}");
    json_answer(
        StatusCode::OK,
        json!({
            "issuer": issuer,
            "authorization_endpoint": at(AUTHORIZE),
            "token_endpoint": at(TOKEN),
            "userinfo_endpoint": at(USERINFO),
            "jwks_uri": at(JWKS),
            "revocation_endpoint": at(REVOKE),
            "introspection_endpoint": at(INTROSPECT),
            "end_session_endpoint": at(LOGOUT),
            "scopes_supported": authorize::SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "prompt_values_supported": ["none", "login", "consent"],
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp",
                "at_hash", "email", "email_verified", "preferred_username", "name"
            ],
            "authorization_response_iss_parameter_supported": true,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "claims_parameter_supported": false,
        }),
    )
}

async fn jwks(State(state): State<AppState>) -> Response {
    // Sent `no-store` like every answer here: relying parties fetch it again when a token names
    // a `kid` they do not know (a rotation signs with the new key at once).
    cors(axum::Json(state.oidc_keys.jwks(state.now())).into_response())
}

async fn authorize_endpoint(
    State(state): State<AppState>,
    Extension(authentication): Extension<Authentication>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    authorize_request(
        &state,
        &authentication,
        &headers,
        query.as_deref().unwrap_or_default(),
    )
    .await
}

/// The same request sent as a form (OIDC Core §3.1.2.1: GET and POST). Like the GET, it may
/// come from any site: it changes nothing the person has not allowed (`csrf_guard` lets it
/// through).
async fn authorize_posted(
    State(state): State<AppState>,
    Extension(authentication): Extension<Authentication>,
    headers: HeaderMap,
    body: String,
) -> Response {
    authorize_request(&state, &authentication, &headers, &body).await
}

async fn authorize_request(
    state: &AppState,
    authentication: &Authentication,
    headers: &HeaderMap,
    encoded: &str,
) -> Response {
    let state = state.clone();
    let headers = headers.clone();
    let Some(params) = single_params(encoded) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The app's request is malformed (a parameter appears twice).",
        );
    };
    let request = match authorize::check(&state, &params).await {
        Ok(request) => request,
        Err(Refusal::Page(message)) => return error_page(StatusCode::BAD_REQUEST, &message),
        Err(Refusal::Redirect(url)) => return to_app(&headers, &url),
    };
    // A POSTed request goes on as a GET (the login page and the consent page come back to it).
    match authorize::decide(&state, &request, &params, authentication.0.as_ref()).await {
        Ok(Next::LogIn(address) | Next::Consent(address)) => Redirect::to(&address).into_response(),
        Ok(Next::ToApp(url)) => to_app(&headers, &url),
        Err(err) => {
            tracing::warn!(error = %err, "authorization request failed");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Gatehouse cannot finish this request right now. Please try again.",
            )
        }
    }
}

/// The consent page's answer: "Allow" or "Deny" for the request in `query`.
async fn consent(
    State(state): State<AppState>,
    Extension(authentication): Extension<Authentication>,
    headers: HeaderMap,
    client: Client,
    body: String,
) -> Response {
    let form = single_params(&body).unwrap_or_default();
    let query = form.get("query").cloned().unwrap_or_default();
    let Some(params) = single_params(&query) else {
        return error_page(StatusCode::BAD_REQUEST, "The app's request is malformed.");
    };
    let request = match authorize::check(&state, &params).await {
        Ok(request) => request,
        Err(Refusal::Page(message)) => return error_page(StatusCode::BAD_REQUEST, &message),
        Err(Refusal::Redirect(url)) => return to_app(&headers, &url),
    };
    let Some(current) = authentication.0 else {
        return Redirect::to(&format!(
            "/login?{}",
            serde_urlencoded::to_string([("next", format!("{AUTHORIZE}?{query}"))])
                .unwrap_or_default()
        ))
        .into_response();
    };
    // The login the app asked for (prompt=login, max_age) holds here too.
    match authorize::fresh_login_needed(&state, &request, &params, &current).await {
        Ok(None) => {}
        Ok(Some(login)) => return Redirect::to(&login).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "consent failed");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Gatehouse cannot finish this request right now. Please try again.",
            );
        }
    }
    match form.get("decision").map(String::as_str) {
        Some("allow") => match authorize::allow(&state, &request, &current, &client).await {
            Ok(url) => to_app(&headers, &url),
            Err(err) => {
                tracing::warn!(error = %err, "consent failed");
                error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Gatehouse cannot finish this request right now. Please try again.",
                )
            }
        },
        Some("deny") => to_app(&headers, &authorize::deny(&state, &request)),
        _ => error_page(StatusCode::BAD_REQUEST, "Choose Allow or Deny."),
    }
}

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    who: Client,
    body: String,
) -> Response {
    let Some(form) = single_params(&body) else {
        return oauth_error(OAuthError::new(
            "invalid_request",
            "The body must be form-encoded, each parameter once.",
        ));
    };
    let client = match authenticated_client(&state, &headers, &form).await {
        Ok(client) => client,
        Err(answer) => return answer,
    };
    match tokens::exchange(&state, &client, &form, &who).await {
        Ok(answer) => json_answer(StatusCode::OK, answer),
        Err(err) => oauth_error(err),
    }
}

/// The calling client, or the answer that refuses it.
async fn authenticated_client(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<crate::server::store::oidc::ClientRow, Response> {
    match clients::authenticate(state, headers, form).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(ClientAuthError::Malformed(message))) => {
            Err(oauth_error(OAuthError::new("invalid_request", message)))
        }
        Ok(Err(ClientAuthError::Failed)) => Err(oauth_error(OAuthError::new(
            "invalid_client",
            "The client is unknown or its credentials are wrong.",
        ))),
        Err(err) => Err(oauth_error(err.into())),
    }
}

fn bearer_refusal(error: Option<&str>) -> Response {
    let challenge = match error {
        Some(error) => format!("Bearer error=\"{error}\""),
        None => "Bearer".to_string(),
    };
    let mut response = json_answer(
        StatusCode::UNAUTHORIZED,
        json!({
            "error": error.unwrap_or("invalid_request"),
            "error_description": "A valid access token is required.",
        }),
    );
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

async fn answer_userinfo(state: &AppState, token: Option<String>) -> Response {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return bearer_refusal(None);
    };
    match tokens::userinfo(state, &token).await {
        Ok(Some(claims)) => json_answer(StatusCode::OK, claims),
        Ok(None) => bearer_refusal(Some("invalid_token")),
        Err(err) => oauth_error(err.into()),
    }
}

fn bearer_of(headers: &HeaderMap) -> Option<String> {
    crate::server::security::principal::bearer_token(headers).map(str::to_string)
}

async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    answer_userinfo(&state, bearer_of(&headers)).await
}

/// Userinfo by POST: the token in the header or as `access_token` in the body (RFC 6750
/// §2.2).
async fn userinfo_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let posted = single_params(&body).and_then(|form| form.get("access_token").cloned());
    let token = match (bearer_of(&headers), posted) {
        (Some(_), Some(_)) => return bearer_refusal(Some("invalid_request")),
        (header, posted) => header.or(posted),
    };
    answer_userinfo(&state, token).await
}

/// What revocation and introspection are asked: by an authenticated client, about `token`
/// (with an optional `token_type_hint`).
struct TokenQuestion {
    client: crate::server::store::oidc::ClientRow,
    token: String,
    hint: Option<String>,
}

async fn token_question(
    state: &AppState,
    headers: &HeaderMap,
    body: &str,
) -> Result<TokenQuestion, Response> {
    let Some(mut form) = single_params(body) else {
        return Err(oauth_error(OAuthError::new(
            "invalid_request",
            "Malformed body.",
        )));
    };
    let client = authenticated_client(state, headers, &form).await?;
    let Some(token) = form.remove("token") else {
        return Err(oauth_error(OAuthError::new(
            "invalid_request",
            "token is required.",
        )));
    };
    Ok(TokenQuestion {
        client,
        token,
        hint: form.remove("token_type_hint"),
    })
}

async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let asked = match token_question(&state, &headers, &body).await {
        Ok(asked) => asked,
        Err(answer) => return answer,
    };
    match tokens::revoke(&state, &asked.client, &asked.token, asked.hint.as_deref()).await {
        Ok(()) => cors(StatusCode::OK.into_response()),
        Err(err) => oauth_error(err.into()),
    }
}

async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let asked = match token_question(&state, &headers, &body).await {
        Ok(asked) => asked,
        Err(answer) => return answer,
    };
    match tokens::introspect(&state, &asked.client, &asked.token, asked.hint.as_deref()).await {
        Ok(answer) => json_answer(StatusCode::OK, answer),
        Err(err) => oauth_error(err.into()),
    }
}

/// What an RP-initiated logout asks (OpenID Connect RP-Initiated Logout 1.0 §2).
struct LogoutRequest {
    /// The person the app's ID token names, when it sent a good one.
    hinted_sub: Option<String>,
    /// Where to send the person afterwards, with `state`.
    back_to: Option<String>,
}

async fn logout_request(
    state: &AppState,
    params: &HashMap<String, String>,
) -> Result<LogoutRequest, Response> {
    let hint = params.get("id_token_hint").and_then(|token| {
        // An expired ID token still names its person and app.
        state.oidc_keys.verify_ignoring_expiry::<Value>(
            token,
            "JWT",
            &state.config.public_url.origin,
            state.now(),
        )
    });
    let hinted_client = hint
        .as_ref()
        .and_then(|claims| claims["aud"].as_str().map(str::to_string));
    let client_id = match (params.get("client_id"), hinted_client) {
        (Some(asked), Some(hinted)) if *asked != hinted => {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                "The logout request names two different apps.",
            ))
        }
        (Some(asked), _) => Some(asked.clone()),
        (None, hinted) => hinted,
    };
    let back_to = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let client = match &client_id {
                Some(id) => clients::find(state, id).await.ok().flatten(),
                None => None,
            };
            let registered = client.is_some_and(|client| {
                clients::uris(&client.post_logout_redirect_uris).contains(uri)
            });
            if !registered {
                return Err(error_page(
                    StatusCode::BAD_REQUEST,
                    "The app asked to send you to an address it has not registered.",
                ));
            }
            Some(authorize::redirect_with(
                uri,
                &[(
                    "state",
                    params.get("state").map(String::as_str).unwrap_or_default(),
                )],
            ))
        }
    };
    Ok(LogoutRequest {
        hinted_sub: hint.and_then(|claims| claims["sub"].as_str().map(str::to_string)),
        back_to,
    })
}

async fn end_current(state: &AppState, jar: &Cookies, authentication: &Authentication) {
    if let Some(current) = &authentication.0 {
        if let Err(err) = sessions::end(state, &current.session_id, EndReason::Logout).await {
            tracing::warn!(error = %err, "could not end the session at an app's logout");
        }
    }
    state.cookies.clear(jar);
}

/// RP-initiated logout. With the app's ID token for the person logged in here (or nobody
/// logged in), the session ends at once; otherwise the person confirms, so that no other site
/// can log them out with a link.
async fn logout(
    State(state): State<AppState>,
    Extension(authentication): Extension<Authentication>,
    jar: Cookies,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let Some(params) = single_params(&query) else {
        return error_page(StatusCode::BAD_REQUEST, "The logout request is malformed.");
    };
    let request = match logout_request(&state, &params).await {
        Ok(request) => request,
        Err(page) => return page,
    };
    let confirmed = match (&authentication.0, &request.hinted_sub) {
        (None, _) => true,
        (Some(current), Some(sub)) => *sub == current.user_id.to_string(),
        (Some(_), None) => false,
    };
    if !confirmed {
        return confirm_page(&query);
    }
    end_current(&state, &jar, &authentication).await;
    match request.back_to {
        Some(url) => found(&url),
        None => Redirect::to("/login").into_response(),
    }
}

fn confirm_page(query: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Log out - Gatehouse</title></head><body><main><h1>Log out of Gatehouse?</h1>\
         <p>An app asked to log you out.</p>\
         <form method=\"post\" action=\"{LOGOUT}\"><input type=\"hidden\" name=\"query\" \
         value=\"{}\"><button type=\"submit\">Log out</button></form>\
         <p><a href=\"/profile\">Stay logged in</a></p></main></body></html>",
        escape_html(query)
    );
    let mut response = axum::response::Html(body).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The confirmation page's "Log out" (a same-site form: `csrf_guard` checked it).
async fn logout_confirmed(
    State(state): State<AppState>,
    Extension(authentication): Extension<Authentication>,
    headers: HeaderMap,
    jar: Cookies,
    body: String,
) -> Response {
    let form = single_params(&body).unwrap_or_default();
    let query = form.get("query").cloned().unwrap_or_default();
    let Some(params) = single_params(&query) else {
        return error_page(StatusCode::BAD_REQUEST, "The logout request is malformed.");
    };
    let request = match logout_request(&state, &params).await {
        Ok(request) => request,
        Err(page) => return page,
    };
    end_current(&state, &jar, &authentication).await;
    match request.back_to {
        Some(url) => to_app(&headers, &url),
        None => Redirect::to("/login").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::CONTENT_TYPE;

    #[test]
    fn only_same_origin_navigations_get_the_hand_back_page() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            to_app(&headers, "https://app.example/cb?code=x").status(),
            StatusCode::FOUND
        );
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        let page = to_app(&headers, "https://app.example/cb?code=x&state=<s>");
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    }
}
