//! Hostile-load benchmark: what one anonymous client can do to everyone else.
//!
//! Run with `make bench-hostile` (or `bench/hostile.sh`). It starts the release server
//! (`gatehouse`, built by the script) as a child process on a free loopback port over a fresh
//! data directory, attacks it from this process, and prints one Markdown table:
//!
//! 1. resident memory before and after 100,000 refused logins with distinct 60 KB emails;
//! 2. the p99 of a normal login while 200 clients keep registering (the excess gets 503);
//! 3. the p99 of `/profile` during a saturating login flood (8 and 64 clients), against the
//!    same page when quiet.
//!
//! Every loop is bounded in count or time; nothing leaves 127.0.0.1.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

#[path = "process.rs"]
mod process;

const PASSWORD: &str = "violet tundra kettle 42";

struct Server {
    child: Child,
    base: String,
    metrics: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(binary: &str) -> Self {
        let port = process::free_port();
        let metrics_port = process::free_port();
        let data = tempfile::tempdir().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let child = Command::new(binary)
            .env("DATA_DIR", data.path())
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("PUBLIC_URL", &base)
            .env("LEPTOS_OUTPUT_NAME", "gatehouse")
            .env("LEPTOS_SITE_ROOT", "target/site")
            .env("RUST_LOG", "error")
            .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
            // All attackers and the victim share 127.0.0.1 here; the per-address registration
            // limit would otherwise end scenario 2 before the hashing queue is tested.
            .env("REGISTRATION_LIMIT", "1000000")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the release server");
        process::wait_until_up(&format!("{base}/health")).await;
        Self {
            child,
            base,
            metrics: format!("http://127.0.0.1:{metrics_port}/metrics"),
            _data: data,
        }
    }

    /// Waits until no password check is queued or running (a flood's leftovers would
    /// otherwise be measured as "quiet"), then a second more.
    async fn wait_until_idle(&self) {
        let http = client();
        for _ in 0..600 {
            let text = http
                .get(&self.metrics)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if text.lines().any(|l| l == "gatehouse_hash_queue_depth 0") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    /// Resident memory in MB, from /proc.
    fn rss_mb(&self) -> f64 {
        process::rss_mb(self.child.id())
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .build()
        .unwrap()
}

fn percentile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * q).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn login(client: &reqwest::Client, base: &str) -> (u16, Duration) {
    let started = Instant::now();
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    res.bytes().await.unwrap();
    (status, started.elapsed())
}

/// Refused logins with distinct 60 KB emails, 32 in flight.
async fn junk_logins(base: &str, count: usize) -> (usize, Duration) {
    let started = Instant::now();
    let padding = "a".repeat(60_000);
    let mut tasks = tokio::task::JoinSet::new();
    let workers = 32;
    for worker in 0..workers {
        let (client, base, padding) = (client(), base.to_string(), padding.clone());
        tasks.spawn(async move {
            let mut refused = 0;
            for i in (worker..count).step_by(workers) {
                let email = format!("{i}{padding}@example.com");
                let res = client
                    .post(format!("{base}/api/v1/auth/login"))
                    .json(&json!({"email": email, "password": "guess"}))
                    .send()
                    .await
                    .unwrap();
                refused += usize::from(res.status().is_client_error());
                res.bytes().await.unwrap();
            }
            refused
        });
    }
    let refused = tasks.join_all().await.into_iter().sum();
    (refused, started.elapsed())
}

/// 200 clients register in a loop for `seconds` while one person logs in again and again.
async fn registration_flood(base: &str, seconds: u64) -> (Vec<Duration>, usize, usize, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut flood = tokio::task::JoinSet::new();
    for worker in 0..200 {
        let (client, base, stop) = (client(), base.to_string(), stop.clone());
        flood.spawn(async move {
            let (mut created, mut busy) = (0usize, 0usize);
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let email = format!("flood{worker}-{i}@example.com");
                let res = client
                    .post(format!("{base}/api/v1/auth/register"))
                    .json(&json!({"email": email, "password": PASSWORD}))
                    .send()
                    .await
                    .unwrap();
                match res.status().as_u16() {
                    201 => created += 1,
                    503 => busy += 1,
                    _ => {}
                }
                res.bytes().await.unwrap();
            }
            (created, busy)
        });
    }
    let victim = client();
    let (mut latencies, mut failed) = (Vec::new(), 0);
    let until = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < until {
        let (status, took) = login(&victim, base).await;
        failed += usize::from(status != 200);
        latencies.push(took);
    }
    stop.store(true, Ordering::Relaxed);
    let (created, busy) = flood
        .join_all()
        .await
        .into_iter()
        .fold((0, 0), |(c, b), (c2, b2)| (c + c2, b + b2));
    (latencies, failed, created, busy)
}

/// `/profile` latencies with 4 clients for `seconds`.
async fn profile_latencies(base: &str, cookie: &str, seconds: u64) -> Vec<Duration> {
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (client, base, cookie) = (client(), base.to_string(), cookie.to_string());
        tasks.spawn(async move {
            let mut samples = Vec::new();
            while Instant::now() < until {
                let started = Instant::now();
                let res = client
                    .get(format!("{base}/profile"))
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                res.bytes().await.unwrap();
                samples.push(started.elapsed());
            }
            samples
        });
    }
    tasks.join_all().await.into_iter().flatten().collect()
}

/// `clients` log in with the right password, as fast as they can, until stopped.
fn login_flood(base: &str, clients: usize, stop: Arc<AtomicBool>) -> tokio::task::JoinSet<usize> {
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (client, base, stop) = (client(), base.to_string(), stop.clone());
        flood.spawn(async move {
            let mut served = 0;
            while !stop.load(Ordering::Relaxed) {
                served += usize::from(login(&client, &base).await.0 == 200);
            }
            served
        });
    }
    flood
}

#[tokio::main]
async fn main() {
    let binary = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/release/gatehouse".into());
    let server = Server::start(&binary).await;
    let base = server.base.clone();
    let http = client();
    let res = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": "ada@example.com", "username": "ada", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let pair = process::post_json(
        &http,
        &format!("{base}/api/v1/auth/login"),
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    let cookie = format!(
        "gatehouse_access={}",
        pair["access_token"].as_str().unwrap()
    );

    println!("| measurement | result | goal |\n|---|---|---|");
    let idle = server.rss_mb();
    println!("| resident memory, idle | {idle:.1} MB | |");

    let (refused, took) = junk_logins(&base, 100_000).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_junk = server.rss_mb();
    println!(
        "| 100,000 logins with distinct 60 KB emails ({refused} refused, {:.1} s) | memory {idle:.1} → {after_junk:.1} MB (+{:.1} MB) | growth under 20 MB |",
        took.as_secs_f64(),
        after_junk - idle
    );

    let (mut logins, failed, created, busy) = registration_flood(&base, 10).await;
    let n = logins.len();
    let p50 = percentile(&mut logins, 0.5);
    let p99 = percentile(&mut logins, 0.99);
    println!(
        "| normal logins during 10 s of 200 parallel registration clients | {n} logins, {failed} not 200; p50 {}, p99 {} ({created} accounts created, {busy} answered 503) | p99 under 1 s, excess 503 |",
        ms(p50),
        ms(p99)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_registrations = server.rss_mb();
    println!("| resident memory after the registration flood | {after_registrations:.1} MB | |");

    server.wait_until_idle().await;
    let mut quiet = profile_latencies(&base, &cookie, 5).await;
    let quiet_p99 = percentile(&mut quiet, 0.99);
    // 8 clients keep the hashing threads busy (every login is hashed); 64 also flood the
    // HTTP layer with logins refused at once (503) because the queue is full.
    for clients in [8, 64] {
        let stop = Arc::new(AtomicBool::new(false));
        let flood = login_flood(&base, clients, stop.clone());
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut loaded = profile_latencies(&base, &cookie, 5).await;
        stop.store(true, Ordering::Relaxed);
        let logins_served: usize = flood.join_all().await.into_iter().sum();
        let loaded_p99 = percentile(&mut loaded, 0.99);
        println!(
            "| `/profile` p99, quiet vs during a {clients}-client login flood ({logins_served} logins served) | {} vs {} ({:.2}×) | at most 2× |",
            ms(quiet_p99),
            ms(loaded_p99),
            loaded_p99.as_secs_f64() / quiet_p99.as_secs_f64()
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "| resident memory after the login flood | {:.1} MB | |",
        server.rss_mb()
    );
}
