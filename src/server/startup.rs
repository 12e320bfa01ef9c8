//! Start-up and shutdown: settings, state, listening socket, background jobs and signals.

use std::net::SocketAddr;
use std::process::ExitCode;

use super::config::Config;
use super::state::AppState;
use super::{admin, jobs, mail, router, telemetry};

const USAGE: &str =
    "usage: gatehouse                        serve (settings from the environment or .env)
       gatehouse admin grant EMAIL      make the account with this email an administrator
       gatehouse admin revoke EMAIL     make it a plain user again";

/// The binary's entry point: serves, or runs an admin command with the same settings.
pub async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => run().await,
        ["admin", "grant", email] => admin_command(email, "admin").await,
        ["admin", "revoke", email] => admin_command(email, "user").await,
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// `gatehouse admin grant|revoke EMAIL`.
async fn admin_command(email: &str, role: &str) -> ExitCode {
    telemetry::init();
    let options = leptos::config::LeptosOptions::builder()
        .output_name("gatehouse")
        .build();
    let state = match start_state(options).await {
        Ok(state) => state,
        Err(code) => return code,
    };
    let outcome = admin::set_role_by_email(&state, email, role).await;
    // The audit writer stores the event before the process ends.
    state.audit.flush().await;
    match outcome {
        Ok(user) => {
            println!(
                "{} is now {}.",
                user.email,
                if role == "admin" {
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
    telemetry::init();
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
    jobs::spawn_cleanup(state.clone());
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("gatehouse: LEPTOS_SITE_ADDR: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("listening on http://{addr}");
    if let Err(e) = serve(listener, state, shutdown_signal()).await {
        eprintln!("gatehouse: server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Serves the application on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Pages stream out in chunks; without TCP_NODELAY, Nagle's algorithm and delayed ACKs add
    // ~40 ms to some responses.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    mail::spawn_worker(state.clone());
    let app = router::router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
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
