//! Gatehouse as an OpenID Provider (SPEC §8): other apps send people here to log in.
//!
//! - `keys`: the RS256 signing keys, their JWK set and rotation
//! - `clients`: registered apps and client authentication
//! - `authorize`: the authorization endpoint's rules, consent and codes
//! - `tokens`: the token endpoint, ID and access tokens, userinfo, revocation, introspection
//! - `consents`: what people allowed (`/apps`)
//! - `cli`: `gatehouse oidc …`

pub mod authorize;
pub mod cli;
pub mod clients;
pub mod consents;
pub mod keys;
pub mod tokens;
