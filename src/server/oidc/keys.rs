//! The OpenID Provider's signing keys (SPEC §8): RS256 key pairs with `kid`s, generated into
//! `DATA_DIR/oidc-keys.json` (mode 0600) on first start, published as a JWK set.
//!
//! - One key signs (the newest); older ones stay published until `retire_at`, so tokens they
//!   signed still verify until they expire (`rotate` sets it to now plus the longest lifetime
//!   of a token).
//! - The `kid` is derived from the public key (SHA-256 of its DER, base64url, 16 characters):
//!   the same key always has the same id, on every node that shares the file.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::LineEnding;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The key file's name in `DATA_DIR` unless `OIDC_KEYS_FILE` names another.
pub const FILE: &str = "oidc-keys.json";
const BITS: usize = 2048;

/// One key pair as stored.
#[derive(Clone, Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    created_at: i64,
    /// After this (unix seconds) the key is no longer published: every token it signed has
    /// expired. `None` for the signing key.
    retire_at: Option<i64>,
    /// PKCS#1 PEM.
    private_pem: String,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoredKey({}, <redacted>)", self.kid)
    }
}

/// A key pair ready to use: parsed once when the file is read, not for every token.
#[derive(Clone)]
struct Parsed {
    kid: String,
    retire_at: Option<i64>,
    encoding: jsonwebtoken::EncodingKey,
    decoding: jsonwebtoken::DecodingKey,
    /// The public key's modulus and exponent, base64url (the JWK's `n` and `e`).
    n: String,
    e: String,
}

fn parse(key: &StoredKey) -> Result<Parsed, String> {
    let private = RsaPrivateKey::from_pkcs1_pem(&key.private_pem)
        .map_err(|e| format!("key {} cannot be read: {e}", key.kid))?;
    let der = private.to_pkcs1_der().map_err(|e| e.to_string())?;
    let public = private.to_public_key();
    let (n, e) = (
        b64(&public.n().to_bytes_be()),
        b64(&public.e().to_bytes_be()),
    );
    let decoding =
        jsonwebtoken::DecodingKey::from_rsa_components(&n, &e).map_err(|e| e.to_string())?;
    Ok(Parsed {
        kid: key.kid.clone(),
        retire_at: key.retire_at,
        encoding: jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
        decoding,
        n,
        e,
    })
}

/// The provider's keys: the signing one and those still published.
#[derive(Clone)]
pub struct SigningKeys {
    path: PathBuf,
    keys: Vec<StoredKey>,
    parsed: Vec<Parsed>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("path", &self.path)
            .field("keys", &self.keys)
            .finish()
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn generate(now: i64) -> Result<StoredKey, String> {
    let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, BITS)
        .map_err(|e| format!("cannot generate a signing key: {e}"))?;
    let public_der = private
        .to_public_key()
        .to_pkcs1_der()
        .map_err(|e| format!("cannot encode the public key: {e}"))?;
    let kid = b64(&Sha256::digest(public_der.as_bytes()))[..16].to_string();
    let private_pem = private
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|e| format!("cannot encode the signing key: {e}"))?
        .to_string();
    Ok(StoredKey {
        kid,
        created_at: now,
        retire_at: None,
        private_pem,
    })
}

impl SigningKeys {
    /// The keys in the file `path`, generating a signing key if it has none (a new file, or
    /// one whose keys are all retired).
    pub fn load_or_create_at(path: &Path, now: i64) -> Result<Self, String> {
        let keys: Vec<StoredKey> = read(path)?.unwrap_or_default();
        let mut loaded = Self::with_keys(path, keys)?;
        if loaded.keys.iter().all(|key| key.retire_at.is_some()) {
            loaded.keys.push(generate(now)?);
            loaded = Self::with_keys(path, loaded.keys)?;
            loaded.save()?;
        }
        Ok(loaded)
    }

    fn with_keys(path: &Path, keys: Vec<StoredKey>) -> Result<Self, String> {
        let parsed = keys.iter().map(parse).collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            path: path.to_path_buf(),
            keys,
            parsed,
        })
    }

    /// Starts signing with a new key; the current one stays published until `now +
    /// overlap_secs` (the longest lifetime of a token it signed). Forgets retired keys.
    pub fn rotate(&mut self, now: i64, overlap_secs: i64) -> Result<&str, String> {
        let mut keys = self.keys.clone();
        for key in &mut keys {
            key.retire_at.get_or_insert(now + overlap_secs);
        }
        keys.retain(|key| key.retire_at.is_none_or(|at| at > now));
        keys.push(generate(now)?);
        *self = Self::with_keys(&self.path, keys)?;
        self.save()?;
        Ok(self.signing_kid())
    }

    fn save(&self) -> Result<(), String> {
        let text = serde_json::to_string_pretty(&self.keys).map_err(|e| e.to_string())?;
        let temporary = self.path.with_extension("json.new");
        write_private(&temporary, text.as_bytes())
            .and_then(|()| std::fs::rename(&temporary, &self.path))
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }

    /// The newest key that is not retired (`load_or_create_at` makes sure there is one).
    fn signing(&self) -> &Parsed {
        self.parsed
            .iter()
            .rev()
            .find(|key| key.retire_at.is_none())
            .unwrap_or_else(|| &self.parsed[self.parsed.len() - 1])
    }

    pub fn signing_kid(&self) -> &str {
        &self.signing().kid
    }

    /// Signs `claims` as a JWT with the signing key (`RS256`, its `kid`, and `typ`).
    pub fn sign<T: Serialize>(&self, claims: &T, typ: &str) -> Result<String, String> {
        let key = self.signing();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        header.typ = Some(typ.to_string());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| e.to_string())
    }

    fn published(&self, now: i64) -> impl Iterator<Item = &Parsed> {
        self.parsed
            .iter()
            .filter(move |key| key.retire_at.is_none_or(|at| at > now))
    }

    /// The published keys (not yet retired at `now`) as a JWK set.
    pub fn jwks(&self, now: i64) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .published(now)
            .map(|key| {
                serde_json::json!({
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": key.kid,
                    "n": key.n,
                    "e": key.e,
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The claims of a JWT this provider signed with a published key, with header `typ`,
    /// issuer `issuer`, and (unless `check_expiry` is false) not expired at `now`.
    pub fn verify<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        issuer: &str,
        now: i64,
        check_expiry: bool,
    ) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != jsonwebtoken::Algorithm::RS256
            || !header
                .typ
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(typ))
        {
            return None;
        }
        let kid = header.kid?;
        let key = self.published(now).find(|key| key.kid == kid)?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.validate_exp = false;
        validation.required_spec_claims = ["iss".to_string()].into_iter().collect();
        let data =
            jsonwebtoken::decode::<serde_json::Value>(token, &key.decoding, &validation).ok()?;
        if check_expiry && data.claims["exp"].as_i64().is_none_or(|exp| exp <= now) {
            return None;
        }
        serde_json::from_value(data.claims).ok()
    }
}

/// The stored keys of `path`, or `None` when there is no file yet.
fn read(path: &Path) -> Result<Option<Vec<StoredKey>>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<Vec<StoredKey>>(&text)
            .map(Some)
            .map_err(|e| format!("{} is not a key file Gatehouse wrote: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The keys as a running server holds them: read again when the file changes (`gatehouse
/// oidc rotate-key` on this machine, or an operator's copy), so every node that shares the
/// file signs with the new key without a restart. A changed file that cannot be read, or that
/// has no signing key, is not taken: the keys loaded before stay in use (and a warning says
/// so).
#[derive(Debug)]
pub struct KeyRing {
    path: PathBuf,
    loaded: std::sync::RwLock<(std::sync::Arc<SigningKeys>, Option<std::time::SystemTime>)>,
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl KeyRing {
    pub fn open(path: &Path, now: i64) -> Result<Self, String> {
        let keys = SigningKeys::load_or_create_at(path, now)?;
        Ok(Self {
            path: path.to_path_buf(),
            loaded: std::sync::RwLock::new((std::sync::Arc::new(keys), modified(path))),
        })
    }

    /// The keys, read again first if the file changed.
    pub fn current(&self) -> std::sync::Arc<SigningKeys> {
        let on_disk = modified(&self.path);
        let (keys, seen) = {
            let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
            (loaded.0.clone(), loaded.1)
        };
        if seen == on_disk || on_disk.is_none() {
            return keys;
        }
        let fresh = read(&self.path)
            .ok()
            .flatten()
            .filter(|stored| stored.iter().any(|key| key.retire_at.is_none()))
            .and_then(|stored| SigningKeys::with_keys(&self.path, stored).ok());
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        match fresh {
            Some(fresh) => {
                *loaded = (std::sync::Arc::new(fresh), on_disk);
            }
            None => {
                tracing::warn!(
                    path = %self.path.display(),
                    "the signing key file changed but has no usable signing key; keeping the keys loaded"
                );
                loaded.1 = on_disk;
            }
        }
        loaded.0.clone()
    }

    pub fn sign<T: Serialize>(&self, claims: &T, typ: &str) -> Result<String, String> {
        self.current().sign(claims, typ)
    }

    pub fn jwks(&self, now: i64) -> serde_json::Value {
        self.current().jwks(now)
    }

    pub fn verify<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        issuer: &str,
        now: i64,
    ) -> Option<T> {
        self.current().verify(token, typ, issuer, now, true)
    }

    /// As `verify`, but an expired token passes (an ID token hint at logout).
    pub fn verify_ignoring_expiry<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        issuer: &str,
        now: i64,
    ) -> Option<T> {
        self.current().verify(token, typ, issuer, now, false)
    }
}

/// Writes `bytes` to a new file only its owner can read (0600 on Unix).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(jwks: &serde_json::Value, token: &str) -> Result<serde_json::Value, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        let kid = header.kid.ok_or("no kid")?;
        let jwk = jwks["keys"]
            .as_array()
            .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str()))
            .ok_or("kid not published")?;
        let key = jsonwebtoken::DecodingKey::from_rsa_components(
            jwk["n"].as_str().unwrap(),
            jwk["e"].as_str().unwrap(),
        )
        .map_err(|e| e.to_string())?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_key_is_made_once_kept_private_and_verifies_with_the_published_set() {
        let dir = tempfile::tempdir().unwrap();
        let keys = SigningKeys::load_or_create_at(&dir.path().join(FILE), 1_000).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = SigningKeys::load_or_create_at(&dir.path().join(FILE), 2_000).unwrap();
        assert_eq!(
            again.signing_kid(),
            keys.signing_kid(),
            "loaded, not made again"
        );
        let token = keys
            .sign(&serde_json::json!({"sub": "u1"}), "at+jwt")
            .unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&token).unwrap().typ.as_deref(),
            Some("at+jwt")
        );
        let jwks = again.jwks(2_000);
        assert_eq!(jwks["keys"][0]["alg"], "RS256");
        assert!(
            jwks["keys"][0].get("d").is_none(),
            "no private part published"
        );
        assert_eq!(verify(&jwks, &token).unwrap()["sub"], "u1");
        let tampered = format!("{}x", &token[..token.len() - 1]);
        assert!(verify(&jwks, &tampered).is_err());
    }

    #[test]
    fn a_rotated_key_stays_published_until_its_tokens_expire() {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = SigningKeys::load_or_create_at(&dir.path().join(FILE), 1_000).unwrap();
        let old_kid = keys.signing_kid().to_string();
        let old_token = keys.sign(&serde_json::json!({"n": 1}), "JWT").unwrap();
        let new_kid = keys.rotate(2_000, 3_600).unwrap().to_string();
        assert_ne!(old_kid, new_kid);
        let new_token = keys.sign(&serde_json::json!({"n": 2}), "JWT").unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&new_token)
                .unwrap()
                .kid
                .as_deref(),
            Some(new_kid.as_str())
        );
        let reloaded = SigningKeys::load_or_create_at(&dir.path().join(FILE), 2_500).unwrap();
        assert_eq!(reloaded.signing_kid(), new_kid);
        let during = reloaded.jwks(2_500);
        assert_eq!(during["keys"].as_array().unwrap().len(), 2);
        assert!(
            verify(&during, &old_token).is_ok(),
            "the old key's tokens still verify"
        );
        let after = reloaded.jwks(2_000 + 3_601);
        assert_eq!(after["keys"].as_array().unwrap().len(), 1);
        assert!(verify(&after, &old_token).is_err());
        assert!(verify(&after, &new_token).is_ok());
        // The next rotation forgets the retired key.
        let mut later = reloaded;
        later.rotate(10_000, 60).unwrap();
        assert_eq!(later.keys.len(), 2, "{:?}", later.keys);
    }
}
