//! The HTTP surface: the router and its middleware (`access`, `auth`, `guards`, `form_errors`,
//! `resubmit`), errors as answers (`error`), health checks, the context server functions read,
//! the JSON API (`api`), and the OpenID Provider's endpoints (`oidc`).

pub mod access;
pub mod api;
pub mod auth;
pub mod context;
pub mod error;
pub mod form_errors;
pub mod guards;
pub mod health;
pub mod metrics;
pub mod oidc;
pub mod passkeys;
pub mod resubmit;
pub mod router;
