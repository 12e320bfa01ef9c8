//! Rotating refresh tokens, remember me, silent renewal, expiry and the sessions list.

use std::time::Duration;

use crate::common::{self, eventually, spawn_app, spawn_app_with, Browser, PASSWORD};
use gatehouse::server::sessions;
use reqwest::StatusCode;

/// Access tokens live 1 s; validation allows 5 s of clock skew.
const PAST_ACCESS_TTL: Duration = Duration::from_secs(7);
/// Longer than the 10 s in which a spent refresh token is answered with the current pair.
const PAST_REUSE_GRACE: Duration = Duration::from_secs(11);

fn sessions_of(page: &common::Page) -> Vec<serde_json::Value> {
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.json().as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn expired_access_token_is_renewed_on_the_same_response() {
    let app = spawn_app_with(&[("ACCESS_TOKEN_TTL", "1")]).await;
    let browser = app.registered("ada@example.com", "ada").await;
    let before = browser.cookies();
    app.advance(PAST_ACCESS_TTL);
    let page = browser.get("/profile").await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "served as the person, not redirected"
    );
    assert!(page.body.contains("ada@example.com"));
    let access = page
        .set_cookie("gatehouse_access")
        .expect("new access cookie");
    let refresh = page
        .set_cookie("gatehouse_refresh")
        .expect("new refresh cookie");
    assert!(access.contains("HttpOnly") && refresh.contains("HttpOnly"));
    let after = browser.cookies();
    assert_ne!(before["gatehouse_access"], after["gatehouse_access"]);
    assert_ne!(before["gatehouse_refresh"], after["gatehouse_refresh"]);
}

#[tokio::test]
async fn a_remembered_access_token_still_expires_on_time() {
    let app = spawn_app_with(&[("ACCESS_TOKEN_TTL", "1")]).await;
    if app.state.db.is_postgres() {
        // The check cache reads SQLite's WAL index; on PostgreSQL every request asks the
        // database (see README, "Running several nodes").
        assert!(app.state.session_cache.stamp().is_none());
        return;
    }
    let (_, access, _) = app.api_member("ada@example.com").await;
    let me = || {
        app.api(
            reqwest::Method::GET,
            "/api/v1/users/me",
            Some(&access),
            None,
        )
    };
    let cache = &app.state.session_cache;
    let remembered = || {
        cache
            .stamp()
            .is_some_and(|now| cache.get(&access, now).is_some())
    };
    // Until the login's writes have settled, each check goes back to the database.
    eventually("the token's check to be remembered", || async {
        assert_eq!(me().await.status, StatusCode::OK);
        remembered().then_some(())
    })
    .await;

    app.advance(PAST_ACCESS_TTL);
    assert!(remembered(), "nothing was written meanwhile");
    assert_eq!(me().await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_ends_the_whole_session() {
    let app = spawn_app_with(&[("ACCESS_TOKEN_TTL", "1")]).await;
    let browser = app.registered("ada@example.com", "ada").await;
    let stolen = browser.cookies();
    app.advance(PAST_ACCESS_TTL);
    assert!(browser.is_member().await, "renewed");
    let renewed = browser.cookies();
    assert_ne!(stolen["gatehouse_refresh"], renewed["gatehouse_refresh"]);
    app.advance(PAST_REUSE_GRACE);

    let thief = Browser::new(&app.base);
    thief.set_cookies(stolen);
    assert!(
        !thief.is_member().await,
        "a spent refresh token must not work"
    );
    // The newest tokens of that session stop working too.
    let owner = Browser::new(&app.base);
    owner.set_cookies(renewed);
    assert!(!owner.is_member().await, "the session should have ended");
}

#[tokio::test]
async fn a_spent_refresh_token_within_the_grace_gets_the_current_pair() {
    let app = spawn_app_with(&[("ACCESS_TOKEN_TTL", "1")]).await;
    let browser = app.registered("ada@example.com", "ada").await;
    let snapshot = browser.cookies();
    app.advance(PAST_ACCESS_TTL);
    assert!(browser.is_member().await);
    let lost_response = Browser::new(&app.base);
    lost_response.set_cookies(snapshot);
    assert!(
        lost_response.is_member().await,
        "a retry moments later is not theft"
    );
    assert_eq!(
        lost_response.cookie("gatehouse_refresh"),
        browser.cookie("gatehouse_refresh"),
        "answered with the pair already issued"
    );
}

#[tokio::test]
async fn concurrent_renewals_do_not_log_the_person_out() {
    let app = spawn_app_with(&[("ACCESS_TOKEN_TTL", "1")]).await;
    let browser = app.registered("ada@example.com", "ada").await;
    app.advance(PAST_ACCESS_TTL);
    let cookies = browser.cookies();
    let mut tabs = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let tab = Browser::new(&app.base);
        tab.set_cookies(cookies.clone());
        tabs.spawn(async move {
            let page = tab.get("/profile").await;
            (page.status, tab.cookies())
        });
    }
    let results = tabs.join_all().await;
    for (status, _) in &results {
        assert_eq!(*status, StatusCode::OK, "a parallel request was logged out");
    }
    let pairs: std::collections::BTreeSet<_> = results
        .iter()
        .map(|(_, cookies)| cookies["gatehouse_refresh"].clone())
        .collect();
    assert_eq!(pairs.len(), 1, "every tab got the same new pair");
    let next = Browser::new(&app.base);
    next.set_cookies(results[0].1.clone());
    assert!(next.is_member().await);
}

#[tokio::test]
async fn remember_me_decides_whether_cookies_outlive_the_browser() {
    let app = spawn_app_with(&[("REFRESH_TOKEN_TTL", "30d")]).await;
    app.registered("ada@example.com", "ada").await;
    let remembered = app
        .browser()
        .log_in("ada@example.com", PASSWORD, true)
        .await;
    for name in ["gatehouse_access", "gatehouse_refresh"] {
        let cookie = remembered.set_cookie(name).unwrap();
        assert!(cookie.contains("Max-Age=2592000"), "{cookie}");
    }
    let forgotten = app
        .browser()
        .log_in("ada@example.com", PASSWORD, false)
        .await;
    for name in ["gatehouse_access", "gatehouse_refresh"] {
        let cookie = forgotten.set_cookie(name).unwrap();
        assert!(
            !cookie.contains("Max-Age") && !cookie.contains("Expires"),
            "{cookie}"
        );
    }
}

#[tokio::test]
async fn sessions_without_remember_me_end_at_the_absolute_limit() {
    let app = spawn_app_with(&[("BROWSER_SESSION_TTL", "2")]).await;
    let browser = app.registered("ada@example.com", "ada").await;
    assert!(browser.is_member().await);
    app.advance(Duration::from_secs(3));
    assert!(!browser.is_member().await, "past the absolute limit");
    assert!(
        sessions::delete_stale(&app.state).await.unwrap() >= 1,
        "expired rows are cleaned up"
    );
}

#[tokio::test]
async fn idle_sessions_expire() {
    let app = spawn_app_with(&[("SESSION_IDLE_TTL", "2")]).await;
    app.registered("ada@example.com", "ada").await;
    let browser = app.browser();
    browser.log_in("ada@example.com", PASSWORD, true).await;
    assert!(browser.is_member().await);
    app.advance(Duration::from_secs(3));
    assert!(!browser.is_member().await, "unused past the idle limit");
}

#[tokio::test]
async fn the_session_list_shows_only_the_persons_own_sessions() {
    let app = spawn_app().await;
    let ada = app.registered("ada@example.com", "ada").await;
    let ada_phone = app.browser();
    ada_phone.log_in("ada@example.com", PASSWORD, false).await;
    let bob = app.registered("bob@example.com", "bob").await;

    let list = sessions_of(&ada.call("/api/sessions", &[]).await);
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(list.iter().all(|s| s["device"] == "Chrome on Linux"));
    let bob_session = sessions_of(&bob.call("/api/sessions", &[]).await)[0]["id"].clone();
    assert!(list.iter().all(|s| s["id"] != bob_session));

    let page = ada.get("/sessions").await;
    assert!(page.body.contains("This device"));
    assert!(page.body.contains("Log out everywhere else"));
}

#[tokio::test]
async fn ending_another_persons_session_is_refused() {
    let app = spawn_app().await;
    let ada = app.registered("ada@example.com", "ada").await;
    let bob = app.registered("bob@example.com", "bob").await;
    let bob_session = sessions_of(&bob.call("/api/sessions", &[]).await)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = ada.call("/api/end_session", &[("id", &bob_session)]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(bob.is_member().await);
}

#[tokio::test]
async fn logging_out_one_session_ends_it_at_once() {
    let app = spawn_app().await;
    let ada = app.registered("ada@example.com", "ada").await;
    let laptop = app.browser();
    laptop.log_in("ada@example.com", PASSWORD, true).await;
    let list = sessions_of(&ada.call("/api/sessions", &[]).await);
    let other = list.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = ada
        .submit("/sessions", "/api/end_session", &[("id", &other)])
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert!(!laptop.is_member().await);
    assert!(ada.is_member().await);

    let third = app.browser();
    third.log_in("ada@example.com", PASSWORD, false).await;
    let res = ada.call("/api/end_other_sessions", &[]).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(!third.is_member().await);
    assert!(ada.is_member().await);
}

/// Session checks are remembered between database changes (`server::session_cache`): one
/// checked many times must still end at once, and an edited account must show on the next
/// request.
#[tokio::test]
async fn remembered_session_checks_never_outlive_a_change() {
    let app = spawn_app().await;
    let ada = app.registered("ada@example.com", "ada").await;
    let laptop = app.browser();
    laptop.log_in("ada@example.com", PASSWORD, true).await;
    let pair = app.api_login("ada@example.com", PASSWORD).await.json();
    let token = pair["access_token"].as_str().unwrap().to_string();
    let me = || app.api(reqwest::Method::GET, "/api/v1/users/me", Some(&token), None);
    for _ in 0..3 {
        assert!(laptop.is_member().await);
        assert_eq!(me().await.json()["username"], "ada");
    }

    let id = me().await.json()["id"].as_i64().unwrap();
    let res = app
        .api(
            reqwest::Method::PUT,
            &format!("/api/v1/profile/{id}"),
            Some(&token),
            Some(serde_json::json!({"username": "ada_l"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(me().await.json()["username"], "ada_l");
    assert!(ada.get("/profile").await.body.contains("ada_l"));

    let list = sessions_of(&ada.call("/api/sessions", &[]).await);
    assert_eq!(list.len(), 3);
    let res = ada.call("/api/end_other_sessions", &[]).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(!laptop.is_member().await);
    assert_eq!(me().await.status, StatusCode::UNAUTHORIZED);
    assert!(ada.is_member().await);
}
