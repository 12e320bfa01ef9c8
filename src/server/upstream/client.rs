//! Gatehouse as a relying party of another OpenID provider (SPEC §9): discovery, the JWK set
//! and ID-token verification.
//!
//! The HTTP client follows no redirects (the addresses a provider's documents name are
//! fetched as named: a redirect could point the server at an internal address, SSRF), gives
//! up after ten seconds, and reads at most 1 MiB of any answer.

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The largest document read from a provider.
const MAX_BODY_BYTES: usize = 1 << 20;
/// The signature algorithms accepted in ID tokens: asymmetric ones only (a symmetric one
/// would let anyone holding the client secret sign, and `none` signs nothing).
const ALGORITHMS: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];
/// Clock difference tolerated between Gatehouse and the provider.
const LEEWAY_SECS: u64 = 60;

/// Why talking to a provider failed: what the person is told is decided by the caller.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the provider answered HTTP {0}")]
    Status(u16),
    #[error("the provider's answer is not what OpenID Connect describes: {0}")]
    Malformed(String),
    #[error("the ID token was refused: {0}")]
    IdToken(String),
}

/// What discovery says of a provider (OpenID Connect Discovery 1.0 §3).
#[derive(Clone, Debug, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// The claims Gatehouse reads from a provider's ID token.
#[derive(Clone, Debug, Deserialize)]
pub struct IdClaims {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Only a provider that says so: absent, `false` or anything else is "not verified".
    #[serde(default, deserialize_with = "verified_flag")]
    pub email_verified: bool,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default)]
    pub aud: Audience,
}

/// `aud`: one string or several.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
    #[default]
    None,
}

impl Audience {
    fn len(&self) -> usize {
        match self {
            Self::One(_) => 1,
            Self::Many(all) => all.len(),
            Self::None => 0,
        }
    }
}

/// Some providers send `"email_verified": "true"`.
fn verified_flag<'de, D: serde::Deserializer<'de>>(de: D) -> Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(de)? {
        serde_json::Value::Bool(flag) => flag,
        serde_json::Value::String(text) => text == "true",
        _ => false,
    })
}

/// The HTTP side of talking to providers. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Upstream {
    http: reqwest::Client,
}

impl Upstream {
    pub fn new() -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .user_agent(concat!("Gatehouse/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Self { http })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, UpstreamError> {
        let answer = request
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| UpstreamError::Unreachable(e.without_url().to_string()))?;
        let status = answer.status();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| UpstreamError::Unreachable(e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(UpstreamError::Status(status.as_u16()));
        }
        if bytes.len() > MAX_BODY_BYTES {
            return Err(UpstreamError::Malformed("the answer is too large".into()));
        }
        serde_json::from_slice(&bytes).map_err(|e| UpstreamError::Malformed(e.to_string()))
    }

    /// Discovery: the issuer's metadata, whose `issuer` must be the one configured exactly
    /// (OpenID Connect Discovery §4.3) and which must offer PKCE `S256` when it says what it
    /// offers.
    pub async fn discover(&self, issuer: &str) -> Result<Metadata, UpstreamError> {
        let address = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let metadata: Metadata = self.json(self.http.get(address)).await?;
        if metadata.issuer != issuer {
            return Err(UpstreamError::Malformed(format!(
                "its metadata names the issuer {} instead of {issuer}",
                metadata.issuer
            )));
        }
        if metadata
            .code_challenge_methods_supported
            .as_ref()
            .is_some_and(|methods| !methods.iter().any(|m| m == "S256"))
        {
            return Err(UpstreamError::Malformed(
                "it does not offer PKCE S256".into(),
            ));
        }
        Ok(metadata)
    }

    /// The provider's published keys.
    pub async fn keys(&self, metadata: &Metadata) -> Result<JwkSet, UpstreamError> {
        self.json(self.http.get(&metadata.jwks_uri)).await
    }
}

/// Verifies an ID token (OpenID Connect Core §3.1.3.7): signed with one of the provider's
/// keys in an asymmetric algorithm, issued by `issuer` for `client_id` (and, with several
/// audiences, authorized for it), not expired, and carrying the `nonce` this login sent.
pub fn verify_id_token(
    keys: &JwkSet,
    token: &str,
    issuer: &str,
    client_id: &str,
    nonce: &str,
) -> Result<IdClaims, UpstreamError> {
    let refuse = |why: &str| UpstreamError::IdToken(why.to_string());
    let header = jsonwebtoken::decode_header(token).map_err(|_| refuse("it is not a JWT"))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(refuse("it is not signed with an asymmetric algorithm"));
    }
    let candidates: Vec<_> = match &header.kid {
        Some(kid) => keys.find(kid).into_iter().collect(),
        None => keys.keys.iter().collect(),
    };
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.leeway = LEEWAY_SECS;
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let mut last = refuse("no published key matches it");
    for jwk in candidates {
        if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        match jsonwebtoken::decode::<IdClaims>(token, &key, &validation) {
            Ok(data) => {
                let claims = data.claims;
                if claims.nonce.as_deref() != Some(nonce) {
                    return Err(refuse("its nonce is not this login's"));
                }
                if claims.aud.len() > 1 && claims.azp.as_deref() != Some(client_id) {
                    return Err(refuse("it was issued to another party (azp)"));
                }
                return Ok(claims);
            }
            Err(e) => last = refuse(&e.to_string()),
        }
    }
    Err(last)
}
