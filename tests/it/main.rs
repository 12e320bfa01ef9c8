//! The integration tests, in one binary: each starts the real router on a random port with a
//! fresh SQLite file (`common`) and speaks HTTP to it. One binary links the application once,
//! instead of once per file.
#![cfg(feature = "ssr")]

mod common;

mod admin;
mod api;
mod email;
mod hardening;
mod nodes;
mod oidc;
mod operations;
mod passkeys;
mod projects;
mod review;
mod sessions;
mod two_step;
mod upstream;
mod web_accounts;
