//! Email that really arrives: confirmation of addresses, password reset and confirmed email
//! changes, read back from the outbox (or an SMTP server on loopback), over real HTTP.

use std::time::{Duration, Instant};

use crate::common::{
    self, eventually, is_mail_to, link_in, spawn_app, spawn_app_with, token_in, SmtpSink,
    NEW_PASSWORD, PASSWORD,
};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Messages to `to` in the outbox table, delivered or not.
async fn queued_for(app: &common::TestApp, to: &str) -> i64 {
    crate::on_db!(&app.state.db, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE recipient = $1"
    )
    .bind(to)
    .fetch_one(c)
    .await)
    .unwrap()
}

/// Waits until ada@example.com has been sent `count` reset links; they come oldest first.
async fn resets_to_ada(app: &common::TestApp, count: usize) -> Vec<String> {
    let what = format!("{count} reset links to ada@example.com");
    eventually(what, || async {
        let resets: Vec<String> = app
            .outbox()
            .into_iter()
            .filter(|m| is_mail_to(m, "ada@example.com") && m.contains("Reset your password"))
            .collect();
        (resets.len() == count).then_some(resets)
    })
    .await
}

/// Asks, from `browser`'s profile form, to move the account to `new_email`.
async fn request_email_change(browser: &common::Browser, new_email: &str) -> common::Page {
    browser
        .submit(
            "/profile",
            "/api/update_profile",
            &[
                ("username", "ada"),
                ("email", new_email),
                ("current_password", PASSWORD),
            ],
        )
        .await
}

#[tokio::test]
async fn registration_mails_a_link_that_confirms_the_address() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    let profile = browser.get("/profile").await;
    assert!(profile.body.contains("Not verified"));
    assert!(profile.body.contains("Resend confirmation email"));

    let mail = app
        .mail("ada@example.com", "Confirm your email address")
        .await;
    let link = link_in(&mail, "/verify-email");
    assert!(
        link.starts_with(&format!("{}/verify-email?token=", app.base)),
        "{link}"
    );
    // Opening the link spends nothing: a mail scanner may fetch it.
    let page = browser.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Confirm email address"));
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert_eq!(page.headers["cache-control"], "no-store");
    let page_again = browser.get(&link).await;
    assert!(page_again.body.contains("Confirm email address"));

    let token = token_in(&mail, "/verify-email");
    let res = browser
        .submit("/verify-email", "/api/confirm_email", &[("token", &token)])
        .await;
    assert_eq!(res.location(), Some("/verify-email?done=verified"));
    let done = browser.get("/verify-email?done=verified").await;
    assert!(done.body.contains("your email address is confirmed"));
    let profile = browser.get("/profile").await;
    assert!(profile.body.contains("Verified") && !profile.body.contains("Not verified"));
    assert!(!profile.body.contains("Resend confirmation email"));
}

#[tokio::test]
async fn a_forgotten_password_is_reset_from_the_mailed_link() {
    let app = spawn_app().await;
    app.api_register("ada@example.com").await;
    let other_device = app.browser();
    other_device.log_in("ada@example.com", PASSWORD, true).await;
    assert!(other_device.is_member().await);

    let guest = app.browser();
    let login = guest.get("/login").await;
    assert!(login.body.contains("Forgot your password?"));
    let res = guest
        .submit(
            "/forgot-password",
            "/api/forgot_password",
            &[("email", "ada@example.com")],
        )
        .await;
    assert_eq!(res.location(), Some("/forgot-password?sent=1"));
    assert!(guest
        .get("/forgot-password?sent=1")
        .await
        .body
        .contains("Check your inbox"));

    let mail = app.mail("ada@example.com", "Reset your password").await;
    let link = link_in(&mail, "/reset-password");
    assert!(link.starts_with(&format!("{}/reset-password?token=", app.base)));
    let form = guest.get(&link).await;
    assert!(form.body.contains("Set new password"));
    assert_eq!(form.headers["referrer-policy"], "no-referrer");
    let token = token_in(&mail, "/reset-password");
    let res = guest
        .submit(
            "/reset-password",
            "/api/reset_password",
            &[
                ("token", &token),
                ("new_password", NEW_PASSWORD),
                ("confirm_new_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        res.location(),
        Some("/login?reset=done"),
        "{:?}",
        res.form_error()
    );
    assert!(guest
        .get("/login?reset=done")
        .await
        .body
        .contains("Your password has been changed"));
    assert!(!guest.is_member().await, "not logged in automatically");
    assert!(!other_device.is_member().await, "every session ended");
    assert_eq!(
        app.api_login("ada@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.api_login("ada@example.com", NEW_PASSWORD).await.status,
        StatusCode::OK
    );
    app.mail("ada@example.com", "Your password was changed")
        .await;
}

#[tokio::test]
async fn forgot_password_answers_the_same_for_known_and_unknown_addresses() {
    let app = spawn_app().await;
    app.api_register("ada@example.com").await;
    let known = app.api_forgot("ada@example.com").await;
    let unknown = app.api_forgot("nobody@example.com").await;
    assert_eq!(known.status, StatusCode::ACCEPTED);
    assert_eq!(
        (known.status, known.body.clone()),
        (unknown.status, unknown.body.clone())
    );
    let web = |email: &'static str| {
        let browser = app.browser();
        async move {
            browser
                .submit(
                    "/forgot-password",
                    "/api/forgot_password",
                    &[("email", email)],
                )
                .await
                .location()
                .map(str::to_string)
        }
    };
    assert_eq!(web("bob@example.com").await, web("ada2@example.com").await);
    app.mail("ada@example.com", "Reset your password").await;
    // Each request is worked on in a detached task (so that known and unknown addresses are
    // answered alike): wait until those tasks are done.
    app.state.settled().await;
    // Nothing queued (the table) or delivered (the outbox) for an address without an account.
    for nobody in ["nobody@example.com", "bob@example.com", "ada2@example.com"] {
        assert_eq!(queued_for(&app, nobody).await, 0, "{nobody}");
        assert!(
            !app.outbox().iter().any(|m| is_mail_to(m, nobody)),
            "{nobody}"
        );
    }
    // A malformed address is a form error, whoever asks.
    assert_eq!(
        app.api_forgot("not an email").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn reset_links_expire_work_once_and_only_for_their_purpose() {
    let app = spawn_app().await;
    app.api_register("ada@example.com").await;
    let verify = token_in(
        &app.mail("ada@example.com", "Confirm your email").await,
        "/verify-email",
    );
    // A confirmation token is no reset token, and trying it does not burn it.
    let wrong = app.api_reset(&verify, NEW_PASSWORD).await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND, "{}", wrong.body);

    app.api_forgot("ada@example.com").await;
    let reset = token_in(
        &app.mail("ada@example.com", "Reset your password").await,
        "/reset-password",
    );
    let mut tampered = reset.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        app.api_reset(&tampered, NEW_PASSWORD).await.status,
        StatusCode::NOT_FOUND
    );
    let weak = app.api_reset(&reset, "password").await;
    assert_eq!(
        weak.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a typo does not spend the link"
    );
    assert!(weak.json()["error"]["fields"]["password"].is_string());
    // Trying the confirmation token on the reset form did not burn it.
    let pending = |purpose: &'static str| {
        let db = app.state.db.clone();
        async move {
            crate::on_db!(&db, |c| sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM email_tokens WHERE purpose = $1"
            )
            .bind(purpose)
            .fetch_one(c)
            .await
            .unwrap())
        }
    };
    assert_eq!(pending("verify").await, 1);
    let verified = || {
        let db = app.state.db.clone();
        async move {
            crate::on_db!(&db, |c| sqlx::query_scalar::<_, bool>(
                "SELECT email_verified FROM users WHERE email = $1"
            )
            .bind("ada@example.com")
            .fetch_one(c)
            .await
            .unwrap())
        }
    };
    assert!(!verified().await);
    assert_eq!(
        app.api_reset(&reset, NEW_PASSWORD).await.status,
        StatusCode::NO_CONTENT
    );
    // The reset proved the mailbox: the address is confirmed, and every other pending link
    // of the account (the confirmation links) stopped working.
    assert!(verified().await);
    let res = app
        .browser()
        .submit("/verify-email", "/api/confirm_email", &[("token", &verify)])
        .await;
    assert_ne!(res.location(), Some("/verify-email?done=verified"));
    assert_eq!(pending("verify").await, 0);
    let again = app.api_reset(&reset, "another lantern orbit 99").await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "single use");
    assert!(again.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invalid"));

    app.advance(Duration::from_secs(61));
    app.api_forgot("ada@example.com").await;
    let newest = resets_to_ada(&app, 2).await.pop().unwrap();
    let expiring = token_in(&newest, "/reset-password");
    assert_ne!(expiring, reset);
    app.advance(Duration::from_secs(3601));
    assert_eq!(
        app.api_reset(&expiring, NEW_PASSWORD).await.status,
        StatusCode::NOT_FOUND,
        "expired"
    );
}

#[tokio::test]
async fn a_new_reset_link_replaces_the_older_one() {
    let app = spawn_app().await;
    app.api_register("ada@example.com").await;
    app.api_forgot("ada@example.com").await;
    let first = token_in(
        &app.mail("ada@example.com", "Reset your password").await,
        "/reset-password",
    );
    app.advance(Duration::from_secs(61));
    app.api_forgot("ada@example.com").await;
    let second = token_in(&resets_to_ada(&app, 2).await[1], "/reset-password");
    assert_ne!(second, first);
    assert_eq!(
        app.api_reset(&first, NEW_PASSWORD).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn parallel_use_of_one_link_succeeds_exactly_once() {
    let app = spawn_app().await;
    app.api_register("ada@example.com").await;
    app.api_forgot("ada@example.com").await;
    let token = token_in(
        &app.mail("ada@example.com", "Reset your password").await,
        "/reset-password",
    );
    let mut uses = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (browser, token) = (app.browser(), token.clone());
        uses.spawn(async move {
            browser
                .api(
                    Method::POST,
                    "/api/v1/auth/password/reset",
                    None,
                    Some(json!({"token": token, "password": NEW_PASSWORD})),
                )
                .await
                .status
        });
    }
    let statuses = uses.join_all().await;
    let succeeded = statuses
        .iter()
        .filter(|s| **s == StatusCode::NO_CONTENT)
        .count();
    assert_eq!(succeeded, 1, "{statuses:?}");
}

#[tokio::test]
async fn an_email_change_waits_for_the_new_address_to_confirm() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    let res = request_email_change(&browser, "ada@new.example.com").await;
    assert_eq!(res.location(), Some("/profile?saved=email"));
    let profile = browser.get("/profile").await;
    assert!(
        profile.body.contains("ada@example.com"),
        "the old address stays"
    );
    app.mail("ada@example.com", "Your email address is about to change")
        .await;
    let mail = app
        .mail("ada@new.example.com", "Confirm your new email address")
        .await;
    let token = token_in(&mail, "/verify-email");
    let res = browser
        .submit("/verify-email", "/api/confirm_email", &[("token", &token)])
        .await;
    assert_eq!(res.location(), Some("/verify-email?done=changed"));
    let profile = browser.get("/profile").await;
    assert!(profile.body.contains("ada@new.example.com"));
    assert!(
        !profile.body.contains("Not verified"),
        "the new address proved itself"
    );
}

#[tokio::test]
async fn a_pending_email_change_dies_with_its_session() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    request_email_change(&browser, "ada@new.example.com").await;
    let token = token_in(
        &app.mail("ada@new.example.com", "Confirm your new").await,
        "/verify-email",
    );
    browser.log_out().await;
    let res = app
        .browser()
        .submit("/verify-email", "/api/confirm_email", &[("token", &token)])
        .await;
    assert!(res.form_error().is_some(), "refused: {:?}", res.location());
    assert_eq!(
        app.api_login("ada@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_address_taken_meanwhile_is_refused_at_confirmation() {
    let app = spawn_app().await;
    let (user, token, _) = app.api_member("ada@example.com").await;
    let path = format!("/api/v1/profile/{}", user["id"]);
    let res = app
        .api(
            Method::PUT,
            &path,
            Some(&token),
            Some(json!({"email": "x@example.com", "current_password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let link = token_in(
        &app.mail("x@example.com", "Confirm your new").await,
        "/verify-email",
    );
    app.api_register("x@example.com").await;
    let res = app
        .browser()
        .submit("/verify-email", "/api/confirm_email", &[("token", &link)])
        .await;
    let err = res.form_error().expect("refused");
    assert_eq!(err["kind"], "Conflict");
    assert_eq!(app.me(&token).await["email"], "ada@example.com");
}

#[tokio::test]
async fn resending_the_confirmation_is_limited_to_one_a_minute() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    let first = browser
        .submit("/profile", "/api/resend_confirmation", &[])
        .await;
    assert_eq!(first.location(), Some("/profile?saved=confirmation"));
    let second = browser
        .submit("/profile", "/api/resend_confirmation", &[])
        .await;
    assert_eq!(second.form_error().unwrap()["kind"], "TooManyRequests");
    app.advance(Duration::from_secs(61));
    let third = browser
        .submit("/profile", "/api/resend_confirmation", &[])
        .await;
    assert_eq!(third.location(), Some("/profile?saved=confirmation"));
}

#[tokio::test]
async fn required_verification_hides_whether_an_address_is_taken() {
    let app = spawn_app_with(&[("EMAIL_VERIFICATION", "required")]).await;
    let register = |email: &'static str| {
        let browser = app.browser();
        async move {
            browser
                .api(
                    Method::POST,
                    "/api/v1/auth/register",
                    None,
                    Some(json!({"email": email, "password": PASSWORD})),
                )
                .await
        }
    };
    let new = register("ada@example.com").await;
    let taken = register("ada@example.com").await;
    assert_eq!(new.status, StatusCode::ACCEPTED, "{}", new.body);
    assert_eq!(
        (new.status, new.body.clone()),
        (taken.status, taken.body.clone())
    );
    app.mail("ada@example.com", "Someone tried to register")
        .await;
    let web = app
        .browser()
        .register("bob@example.com", "bob", PASSWORD)
        .await;
    assert_eq!(web.location(), Some("/register?sent=1"));

    // The unconfirmed account's own password answers as a wrong one does: an address that
    // someone else registered first looks no different.
    let refused = app.api_login("ada@example.com", PASSWORD).await;
    let wrong = app.api_login("ada@example.com", NEW_PASSWORD).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert_eq!((refused.status, refused.body), (wrong.status, wrong.body));
    let token = token_in(
        &app.mail("ada@example.com", "Confirm your email address")
            .await,
        "/verify-email",
    );
    app.browser()
        .submit("/verify-email", "/api/confirm_email", &[("token", &token)])
        .await;
    assert_eq!(
        app.api_login("ada@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn mail_waits_for_a_dead_smtp_server_and_arrives_when_it_is_back() {
    let parked = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = parked.local_addr().unwrap().port();
    drop(parked);
    let smtp = format!("smtp://127.0.0.1:{port}");
    let app = spawn_app_with(&[
        ("SMTP_URL", &smtp),
        ("MAIL_FROM", "Gatehouse <accounts@example.com>"),
    ])
    .await;
    app.api_register("ada@example.com").await;
    let started = Instant::now();
    let answer = app.api_forgot("ada@example.com").await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the request does not wait for SMTP"
    );
    // The worker has tried, failed and kept the message for later.
    let error = eventually("a failed delivery of the reset link", || async {
        crate::on_db!(&app.state.db, |c| sqlx::query_scalar::<_, String>(
            "SELECT last_error FROM outbox
             WHERE subject = 'Reset your password' AND attempts >= 1 AND last_error IS NOT NULL",
        )
        .fetch_optional(c)
        .await)
        .unwrap()
    })
    .await;
    assert!(!error.is_empty());
    let backlog = app.state.mailer.backlog().await.unwrap();
    assert!(backlog >= 1, "still queued while the server is down");

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let sink = SmtpSink::start(listener).await;
    app.advance(Duration::from_secs(300));
    let reset = eventually("the reset link to reach the SMTP server", || async {
        sink.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| common::decoded(m))
            .find(|m| m.contains("Reset your password"))
    })
    .await;
    assert!(reset.contains(&format!("{}/reset-password?token=", app.base)));
    assert!(reset.contains("From: Gatehouse <accounts@example.com>"));
}

#[tokio::test]
async fn workers_sharing_the_outbox_never_take_the_same_message() {
    use gatehouse::server::mail::{self, Mail};
    use gatehouse::server::store::outbox;
    let app = spawn_app().await;
    let now = app.state.now();
    let mut tx = app.state.db.begin().await.unwrap();
    for i in 0..60 {
        let mail = Mail {
            to: format!("user{i}@example.com"),
            subject: "Queued".into(),
            body: "Hello".into(),
        };
        mail::enqueue(&mut tx, &mail, now).await.unwrap();
    }
    tx.commit().await.unwrap();
    // Four claimers at once (as four nodes' workers would be), beside the app's own worker.
    let claimers = (0..4).map(|_| {
        let db = app.state.db.clone();
        tokio::spawn(async move {
            let mut taken = Vec::new();
            loop {
                let mut conn = db.acquire().await.unwrap();
                let claimed = outbox::claim_due(&mut conn, now, 60, 5).await.unwrap();
                if claimed.is_empty() {
                    return taken;
                }
                taken.extend(claimed.into_iter().map(|mail| mail.id));
            }
        })
    });
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let distinct: std::collections::BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        all.len(),
        "a message was claimed twice: {all:?}"
    );
    assert!(!all.is_empty());
}
