//! The one place that names, sets and clears cookies: the authentication cookies, and the
//! short-lived one that carries a failed plain form post's typed values (`form_errors`).

use tower_cookies::cookie::{time::Duration, SameSite};
use tower_cookies::{Cookie, Cookies};

use crate::server::security::tokens::IssuedTokens;
use crate::server::security::tokens::{RefreshToken, DEVICE_TTL_SECS};

#[derive(Clone, Debug)]
pub struct AuthCookies {
    access: &'static str,
    refresh: &'static str,
    /// Marks a client that has logged in to an account before; outlives sessions and logout.
    device: &'static str,
    /// Typed values of a failed plain form post, on their way back to the form.
    form: &'static str,
    /// A login waiting for its second step (`accounts::two_step`).
    pending: &'static str,
    secure: bool,
}

/// How long typed values wait for the form page to be shown again.
const FORM_VALUES_SECS: i64 = 60;

impl AuthCookies {
    /// Over HTTPS the cookies are `Secure` and carry the `__Host-` prefix, which also pins them
    /// to this host and `Path=/`.
    pub fn new(https: bool) -> Self {
        if https {
            Self {
                access: "__Host-gatehouse_access",
                refresh: "__Host-gatehouse_refresh",
                device: "__Host-gatehouse_device",
                form: "__Host-gatehouse_form",
                pending: "__Host-gatehouse_pending",
                secure: true,
            }
        } else {
            Self {
                access: "gatehouse_access",
                refresh: "gatehouse_refresh",
                device: "gatehouse_device",
                form: "gatehouse_form",
                pending: "gatehouse_pending",
                secure: false,
            }
        }
    }

    pub fn names(&self) -> [&'static str; 2] {
        [self.access, self.refresh]
    }

    /// Every cookie that stands for a person (a session, or a login waiting for its second
    /// step): a request carrying one must prove it comes from this site (CSRF).
    pub fn credential_names(&self) -> [&'static str; 3] {
        [self.access, self.refresh, self.pending]
    }

    pub fn access_token(&self, jar: &Cookies) -> Option<String> {
        jar.get(self.access)
            .map(|c| c.value().to_string())
            .filter(|v| !v.is_empty())
    }

    pub fn refresh_token(&self, jar: &Cookies) -> Option<RefreshToken> {
        jar.get(self.refresh)
            .map(|c| RefreshToken::from_client(c.value()))
            .filter(|t| !t.expose().is_empty())
    }

    fn build(&self, name: &'static str, value: String, max_age: Option<i64>) -> Cookie<'static> {
        let mut cookie = Cookie::build((name, value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .secure(self.secure);
        if let Some(seconds) = max_age {
            cookie = cookie.max_age(Duration::seconds(seconds));
        }
        cookie.build()
    }

    pub fn device_token(&self, jar: &Cookies) -> Option<String> {
        jar.get(self.device)
            .map(|c| c.value().to_string())
            .filter(|v| !v.is_empty())
    }

    pub fn set_device(&self, jar: &Cookies, token: String) {
        jar.add(self.build(self.device, token, Some(DEVICE_TTL_SECS)));
    }

    /// Both cookies persist only for "remember me"; otherwise they end with the browser.
    pub fn set(&self, jar: &Cookies, issued: &IssuedTokens) {
        jar.add(self.build(self.access, issued.access_token.clone(), issued.persist_for));
        jar.add(self.build(
            self.refresh,
            issued.refresh_token.expose().to_string(),
            issued.persist_for,
        ));
    }

    /// A finished login: its session's cookies and the renewed device cookie; a pending login
    /// it finished is done with.
    pub fn set_login(&self, jar: &Cookies, issued: &IssuedTokens, device_token: String) {
        self.clear_pending_login(jar);
        self.set(jar, issued);
        self.set_device(jar, device_token);
    }

    pub fn form_values(&self, jar: &Cookies) -> Option<String> {
        jar.get(self.form)
            .map(|c| c.value().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Sent only with requests from this site (`SameSite=Strict`), for a minute.
    pub fn set_form_values(&self, jar: &Cookies, encoded: String) {
        let mut cookie = self.build(self.form, encoded, Some(FORM_VALUES_SECS));
        cookie.set_same_site(SameSite::Strict);
        jar.add(cookie);
    }

    pub fn clear_form_values(&self, jar: &Cookies) {
        jar.add(self.build(self.form, String::new(), Some(0)));
    }

    pub fn pending_login(&self, jar: &Cookies) -> Option<String> {
        jar.get(self.pending)
            .map(|c| c.value().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Sent only with requests from this site (`SameSite=Strict`), for as long as the pending
    /// login lives.
    pub fn set_pending_login(&self, jar: &Cookies, token: String, max_age: i64) {
        let mut cookie = self.build(self.pending, token, Some(max_age));
        cookie.set_same_site(SameSite::Strict);
        jar.add(cookie);
    }

    pub fn clear_pending_login(&self, jar: &Cookies) {
        if jar.get(self.pending).is_some() {
            jar.add(self.build(self.pending, String::new(), Some(0)));
        }
    }

    /// Ends the session cookies. The device cookie stays: the owner must not become a
    /// stranger to the login throttle by logging out.
    pub fn clear(&self, jar: &Cookies) {
        for name in self.names() {
            if jar.get(name).is_some() {
                jar.add(self.build(name, String::new(), Some(0)));
            }
        }
    }
}
