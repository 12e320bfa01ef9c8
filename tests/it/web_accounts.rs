//! Register, log in, log out and profile, over real HTTP against the real router.

use crate::common::{spawn_app, spawn_app_with, Browser, NEW_PASSWORD, PASSWORD};
use reqwest::StatusCode;

#[tokio::test]
async fn register_logs_the_person_in_and_lands_on_profile() {
    let app = spawn_app().await;
    let browser = app.browser();
    let res = browser.register("Ada@Example.com", "ada", PASSWORD).await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(res.location(), Some("/profile"));
    let profile = browser.get("/profile").await;
    assert_eq!(profile.status, StatusCode::OK);
    assert!(
        profile.body.contains("ada@example.com"),
        "email is normalised"
    );
    assert!(profile.body.contains("Member since"));
    assert!(!profile.body.contains("argon2"), "no hash in the page");
}

#[tokio::test]
async fn duplicate_email_in_another_letter_case_is_rejected() {
    let app = spawn_app().await;
    app.registered("ada@example.com", "ada").await;
    let res = app
        .browser()
        .register("  ADA@example.COM ", "ada2", PASSWORD)
        .await;
    let err = res.form_error().expect("error carried back to the form");
    assert_eq!(
        err["fields"]["email"],
        "An account with this email already exists."
    );
    assert!(
        err["values"].as_object().is_none_or(|v| v.is_empty()),
        "typed values stay out of the address: {err}"
    );
    let form = app.browser();
    let refused = form.register("  ADA@example.COM ", "ada2", PASSWORD).await;
    let page = form.get(refused.location().unwrap()).await;
    assert!(
        page.body.contains(r#"value="ada2""#),
        "typed values are kept"
    );
    let js = app
        .browser()
        .call(
            "/api/register",
            &[
                ("email", "Ada@Example.com"),
                ("username", "ada3"),
                ("password", PASSWORD),
                ("confirm_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(js.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn each_invalid_registration_field_gets_its_message() {
    let app = spawn_app().await;
    let cases = [
        (
            "not-an-email",
            "ada",
            PASSWORD,
            PASSWORD,
            "email",
            "Enter a valid email address",
        ),
        (
            "ada@example.com",
            "a",
            PASSWORD,
            PASSWORD,
            "username",
            "Username must be 3 to 32",
        ),
        (
            "ada@example.com",
            "ada lovelace",
            PASSWORD,
            PASSWORD,
            "username",
            "Username may contain only",
        ),
        (
            "ada@example.com",
            "ada",
            "short",
            "short",
            "password",
            "at least 8 characters",
        ),
        (
            "ada@example.com",
            "ada",
            "password123",
            "password123",
            "password",
            "too easy to guess",
        ),
        (
            "ada@example.com",
            "ada",
            PASSWORD,
            "something else",
            "confirm_password",
            "do not match",
        ),
    ];
    for (email, username, password, confirm, field, message) in cases {
        let browser = app.browser();
        let res = browser
            .submit(
                "/register",
                "/api/register",
                &[
                    ("email", email),
                    ("username", username),
                    ("password", password),
                    ("confirm_password", confirm),
                ],
            )
            .await;
        let err = res
            .form_error()
            .unwrap_or_else(|| panic!("{field}: no error"));
        let text = err["fields"][field].as_str().unwrap_or_default();
        assert!(text.contains(message), "{field}: {text:?}");
        assert!(
            err["values"].get("password").is_none(),
            "passwords are never echoed back"
        );
        // The page it returns to shows the message in an alert.
        let page = browser.get(res.location().unwrap()).await;
        assert!(page.body.contains("role=\"alert\""));
        assert!(
            page.body.contains(message),
            "{field} message not on the page"
        );
        assert!(!browser.is_member().await);
    }
}

#[tokio::test]
async fn login_with_correct_password_goes_to_profile() {
    let app = spawn_app().await;
    app.registered("ada@example.com", "ada").await;
    let browser = app.browser();
    let res = browser.log_in("ADA@example.com", PASSWORD, false).await;
    assert_eq!(res.location(), Some("/profile"));
    assert!(browser.is_member().await);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_say_the_same() {
    let app = spawn_app().await;
    app.registered("ada@example.com", "ada").await;
    let wrong = app
        .browser()
        .call(
            "/api/login",
            &[("email", "ada@example.com"), ("password", "nope nope nope")],
        )
        .await;
    let unknown = app
        .browser()
        .call(
            "/api/login",
            &[("email", "bob@example.com"), ("password", "nope nope nope")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.json()["message"], "Invalid email or password.");
    assert_eq!(wrong.json()["message"], unknown.json()["message"]);
    let page = app
        .browser()
        .log_in("bob@example.com", "nope nope nope", false)
        .await;
    assert_eq!(
        page.form_error().unwrap()["message"],
        "Invalid email or password."
    );
}

#[tokio::test]
async fn guest_asking_for_profile_is_redirected_to_login_with_next() {
    let app = spawn_app().await;
    let res = app.browser().get("/profile").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), Some("/login?next=%2Fprofile"));
    assert!(res.body.is_empty(), "no HTML before the redirect");
    let deep = app.browser().get("/projects/7").await;
    assert_eq!(deep.location(), Some("/login?next=%2Fprojects%2F7"));
}

#[tokio::test]
async fn login_follows_a_same_site_next_and_ignores_others() {
    let app = spawn_app().await;
    app.registered("ada@example.com", "ada").await;
    for (next, expected) in [
        ("/sessions", "/sessions"),
        ("//evil.example", "/profile"),
        ("https://evil.example/x", "/profile"),
        ("/\\evil.example", "/profile"),
        ("javascript:alert(1)", "/profile"),
    ] {
        let browser = app.browser();
        let res = browser
            .submit(
                "/login",
                "/api/login",
                &[
                    ("email", "ada@example.com"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.location(), Some(expected), "next={next}");
    }
}

#[tokio::test]
async fn members_opening_login_or_register_go_to_profile() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    for path in ["/login", "/register"] {
        let res = browser.get(path).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert_eq!(res.location(), Some("/profile"));
    }
}

#[tokio::test]
async fn logout_ends_the_session_and_the_old_cookie_is_a_guest() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    let stolen = browser.cookies();
    let res = browser.log_out().await;
    assert_eq!(res.location(), Some("/login"));
    assert!(!browser.is_member().await);
    let replay = Browser::new(&app.base);
    replay.set_cookies(stolen);
    assert!(!replay.is_member().await, "replayed cookies still worked");
}

#[tokio::test]
async fn profile_changes_username_and_email_with_current_password() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    let without = browser
        .submit(
            "/profile",
            "/api/update_profile",
            &[("username", "ada"), ("email", "ada@new.example.com")],
        )
        .await;
    let err = without.form_error().unwrap();
    assert_eq!(
        err["fields"]["current_password"],
        "Enter your current password."
    );
    let res = browser
        .submit(
            "/profile",
            "/api/update_profile",
            &[
                ("username", "ada_l"),
                ("email", "Ada@New.example.com"),
                ("current_password", PASSWORD),
            ],
        )
        .await;
    // The username changes at once; the email once the new address confirms it (tests/email.rs).
    assert_eq!(res.location(), Some("/profile?saved=email"));
    let page = browser.get("/profile?saved=email").await;
    assert!(page.body.contains("ada_l"));
    assert!(page.body.contains("ada@example.com"));
    assert!(page
        .body
        .contains("A confirmation link was sent to the new address."));
    let only_name = browser
        .submit(
            "/profile",
            "/api/update_profile",
            &[("username", "ada_m"), ("email", "ada@example.com")],
        )
        .await;
    assert_eq!(
        only_name.location(),
        Some("/profile?saved=profile"),
        "no password needed"
    );
}

#[tokio::test]
async fn password_change_ends_every_other_session() {
    let app = spawn_app().await;
    let first = app.registered("ada@example.com", "ada").await;
    let second = app.browser();
    second.log_in("ada@example.com", PASSWORD, true).await;
    assert!(second.is_member().await);
    let wrong = first
        .submit(
            "/profile",
            "/api/change_password",
            &[
                ("current_password", "not it at all"),
                ("new_password", NEW_PASSWORD),
                ("confirm_new_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        wrong.form_error().unwrap()["fields"]["current_password"],
        "Your current password is not correct."
    );
    let res = first.change_password(PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.location(), Some("/profile?saved=password"));
    assert!(first.is_member().await, "the current session stays");
    assert!(!second.is_member().await, "other sessions end");
    let old = app
        .browser()
        .log_in("ada@example.com", PASSWORD, false)
        .await;
    assert!(old.form_error().is_some());
    let new = app
        .browser()
        .log_in("ada@example.com", NEW_PASSWORD, false)
        .await;
    assert_eq!(new.location(), Some("/profile"));
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    let evil_origin = browser
        .request(
            reqwest::Method::POST,
            "/api/logout",
            &[("origin", "https://evil.example"), ("accept", "text/html")],
            Some((String::new(), "application/x-www-form-urlencoded")),
        )
        .await;
    assert_eq!(evil_origin.status, StatusCode::FORBIDDEN);
    let cross_site = browser
        .request(
            reqwest::Method::POST,
            "/api/change_password",
            &[("sec-fetch-site", "cross-site"), ("origin", &app.base)],
            Some((
                "current_password=x&new_password=y&confirm_new_password=y".into(),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let login_csrf = app
        .browser()
        .request(
            reqwest::Method::POST,
            "/api/login",
            &[("sec-fetch-site", "cross-site")],
            Some((
                format!(
                    "email=ada%40example.com&password={}",
                    PASSWORD.replace(' ', "+")
                ),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    assert_eq!(login_csrf.status, StatusCode::FORBIDDEN, "login CSRF");
    assert!(browser.is_member().await, "the refused logout did nothing");
}

#[tokio::test]
async fn auth_cookies_are_http_only_lax_and_path_root() {
    let app = spawn_app().await;
    let res = app
        .browser()
        .register("ada@example.com", "ada", PASSWORD)
        .await;
    for name in ["gatehouse_access", "gatehouse_refresh"] {
        let cookie = res
            .set_cookie(name)
            .unwrap_or_else(|| panic!("{name} not set"));
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    }
}

#[tokio::test]
async fn https_sites_get_secure_host_prefixed_cookies_and_hsts() {
    let app = spawn_app_with(&[("PUBLIC_URL", "https://accounts.example.com")]).await;
    let browser = app.browser();
    let res = browser
        .request(
            reqwest::Method::POST,
            "/api/register",
            &[
                ("accept", "text/html"),
                ("origin", "https://accounts.example.com"),
                ("sec-fetch-site", "same-origin"),
            ],
            Some((
                format!(
                    "email=ada%40example.com&username=ada&password={0}&confirm_password={0}",
                    PASSWORD.replace(' ', "+")
                ),
                "application/x-www-form-urlencoded",
            )),
        )
        .await;
    for name in ["__Host-gatehouse_access", "__Host-gatehouse_refresh"] {
        let cookie = res
            .set_cookie(name)
            .unwrap_or_else(|| panic!("{name} not set"));
        assert!(
            cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("Path=/")
        );
        assert!(!cookie.contains("Domain="));
    }
    assert!(res.headers.contains_key("strict-transport-security"));
}

#[tokio::test]
async fn health_reports_the_database() {
    let app = spawn_app().await;
    let res = app.browser().get("/health").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.json(),
        serde_json::json!({"status": "ok", "database": "ok"})
    );
}

#[tokio::test]
async fn unknown_paths_get_a_404_page() {
    let app = spawn_app().await;
    let res = app.browser().get("/no/such/page").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(res.body.contains("Page not found"));
}

#[tokio::test]
async fn pages_carry_security_headers_and_no_tokens() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    let page = browser.get("/profile").await;
    let csp = page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'"));
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a script nonce");
    assert!(page.body.contains(&format!("nonce=\"{nonce}\"")));
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert_eq!(page.headers["cache-control"], "no-store");
    for (_, token) in browser.cookies() {
        assert!(!page.body.contains(&token), "a token leaked into the HTML");
    }
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_with_retry_after() {
    let app = spawn_app().await;
    app.registered("ada@example.com", "ada").await;
    let browser = app.browser();
    for _ in 0..5 {
        let res = browser
            .call(
                "/api/login",
                &[
                    ("email", "ada@example.com"),
                    ("password", "wrong guess here"),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let res = browser
        .call(
            "/api/login",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers.contains_key("retry-after"));
    assert_eq!(
        res.json()["message"],
        "Too many attempts. Try again in 1 minute."
    );
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_ends_sessions() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    let other = app.browser();
    other.log_in("ada@example.com", PASSWORD, false).await;
    let wrong = browser
        .submit(
            "/profile",
            "/api/delete_account",
            &[("password", "wrong wrong wrong")],
        )
        .await;
    assert!(wrong.form_error().is_some());
    let res = browser
        .submit("/profile", "/api/delete_account", &[("password", PASSWORD)])
        .await;
    assert_eq!(res.location(), Some("/?deleted=1"));
    assert!(!browser.is_member().await);
    assert!(!other.is_member().await);
    let again = app
        .browser()
        .log_in("ada@example.com", PASSWORD, false)
        .await;
    assert!(again.form_error().is_some());
}

#[tokio::test]
async fn a_failed_plain_post_keeps_typed_values_out_of_the_address() {
    let app = spawn_app().await;
    app.registered("ada@example.com", "ada").await;
    let browser = app.browser();
    let first = browser
        .submit(
            "/login?next=%2Fprojects",
            "/api/login",
            &[
                ("email", "ada@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    let location = first.location().expect("back to the form").to_string();
    assert!(location.contains("next=%2Fprojects"), "{location}");
    assert!(!location.contains("ada"), "{location}");
    let err = first.form_error().expect("the message travels");
    assert_eq!(err["message"], "Invalid email or password.");
    assert!(!err.to_string().contains("ada@example.com"), "{err}");
    let cookie = first
        .set_cookie("gatehouse_form")
        .expect("values in a cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Max-Age=60"),
        "{cookie}"
    );

    // The form page shows what was typed, and the cookie is spent.
    let page = browser.get(&location).await;
    assert!(
        page.body.contains(r#"value="ada@example.com""#),
        "typed email kept"
    );
    assert!(page.body.contains("Invalid email or password."));
    assert!(browser.cookie("gatehouse_form").is_none());

    // A second failure from that page does not grow the address.
    let from = location.trim_start_matches(&app.base).to_string();
    let second = browser
        .submit(
            &from,
            "/api/login",
            &[("email", "ada@example.com"), ("password", "still not it")],
        )
        .await;
    let again = second.location().unwrap();
    assert_eq!(again.matches("__err=").count(), 1, "{again}");
    assert_eq!(again.len(), location.len(), "{again} vs {location}");
}
