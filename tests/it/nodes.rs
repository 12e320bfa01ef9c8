//! Two processes on one database act as one service (SPEC §10): what one node does, the other
//! honours on the next request. On SQLite the second process shares the file, which is what
//! two processes on one machine would do; counters of the throttle are per process there (one
//! SQLite file is one node, README "Running several nodes").

use reqwest::{Method, StatusCode};

use crate::common::{spawn_app, spawn_app_with, Browser, PASSWORD};

fn pair_of(page: &crate::common::Page) -> (String, String) {
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let json = page.json();
    let token = |name: &str| json[name].as_str().unwrap().to_string();
    (token("access_token"), token("refresh_token"))
}

async fn renew(app: &crate::common::TestApp, refresh: &str) -> crate::common::Page {
    let body = serde_json::json!({ "refresh_token": refresh });
    app.api(Method::POST, "/api/v1/auth/refresh", None, Some(body))
        .await
}

#[tokio::test]
async fn a_session_ended_on_one_node_is_refused_by_the_other_at_once() {
    let a = spawn_app().await;
    let b = a.another_node().await;
    let (_, token, _) = a.api_member("ada@example.com").await;
    let me = |app: &crate::common::TestApp| {
        let (base, token) = (app.base.clone(), token.clone());
        async move {
            let res = Browser::new(&base)
                .api(Method::GET, "/api/v1/users/me", Some(&token), None)
                .await;
            res.status
        }
    };
    assert_eq!(me(&a).await, StatusCode::OK);
    assert_eq!(me(&b).await, StatusCode::OK);
    // b has just confirmed the session (and may remember that); a ends it.
    let out = a
        .api(Method::POST, "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(me(&b).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&a).await, StatusCode::UNAUTHORIZED);

    // The same for a browser logging out on one node and coming back through the other.
    let browser = a.registered("bob@example.com", "bob").await;
    let elsewhere = browser.through(&b.base);
    assert!(elsewhere.is_member().await);
    browser.log_out().await;
    let stale = browser.through(&b.base);
    stale.set_cookies(elsewhere.cookies());
    assert!(
        !stale.is_member().await,
        "the ended session is refused on b"
    );
}

#[tokio::test]
async fn refresh_rotation_grace_and_reuse_work_whichever_node_answers() {
    let a = spawn_app().await;
    let b = a.another_node().await;
    a.api_register("ada@example.com").await;
    let (_, first) = pair_of(&a.api_login("ada@example.com", PASSWORD).await);
    let (_, second) = pair_of(&renew(&a, &first).await);
    // b never saw that renewal: within the grace it gives the client the same pair.
    let (access, again) = pair_of(&renew(&b, &first).await);
    assert_eq!(again, second, "the session's current refresh token");
    let me = b
        .api(Method::GET, "/api/v1/users/me", Some(&access), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    let (_, third) = pair_of(&renew(&b, &second).await);
    // `first` is now two renewals behind: theft, whichever node sees it.
    assert_eq!(renew(&a, &first).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(renew(&b, &third).await.status, StatusCode::UNAUTHORIZED);

    // Parallel renewals with one token on both nodes: one rotation, one pair for both.
    let (_, token) = pair_of(&a.api_login("ada@example.com", PASSWORD).await);
    let (x, y) = tokio::join!(renew(&a, &token), renew(&b, &token));
    let (x, y) = (pair_of(&x).1, pair_of(&y).1);
    assert_eq!(x, y);
    assert_eq!(renew(&b, &x).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_double_click_answered_by_two_nodes_creates_one_project() {
    let a = spawn_app().await;
    let b = a.another_node().await;
    let browser = a.registered("ada@example.com", "ada").await;
    let on_b = browser.through(&b.base);
    let fields = [("name", "Garden"), ("description", "Veg")];
    let (first, second) = tokio::join!(
        browser.submit("/projects", "/api/create_project", &fields),
        on_b.submit("/projects", "/api/create_project", &fields),
    );
    assert_eq!(
        (first.status, second.status),
        (StatusCode::FOUND, StatusCode::FOUND)
    );
    assert_eq!(a.scalar("SELECT COUNT(*) FROM projects").await, 1);
}

#[tokio::test]
async fn throttle_limits_count_across_nodes() {
    let a = spawn_app_with(&[("REGISTRATION_LIMIT", "3")]).await;
    if !a.state.db.is_postgres() {
        // One SQLite file is one node: its counters are per process (README).
        return;
    }
    let b = a.another_node().await;
    a.api_register("ada@example.com").await;
    let nodes = [&a, &b];
    // Five wrong passwords, spread over both nodes, use up the account's allowance.
    for i in 0..5 {
        let res = nodes[i % 2]
            .api_login("ada@example.com", "wrong password!")
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    }
    for node in nodes {
        let res = node.api_login("ada@example.com", PASSWORD).await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
        assert!(res.headers.get("retry-after").is_some());
    }
    // Parallel guesses on both nodes cannot slip past the limit either.
    b.api_register("bob@example.com").await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..10 {
        let browser = Browser::new(&nodes[i % 2].base);
        guesses.spawn(async move {
            let body =
                serde_json::json!({"email": "bob@example.com", "password": "wrong password!"});
            let res = browser
                .api(Method::POST, "/api/v1/auth/login", None, Some(body))
                .await;
            res.status
        });
    }
    let answers = guesses.join_all().await;
    let wrong = answers
        .iter()
        .filter(|status| **status == StatusCode::UNAUTHORIZED)
        .count();
    let refused = answers
        .iter()
        .filter(|status| **status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // (A guess the hashing queue turned away, 503, counts for nothing.)
    assert!(
        wrong <= 5,
        "{answers:?}: no more than the allowance was checked"
    );
    assert!(refused >= 5, "{answers:?}");

    // Registrations from one address: three an hour between both nodes (two are used above).
    let res = b
        .api(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(serde_json::json!({"email": "cy@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let res = a
        .api(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(serde_json::json!({"email": "dee@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert!(
        a.state.throttle.entries().await > 0,
        "the counters are in the database"
    );
}
