//! Test harness: the real router on a random port, a fresh SQLite file per test, and a small
//! browser-like client that keeps cookies and speaks real HTTP.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use gatehouse::server::startup::config::Config;
use gatehouse::server::startup::state::AppState;
use leptos::config::LeptosOptions;
use reqwest::header::{
    HeaderMap, ACCEPT, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, REFERER, SET_COOKIE,
};
use reqwest::{Method, StatusCode};
use tempfile::TempDir;

pub const PASSWORD: &str = "violet tundra kettle 42";
pub const NEW_PASSWORD: &str = "maple orbit lantern 77";
pub const CHROME_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    dir: TempDir,
    stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    server: Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(settings: &[(&str, &str)]) -> TestApp {
    spawn(settings, gatehouse::server::http::router::routes).await
}

/// Serves the real application, with routes added by `routes` (tests add, e.g., a handler
/// that panics) and every layer the real router has.
/// Runs `$body` with `$c` bound to a connection of `$store` (a `&Store`), on whichever backend
/// it has: tests that look at rows directly write their SQL once, with `$1`-style
/// placeholders, which SQLite reads too.
#[macro_export]
macro_rules! on_db {
    ($store:expr, |$c:ident| $body:expr) => {{
        let mut conn = $store.acquire().await.unwrap();
        match gatehouse::server::store::Exec::db(&mut conn) {
            gatehouse::server::store::Db::Sqlite($c) => $body,
            gatehouse::server::store::Db::Postgres($c) => $body,
        }
    }};
}

/// With `GATEHOUSE_TEST_POSTGRES` set (a PostgreSQL server's URL, its `postgres` database),
/// every test app gets a fresh database of its own there instead of a SQLite file: the same
/// tests run on both backends (`make test` runs them twice).
async fn postgres_database() -> Option<String> {
    use sqlx::Executor as _;
    let server = std::env::var("GATEHOUSE_TEST_POSTGRES").ok()?;
    let name = format!("gh_{}", uuid_like());
    let admin = sqlx::PgPool::connect(&server)
        .await
        .expect("GATEHOUSE_TEST_POSTGRES reachable");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create a test database");
    admin.close().await;
    let (base, _) = server.rsplit_once('/').expect("a URL ending in /DATABASE");
    Some(format!("{base}/{name}"))
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}_{n}", std::process::id())
}

pub async fn spawn(
    settings: &[(&str, &str)],
    routes: fn(&AppState) -> axum::Router<AppState>,
) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("DATA_DIR".into(), dir.path().display().to_string());
    vars.insert("PUBLIC_URL".into(), base.clone());
    if let Some(url) = postgres_database().await {
        vars.insert("DATABASE_URL".into(), url);
    }
    // `{port}` in a setting is the port the app listens on (`PUBLIC_URL=http://localhost:{port}`).
    for (k, v) in settings {
        vars.insert(k.to_string(), v.replace("{port}", &addr.port().to_string()));
    }
    let config = Config::from_lookup(|name| vars.get(name).cloned()).expect("valid test config");
    let options = LeptosOptions::builder()
        .output_name("gatehouse")
        .site_root(dir.path().join("site").display().to_string())
        .site_addr(addr)
        .build();
    let state = AppState::new(config, options).await.expect("app state");
    spawn_router(listener, dir, state, routes)
}

fn spawn_router(
    listener: tokio::net::TcpListener,
    dir: TempDir,
    state: AppState,
    routes: fn(&AppState) -> axum::Router<AppState>,
) -> TestApp {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = gatehouse::server::http::router::layered(routes(&state), state.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gatehouse::server::startup::serve_app(
        listener,
        app,
        state.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    TestApp {
        base,
        state,
        dir,
        stop: Mutex::new(Some(stop)),
        server: Mutex::new(Some(server)),
    }
}

impl TestApp {
    /// A second process on this app's database, with the same settings and secret: another
    /// node behind the same address (SPEC §10).
    pub async fn another_node(&self) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dir = tempfile::tempdir().expect("temp dir");
        let options = LeptosOptions::builder()
            .output_name("gatehouse")
            .site_root(dir.path().join("site").display().to_string())
            .site_addr(listener.local_addr().unwrap())
            .build();
        let config = (*self.state.config).clone();
        let state = AppState::new(config, options).await.expect("app state");
        spawn_router(
            listener,
            dir,
            state,
            gatehouse::server::http::router::routes,
        )
    }

    /// Sends the shutdown signal and waits until the server has finished (in-flight requests
    /// answered, database closed).
    pub async fn stop(&self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.lock().unwrap().take() {
            let _ = stop.send(());
        }
        let server = self.server.lock().unwrap().take();
        match server {
            Some(server) => server.await.expect("the server task ends normally"),
            None => Ok(()),
        }
    }

    /// Signals shutdown without waiting for it.
    pub fn begin_stop(&self) {
        if let Some(stop) = self.stop.lock().unwrap().take() {
            let _ = stop.send(());
        }
    }

    /// Moves the app's clock forward: tokens, sessions and throttling see the time pass at
    /// once, without the test sleeping.
    pub fn advance(&self, by: Duration) {
        self.state.clock.advance(by);
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Every message written to the outbox so far (`SMTP_URL` unset), oldest first.
    pub fn outbox(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.path().join("outbox")) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        files
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .map(|raw| decoded(&raw))
            .collect()
    }

    /// Waits (see `eventually`) for a message to `to` whose subject contains `subject`; the
    /// newest such message.
    pub async fn mail(&self, to: &str, subject: &str) -> String {
        let what = Outbox {
            app: self,
            to,
            subject,
        };
        eventually(what, || async {
            self.outbox()
                .into_iter()
                .rev()
                .find(|m| is_mail_to(m, to) && m.contains(subject))
        })
        .await
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// A JSON API request from a fresh client, with a Bearer token when given.
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Page {
        self.browser().api(method, path, token, body).await
    }

    /// `GET /api/v1/users/me` with `token`.
    pub async fn me(&self, token: &str) -> serde_json::Value {
        self.api(Method::GET, "/api/v1/users/me", Some(token), None)
            .await
            .json()
    }

    pub async fn api_forgot(&self, email: &str) -> Page {
        let body = serde_json::json!({ "email": email });
        self.api(
            Method::POST,
            "/api/v1/auth/password/forgot",
            None,
            Some(body),
        )
        .await
    }

    pub async fn api_reset(&self, token: &str, password: &str) -> Page {
        let body = serde_json::json!({"token": token, "password": password});
        self.api(
            Method::POST,
            "/api/v1/auth/password/reset",
            None,
            Some(body),
        )
        .await
    }

    /// A query without arguments that answers one integer (a count, an id).
    pub async fn scalar(&self, sql: &'static str) -> i64 {
        crate::on_db!(&self.state.db, |c| sqlx::query_scalar(sql)
            .fetch_one(c)
            .await)
        .unwrap()
    }

    pub async fn api_register(&self, email: &str) -> serde_json::Value {
        let body = serde_json::json!({"email": email, "password": PASSWORD});
        let res = self
            .api(Method::POST, "/api/v1/auth/register", None, Some(body))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        res.json()
    }

    pub async fn api_login(&self, email: &str, password: &str) -> Page {
        let body = serde_json::json!({"email": email, "password": password});
        self.api(Method::POST, "/api/v1/auth/login", None, Some(body))
            .await
    }

    /// Registers and logs in through the API; returns (user, access token, refresh token).
    pub async fn api_member(&self, email: &str) -> (serde_json::Value, String, String) {
        let user = self.api_register(email).await;
        let pair = self.api_login(email, PASSWORD).await.json();
        let token = |name: &str| pair[name].as_str().unwrap().to_string();
        (user, token("access_token"), token("refresh_token"))
    }

    /// Registers through the page's form and returns the logged-in browser.
    pub async fn registered(&self, email: &str, username: &str) -> Browser {
        let browser = self.browser();
        let res = browser.register(email, username, PASSWORD).await;
        assert_eq!(
            res.location(),
            Some("/profile"),
            "registration failed: {}",
            res.body
        );
        browser
    }
}

/// How long `eventually` waits, and how often it looks.
const EVENTUALLY_LIMIT: Duration = Duration::from_secs(10);
const EVENTUALLY_EVERY: Duration = Duration::from_millis(20);

/// Asks `check` every 20 ms until it answers `Some`, and returns that; panics naming `what`
/// after 10 s. The one way these tests wait for something the server does in the background
/// (mail delivery, a listener closing, writers making progress): never a fixed sleep, which is
/// too short on a slow machine and wasted time on a fast one.
pub async fn eventually<F, Fut, T>(what: impl std::fmt::Display, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + EVENTUALLY_LIMIT;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("gave up after {EVENTUALLY_LIMIT:?} waiting for {what}");
        }
        tokio::time::sleep(EVENTUALLY_EVERY).await;
    }
}

/// What `TestApp::mail` waits for, with the outbox as it is when the wait gives up.
struct Outbox<'a> {
    app: &'a TestApp,
    to: &'a str,
    subject: &'a str,
}

impl std::fmt::Display for Outbox<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a mail to {} about {:?}; outbox: {:#?}",
            self.to,
            self.subject,
            self.app.outbox()
        )
    }
}

/// A message as its reader sees it: quoted-printable bodies decoded (soft line breaks joined,
/// `=XX` escapes turned back into bytes).
pub fn decoded(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    if !raw.contains("Content-Transfer-Encoding: quoted-printable") {
        return raw;
    }
    let joined = raw.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn is_mail_to(mail: &str, to: &str) -> bool {
    mail.lines()
        .any(|line| line.starts_with("To: ") && line.contains(to))
}

/// The token of the first link in `mail` to `path` (e.g. `/reset-password`).
pub fn token_in(mail: &str, path: &str) -> String {
    let marker = format!("{path}?token=");
    let at = mail
        .find(&marker)
        .unwrap_or_else(|| panic!("no {path} link in {mail}"));
    mail[at + marker.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// The first whole link in `mail` to `path`.
pub fn link_in(mail: &str, path: &str) -> String {
    let token = token_in(mail, path);
    let end = mail.find(&token).unwrap() + token.len();
    let start = mail[..end].rfind("http").unwrap();
    mail[start..end].to_string()
}

/// A minimal SMTP server on loopback that keeps every message it is given.
pub struct SmtpSink {
    pub messages: std::sync::Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start(listener: tokio::net::TcpListener) -> Self {
        let messages = std::sync::Arc::new(Mutex::new(Vec::new()));
        let kept = messages.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(smtp_session(socket, kept.clone()));
            }
        });
        Self { messages }
    }
}

async fn smtp_session(socket: tokio::net::TcpStream, kept: std::sync::Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
    while let Ok(Some(line)) = lines.next_line().await {
        let command = line.to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
            b"250-sink\r\n250 8BITMIME\r\n"
        } else if command.starts_with("DATA") {
            let _ = write.write_all(b"354 go on\r\n").await;
            let mut message = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "." {
                    break;
                }
                message.push_str(&line);
                message.push('\n');
            }
            kept.lock().unwrap().push(message);
            b"250 kept\r\n"
        } else if command.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"250 ok\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }

    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The `__err` a plain form post carries back to the page, decoded.
    pub fn form_error(&self) -> Option<serde_json::Value> {
        use base64::Engine as _;
        let query = self.location()?.split_once('?')?.1;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
        let (_, err) = pairs.into_iter().find(|(name, _)| name == "__err")?;
        let bytes = base64::engine::general_purpose::URL_SAFE
            .decode(err.as_bytes())
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// Keeps cookies like a browser and sends the headers a same-site browser would.
pub struct Browser {
    pub base: String,
    client: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
    pub user_agent: String,
    /// The address the person typed, when requests go to one node of several directly.
    origin: Option<String>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Mutex::new(BTreeMap::new()),
            user_agent: CHROME_UA.to_string(),
            origin: None,
        }
    }

    /// The same browser (its cookies as they are now), with its requests answered by the node
    /// at `node` while the page's address stays this browser's: a load balancer's choice.
    pub fn through(&self, node: &str) -> Browser {
        let other = Browser::new(node);
        other.set_cookies(self.cookies());
        Browser {
            origin: Some(self.origin.clone().unwrap_or_else(|| self.base.clone())),
            ..other
        }
    }

    fn origin(&self) -> String {
        self.origin.clone().unwrap_or_else(|| self.base.clone())
    }

    pub fn cookies(&self) -> BTreeMap<String, String> {
        self.cookies.lock().unwrap().clone()
    }

    pub fn set_cookies(&self, cookies: BTreeMap<String, String>) {
        *self.cookies.lock().unwrap() = cookies;
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn remember(&self, headers: &HeaderMap) {
        let mut jar = self.cookies.lock().unwrap();
        for value in headers.get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let Some((pair, attrs)) = text.split_once(';').or(Some((text, ""))) else {
                continue;
            };
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let expired = attrs
                .split(';')
                .any(|a| a.trim().eq_ignore_ascii_case("Max-Age=0"));
            if expired || value.is_empty() {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_string(), value.trim().to_string());
            }
        }
    }

    /// Paths are relative to the app; redirects may also give absolute URLs.
    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(String, &str)>,
    ) -> Page {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("user-agent", &self.user_agent);
        let cookies = self.cookie_header();
        if !cookies.is_empty() {
            req = req.header(COOKIE, cookies);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some((body, content_type)) = body {
            req = req.header(CONTENT_TYPE, content_type).body(body);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        self.remember(&headers);
        let body = res.text().await.unwrap_or_default();
        Page {
            status,
            headers,
            body,
        }
    }

    /// A JSON API request, with a Bearer token when given.
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Page {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("accept", "application/json")];
        if let Some(bearer) = bearer.as_deref() {
            headers.push(("authorization", bearer));
        }
        let body = body.map(|b| (b.to_string(), "application/json"));
        self.request(method, path, &headers, body).await
    }

    pub async fn get(&self, path: &str) -> Page {
        self.request(Method::GET, path, &[(ACCEPT.as_str(), "text/html")], None)
            .await
    }

    /// A plain HTML form post (JavaScript off) from `from`, as Chromium sends it.
    pub async fn submit(&self, from: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let referer = format!("{}{from}", self.origin());
        self.post_form(
            action,
            fields,
            "text/html,application/xhtml+xml",
            Some(&referer),
        )
        .await
    }

    /// A server-function call as the hydrated page makes it (JavaScript on).
    pub async fn call(&self, action: &str, fields: &[(&str, &str)]) -> Page {
        self.post_form(action, fields, "application/json", None)
            .await
    }

    /// A same-origin form-encoded POST, as a browser sends it.
    async fn post_form(
        &self,
        action: &str,
        fields: &[(&str, &str)],
        accept: &str,
        referer: Option<&str>,
    ) -> Page {
        let origin = self.origin();
        let mut headers = vec![
            (ACCEPT.as_str(), accept),
            (ORIGIN.as_str(), origin.as_str()),
            ("sec-fetch-site", "same-origin"),
        ];
        if let Some(referer) = referer {
            headers.push((REFERER.as_str(), referer));
        }
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.request(
            Method::POST,
            action,
            &headers,
            Some((body, "application/x-www-form-urlencoded")),
        )
        .await
    }

    pub async fn register(&self, email: &str, username: &str, password: &str) -> Page {
        self.submit(
            "/register",
            "/api/register",
            &[
                ("email", email),
                ("username", username),
                ("password", password),
                ("confirm_password", password),
            ],
        )
        .await
    }

    pub async fn log_in(&self, email: &str, password: &str, remember: bool) -> Page {
        let mut fields = vec![("email", email), ("password", password), ("next", "")];
        if remember {
            fields.push(("remember", "on"));
        }
        self.submit("/login", "/api/login", &fields).await
    }

    /// The profile page's "Change password" form.
    pub async fn change_password(&self, current: &str, new: &str) -> Page {
        let fields = [
            ("current_password", current),
            ("new_password", new),
            ("confirm_new_password", new),
        ];
        self.submit("/profile", "/api/change_password", &fields)
            .await
    }

    pub async fn log_out(&self) -> Page {
        self.submit("/profile", "/api/logout", &[]).await
    }

    /// Whether the server treats this browser as logged in.
    pub async fn is_member(&self) -> bool {
        let page = self.get("/profile").await;
        match page.status {
            StatusCode::OK => true,
            StatusCode::SEE_OTHER | StatusCode::FOUND => false,
            other => panic!("unexpected /profile status {other}: {}", page.body),
        }
    }
}
