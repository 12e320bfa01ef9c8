//! Gatehouse as an OpenID Provider (SPEC §8, issue 26). So far only its signing keys
//! (`keys`): the discovery document, the endpoints, clients and consent are not built yet.

pub mod keys;
