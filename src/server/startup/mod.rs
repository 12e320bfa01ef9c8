//! Start-up and shutdown: settings, state, listening sockets, background jobs and signals.

pub mod clock;
pub mod config;
pub mod jobs;
pub mod state;
pub mod telemetry;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use axum::Router;

use crate::domain::Role;
use crate::server::accounts::admin;
use crate::server::http::{metrics, router};
use crate::server::ops::backup;
use crate::server::startup::config::Config;
use crate::server::startup::state::AppState;
use crate::server::startup::telemetry::LogFormat;

const USAGE: &str =
    "usage: gatehouse                        serve (settings from the environment or .env)
       gatehouse admin grant EMAIL      make the account with this email an administrator
       gatehouse admin revoke EMAIL     make it a plain user again
       gatehouse backup FILE            write a consistent copy of the database to FILE
";

/// The binary's entry point: serves, or runs a command with the same settings.
pub async fn main() -> ExitCode {
    // Before logging starts, so `RUST_LOG` and `LOG_FORMAT` may come from `.env`.
    let _ = dotenvy::dotenv();
    let format = match LogFormat::from_env() {
        Ok(format) => format,
        Err(e) => {
            eprintln!("gatehouse: invalid configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(format);
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => run().await,
        ["admin", "grant", email] => admin_command(email, Role::Admin).await,
        ["admin", "revoke", email] => admin_command(email, Role::User).await,
        ["backup", file] => backup_command(Path::new(file)).await,
        ["oidc", rest @ ..] => oidc_command(rest).await,
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}{}", crate::server::oidc::cli::USAGE);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}{}", crate::server::oidc::cli::USAGE);
            ExitCode::from(2)
        }
    }
}

/// `gatehouse oidc …` (SPEC §8).
async fn oidc_command(args: &[&str]) -> ExitCode {
    let state = match start_state(command_options()).await {
        Ok(state) => state,
        Err(code) => return code,
    };
    let outcome = crate::server::oidc::cli::run(&state, args).await;
    state.audit.flush().await;
    state.db.close().await;
    outcome
}

fn command_options() -> leptos::config::LeptosOptions {
    leptos::config::LeptosOptions::builder()
        .output_name("gatehouse")
        .build()
}

/// `gatehouse admin grant|revoke EMAIL`.
async fn admin_command(email: &str, role: Role) -> ExitCode {
    let state = match start_state(command_options()).await {
        Ok(state) => state,
        Err(code) => return code,
    };
    let outcome = admin::set_role_by_email(&state, email, role).await;
    // The audit writer stores the event before the process ends.
    state.audit.flush().await;
    state.db.close().await;
    match outcome {
        Ok(user) => {
            println!(
                "{} is now {}.",
                user.email,
                if role == Role::Admin {
                    "an administrator"
                } else {
                    "a plain user"
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            match std::error::Error::source(&e) {
                Some(cause) => eprintln!("gatehouse: {e} ({cause})"),
                None => eprintln!("gatehouse: {e}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// `gatehouse backup FILE`: safe while the server runs.
async fn backup_command(file: &Path) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("gatehouse: invalid configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    let db = match crate::server::store::Store::connect(&config.database_url).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = backup::backup_to(&db, file).await;
    db.close().await;
    match outcome {
        Ok(bytes) => {
            println!(
                "Backed up the database to {} ({bytes} bytes).",
                file.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gatehouse: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Settings and state for the server or a command; a bad setting ends the process with a
/// message naming it.
async fn start_state(options: leptos::config::LeptosOptions) -> Result<AppState, ExitCode> {
    let config = Config::from_env().map_err(|e| {
        eprintln!("gatehouse: invalid configuration: {e}");
        ExitCode::FAILURE
    })?;
    AppState::new(config, options).await.map_err(|e| {
        eprintln!("gatehouse: {e}");
        ExitCode::FAILURE
    })
}

/// Starts the server; a bad setting ends start-up with a message naming it.
pub async fn run() -> ExitCode {
    let leptos_options = match leptos::config::get_configuration(None) {
        Ok(conf) => conf.leptos_options,
        Err(e) => {
            eprintln!("gatehouse: invalid Leptos configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = leptos_options.site_addr;
    let state = match start_state(leptos_options).await {
        Ok(state) => state,
        Err(code) => return code,
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("gatehouse: LEPTOS_SITE_ADDR: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("listening on http://{addr}");
    if let Err(e) = serve(listener, state, shutdown_signal()).await {
        eprintln!("gatehouse: {e}");
        return ExitCode::FAILURE;
    }
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// Serves the application on `listener` until `shutdown` completes, then lets in-flight
/// requests finish (up to `SHUTDOWN_TIMEOUT`) and closes the database.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router::router(state.clone());
    serve_app(listener, app, state, shutdown).await
}

/// `serve` with a given router (tests add routes to the real one).
pub async fn serve_app(
    listener: tokio::net::TcpListener,
    app: Router,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        let _ = stopping.send(true);
    };
    if let Some(addr) = state.config.metrics_addr {
        let metrics_listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("METRICS_ADDR: cannot listen on {addr}: {e}"),
            )
        })?;
        tracing::info!("metrics on http://{addr}/metrics");
        tokio::spawn(metrics::serve(
            metrics_listener,
            state.clone(),
            stopped(stop.clone()),
        ));
    }
    jobs::spawn_cleanup(state.clone());
    backup::spawn_scheduled(state.clone());
    state.mailer.spawn_worker();
    // Pages stream out in chunks; without TCP_NODELAY, Nagle's algorithm and delayed ACKs add
    // ~40 ms to some responses.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    let deadline = state.config.shutdown_timeout;
    let outcome = tokio::select! {
        outcome = server.into_future() => outcome,
        () = async {
            stopped(stop).await;
            tokio::time::sleep(deadline).await;
        } => {
            tracing::warn!(
                "requests still in flight after {} s (SHUTDOWN_TIMEOUT); stopping anyway",
                deadline.as_secs()
            );
            Ok(())
        }
    };
    // Finish what requests left running (reset links), store pending audit events, move
    // the WAL into the database file, then close every connection.
    state.background.close();
    state.background.wait().await;
    state.audit.flush().await;
    if let Err(e) = state.db.checkpoint().await {
        tracing::warn!(error = %e, "could not checkpoint the database at shutdown");
    }
    state.db.close().await;
    outcome
}

/// Completes once `stop` says the server is stopping.
async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
