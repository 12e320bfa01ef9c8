//! Request-level security rules: CSRF origin checks, response headers, and redirects for pages
//! that need (or must not have) a logged-in person.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, COOKIE, ORIGIN, REFERER,
    REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderMap, HeaderValue, Method};

use crate::domain::AppError;
use crate::server::http::error::{respond, Audience};
use crate::server::security::principal::Authentication;
use crate::server::startup::state::AppState;

/// Pages (and everything below them) only members may see; guests are sent to log in and
/// brought back. Every page route in `app.rs` is in exactly one of these three lists; a test
/// checks it against the router.
pub const MEMBER_PAGES: [&str; 7] = [
    "/profile",
    "/sessions",
    "/projects",
    "/activity",
    "/security",
    "/apps",
    "/consent",
];
/// Pages only guests need; members are sent to their profile.
pub const GUEST_PAGES: [&str; 5] = [
    "/login",
    "/login/verify",
    "/register",
    "/forgot-password",
    "/reset-password",
];
/// Pages for administrators; everyone else gets their 404 page (the pages decide, as they
/// load their data).
pub const ADMIN_PAGES: [&str; 1] = ["/admin"];
/// Pages for everyone.
pub const PUBLIC_PAGES: [&str; 2] = ["/", "/verify-email"];
/// Pages whose address carries a secret token (or an app's authorization request): the
/// browser must not pass it on.
const TOKEN_PAGES: [&str; 3] = ["/reset-password", "/verify-email", "/consent"];

pub fn is_member_page(path: &str) -> bool {
    under_any(&MEMBER_PAGES, path)
}

fn under_any(pages: &[&str], path: &str) -> bool {
    pages.iter().any(|page| {
        path == *page
            || path
                .strip_prefix(page)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Built files (`/pkg/…`) and files from `public/`: the same for everyone, so they need no
/// session check and may be cached.
pub fn is_static_asset(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.svg" || path == "/favicon.ico"
}

/// How long browsers may keep a static file: built files whose names carry a content hash
/// (`gatehouse.<22 characters>.wasm`, from `hash-files`) never change, so for a year without
/// asking again; anything else must be revalidated.
pub fn asset_cache_control(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or_default();
    let hashed = path.starts_with("/pkg/")
        && name.split('.').any(|part| {
            part.len() == 22
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// `/favicon.ico`, for browsers that ask for it whatever the page says; served from the
/// binary, before any session work.
pub async fn favicon() -> impl axum::response::IntoResponse {
    (
        [
            (http::header::CONTENT_TYPE, "image/x-icon"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_bytes!("../../../public/favicon.ico").as_slice(),
    )
}

fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&url[..scheme.len() + 3 + host_len])
}

/// Whether a state-changing request comes from this site (SPEC §2 "CSRF").
fn is_same_site(headers: &HeaderMap, public_origin: &str, carries_cookies: bool) -> bool {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = header(http::HeaderName::from_static("sec-fetch-site")) {
        return matches!(site, "same-origin" | "none");
    }
    let host_origins: Vec<String> = header(http::header::HOST)
        .map(|host| vec![format!("http://{host}"), format!("https://{host}")])
        .unwrap_or_default();
    let trusted = |origin: &str| {
        origin.eq_ignore_ascii_case(public_origin)
            || host_origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    };
    if let Some(origin) = header(ORIGIN) {
        return trusted(origin);
    }
    if let Some(referer) = header(REFERER) {
        return origin_of(referer).is_some_and(trusted);
    }
    // No browser provenance at all: a script (curl, requests). Without cookies it cannot ride
    // on someone's session, so it may pass; with cookies it must prove where it comes from.
    !carries_cookies
}

pub async fn csrf_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    // Bearer requests carry their credential explicitly; a cross-site page cannot add one.
    // The OpenID Provider's token endpoints take no cookies at all (apps call them with
    // their own credentials, from any origin).
    if safe
        || request.headers().contains_key(AUTHORIZATION)
        || crate::server::http::oidc::COOKIELESS.contains(&request.uri().path())
        || request.uri().path() == crate::server::http::oidc::AUTHORIZE
    {
        return next.run(request).await;
    }
    let carries_cookies = request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            state
                .cookies
                .credential_names()
                .iter()
                .any(|name| v.contains(name))
        });
    if is_same_site(
        request.headers(),
        &state.config.public_url.origin,
        carries_cookies,
    ) {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "cross-site request refused");
    respond(
        AppError::forbidden("This request came from another site and was refused."),
        Audience::of(request.uri().path(), request.headers()),
    )
}

/// The methods the site serves. Anything else (`CONNECT`, `TRACE`, made-up tokens) is
/// answered 405 here, before routing: no fallback ever sees it.
const SERVED_METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

pub async fn served_methods(request: Request, next: Next) -> Response {
    if SERVED_METHODS.contains(request.method()) {
        return next.run(request).await;
    }
    let audience = Audience::of(request.uri().path(), request.headers());
    let refusal = AppError::new(
        crate::domain::ErrorKind::MethodNotAllowed,
        "This site does not accept that method.",
    );
    let mut answer = respond(refusal, audience);
    answer.headers_mut().insert(
        http::header::ALLOW,
        HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    answer
}

/// Guests asking for a member page get a redirect to log in before any HTML is rendered;
/// members asking for the login or register page go to their profile.
pub async fn page_access(request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let path = request.uri().path();
    let logged_in = Authentication::of(request.extensions()).is_some();
    if !logged_in && is_member_page(path) {
        let wanted = request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or(path);
        let next_param = serde_urlencoded::to_string([("next", wanted)]).unwrap_or_default();
        return Redirect::to(&format!("/login?{next_param}")).into_response();
    }
    if logged_in && GUEST_PAGES.contains(&path) && !reauthenticates_for_app(request.uri()) {
        return Redirect::to("/profile").into_response();
    }
    next.run(request).await
}

/// A login page that an app's request sent a logged-in person to (`prompt=login`,
/// `max_age`): they log in again and go back to the request.
fn reauthenticates_for_app(uri: &http::Uri) -> bool {
    let next: Option<String> = uri.query().and_then(|query| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .ok()?
            .into_iter()
            .find(|(name, _)| name == "next")
            .map(|(_, value)| value)
    });
    next.is_some_and(|next| {
        next.starts_with(crate::server::http::oidc::AUTHORIZE)
            && next.contains(crate::server::oidc::authorize::AUTH_AFTER)
    })
}

const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";
/// Swagger UI ships its own inline styles and data: images.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
     script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The CSP of rendered pages; `nonce` admits the hydration scripts and nothing else inline.
pub fn page_csp(nonce: &str, dev_reload_port: Option<u32>) -> String {
    let reload = dev_reload_port
        .map(|port| format!(" ws://127.0.0.1:{port} ws://localhost:{port}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'{reload}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )
}

pub async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let is_asset = is_static_asset(&path);
    let is_docs = request.uri().path().starts_with("/docs");
    let carries_token =
        TOKEN_PAGES.contains(&request.uri().path()) || request.uri().path().starts_with("/oauth/");
    let mut response: Response<Body> = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let referrer = if carries_token {
        "no-referrer"
    } else {
        "same-origin"
    };
    headers.insert(REFERRER_POLICY, HeaderValue::from_static(referrer));
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        let csp = if is_docs { DOCS_CSP } else { DEFAULT_CSP };
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    }
    if is_asset {
        if !headers.contains_key(CACHE_CONTROL) {
            headers.insert(
                CACHE_CONTROL,
                HeaderValue::from_static(asset_cache_control(&path)),
            );
        }
    } else if !is_docs {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.config.public_url.https {
        headers.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const SITE: &str = "http://127.0.0.1:3000";

    #[test]
    fn fetch_metadata_decides_when_present() {
        assert!(is_same_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            SITE,
            true
        ));
        assert!(is_same_site(
            &headers(&[("sec-fetch-site", "none")]),
            SITE,
            true
        ));
        assert!(!is_same_site(
            &headers(&[("sec-fetch-site", "cross-site")]),
            SITE,
            false
        ));
        assert!(!is_same_site(
            &headers(&[("sec-fetch-site", "same-site"), ("origin", SITE)]),
            SITE,
            true
        ));
    }

    #[test]
    fn origin_then_referer_must_match_the_site() {
        assert!(is_same_site(&headers(&[("origin", SITE)]), SITE, true));
        assert!(!is_same_site(
            &headers(&[("origin", "https://evil.example")]),
            SITE,
            true
        ));
        assert!(!is_same_site(&headers(&[("origin", "null")]), SITE, false));
        assert!(is_same_site(
            &headers(&[("referer", "http://127.0.0.1:3000/login?x")]),
            SITE,
            true
        ));
        assert!(!is_same_site(
            &headers(&[("referer", "http://127.0.0.1:3000.evil.example/")]),
            SITE,
            true
        ));
        assert!(is_same_site(
            &headers(&[
                ("origin", "http://localhost:3000"),
                ("host", "localhost:3000")
            ]),
            SITE,
            true
        ));
    }

    #[test]
    fn scripts_without_cookies_pass_but_cookies_need_provenance() {
        assert!(is_same_site(&HeaderMap::new(), SITE, false));
        assert!(!is_same_site(&HeaderMap::new(), SITE, true));
    }

    #[test]
    fn only_built_and_public_files_are_static_assets() {
        assert!(is_static_asset("/pkg/gatehouse.wasm"));
        assert!(is_static_asset("/favicon.svg"));
        assert!(is_static_asset("/favicon.ico"));
        assert!(!is_static_asset("/profile"));
        assert!(!is_static_asset("/api/login"));
    }

    #[tokio::test]
    async fn every_page_route_is_classified_once() {
        for route in crate::server::http::router::page_routes() {
            let path = route.path();
            let lists = [
                is_member_page(path),
                GUEST_PAGES.contains(&path),
                PUBLIC_PAGES.contains(&path),
                under_any(&ADMIN_PAGES, path),
            ];
            assert_eq!(
                lists.iter().filter(|listed| **listed).count(),
                1,
                "{path} must be a member, guest, admin or public page"
            );
        }
    }

    #[test]
    fn member_pages_match_whole_segments() {
        assert!(is_member_page("/profile"));
        assert!(is_member_page("/projects/12"));
        assert!(!is_member_page("/projectsx"));
        assert!(!is_member_page("/login"));
    }

    #[test]
    fn only_hashed_built_files_are_immutable() {
        let immutable = "public, max-age=31536000, immutable";
        assert_eq!(
            asset_cache_control("/pkg/gatehouse.Fq0y8V3mO2kG2XbW1cVwQw.wasm"),
            immutable
        );
        assert_eq!(
            asset_cache_control("/pkg/gatehouse_bg.Fq0y8V3mO2kG2XbW1cVwQw.wasm"),
            immutable
        );
        assert_eq!(asset_cache_control("/pkg/gatehouse.wasm"), "no-cache");
        assert_eq!(asset_cache_control("/pkg/gatehouse.css"), "no-cache");
        assert_eq!(
            asset_cache_control("/favicon.Fq0y8V3mO2kG2XbW1cVwQw.svg"),
            "no-cache"
        );
    }
}
