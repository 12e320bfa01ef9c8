//! Passkeys through real HTTP, with a software authenticator (`webauthn-authenticator-rs`)
//! answering the site's options: adding one, a login's second step with it, single-use
//! ceremonies, and what the password and the API say about passkey accounts. The site runs
//! on `localhost` (WebAuthn refuses IP addresses); the browser tests cover discoverable logins,
//! which the software authenticator cannot make.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_rs::prelude::Url;

use crate::common::{spawn_app_with, Browser, Page, TestApp, PASSWORD};

async fn localhost_app() -> TestApp {
    spawn_app_with(&[("PUBLIC_URL", "http://localhost:{port}")]).await
}

fn origin(app: &TestApp) -> Url {
    Url::parse(&app.state.config.public_url.origin).unwrap()
}

/// A same-site JSON post, as the page's script sends it.
async fn post(browser: &Browser, path: &str, body: Value) -> Page {
    browser
        .request(
            Method::POST,
            path,
            &[
                ("accept", "application/json"),
                ("sec-fetch-site", "same-origin"),
            ],
            Some((body.to_string(), "application/json")),
        )
        .await
}

/// Adds a passkey held by `authenticator`; the answer the site accepted (for replays).
async fn add_passkey(app: &TestApp, browser: &Browser, authenticator: &mut SoftPasskey) -> Value {
    let started = post(browser, "/passkeys/add/options", json!({})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let started = started.json();
    let mut options = started["options"].clone();
    // The soft token keeps no resident keys: it is asked for a plain credential.
    options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = false.into();
    options["publicKey"]["authenticatorSelection"]["residentKey"] = "discouraged".into();
    let credential = authenticator
        .do_registration(origin(app), serde_json::from_value(options).unwrap())
        .unwrap();
    let answer = json!({"ceremony": started["ceremony"], "credential": credential});
    let done = post(browser, "/passkeys/add", answer.clone()).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.json()["redirect"], "/security?saved=passkey");
    answer
}

async fn second_step(
    app: &TestApp,
    browser: &Browser,
    authenticator: &mut SoftPasskey,
) -> (Page, Value) {
    let started = post(browser, "/passkeys/second-step/options", json!({})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let started = started.json();
    let credential = authenticator
        .do_authentication(
            origin(app),
            serde_json::from_value(started["options"].clone()).unwrap(),
        )
        .unwrap();
    let answer =
        json!({"ceremony": started["ceremony"], "credential": credential, "next": "/projects"});
    (
        post(browser, "/passkeys/second-step", answer.clone()).await,
        answer,
    )
}

#[tokio::test]
async fn a_passkey_is_added_once_and_finishes_a_login_as_its_second_step() {
    let app = localhost_app().await;
    assert!(app.state.passkeys.unavailable().is_none());
    let browser = app.registered("pia@example.com", "pia").await;
    let mut authenticator = SoftPasskey::new(true);
    let answer = add_passkey(&app, &browser, &mut authenticator).await;
    // The ceremony was spent by its answer: the same answer again adds nothing.
    let again = post(&browser, "/passkeys/add", answer).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM passkeys").await, 1);
    let page = browser.get("/security?saved=passkey").await;
    assert!(page.body.contains("Your passkey was added"));
    assert!(
        page.body.contains("Chrome on Linux"),
        "named after the browser: {}",
        page.body
    );
    assert_eq!(
        page.body.matches("<li><code>").count(),
        10,
        "recovery codes shown once"
    );

    browser.log_out().await;
    let res = browser.log_in("pia@example.com", PASSWORD, false).await;
    assert_eq!(res.location(), Some("/login/verify"), "{}", res.body);
    let verify = browser.get("/login/verify").await;
    assert!(verify.body.contains("Use a passkey"), "{}", verify.body);
    let (done, answer) = second_step(&app, &browser, &mut authenticator).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.json()["redirect"], "/projects");
    assert!(done.set_cookie("gatehouse_access").is_some());
    assert!(browser.is_member().await);
    let sessions = browser.get("/sessions").await;
    assert!(
        sessions.body.contains("Password and passkey"),
        "{}",
        sessions.body
    );
    // A replayed answer finishes nothing: its ceremony and its pending login are spent.
    let replay = post(&browser, "/passkeys/second-step", answer).await;
    assert!(replay.status.is_client_error(), "{}", replay.body);

    // The API: codes only (a script has no passkey); this account has its recovery codes.
    let res = app.api_login("pia@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.json()["methods"], json!(["recovery_code"]));

    // Removing it asks for the password; the codes go with the last factor.
    let id: String = crate::on_db!(&app.state.db, |c| sqlx::query_scalar(
        "SELECT id FROM passkeys"
    )
    .fetch_one(c)
    .await)
    .unwrap();
    let res = browser
        .submit(
            "/security",
            "/api/remove_passkey",
            &[("id", &id), ("current_password", "not it at all")],
        )
        .await;
    assert_eq!(
        res.form_error().unwrap()["fields"]["current_password"],
        "Your current password is not correct."
    );
    let res = browser
        .submit(
            "/security",
            "/api/remove_passkey",
            &[("id", &id), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(
        res.location(),
        Some("/security?saved=passkey-removed"),
        "{}",
        res.body
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM passkeys").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM recovery_codes").await, 0);
    browser.log_out().await;
    let res = browser.log_in("pia@example.com", PASSWORD, false).await;
    assert_eq!(res.location(), Some("/profile"));
    app.state.audit.flush().await;
    let activity = browser.get("/activity").await;
    assert!(
        activity.body.contains("Passkey added (Chrome on Linux)"),
        "{}",
        activity.body
    );
    assert!(activity.body.contains("Passkey removed (Chrome on Linux)"));
    assert!(
        activity.body.contains("(passkey)"),
        "the login's second step: {}",
        activity.body
    );
}

#[tokio::test]
async fn ceremonies_are_bound_to_their_account_and_login() {
    let app = localhost_app().await;
    let owner = app.registered("quin@example.com", "quin").await;
    let mut authenticator = SoftPasskey::new(true);
    add_passkey(&app, &owner, &mut authenticator).await;

    // Another person cannot finish the owner's add ceremony.
    let started = post(&owner, "/passkeys/add/options", json!({}))
        .await
        .json();
    let mut options = started["options"].clone();
    options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = false.into();
    options["publicKey"]["authenticatorSelection"]["residentKey"] = "discouraged".into();
    let mut other_key = SoftPasskey::new(true);
    let credential = other_key
        .do_registration(origin(&app), serde_json::from_value(options).unwrap())
        .unwrap();
    let stranger = app.registered("rex@example.com", "rexy").await;
    let res = post(
        &stranger,
        "/passkeys/add",
        json!({"ceremony": started["ceremony"], "credential": credential}),
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);

    // Guests cannot add passkeys; a second step needs a pending login.
    let guest = app.browser();
    let res = post(&guest, "/passkeys/add/options", json!({})).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = post(&guest, "/passkeys/second-step/options", json!({})).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // Login options are for anyone (discoverable: no account named); a made-up answer fails
    // with a 4xx, not a 500.
    let res = post(
        &guest,
        "/passkeys/login/options",
        json!({"conditional": true}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["options"]["mediation"], "conditional");
    let res = post(
        &guest,
        "/passkeys/login",
        json!({"ceremony": "nope", "credential": {"id": "x"}}),
    )
    .await;
    assert!(res.status.is_client_error(), "{}", res.body);
    // A cross-site post is refused before anything else.
    let res = guest
        .request(
            Method::POST,
            "/passkeys/login/options",
            &[
                ("accept", "application/json"),
                ("sec-fetch-site", "cross-site"),
            ],
            Some(("{}".into(), "application/json")),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn on_an_ip_address_passkeys_are_not_offered() {
    let app = crate::common::spawn_app().await;
    assert!(app.state.passkeys.unavailable().is_some());
    let browser = app.registered("sol@example.com", "sol_").await;
    let page = browser.get("/security").await;
    assert!(
        page.body
            .contains("Passkeys need the site to have a host name"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Add a passkey"));
    let login = app.browser().get("/login").await;
    assert!(!login.body.contains("Log in with a passkey"));
    let res = post(&browser, "/passkeys/add/options", json!({})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
}
