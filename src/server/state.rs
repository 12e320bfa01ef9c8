use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::SqlitePool;

use super::config::Config;
use super::cookies::AuthCookies;
use super::password::Hasher;
use super::sessions::SessionStore;
use super::throttle::LoginThrottle;
use super::tokens::TokenKeys;

/// Everything a request handler, server function or page may need, built once at start-up.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: SqlitePool,
    pub hasher: Hasher,
    pub sessions: Arc<SessionStore>,
    pub throttle: Arc<LoginThrottle>,
    pub cookies: AuthCookies,
    pub leptos_options: LeptosOptions,
}

impl AppState {
    pub async fn new(config: Config, leptos_options: LeptosOptions) -> Result<Self, String> {
        let db = super::db::connect(&config.database_url).await?;
        let keys = TokenKeys::new(&config.jwt_secret, config.access_token_ttl);
        let sessions = SessionStore::new(
            db.clone(),
            keys,
            config.refresh_token_ttl,
            config.browser_session_ttl,
            config.session_idle_ttl,
        );
        Ok(Self {
            hasher: Hasher::new(config.max_concurrent_hashes),
            cookies: AuthCookies::new(config.public_url.https),
            sessions: Arc::new(sessions),
            throttle: Arc::new(LoginThrottle::default()),
            config: Arc::new(config),
            db,
            leptos_options,
        })
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
