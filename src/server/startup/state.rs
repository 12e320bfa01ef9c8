use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::server::accounts::audit::AuditLog;
use crate::server::http::resubmit::Resubmissions;
use crate::server::mail::Mailer;
use crate::server::oidc::keys::KeyRing;
use crate::server::ops::metrics::Metrics;
use crate::server::security::cookies::AuthCookies;
use crate::server::security::password::Hasher;
use crate::server::security::second_factor::SealKey;
use crate::server::security::throttle::Throttle;
use crate::server::security::tokens::TokenKeys;
use crate::server::security::webauthn::Passkeys;
use crate::server::sessions::cache::SessionCache;
use crate::server::sessions::rotations::Rotations;
use crate::server::startup::clock::Clock;
use crate::server::startup::config::Config;
use crate::server::store::Store;

/// Everything a request handler, server function or page may need, built once at start-up.
/// Every service function takes it as its first argument. A handle: every layer and handler
/// clones it per request, so a clone is one reference count, not a copy of the keys, the
/// configuration and the Leptos options.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What an `AppState` handle points to.
pub struct Shared {
    pub config: Arc<Config>,
    pub db: Store,
    pub clock: Clock,
    pub keys: TokenKeys,
    pub hasher: Hasher,
    pub rotations: Arc<Rotations>,
    pub session_cache: SessionCache,
    pub throttle: Arc<Throttle>,
    pub cookies: AuthCookies,
    pub mailer: Mailer,
    pub audit: AuditLog,
    pub metrics: Arc<Metrics>,
    /// Work a request started and left running (reset links): waited for at shutdown.
    pub background: tokio_util::task::TaskTracker,
    pub resubmissions: Arc<Resubmissions>,
    /// Seals authenticator-app secrets and keys recovery-code digests (from `JWT_SECRET`).
    pub factor_key: SealKey,
    /// The site as a WebAuthn relying party (`PUBLIC_URL`'s host).
    pub passkeys: Passkeys,
    /// The OpenID Provider's signing keys (`OIDC_KEYS_FILE`).
    pub oidc_keys: KeyRing,
    pub leptos_options: LeptosOptions,
}

impl AppState {
    pub async fn new(config: Config, leptos_options: LeptosOptions) -> Result<Self, String> {
        let db = Store::connect(&config.database_url).await?;
        let clock = Clock::system();
        let mailer = Mailer::new(&config.mail, &config.data_dir, db.clone(), clock.clone())?;
        let oidc_keys = KeyRing::open(&config.oidc_keys_file, clock.now())
            .map_err(|e| format!("OIDC_KEYS_FILE: {e}"))?;
        Ok(Self(Arc::new(Shared {
            mailer,
            audit: AuditLog::start(db.clone(), clock.clone()),
            keys: TokenKeys::new(&config.jwt_secret, config.sessions.access_ttl),
            hasher: Hasher::new(config.max_concurrent_hashes, config.hash_queue_limit),
            cookies: AuthCookies::new(config.public_url.https),
            rotations: Arc::default(),
            session_cache: SessionCache::for_database(&db.file()),
            metrics: Arc::default(),
            background: tokio_util::task::TaskTracker::new(),
            resubmissions: Arc::new(Resubmissions::new(db.clone())),
            passkeys: Passkeys::for_origin(&config.public_url.origin),
            oidc_keys,
            factor_key: SealKey::derive(config.jwt_secret.expose()),
            throttle: Arc::new(Throttle::for_store(&db, config.jwt_secret.expose())),
            clock,
            config: Arc::new(config),
            db,
            leptos_options,
        })))
    }

    /// Waits until the work that requests left running so far is done (tests; shutdown closes
    /// the tracker for good instead).
    pub async fn settled(&self) {
        self.background.close();
        self.background.wait().await;
        self.background.reopen();
    }

    /// Unix seconds now, by the app's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
