//! Server-only code (the `ssr` build): configuration, storage, the services behind pages and
//! API, security rules and the HTTP surface.
//!
//! - start-up and shutdown: `startup`, `config`, `telemetry`, `jobs`, `backup`
//! - the HTTP surface: `router`, `access` (request ids, access log, panics), `health`,
//!   `metrics`, `rest` (JSON API), `context` (for server functions)
//! - who is calling: `principal` (types), `auth` (the middleware that fills them in)
//! - security rules: `security` (CSRF, page access, headers), `throttle`, `password`,
//!   `pacing` (of refusals), `tokens`, `cookies`
//! - services used by pages and API alike: `users`, `sessions` (with `session_cache`),
//!   `projects`
//! - shared plumbing: `state`, `db`, `clock`, `error`

pub mod access;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod clock;
pub mod config;
pub mod context;
pub mod cookies;
pub mod db;
pub mod email;
pub mod error;
pub mod form_errors;
pub mod health;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod pacing;
pub mod password;
pub mod principal;
pub mod projects;
pub mod rest;
pub mod resubmit;
pub mod router;
pub mod security;
pub mod session_cache;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod throttle;
pub mod tokens;
pub mod users;

pub use router::router;
pub use startup::{main, run, serve};
