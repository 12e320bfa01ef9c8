//! Administration and the audit trail: the admin area, its rules, the command that grants the
//! first admin, and the events every flow records.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::{self, spawn_app, token_in, Browser, TestApp, NEW_PASSWORD, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Runs the real binary's admin command against the app's database. On the blocking pool:
/// the app's server runs on this test's runtime and must keep serving meanwhile.
pub(crate) async fn admin_command(app: &TestApp, verb: &str, email: &str) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .args(["admin", verb, email])
        .env("DATA_DIR", app.data_dir())
        .env("DATABASE_URL", &app.state.config.database_url)
        .env("PUBLIC_URL", &app.base)
        .env("RUST_LOG", "warn");
    tokio::task::spawn_blocking(move || command.output().expect("run gatehouse"))
        .await
        .unwrap()
}

pub(crate) async fn admin(app: &TestApp, email: &str, username: &str) -> Browser {
    let browser = app.registered(email, username).await;
    let out = admin_command(app, "grant", email).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("is now an administrator"));
    browser
}

async fn act(browser: &Browser, id: i64, action: &str) -> common::Page {
    browser
        .submit(
            "/admin/users",
            "/api/admin_action",
            &[("id", &id.to_string()), ("action", action)],
        )
        .await
}

async fn user_id(app: &TestApp, email: &str) -> i64 {
    crate::on_db!(&app.state.db, |c| sqlx::query_scalar(
        "SELECT id FROM users WHERE email = $1"
    )
    .bind(email)
    .fetch_one(c)
    .await)
    .unwrap()
}

/// (event, actor, subject) rows, once the audit writer has stored every event recorded so far.
async fn events(app: &TestApp) -> Vec<(String, Option<i64>, Option<i64>, String)> {
    app.state.audit.flush().await;
    crate::on_db!(&app.state.db, |c| sqlx::query_as(
        "SELECT event, actor_id, subject_id, details || ' ' || ip_address || ' ' || user_agent
         FROM audit_events ORDER BY id",
    )
    .fetch_all(c)
    .await)
    .unwrap()
}

#[tokio::test]
async fn the_admin_area_does_not_exist_for_anyone_else() {
    let app = spawn_app().await;
    let member = app.registered("bob@example.com", "bob").await;
    let bob = user_id(&app, "bob@example.com").await;
    for path in ["/admin/users", &format!("/admin/users/{bob}")] {
        assert_eq!(
            member.get(path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(
            app.browser().get(path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let (_, token, _) = app.api_member("carol@example.com").await;
    let calls = [
        (Method::GET, "/api/v1/admin/users".to_string(), None),
        (Method::GET, format!("/api/v1/admin/users/{bob}"), None),
        (
            Method::PATCH,
            format!("/api/v1/admin/users/{bob}"),
            Some(json!({"is_active": false})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/admin/users/{bob}/sessions"),
            None,
        ),
    ];
    for (method, path, body) in calls {
        let res = app.api(method.clone(), &path, Some(&token), body).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(
            app.api(method, &path, None, None).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let res = act(&member, bob, "deactivate").await;
    assert_eq!(res.form_error().unwrap()["kind"], "Forbidden");
    assert!(member.is_member().await, "nothing changed");
}

#[tokio::test]
async fn the_command_grants_and_revokes_the_role() {
    let app = spawn_app().await;
    let ada = admin(&app, "ada@example.com", "ada").await;
    assert_eq!(ada.get("/admin/users").await.status, StatusCode::OK);
    let unknown = admin_command(&app, "grant", "nobody@example.com").await;
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("No account"));
    app.registered("bob@example.com", "bob").await;
    admin_command(&app, "grant", "bob@example.com").await;
    let revoked = admin_command(&app, "revoke", "ada@example.com").await;
    assert!(revoked.status.success());
    assert_eq!(ada.get("/admin/users").await.status, StatusCode::NOT_FOUND);
    let usage = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["admin", "promote"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

#[tokio::test]
async fn deactivation_ends_every_session_at_once() {
    let app = spawn_app().await;
    let ada = admin(&app, "ada@example.com", "ada").await;
    let bob_browser = app.registered("bob@example.com", "bob").await;
    let bob_token = app.api_login("bob@example.com", PASSWORD).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let bob = user_id(&app, "bob@example.com").await;
    let page = ada.get("/admin/users?q=bob%40example").await;
    assert!(page.body.contains("bob@example.com") && page.body.contains("Deactivate"));
    // Rows link each email to its page; the signed-in admin's own row is filtered out.
    assert!(
        !page.body.contains(">ada@example.com</a>"),
        "the search filters"
    );
    let shouted = ada.get("/admin/users?q=BOB").await;
    assert!(
        shouted.body.contains(">bob@example.com</a>"),
        "case-insensitive prefix"
    );

    let res = act(&ada, bob, "deactivate").await;
    assert!(res.form_error().is_none(), "{:?}", res.form_error());
    assert!(
        !bob_browser.is_member().await,
        "the next page is a guest page"
    );
    let me = app
        .api(Method::GET, "/api/v1/users/me", Some(&bob_token), None)
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.api_login("bob@example.com", PASSWORD).await.status,
        StatusCode::FORBIDDEN
    );
    app.mail("bob@example.com", "Your account was deactivated")
        .await;

    act(&ada, bob, "reactivate").await;
    assert_eq!(
        app.api_login("bob@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn admins_cannot_remove_themselves_or_the_last_admin() {
    let app = spawn_app().await;
    let ada = admin(&app, "ada@example.com", "ada").await;
    let ada_id = user_id(&app, "ada@example.com").await;
    let own = act(&ada, ada_id, "deactivate").await;
    assert_eq!(own.form_error().unwrap()["kind"], "Forbidden");
    let demote = act(&ada, ada_id, "make_user").await;
    assert_eq!(
        demote.form_error().unwrap()["kind"],
        "Forbidden",
        "the last admin"
    );

    app.registered("bob@example.com", "bob").await;
    let bob = user_id(&app, "bob@example.com").await;
    assert!(act(&ada, bob, "make_admin").await.form_error().is_none());
    assert!(
        act(&ada, ada_id, "make_user").await.form_error().is_none(),
        "bob remains"
    );
    assert_eq!(ada.get("/admin/users").await.status, StatusCode::NOT_FOUND);

    // The API: bob is now the only admin and cannot be deactivated by anyone.
    let bob_token = app.api_login("bob@example.com", PASSWORD).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .api(
            Method::PATCH,
            &format!("/api/v1/admin/users/{bob}"),
            Some(&bob_token),
            Some(json!({"role": "user"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let res = app
        .api(
            Method::PATCH,
            &format!("/api/v1/admin/users/{ada_id}"),
            Some(&bob_token),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["is_active"], false);
}

#[tokio::test]
async fn paging_shows_every_account_once_while_accounts_are_added() {
    let app = spawn_app().await;
    admin(&app, "ada@example.com", "ada").await;
    let token = app.api_login("ada@example.com", PASSWORD).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let insert = async |i: i64, created: i64| {
        crate::on_db!(&app.state.db, |c| sqlx::query(
            "INSERT INTO users (email, username, password_hash, created_at, updated_at)
             VALUES ($1, $2, 'x', $3, $4)",
        )
        .bind(format!("user{i}@example.com"))
        .bind(format!("user{i}"))
        .bind(created)
        .bind(created)
        .execute(c)
        .await
        .map(drop))
    };
    for i in 0..130 {
        insert(i, 1_000 + i / 3).await.unwrap();
    }
    let mut seen = BTreeSet::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let path = format!("/api/v1/admin/users?q=user&cursor={cursor}");
        let page = app.api(Method::GET, &path, Some(&token), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let page = page.json();
        for user in page["users"].as_array().unwrap() {
            assert!(seen.insert(user["id"].as_i64().unwrap()), "shown twice");
            assert!(user["live_sessions"].is_i64());
        }
        pages += 1;
        // Newcomers arrive while the admin pages through; they are newer than every page.
        insert(1_000 + pages, app.state.now()).await.unwrap();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 130, "none missed");
    let bad = app
        .api(
            Method::GET,
            "/api/v1/admin/users?cursor=nonsense",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn every_security_event_is_recorded_once_with_actor_and_subject() {
    let app = spawn_app().await;
    let ada_browser = admin(&app, "ada@example.com", "ada").await;
    let ada = user_id(&app, "ada@example.com").await;
    let bob_browser = app.registered("bob@example.com", "bob").await;
    let bob = user_id(&app, "bob@example.com").await;
    // Verification, failed and successful logins, a password change, an email change, a
    // reset, a refresh-token theft, an admin action, a deletion.
    let verify = token_in(
        &app.mail("bob@example.com", "Confirm your email").await,
        "/verify-email",
    );
    bob_browser
        .submit("/verify-email", "/api/confirm_email", &[("token", &verify)])
        .await;
    app.api_login("bob@example.com", "wrong password").await;
    app.api_login("nobody@example.com", "wrong password").await;
    // Strangers guessing at dan's password are slowed down after five failures.
    let dan = app.api_register("dan@example.com").await["id"]
        .as_i64()
        .unwrap();
    for _ in 0..6 {
        app.api_login("dan@example.com", "wrong password").await;
    }
    let pair = app.api_login("bob@example.com", PASSWORD).await.json();
    let refresh = pair["refresh_token"].as_str().unwrap().to_string();
    let renew = |token: String| {
        let browser = app.browser();
        async move {
            browser
                .api(
                    Method::POST,
                    "/api/v1/auth/refresh",
                    None,
                    Some(json!({"refresh_token": token})),
                )
                .await
        }
    };
    renew(refresh.clone()).await;
    app.advance(Duration::from_secs(30));
    renew(refresh).await;
    bob_browser.change_password(PASSWORD, NEW_PASSWORD).await;
    bob_browser
        .submit(
            "/profile",
            "/api/update_profile",
            &[
                ("username", "bob"),
                ("email", "bob@new.example.com"),
                ("current_password", NEW_PASSWORD),
            ],
        )
        .await;
    let change = token_in(
        &app.mail("bob@new.example.com", "Confirm your new").await,
        "/verify-email",
    );
    bob_browser
        .submit("/verify-email", "/api/confirm_email", &[("token", &change)])
        .await;
    app.advance(Duration::from_secs(120));
    app.browser()
        .submit(
            "/forgot-password",
            "/api/forgot_password",
            &[("email", "bob@new.example.com")],
        )
        .await;
    let reset = token_in(
        &app.mail("bob@new.example.com", "Reset your password").await,
        "/reset-password",
    );
    let res = app
        .api(
            Method::POST,
            "/api/v1/auth/password/reset",
            None,
            Some(json!({"token": reset, "password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    act(&ada_browser, bob, "log_out_everywhere").await;
    let carol = app.registered("carol@example.com", "carol").await;
    let carol_id = user_id(&app, "carol@example.com").await;
    carol
        .submit("/profile", "/api/delete_account", &[("password", PASSWORD)])
        .await;

    let rows = events(&app).await;
    let find = |event: &str, subject: Option<i64>| {
        rows.iter()
            .filter(|(e, _, s, _)| e == event && *s == subject)
            .collect::<Vec<_>>()
    };
    let once = |event: &str, actor: Option<i64>, subject: Option<i64>| {
        let found = find(event, subject);
        assert_eq!(found.len(), 1, "{event} for {subject:?}: {rows:#?}");
        assert_eq!(found[0].1, actor, "actor of {event}");
    };
    once("registered", Some(bob), Some(bob));
    once("email_verified", Some(bob), Some(bob));
    once("refresh_token_reused", None, Some(bob));
    once("password_changed", Some(bob), Some(bob));
    once("email_change_requested", Some(bob), Some(bob));
    once("email_changed", Some(bob), Some(bob));
    once("reset_requested", None, Some(bob));
    once("password_reset", None, Some(bob));
    once("admin_logged_out", Some(ada), Some(bob));
    once("account_deleted", Some(carol_id), Some(carol_id));
    assert_eq!(find("login_failed", Some(bob)).len(), 1);
    assert!(find("login_failed", None)[0].3.contains("no such account"));
    assert!(!find("login_succeeded", Some(bob)).is_empty());
    assert!(!find("verification_sent", Some(bob)).is_empty());
    assert!(!find("session_ended", Some(bob)).is_empty());
    once("admin_role_changed", None, Some(ada));
    assert_eq!(find("login_failed", Some(dan)).len(), 5);
    once("login_throttled", None, Some(dan));

    // No secret in any event.
    let dump = format!("{rows:?}");
    for secret in [PASSWORD, NEW_PASSWORD, &verify, &change, &reset, "argon2"] {
        assert!(!dump.contains(secret), "a secret was recorded");
    }
}

#[tokio::test]
async fn each_person_sees_only_their_own_activity() {
    let app = spawn_app().await;
    let ada = app.registered("ada@example.com", "ada").await;
    let bob = app.registered("bob@example.com", "bob").await;
    ada.log_in("ada@example.com", PASSWORD, false).await;
    app.api_login("ada@example.com", "wrong password").await;
    events(&app).await;
    let page = ada.get("/activity").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Security activity"));
    assert!(
        page.body.contains("Log in from Chrome on Linux, 127.0.0.1"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Failed log-in attempt"));
    let newest = page.body.find("Failed log-in attempt").unwrap();
    let oldest = page.body.find("Account created").unwrap();
    assert!(newest < oldest, "newest first");
    let bobs = bob.get("/activity").await;
    assert!(!bobs.body.contains("Failed log-in attempt"));
    assert_eq!(
        app.browser().get("/activity").await.status,
        StatusCode::SEE_OTHER
    );
}
