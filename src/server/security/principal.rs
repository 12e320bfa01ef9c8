//! Who is calling. `auth::authenticate` records an `Authentication` in every request's
//! extensions; `CurrentUser` and `Client` are then the only way pages, server functions and the
//! JSON API learn who is calling and from where. This module depends on nothing else in the
//! server, so every other module may use it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use http::header::{AUTHORIZATION, FORWARDED, USER_AGENT};
use http::request::Parts;
use http::HeaderMap;
use ipnet::IpNet;

use crate::domain::{AppError, UserView};

/// The calling person: who a valid access token speaks for, and through which session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentUser {
    pub user_id: i64,
    pub session_id: String,
    /// The account as the session check read it for this request: pages (the navigation)
    /// show it without reading it again.
    pub account: std::sync::Arc<UserView>,
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.account.role == crate::domain::Role::Admin
    }

    /// Reads what `authenticate` recorded. Used by the axum extractor and by server functions.
    pub fn from_parts(parts: &Parts) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<Authentication>()
            .and_then(|auth| auth.0.clone())
            .ok_or_else(AppError::unauthenticated)
    }
}

/// Recorded in every request's extensions by `authenticate`.
#[derive(Clone, Debug, Default)]
pub struct Authentication(pub Option<CurrentUser>);

impl Authentication {
    pub fn of(extensions: &http::Extensions) -> Option<&CurrentUser> {
        extensions
            .get::<Authentication>()
            .and_then(|auth| auth.0.as_ref())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(parts)
    }
}

/// The caller's browser and network address, recorded with sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Client {
    pub user_agent: String,
    pub ip_address: String,
}

/// Longest user agent kept; browsers send about 150 characters.
const MAX_USER_AGENT: usize = 512;

impl Client {
    pub fn new(user_agent: &str, ip_address: &str) -> Self {
        Self {
            user_agent: user_agent.chars().take(MAX_USER_AGENT).collect(),
            ip_address: ip_address.to_string(),
        }
    }

    /// The caller of a request: its browser, and its address as the TCP peer, or, when the
    /// peer is one of the `trusted` proxies, as the proxies say (`Forwarded`, else
    /// `X-Forwarded-For`). `auth::authenticate` resolves it once per request.
    pub fn resolve(headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[IpNet]) -> Self {
        let user_agent = headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let address = peer.map(|peer| forwarded_client(headers, peer.to_canonical(), trusted));
        Self::new(
            user_agent,
            &address.map(|a| a.to_string()).unwrap_or_default(),
        )
    }

    /// What `authenticate` resolved; the TCP peer alone for requests it did not see.
    pub fn from_parts(parts: &Parts) -> Self {
        parts
            .extensions
            .get::<Client>()
            .cloned()
            .unwrap_or_else(|| Self::resolve(&parts.headers, peer_address(&parts.extensions), &[]))
    }
}

pub fn peer_address(extensions: &http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_canonical())
}

/// Walks the proxy chain from the right: the first address that is not a trusted proxy is
/// the client. Anything a client wrote further left is ignored, so it cannot choose its
/// address; a malformed entry stops the walk at the last proxy that vouched for it.
fn forwarded_client(headers: &HeaderMap, peer: IpAddr, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_chain(headers).iter().rev() {
        match hop {
            Some(ip) if is_trusted(ip) => client = *ip,
            Some(ip) => return *ip,
            None => return client,
        }
    }
    client
}

/// The `for=` addresses of `Forwarded` (RFC 7239), else those of `X-Forwarded-For`, in order;
/// `None` for an entry that is not an address (`unknown`, an obfuscated name, garbage).
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>()
    };
    let forwarded = values(FORWARDED);
    if !forwarded.is_empty() {
        return forwarded
            .into_iter()
            .map(|element| {
                element
                    .split(';')
                    .find_map(|pair| {
                        let (key, value) = pair.trim().split_once('=')?;
                        key.eq_ignore_ascii_case("for").then_some(value)
                    })
                    .and_then(parse_node)
            })
            .collect();
    }
    values(http::HeaderName::from_static("x-forwarded-for"))
        .into_iter()
        .map(parse_node)
        .collect()
}

/// `203.0.113.7`, `203.0.113.7:4711`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim().trim_matches('"');
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = raw.strip_prefix('[') {
        return rest.split(']').next()?.parse::<IpAddr>().ok();
    }
    let (host, _port) = raw.rsplit_once(':')?;
    host.parse::<IpAddr>().ok()
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    fn proxies() -> Vec<IpNet> {
        vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]
    }

    #[test]
    fn an_unlisted_peer_is_the_client_whatever_it_claims() {
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        let client = Client::resolve(&spoofed, Some(ip("203.0.113.9")), &proxies());
        assert_eq!(client.ip_address, "203.0.113.9");
        let no_proxies = Client::resolve(&spoofed, Some(ip("10.0.0.1")), &[]);
        assert_eq!(no_proxies.ip_address, "10.0.0.1");
    }

    #[test]
    fn a_listed_proxy_is_believed_from_the_right() {
        // The client wrote "1.2.3.4" itself; its proxy appended the real address.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.2")]);
        let client = Client::resolve(&h, Some(ip("10.0.0.1")), &proxies());
        assert_eq!(client.ip_address, "198.51.100.7");
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for() {
        let h = headers(&[
            ("forwarded", "for=\"[2001:db8::7]:4711\";proto=https"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        let client = Client::resolve(&h, Some(ip("::1")), &proxies());
        assert_eq!(client.ip_address, "2001:db8::7");
    }

    #[test]
    fn garbage_stops_at_the_last_trusted_hop() {
        let h = headers(&[("x-forwarded-for", "unknown, 10.0.0.3")]);
        let client = Client::resolve(&h, Some(ip("10.0.0.1")), &proxies());
        assert_eq!(client.ip_address, "10.0.0.3");
        let none = Client::resolve(&HeaderMap::new(), Some(ip("10.0.0.1")), &proxies());
        assert_eq!(none.ip_address, "10.0.0.1");
    }

    #[test]
    fn ipv4_mapped_peers_read_as_ipv4() {
        let client = Client::resolve(&HeaderMap::new(), Some(ip("::ffff:203.0.113.9")), &[]);
        assert_eq!(client.ip_address, "203.0.113.9");
    }
}
