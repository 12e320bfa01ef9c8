//! The providers people may sign in with (SPEC §9): read from settings.
//!
//! `LOGIN_PROVIDERS=corp,github` and, for each NAME (upper case, `-` as `_`, in the variable):
//! `LOGIN_PROVIDER_<NAME>_ISSUER` (an OpenID Connect issuer, found by discovery) or
//! `LOGIN_PROVIDER_<NAME>_KIND=github`, `…_CLIENT_ID`, `…_CLIENT_SECRET`, `…_LABEL`.

/// A setting that is wrong, named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub setting: String,
    pub message: String,
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

/// How Gatehouse talks to a provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// OpenID Connect: discovery, the code flow with PKCE, an ID token.
    OpenId { issuer: String },
    /// GitHub's OAuth 2.0: no ID token; the verified primary email comes from its API.
    GitHub,
}

/// One provider.
#[derive(Clone, PartialEq, Eq)]
pub struct Provider {
    /// As in `LOGIN_PROVIDERS` (lower case): the callback is `/login/<name>/callback`.
    pub name: String,
    /// Shown on the buttons: "Continue with <label>".
    pub label: String,
    pub kind: Kind,
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("label", &self.label)
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// The variable of a provider's setting: `LOGIN_PROVIDER_<NAME>_<WHAT>`.
pub fn variable(name: &str, what: &str) -> String {
    format!(
        "LOGIN_PROVIDER_{}_{what}",
        name.to_ascii_uppercase().replace('-', "_")
    )
}

/// An issuer is an `https` URL (`http` on a loopback host, for tests and development) without
/// a query or fragment.
fn check_issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|_| "must be an absolute URL".to_string())?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if crate::server::security::is_loopback_url(&url) => Ok(()),
        _ => Err("must be an https URL (http only on localhost)".into()),
    }
}

/// The providers the settings name, in their order; the first wrong setting, named.
pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Vec<Provider>, ProviderError> {
    let error = |setting: String, message: &str| ProviderError {
        setting,
        message: message.to_string(),
    };
    let Some(list) = get("LOGIN_PROVIDERS").filter(|list| !list.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    // The names first: a list that is wrong as a list is named as such.
    let mut names: Vec<String> = Vec::new();
    for raw in list.split(',') {
        let name = raw.trim().to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid {
            return Err(error(
                "LOGIN_PROVIDERS".into(),
                "names are 1 to 32 letters, digits, - or _, separated by commas",
            ));
        }
        if names.contains(&name) {
            return Err(error(
                "LOGIN_PROVIDERS".into(),
                &format!("{name} is named twice"),
            ));
        }
        names.push(name);
    }
    let mut providers: Vec<Provider> = Vec::new();
    for name in names {
        let setting = |what: &str| get(&variable(&name, what)).map(|v| v.trim().to_string());
        let kind =
            match (setting("KIND").as_deref(), setting("ISSUER")) {
                (Some("github"), None) => Kind::GitHub,
                (Some("github"), Some(_)) => return Err(error(
                    variable(&name, "ISSUER"),
                    "a GitHub provider has no issuer (KIND=github finds GitHub's addresses itself)",
                )),
                (Some(_), _) => {
                    return Err(error(
                        variable(&name, "KIND"),
                        "the only kind is github (leave it out for an OpenID Connect issuer)",
                    ))
                }
                (None, Some(issuer)) if !issuer.is_empty() => {
                    check_issuer(&issuer)
                        .map_err(|message| error(variable(&name, "ISSUER"), &message))?;
                    Kind::OpenId { issuer }
                }
                (None, _) => {
                    return Err(error(
                        variable(&name, "ISSUER"),
                        "is required (the provider's OpenID Connect issuer), or set KIND=github",
                    ))
                }
            };
        let required = |what: &str| {
            setting(what)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| error(variable(&name, what), "is required"))
        };
        let client_id = required("CLIENT_ID")?;
        let client_secret = required("CLIENT_SECRET")?;
        let label = setting("LABEL")
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| {
                let mut chars = name.chars();
                chars
                    .next()
                    .map(|first| first.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            });
        if label.chars().count() > 40 || label.chars().any(char::is_control) {
            return Err(error(
                variable(&name, "LABEL"),
                "must be plain text of at most 40 characters",
            ));
        }
        providers.push(Provider {
            name,
            label,
            kind,
            client_id,
            client_secret,
        });
    }
    Ok(providers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Vec<Provider>, ProviderError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn providers_come_from_their_settings() {
        let providers = parse(&[
            ("LOGIN_PROVIDERS", "corp, github"),
            ("LOGIN_PROVIDER_CORP_ISSUER", "https://id.corp.example"),
            ("LOGIN_PROVIDER_CORP_CLIENT_ID", "gatehouse"),
            ("LOGIN_PROVIDER_CORP_CLIENT_SECRET", "s3cret"),
            ("LOGIN_PROVIDER_CORP_LABEL", "Corp SSO"),
            ("LOGIN_PROVIDER_GITHUB_KIND", "github"),
            ("LOGIN_PROVIDER_GITHUB_CLIENT_ID", "Iv1.abc"),
            ("LOGIN_PROVIDER_GITHUB_CLIENT_SECRET", "gh"),
        ])
        .unwrap();
        assert_eq!(providers.len(), 2);
        assert_eq!(providers[0].label, "Corp SSO");
        assert_eq!(
            providers[0].kind,
            Kind::OpenId {
                issuer: "https://id.corp.example".into()
            }
        );
        assert_eq!(providers[1].kind, Kind::GitHub);
        assert_eq!(providers[1].label, "Github");
        assert!(
            !format!("{providers:?}").contains("s3cret"),
            "secrets stay out of logs"
        );
        assert_eq!(parse(&[]).unwrap(), Vec::new());
    }

    #[test]
    fn a_wrong_setting_is_named() {
        let setting = |pairs: &[(&str, &str)]| parse(pairs).unwrap_err().setting;
        assert_eq!(
            setting(&[("LOGIN_PROVIDERS", "corp")]),
            "LOGIN_PROVIDER_CORP_ISSUER"
        );
        assert_eq!(
            setting(&[
                ("LOGIN_PROVIDERS", "corp"),
                ("LOGIN_PROVIDER_CORP_ISSUER", "http://id.corp.example"),
            ]),
            "LOGIN_PROVIDER_CORP_ISSUER"
        );
        assert_eq!(
            setting(&[
                ("LOGIN_PROVIDERS", "my-idp"),
                ("LOGIN_PROVIDER_MY_IDP_ISSUER", "http://127.0.0.1:8080"),
                ("LOGIN_PROVIDER_MY_IDP_CLIENT_ID", "x"),
            ]),
            "LOGIN_PROVIDER_MY_IDP_CLIENT_SECRET"
        );
        assert_eq!(setting(&[("LOGIN_PROVIDERS", "a,a")]), "LOGIN_PROVIDERS");
        assert_eq!(
            setting(&[("LOGIN_PROVIDERS", "bad name")]),
            "LOGIN_PROVIDERS"
        );
        assert_eq!(
            setting(&[
                ("LOGIN_PROVIDERS", "gh"),
                ("LOGIN_PROVIDER_GH_KIND", "gitlab")
            ]),
            "LOGIN_PROVIDER_GH_KIND"
        );
    }
}
