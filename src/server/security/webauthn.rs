//! Passkeys (WebAuthn Level 3) through `webauthn-rs`: the site's relying party, and the three
//! ceremonies Gatehouse runs — adding a passkey, logging in with one (discoverable, no
//! email typed) and using one as a login's second step.
//!
//! - The relying party id is `PUBLIC_URL`'s host and the only accepted origin is
//!   `PUBLIC_URL`'s origin: a passkey made for this site answers nowhere else, and an
//!   assertion made on another origin is refused.
//! - User verification (PIN, fingerprint) is required, so a passkey is a whole second factor
//!   on its own and a passkey login needs no password.
//! - A ceremony's state (its challenge) is serialised here and kept on the server
//!   (`store::factors::webauthn_ceremonies`), taken by its first finish: a replayed answer
//!   finds no challenge.
//! - A signature counter that goes backwards (a cloned authenticator) is refused.
//! - The browser gets the options as WebAuthn's JSON (`parseCreationOptionsFromJSON`) and
//!   sends back `PublicKeyCredential.toJSON()`.

use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, CredentialID, DiscoverableAuthentication,
    DiscoverableKey, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::second_factor::SealKey;

/// Why a ceremony did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The browser's answer does not verify: another origin, another challenge, a bad
    /// signature, no user verification, or a counter that went backwards.
    Invalid(String),
    /// The stored state could not be read (another version's, or damaged).
    State,
}

/// The site as a WebAuthn relying party, if its address allows one.
pub struct Passkeys {
    webauthn: Option<Webauthn>,
    why_not: String,
}

impl Passkeys {
    /// The relying party of `origin` (`scheme://host[:port]`). Passkeys need a host name:
    /// browsers refuse an IP address as a relying party id.
    pub fn for_origin(origin: &str) -> Self {
        match build(origin) {
            Ok(webauthn) => Self {
                webauthn: Some(webauthn),
                why_not: String::new(),
            },
            Err(why_not) => Self {
                webauthn: None,
                why_not,
            },
        }
    }

    /// Why passkeys cannot be used on this site, when they cannot.
    pub fn unavailable(&self) -> Option<&str> {
        self.webauthn.is_none().then_some(self.why_not.as_str())
    }

    fn rp(&self) -> Result<&Webauthn, Refused> {
        self.webauthn
            .as_ref()
            .ok_or_else(|| Refused::Invalid(self.why_not.clone()))
    }

    /// Starts adding a passkey to the account known to authenticators as `handle`: the
    /// browser's options (JSON) and the state to keep. Asks for a discoverable credential, so
    /// the passkey can log in without an email typed first.
    pub fn start_registration(
        &self,
        handle: Uuid,
        email: &str,
        display_name: &str,
        existing: Vec<CredentialID>,
    ) -> Result<(serde_json::Value, String), Refused> {
        let exclude = (!existing.is_empty()).then_some(existing);
        let (options, state): (CreationChallengeResponse, PasskeyRegistration) = self
            .rp()?
            .start_passkey_registration(handle, email, display_name, exclude)
            .map_err(|e| Refused::Invalid(e.to_string()))?;
        let mut options = to_json(&options)?;
        // webauthn-rs asks for a non-discoverable credential; a passkey that logs in without
        // an email typed first must be discoverable.
        if let Some(selection) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(serde_json::Value::as_object_mut)
        {
            selection.insert("residentKey".into(), "required".into());
            selection.insert("requireResidentKey".into(), true.into());
        }
        Ok((options, to_string(&state)?))
    }

    pub fn finish_registration(
        &self,
        state: &str,
        credential: &RegisterPublicKeyCredential,
    ) -> Result<Passkey, Refused> {
        let state: PasskeyRegistration = serde_json::from_str(state).map_err(|_| Refused::State)?;
        self.rp()?
            .finish_passkey_registration(credential, &state)
            .map_err(|e| Refused::Invalid(e.to_string()))
    }

    /// Starts a login with any of this site's passkeys (discoverable): `conditional` for the
    /// Email field's autofill, otherwise the browser's own dialog.
    pub fn start_login(&self, conditional: bool) -> Result<(serde_json::Value, String), Refused> {
        let (mut options, state): (RequestChallengeResponse, DiscoverableAuthentication) = self
            .rp()?
            .start_discoverable_authentication()
            .map_err(|e| Refused::Invalid(e.to_string()))?;
        if !conditional {
            options.mediation = None;
        }
        Ok((to_json(&options)?, to_string(&state)?))
    }

    /// Which account (its handle) and which credential a login's answer names.
    pub fn identify(&self, credential: &PublicKeyCredential) -> Result<(Uuid, String), Refused> {
        let (handle, id) = self
            .rp()?
            .identify_discoverable_authentication(credential)
            .map_err(|e| Refused::Invalid(e.to_string()))?;
        Ok((handle, credential_id(id)))
    }

    /// Finishes a login with `passkey` (the one `identify` named): the passkey with its new
    /// counter.
    pub fn finish_login(
        &self,
        state: &str,
        credential: &PublicKeyCredential,
        mut passkey: Passkey,
    ) -> Result<Passkey, Refused> {
        let state: DiscoverableAuthentication =
            serde_json::from_str(state).map_err(|_| Refused::State)?;
        let key = DiscoverableKey::from(&passkey);
        #[allow(deprecated)]
        let result = self
            .rp()?
            .finish_discoverable_authentication(credential, state, &[key])
            .map_err(|e| Refused::Invalid(e.to_string()))?;
        counter_moved_on(&passkey, &result)?;
        passkey.update_credential(&result);
        Ok(passkey)
    }

    /// Starts a second step with one of the account's `passkeys`.
    pub fn start_second_step(
        &self,
        passkeys: &[Passkey],
    ) -> Result<(serde_json::Value, String), Refused> {
        let (options, state) = self
            .rp()?
            .start_passkey_authentication(passkeys)
            .map_err(|e| Refused::Invalid(e.to_string()))?;
        Ok((to_json(&options)?, to_string(&state)?))
    }

    /// Finishes a second step: the id of the passkey used and the passkey with its new counter.
    pub fn finish_second_step(
        &self,
        state: &str,
        credential: &PublicKeyCredential,
        passkeys: &[Passkey],
    ) -> Result<(String, Passkey), Refused> {
        let state: PasskeyAuthentication =
            serde_json::from_str(state).map_err(|_| Refused::State)?;
        let result = self
            .rp()?
            .finish_passkey_authentication(credential, &state)
            .map_err(|e| Refused::Invalid(e.to_string()))?;
        let mut used = passkeys
            .iter()
            .find(|p| p.cred_id() == result.cred_id())
            .cloned()
            .ok_or_else(|| Refused::Invalid("not one of the account's passkeys".into()))?;
        counter_moved_on(&used, &result)?;
        used.update_credential(&result);
        Ok((credential_id(result.cred_id()), used))
    }
}

/// The signature counter must have moved on from the one stored now (WebAuthn §7.2 step 21),
/// not only from the one the ceremony started with: two ceremonies started together cannot
/// both pass with one counter. Passkeys that keep no counter (synced ones) send 0 every time.
fn counter_moved_on(stored: &Passkey, result: &AuthenticationResult) -> Result<(), Refused> {
    let stored = serde_json::to_value(stored)
        .ok()
        .and_then(|value| value.pointer("/cred/counter").and_then(|c| c.as_u64()))
        .unwrap_or(0);
    let counter = u64::from(result.counter());
    if (counter > 0 || stored > 0) && counter <= stored {
        return Err(Refused::Invalid(
            "the signature counter went backwards: the passkey may have been copied".into(),
        ));
    }
    Ok(())
}

fn build(origin: &str) -> Result<Webauthn, String> {
    let url = Url::parse(origin).map_err(|e| format!("PUBLIC_URL is not a URL: {e}"))?;
    let host = url.host_str().unwrap_or_default().to_string();
    if host.is_empty() || host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        return Err(
            "Passkeys need the site to have a host name (PUBLIC_URL names an IP address).".into(),
        );
    }
    WebauthnBuilder::new(&host, &url)
        .and_then(|builder| builder.rp_name("Gatehouse").build())
        .map_err(|e| format!("Passkeys cannot be used with this PUBLIC_URL: {e}"))
}

/// How a credential id is stored and compared: base64url without padding.
pub fn credential_id(raw: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The id authenticators keep for an account (WebAuthn's user handle): derived from the
/// account id with a server key, so it reveals neither the id nor the email, and is the same
/// on every node.
pub fn user_handle(key: &SealKey, user_id: i64) -> Uuid {
    let mut sha = Sha256::new();
    sha.update(b"gatehouse webauthn user handle v1\0");
    sha.update(key.handle_key());
    sha.update(user_id.to_be_bytes());
    let digest = sha.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, Refused> {
    serde_json::to_value(value).map_err(|_| Refused::State)
}

fn to_string<T: serde::Serialize>(value: &T) -> Result<String, Refused> {
    serde_json::to_string(value).map_err(|_| Refused::State)
}

#[cfg(test)]
mod tests {
    use super::*;
    use webauthn_authenticator_rs::softpasskey::SoftPasskey;
    use webauthn_authenticator_rs::WebauthnAuthenticator;

    const ORIGIN: &str = "http://localhost:3000";

    fn site() -> Passkeys {
        Passkeys::for_origin(ORIGIN)
    }

    fn origin(url: &str) -> Url {
        Url::parse(url).unwrap()
    }

    fn handle() -> Uuid {
        user_handle(&SealKey::derive(b"a signing secret of enough length!!"), 7)
    }

    /// Registers a soft passkey (user verification on) at `at`.
    fn register(
        site: &Passkeys,
        authenticator: &mut impl WebauthnAuthenticator,
        at: &str,
    ) -> Result<Passkey, Refused> {
        let (options, state) = site
            .start_registration(handle(), "ada@example.com", "ada", Vec::new())
            .unwrap();
        assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
        assert_eq!(
            options["publicKey"]["authenticatorSelection"]["residentKey"],
            "required"
        );
        assert_eq!(
            options["publicKey"]["authenticatorSelection"]["userVerification"],
            "required"
        );
        // The soft token keeps no resident keys (Chromium's virtual authenticator in the
        // browser tests does): it is asked for a plain credential.
        let mut options = options;
        options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = false.into();
        options["publicKey"]["authenticatorSelection"]["residentKey"] = "discouraged".into();
        let options = serde_json::from_value(options).unwrap();
        let answer = authenticator
            .do_registration(origin(at), options)
            .expect("the authenticator answers");
        site.finish_registration(&state, &answer)
    }

    fn assertion(
        site: &Passkeys,
        authenticator: &mut impl WebauthnAuthenticator,
        passkeys: &[Passkey],
        at: &str,
    ) -> (String, PublicKeyCredential) {
        let (options, state) = site.start_second_step(passkeys).unwrap();
        let options = serde_json::from_value(options).unwrap();
        let answer = authenticator
            .do_authentication(origin(at), options)
            .expect("the authenticator answers");
        (state, answer)
    }

    #[test]
    fn a_soft_passkey_registers_and_then_verifies_a_second_step() {
        let site = site();
        let mut authenticator = SoftPasskey::new(true);
        let passkey = register(&site, &mut authenticator, ORIGIN).expect("registered");
        let (state, answer) = assertion(
            &site,
            &mut authenticator,
            std::slice::from_ref(&passkey),
            ORIGIN,
        );
        let (id, updated) = site
            .finish_second_step(&state, &answer, std::slice::from_ref(&passkey))
            .expect("verified");
        assert_eq!(id, credential_id(passkey.cred_id()));
        // Stored as JSON and read back, as the database keeps it.
        let stored = serde_json::to_string(&updated).unwrap();
        let back: Passkey = serde_json::from_str(&stored).unwrap();
        assert_eq!(back.cred_id(), passkey.cred_id());
    }

    #[test]
    fn another_origin_is_refused_for_registration_and_assertion() {
        let site = site();
        let mut authenticator = SoftPasskey::new(true);
        assert!(matches!(
            // The same host on another port: the authenticator signs (its rp id matches), the
            // site refuses the origin.
            register(&site, &mut authenticator, "http://localhost:4000"),
            Err(Refused::Invalid(_))
        ));
        let passkey = register(&site, &mut authenticator, ORIGIN).unwrap();
        let (state, answer) = assertion(
            &site,
            &mut authenticator,
            std::slice::from_ref(&passkey),
            "http://localhost:4000",
        );
        assert!(matches!(
            site.finish_second_step(&state, &answer, &[passkey]),
            Err(Refused::Invalid(_))
        ));
    }

    #[test]
    fn an_answer_to_another_challenge_is_refused() {
        let site = site();
        let mut authenticator = SoftPasskey::new(true);
        let passkey = register(&site, &mut authenticator, ORIGIN).unwrap();
        let (_, old_answer) = assertion(
            &site,
            &mut authenticator,
            std::slice::from_ref(&passkey),
            ORIGIN,
        );
        // A replayed answer finds a new challenge (the old state is taken by its first finish).
        let (_, fresh_state) = site
            .start_second_step(std::slice::from_ref(&passkey))
            .unwrap();
        assert!(matches!(
            site.finish_second_step(&fresh_state, &old_answer, &[passkey]),
            Err(Refused::Invalid(_))
        ));
    }

    #[test]
    fn a_counter_that_goes_backwards_is_refused_as_a_cloned_authenticator() {
        let site = site();
        let mut authenticator = SoftPasskey::new(true);
        let passkey = register(&site, &mut authenticator, ORIGIN).unwrap();
        // Two answers: counter 1, then counter 2. The later is verified first and its counter
        // stored; the earlier (what a copy of the authenticator would send) is then refused.
        let (first_state, first) = assertion(
            &site,
            &mut authenticator,
            std::slice::from_ref(&passkey),
            ORIGIN,
        );
        let (second_state, second) = assertion(
            &site,
            &mut authenticator,
            std::slice::from_ref(&passkey),
            ORIGIN,
        );
        let (_, advanced) = site
            .finish_second_step(&second_state, &second, &[passkey])
            .unwrap();
        assert!(matches!(
            site.finish_second_step(&first_state, &first, &[advanced]),
            Err(Refused::Invalid(_))
        ));
    }

    #[test]
    fn passkeys_need_a_host_name_and_handles_are_stable_and_opaque() {
        assert!(Passkeys::for_origin("http://127.0.0.1:3000")
            .unavailable()
            .is_some());
        assert!(Passkeys::for_origin("http://[::1]:3000")
            .unavailable()
            .is_some());
        assert!(site().unavailable().is_none());
        let key = SealKey::derive(b"a signing secret of enough length!!");
        assert_eq!(user_handle(&key, 7), user_handle(&key, 7));
        assert_ne!(user_handle(&key, 7), user_handle(&key, 8));
        let other = SealKey::derive(b"another signing secret, also long!!");
        assert_ne!(user_handle(&key, 7), user_handle(&other, 7));
    }
}
