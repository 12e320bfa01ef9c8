//! Security building blocks: who is calling (`principal`), tokens, cookies, throttling of
//! guesses, the pace of refusals and password hashing.

pub mod cookies;
pub mod pacing;
pub mod password;
pub mod principal;
pub mod second_factor;
pub mod stable_hash;
pub mod throttle;
pub mod tokens;
pub mod webauthn;
