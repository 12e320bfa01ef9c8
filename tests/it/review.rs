//! The findings of the attacker's-eye review (issue 23): each test failed on the code before
//! its fix.

use std::time::Duration;

use crate::common::{
    spawn_app, spawn_app_with, token_in, Browser, TestApp, NEW_PASSWORD, PASSWORD,
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REQUIRED: [(&str, &str); 1] = [("EMAIL_VERIFICATION", "required")];

/// How many messages with `subject` are queued or sent (the outbox table: the worker may still
/// be writing the files).
async fn queued(app: &TestApp, subject: &str) -> i64 {
    crate::on_db!(&app.state.db, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE subject = $1"
    )
    .bind(subject)
    .fetch_one(c)
    .await)
    .unwrap()
}

/// Sends `head` as the whole request on a fresh connection and returns the status line (or
/// what came back, if anything).
async fn raw_request(app: &TestApp, head: &str) -> String {
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    });
    let _ = read.await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn made_up_methods_are_refused_and_leave_no_trace_in_the_metrics() {
    let app = spawn_app().await;
    let browser = app.browser();
    for i in 0..50 {
        let method = Method::from_bytes(format!("XMADEUP{i:04}").as_bytes()).unwrap();
        let page = browser.request(method, "/", &[], None).await;
        assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(page.headers.contains_key("allow"));
    }
    let api = browser
        .request(
            Method::from_bytes(b"XMADEUP").unwrap(),
            "/api/v1/users/me",
            &[],
            None,
        )
        .await;
    assert_eq!(api.json()["error"]["code"], "method_not_allowed");
    let metrics = gatehouse::server::http::metrics::render(&app.state).await;
    assert!(!metrics.contains("XMADEUP"), "{metrics}");
    assert!(metrics.contains("method=\"other\""), "{metrics}");
}

#[tokio::test]
async fn connect_and_trace_are_answered_405_without_reaching_a_fallback() {
    let app = spawn_app().await;
    let host = app.base.trim_start_matches("http://").to_string();
    let connect_authority = format!("CONNECT {host} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let connect_file = format!("CONNECT /favicon.svg HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let trace = format!("TRACE / HTTP/1.1\r\nHost: {host}\r\n\r\n");
    for head in [connect_authority, connect_file, trace] {
        let status = raw_request(&app, &head).await;
        assert!(status.starts_with("HTTP/1.1 405"), "{head:?} → {status:?}");
    }
    // The server still serves.
    assert_eq!(app.browser().get("/").await.status, StatusCode::OK);
}

/// A member whose address is confirmed, in an app that requires confirmation; returns the
/// logged-in browser's access token.
async fn confirmed_member(app: &TestApp, email: &str) -> String {
    let body = json!({"email": email, "password": PASSWORD});
    let res = app
        .api(Method::POST, "/api/v1/auth/register", None, Some(body))
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let token = token_in(
        &app.mail(email, "Confirm your email address").await,
        "/verify-email",
    );
    app.browser()
        .submit("/verify-email", "/api/confirm_email", &[("token", &token)])
        .await;
    let pair = app.api_login(email, PASSWORD).await;
    assert_eq!(pair.status, StatusCode::OK, "{}", pair.body);
    pair.json()["access_token"].as_str().unwrap().to_string()
}

/// Asks for a reset link for `email` and returns its token.
async fn reset_link(app: &TestApp, email: &str) -> String {
    app.api_forgot(email).await;
    token_in(
        &app.mail(email, "Reset your password").await,
        "/reset-password",
    )
}

/// The API's change of the caller's own email address.
async fn change_email(app: &TestApp, token: &str, email: &str) -> crate::common::Page {
    let me = app.me(token).await;
    let path = format!("/api/v1/profile/{}", me["id"]);
    let body = json!({"email": email, "current_password": PASSWORD});
    app.api(Method::PUT, &path, Some(token), Some(body)).await
}

#[tokio::test]
async fn with_required_verification_a_new_email_answers_the_same_taken_or_free() {
    let app = spawn_app_with(&REQUIRED).await;
    let ada = confirmed_member(&app, "ada@example.com").await;
    confirmed_member(&app, "bob@example.com").await;
    let change = |email: &'static str| change_email(&app, &ada, email);
    let free = change("new@example.com").await;
    app.advance(Duration::from_secs(61));
    let taken = change("bob@example.com").await;
    assert_eq!(free.status, StatusCode::ACCEPTED, "{}", free.body);
    assert_eq!((free.status, free.body), (taken.status, taken.body));
    // The owner of the taken address is told; no link goes there.
    let notice = app
        .mail("bob@example.com", "Someone tried to use your address")
        .await;
    assert!(!notice.contains("/verify-email"), "{notice}");
    // Ada's own mailbox gets the same notice both times.
    assert_eq!(
        queued(&app, "Your email address is about to change").await,
        2
    );
}

#[tokio::test]
async fn account_ids_are_never_given_out_again() {
    let app = spawn_app().await;
    app.registered("ada@example.com", "ada").await;
    let bob = app.registered("bob@example.com", "bob").await;
    let bob_id = app.api_login("bob@example.com", PASSWORD).await;
    let bob_token = bob_id.json()["access_token"].as_str().unwrap().to_string();
    let old_device = bob_id.json()["device_token"].as_str().unwrap().to_string();
    let bob_id = app.me(&bob_token).await["id"].as_i64().unwrap();
    let deleted = bob
        .submit("/profile", "/api/delete_account", &[("password", PASSWORD)])
        .await;
    assert!(deleted.status.is_redirection(), "{}", deleted.body);

    let (carol, carol_token, _) = app.api_member("carol@example.com").await;
    assert!(carol["id"].as_i64().unwrap() > bob_id, "{carol}");
    // Nothing of Bob's trail is Carol's.
    app.state.audit.flush().await;
    let browser = Browser::new(&app.base);
    browser.log_in("carol@example.com", PASSWORD, false).await;
    let activity = browser.get("/activity").await;
    assert!(
        !activity.body.contains("Account deleted"),
        "{}",
        activity.body
    );
    // Bob's device token is no device of any account now.
    let _ = carol_token;
    let device = app.state.keys.verify_device(&old_device, app.state.now());
    let device = device.expect("a genuine, unexpired token");
    let carol_row = gatehouse::server::accounts::find_by_email(&app.state, "carol@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(!device.belongs_to(carol_row.id, carol_row.created_at));
}

#[tokio::test]
async fn a_refused_unconfirmed_login_sends_a_fresh_link_and_a_reset_confirms_the_address() {
    let app = spawn_app_with(&REQUIRED).await;
    let body = json!({"email": "ada@example.com", "password": PASSWORD});
    app.api(Method::POST, "/api/v1/auth/register", None, Some(body))
        .await;
    app.mail("ada@example.com", "Confirm your email address")
        .await;
    // The first link is lost; logging in with the right password sends another.
    app.advance(Duration::from_secs(61));
    let refused = app.api_login("ada@example.com", PASSWORD).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    app.state.settled().await;
    assert_eq!(queued(&app, "Confirm your email address").await, 2);
    // A wrong password sends nothing.
    app.advance(Duration::from_secs(61));
    app.api_login("ada@example.com", NEW_PASSWORD).await;
    app.state.settled().await;
    assert_eq!(queued(&app, "Confirm your email address").await, 2);

    // A reset link proves the mailbox as well as a confirmation link does.
    let reset = reset_link(&app, "ada@example.com").await;
    let done = app.api_reset(&reset, NEW_PASSWORD).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    let login = app.api_login("ada@example.com", NEW_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
}

#[tokio::test]
async fn registering_a_taken_address_again_and_again_mails_its_owner_once_a_minute() {
    let app = spawn_app_with(&REQUIRED).await;
    confirmed_member(&app, "ada@example.com").await;
    for _ in 0..5 {
        let body = json!({"email": "ada@example.com", "password": NEW_PASSWORD});
        let res = app
            .api(Method::POST, "/api/v1/auth/register", None, Some(body))
            .await;
        assert_eq!(res.status, StatusCode::ACCEPTED);
    }
    let notices = queued(&app, "Someone tried to register with your address").await;
    assert_eq!(notices, 1);
}

#[tokio::test]
async fn a_stranger_cannot_use_up_a_persons_reset_links() {
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    app.api_register("ada@example.com").await;
    let forgot = |from: &'static str| {
        let browser = app.browser();
        async move {
            let body = json!({"email": "ada@example.com"}).to_string();
            browser
                .request(
                    Method::POST,
                    "/api/v1/auth/password/forgot",
                    &[("x-forwarded-for", from), ("accept", "application/json")],
                    Some((body, "application/json")),
                )
                .await
        }
    };
    for _ in 0..6 {
        forgot("203.0.113.9").await;
        app.state.settled().await;
        app.advance(Duration::from_secs(61));
    }
    assert_eq!(
        queued(&app, "Reset your password").await,
        5,
        "the stranger's own daily allowance"
    );
    forgot("198.51.100.7").await;
    app.state.settled().await;
    assert_eq!(
        queued(&app, "Reset your password").await,
        6,
        "the owner still gets a link"
    );
}

#[tokio::test]
async fn a_password_change_voids_a_pending_email_change() {
    let app = spawn_app().await;
    let ada = app.registered("ada@example.com", "ada").await;
    let changed = ada
        .submit(
            "/profile",
            "/api/update_profile",
            &[
                ("username", "ada"),
                ("email", "new@example.com"),
                ("current_password", PASSWORD),
            ],
        )
        .await;
    assert!(changed.status.is_redirection(), "{}", changed.body);
    let link = token_in(
        &app.mail("new@example.com", "Confirm your new email address")
            .await,
        "/verify-email",
    );
    let password = ada.change_password(PASSWORD, NEW_PASSWORD).await;
    assert!(password.status.is_redirection(), "{}", password.body);
    let used = ada
        .submit("/verify-email", "/api/confirm_email", &[("token", &link)])
        .await;
    assert_ne!(used.location(), Some("/verify-email?done=email-changed"));
    let me = gatehouse::server::accounts::find_by_email(&app.state, "ada@example.com").await;
    assert!(me.unwrap().is_some(), "the address did not change");
}

#[tokio::test]
async fn an_email_change_voids_the_links_sent_to_the_old_address() {
    let app = spawn_app().await;
    let ada = app.registered("ada@example.com", "ada").await;
    let reset = reset_link(&app, "ada@example.com").await;
    ada.submit(
        "/profile",
        "/api/update_profile",
        &[
            ("username", "ada"),
            ("email", "new@example.com"),
            ("current_password", PASSWORD),
        ],
    )
    .await;
    let link = token_in(
        &app.mail("new@example.com", "Confirm your new email address")
            .await,
        "/verify-email",
    );
    let confirmed = ada
        .submit("/verify-email", "/api/confirm_email", &[("token", &link)])
        .await;
    assert!(confirmed.status.is_redirection());
    let late = app.api_reset(&reset, NEW_PASSWORD).await;
    assert_eq!(late.status, StatusCode::NOT_FOUND, "{}", late.body);
}

#[tokio::test]
async fn a_refused_form_on_a_link_page_comes_back_to_that_page() {
    let app = spawn_app().await;
    app.api_register("ada@example.com").await;
    let reset = reset_link(&app, "ada@example.com").await;
    let browser = app.browser();
    let page = browser.get(&format!("/reset-password?token={reset}")).await;
    let named = page
        .body
        .split("name=\"__page\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form names its page")
        .replace("&amp;", "&");
    assert!(named.starts_with("/reset-password?token="), "{named}");
    // As a browser posts it from a page with `Referrer-Policy: no-referrer`: no Referer.
    let fields = [
        ("__page", named.as_str()),
        ("token", reset.as_str()),
        ("new_password", "short"),
        ("confirm_new_password", "short"),
    ];
    let body = serde_urlencoded::to_string(fields).unwrap();
    let origin = app.base.clone();
    let refused = browser
        .request(
            Method::POST,
            "/api/reset_password",
            &[
                ("accept", "text/html"),
                ("origin", origin.as_str()),
                ("sec-fetch-site", "same-origin"),
            ],
            Some((body, "application/x-www-form-urlencoded")),
        )
        .await;
    let location = refused.location().unwrap_or_default().to_string();
    let path = location.trim_start_matches(&app.base);
    assert!(path.starts_with("/reset-password?token="), "{location}");
    assert!(path.contains("__err="), "{location}");
    let shown = browser.get(path).await;
    assert!(shown.body.contains("role=\"alert\""), "{}", shown.body);
}

#[tokio::test]
async fn members_get_only_the_404_page_of_the_admin_pages() {
    let app = spawn_app().await;
    let member = app.registered("ada@example.com", "ada").await;
    for path in ["/admin/users", "/admin/users/1"] {
        let page = member.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.body.contains("Page not found"), "{path}");
        for admin_only in ["Search", "Deactivated", "All users", "<h1>Users</h1>"] {
            assert!(
                !page.body.contains(admin_only),
                "{path} shows {admin_only:?}"
            );
        }
    }
}

#[tokio::test]
async fn admins_see_which_admin_acted_and_the_person_keeps_neutral_wording() {
    let app = spawn_app().await;
    let member = app.registered("bob@example.com", "bob").await;
    let admin = crate::admin::admin(&app, "root@example.com", "root").await;
    let bob = gatehouse::server::accounts::find_by_email(&app.state, "bob@example.com")
        .await
        .unwrap()
        .unwrap();
    let id = bob.id.to_string();
    let acted = admin
        .submit(
            "/admin/users",
            "/api/admin_action",
            &[("id", &id), ("action", "log_out_everywhere")],
        )
        .await;
    assert!(acted.status.is_redirection(), "{}", acted.body);
    app.state.audit.flush().await;
    let detail = admin.get(&format!("/admin/users/{}", bob.id)).await;
    assert!(
        detail
            .body
            .contains("Administrator root@example.com (root)"),
        "{}",
        detail.body
    );
    member.log_in("bob@example.com", PASSWORD, false).await;
    let own = member.get("/activity").await;
    assert!(
        own.body.contains("An administrator logged the account out"),
        "{}",
        own.body
    );
    assert!(!own.body.contains("root@example.com"));
}

#[tokio::test]
async fn the_last_admin_cannot_delete_their_own_account() {
    let app = spawn_app().await;
    let root = crate::admin::admin(&app, "root@example.com", "root").await;
    let refused = root
        .submit("/profile", "/api/delete_account", &[("password", PASSWORD)])
        .await;
    let error = refused.form_error().expect("a refusal on the page");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("at least one active administrator"),
        "{error}"
    );
    let still = gatehouse::server::accounts::find_by_email(&app.state, "root@example.com").await;
    assert!(still.unwrap().is_some());
}

#[tokio::test]
async fn every_page_describes_the_site() {
    let app = spawn_app().await;
    for path in ["/", "/login", "/register"] {
        let page = app.browser().get(path).await;
        assert!(
            page.body
                .contains("<meta name=\"description\" content=\"Gatehouse: "),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_cross_site_post_cannot_borrow_a_referrer_from_the_page_it_names() {
    let app = spawn_app().await;
    let ada = app.registered("ada@example.com", "ada").await;
    // An old browser's cross-site form post: no Sec-Fetch-Site, no Origin, no Referer, but
    // the field that names a page of this site.
    let body = serde_urlencoded::to_string([("__page", "/profile")]).unwrap();
    let forged = ada
        .request(
            Method::POST,
            "/api/end_other_sessions",
            &[("accept", "text/html")],
            Some((body, "application/x-www-form-urlencoded")),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
}

#[tokio::test]
async fn with_required_verification_the_throttle_answers_an_unconfirmed_login_as_a_wrong_one() {
    let app = spawn_app_with(&REQUIRED).await;
    confirmed_member(&app, "bob@example.com").await;
    let register = |email: &'static str| {
        let body = json!({"email": email, "password": NEW_PASSWORD});
        app.api(Method::POST, "/api/v1/auth/register", None, Some(body))
    };
    // Taken (Bob's) and free (now an unconfirmed account with this password).
    register("bob@example.com").await;
    register("free@example.com").await;
    async fn sixth(app: &TestApp, email: &str) -> crate::common::Page {
        for _ in 0..5 {
            app.api_login(email, NEW_PASSWORD).await;
        }
        app.api_login(email, NEW_PASSWORD).await
    }
    let taken = sixth(&app, "bob@example.com").await;
    let free = sixth(&app, "free@example.com").await;
    assert_eq!(taken.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(free.status, taken.status, "{}", free.body);
}

#[tokio::test]
async fn with_required_verification_asking_for_a_taken_email_voids_the_earlier_link_too() {
    let app = spawn_app_with(&REQUIRED).await;
    let ada = confirmed_member(&app, "ada@example.com").await;
    confirmed_member(&app, "bob@example.com").await;
    let change = |email: &'static str| change_email(&app, &ada, email);
    change("mine@example.com").await;
    let link = token_in(
        &app.mail("mine@example.com", "Confirm your new email address")
            .await,
        "/verify-email",
    );
    app.advance(Duration::from_secs(61));
    change("bob@example.com").await;
    let used = app
        .browser()
        .submit("/verify-email", "/api/confirm_email", &[("token", &link)])
        .await;
    assert_ne!(used.location(), Some("/verify-email?done=email-changed"));
}
