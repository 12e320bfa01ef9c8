//! `make bench`: one table comparing Gatehouse (release build, a child process) with a bare
//! axum hello page (`bench/hello.rs`, another child process) over loopback with 64 connections
//! for a few seconds per row. Both servers and the load generators share the machine's cores,
//! so throughput is a lower bound; compare rows within one run.
//!
//! Page and JSON rows are loaded with `wrk` (the issue's tool) on one thread: a C load
//! generator takes far less of the two shared cores than a Rust HTTP client would, so the
//! figures describe the server rather than the client. Login and registration rows need a
//! different body per request and are sent from this process (`reqwest`); they are bound by
//! argon2, not by the client.
//!
//! Per row: requests per second, p50, p99, and the server's CPU time per request (user + system
//! time of its process from /proc, divided by the requests answered). Then resident memory:
//! idle, 3 s after each flood, after a minute of rest; and the wasm bundle's size.
//!
//! Usage: `table GATEHOUSE_BINARY HELLO_BINARY SITE_ROOT`.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

#[path = "process.rs"]
mod process;
use process::free_port;

const PASSWORD: &str = "violet tundra kettle 42";
const CONNECTIONS: usize = 64;
const SECONDS: u64 = 5;
/// Login clients for the capacity row: fewer than the hashing queue's places
/// (`HASH_QUEUE_LIMIT`, 32), so none is refused.
const LOGIN_CLIENTS: usize = 16;

struct Process {
    child: Child,
    base: String,
    _data: Option<tempfile::TempDir>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whose CPU time a row is charged with: one server, or several nodes together.
trait Cpu {
    fn cpu_seconds(&self) -> f64;
}

impl Cpu for Process {
    fn cpu_seconds(&self) -> f64 {
        process::cpu_seconds(self.child.id())
    }
}

/// Several nodes behind one proxy, charged together.
struct Nodes<'a>(&'a [Process]);

impl Cpu for Nodes<'_> {
    fn cpu_seconds(&self) -> f64 {
        self.0.iter().map(Cpu::cpu_seconds).sum()
    }
}

impl Process {
    async fn wait_until_up(&self, path: &str) {
        process::wait_until_up(&format!("{}{path}", self.base)).await;
    }

    fn rss_mb(&self) -> f64 {
        process::rss_mb(self.child.id())
    }

    /// Resident memory once a flood is over: read a few seconds after its last request,
    /// when idle hashing threads have given their working memory back.
    async fn settled_rss_mb(&self) -> f64 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        self.rss_mb()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONNECTIONS * 2)
        .build()
        .unwrap()
}

#[derive(Clone)]
enum Call {
    Get {
        url: String,
        headers: Vec<(&'static str, String)>,
    },
    Login {
        url: String,
        email: String,
        password: String,
    },
    Register {
        url: String,
    },
}

impl Call {
    fn get(url: String) -> Self {
        Self::Get {
            url,
            headers: Vec::new(),
        }
    }

    fn with(url: String, name: &'static str, value: String) -> Self {
        Self::Get {
            url,
            headers: vec![(name, value)],
        }
    }

    async fn send(&self, client: &reqwest::Client, n: usize) -> u16 {
        let request = match self {
            Self::Get { url, headers } => {
                let mut request = client.get(url);
                for (name, value) in headers {
                    request = request.header(*name, value);
                }
                request
            }
            Self::Login {
                url,
                email,
                password,
            } => client.post(url).json(&json!({
                "email": email
                    .replace("{n}", &n.to_string())
                    .replace("{account}", &(n % LOGIN_CLIENTS).to_string()),
                "password": password
            })),
            Self::Register { url } => client.post(url).json(&json!({
                // Unique over every row of the run, whichever server it goes to.
                "email": format!("flood{}-{}@example.com", next_registration(), std::process::id()),
                "password": PASSWORD,
            })),
        };
        match request.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let _ = res.bytes().await;
                status
            }
            Err(_) => 0,
        }
    }
}

fn next_registration() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

struct Row {
    answered: usize,
    ok: usize,
    seconds: f64,
    p50: Duration,
    p99: Duration,
    cpu_per_request: f64,
    /// The PostgreSQL server's CPU per request (0 without one).
    db_cpu_per_request: f64,
}

/// `CONNECTIONS` clients sending `call` back to back for `SECONDS`: `wrk` for plain GETs,
/// this process for the rest.
async fn load(server: &impl Cpu, call: Call, ok_status: u16) -> Row {
    match &call {
        Call::Get { url, headers } => wrk(server, url, headers, ok_status).await,
        _ => load_with(server, call, ok_status, CONNECTIONS).await,
    }
}

/// `wrk` on one thread with `CONNECTIONS` keep-alive connections for `SECONDS`. The answers'
/// status is checked before and after the run (one request each must get `ok_status`);
/// during it, `wrk` counts answers outside 2xx/3xx, which are not counted as ok.
async fn wrk(
    server: &impl Cpu,
    url: &str,
    headers: &[(&'static str, String)],
    ok_status: u16,
) -> Row {
    let check = || async {
        let status = Call::Get {
            url: url.to_string(),
            headers: headers.to_vec(),
        }
        .send(&client(), 0)
        .await;
        assert_eq!(status, ok_status, "GET {url} answered {status}");
    };
    check().await;
    let mut command = Command::new("wrk");
    command.args([
        "-t1".to_string(),
        format!("-c{CONNECTIONS}"),
        format!("-d{SECONDS}s"),
        "--latency".to_string(),
    ]);
    for (name, value) in headers {
        command.arg("-H").arg(format!("{name}: {value}"));
    }
    command.arg(url);
    let cpu_before = server.cpu_seconds();
    let db_before = process::postgres_cpu_seconds();
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("wrk is needed for `make bench` (Debian package `wrk`)");
    let cpu = server.cpu_seconds() - cpu_before;
    let db_cpu = process::postgres_cpu_seconds() - db_before;
    check().await;
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed: {report}");
    let mut row =
        parse_wrk(&report, cpu).unwrap_or_else(|| panic!("unexpected wrk output: {report}"));
    row.db_cpu_per_request = db_cpu / row.answered.max(1) as f64;
    assert!(
        row.answered > 0 && row.ok * 100 >= row.answered * 99,
        "GET {url}: only {} of {} answers were ok",
        row.ok,
        row.answered
    );
    row
}

/// Reads `wrk --latency`'s report: "N requests in 5.00s", the 50 % and 99 % latencies and
/// "Non-2xx or 3xx responses: M" (absent when there were none).
fn parse_wrk(report: &str, cpu: f64) -> Option<Row> {
    let duration = |text: &str| -> Option<Duration> {
        let split = text.find(|c: char| c.is_ascii_alphabetic())?;
        let (number, unit) = text.split_at(split);
        let number: f64 = number.parse().ok()?;
        let seconds = match unit {
            "us" => number / 1e6,
            "ms" => number / 1e3,
            "s" => number,
            "m" => number * 60.0,
            _ => return None,
        };
        Some(Duration::from_secs_f64(seconds))
    };
    let mut answered = None;
    let mut seconds = None;
    let (mut p50, mut p99, mut refused) = (None, None, 0);
    for line in report.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [n, "requests", "in", time, ..] => {
                answered = n.parse::<usize>().ok();
                seconds = duration(time.trim_end_matches(',')).map(|d| d.as_secs_f64());
            }
            ["50%", time] => p50 = duration(time),
            ["99%", time] => p99 = duration(time),
            ["Non-2xx", "or", "3xx", "responses:", n] => refused = n.parse().ok()?,
            _ => {}
        }
    }
    let answered = answered?;
    Some(Row {
        answered,
        ok: answered.saturating_sub(refused),
        seconds: seconds?,
        p50: p50?,
        p99: p99?,
        cpu_per_request: cpu / answered.max(1) as f64,
        db_cpu_per_request: 0.0,
    })
}

async fn load_with(server: &impl Cpu, call: Call, ok_status: u16, connections: usize) -> Row {
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let cpu_before = server.cpu_seconds();
    let db_before = process::postgres_cpu_seconds();
    let started = Instant::now();
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (call, client, counter) = (call.clone(), client(), counter.clone());
        tasks.spawn(async move {
            let mut samples = Vec::new();
            let mut ok = 0;
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let sent = Instant::now();
                let status = call.send(&client, n).await;
                samples.push(sent.elapsed());
                if status == ok_status {
                    ok += 1;
                }
            }
            (samples, ok)
        });
    }
    let mut samples = Vec::new();
    let mut ok = 0;
    while let Some(done) = tasks.join_next().await {
        let (mut s, o) = done.unwrap();
        samples.append(&mut s);
        ok += o;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_before;
    let db_cpu = process::postgres_cpu_seconds() - db_before;
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Row {
        answered: samples.len(),
        ok,
        seconds,
        p50: at(0.5),
        p99: at(0.99),
        cpu_per_request: cpu / samples.len().max(1) as f64,
        db_cpu_per_request: db_cpu / samples.len().max(1) as f64,
    }
}

fn print_row(name: &str, row: &Row, hello_rps: f64) {
    let rps = row.answered as f64 / row.seconds;
    println!(
        "| {name} | {:.0} | {:.0} % | {:.2} ms | {:.2} ms | {:.3} ms | {}/{} |",
        rps,
        100.0 * rps / hello_rps,
        row.p50.as_secs_f64() * 1000.0,
        row.p99.as_secs_f64() * 1000.0,
        row.cpu_per_request * 1000.0,
        row.ok,
        row.answered,
    );
}

/// Creates 1,000 projects and one with 5,000 tasks for `owner`; returns the big project's id.
async fn seed(database: &std::path::Path, owner: i64) -> i64 {
    let url = format!("sqlite://{}", database.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    for n in 0..1000 {
        sqlx::query(
            "INSERT INTO projects (owner_id, name, description, created_at, updated_at) VALUES (?, ?, ?, 0, 0)",
        )
        .bind(owner)
        .bind(format!("Project {n}"))
        .bind("Seeded for the benchmark")
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    let big: i64 = sqlx::query_scalar(
        "INSERT INTO projects (owner_id, name, description, created_at, updated_at) VALUES (?, 'Big', '', 0, 0) RETURNING id",
    )
    .bind(owner)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    for n in 0..5000 {
        sqlx::query(
            "INSERT INTO tasks (project_id, title, position, done, created_at, updated_at) VALUES (?, ?, ?, ?, 0, 0)",
        )
        .bind(big)
        .bind(format!("Task {n}"))
        .bind(n + 1)
        .bind(n % 3 == 0)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    pool.close().await;
    big
}

/// One argon2id hash with the server's parameters, in seconds (the best of five).
fn argon2() -> argon2::Argon2<'static> {
    use argon2::{Algorithm, Argon2, Params, Version};
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).unwrap(),
    )
}

/// Hashes `times` passwords one after another into one reused working memory, as each of the
/// server's hashing threads does; returns the fastest single hash in seconds.
fn hash_repeatedly(times: usize) -> f64 {
    let argon2 = argon2();
    let mut memory = vec![argon2::Block::default(); argon2.params().block_count()];
    let mut out = [0u8; 32];
    (0..times)
        .map(|_| {
            let started = Instant::now();
            argon2
                .hash_password_into_with_memory(
                    PASSWORD.as_bytes(),
                    b"benchmark-salt-16",
                    &mut out,
                    &mut memory,
                )
                .unwrap();
            started.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

/// Hashes per second with one thread per core hashing at once (nothing else running): the
/// machine's real capacity, lower than cores ÷ one hash's time when the hashes slow each other
/// down (they share memory bandwidth and the last-level cache).
fn parallel_hashes_per_second(cores: usize) -> f64 {
    const EACH: usize = 20;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..cores {
            scope.spawn(|| hash_repeatedly(EACH));
        }
    });
    (cores * EACH) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (binary, hello, site) = (&args[1], &args[2], &args[3]);

    let hello_port = free_port();
    let hello = Process {
        child: Command::new(hello)
            .arg(format!("127.0.0.1:{hello_port}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start the hello server"),
        base: format!("http://127.0.0.1:{hello_port}"),
        _data: None,
    };
    hello.wait_until_up("/").await;

    // A packaged release build reads its hashed file names from `hash.txt` beside it.
    let hashed = std::path::Path::new(binary)
        .with_file_name("hash.txt")
        .exists();
    let launcher = Launcher {
        binary: binary.clone(),
        site: site.clone(),
        hashed,
    };
    let server = launcher.start(&[]);
    let base = server.base.clone();
    server.wait_until_up("/health").await;
    let idle_mb = server.rss_mb();

    let http = client();
    let ada = json!({"email": "ada@example.com", "password": PASSWORD});
    let user =
        process::post_json(&http, &format!("{base}/api/v1/auth/register"), ada.clone()).await;
    let pair = process::post_json(&http, &format!("{base}/api/v1/auth/login"), ada).await;
    let token = pair["access_token"].as_str().unwrap().to_string();
    let big = seed(
        &server._data.as_ref().unwrap().path().join("gatehouse.db"),
        user["id"].as_i64().unwrap(),
    )
    .await;
    let cookie = format!("gatehouse_access={token}");

    println!("| request | req/s | of hello | p50 | p99 | server CPU per request | ok/answered |");
    println!("|---|---|---|---|---|---|---|");
    let hello_row = load(&hello, Call::get(format!("{}/", hello.base)), 200).await;
    let hello_rps = hello_row.answered as f64 / hello_row.seconds;
    print_row("bare axum hello page", &hello_row, hello_rps);
    let rows: Vec<(&str, Call, u16)> = vec![
        (
            "`GET /login` (guest page)",
            Call::get(format!("{base}/login")),
            200,
        ),
        (
            "`GET /profile` (member page)",
            Call::with(format!("{base}/profile"), "cookie", cookie.clone()),
            200,
        ),
        (
            "`GET /projects` (1,000 projects)",
            Call::with(format!("{base}/projects"), "cookie", cookie.clone()),
            200,
        ),
        (
            "`GET /projects/:id` (5,000 tasks)",
            Call::with(format!("{base}/projects/{big}"), "cookie", cookie.clone()),
            200,
        ),
        (
            "`GET /api/v1/users/me` (Bearer)",
            Call::with(
                format!("{base}/api/v1/users/me"),
                "authorization",
                format!("Bearer {token}"),
            ),
            200,
        ),
    ];
    for (name, call, ok) in rows {
        let row = load(&server, call, ok).await;
        print_row(name, &row, hello_rps);
    }
    let login = |email: &str, password: &str| Call::Login {
        url: format!("{base}/api/v1/auth/login"),
        email: email.to_string(),
        password: password.to_string(),
    };
    // Capacity: fewer clients than the hashing queue holds, so every login is hashed, each
    // mostly to its own account (the throttle refuses many parallel attempts on one account).
    for account in 0..LOGIN_CLIENTS {
        let person = json!({"email": format!("member{account}@example.com"), "password": PASSWORD});
        process::post_json(&http, &format!("{base}/api/v1/auth/register"), person).await;
    }
    let hash = hash_repeatedly(20);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let floor = cores as f64 / hash;
    let parallel_floor = parallel_hashes_per_second(cores);
    let capacity = load_with(
        &server,
        login("member{account}@example.com", PASSWORD),
        200,
        LOGIN_CLIENTS,
    )
    .await;
    print_row(
        &format!("`POST /api/v1/auth/login` (right password, {LOGIN_CLIENTS} clients)"),
        &capacity,
        hello_rps,
    );
    let right = load(&server, login("ada@example.com", PASSWORD), 200).await;
    print_row(
        "`POST /api/v1/auth/login` (right password, 64 clients: a flood)",
        &right,
        hello_rps,
    );
    let after_right = server.settled_rss_mb().await;
    let wrong = load(&server, login("ada@example.com", "wrong password"), 401).await;
    print_row("logins, wrong password", &wrong, hello_rps);
    let after_wrong = server.settled_rss_mb().await;
    let unknown = load(&server, login("nobody{n}@example.com", PASSWORD), 401).await;
    print_row("logins, unknown emails", &unknown, hello_rps);
    let after_unknown = server.settled_rss_mb().await;
    let registrations = load(
        &server,
        Call::Register {
            url: format!("{base}/api/v1/auth/register"),
        },
        201,
    )
    .await;
    print_row("registrations", &registrations, hello_rps);
    let after_register = server.settled_rss_mb().await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let rested = server.rss_mb();

    let logins_per_second = capacity.ok as f64 / capacity.seconds;
    let flooded_per_second = right.ok as f64 / right.seconds;
    println!();
    println!(
        "Argon2 floor: one hash takes {:.1} ms here, so {cores} cores could do {floor:.0} logins/s; \
         {cores} threads hashing at once (measured) do {parallel_floor:.0}/s. Right-password logins \
         answered 200: {logins_per_second:.0}/s with {LOGIN_CLIENTS} clients ({:.0} % of the first \
         floor, {:.0} % of the measured one), {flooded_per_second:.0}/s during the 64-client flood \
         ({:.0} % of the measured floor).",
        hash * 1000.0,
        100.0 * logins_per_second / floor,
        100.0 * logins_per_second / parallel_floor,
        100.0 * flooded_per_second / parallel_floor
    );
    println!();
    println!("| resident memory | MB |");
    println!("|---|---|");
    for (when, mb) in [
        ("idle", idle_mb),
        ("after the right-password login flood", after_right),
        ("after the wrong-password flood", after_wrong),
        ("after the unknown-email flood", after_unknown),
        ("after the registration flood", after_register),
        ("after a minute of rest", rested),
    ] {
        println!("| {when} | {mb:.1} |");
    }
    println!();
    let pkg = std::path::Path::new(site).join("pkg");
    let wasm: Vec<_> = std::fs::read_dir(&pkg)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
                .collect()
        })
        .unwrap_or_default();
    for path in wasm {
        let raw = std::fs::metadata(&path).map_or(0, |m| m.len());
        let gz = std::fs::metadata(path.with_extension("wasm.gz")).map_or(0, |m| m.len());
        let br = std::fs::metadata(path.with_extension("wasm.br")).map_or(0, |m| m.len());
        println!(
            "wasm `{}`: {raw} bytes raw, {gz} gzipped, {br} brotli",
            path.file_name().unwrap().to_string_lossy()
        );
    }
    println!();
    match std::env::var("GATEHOUSE_TEST_POSTGRES") {
        Ok(postgres) => backends(&launcher, &server, &postgres).await,
        Err(_) => println!(
            "(The SQLite / PostgreSQL / two-node table needs GATEHOUSE_TEST_POSTGRES: \
             `make bench` runs this under tests/postgres.sh.)"
        ),
    }
}

/// How to start a Gatehouse server for a row.
struct Launcher {
    binary: String,
    site: String,
    hashed: bool,
}

impl Launcher {
    /// A server on a free port with its own data directory and `env` on top.
    fn start(&self, env: &[(&str, String)]) -> Process {
        let port = free_port();
        let data = tempfile::tempdir().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let mut command = Command::new(&self.binary);
        command
            .env("LEPTOS_HASH_FILES", self.hashed.to_string())
            .env("DATA_DIR", data.path())
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("PUBLIC_URL", &base)
            .env("LEPTOS_OUTPUT_NAME", "gatehouse")
            .env("LEPTOS_SITE_ROOT", &self.site)
            .env("LEPTOS_ENV", "PROD")
            .env("RUST_LOG", "error")
            .env("REGISTRATION_LIMIT", "100000000")
            .env(
                "JWT_SECRET",
                "benchmark-secret-shared-by-every-node-0123456789",
            );
        for (name, value) in env {
            command.env(name, value);
        }
        Process {
            child: command
                .stdout(Stdio::null())
                .spawn()
                .expect("start gatehouse"),
            base,
            _data: Some(data),
        }
    }
}

/// A fresh database on the PostgreSQL server `server_url` names.
async fn postgres_database(server_url: &str, name: &str) -> String {
    let admin = sqlx::PgPool::connect(server_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let (base, _) = server_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// nginx on a free loopback port, round-robin over `nodes`.
fn proxy(nodes: &[Process]) -> Process {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let servers: String = nodes
        .iter()
        .map(|n| format!("server {};\n", n.base.trim_start_matches("http://")))
        .collect();
    let prefix = dir.path().display();
    let conf = format!(
        "daemon off; master_process on; worker_processes 1; user root; pid {prefix}/nginx.pid;
         error_log {prefix}/error.log error;
         events {{ worker_connections 1024; }}
         http {{ access_log off;
           client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy;
           fastcgi_temp_path {prefix}/fastcgi; uwsgi_temp_path {prefix}/uwsgi;
           scgi_temp_path {prefix}/scgi;
           upstream gatehouse {{ {servers} keepalive 64; }}
           server {{ listen 127.0.0.1:{port};
             location / {{ proxy_pass http://gatehouse; proxy_http_version 1.1;
               proxy_set_header Connection \"\"; proxy_set_header Host $http_host; }} }} }}"
    );
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    Process {
        child: Command::new("nginx")
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir.path())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx is needed for `make bench` (Debian package nginx-light)"),
        base: format!("http://127.0.0.1:{port}"),
        _data: Some(dir),
    }
}

/// One node on SQLite, one on PostgreSQL, two on PostgreSQL behind nginx: the member page, the
/// JSON API, logins and registrations, each measured the same way in this run.
async fn backends(launcher: &Launcher, sqlite: &Process, postgres: &str) {
    println!("| backend | request | req/s | p50 | p99 | Gatehouse CPU per request | PostgreSQL CPU per request | ok/answered |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut me_rows = Vec::new();
    let one = launcher.start(&[(
        "DATABASE_URL",
        postgres_database(postgres, "bench_one").await,
    )]);
    one.wait_until_up("/ready").await;
    let shared = postgres_database(postgres, "bench_two").await;
    let first = launcher.start(&[("DATABASE_URL", shared.clone())]);
    first.wait_until_up("/ready").await;
    // The second node starts once the first has migrated the database.
    let second = launcher.start(&[("DATABASE_URL", shared)]);
    second.wait_until_up("/ready").await;
    let pair = [first, second];
    let front = proxy(&pair);
    front.wait_until_up("/ready").await;
    let setups: [(&str, &dyn Fn() -> f64, &str); 3] = [
        ("SQLite, 1 node", &|| sqlite.cpu_seconds(), &sqlite.base),
        ("PostgreSQL, 1 node", &|| one.cpu_seconds(), &one.base),
        (
            "PostgreSQL, 2 nodes + nginx",
            &|| Nodes(&pair).cpu_seconds(),
            &front.base,
        ),
    ];
    for (label, cpu, base) in setups {
        let meter = Meter(cpu);
        let row = |name: &str, row: &Row| {
            println!(
                "| {label} | {name} | {:.0} | {:.2} ms | {:.2} ms | {:.3} ms | {:.3} ms | {}/{} |",
                row.answered as f64 / row.seconds,
                row.p50.as_secs_f64() * 1000.0,
                row.p99.as_secs_f64() * 1000.0,
                row.cpu_per_request * 1000.0,
                row.db_cpu_per_request * 1000.0,
                row.ok,
                row.answered,
            );
        };
        let token = member_token(base).await;
        let cookie = format!("gatehouse_access={token}");
        let page = load(
            &meter,
            Call::with(format!("{base}/profile"), "cookie", cookie),
            200,
        )
        .await;
        row("`GET /profile` (member page)", &page);
        let bearer = format!("Bearer {token}");
        let me = Call::with(format!("{base}/api/v1/users/me"), "authorization", bearer);
        let me = load(&meter, me, 200).await;
        row("`GET /api/v1/users/me`", &me);
        let login = Call::Login {
            url: format!("{base}/api/v1/auth/login"),
            email: "member{account}@example.com".to_string(),
            password: PASSWORD.to_string(),
        };
        let logins = load_with(&meter, login, 200, LOGIN_CLIENTS).await;
        row(&format!("logins ({LOGIN_CLIENTS} clients)"), &logins);
        let register = Call::Register {
            url: format!("{base}/api/v1/auth/register"),
        };
        let registrations = load_with(&meter, register, 201, LOGIN_CLIENTS).await;
        row(
            &format!("registrations ({LOGIN_CLIENTS} clients)"),
            &registrations,
        );
        me_rows.push((label, me, page, logins, registrations));
    }
    println!();
    let rate = |row: &Row| row.answered as f64 / row.seconds;
    let (_, lite_me, lite_page, lite_logins, lite_regs) = &me_rows[0];
    for (label, me, page, logins, registrations) in &me_rows[1..] {
        println!(
            "{label} against SQLite: member page {:.2}×, `/users/me` {:.2}×, logins {:.2}×, \
             registrations {:.2}×.",
            rate(page) / rate(lite_page),
            rate(me) / rate(lite_me),
            rate(logins) / rate(lite_logins),
            rate(registrations) / rate(lite_regs),
        );
    }
    let (_, pg_me, ..) = &me_rows[1];
    println!(
        "The session check on PostgreSQL (asked on every request; SQLite's cache answers from \
         memory until the next commit): `/users/me` costs {:.3} ms of Gatehouse CPU plus {:.3} ms \
         of PostgreSQL CPU per request, against {:.3} ms on SQLite.",
        pg_me.cpu_per_request * 1000.0,
        pg_me.db_cpu_per_request * 1000.0,
        lite_me.cpu_per_request * 1000.0,
    );
}

/// CPU time from a closure: whichever processes a setup has.
struct Meter<'a>(&'a dyn Fn() -> f64);

impl Cpu for Meter<'_> {
    fn cpu_seconds(&self) -> f64 {
        (self.0)()
    }
}

/// Registers the benchmark's accounts at `base` (once per database) and logs one in.
async fn member_token(base: &str) -> String {
    let http = client();
    let register = format!("{base}/api/v1/auth/register");
    for account in 0..LOGIN_CLIENTS {
        let person = json!({"email": format!("member{account}@example.com"), "password": PASSWORD});
        let _ = http.post(&register).json(&person).send().await;
    }
    let ada = json!({"email": "member0@example.com", "password": PASSWORD});
    let pair = process::post_json(&http, &format!("{base}/api/v1/auth/login"), ada).await;
    pair["access_token"].as_str().unwrap().to_string()
}
