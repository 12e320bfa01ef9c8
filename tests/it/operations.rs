//! Running in production: access logs and request ids, no secrets in logs, compression,
//! caching of built files, panics, metrics, readiness, graceful shutdown and backups.

use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::common::{
    self, eventually, spawn, spawn_app, spawn_app_with, TestApp, NEW_PASSWORD, PASSWORD,
};
use gatehouse::server::startup::config::BackupSchedule;
use gatehouse::server::startup::state::AppState;
use gatehouse::server::startup::telemetry::{self, LogFormat};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every log line this test process writes, in the JSON format (`LOG_FORMAT=json`).
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        telemetry::init_with(LogFormat::Json, move || Capture(sink.clone()));
        buffer
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_lines() -> Vec<String> {
    let bytes = logs().lock().unwrap().clone();
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The parsed log lines written while serving the request with this id.
fn lines_of_request(id: &str) -> Vec<Value> {
    log_lines()
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).expect("every log line is JSON"))
        .filter(|line| line["span"]["request_id"] == id)
        .collect()
}

fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn each_request_gets_one_access_line_and_an_id_on_every_line() {
    logs();
    let app = spawn_app().await;
    app.api_register("ada@example.com").await;

    // An id from the client (or its proxy) is kept when it is well-formed.
    let id = format!("test-{}", uuid_like());
    let res = raw_client()
        .post(format!("{}/api/v1/auth/login", app.base))
        .header("x-request-id", &id)
        .json(&serde_json::json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-request-id"], id.as_str());

    let lines = lines_of_request(&id);
    let access: Vec<&Value> = lines.iter().filter(|l| l["message"] == "served").collect();
    assert_eq!(access.len(), 1, "one access line: {lines:#?}");
    let line = access[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["span"]["method"], "POST");
    assert_eq!(line["span"]["path"], "/api/v1/auth/login");
    assert_eq!(line["status"], 200);
    assert!(line["latency_ms"].as_f64().unwrap() > 0.0);
    assert!(
        lines.iter().any(|l| l["message"] == "logged in"),
        "the service's own line carries the request id: {lines:#?}"
    );

    // Without one, or with one that could forge log lines, the server makes one up.
    for sent in [None, Some("bad id\" with quotes")] {
        let mut request = raw_client().get(format!("{}/login", app.base));
        if let Some(sent) = sent {
            request = request.header("x-request-id", sent);
        }
        let res = request.send().await.unwrap();
        let made = res.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(made.len(), 32, "{made}");
        assert!(made.bytes().all(|b| b.is_ascii_hexdigit()));
        let lines = lines_of_request(&made);
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert_eq!(lines[0]["span"]["path"], "/login");
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:x}{:06}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

#[tokio::test]
async fn no_secret_or_query_string_reaches_the_logs() {
    logs();
    let app = spawn_app().await;
    let (_, access, refresh) = app.api_member("ada@example.com").await;

    // A page login with "remember me", then a silent renewal of the access cookie.
    let browser = app.browser();
    browser.log_in("ada@example.com", PASSWORD, true).await;
    let cookies = browser.cookies();
    app.advance(Duration::from_secs(16 * 60));
    assert!(browser.is_member().await);
    assert_ne!(browser.cookies(), cookies, "the cookies were renewed");

    // An API renewal.
    let renewed = app
        .api(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(serde_json::json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(renewed.status, StatusCode::OK);
    let renewed = renewed.json();

    // A reset link, visited and used.
    app.api(
        Method::POST,
        "/api/v1/auth/password/forgot",
        None,
        Some(serde_json::json!({"email": "ada@example.com"})),
    )
    .await;
    let mail = app.mail("ada@example.com", "Reset your password").await;
    let token = common::token_in(&mail, "/reset-password");
    let form = app
        .browser()
        .get(&format!("/reset-password?token={token}&utm_source=mail"))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    let res = app
        .api(
            Method::POST,
            "/api/v1/auth/password/reset",
            None,
            Some(serde_json::json!({"token": token, "password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);

    let all = log_lines().join("\n");
    let cookie_values: Vec<String> = cookies.values().cloned().collect();
    let secrets = [
        PASSWORD.to_string(),
        NEW_PASSWORD.to_string(),
        access,
        refresh,
        renewed["access_token"].as_str().unwrap().to_string(),
        renewed["refresh_token"].as_str().unwrap().to_string(),
        token,
    ];
    for secret in secrets.iter().chain(&cookie_values) {
        assert!(
            !all.contains(secret.as_str()),
            "a secret reached the logs: {secret}"
        );
    }
    assert!(!all.contains("utm_source"), "a query string was logged");
    assert!(!all.contains("token="), "a query string was logged");
    assert!(
        all.contains("/reset-password"),
        "the visit itself was logged"
    );
}

#[tokio::test]
async fn pages_and_json_are_compressed_when_the_client_accepts_it() {
    let app = spawn_app().await;
    let client = raw_client();
    for (path, accept, expected) in [
        ("/login", "br", Some("br")),
        ("/login", "gzip", Some("gzip")),
        ("/login", "gzip, deflate, br", Some("br")),
        ("/login", "identity", None),
        ("/api/v1/openapi.json", "gzip", Some("gzip")),
    ] {
        let res = client
            .get(format!("{}{path}", app.base))
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let encoding = res
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(encoding.as_deref(), expected, "{path} with {accept}");
        assert!(res.headers()["vary"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding"));
        let body = res.bytes().await.unwrap();
        if expected.is_none() {
            assert!(String::from_utf8_lossy(&body).contains("Log in"));
        }
    }
    // The gzip body really is the page.
    let res = client
        .get(format!("{}/login", app.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    let compressed = res.bytes().await.unwrap();
    let plain = client
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        compressed.len() * 2 < plain.len(),
        "{} vs {}",
        compressed.len(),
        plain.len()
    );
    assert_eq!(&compressed[..2], &[0x1f, 0x8b], "a gzip stream");
}

#[tokio::test]
async fn only_hashed_built_files_are_cached_for_good() {
    let app = spawn_app().await;
    let pkg = app.data_dir().join("site").join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let hashed = "gatehouse.Fq0y8V3mO2kG2XbW1cVwQw.wasm";
    std::fs::write(pkg.join(hashed), b"\0asm plain").unwrap();
    std::fs::write(pkg.join(format!("{hashed}.br")), b"brotli bytes").unwrap();
    std::fs::write(pkg.join("gatehouse.css"), b"body { color: black }").unwrap();
    let client = raw_client();
    let get = |path: String, accept: &'static str| {
        client
            .get(format!("{}{path}", app.base))
            .header("accept-encoding", accept)
            .send()
    };

    let res = get(format!("/pkg/{hashed}"), "br").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(res.headers()["content-encoding"], "br");
    assert_eq!(
        res.bytes().await.unwrap().as_ref(),
        b"brotli bytes",
        "the precompressed file"
    );

    let res = get(format!("/pkg/{hashed}"), "identity").await.unwrap();
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"\0asm plain");

    let res = get("/pkg/gatehouse.css".into(), "identity").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-cache");

    let res = get("/login".into(), "identity").await.unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn a_file_never_takes_the_headers_of_a_page_rendered_on_the_same_thread() {
    let app = spawn_app().await;
    let site = app.data_dir().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("favicon.svg"), b"<svg/>").unwrap();
    // A page part-way through rendering on this thread (the test and the server share it):
    // Leptos's current owner holds that page's response options and its policy.
    let page = leptos_axum::ResponseOptions::default();
    page.insert_header(
        http::header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static("script-src 'nonce-of-the-page'"),
    );
    let owner = leptos::prelude::Owner::new();
    owner.with(|| leptos::prelude::provide_context(page.clone()));
    owner.set();

    let file = app.browser().get("/favicon.svg").await;
    assert_eq!(file.status, StatusCode::OK);
    assert_ne!(
        file.headers["content-security-policy"],
        "script-src 'nonce-of-the-page'"
    );
    assert!(
        page.0
            .read()
            .unwrap()
            .headers
            .contains_key(http::header::CONTENT_SECURITY_POLICY),
        "the page keeps its own headers"
    );
}

#[tokio::test]
async fn the_favicon_is_served_without_session_work() {
    let app = spawn_app().await;
    let res = raw_client()
        .get(format!("{}/favicon.ico", app.base))
        .header("cookie", "gatehouse_refresh=not-a-real-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/x-icon");
    assert!(
        res.headers().get("set-cookie").is_none(),
        "a junk refresh cookie on the favicon request is not even looked at"
    );
    let body = res.bytes().await.unwrap();
    assert_eq!(&body[..4], &[0, 0, 1, 0], "an ICO file");
}

fn panics(message: &str) -> &'static str {
    panic!("{message}")
}

fn with_panics(state: &AppState) -> axum::Router<AppState> {
    gatehouse::server::http::router::routes(state)
        .route(
            "/api/v1/test/panic",
            axum::routing::get(|| async { panics("test panic in an API handler") }),
        )
        .route(
            "/test/panic",
            axum::routing::get(|| async { panics("test panic in a page handler") }),
        )
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_goes_on() {
    logs();
    let app = spawn(&[], with_panics).await;
    let api = app.api(Method::GET, "/api/v1/test/panic", None, None).await;
    assert_eq!(api.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(api.json()["error"]["code"], "internal_error");

    let page = app.browser().get("/test/panic").await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(page.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let id = page.headers["x-request-id"].to_str().unwrap().to_string();
    let lines = lines_of_request(&id);
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "ERROR" && l["message"] == "a handler panicked; answered 500"),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l["status"] == 500), "{lines:#?}");

    // The process goes on serving, the same route included.
    assert_eq!(app.browser().get("/health").await.status, StatusCode::OK);
    app.api_register("ada@example.com").await;
    let again = app.api(Method::GET, "/api/v1/test/panic", None, None).await;
    assert_eq!(again.status, StatusCode::INTERNAL_SERVER_ERROR);
}

fn with_a_slow_route(state: &AppState) -> axum::Router<AppState> {
    gatehouse::server::http::router::routes(state).route(
        "/api/v1/test/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            "late"
        }),
    )
}

#[tokio::test]
async fn a_request_past_the_time_limit_is_abandoned_with_a_clear_answer() {
    let app = spawn(&[("REQUEST_TIMEOUT", "1")], with_a_slow_route).await;
    let started = std::time::Instant::now();
    let slow = app.api(Method::GET, "/api/v1/test/slow", None, None).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert_eq!(slow.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(
        slow.json()["error"]["message"],
        "The request took too long and was abandoned. Try again."
    );
    assert_eq!(app.browser().get("/health").await.status, StatusCode::OK);
}

fn free_address() -> String {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().to_string()
}

/// `name{labels}` → value, for every sample in a Prometheus text exposition; panics on a line
/// that is not a comment or a sample.
fn parse_exposition(text: &str) -> std::collections::HashMap<String, f64> {
    let mut samples = std::collections::HashMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line:?}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "unclosed labels in {line:?}");
        }
        samples.insert(series.to_string(), value);
    }
    samples
}

#[tokio::test]
async fn metrics_are_served_only_on_their_own_address() {
    let app = spawn_app().await;
    assert_eq!(
        app.browser().get("/metrics").await.status,
        StatusCode::NOT_FOUND
    );
    assert!(app.state.config.metrics_addr.is_none(), "off by default");

    let address = free_address();
    let app = spawn_app_with(&[("METRICS_ADDR", &address)]).await;
    assert_eq!(
        app.browser().get("/metrics").await.status,
        StatusCode::NOT_FOUND,
        "never on the public address"
    );
    app.api_member("ada@example.com").await;
    assert_eq!(
        app.api_login("ada@example.com", "wrong password!")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    app.api(Method::GET, "/api/v1/projects/12345", None, None)
        .await;
    // The registration's confirmation mail is on its way: read the gauges once it is sent.
    eventually("the confirmation mail to be delivered", || async {
        (app.state.mailer.backlog().await.unwrap() == 0).then_some(())
    })
    .await;

    let res = raw_client()
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    let samples = parse_exposition(&text);
    let value = |series: &str| {
        *samples
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(value("gatehouse_logins_total{outcome=\"succeeded\"}"), 1.0);
    assert_eq!(value("gatehouse_logins_total{outcome=\"failed\"}"), 1.0);
    assert_eq!(value("gatehouse_logins_total{outcome=\"throttled\"}"), 0.0);
    assert_eq!(
        value("gatehouse_http_requests_total{route=\"/api/v1/auth/login\",method=\"POST\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        value("gatehouse_http_requests_total{route=\"/api/v1/auth/login\",method=\"POST\",status=\"401\"}"),
        1.0
    );
    // Routes are patterns: ids never become series of their own.
    assert!(text.contains("route=\"/api/v1/projects/{id}\""), "{text}");
    assert!(!text.contains("12345"), "{text}");
    assert_eq!(
        value("gatehouse_http_request_duration_seconds_count{route=\"/api/v1/auth/login\",method=\"POST\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        value("gatehouse_http_request_duration_seconds_bucket{route=\"/api/v1/auth/login\",method=\"POST\",status=\"200\",le=\"+Inf\"}"),
        1.0
    );
    assert_eq!(value("gatehouse_active_sessions"), 1.0);
    assert_eq!(value("gatehouse_hash_queue_depth"), 0.0);
    assert_eq!(value("gatehouse_outbox_backlog"), 0.0);
    assert!(value("gatehouse_db_pool_connections") >= 1.0);
    assert!(value("gatehouse_db_pool_max") >= value("gatehouse_db_pool_in_use"));
}

#[tokio::test]
async fn readiness_needs_the_database_and_every_migration() {
    let app = spawn_app().await;
    let ready = app.browser().get("/ready").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        ready.json(),
        serde_json::json!({"status": "ready", "database": "ok", "pending_migrations": 0})
    );
    let docs = app.browser().get("/api/v1/openapi.json").await.json();
    assert!(docs["paths"]["/health"]["get"].is_object());
    assert!(docs["paths"]["/ready"]["get"].is_object());

    crate::on_db!(&app.state.db, |c| sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(c)
    .await
    .map(drop))
    .unwrap();
    let ready = app.browser().get("/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json()["pending_migrations"], 1);
    assert_eq!(app.browser().get("/health").await.status, StatusCode::OK);
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_and_checkpoints_the_database() {
    let app = spawn_app().await;
    app.api_register("ada@example.com").await;
    let address = app.base.trim_start_matches("http://").to_string();

    // A login whose body is still arriving when the signal comes.
    let body = serde_json::json!({"email": "ada@example.com", "password": PASSWORD}).to_string();
    let (first, rest) = body.split_at(10);
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n{first}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server says "100 Continue" once the handler reads the body: the request is in
    // flight, not waiting in the listen queue.
    let mut interim = Vec::new();
    while !interim.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .expect("the handler starts reading the body")
            .unwrap();
        assert_eq!(read, 1, "the server closed the connection: {interim:?}");
        interim.push(byte[0]);
    }
    assert!(
        interim.starts_with(b"HTTP/1.1 100 Continue"),
        "{}",
        String::from_utf8_lossy(&interim)
    );
    app.begin_stop();

    eventually("the listener to close once stopping", || async {
        tokio::net::TcpStream::connect(&address)
            .await
            .is_err()
            .then_some(())
    })
    .await;
    stream.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("answered before the deadline")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("access_token"), "{answer}");

    app.stop().await.expect("a clean stop");
    assert!(app.state.db.is_closed());
    let wal = app.data_dir().join("gatehouse.db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    // SQLite checkpoints when the last connection closes; sqlx's Pool::close can return with
    // one still open (a connection handed back while the pool closes).
    assert_eq!(
        wal_len,
        0,
        "the WAL was checkpointed into the database ({} connections open after close)",
        app.state.db.connections().0
    );
}

#[tokio::test]
async fn a_backup_taken_under_write_load_restores_every_acknowledged_write() {
    let app = Arc::new(spawn_app().await);
    if backups_are_refused_on_postgres(&app).await {
        return;
    }
    let (_, token, _) = app.api_member("ada@example.com").await;
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (app, token, acknowledged, running) = (
            app.clone(),
            token.clone(),
            acknowledged.clone(),
            running.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                let name = format!("project {writer}-{n}");
                let res = app
                    .api(
                        Method::POST,
                        "/api/v1/projects",
                        Some(&token),
                        Some(serde_json::json!({"name": name})),
                    )
                    .await;
                assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
                acknowledged.lock().unwrap().push(name);
                n += 1;
            }
        }));
    }
    eventually("40 acknowledged writes", || async {
        (acknowledged.lock().unwrap().len() >= 40).then_some(())
    })
    .await;

    // The command-line backup, against the running server's database.
    let before_cli: Vec<String> = acknowledged.lock().unwrap().clone();
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("copy.db");
    let (data_dir, target, cwd) = (
        app.data_dir().to_path_buf(),
        file.clone(),
        backups.path().to_path_buf(),
    );
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("backup")
            .arg(&target)
            .env("DATA_DIR", data_dir)
            .env_remove("DATABASE_URL")
            .current_dir(cwd)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("Backed up the database"));
    // The library call the schedule uses, too.
    let before_lib: Vec<String> = acknowledged.lock().unwrap().clone();
    let second = backups.path().join("second.db");
    gatehouse::server::ops::backup::backup_to(&app.state.db, &second)
        .await
        .unwrap();
    eventually("20 more acknowledged writes", || async {
        (acknowledged.lock().unwrap().len() >= before_lib.len() + 20).then_some(())
    })
    .await;
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "a backup holds password hashes: private");
    }
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("backup")
        .arg(&file)
        .env("DATA_DIR", app.data_dir())
        .env("DATABASE_URL", &app.state.config.database_url)
        .current_dir(backups.path())
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "an existing file is never overwritten"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already exists"));

    for (copy, expected) in [(&file, &before_cli), (&second, &before_lib)] {
        let restored = restore(copy).await;
        let member = restored.api_login("ada@example.com", PASSWORD).await.json();
        let token = member["access_token"].as_str().unwrap();
        let listed = restored
            .api(Method::GET, "/api/v1/projects", Some(token), None)
            .await
            .json();
        let names: std::collections::HashSet<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let missing: Vec<&String> = expected
            .iter()
            .filter(|n| !names.contains(n.as_str()))
            .collect();
        assert!(missing.is_empty(), "lost acknowledged writes: {missing:?}");
        let check: String = crate::on_db!(&restored.state.db, |c| sqlx::query_scalar(
            "PRAGMA integrity_check"
        )
        .fetch_one(c)
        .await)
        .unwrap();
        assert_eq!(check, "ok");
    }
}

/// The README's restore: the backup becomes the database of a fresh data directory.
async fn restore(backup: &std::path::Path) -> TestApp {
    let data = tempfile::tempdir().unwrap().keep();
    std::fs::copy(backup, data.join("gatehouse.db")).unwrap();
    spawn_app_with(&[("DATA_DIR", data.to_str().unwrap())]).await
}

#[tokio::test]
async fn scheduled_backups_keep_the_newest() {
    let app = spawn_app().await;
    if backups_are_refused_on_postgres(&app).await {
        return;
    }
    let dir = app.data_dir().join("backups");
    let schedule = BackupSchedule {
        dir: dir.clone(),
        interval: Duration::from_secs(3600),
        keep: 2,
    };
    let mut taken = Vec::new();
    for _ in 0..3 {
        taken.push(
            gatehouse::server::ops::backup::take_scheduled(&app.state, &schedule)
                .await
                .unwrap(),
        );
        app.advance(Duration::from_secs(3600));
    }
    let mut left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    left.sort();
    assert_eq!(left, taken[1..].to_vec());
}

#[test]
fn the_dotenv_file_is_read_before_logging_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = std::fs::File::create(dir.path().join(".env")).unwrap();
    writeln!(env, "LOG_FORMAT=yaml").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("backup")
        .arg("copy.db")
        .env_remove("LOG_FORMAT")
        .env("DATA_DIR", dir.path().join("data"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("LOG_FORMAT"), "{stderr}");

    std::fs::write(dir.path().join(".env"), "LOG_FORMAT=json\nRUST_LOG=debug\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("backup")
        .arg("copy.db")
        .env_remove("LOG_FORMAT")
        .env_remove("RUST_LOG")
        .env("DATA_DIR", dir.path().join("data"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let debug_line = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["level"] == "DEBUG");
    assert!(
        debug_line.is_some(),
        "RUST_LOG and LOG_FORMAT from .env: {stdout}"
    );
}

/// `gatehouse backup` copies SQLite databases. On PostgreSQL it refuses with a message that
/// points to pg_dump, and writes no file at all; `true` when that was checked instead.
async fn backups_are_refused_on_postgres(app: &TestApp) -> bool {
    if !app.state.db.is_postgres() {
        return false;
    }
    let target = app.data_dir().join("refused.db");
    let err = gatehouse::server::ops::backup::backup_to(&app.state.db, &target)
        .await
        .unwrap_err();
    assert!(err.contains("pg_dump"), "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(app.data_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("refused"))
        .collect();
    assert!(leftovers.is_empty(), "no partial file");
    true
}

#[tokio::test]
async fn processes_sharing_a_database_take_turns_at_scheduled_jobs() {
    use gatehouse::server::store::{jobs, Store};
    let first = spawn_app().await;
    let url = first.state.config.database_url.clone();
    let second = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    // Two processes' pools on one database; a job of the test's own (the apps' clean-up runs
    // on its own schedule).
    let take = |db: Store, now: i64| async move {
        let mut conn = db.acquire().await.unwrap();
        jobs::take_turn(&mut conn, "probe", now, 600).await.unwrap()
    };
    let both = |now: i64| {
        let (a, b) = (first.state.db.clone(), second.state.db.clone());
        async move {
            let (x, y) = tokio::join!(take(a, now), take(b, now));
            u8::from(x) + u8::from(y)
        }
    };
    let start = first.state.now();
    assert_eq!(both(start).await, 1, "exactly one takes the first turn");
    assert_eq!(
        both(start + 599).await,
        0,
        "nobody before the interval is over"
    );
    assert_eq!(
        both(start + 600).await,
        1,
        "exactly one takes the next turn"
    );
}
