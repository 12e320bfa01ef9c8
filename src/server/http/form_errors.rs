//! Errors of plain (no-JavaScript) form posts, without the typed values in the address.
//!
//! Leptos answers a failed plain post with a redirect back to the form whose address carries
//! the whole error (`?__path=…&__err=<base64 JSON>`), typed values included: an email typed
//! into a login form would end up in the browser's history and in proxy logs, and each
//! failure appended another copy. Here the redirect keeps only the message and the field
//! problems, once; the typed values ride in a short-lived HttpOnly cookie (`cookies::AuthCookies::set_form_values`) and are put back into
//! the error when the form page is rendered, so the form still shows what was typed.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use http::header::{CONTENT_TYPE, LOCATION, REFERER};
use http::{HeaderValue, Method, Uri};
use tower_cookies::Cookies;

use crate::domain::{AppError, ErrorKind, PAGE_FIELD};
use crate::server::http::error::{respond, Audience};
use crate::server::startup::state::AppState;

const ERR: &str = "__err";
const PATH: &str = "__path";

fn decode_error(encoded: &str) -> Option<AppError> {
    let bytes = URL_SAFE.decode(encoded).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn encode_error(err: &AppError) -> Option<String> {
    serde_json::to_vec(err)
        .ok()
        .map(|json| URL_SAFE.encode(json))
}

/// Splits a query into its pairs, with the last `__path` and `__err` taken out.
fn split_query(query: &str) -> (Vec<(String, String)>, Option<String>, Option<String>) {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let (mut path, mut err) = (None, None);
    let mut rest = Vec::new();
    for (key, value) in pairs {
        match key.as_str() {
            PATH => path = Some(value),
            ERR => err = Some(value),
            _ => rest.push((key, value)),
        }
    }
    (rest, path, err)
}

fn join_query(pairs: &[(String, String)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// `(address without query, query)` of a Location, absolute or not.
fn split_location(location: &str) -> (&str, &str) {
    let without_fragment = location.split('#').next().unwrap_or(location);
    without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""))
}

/// The Location with the error's typed values removed, and the values.
fn strip_values(location: &str) -> Option<(String, String)> {
    let (base, query) = split_location(location);
    let (mut pairs, path, err) = split_query(query);
    let (path, err) = (path?, err?);
    let mut error = decode_error(&err)?;
    let values = std::mem::take(&mut error.values);
    pairs.push((PATH.to_string(), path));
    pairs.push((ERR.to_string(), encode_error(&error)?));
    let values = if values.is_empty() {
        String::new()
    } else {
        URL_SAFE.encode(serde_json::to_vec(&values).ok()?)
    };
    Some((format!("{base}?{}", join_query(&pairs)), values))
}

/// The request's query with the typed values from the cookie put back into its error.
fn restore_values(uri: &Uri, cookie_value: &str) -> Option<Uri> {
    let (mut pairs, path, err) = split_query(uri.query()?);
    let (path, err) = (path?, err?);
    let mut error = decode_error(&err)?;
    let bytes = URL_SAFE.decode(cookie_value).ok()?;
    error.values = serde_json::from_slice(&bytes).ok()?;
    pairs.push((PATH.to_string(), path));
    pairs.push((ERR.to_string(), encode_error(&error)?));
    format!("{}?{}", uri.path(), join_query(&pairs))
        .parse()
        .ok()
}

/// A plain form post without a `Referer` (the token pages send `Referrer-Policy: no-referrer`,
/// and a browser may be set to send none): the page the form names (`__page`, written by
/// `components::form::PageField`) becomes its referrer, so a refusal is answered on that
/// page rather than on the home page. Only a path of this site is taken, and only after the
/// CSRF check has passed the request on its own headers (this layer runs inside it).
pub async fn form_names_its_page(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let is_form_post = request.method() == Method::POST
        && !request.headers().contains_key(REFERER)
        && request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form_post {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, state.config.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let err = AppError::new(ErrorKind::PayloadTooLarge, "The request body is too large.");
            return respond(err, Audience::of(parts.uri.path(), &parts.headers));
        }
    };
    let page = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .unwrap_or_default()
        .into_iter()
        .find(|(name, _)| name == PAGE_FIELD)
        .map(|(_, page)| page)
        .filter(|page| page.starts_with('/') && !page.starts_with("//") && !page.contains('\\'));
    if let Some(page) = page {
        let referer = format!("{}{page}", state.config.public_url.origin);
        if let Ok(value) = HeaderValue::from_str(&referer) {
            parts.headers.insert(REFERER, value);
        }
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

pub async fn keep_values_out_of_addresses(
    State(state): State<AppState>,
    jar: Cookies,
    mut request: Request,
    next: Next,
) -> Response {
    let is_post = request.method() == Method::POST;
    let mut restored = false;
    if request.method() == Method::GET {
        if let Some(values) = state.cookies.form_values(&jar) {
            if let Some(uri) = restore_values(request.uri(), &values) {
                *request.uri_mut() = uri;
                restored = true;
            }
        }
    }
    let mut response = next.run(request).await;
    if is_post && response.status().is_redirection() {
        let stripped = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .filter(|location| location.contains("__err="))
            .and_then(strip_values);
        if let Some((location, values)) = stripped {
            if let Ok(location) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(LOCATION, location);
            }
            if !values.is_empty() {
                state.cookies.set_form_values(&jar, values);
            }
        }
    } else if restored {
        state.cookies.clear_form_values(&jar);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorKind;

    fn error_with_email() -> AppError {
        let mut err = AppError::new(ErrorKind::Unauthenticated, "Invalid email or password.");
        err.values.insert("email".into(), "ada@example.com".into());
        err
    }

    #[test]
    fn the_address_keeps_the_message_but_not_the_values_and_never_grows() {
        let encoded = encode_error(&error_with_email()).unwrap();
        // A second failure: leptos appends to an address that already has an error.
        let location = format!(
            "http://x/login?next=%2Fprojects&__path=%2Fapi%2Flogin&__err={encoded}&__path=%2Fapi%2Flogin&__err={encoded}"
        );
        let (stripped, values) = strip_values(&location).unwrap();
        assert_eq!(stripped.matches("__err=").count(), 1, "{stripped}");
        assert_eq!(stripped.matches("__path=").count(), 1, "{stripped}");
        assert!(stripped.contains("next=%2Fprojects"));
        let (_, query) = split_location(&stripped);
        let (_, _, err) = split_query(query);
        let error = decode_error(&err.unwrap()).unwrap();
        assert_eq!(error.message, "Invalid email or password.");
        assert!(error.values.is_empty());
        assert!(!stripped.contains("ada"));

        let uri: Uri = stripped.trim_start_matches("http://x").parse().unwrap();
        let restored = restore_values(&uri, &values).unwrap();
        let (_, _, err) = split_query(restored.query().unwrap());
        let error = decode_error(&err.unwrap()).unwrap();
        assert_eq!(error.values["email"], "ada@example.com");
        assert_eq!(restored.path(), "/login");
    }
}
