//! Gatehouse benchmarks: the per-request session check and page times with many rows.
//!
//! Run with `make bench` (or `cargo run --release --features ssr --example bench`). It starts
//! the real router on a random port over a fresh SQLite file, seeds data with SQL, and measures
//! over real HTTP from the same process.

use std::time::{Duration, Instant};

use gatehouse::server::accounts::register::{self as users, Registration};
use gatehouse::server::security::principal::Client;
use gatehouse::server::sessions;
use gatehouse::server::startup::config::Config;
use gatehouse::server::startup::state::AppState;
use leptos::config::LeptosOptions;

const PASSWORD: &str = "violet tundra kettle 42";

struct Stats {
    count: usize,
    total: Duration,
    p50: Duration,
    p95: Duration,
    max: Duration,
}

fn stats(mut samples: Vec<Duration>, total: Duration) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Stats {
        count: samples.len(),
        total,
        p50: at(0.5),
        p95: at(0.95),
        max: *samples.last().unwrap(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn report(name: &str, s: &Stats) {
    println!(
        "| {name} | {} | {:.0} req/s | {} | {} | {} |",
        s.count,
        s.count as f64 / s.total.as_secs_f64(),
        ms(s.p50),
        ms(s.p95),
        ms(s.max)
    );
}

/// `requests` GETs with `concurrency` in flight, each carrying `cookie`.
async fn load(base: &str, path: &str, cookie: &str, requests: usize, concurrency: usize) -> Stats {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{base}{path}");
    // Warm up.
    for _ in 0..3 {
        let res = client
            .get(&url)
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        res.bytes().await.unwrap();
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let (client, url, cookie) = (client.clone(), url.clone(), cookie.to_string());
        let share = requests / concurrency + usize::from(worker < requests % concurrency);
        tasks.spawn(async move {
            let mut samples = Vec::with_capacity(share);
            for _ in 0..share {
                let t = Instant::now();
                let res = client
                    .get(&url)
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                res.bytes().await.unwrap();
                samples.push(t.elapsed());
            }
            samples
        });
    }
    let samples: Vec<Duration> = tasks.join_all().await.into_iter().flatten().collect();
    stats(samples, started.elapsed())
}

fn time_calls<T>(n: usize, mut f: impl FnMut() -> T) -> Duration {
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(f());
    }
    started.elapsed() / n as u32
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let data_dir = dir.path().display().to_string();
    let config = Config::from_lookup(|name| match name {
        "DATA_DIR" => Some(data_dir.clone()),
        "PUBLIC_URL" => Some(base.clone()),
        _ => None,
    })
    .unwrap();
    let options = LeptosOptions::builder()
        .output_name("gatehouse")
        .site_root(dir.path().join("site").display().to_string())
        .build();
    let state = AppState::new(config, options).await.unwrap();
    tokio::spawn(gatehouse::server::serve(
        listener,
        state.clone(),
        std::future::pending(),
    ));

    let client = Client::new("bench", "127.0.0.1");
    let user = users::register(
        &state,
        Registration {
            email: "bench@example.com",
            username: Some("bench"),
            password: PASSWORD,
            confirm_password: None,
        },
        &client,
    )
    .await
    .unwrap();
    let users::Registered::Account(user) = user else {
        panic!("verification is optional here");
    };
    let issued = sessions::start(&state, user.id, true, &client)
        .await
        .unwrap();
    let cookie = format!(
        "gatehouse_access={}; gatehouse_refresh={}",
        issued.access_token,
        issued.refresh_token.expose()
    );

    println!("## Per-request session check\n");
    let n = 20_000;
    let jwt_only = time_calls(n, || {
        state.keys.verify_access(&issued.access_token, state.now())
    });
    let mut total = Duration::ZERO;
    for _ in 0..n {
        let t = Instant::now();
        sessions::authenticate(&state, &issued.access_token)
            .await
            .unwrap();
        total += t.elapsed();
    }
    let with_session = total / n as u32;
    println!("| check | mean per call |\n|---|---|");
    println!(
        "| JWT signature and claims only | {:.1} µs |",
        jwt_only.as_secs_f64() * 1e6
    );
    println!(
        "| JWT + session row lookup (what every request does) | {:.1} µs |",
        with_session.as_secs_f64() * 1e6
    );
    println!(
        "| session lookup alone (difference) | {:.1} µs |\n",
        (with_session.saturating_sub(jwt_only)).as_secs_f64() * 1e6
    );

    println!("## HTTP, 4 concurrent clients\n");
    println!("| request | n | throughput | p50 | p95 | max |\n|---|---|---|---|---|---|");
    report(
        "GET /health (guest, no session check)",
        &load(&base, "/health", "", 2000, 4).await,
    );
    report(
        "GET / (guest page, no session check)",
        &load(&base, "/", "", 1000, 4).await,
    );
    report(
        "GET / (member page, with session check)",
        &load(&base, "/", &cookie, 1000, 4).await,
    );
    report(
        "GET /profile (member)",
        &load(&base, "/profile", &cookie, 1000, 4).await,
    );

    // Seed 1,000 projects and a project with 5,000 tasks.
    let now = state.now();
    let mut tx = state.db.sqlite_pool().begin().await.unwrap();
    for i in 0..1000 {
        sqlx::query("INSERT INTO projects (owner_id, name, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
            .bind(user.id)
            .bind(format!("Project {i}"))
            .bind("A project with a short description")
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let big: i64 = sqlx::query_scalar("SELECT MAX(id) FROM projects")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    for i in 0..5000 {
        sqlx::query("INSERT INTO tasks (project_id, title, done, position, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(big)
            .bind(format!("Task number {i}"))
            .bind(i % 3 == 0)
            .bind(i + 1)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE")
        .execute(state.db.sqlite_pool())
        .await
        .unwrap();

    println!("\n## Large lists (1,000 projects; one project with 5,000 tasks), 1 client\n");
    println!("| request | n | throughput | p50 | p95 | max |\n|---|---|---|---|---|---|");
    report(
        "GET /projects (page, 1,000 projects)",
        &load(&base, "/projects", &cookie, 100, 1).await,
    );
    report(
        "GET /projects/:id (page, 5,000 tasks)",
        &load(&base, &format!("/projects/{big}"), &cookie, 100, 1).await,
    );
    report(
        "GET /api/v1/projects (1,000)",
        &load(&base, "/api/v1/projects", &cookie, 50, 1).await,
    );
    report(
        "GET /api/v1/projects/:id/tasks (5,000)",
        &load(
            &base,
            &format!("/api/v1/projects/{big}/tasks"),
            &cookie,
            50,
            1,
        )
        .await,
    );

    two_step_timing(&base, &state).await;
    oidc_timing(&base, &state, &cookie).await;
    forgot_password_timing(&base, &state).await;
    admin_list_timing(&base, &state, user.id).await;
}

/// A login with a second step through the API, one client: the password step (argon2, then a
/// pending login instead of a session), the code step (an app code checked and spent with the
/// pending login, then the session), and a login without a second factor for comparison.
async fn two_step_timing(base: &str, state: &AppState) {
    use gatehouse::server::security::second_factor::AppSecret;
    use gatehouse::server::store::factors;
    let client = Client::new("bench", "10.2.0.1");
    let mut app = None;
    for (email, second) in [("two@example.com", true), ("one@example.com", false)] {
        let registration = Registration {
            email,
            username: None,
            password: PASSWORD,
            confirm_password: None,
        };
        let users::Registered::Account(user) =
            users::register(state, registration, &client).await.unwrap()
        else {
            panic!("verification is optional here");
        };
        if second {
            let secret = AppSecret::generate();
            let sealed = secret.seal(&state.factor_key, user.id);
            let mut conn = state.db.acquire().await.unwrap();
            factors::begin_app_setup(&mut conn, user.id, &sealed, state.now())
                .await
                .unwrap();
            factors::enable_app(&mut conn, user.id, &sealed, 0, state.now())
                .await
                .unwrap();
            app = Some(secret);
        }
    }
    let secret = app.expect("an account with an app");
    let http = reqwest::Client::new();
    let n = 30;
    let (mut password_step, mut code_step, mut one_step) = (Vec::new(), Vec::new(), Vec::new());
    let started_all = Instant::now();
    for _ in 0..n {
        // A fresh step for every login: each code is accepted once.
        state.clock.advance(Duration::from_secs(30));
        let started = Instant::now();
        let res = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"email": "two@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
        let body: serde_json::Value = res.json().await.unwrap();
        password_step.push(started.elapsed());
        let code = secret.code_at(state.now());
        let started = Instant::now();
        let res = http
            .post(format!("{base}/api/v1/auth/mfa"))
            .json(&serde_json::json!({"mfa_token": body["mfa_token"], "code": code}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
        code_step.push(started.elapsed());
        let started = Instant::now();
        let res = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"email": "one@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
        one_step.push(started.elapsed());
    }
    let total = started_all.elapsed();
    println!("\n## A login with a second step (API, 1 client, {n} logins)\n");
    println!("| request | n | throughput | p50 | p95 | max |\n|---|---|---|---|---|---|");
    report(
        "POST /auth/login, account with an app (403 mfa_required)",
        &stats(password_step, total),
    );
    report(
        "POST /auth/mfa with an app code (200 token pair)",
        &stats(code_step, total),
    );
    report(
        "POST /auth/login, account without a second factor (200)",
        &stats(one_step, total),
    );
}

/// The OpenID Provider's answers to an app, one client, over HTTP: the authorization endpoint
/// for a logged-in person who allowed the app (a grant and a code, 302), the code exchange
/// (an RS256 ID token and access token, a refresh token), a refresh (rotation), userinfo and
/// introspection (a JWT check and the grant looked up).
async fn oidc_timing(base: &str, state: &AppState, cookie: &str) {
    use gatehouse::server::oidc::clients::{self, Registration};
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let redirect = "http://127.0.0.1:9/cb";
    let added = clients::add(
        state,
        &Registration {
            name: "Bench app",
            redirect_uris: &[redirect.to_string()],
            post_logout_redirect_uris: &[],
            public: false,
        },
        None,
    )
    .await
    .unwrap();
    let secret = added.client_secret.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = format!(
        "{base}/oauth/authorize?{}",
        serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", added.client_id.as_str()),
            ("redirect_uri", redirect),
            ("scope", "openid email offline_access"),
            ("state", "s"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .unwrap()
    );
    // The person allows the app once; every later request goes straight back with a code.
    let first = http
        .get(&authorize)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let consent = first.headers()["location"].to_str().unwrap().to_string();
    let query = consent.trim_start_matches("/consent?").to_string();
    let allowed = http
        .post(format!("{base}/oauth/consent"))
        .header("cookie", cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&[("query", query.as_str()), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    let n = 200;
    let (mut codes, mut exchanges, mut refreshes, mut userinfos, mut introspections) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let started_all = Instant::now();
    for _ in 0..n {
        let started = Instant::now();
        let res = http
            .get(&authorize)
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302);
        let location = res.headers()["location"].to_str().unwrap().to_string();
        codes.push(started.elapsed());
        let code = location
            .split(['?', '&'])
            .find_map(|pair| pair.strip_prefix("code="))
            .unwrap()
            .to_string();
        let started = Instant::now();
        let tokens: serde_json::Value = http
            .post(format!("{base}/oauth/token"))
            .basic_auth(&added.client_id, Some(&secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        exchanges.push(started.elapsed());
        let started = Instant::now();
        let renewed: serde_json::Value = http
            .post(format!("{base}/oauth/token"))
            .basic_auth(&added.client_id, Some(&secret))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        refreshes.push(started.elapsed());
        let access = renewed["access_token"].as_str().unwrap();
        let started = Instant::now();
        let res = http
            .get(format!("{base}/oauth/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
        userinfos.push(started.elapsed());
        let started = Instant::now();
        let res = http
            .post(format!("{base}/oauth/introspect"))
            .basic_auth(&added.client_id, Some(&secret))
            .form(&[("token", access)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
        introspections.push(started.elapsed());
    }
    let total = started_all.elapsed();
    println!("\n## The OpenID Provider (1 client, {n} rounds)\n");
    println!("| request | n | throughput | p50 | p95 | max |\n|---|---|---|---|---|---|");
    report(
        "GET /oauth/authorize, consent remembered (302 with a code)",
        &stats(codes, total),
    );
    report(
        "POST /oauth/token, code exchange (ID + access + refresh token)",
        &stats(exchanges, total),
    );
    report(
        "POST /oauth/token, refresh (rotation)",
        &stats(refreshes, total),
    );
    report("GET /oauth/userinfo", &stats(userinfos, total));
    report("POST /oauth/introspect", &stats(introspections, total));
}

/// The forgot-password answer for addresses with and without an account, interleaved, one
/// client: the two columns should not tell them apart.
async fn forgot_password_timing(base: &str, state: &AppState) {
    let n = 200;
    for i in 0..n {
        // Distinct addresses: one address may register only so often.
        let client = Client::new("bench", &format!("10.1.{}.{}", i / 256, i % 256));
        let email = format!("known{i}@example.com");
        let registration = Registration {
            email: &email,
            username: None,
            password: PASSWORD,
            confirm_password: None,
        };
        users::register(state, registration, &client).await.unwrap();
    }
    let http = reqwest::Client::new();
    let (mut known, mut unknown) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        for (email, samples) in [
            (format!("known{i}@example.com"), &mut known),
            (format!("nobody{i}@example.com"), &mut unknown),
        ] {
            let started = Instant::now();
            let res = http
                .post(format!("{base}/api/v1/auth/password/forgot"))
                .json(&serde_json::json!({ "email": email }))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 202);
            res.bytes().await.unwrap();
            samples.push(started.elapsed());
        }
    }
    let (total_known, total_unknown) = (known.iter().sum(), unknown.iter().sum());
    println!("\n## Forgot password: the same answer time with and without an account\n");
    println!("| address | n | throughput | p50 | p95 | max |\n|---|---|---|---|---|---|");
    report("has an account", &stats(known, total_known));
    report("has no account", &stats(unknown, total_unknown));
}

/// The admin users list over 100,000 accounts and 1,000,000 audit events: the first page, a
/// deep page (by cursor), and a search.
async fn admin_list_timing(base: &str, state: &AppState, admin_id: i64) {
    sqlx::query("UPDATE users SET role = 'admin' WHERE id = ?")
        .bind(admin_id)
        .execute(state.db.sqlite_pool())
        .await
        .unwrap();
    let now = state.now();
    let mut tx = state.db.sqlite_pool().begin().await.unwrap();
    for i in 0..100_000i64 {
        sqlx::query(
            "INSERT INTO users (email, username, password_hash, created_at, updated_at)
             VALUES (?, ?, 'x', ?, ?)",
        )
        .bind(format!("person{i}@example.com"))
        .bind(format!("person{i}"))
        .bind(now - 100_000 + i)
        .bind(now)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    for i in 0..1_000_000i64 {
        sqlx::query(
            "INSERT INTO audit_events (at, actor_id, subject_id, event, ip_address, details)
             VALUES (?, ?, ?, 'login_succeeded', '203.0.113.7', '{}')",
        )
        .bind(now - 1_000_000 + i)
        .bind(i % 100_000 + 1)
        .bind(i % 100_000 + 1)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE")
        .execute(state.db.sqlite_pool())
        .await
        .unwrap();
    let issued = sessions::start(state, admin_id, true, &Client::new("bench", "127.0.0.1"))
        .await
        .unwrap();
    let cookie = format!("gatehouse_access={}", issued.access_token);
    let token = issued.access_token.clone();
    let http = reqwest::Client::new();
    let deep: serde_json::Value = http
        .get(format!(
            "{base}/api/v1/admin/users?cursor={}.{}",
            now - 50_000,
            1_000_000
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deep["users"].as_array().map(Vec::len), Some(50));
    println!("\n## Admin users list: 100,000 accounts, 1,000,000 audit events, 1 client\n");
    println!("| request | n | throughput | p50 | p95 | max |\n|---|---|---|---|---|---|");
    report(
        "GET /admin/users (page, first 50)",
        &load(base, "/admin/users", &cookie, 100, 1).await,
    );
    report(
        "GET /admin/users?q=person4242 (page, search)",
        &load(base, "/admin/users?q=person4242", &cookie, 100, 1).await,
    );
    let deep_cursor = format!("/api/v1/admin/users?cursor={}.{}", now - 50_000, 1_000_000);
    report(
        "GET /api/v1/admin/users (a page 50,000 rows deep)",
        &load(base, &deep_cursor, &cookie, 100, 1).await,
    );
    report(
        "GET /api/v1/admin/users?q=person4242 (search)",
        &load(base, "/api/v1/admin/users?q=person4242", &cookie, 100, 1).await,
    );
    report(
        "GET /admin/users/:id (page with its audit trail)",
        &load(base, "/admin/users/4242", &cookie, 100, 1).await,
    );
}
