//! Gatehouse as an OpenID Provider (SPEC §8), over real HTTP: the code flow with PKCE, tokens
//! verified with the published keys, refresh rotation and reuse, revocation, introspection,
//! logout, consent, and the error cases. The independent relying party (npm's
//! `openid-client`) drives the same flow in a browser in `end2end/tests/oidc.spec.ts`.

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{spawn_app, Browser, Page, TestApp, PASSWORD};
use gatehouse::server::oidc::clients::{self, Registration};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const LOGOUT_TO: &str = "http://127.0.0.1:9/bye";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(crate) struct App {
    pub(crate) id: String,
    pub(crate) secret: Option<String>,
}

pub(crate) async fn register_app(app: &TestApp, public: bool) -> App {
    let added = clients::add(
        &app.state,
        &Registration {
            name: "Wiki",
            redirect_uris: &[REDIRECT.to_string()],
            post_logout_redirect_uris: &[LOGOUT_TO.to_string()],
            public,
        },
        None,
    )
    .await
    .expect("app registered");
    App {
        id: added.client_id,
        secret: added.client_secret,
    }
}

fn authorize_path(client: &App, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email offline_access"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in extra {
        params.retain(|(n, _)| n != name);
        if !value.is_empty() {
            params.push((name, value));
        }
    }
    format!(
        "/oauth/authorize?{}",
        serde_urlencoded::to_string(&params).unwrap()
    )
}

/// The query parameters of a URL the provider sent the browser to.
fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    serde_urlencoded::from_str(query).unwrap()
}

/// Where the hand-back page (after a form) sends the browser.
fn hand_back_target(page: &Page) -> String {
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let start = page.body.find("url=").expect("a refresh target") + 4;
    let end = page.body[start..].find('"').unwrap() + start;
    page.body[start..end].replace("&amp;", "&")
}

/// Logs in, allows the app, and returns the code.
pub(crate) async fn code_for(app: &TestApp, browser: &Browser, client: &App) -> String {
    let path = authorize_path(client, &[]);
    let asked = browser.get(&path).await;
    let consent = asked.location().expect("to the consent page").to_string();
    if !consent.starts_with("/consent?") {
        // Allowed before: straight back to the app.
        let back = query_of(&consent);
        return back["code"].clone();
    }
    let page = browser.get(&consent).await;
    assert!(
        page.body.contains("Allow Wiki to log you in?"),
        "{}",
        page.body
    );
    let query = consent.trim_start_matches("/consent?");
    let answer = browser
        .submit(
            &consent,
            "/oauth/consent",
            &[("query", query), ("decision", "allow")],
        )
        .await;
    let target = hand_back_target(&answer);
    assert!(target.starts_with(REDIRECT), "{target}");
    let back = query_of(&target);
    assert_eq!(back["state"], "st-123");
    assert_eq!(back["iss"], app.base);
    back["code"].clone()
}

/// A POST to an endpoint as an app's server makes it (no cookies).
async fn post(app: &TestApp, path: &str, client: &App, fields: &[(&str, &str)]) -> Page {
    let apps = Browser::new(&app.base);
    let mut fields: Vec<(&str, &str)> = fields.to_vec();
    let basic;
    let mut headers = vec![("accept", "application/json")];
    match &client.secret {
        Some(secret) => {
            basic = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", client.id, secret))
            );
            headers.push(("authorization", basic.as_str()));
        }
        None => fields.push(("client_id", client.id.as_str())),
    }
    let body = serde_urlencoded::to_string(&fields).unwrap();
    apps.request(
        Method::POST,
        path,
        &headers,
        Some((body, "application/x-www-form-urlencoded")),
    )
    .await
}

pub(crate) async fn exchange(app: &TestApp, client: &App, code: &str) -> Page {
    post(
        app,
        "/oauth/token",
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// A refresh at the token endpoint, as the app's server makes it.
async fn refresh(app: &TestApp, client: &App, token: &str) -> Page {
    post(
        app,
        "/oauth/token",
        client,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

/// Verifies a JWT with the provider's published JWK set, as a relying party does.
async fn verified(app: &TestApp, token: &str, audience: &str) -> (jsonwebtoken::Header, Value) {
    let discovery = Browser::new(&app.base)
        .get("/.well-known/openid-configuration")
        .await
        .json();
    let jwks_path = discovery["jwks_uri"]
        .as_str()
        .unwrap()
        .trim_start_matches(&app.base)
        .to_string();
    let jwks = Browser::new(&app.base).get(&jwks_path).await.json();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let kid = header.kid.clone().expect("a kid");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the kid is published");
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[&app.base]);
    validation.set_audience(&[audience]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).expect("verifies");
    (header, data.claims)
}

#[tokio::test]
async fn discovery_names_every_endpoint_and_the_rules() {
    let app = spawn_app().await;
    let page = Browser::new(&app.base)
        .get("/.well-known/openid-configuration")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let meta = page.json();
    assert_eq!(meta["issuer"], app.base);
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
        "end_session_endpoint",
    ] {
        assert!(
            meta[endpoint].as_str().unwrap().starts_with(&app.base),
            "{endpoint}"
        );
    }
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        meta["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        meta["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    let jwks = Browser::new(&app.base).get("/oauth/jwks").await.json();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
    assert!(key.get("d").is_none(), "no private part is published");
}

#[tokio::test]
async fn the_code_flow_gives_verifiable_tokens_and_refresh_rotates() {
    let app = spawn_app().await;
    let client = register_app(&app, false).await;
    let browser = app.registered("ada@example.com", "ada").await;
    let code = code_for(&app, &browser, &client).await;
    let answer = exchange(&app, &client, &code).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.headers["cache-control"], "no-store");
    let tokens = answer.json();
    assert_eq!(tokens["token_type"], "Bearer");
    let (_, id) = verified(&app, tokens["id_token"].as_str().unwrap(), &client.id).await;
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["email"], "ada@example.com");
    assert_eq!(id["preferred_username"], "ada");
    assert_ne!(id["sub"], "ada@example.com");
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    assert!(id["auth_time"].as_i64().unwrap() > 0);
    let access = tokens["access_token"].as_str().unwrap();
    let (header, claims) = verified(&app, access, &client.id).await;
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(claims["client_id"], client.id);
    assert_eq!(claims["sub"], id["sub"]);

    let info = Browser::new(&app.base)
        .api(Method::GET, "/oauth/userinfo", Some(access), None)
        .await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    assert_eq!(info.json()["sub"], id["sub"]);
    assert_eq!(info.json()["email_verified"], false);

    // Refresh: a new pair; the spent token presented again ends the grant.
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let renewed = refresh(&app, &client, &first_refresh).await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    let renewed = renewed.json();
    let second_refresh = renewed["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second_refresh, first_refresh);
    let new_access = renewed["access_token"].as_str().unwrap().to_string();
    let active = post(
        &app,
        "/oauth/introspect",
        &client,
        &[("token", &new_access)],
    )
    .await;
    assert_eq!(active.json()["active"], true, "{}", active.body);
    assert_eq!(active.json()["client_id"], client.id);

    let reused = refresh(&app, &client, &first_refresh).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert_eq!(reused.json()["error"], "invalid_grant");
    let after = post(
        &app,
        "/oauth/introspect",
        &client,
        &[("token", &new_access)],
    )
    .await;
    assert_eq!(after.json()["active"], false, "the reuse ended the grant");
    let latest = refresh(&app, &client, &second_refresh).await;
    assert_eq!(latest.json()["error"], "invalid_grant");
    let info = Browser::new(&app.base)
        .api(Method::GET, "/oauth/userinfo", Some(&new_access), None)
        .await;
    assert_eq!(info.status, StatusCode::UNAUTHORIZED);
    assert!(info.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
}

#[tokio::test]
async fn a_code_is_single_use_bound_and_short_lived() {
    let app = spawn_app().await;
    let client = register_app(&app, false).await;
    let browser = app.registered("ada@example.com", "ada").await;

    // The wrong verifier, then the right one: the code was spent by the first try.
    let code = code_for(&app, &browser, &client).await;
    let wrong = post(
        &app,
        "/oauth/token",
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"x".repeat(43)),
        ],
    )
    .await;
    assert_eq!(wrong.json()["error"], "invalid_grant");

    // A second use fails and ends what the first use issued.
    let code = code_for(&app, &browser, &client).await;
    let first = exchange(&app, &client, &code).await.json();
    let access = first["access_token"].as_str().unwrap().to_string();
    let again = exchange(&app, &client, &code).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.json()["error"], "invalid_grant");
    let after = post(&app, "/oauth/introspect", &client, &[("token", &access)]).await;
    assert_eq!(after.json()["active"], false);

    // Bound to the redirect URI.
    let code = code_for(&app, &browser, &client).await;
    let elsewhere = post(
        &app,
        "/oauth/token",
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(elsewhere.json()["error"], "invalid_grant");

    // Bound to its client: another app cannot spend it.
    let other = register_app(&app, false).await;
    let code = code_for(&app, &browser, &client).await;
    let stolen = exchange(&app, &other, &code).await;
    assert_eq!(stolen.json()["error"], "invalid_grant");
    assert_eq!(exchange(&app, &client, &code).await.status, StatusCode::OK);

    // 60 seconds.
    let code = code_for(&app, &browser, &client).await;
    app.advance(std::time::Duration::from_secs(61));
    assert_eq!(
        exchange(&app, &client, &code).await.json()["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn clients_must_authenticate_as_registered() {
    let app = spawn_app().await;
    let client = register_app(&app, false).await;
    let wrong = App {
        id: client.id.clone(),
        secret: Some("not-the-secret".into()),
    };
    let refused = exchange(&app, &wrong, "whatever").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json()["error"], "invalid_client");
    assert!(refused.headers.contains_key("www-authenticate"));
    // A confidential app without its secret.
    let bare = App {
        id: client.id.clone(),
        secret: None,
    };
    assert_eq!(
        exchange(&app, &bare, "whatever").await.json()["error"],
        "invalid_client"
    );
    // client_secret_post works as well as Basic.
    let browser = app.registered("ada@example.com", "ada").await;
    let code = code_for(&app, &browser, &client).await;
    let secret = client.secret.clone().unwrap();
    let posted = post(
        &app,
        "/oauth/token",
        &bare,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
    // A public app uses `none`, and introspects only its own tokens.
    let public = register_app(&app, true).await;
    assert!(public.secret.is_none());
    let code = code_for(&app, &browser, &public).await;
    let tokens = exchange(&app, &public, &code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let access = tokens.json()["access_token"].as_str().unwrap().to_string();
    let introspected = post(&app, "/oauth/introspect", &public, &[("token", &access)]).await;
    assert_eq!(introspected.json()["active"], true, "{}", introspected.body);
    let other = post(&app, "/oauth/introspect", &client, &[("token", &access)]).await;
    assert_eq!(
        other.json()["active"],
        false,
        "another app's token is not shown"
    );
    // Unknown grant types.
    let odd = post(&app, "/oauth/token", &client, &[("grant_type", "password")]).await;
    assert_eq!(odd.json()["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn bad_requests_get_an_error_page_or_go_back_with_an_error() {
    let app = spawn_app().await;
    let client = register_app(&app, false).await;
    let browser = app.registered("ada@example.com", "ada").await;

    let unknown = App {
        id: "nobody".into(),
        secret: None,
    };
    let page = browser.get(&authorize_path(&unknown, &[])).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location().is_none());
    assert!(page.body.contains("not registered"), "{}", page.body);

    let page = browser
        .get(&authorize_path(
            &client,
            &[("redirect_uri", "http://127.0.0.1:9/evil")],
        ))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location().is_none(), "never a redirect");

    for (change, error) in [
        (("code_challenge", ""), "invalid_request"),
        (("code_challenge_method", "plain"), "invalid_request"),
        (("response_type", "token"), "unsupported_response_type"),
        (("scope", "profile"), "invalid_scope"),
        (("prompt", "none login"), "invalid_request"),
        (("max_age", "soon"), "invalid_request"),
    ] {
        let page = browser.get(&authorize_path(&client, &[change])).await;
        let back = query_of(
            page.location()
                .unwrap_or_else(|| panic!("{change:?}: {}", page.body)),
        );
        assert_eq!(back["error"], error, "{change:?}");
        assert_eq!(back["state"], "st-123");
        assert_eq!(back["iss"], app.base);
    }

    // Deny goes back with access_denied and the state.
    let consent = browser.get(&authorize_path(&client, &[])).await;
    let consent = consent.location().unwrap().to_string();
    let denied = browser
        .submit(
            &consent,
            "/oauth/consent",
            &[
                ("query", consent.trim_start_matches("/consent?")),
                ("decision", "deny"),
            ],
        )
        .await;
    let back = query_of(&hand_back_target(&denied));
    assert_eq!(back["error"], "access_denied");
    assert_eq!(back["state"], "st-123");

    // A consent from another site is refused (the same-site check of cookie requests).
    let forged = browser
        .request(
            Method::POST,
            "/oauth/consent",
            &[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
            Some((
                format!(
                    "query={}&decision=allow",
                    urlencode(consent.trim_start_matches("/consent?"))
                ),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("v", text)]).unwrap()[2..].to_string()
}

#[tokio::test]
async fn prompt_none_login_and_consent_and_remembered_consent() {
    let app = spawn_app().await;
    let client = register_app(&app, false).await;

    // Nobody logged in.
    let guest = app.browser();
    let page = guest
        .get(&authorize_path(&client, &[("prompt", "none")]))
        .await;
    assert_eq!(
        query_of(page.location().unwrap())["error"],
        "login_required"
    );
    let page = guest.get(&authorize_path(&client, &[])).await;
    let to_login = page.location().unwrap();
    assert!(
        to_login.starts_with("/login?next=%2Foauth%2Fauthorize"),
        "{to_login}"
    );

    // Logged in, not allowed yet.
    let browser = app.registered("ada@example.com", "ada").await;
    let page = browser
        .get(&authorize_path(&client, &[("prompt", "none")]))
        .await;
    assert_eq!(
        query_of(page.location().unwrap())["error"],
        "consent_required"
    );

    // Allowed once: remembered for the same or fewer scopes, asked again for more or with
    // prompt=consent.
    let _ = code_for(&app, &browser, &client).await;
    let page = browser
        .get(&authorize_path(&client, &[("scope", "openid email")]))
        .await;
    let back = query_of(page.location().unwrap());
    assert!(back.contains_key("code"), "{back:?}");
    let page = browser
        .get(&authorize_path(&client, &[("prompt", "none")]))
        .await;
    assert!(query_of(page.location().unwrap()).contains_key("code"));
    let page = browser
        .get(&authorize_path(&client, &[("prompt", "consent")]))
        .await;
    assert!(page.location().unwrap().starts_with("/consent?"));

    // max_age: a login older than that is done again (prompt=none cannot).
    app.advance(std::time::Duration::from_secs(120));
    let page = browser
        .get(&authorize_path(&client, &[("max_age", "60")]))
        .await;
    assert!(page.location().unwrap().starts_with("/login?next="));
    let page = browser
        .get(&authorize_path(
            &client,
            &[("max_age", "60"), ("prompt", "none")],
        ))
        .await;
    assert_eq!(
        query_of(page.location().unwrap())["error"],
        "login_required"
    );
    let page = browser
        .get(&authorize_path(&client, &[("max_age", "600")]))
        .await;
    assert!(query_of(page.location().unwrap()).contains_key("code"));

    // prompt=login: the logged-in person logs in again, then the request goes on.
    let page = browser
        .get(&authorize_path(&client, &[("prompt", "login")]))
        .await;
    let login = page.location().unwrap().to_string();
    assert!(login.starts_with("/login?next="), "{login}");
    let form = browser.get(&login).await;
    assert_eq!(form.status, StatusCode::OK, "the login page is shown");
    assert!(
        form.body.contains("data-native"),
        "the browser sends this form itself"
    );
    let next = query_of(&login)["next"].clone();
    let logged_in = browser
        .submit(
            &login,
            "/api/login",
            &[
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("next", &next),
            ],
        )
        .await;
    let again = logged_in.location().unwrap().to_string();
    assert!(again.starts_with("/oauth/authorize?"), "{again}");
    let page = browser.get(&again).await;
    let back = query_of(page.location().unwrap());
    assert!(back.contains_key("code"), "{back:?}");
    let tokens = exchange(&app, &client, &back["code"]).await.json();
    let (_, id) = verified(&app, tokens["id_token"].as_str().unwrap(), &client.id).await;
    assert!(id["auth_time"].as_i64().unwrap() >= app.state.now() - 5);
}

#[tokio::test]
async fn removing_access_deactivating_or_removing_the_app_ends_tokens_at_once() {
    let app = spawn_app().await;
    let client = register_app(&app, false).await;
    let browser = app.registered("ada@example.com", "ada").await;
    let tokens = exchange(&app, &client, &code_for(&app, &browser, &client).await)
        .await
        .json();
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();

    let apps = browser.get("/apps").await;
    assert!(apps.body.contains("Connected apps") && apps.body.contains("Wiki"));
    let removed = browser
        .submit(
            "/apps",
            "/api/remove_app_access",
            &[("client_id", &client.id)],
        )
        .await;
    assert!(removed.status.is_redirection() || removed.status.is_success());
    let info = Browser::new(&app.base)
        .api(Method::GET, "/oauth/userinfo", Some(&access), None)
        .await;
    assert_eq!(info.status, StatusCode::UNAUTHORIZED);
    let renewed = refresh(&app, &client, &refresh_token).await;
    assert_eq!(renewed.json()["error"], "invalid_grant");

    // Revocation (RFC 7009) ends the grant too; unknown tokens are answered 200.
    let tokens = exchange(&app, &client, &code_for(&app, &browser, &client).await)
        .await
        .json();
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    let revoked = post(
        &app,
        "/oauth/revoke",
        &client,
        &[
            ("token", &refresh_token),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(
        post(&app, "/oauth/introspect", &client, &[("token", &access)])
            .await
            .json()["active"],
        false
    );
    assert_eq!(
        post(&app, "/oauth/revoke", &client, &[("token", "nonsense")])
            .await
            .status,
        StatusCode::OK
    );

    // Removing the app ends everything it holds.
    let tokens = exchange(&app, &client, &code_for(&app, &browser, &client).await)
        .await
        .json();
    let access = tokens["access_token"].as_str().unwrap().to_string();
    clients::remove(&app.state, &client.id).await.unwrap();
    let info = Browser::new(&app.base)
        .api(Method::GET, "/oauth/userinfo", Some(&access), None)
        .await;
    assert_eq!(info.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_deactivated_person_has_no_live_tokens() {
    let app = spawn_app().await;
    let client = register_app(&app, false).await;
    let browser = app.registered("ada@example.com", "ada").await;
    let tokens = exchange(&app, &client, &code_for(&app, &browser, &client).await)
        .await
        .json();
    let access = tokens["access_token"].as_str().unwrap().to_string();
    crate::on_db!(app.state.db, |c| sqlx::query(
        "UPDATE users SET is_active = FALSE WHERE email = 'ada@example.com'"
    )
    .execute(c)
    .await
    .map(drop)
    .unwrap());
    let introspected = post(&app, "/oauth/introspect", &client, &[("token", &access)]).await;
    assert_eq!(introspected.json()["active"], false);
    let info = Browser::new(&app.base)
        .api(Method::GET, "/oauth/userinfo", Some(&access), None)
        .await;
    assert_eq!(info.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_app_can_log_the_person_out() {
    let app = spawn_app().await;
    let client = register_app(&app, false).await;
    let browser = app.registered("ada@example.com", "ada").await;
    let tokens = exchange(&app, &client, &code_for(&app, &browser, &client).await)
        .await
        .json();
    let id_token = tokens["id_token"].as_str().unwrap();

    // Without a hint, the person confirms (no other site logs them out with a link).
    let page = browser.get("/oauth/logout").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Log out of Gatehouse?"));
    assert!(browser.is_member().await);

    // An unregistered address is refused.
    let query = serde_urlencoded::to_string([
        ("id_token_hint", id_token),
        ("post_logout_redirect_uri", "http://127.0.0.1:9/evil"),
    ])
    .unwrap();
    let page = browser.get(&format!("/oauth/logout?{query}")).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(browser.is_member().await);

    let query = serde_urlencoded::to_string([
        ("id_token_hint", id_token),
        ("post_logout_redirect_uri", LOGOUT_TO),
        ("state", "bye-1"),
    ])
    .unwrap();
    let page = browser.get(&format!("/oauth/logout?{query}")).await;
    assert_eq!(
        page.location(),
        Some(format!("{LOGOUT_TO}?state=bye-1").as_str())
    );
    assert!(!browser.is_member().await, "the session ended");
}

#[tokio::test]
async fn the_cli_registers_lists_removes_apps_and_rotates_the_key() {
    let app = spawn_app().await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .env("DATA_DIR", app.data_dir())
            .env("DATABASE_URL", &app.state.config.database_url)
            .env("PUBLIC_URL", &app.base)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, err) = run(&[
        "oidc",
        "add-client",
        "--name",
        "Wiki",
        "--redirect-uri",
        REDIRECT,
        "--post-logout-redirect-uri",
        LOGOUT_TO,
    ]);
    assert_eq!(code, Some(0), "{err}");
    let added: Value = serde_json::from_str(out.trim()).unwrap();
    let id = added["client_id"].as_str().unwrap().to_string();
    assert!(added["client_secret"]
        .as_str()
        .is_some_and(|s| s.len() >= 32));
    let stored = clients::find(&app.state, &id).await.unwrap().unwrap();
    assert_ne!(
        stored.secret_digest.as_deref(),
        added["client_secret"].as_str(),
        "hashed"
    );

    let (_, out, _) = run(&[
        "oidc",
        "add-client",
        "--name",
        "Phone",
        "--redirect-uri",
        REDIRECT,
        "--public",
    ]);
    let public: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(public.get("client_secret").is_none());

    let (code, _, err) = run(&[
        "oidc",
        "add-client",
        "--name",
        "Bad",
        "--redirect-uri",
        "http://app.example/cb",
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("https"), "{err}");

    let (_, out, _) = run(&["oidc", "list-clients"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!out.contains(added["client_secret"].as_str().unwrap()));

    let (code, out, _) = run(&["oidc", "remove-client", &id]);
    assert_eq!(code, Some(0));
    assert!(out.contains("Wiki"));
    let (code, _, _) = run(&["oidc", "remove-client", &id]);
    assert_eq!(code, Some(1));

    // Rotation: the running server publishes both keys and signs with the new one.
    let before = Browser::new(&app.base).get("/oauth/jwks").await.json();
    assert_eq!(before["keys"].as_array().unwrap().len(), 1);
    let (code, out, err) = run(&["oidc", "rotate-key"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("stays published"), "{out}");
    let after = Browser::new(&app.base).get("/oauth/jwks").await.json();
    assert_eq!(after["keys"].as_array().unwrap().len(), 2);
    let client = register_app(&app, false).await;
    let browser = app.registered("ada@example.com", "ada").await;
    let tokens = exchange(&app, &client, &code_for(&app, &browser, &client).await)
        .await
        .json();
    let header = jsonwebtoken::decode_header(tokens["id_token"].as_str().unwrap()).unwrap();
    assert_ne!(header.kid.as_deref(), before["keys"][0]["kid"].as_str());
}

#[tokio::test]
async fn a_login_the_app_asked_for_cannot_be_skipped() {
    let app = spawn_app().await;
    let client = register_app(&app, false).await;
    let browser = app.registered("ada@example.com", "ada").await;
    let _ = code_for(&app, &browser, &client).await;
    // A made-up marker does not count as a new login.
    for forged in ["0", "99999999999", "1.deadbeef"] {
        let page = browser
            .get(&authorize_path(
                &client,
                &[("prompt", "login"), ("auth_after", forged)],
            ))
            .await;
        assert!(
            page.location().unwrap().starts_with("/login?next="),
            "{forged}: {:?}",
            page.location()
        );
    }
    // Nor does answering the consent page directly.
    let query = authorize_path(&client, &[("prompt", "login consent")]);
    let query = query.trim_start_matches("/oauth/authorize?");
    let answer = browser
        .submit(
            &format!("/consent?{query}"),
            "/oauth/consent",
            &[("query", query), ("decision", "allow")],
        )
        .await;
    assert!(
        answer
            .location()
            .is_some_and(|to| to.starts_with("/login?next=")),
        "{:?} {}",
        answer.location(),
        answer.body
    );
}

#[tokio::test]
async fn answers_to_scripts_are_redirects_and_the_endpoint_takes_posts() {
    let app = spawn_app().await;
    let client = register_app(&app, false).await;
    let browser = app.registered("ada@example.com", "ada").await;
    let consent = browser.get(&authorize_path(&client, &[])).await;
    let query = consent
        .location()
        .unwrap()
        .trim_start_matches("/consent?")
        .to_string();
    // A consent form sent by a script (no Fetch metadata): a plain redirect with the code.
    let origin = app.base.clone();
    let allowed = browser
        .request(
            Method::POST,
            "/oauth/consent",
            &[("origin", origin.as_str())],
            Some((
                serde_urlencoded::to_string([("query", query.as_str()), ("decision", "allow")])
                    .unwrap(),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::FOUND, "{}", allowed.body);
    assert!(query_of(allowed.location().unwrap()).contains_key("code"));
    // The authorization endpoint by POST (OIDC Core §3.1.2.1), even from another site.
    let path = authorize_path(&client, &[]);
    let posted = browser
        .request(
            Method::POST,
            "/oauth/authorize",
            &[
                ("origin", "https://app.example"),
                ("sec-fetch-site", "cross-site"),
            ],
            Some((
                path.trim_start_matches("/oauth/authorize?").to_string(),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_eq!(posted.status, StatusCode::FOUND, "{}", posted.body);
    let code = query_of(posted.location().unwrap())["code"].clone();
    assert_eq!(exchange(&app, &client, &code).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_new_password_ends_what_apps_were_given() {
    let app = spawn_app().await;
    let client = register_app(&app, false).await;
    let browser = app.registered("ada@example.com", "ada").await;
    let tokens = exchange(&app, &client, &code_for(&app, &browser, &client).await)
        .await
        .json();
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let changed = browser
        .change_password(PASSWORD, crate::common::NEW_PASSWORD)
        .await;
    assert!(changed.status.is_redirection(), "{}", changed.body);
    let introspected = post(&app, "/oauth/introspect", &client, &[("token", &access)]).await;
    assert_eq!(introspected.json()["active"], false);
    let renewed = post(
        &app,
        "/oauth/token",
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(renewed.json()["error"], "invalid_grant");
}

/// Two nodes on one database with one key file (SPEC §10): a code issued by one is exchanged
/// at the other, a refresh token rotated on one counts as spent on the other, and the tokens
/// either signs verify with the JWK set both publish.
#[tokio::test]
async fn the_provider_is_one_service_across_nodes() {
    let a = spawn_app().await;
    let b = a.another_node().await;
    assert_eq!(
        Browser::new(&a.base).get("/oauth/jwks").await.json(),
        Browser::new(&b.base).get("/oauth/jwks").await.json()
    );
    let client = register_app(&a, false).await;
    let browser = a.registered("ada@example.com", "ada").await;
    let code = code_for(&a, &browser, &client).await;
    let tokens = exchange(&b, &client, &code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let tokens = tokens.json();
    verified(&a, tokens["id_token"].as_str().unwrap(), &client.id).await;
    assert_eq!(
        exchange(&a, &client, &code).await.json()["error"],
        "invalid_grant"
    );

    let code = code_for(&a, &browser, &client).await;
    let tokens = exchange(&a, &client, &code).await.json();
    let first = tokens["refresh_token"].as_str().unwrap().to_string();
    let renewed = refresh(&b, &client, &first).await.json();
    let access = renewed["access_token"].as_str().unwrap().to_string();
    let reused = refresh(&a, &client, &first).await;
    assert_eq!(reused.json()["error"], "invalid_grant");
    let introspected = post(&b, "/oauth/introspect", &client, &[("token", &access)]).await;
    assert_eq!(
        introspected.json()["active"],
        false,
        "the reuse ended the grant on both"
    );
}
