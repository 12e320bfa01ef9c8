//! The building blocks of second factors (SPEC §7): authenticator-app secrets (RFC 6238:
//! HMAC-SHA-1, 6 digits, 30-second steps) with their set-up QR code, rendered as SVG on the
//! server, and recovery codes.
//!
//! - An app secret is stored sealed with a key derived from `JWT_SECRET` and bound to its
//!   account (`SealKey`): a database dump alone gives nobody the codes, and a sealed secret
//!   copied onto another account does not open. It is shown once, at set-up, and never sent
//!   back after that.
//! - A code is accepted for the step it belongs to within one step of now (clock skew), and
//!   only for a step later than the last one accepted for that account: a code is good once.
//! - Recovery codes carry 50 random bits each and are stored as keyed SHA-256 digests (the key
//!   again derived from `JWT_SECRET`): a dump cannot be searched for them offline, and typing
//!   them is forgiving (case, spaces and dashes do not matter).

use rand::RngCore;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Builder, Secret};

use crate::server::security::constant_time_eq;

/// RFC 6238's parameters, which every authenticator app supports.
const DIGITS: u8 = 6;
const STEP_SECS: u64 = 30;
/// Steps accepted either side of now.
const SKEW: u16 = 1;
const SECRET_BYTES: usize = 20;
const NONCE_BYTES: usize = 16;
const TAG_BYTES: usize = 16;
/// How many recovery codes a set has.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code (RFC 4648's base32 alphabet, lower case).
const CODE_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const CODE_CHARS: usize = 10;

/// The keys second factors are stored under, derived from the signing secret every node has.
#[derive(Clone)]
pub struct SealKey {
    secrets: [u8; 32],
    codes: [u8; 32],
}

impl SealKey {
    pub fn derive(signing_secret: &[u8]) -> Self {
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut sha = Sha256::new();
            sha.update(label);
            sha.update(signing_secret);
            sha.finalize().into()
        };
        Self {
            secrets: derive(b"gatehouse app secrets v1\0"),
            codes: derive(b"gatehouse recovery codes v1\0"),
        }
    }

    /// Keys the ids authenticators keep for accounts (`webauthn::user_handle`).
    pub fn handle_key(&self) -> &[u8; 32] {
        &self.codes
    }
}

/// An authenticator app's shared secret (160 bits, as RFC 4226 recommends).
#[derive(Clone, PartialEq, Eq)]
pub struct AppSecret([u8; SECRET_BYTES]);

impl std::fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSecret(<redacted>)")
    }
}

/// Why a code was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeRefused {
    /// Not six digits, or not this secret's code near now.
    Invalid,
    /// This secret's code, but for a step already used: a replay.
    Replayed,
}

impl AppSecret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    fn totp(&self, account: &str) -> totp_rs::Totp {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_step_duration(STEP_SECS)
            .with_skew(SKEW)
            .with_secret(Secret::from(self.0))
            .with_issuer(Some("Gatehouse"))
            .with_account_name(account.replace(':', ""))
            .build_noncompliant()
    }

    /// The secret as people type it into an app: base32 without padding. Shown whole (no
    /// groups): apps and libraries that take it pasted do not all drop spaces.
    pub fn setup_key(&self) -> String {
        self.totp("")
            .secret()
            .to_base32()
            .trim_end_matches('=')
            .to_string()
    }

    /// The `otpauth://` address the QR code holds (Key Uri Format), naming `account`.
    pub fn otpauth_uri(&self, account: &str) -> String {
        self.totp(account)
            .to_url()
            .unwrap_or_else(|_| format!("otpauth://totp/Gatehouse?secret={}", self.setup_key()))
    }

    /// The code an app shows at `now` (tests, and the set-up check's own tests).
    pub fn code_at(&self, now: i64) -> String {
        self.totp("").generate(now.max(0) as u64).to_string()
    }

    /// The step `code` belongs to, when it is this secret's code within one step of `now` and
    /// its step is later than `last_step` (the last one accepted for the account).
    pub fn accepts(
        &self,
        code: &str,
        now: i64,
        last_step: Option<i64>,
    ) -> Result<i64, CodeRefused> {
        let digits: String = code
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if digits.len() != usize::from(DIGITS) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeRefused::Invalid);
        }
        let totp = self.totp("");
        let origin = now.max(0) / STEP_SECS as i64;
        let mut matched = None;
        // Every step of the window is computed, so the answer takes the same time whichever
        // matches.
        for step in origin - i64::from(SKEW)..=origin + i64::from(SKEW) {
            let at = (step.max(0) as u64) * STEP_SECS;
            let expected = totp.generate(at).to_string();
            if constant_time_eq(expected.as_bytes(), digits.as_bytes()) {
                matched.get_or_insert(step);
            }
        }
        let step = matched.ok_or(CodeRefused::Invalid)?;
        if last_step.is_some_and(|last| step <= last) {
            return Err(CodeRefused::Replayed);
        }
        Ok(step)
    }

    /// The secret sealed for `user_id` (`seal_bytes`).
    pub fn seal(&self, key: &SealKey, user_id: i64) -> String {
        seal_bytes(key, APP_SECRET_LABEL, user_id, &self.0)
    }

    /// The secret `seal` sealed for `user_id`, if `sealed` is one, untampered, sealed with
    /// this key for this account.
    pub fn open(sealed: &str, key: &SealKey, user_id: i64) -> Option<Self> {
        let bytes = open_bytes(key, APP_SECRET_LABEL, user_id, sealed)?;
        Some(Self(bytes.try_into().ok()?))
    }
}

const APP_SECRET_LABEL: &str = "app secret";

fn tag(key: &SealKey, label: &str, nonce: &[u8], user_id: i64, sealed: &[u8]) -> [u8; TAG_BYTES] {
    let mut sha = Sha256::new();
    sha.update(key.secrets);
    sha.update(b"tag\0");
    sha.update(label.as_bytes());
    sha.update(b"\0");
    sha.update(nonce);
    sha.update(user_id.to_be_bytes());
    sha.update(sealed);
    let digest: [u8; 32] = sha.finalize().into();
    let mut tag = [0u8; TAG_BYTES];
    tag.copy_from_slice(&digest[..TAG_BYTES]);
    tag
}

/// `data` sealed for `user_id` under `label` (an app secret, recovery codes waiting to be
/// shown): `v1.` nonce, sealed bytes and tag, in hex. Only this key, label and account open it.
pub fn seal_bytes(key: &SealKey, label: &str, user_id: i64, data: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = xor_stream(key, label, &nonce, user_id, data);
    let tag = tag(key, label, &nonce, user_id, &sealed);
    format!(
        "v1.{}.{}.{}",
        hex::encode(nonce),
        hex::encode(&sealed),
        hex::encode(tag)
    )
}

/// The bytes `seal_bytes` sealed with the same key, label and account.
pub fn open_bytes(key: &SealKey, label: &str, user_id: i64, sealed: &str) -> Option<Vec<u8>> {
    let mut parts = sealed.split('.');
    let (Some("v1"), Some(nonce), Some(body), Some(given), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let nonce = hex::decode(nonce).ok().filter(|n| n.len() == NONCE_BYTES)?;
    let body = hex::decode(body).ok()?;
    let given = hex::decode(given).ok()?;
    let expected = tag(key, label, &nonce, user_id, &body);
    if !constant_time_eq(&expected, &given) {
        return None;
    }
    Some(xor_stream(key, label, &nonce, user_id, &body))
}

pub fn seal_text(key: &SealKey, label: &str, user_id: i64, text: &str) -> String {
    seal_bytes(key, label, user_id, text.as_bytes())
}

pub fn open_text(key: &SealKey, label: &str, user_id: i64, sealed: &str) -> Option<String> {
    String::from_utf8(open_bytes(key, label, user_id, sealed)?).ok()
}

/// `data` XORed with SHA-256 blocks of the key, label, nonce, account and block number.
fn xor_stream(key: &SealKey, label: &str, nonce: &[u8], user_id: i64, data: &[u8]) -> Vec<u8> {
    data.chunks(32)
        .enumerate()
        .flat_map(|(block, chunk)| {
            let mut sha = Sha256::new();
            sha.update(key.secrets);
            sha.update(b"pad\0");
            sha.update(label.as_bytes());
            sha.update(b"\0");
            sha.update(nonce);
            sha.update(user_id.to_be_bytes());
            sha.update((block as u64).to_be_bytes());
            let pad: [u8; 32] = sha.finalize().into();
            chunk
                .iter()
                .zip(pad)
                .map(|(a, b)| a ^ b)
                .collect::<Vec<u8>>()
        })
        .collect()
}

/// `text` as a QR code, an SVG image named for screen readers ("QR code …").
pub fn qr_svg(text: &str, name: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // The renderer writes an XML declaration and a bare <svg>; inline in HTML it needs neither
    // the declaration nor a missing name. The name is the SVG's <title> (not `aria-label`),
    // so the image is not also found as the field labelled "Code".
    let start = svg.find("<svg")?;
    let title = name
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    let open = svg[start..].find('>')? + start + 1;
    Some(format!(
        "{}<title>{title}</title>{}",
        svg[start..open].replacen("<svg", "<svg role=\"img\"", 1),
        &svg[open..]
    ))
}

/// A new set of recovery codes, as shown to the person (`abcde-fghij`).
pub fn recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; CODE_CHARS];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let chars: String = bytes
                .iter()
                .map(|b| char::from(CODE_ALPHABET[usize::from(b & 31)]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// What is stored for a recovery code as typed: `None` when it cannot be one (wrong length
/// or characters), so a mistyped code costs no lookup.
pub fn recovery_digest(key: &SealKey, typed: &str) -> Option<String> {
    let normalised: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let valid =
        normalised.len() == CODE_CHARS && normalised.bytes().all(|b| CODE_ALPHABET.contains(&b));
    if !valid {
        return None;
    }
    let mut sha = Sha256::new();
    sha.update(key.codes);
    sha.update(normalised.as_bytes());
    Some(hex::encode(sha.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 seed, whose 8-digit codes end in these 6 digits.
    fn rfc_secret() -> AppSecret {
        AppSecret(*b"12345678901234567890")
    }

    #[test]
    fn codes_match_rfc_6238s_test_vectors() {
        let secret = rfc_secret();
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(secret.code_at(time), code, "at {time}");
            assert!(secret.accepts(code, time, None).is_ok(), "at {time}");
        }
    }

    #[test]
    fn a_code_is_good_within_one_step_and_only_once() {
        let secret = AppSecret::generate();
        let now = 1_700_000_000;
        let code = secret.code_at(now);
        let step = secret.accepts(&code, now, None).unwrap();
        assert_eq!(step, now / 30);
        assert_eq!(
            secret.accepts(&code, now, Some(step)),
            Err(CodeRefused::Replayed)
        );
        // The previous and next steps' codes are accepted (clock skew), not two steps away.
        assert!(secret.accepts(&secret.code_at(now - 30), now, None).is_ok());
        assert!(secret.accepts(&secret.code_at(now + 30), now, None).is_ok());
        let two_away = secret.code_at(now - 60);
        if two_away != code && two_away != secret.code_at(now - 30) {
            assert_eq!(
                secret.accepts(&two_away, now, None),
                Err(CodeRefused::Invalid)
            );
        }
        // A code from an earlier step than the last one used is a replay too.
        let earlier = secret.code_at(now - 30);
        assert_eq!(
            secret.accepts(&earlier, now, Some(step)),
            Err(CodeRefused::Replayed)
        );
        // Typed with a space, or a dash: the same code.
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(secret.accepts(&spaced, now, None).is_ok());
        for junk in ["", "12345", "1234567", "abcdef", "１２３４５６"] {
            assert_eq!(
                secret.accepts(junk, now, None),
                Err(CodeRefused::Invalid),
                "{junk}"
            );
        }
    }

    #[test]
    fn the_setup_key_is_the_secret_in_base32() {
        let key = rfc_secret().setup_key();
        assert_eq!(key, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let uri = rfc_secret().otpauth_uri("ada@example.com");
        assert!(
            uri.starts_with("otpauth://totp/Gatehouse:ada%40example.com?"),
            "{uri}"
        );
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{uri}"
        );
        assert!(uri.contains("issuer=Gatehouse"), "{uri}");
        assert!(!format!("{:?}", rfc_secret()).contains("GEZD"));
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_account_and_key() {
        let key = SealKey::derive(b"a signing secret of at least thirty-two bytes");
        let secret = AppSecret::generate();
        let sealed = secret.seal(&key, 7);
        assert_ne!(secret.seal(&key, 7), sealed, "a fresh nonce each time");
        assert_eq!(AppSecret::open(&sealed, &key, 7), Some(secret.clone()));
        assert_eq!(AppSecret::open(&sealed, &key, 8), None, "another account");
        let other = SealKey::derive(b"another signing secret of thirty-two bytes!!");
        assert_eq!(AppSecret::open(&sealed, &other, 7), None, "another key");
        let mut tampered = sealed.clone().into_bytes();
        let at = tampered.len() - 40;
        tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(AppSecret::open(&tampered, &key, 7), None, "tampered");
        assert_eq!(AppSecret::open("v1.zz", &key, 7), None);
        assert!(!sealed.contains(&hex::encode(secret.0)));
    }

    #[test]
    fn the_qr_code_is_an_svg_named_for_screen_readers() {
        let svg = qr_svg(
            "otpauth://totp/Gatehouse:ada?secret=GEZD",
            "QR code for your app",
        )
        .unwrap();
        assert!(svg.starts_with("<svg role=\"img\""), "{svg:.80}");
        assert!(
            svg.contains("><title>QR code for your app</title>"),
            "the name is the SVG's title: {svg:.300}"
        );
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
    }

    #[test]
    fn recovery_codes_are_random_and_forgiving_to_type() {
        let key = SealKey::derive(b"a signing secret of at least thirty-two bytes");
        let codes = recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        let digest = recovery_digest(&key, code).unwrap();
        assert_eq!(
            recovery_digest(&key, &code.to_uppercase()),
            Some(digest.clone())
        );
        assert_eq!(
            recovery_digest(&key, &code.replace('-', " ")),
            Some(digest.clone())
        );
        assert_ne!(recovery_digest(&key, &codes[1]), Some(digest.clone()));
        let other = SealKey::derive(b"another signing secret of thirty-two bytes!!");
        assert_ne!(recovery_digest(&other, code), Some(digest));
        assert_eq!(recovery_digest(&key, "short"), None);
        assert_eq!(
            recovery_digest(&key, "abcde-fghi1"),
            None,
            "1 is not in the alphabet"
        );
    }

    #[test]
    fn sealed_text_opens_only_for_its_account_and_label() {
        let key = SealKey::derive(b"a signing secret of enough length!!");
        let text = "abcde-fghij\nklmno-pqrst\n".repeat(5);
        let sealed = seal_text(&key, "codes", 7, &text);
        assert_eq!(
            open_text(&key, "codes", 7, &sealed).as_deref(),
            Some(text.as_str())
        );
        assert!(!sealed.contains("abcde"));
        assert_eq!(open_text(&key, "codes", 8, &sealed), None);
        assert_eq!(open_text(&key, "other", 7, &sealed), None);
        let other = SealKey::derive(b"another signing secret, also long!!");
        assert_eq!(open_text(&other, "codes", 7, &sealed), None);
        let mut tampered = sealed.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == '0' { '1' } else { '0' });
        assert_eq!(open_text(&key, "codes", 7, &tampered), None);
    }
}
