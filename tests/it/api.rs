//! The JSON API under /api/v1: every endpoint, every error case, and the OpenAPI document.

use std::time::Duration;

use crate::common::{spawn_app, Browser, Page, NEW_PASSWORD, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn assert_error(page: &Page, status: StatusCode, code: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    let body = page.json();
    assert_eq!(body["error"]["code"], code, "{}", page.body);
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    assert!(body["error"]["fields"].is_object());
}

#[tokio::test]
async fn register_creates_a_user_without_exposing_the_hash() {
    let app = spawn_app().await;
    let user = app.api_register("Ada.Lovelace@Example.com").await;
    assert_eq!(user["email"], "ada.lovelace@example.com");
    assert_eq!(user["username"], "ada.lovelace", "derived from the email");
    assert_eq!(user["role"], "user");
    assert_eq!(user["is_active"], true);
    assert_eq!(user["email_verified"], false);
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(user.get("password_hash").is_none() && !user.to_string().contains("argon2"));
    let twin = app.api_register("ada.lovelace@other.example.com").await;
    assert_eq!(
        twin["username"], "ada.lovelace2",
        "derived names stay unique"
    );
}

#[tokio::test]
async fn register_rejects_bad_input_with_the_one_error_shape() {
    let app = spawn_app().await;
    app.api_register("ada@example.com").await;
    let post = |body: Value| app.api(Method::POST, "/api/v1/auth/register", None, Some(body));
    let dup = post(json!({"email": "ADA@example.com", "password": PASSWORD})).await;
    assert_error(&dup, StatusCode::CONFLICT, "conflict");
    assert_eq!(
        dup.json()["error"]["fields"]["email"],
        "An account with this email already exists."
    );
    let bad_email = post(json!({"email": "nope", "password": PASSWORD})).await;
    assert_error(
        &bad_email,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert!(bad_email.json()["error"]["fields"]["email"].is_string());
    let weak = post(json!({"email": "b@example.com", "password": "password1"})).await;
    assert_error(&weak, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let bad_name =
        post(json!({"email": "c@example.com", "password": PASSWORD, "username": "x"})).await;
    assert_eq!(
        bad_name.json()["error"]["fields"]["username"],
        "Username must be 3 to 32 characters long."
    );
    let missing = post(json!({"email": "d@example.com"})).await;
    assert_error(
        &missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let unknown =
        post(json!({"email": "e@example.com", "password": PASSWORD, "role": "admin"})).await;
    assert_error(
        &unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );

    let client = Browser::new(&app.base);
    let malformed = client
        .request(
            Method::POST,
            "/api/v1/auth/register",
            &[],
            Some(("{\"email\":".into(), "application/json")),
        )
        .await;
    assert_error(&malformed, StatusCode::BAD_REQUEST, "bad_request");
    let wrong_type = client
        .request(
            Method::POST,
            "/api/v1/auth/register",
            &[],
            Some(("email=a".into(), "text/plain")),
        )
        .await;
    assert_error(
        &wrong_type,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let huge = json!({"email": "f@example.com", "password": "x".repeat(200_000)});
    let too_big = post(huge).await;
    assert_error(&too_big, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

#[tokio::test]
async fn tokens_from_the_oauth2_form_and_json_login_both_work() {
    let app = spawn_app().await;
    app.api_register("ada@example.com").await;
    let client = Browser::new(&app.base);
    let form = client
        .request(
            Method::POST,
            "/api/v1/auth/token",
            &[],
            Some((
                format!(
                    "grant_type=password&username=ada%40example.com&password={}",
                    PASSWORD.replace(' ', "+")
                ),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let pair = form.json();
    assert_eq!(pair["token_type"], "bearer");
    assert_eq!(pair["expires_in"], 900);
    let json_login = app.api_login("ada@example.com", PASSWORD).await.json();
    for token in [&pair["access_token"], &json_login["access_token"]] {
        let me = app
            .api(Method::GET, "/api/v1/users/me", token.as_str(), None)
            .await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.json()["email"], "ada@example.com");
    }
    let bad_grant = client
        .request(
            Method::POST,
            "/api/v1/auth/token",
            &[],
            Some((
                "grant_type=client_credentials&username=a&password=b".into(),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_error(&bad_grant, StatusCode::BAD_REQUEST, "bad_request");
    let json_to_form = app
        .api(Method::POST, "/api/v1/auth/token", None, Some(json!({})))
        .await;
    assert_error(
        &json_to_form,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}

#[tokio::test]
async fn wrong_credentials_are_401_with_www_authenticate_and_then_429() {
    let app = spawn_app().await;
    app.api_register("ada@example.com").await;
    let wrong = app.api_login("ada@example.com", "not the password").await;
    let unknown = app.api_login("zed@example.com", "not the password").await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(
        wrong.json()["error"]["message"],
        "Invalid email or password."
    );
    assert_eq!(wrong.json(), unknown.json());
    assert!(wrong.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    for _ in 0..4 {
        app.api_login("ada@example.com", "not the password").await;
    }
    let throttled = app.api_login("ada@example.com", PASSWORD).await;
    assert_error(
        &throttled,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
    );
    assert!(
        throttled.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn protected_endpoints_need_a_valid_bearer_token() {
    let app = spawn_app().await;
    for token in [None, Some("garbage"), Some("a.b.c")] {
        let res = app.api(Method::GET, "/api/v1/users/me", token, None).await;
        assert_error(&res, StatusCode::UNAUTHORIZED, "unauthenticated");
        assert!(res.headers.contains_key("www-authenticate"));
    }
}

#[tokio::test]
async fn a_refresh_token_works_once_and_reuse_ends_the_session() {
    let app = spawn_app().await;
    let (_, _, refresh) = app.api_member("ada@example.com").await;
    let renew = |token: &str| {
        app.api(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": token})),
        )
    };
    let second = renew(&refresh).await;
    assert_eq!(second.status, StatusCode::OK);
    let second = second.json();
    assert_ne!(second["refresh_token"], refresh.as_str());
    let new_access = second["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        app.api(Method::GET, "/api/v1/users/me", Some(&new_access), None)
            .await
            .status,
        StatusCode::OK
    );

    app.advance(Duration::from_secs(11));
    let reuse = renew(&refresh).await;
    assert_error(&reuse, StatusCode::UNAUTHORIZED, "unauthenticated");
    let me = app
        .api(Method::GET, "/api/v1/users/me", Some(&new_access), None)
        .await;
    assert_eq!(
        me.status,
        StatusCode::UNAUTHORIZED,
        "reuse ended the whole session"
    );
    let newest = renew(second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(newest.status, StatusCode::UNAUTHORIZED);
    let garbage = renew("not-a-token").await;
    assert_error(&garbage, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn logout_makes_the_access_token_fail_at_once() {
    let app = spawn_app().await;
    let (_, access, refresh) = app.api_member("ada@example.com").await;
    let out = app
        .api(Method::POST, "/api/v1/auth/logout", Some(&access), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let me = app
        .api(Method::GET, "/api/v1/users/me", Some(&access), None)
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let renew = app
        .api(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(renew.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn profiles_are_own_or_admin_only() {
    let app = spawn_app().await;
    let (ada, ada_token, _) = app.api_member("ada@example.com").await;
    let (bob, bob_token, _) = app.api_member("bob@example.com").await;
    let ada_path = format!("/api/v1/profile/{}", ada["id"]);
    let bob_path = format!("/api/v1/profile/{}", bob["id"]);
    assert_eq!(
        app.api(Method::GET, &ada_path, Some(&ada_token), None)
            .await
            .json()["email"],
        "ada@example.com"
    );
    let other = app
        .api(Method::GET, &bob_path, Some(&ada_token), None)
        .await;
    assert_error(&other, StatusCode::FORBIDDEN, "forbidden");
    let other_put = app
        .api(
            Method::PUT,
            &bob_path,
            Some(&ada_token),
            Some(json!({"username": "hacked"})),
        )
        .await;
    assert_error(&other_put, StatusCode::FORBIDDEN, "forbidden");

    let renamed = app
        .api(
            Method::PUT,
            &ada_path,
            Some(&ada_token),
            Some(json!({"username": "ada_l"})),
        )
        .await;
    assert_eq!(renamed.json()["username"], "ada_l");
    let email_without_password = app
        .api(
            Method::PUT,
            &ada_path,
            Some(&ada_token),
            Some(json!({"email": "ada@new.example.com"})),
        )
        .await;
    assert_error(
        &email_without_password,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let email_with_password = app
        .api(
            Method::PUT,
            &ada_path,
            Some(&ada_token),
            Some(json!({"email": "ada@new.example.com", "current_password": PASSWORD})),
        )
        .await;
    // The new address must confirm itself first (a link is mailed to it).
    assert_eq!(email_with_password.status, StatusCode::ACCEPTED);
    assert_ne!(email_with_password.json()["email"], "ada@new.example.com");
    let taken = app
        .api(
            Method::PUT,
            &ada_path,
            Some(&ada_token),
            Some(json!({"username": bob["username"]})),
        )
        .await;
    assert_error(&taken, StatusCode::CONFLICT, "conflict");

    crate::on_db!(&app.state.db, |c| sqlx::query(
        "UPDATE users SET role = 'admin' WHERE id = $1"
    )
    .bind(bob["id"].as_i64())
    .execute(c)
    .await
    .map(drop))
    .unwrap();
    let as_admin = app
        .api(Method::GET, &ada_path, Some(&bob_token), None)
        .await;
    assert_eq!(as_admin.status, StatusCode::OK);
    let admin_password = app
        .api(
            Method::PUT,
            &ada_path,
            Some(&bob_token),
            Some(json!({"password": NEW_PASSWORD})),
        )
        .await;
    assert_error(&admin_password, StatusCode::FORBIDDEN, "forbidden");
    let missing = app
        .api(
            Method::GET,
            "/api/v1/profile/999999",
            Some(&bob_token),
            None,
        )
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn password_change_through_the_api_ends_other_sessions() {
    let app = spawn_app().await;
    let (ada, token, _) = app.api_member("ada@example.com").await;
    let other = app.api_login("ada@example.com", PASSWORD).await.json();
    let path = format!("/api/v1/profile/{}", ada["id"]);
    let wrong = app
        .api(
            Method::PUT,
            &path,
            Some(&token),
            Some(json!({"password": NEW_PASSWORD, "current_password": "nope"})),
        )
        .await;
    assert_error(
        &wrong,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let ok = app
        .api(
            Method::PUT,
            &path,
            Some(&token),
            Some(json!({"password": NEW_PASSWORD, "current_password": PASSWORD})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(
        app.api(Method::GET, "/api/v1/users/me", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    let ended = app
        .api(
            Method::GET,
            "/api/v1/users/me",
            other["access_token"].as_str(),
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.api_login("ada@example.com", NEW_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_refused_profile_update_changes_nothing() {
    let app = spawn_app().await;
    let (ada, token, _) = app.api_member("ada@example.com").await;
    let (bob, _, _) = app.api_member("bob@example.com").await;
    let path = format!("/api/v1/profile/{}", ada["id"]);
    let body = json!({"password": NEW_PASSWORD, "current_password": PASSWORD, "username": bob["username"]});
    let res = app.api(Method::PUT, &path, Some(&token), Some(body)).await;
    assert_error(&res, StatusCode::CONFLICT, "conflict");
    assert_eq!(
        app.api_login("ada@example.com", PASSWORD).await.status,
        StatusCode::OK,
        "password unchanged"
    );
    assert_eq!(
        app.api(Method::GET, "/api/v1/users/me", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled() {
    let app = spawn_app().await;
    let (ada, token, _) = app.api_member("ada@example.com").await;
    let path = format!("/api/v1/profile/{}", ada["id"]);
    let guess = json!({"password": NEW_PASSWORD, "current_password": "a wrong guess"});
    for _ in 0..5 {
        let res = app
            .api(Method::PUT, &path, Some(&token), Some(guess.clone()))
            .await;
        assert_error(&res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    let right = json!({"password": NEW_PASSWORD, "current_password": PASSWORD});
    let res = app.api(Method::PUT, &path, Some(&token), Some(right)).await;
    assert_error(&res, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
}

#[tokio::test]
async fn parallel_login_guesses_cannot_outrun_the_throttle() {
    let app = spawn_app().await;
    app.api_register("ada@example.com").await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..12 {
        let base = app.base.clone();
        guesses.spawn(async move {
            let client = Browser::new(&base);
            let body = json!({"email": "ada@example.com", "password": format!("guess number {i}")});
            client
                .request(
                    Method::POST,
                    "/api/v1/auth/login",
                    &[],
                    Some((body.to_string(), "application/json")),
                )
                .await
                .status
        });
    }
    let statuses = guesses.join_all().await;
    let verified = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(
        verified, 5,
        "only five guesses may reach the password check: {statuses:?}"
    );
    assert!(statuses
        .iter()
        .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS));
}

#[tokio::test]
async fn sessions_can_be_listed_and_ended_but_only_ones_own() {
    let app = spawn_app().await;
    let (_, ada_token, _) = app.api_member("ada@example.com").await;
    let second = app.api_login("ada@example.com", PASSWORD).await.json();
    let (_, bob_token, _) = app.api_member("bob@example.com").await;
    let list = app
        .api(Method::GET, "/api/v1/sessions", Some(&ada_token), None)
        .await
        .json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let other_id = list.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let bob_list = app
        .api(Method::GET, "/api/v1/sessions", Some(&bob_token), None)
        .await
        .json();
    let bob_id = bob_list[0]["id"].as_str().unwrap().to_string();

    let refused = app
        .api(
            Method::DELETE,
            &format!("/api/v1/sessions/{bob_id}"),
            Some(&ada_token),
            None,
        )
        .await;
    assert_error(&refused, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        app.api(Method::GET, "/api/v1/users/me", Some(&bob_token), None)
            .await
            .status,
        StatusCode::OK
    );

    let ended = app
        .api(
            Method::DELETE,
            &format!("/api/v1/sessions/{other_id}"),
            Some(&ada_token),
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    let gone = app
        .api(
            Method::GET,
            "/api/v1/users/me",
            second["access_token"].as_str(),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cookie_authenticated_api_requests_get_the_csrf_check() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    let me = browser
        .request(Method::GET, "/api/v1/users/me", &[], None)
        .await;
    assert_eq!(
        me.status,
        StatusCode::OK,
        "cookies authenticate the API too"
    );
    let forged = browser
        .request(
            Method::POST,
            "/api/v1/auth/logout",
            &[("origin", "https://evil.example")],
            None,
        )
        .await;
    assert_error(&forged, StatusCode::FORBIDDEN, "forbidden");
    let same_site = browser
        .request(
            Method::POST,
            "/api/v1/auth/logout",
            &[("origin", &app.base), ("sec-fetch-site", "same-origin")],
            None,
        )
        .await;
    assert_eq!(same_site.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn unknown_endpoints_and_methods_use_the_error_shape() {
    let app = spawn_app().await;
    let missing = app
        .api(Method::GET, "/api/v1/nothing/here", None, None)
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    let method = app
        .api(Method::DELETE, "/api/v1/users/me", None, None)
        .await;
    assert_eq!(method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(method.json()["error"]["code"].is_string());
}

fn openapi_operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_every_route_is_documented() {
    let app = spawn_app().await;
    let doc = app
        .api(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let documented = openapi_operations(&doc);
    // SPEC §4, without password reset (it comes with email support).
    let spec_routes = [
        ("POST", "/api/v1/auth/register"),
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/mfa"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/auth/logout"),
        ("POST", "/api/v1/auth/password/forgot"),
        ("POST", "/api/v1/auth/password/reset"),
        ("GET", "/api/v1/users/me"),
        ("GET", "/api/v1/profile/{id}"),
        ("PUT", "/api/v1/profile/{id}"),
        ("GET", "/api/v1/sessions"),
        ("DELETE", "/api/v1/sessions/{id}"),
        ("GET", "/api/v1/projects"),
        ("POST", "/api/v1/projects"),
        ("GET", "/api/v1/projects/{id}"),
        ("PATCH", "/api/v1/projects/{id}"),
        ("DELETE", "/api/v1/projects/{id}"),
        ("GET", "/api/v1/projects/{id}/tasks"),
        ("POST", "/api/v1/projects/{id}/tasks"),
        ("PATCH", "/api/v1/tasks/{id}"),
        ("DELETE", "/api/v1/tasks/{id}"),
        ("GET", "/api/v1/admin/users"),
        ("GET", "/api/v1/admin/users/{id}"),
        ("PATCH", "/api/v1/admin/users/{id}"),
        ("DELETE", "/api/v1/admin/users/{id}/sessions"),
        ("DELETE", "/api/v1/admin/users/{id}/two-step"),
        ("GET", "/health"),
        ("GET", "/ready"),
    ];
    let mut expected: Vec<(String, String)> = spec_routes
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    let mut found = documented.clone();
    found.sort();
    assert_eq!(found, expected, "the document and the API differ");
    for (method, path) in documented {
        if !path.starts_with("/api/v1/") {
            continue; // health checks answer 200 to anyone
        }
        let concrete = path.replace("{id}", "424242");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let res = app
            .api(method.clone(), &concrete, None, Some(json!({})))
            .await;
        assert_ne!(
            res.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} not routed"
        );
        assert_ne!(
            res.json()["error"]["message"],
            "No such endpoint.",
            "{method} {path} not routed"
        );
        assert!(
            res.status.is_client_error(),
            "{method} {path}: {}",
            res.status
        );
    }
    let op = &doc["paths"]["/api/v1/users/me"]["get"];
    assert!(
        op["responses"]["401"].is_object(),
        "error responses are documented"
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["password"]["flows"]["password"]["tokenUrl"],
        "/api/v1/auth/token"
    );
}

#[tokio::test]
async fn interactive_docs_are_served_from_the_binary() {
    let app = spawn_app().await;
    let client = Browser::new(&app.base);
    let index = client.get("/docs/").await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(index.body.contains("swagger-ui"), "{}", index.body);
    let bundle = client.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert!(bundle.body.len() > 100_000);
}

#[tokio::test]
async fn the_store_finds_an_account_by_email_whatever_its_case_on_either_backend() {
    let app = spawn_app().await;
    let (user, _, _) = app.api_member("ada@example.com").await;
    let found = gatehouse::server::accounts::find_by_email(&app.state, "ADA@Example.com")
        .await
        .unwrap()
        .expect("found");
    assert_eq!(Some(found.id), user["id"].as_i64());
}
