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

/// Whether two secrets' bytes are equal, in a time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `url` names this machine (`localhost` or a loopback address): where plain `http`
/// is allowed for redirect URIs and issuers (development, tests, native apps).
pub fn is_loopback_url(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
