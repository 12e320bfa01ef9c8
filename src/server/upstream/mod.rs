//! Signing in through another provider (SPEC §9, issue 27). So far the building blocks:
//! the providers from settings (`providers`) and the relying-party side of OpenID Connect
//! (`client`: discovery, the JWK set, ID-token verification). The buttons, the callback,
//! account creation and linking are not built yet.

pub mod client;
pub mod providers;
