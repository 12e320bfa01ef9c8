//! Server-only code (the `ssr` build), in folders by layer:
//!
//! - `startup`: settings, logging, the shared state, background jobs, start-up and shutdown
//! - `http`: the router and its middleware, errors as HTTP answers, health, the context of
//!   server functions, and the JSON API (`http::api`)
//! - `accounts`: registration, login, profiles, emailed links, administration, the audit trail
//! - `sessions`: sessions, refresh-token rotation and the session-check cache
//! - `projects`: projects and their tasks
//! - `security`: who is calling (`principal`), tokens, cookies, throttling, the pace of
//!   refusals, password hashing
//! - `mail`: the outbox worker, the transports and every message text
//! - `store`: every SQL statement, one owner per table
//! - `ops`: metrics and backups
//! - `oidc`: Gatehouse as an OpenID Provider for other apps
//! - `upstream`: signing in through another provider (its building blocks so far)

pub mod accounts;
pub mod http;
pub mod mail;
pub mod oidc;
pub mod ops;
pub mod projects;
pub mod security;
pub mod sessions;
pub mod startup;
pub mod store;
pub mod upstream;

pub use http::router::router;
pub use startup::{main, run, serve};
