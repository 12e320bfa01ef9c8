//! Two-step verification (SPEC §7) through real HTTP: setting up an authenticator app on
//! `/security`, the second step of a login on `/login/verify` and through the API, recovery
//! codes, replay, expiry, throttling, and an administrator's reset.

use std::time::Duration;

use crate::admin::admin;
use crate::common::{spawn_app, Browser, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// What the page shows between `>` and `<` after `marker`.
fn text_after<'a>(html: &'a str, marker: &str) -> &'a str {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    let rest = &html[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest[open..].find('<').unwrap();
    &rest[open..open + close]
}

/// An authenticator app: the setup key the page showed, read by an independent TOTP
/// implementation (RFC 6238: SHA-1, 6 digits, 30 s).
struct App {
    key: String,
}

impl App {
    fn code_at(&self, unix: i64) -> String {
        let secret = totp_rs::Secret::try_from_base32(&self.key).expect("base32");
        let totp = totp_rs::Builder::new()
            .with_algorithm(totp_rs::Algorithm::SHA1)
            .with_digits(6)
            .with_step_duration(30)
            .with_secret(secret)
            .build_noncompliant();
        totp.generate(unix as u64).to_string()
    }

    fn code(&self, app: &TestApp) -> String {
        self.code_at(app.state.now())
    }
}

/// Sets up and turns on the app for the logged-in `browser`; the app and the recovery codes
/// shown once.
async fn turn_on_app(app: &TestApp, browser: &Browser) -> (App, Vec<String>) {
    let page = browser.get("/security").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Set up authenticator app"),
        "{}",
        page.body
    );
    let res = browser.submit("/security", "/api/set_up_app", &[]).await;
    assert!(res.status.is_redirection(), "{}", res.body);
    assert!(res.form_error().is_none(), "{:?}", res.form_error());
    let page = browser.get("/security").await;
    assert!(
        page.body
            .contains("<title>QR code for your authenticator app</title>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<svg"), "the QR code is an inline SVG");
    let key = text_after(&page.body, r#"aria-label="Setup key""#).to_string();
    assert_eq!(key.len(), 32, "{key}");
    let authenticator = App { key };

    // A wrong code leaves it off.
    let res = browser
        .submit("/security", "/api/turn_on_app", &[("code", "000000")])
        .await;
    let error = res.form_error().expect("an error");
    assert_eq!(error["fields"]["code"], "That code is not valid.");

    let code = authenticator.code(app);
    let res = browser
        .submit("/security", "/api/turn_on_app", &[("code", &code)])
        .await;
    assert_eq!(
        res.location(),
        Some("/security?saved=app-on"),
        "{}",
        res.body
    );
    let page = browser.get("/security?saved=app-on").await;
    assert!(page.body.contains("<strong>On</strong>"), "{}", page.body);
    assert!(page.body.contains("Turn off"));
    let list = &page.body[page
        .body
        .find(r#"aria-label="Recovery codes""#)
        .expect("codes shown")..];
    let list = &list[..list.find("</ul>").unwrap()];
    let codes: Vec<String> = list
        .split("<code>")
        .skip(1)
        .map(|part| part[..part.find('<').unwrap()].to_string())
        .collect();
    assert_eq!(codes.len(), 10, "{list}");
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'),
        "{codes:?}"
    );
    // Shown once.
    let again = browser.get("/security").await;
    assert!(!again.body.contains(r#"aria-label="Recovery codes""#));
    assert!(
        again.body.contains("10 recovery codes left"),
        "{}",
        again.body
    );
    (authenticator, codes)
}

/// Logs in with the password; the answer must send the browser to the second step.
async fn password_step(browser: &Browser, email: &str, next: &str, remember: bool) {
    let mut fields = vec![("email", email), ("password", PASSWORD), ("next", next)];
    if remember {
        fields.push(("remember", "on"));
    }
    let res = browser.submit("/login", "/api/login", &fields).await;
    let expected = if next.is_empty() {
        "/login/verify".to_string()
    } else {
        format!("/login/verify?next={}", next.replace('/', "%2F"))
    };
    assert_eq!(res.location(), Some(expected.as_str()), "{}", res.body);
    assert!(
        res.set_cookie("gatehouse_access").is_none(),
        "no session yet"
    );
    assert!(browser.cookie("gatehouse_pending").is_some());
    assert!(!browser.is_member().await);
}

async fn verify(browser: &Browser, code: &str, next: &str) -> crate::common::Page {
    browser
        .submit(
            "/login/verify",
            "/api/verify_login",
            &[("code", code), ("next", next)],
        )
        .await
}

async fn member(app: &TestApp, email: &str, name: &str) -> (Browser, App, Vec<String>) {
    let browser = app.registered(email, name).await;
    let (authenticator, codes) = turn_on_app(app, &browser).await;
    browser.log_out().await;
    (browser, authenticator, codes)
}

#[tokio::test]
async fn an_app_code_finishes_a_login_once_and_next_and_remember_me_are_kept() {
    let app = spawn_app().await;
    let (browser, authenticator, _) = member(&app, "ada@example.com", "ada").await;
    password_step(&browser, "ada@example.com", "/projects", true).await;
    let page = browser.get("/login/verify?next=%2Fprojects").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<h1>Two-step verification</h1>"),
        "{}",
        page.body
    );
    assert!(page.body.contains(">Verify</button>"));

    // The code that turned the app on belongs to this step: it is spent.
    let res = verify(&browser, &authenticator.code(&app), "/projects").await;
    let error = res.form_error().expect("replay refused");
    assert_eq!(error["message"], "That code is not valid.");
    assert!(!browser.is_member().await);

    app.advance(Duration::from_secs(30));
    let res = verify(&browser, &authenticator.code(&app), "/projects").await;
    assert_eq!(res.location(), Some("/projects"), "{}", res.body);
    let access = res.set_cookie("gatehouse_access").expect("session cookie");
    assert!(
        access.contains("Max-Age="),
        "Remember me was kept: {access}"
    );
    assert!(browser.cookie("gatehouse_pending").is_none());
    assert!(browser.is_member().await);
    let sessions = browser.get("/sessions").await;
    assert!(
        sessions.body.contains("Password and authenticator app"),
        "{}",
        sessions.body
    );

    // The same code again, on a fresh login: refused.
    let other = app.browser();
    password_step(&other, "ada@example.com", "", false).await;
    let res = verify(&other, &authenticator.code(&app), "").await;
    assert_eq!(
        res.form_error().unwrap()["message"],
        "That code is not valid."
    );
    // A code from the step before the last accepted one: refused; the next step's: accepted
    // (one step of clock skew), and without "Remember me" the cookie ends with the browser.
    let now = app.state.now();
    let res = verify(&other, &authenticator.code_at(now - 30), "").await;
    assert!(res.form_error().is_some());
    let res = verify(&other, &authenticator.code_at(now + 30), "").await;
    assert_eq!(res.location(), Some("/profile"), "{}", res.body);
    assert!(!res
        .set_cookie("gatehouse_access")
        .unwrap()
        .contains("Max-Age="));
    // Two steps away is outside the window.
    let third = app.browser();
    password_step(&third, "ada@example.com", "", false).await;
    let res = verify(&third, &authenticator.code_at(app.state.now() + 90), "").await;
    assert!(res.form_error().is_some());

    app.state.audit.flush().await;
    let activity = browser.get("/activity").await;
    assert!(
        activity.body.contains("Authenticator app turned on"),
        "{}",
        activity.body
    );
    assert!(
        activity.body.contains("(authenticator app)"),
        "{}",
        activity.body
    );
    assert!(
        activity.body.contains("Wrong two-step verification code"),
        "{}",
        activity.body
    );
}

#[tokio::test]
async fn a_pending_login_expires_after_five_minutes_and_is_no_session() {
    let app = spawn_app().await;
    let (browser, authenticator, _) = member(&app, "bo@example.com", "bob").await;
    password_step(&browser, "bo@example.com", "", false).await;
    // The pending token is no access token.
    assert!(browser.get("/profile").await.status.is_redirection());
    app.advance(Duration::from_secs(301));
    let res = verify(&browser, &authenticator.code(&app), "").await;
    let error = res.form_error().expect("expired");
    assert!(
        error["message"].as_str().unwrap().contains("took too long"),
        "{error}"
    );
    let page = browser.get("/login/verify").await;
    assert!(page.body.contains("Log in again"), "{}", page.body);
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_passwords() {
    let app = spawn_app().await;
    let (browser, authenticator, _) = member(&app, "cy@example.com", "cyd").await;
    password_step(&browser, "cy@example.com", "", false).await;
    // A client that has logged in to the account before has its own, larger allowance
    // (10); a stranger's is the account's (5). Either way the limit comes.
    // Sent as a script sends it: the token in the body, no cookies.
    let token = browser.cookie("gatehouse_pending").unwrap();
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let res = app
            .api(
                Method::POST,
                "/api/v1/auth/mfa",
                None,
                Some(json!({"mfa_token": token, "code": "123456"})),
            )
            .await;
        statuses.push(res.status);
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers.contains_key("retry-after"));
            break;
        }
    }
    let (last, before) = statuses.split_last().unwrap();
    assert_eq!(*last, StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    assert!(
        before.len() >= 5 && before.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    // The page says so too, even with the right code.
    let res = verify(&browser, &authenticator.code(&app), "").await;
    let error = res.form_error().expect("refused");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("Too many attempts"),
        "{error}"
    );
}

#[tokio::test]
async fn a_recovery_code_works_once_and_mails_a_notice() {
    let app = spawn_app().await;
    let (browser, _, codes) = member(&app, "di@example.com", "dia").await;
    password_step(&browser, "di@example.com", "", false).await;
    // Typed loosely: upper case, without the dash.
    let typed = codes[3].to_uppercase().replace('-', "");
    let res = verify(&browser, &typed, "").await;
    assert_eq!(res.location(), Some("/profile"), "{}", res.body);
    let mail = app.mail("di@example.com", "A recovery code was used").await;
    assert!(mail.contains("9 recovery codes left"), "{mail}");
    let sessions = browser.get("/sessions").await;
    assert!(
        sessions.body.contains("Password and recovery code"),
        "{}",
        sessions.body
    );
    assert!(browser
        .get("/security")
        .await
        .body
        .contains("9 recovery codes left"));

    browser.log_out().await;
    password_step(&browser, "di@example.com", "", false).await;
    let res = verify(&browser, &codes[3], "").await;
    assert_eq!(
        res.form_error().unwrap()["message"],
        "That code is not valid."
    );
    // New codes need the current password; then the old ones stop working.
    let res = verify(&browser, &codes[4], "").await;
    assert_eq!(res.location(), Some("/profile"));
    let res = browser
        .submit(
            "/security",
            "/api/new_recovery_codes",
            &[("current_password", "wrong password here")],
        )
        .await;
    assert_eq!(
        res.form_error().unwrap()["fields"]["current_password"],
        "Your current password is not correct."
    );
    let res = browser
        .submit(
            "/security",
            "/api/new_recovery_codes",
            &[("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(res.location(), Some("/security?saved=codes"));
    let page = browser.get("/security?saved=codes").await;
    assert_eq!(page.body.matches("<li><code>").count(), 10, "{}", page.body);
    browser.log_out().await;
    password_step(&browser, "di@example.com", "", false).await;
    let res = verify(&browser, &codes[5], "").await;
    assert_eq!(
        res.form_error().unwrap()["message"],
        "That code is not valid."
    );
}

#[tokio::test]
async fn the_api_answers_mfa_required_and_finishes_with_a_code() {
    let app = spawn_app().await;
    let (_, authenticator, codes) = member(&app, "ed@example.com", "eddy").await;
    let res = app.api_login("ed@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let body = res.json();
    assert_eq!(body["error"]["code"], "mfa_required");
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    assert!(body.get("access_token").is_none());
    let mfa_token = body["mfa_token"].as_str().unwrap().to_string();

    // The OAuth2 form endpoint answers the same way.
    let form = app
        .browser()
        .request(
            Method::POST,
            "/api/v1/auth/token",
            &[("accept", "application/json")],
            Some((
                format!(
                    "grant_type=password&username=ed%40example.com&password={}",
                    PASSWORD.replace(' ', "+")
                ),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_eq!(form.status, StatusCode::FORBIDDEN, "{}", form.body);
    assert_eq!(form.json()["error"]["code"], "mfa_required");

    let mfa = |code: String, token: String| {
        let app = &app;
        async move {
            app.api(
                Method::POST,
                "/api/v1/auth/mfa",
                None,
                Some(json!({"mfa_token": token, "code": code})),
            )
            .await
        }
    };
    let wrong = mfa("999999".into(), mfa_token.clone()).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["error"]["code"], "invalid_code");
    assert_eq!(wrong.json()["error"]["message"], "That code is not valid.");
    assert!(wrong.headers.contains_key("www-authenticate"));
    app.advance(Duration::from_secs(30));
    let ok = mfa(authenticator.code(&app), mfa_token.clone()).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let pair = ok.json();
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(app.me(access).await["email"], "ed@example.com");
    // Spent by its success.
    let again = mfa(codes[0].clone(), mfa_token).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.json()["error"]["code"], "unauthenticated");
    // A made-up token.
    let made_up = mfa(codes[0].clone(), "0".repeat(64)).await;
    assert_eq!(made_up.status, StatusCode::UNAUTHORIZED);
    // Missing code: a field error.
    let empty = mfa(String::new(), "x".into()).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);

    let sessions = app
        .api(Method::GET, "/api/v1/sessions", Some(access), None)
        .await
        .json();
    assert_eq!(sessions[0]["amr"], json!(["pwd", "otp"]), "{sessions}");
    let openapi = app
        .api(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert!(openapi.body.contains("/api/v1/auth/mfa"), "documented");
}

#[tokio::test]
async fn turning_the_app_off_asks_for_the_password_and_ends_the_second_step() {
    let app = spawn_app().await;
    let (browser, authenticator, codes) = member(&app, "flo@example.com", "flor").await;
    password_step(&browser, "flo@example.com", "", false).await;
    app.advance(Duration::from_secs(30));
    verify(&browser, &authenticator.code(&app), "").await;
    let res = browser
        .submit(
            "/security",
            "/api/turn_off_app",
            &[("current_password", "")],
        )
        .await;
    assert_eq!(
        res.form_error().unwrap()["fields"]["current_password"],
        "Enter your current password."
    );
    let res = browser
        .submit(
            "/security",
            "/api/turn_off_app",
            &[("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(res.location(), Some("/security?saved=app-off"));
    let page = browser.get("/security").await;
    assert!(page.body.contains("Set up authenticator app"));
    browser.log_out().await;
    let res = browser.log_in("flo@example.com", PASSWORD, false).await;
    assert_eq!(res.location(), Some("/profile"), "no second step any more");
    // The recovery codes went with the last factor.
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM recovery_codes").await,
        0,
        "{codes:?}"
    );
    app.state.audit.flush().await;
    assert!(browser
        .get("/activity")
        .await
        .body
        .contains("Authenticator app turned off"));
}

#[tokio::test]
async fn an_admin_resets_two_step_verification() {
    let app = spawn_app().await;
    let admin = admin(&app, "root@example.com", "root").await;
    let (person, authenticator, _) = member(&app, "gil@example.com", "gill").await;
    password_step(&person, "gil@example.com", "", false).await;
    app.advance(Duration::from_secs(30));
    verify(&person, &authenticator.code(&app), "").await;
    assert!(person.is_member().await);
    let id: i64 = crate::on_db!(&app.state.db, |c| sqlx::query_scalar(
        "SELECT id FROM users WHERE email = $1"
    )
    .bind("gil@example.com")
    .fetch_one(c)
    .await)
    .unwrap();
    let page = admin.get(&format!("/admin/users/{id}")).await;
    assert!(
        page.body.contains("Reset two-step verification"),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("Authenticator app, 10 recovery codes left"));
    let res = admin
        .submit(
            &format!("/admin/users/{id}"),
            "/api/admin_action",
            &[("id", &id.to_string()), ("action", "reset_two_step")],
        )
        .await;
    assert!(res.status.is_redirection(), "{}", res.body);
    assert!(res.form_error().is_none(), "{:?}", res.form_error());
    assert!(!person.is_member().await, "sessions ended");
    let mail = app
        .mail("gil@example.com", "Two-step verification was reset")
        .await;
    assert!(mail.contains("/security"));
    let res = person.log_in("gil@example.com", PASSWORD, false).await;
    assert_eq!(res.location(), Some("/profile"), "password alone again");
    app.state.audit.flush().await;
    assert!(person
        .get("/activity")
        .await
        .body
        .contains("An administrator reset two-step verification"));

    // The admin API does the same; others get 403.
    let (_, admin_token, _) = {
        let pair = app.api_login("root@example.com", PASSWORD).await.json();
        ((), pair["access_token"].as_str().unwrap().to_string(), ())
    };
    let path = format!("/api/v1/admin/users/{id}/two-step");
    let res = app
        .api(Method::DELETE, &path, Some(&admin_token), None)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let pair = app.api_login("gil@example.com", PASSWORD).await.json();
    let res = app
        .api(Method::DELETE, &path, pair["access_token"].as_str(), None)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_setup_code_is_throttled_and_the_secret_is_never_shown_after_set_up() {
    let app = spawn_app().await;
    let browser = app.registered("hal@example.com", "hale").await;
    let (authenticator, _) = turn_on_app(&app, &browser).await;
    let page = browser.get("/security").await;
    assert!(!page.body.contains(&authenticator.key));
    assert!(!page.body.contains("Setup key"));
    // Stored sealed, not in base32 or as its bytes.
    let stored: String = crate::on_db!(&app.state.db, |c| sqlx::query_scalar(
        "SELECT secret FROM app_factors"
    )
    .fetch_one(c)
    .await)
    .unwrap();
    assert!(stored.starts_with("v1.") && !stored.contains(&authenticator.key));
    // Setting up again while on is refused.
    let res = browser.submit("/security", "/api/set_up_app", &[]).await;
    assert!(res.form_error().unwrap()["message"]
        .as_str()
        .unwrap()
        .contains("already on"));

    let notice = app
        .mail("hal@example.com", "A second factor was added")
        .await;
    assert!(
        notice.contains("An authenticator app was added"),
        "{notice}"
    );

    // A fresh set-up: wrong codes are throttled.
    let other = app.registered("ivy@example.com", "ivys").await;
    other.submit("/security", "/api/set_up_app", &[]).await;
    // Ten wrong codes per session and quarter hour (a device's allowance), then a wait.
    let mut last = None;
    for attempt in 0..11 {
        let res = other
            .submit("/security", "/api/turn_on_app", &[("code", "111111")])
            .await;
        last = res.form_error();
        if attempt < 10 {
            assert_eq!(last.as_ref().unwrap()["message"], "That code is not valid.");
        }
    }
    assert!(
        last.unwrap()["message"]
            .as_str()
            .unwrap()
            .starts_with("Too many attempts"),
        "throttled"
    );
}

#[tokio::test]
async fn adding_a_second_factor_needs_a_recent_login() {
    let app = spawn_app().await;
    let browser = app.registered("jo@example.com", "jojo").await;
    app.advance(Duration::from_secs(16 * 60));
    let res = browser.submit("/security", "/api/set_up_app", &[]).await;
    let error = res.form_error().expect("refused");
    assert!(
        error["message"].as_str().unwrap().contains("log in again"),
        "{error}"
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM app_factors").await, 0);
    // After logging in again it works.
    browser.log_out().await;
    browser.log_in("jo@example.com", PASSWORD, false).await;
    let res = browser.submit("/security", "/api/set_up_app", &[]).await;
    assert!(res.form_error().is_none(), "{:?}", res.form_error());
    assert_eq!(app.scalar("SELECT COUNT(*) FROM app_factors").await, 1);
}
