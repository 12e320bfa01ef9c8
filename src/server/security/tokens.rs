//! The only place that issues and checks tokens: JWT access tokens and opaque refresh tokens.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::server::startup::config::SigningSecret;

const ISSUER: &str = "gatehouse";
const AUDIENCE: &str = "gatehouse";
const ACCESS_TYPE: &str = "access";
const DEVICE_TYPE: &str = "device";
/// How long a device stays known after its last successful login.
pub const DEVICE_TTL_SECS: i64 = 365 * 86_400;
/// Clock skew tolerated on `exp` / `nbf`; jsonwebtoken's default of 60 s is too lax.
const LEEWAY_SECS: i64 = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// User id.
    pub sub: String,
    /// Session id.
    pub sid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
    pub typ: String,
}

/// When a token may be used: from `nbf` until `exp`, each with `LEEWAY_SECS` of clock skew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    pub nbf: i64,
    pub exp: i64,
}

impl Lifetime {
    pub fn check(self, now: i64) -> Result<(), TokenError> {
        if self.nbf > now + LEEWAY_SECS {
            return Err(TokenError::Invalid);
        }
        if self.exp + LEEWAY_SECS < now {
            return Err(TokenError::Expired);
        }
        Ok(())
    }
}

impl AccessClaims {
    pub fn lifetime(&self) -> Lifetime {
        Lifetime {
            nbf: self.nbf,
            exp: self.exp,
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }
}

/// Claims of a device token: this client (`jti`, the device id) has logged in to account
/// `sub` before. It lets the throttle tell the owner's devices from strangers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DeviceClaims {
    sub: String,
    /// When the account was created: a token outlives no account, even if an id came back.
    #[serde(default)]
    acct: i64,
    jti: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    iss: String,
    aud: String,
    typ: String,
}

/// A verified device token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDevice {
    pub user_id: i64,
    /// The creation time of the account it was issued to.
    pub account_created_at: i64,
    pub device_id: String,
}

impl KnownDevice {
    /// Whether it was issued to this very account (same id, same creation).
    pub fn belongs_to(&self, user_id: i64, account_created_at: i64) -> bool {
        self.user_id == user_id && self.account_created_at == account_created_at
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed, tampered with or signed by someone else")]
    Invalid,
    #[error("the token has expired")]
    Expired,
}

/// A new bearer secret for a client (256 random bits, base64url): refresh tokens, pending
/// logins, passkey ceremonies. Only its `digest` is ever stored.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database stores of a bearer secret: SHA-256 is enough because it is high-entropy.
pub fn secret_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A refresh token as handed to the client. Only its hash is ever stored.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// 256 random bits, base64url.
    pub fn generate() -> Self {
        Self(new_secret())
    }

    pub fn from_client(raw: &str) -> Self {
        Self(raw.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database stores.
    pub fn digest(&self) -> String {
        secret_digest(&self.0)
    }

    /// `successor` sealed with a pad derived from this token and `key` (a server secret every
    /// node has): the database keeps it beside this token's digest for the renewal grace, so
    /// any node can hand the successor back to a client that presents this token again, while
    /// the database alone (a dump, a replica), even with an old token of the chain, reveals no
    /// usable token. The pad is used once: each token is spent once. `None` for a successor
    /// not made by `generate`.
    pub fn seal_successor(
        &self,
        successor: &RefreshToken,
        session_id: &str,
        key: &[u8],
    ) -> Option<String> {
        let bytes = decode_token(&successor.0)?;
        let pad = self.pad(session_id, key);
        Some(hex::encode(xor(&bytes, &pad)))
    }

    /// The successor `seal_successor` sealed, if `sealed` is one and this is the token it was
    /// sealed with; the caller still compares its digest with the stored one.
    pub fn open_successor(
        &self,
        sealed: &str,
        session_id: &str,
        key: &[u8],
    ) -> Option<RefreshToken> {
        let bytes: [u8; 32] = hex::decode(sealed).ok()?.try_into().ok()?;
        let plain = xor(&bytes, &self.pad(session_id, key));
        Some(Self(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(plain),
        ))
    }

    fn pad(&self, session_id: &str, key: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"gatehouse refresh grace v1\0");
        hasher.update((key.len() as u64).to_be_bytes());
        hasher.update(key);
        hasher.update(self.0.as_bytes());
        hasher.update(b"\0");
        hasher.update(session_id.as_bytes());
        hasher.finalize().into()
    }
}

fn decode_token(token: &str) -> Option<[u8; 32]> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?
        .try_into()
        .ok()
}

fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
}

impl TokenKeys {
    pub fn new(secret: &SigningSecret, access_ttl: Duration) -> Self {
        // Pinning the algorithm list rejects `alg: none` and algorithm-confusion tokens.
        let mut validation = Validation::new(Algorithm::HS256);
        // `exp` and `nbf` are checked against the app's clock in `verify_access`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
            access_ttl,
        }
    }

    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    pub fn issue_access(&self, user_id: i64, session_id: &str, now: i64) -> String {
        let claims = AccessClaims {
            sub: user_id.to_string(),
            sid: session_id.to_string(),
            iat: now,
            nbf: now,
            exp: now + self.access_ttl.as_secs() as i64,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            jti: uuid::Uuid::new_v4().to_string(),
            typ: ACCESS_TYPE.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with an in-memory key cannot fail")
    }

    /// A signed statement that device `device_id` has logged in to `user_id`.
    pub fn issue_device(
        &self,
        user_id: i64,
        account_created_at: i64,
        device_id: &str,
        now: i64,
    ) -> String {
        let claims = DeviceClaims {
            sub: user_id.to_string(),
            acct: account_created_at,
            jti: device_id.to_string(),
            iat: now,
            nbf: now,
            exp: now + DEVICE_TTL_SECS,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            typ: DEVICE_TYPE.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with an in-memory key cannot fail")
    }

    /// The device a token names, if it is genuine and unexpired.
    pub fn verify_device(&self, token: &str, now: i64) -> Option<KnownDevice> {
        let claims = jsonwebtoken::decode::<DeviceClaims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        let lifetime = Lifetime {
            nbf: claims.nbf,
            exp: claims.exp,
        };
        let valid =
            claims.typ == DEVICE_TYPE && lifetime.check(now).is_ok() && !claims.jti.is_empty();
        Some(KnownDevice {
            user_id: claims.sub.parse().ok()?,
            account_created_at: claims.acct,
            device_id: claims.jti,
        })
        .filter(|_| valid)
    }

    /// Checks signature, algorithm and every claim at time `now`. Does not look at the
    /// session; see `sessions::authenticate`.
    pub fn verify_access(&self, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        if claims.typ != ACCESS_TYPE || claims.user_id().is_none() {
            return Err(TokenError::Invalid);
        }
        claims.lifetime().check(now)?;
        Ok(claims)
    }
}

/// A fresh access/refresh pair for one session. `Debug` leaves the tokens out.
#[derive(Clone)]
pub struct IssuedTokens {
    pub session_id: String,
    pub user_id: i64,
    pub access_token: String,
    pub access_expires_in: i64,
    pub refresh_token: RefreshToken,
    /// Seconds the cookies may persist ("remember me"); `None` for browser-session cookies.
    pub persist_for: Option<i64>,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("session_id", &self.session_id)
            .field("user_id", &self.user_id)
            .field("access_token", &"<redacted>")
            .field("refresh_token", &self.refresh_token)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(
            &SigningSecret::new(b"0123456789abcdef0123456789abcdef".to_vec()),
            Duration::from_secs(900),
        )
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn sign(claims: &AccessClaims, alg: Algorithm, secret: &[u8]) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    fn claims() -> AccessClaims {
        let keys = keys();
        keys.verify_access(&keys.issue_access(7, "session-1", now()), now())
            .unwrap()
    }

    #[test]
    fn issued_token_verifies_with_all_claims() {
        let c = claims();
        assert_eq!(c.sub, "7");
        assert_eq!(c.sid, "session-1");
        assert_eq!(c.iss, "gatehouse");
        assert_eq!(c.aud, "gatehouse");
        assert_eq!(c.typ, "access");
        assert_eq!(c.exp - c.iat, 900);
        assert_eq!(c.nbf, c.iat);
        assert!(!c.jti.is_empty());
    }

    #[test]
    fn tampered_signature_is_rejected() {
        let token = keys().issue_access(7, "s", now());
        let (rest, sig) = token.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{rest}.{flipped}{}", &sig[1..]);
        assert_eq!(
            keys().verify_access(&tampered, now()),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let token = keys().issue_access(7, "s", now());
        let parts: Vec<&str> = token.split('.').collect();
        let mut c = claims();
        c.sub = "1".into();
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&c).unwrap());
        let forged = format!("{}.{}.{}", parts[0], payload, parts[2]);
        assert_eq!(
            keys().verify_access(&forged, now()),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn alg_none_is_rejected() {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = engine.encode(serde_json::to_vec(&claims()).unwrap());
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
        ] {
            assert_eq!(
                keys().verify_access(&token, now()),
                Err(TokenError::Invalid)
            );
        }
    }

    #[test]
    fn other_algorithm_or_key_is_rejected() {
        let c = claims();
        let secret = b"0123456789abcdef0123456789abcdef";
        assert_eq!(
            keys().verify_access(&sign(&c, Algorithm::HS512, secret), now()),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            keys().verify_access(
                &sign(&c, Algorithm::HS256, b"another-secret-another-secret-xx"),
                now()
            ),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn expired_token_is_rejected_beyond_the_leeway() {
        let mut c = claims();
        c.iat = now() - 1000;
        c.nbf = c.iat;
        c.exp = now() - 10;
        let token = sign(&c, Algorithm::HS256, b"0123456789abcdef0123456789abcdef");
        assert_eq!(
            keys().verify_access(&token, now()),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn not_yet_valid_token_is_rejected() {
        let mut c = claims();
        c.nbf = now() + 60;
        let token = sign(&c, Algorithm::HS256, b"0123456789abcdef0123456789abcdef");
        assert_eq!(
            keys().verify_access(&token, now()),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn wrong_issuer_audience_or_type_is_rejected() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let mut wrong_iss = claims();
        wrong_iss.iss = "someone-else".into();
        let mut wrong_aud = claims();
        wrong_aud.aud = "another-app".into();
        let mut wrong_typ = claims();
        wrong_typ.typ = "refresh".into();
        for c in [wrong_iss, wrong_aud, wrong_typ] {
            assert_eq!(
                keys().verify_access(&sign(&c, Algorithm::HS256, secret), now()),
                Err(TokenError::Invalid)
            );
        }
    }

    #[test]
    fn device_tokens_name_their_account_and_are_no_access_tokens() {
        let keys = keys();
        let token = keys.issue_device(7, 1_700_000_000, "laptop", now());
        let device = keys.verify_device(&token, now());
        assert_eq!(
            device,
            Some(KnownDevice {
                user_id: 7,
                account_created_at: 1_700_000_000,
                device_id: "laptop".into()
            })
        );
        let device = device.unwrap();
        assert!(device.belongs_to(7, 1_700_000_000));
        assert!(
            !device.belongs_to(7, 1_700_000_001),
            "a later account with the same id is another account"
        );
        assert!(keys.verify_access(&token, now()).is_err());
        let access = keys.issue_access(7, "s", now());
        assert_eq!(keys.verify_device(&access, now()), None);
        assert_eq!(
            keys.verify_device(&token, now() + DEVICE_TTL_SECS + 60),
            None
        );
        assert_eq!(keys.verify_device("junk", now()), None);
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        for junk in ["", "a.b.c", "....", "not a token", "eyJ.eyJ.sig"] {
            assert_eq!(keys().verify_access(junk, now()), Err(TokenError::Invalid));
        }
    }

    #[test]
    fn refresh_tokens_are_random_and_only_their_digest_is_stored() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_ne!(a, b);
        assert!(a.expose().len() >= 43);
        assert_eq!(a.digest().len(), 64);
        assert_ne!(a.digest(), a.expose());
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn a_sealed_successor_opens_only_with_the_token_and_session_it_was_sealed_with() {
        let spent = RefreshToken::generate();
        let successor = RefreshToken::generate();
        let key = b"server secret";
        let sealed = spent.seal_successor(&successor, "s1", key).unwrap();
        assert!(!sealed.contains(successor.expose()));
        assert_ne!(
            sealed,
            hex::encode(decode_token(successor.expose()).unwrap())
        );
        assert_eq!(spent.open_successor(&sealed, "s1", key).unwrap(), successor);
        let other = RefreshToken::generate();
        assert_ne!(other.open_successor(&sealed, "s1", key).unwrap(), successor);
        assert_ne!(spent.open_successor(&sealed, "s2", key).unwrap(), successor);
        // The spent token without the server's secret (a dump and an old cookie) opens nothing.
        assert_ne!(
            spent.open_successor(&sealed, "s1", b"guess").unwrap(),
            successor
        );
        assert!(spent.open_successor("zz", "s1", key).is_none());
        assert!(spent
            .seal_successor(&RefreshToken::from_client("short"), "s1", key)
            .is_none());
    }
}
