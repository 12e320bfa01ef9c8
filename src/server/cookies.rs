//! The one place that names, sets and clears the authentication cookies.

use tower_cookies::cookie::{time::Duration, SameSite};
use tower_cookies::{Cookie, Cookies};

use super::sessions::IssuedTokens;
use super::tokens::{RefreshToken, DEVICE_TTL_SECS};

#[derive(Clone, Debug)]
pub struct AuthCookies {
    access: &'static str,
    refresh: &'static str,
    /// Marks a client that has logged in to an account before; outlives sessions and logout.
    device: &'static str,
    secure: bool,
}

impl AuthCookies {
    /// Over HTTPS the cookies are `Secure` and carry the `__Host-` prefix, which also pins them
    /// to this host and `Path=/`.
    pub fn new(https: bool) -> Self {
        if https {
            Self {
                access: "__Host-gatehouse_access",
                refresh: "__Host-gatehouse_refresh",
                device: "__Host-gatehouse_device",
                secure: true,
            }
        } else {
            Self {
                access: "gatehouse_access",
                refresh: "gatehouse_refresh",
                device: "gatehouse_device",
                secure: false,
            }
        }
    }

    pub fn names(&self) -> [&'static str; 2] {
        [self.access, self.refresh]
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
