//! The consent page of the OpenID Provider (SPEC §8): an app asks to log the person in.
//! Its form goes to `/oauth/consent` (not a server function), and the browser sends it
//! itself (`data-native`): the answer takes the person back to the app.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;
use serde::{Deserialize, Serialize};

use crate::components::status::Loaded;
use crate::domain::AppError;

/// What the page shows of a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsentView {
    pub app: String,
    /// What the app asks for, in words.
    pub asks: Vec<String>,
    /// Where the person goes back to (the redirect URI's origin).
    pub returns_to: String,
}

/// The words for a scope on the consent page and `/apps`.
pub fn scope_words(scope: &str) -> Option<&'static str> {
    match scope {
        "openid" => Some("Know who you are on Gatehouse"),
        "profile" => Some("See your username"),
        "email" => Some("See your email address and whether it is confirmed"),
        "offline_access" => Some("Stay connected when you are not using it"),
        _ => None,
    }
}

#[server(endpoint = "consent_request")]
pub async fn consent_request(query: String) -> Result<ConsentView, AppError> {
    use crate::server::http::context;
    use crate::server::oidc::authorize::{self, Refusal};
    let _ = context::current_user()?;
    // Read as the endpoints read it: a repeated parameter makes the request malformed.
    let params = authorize::single_params(&query)
        .ok_or_else(|| AppError::bad_request("The app's request is malformed."))?;
    let request = authorize::check(&context::state()?, &params)
        .await
        .map_err(|refusal| match refusal {
            Refusal::Page(message) => AppError::bad_request(message),
            Refusal::Redirect(_) => AppError::bad_request("The app's request is not valid."),
        })?;
    let returns_to = url::Url::parse(&request.redirect_uri)
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_default();
    Ok(ConsentView {
        app: request.client.name.clone(),
        asks: request
            .scopes
            .iter()
            .filter_map(|scope| scope_words(scope).map(str::to_string))
            .collect(),
        returns_to,
    })
}

#[component]
pub fn ConsentPage() -> impl IntoView {
    let query = use_location()
        .search
        .get_untracked()
        .trim_start_matches('?')
        .to_string();
    let asked = query.clone();
    let request = Resource::new(move || asked.clone(), consent_request);
    view! {
        <Title text="Allow this app?"/>
        <Loaded
            resource=request
            ready={move |view: ConsentView| {
                let query = query.clone();
                view! {
                    <h1>{format!("Allow {} to log you in?", view.app)}</h1>
                    <p>{format!("{} will be able to:", view.app)}</p>
                    <ul class="consent-scopes">
                        {view.asks.into_iter().map(|ask| view! { <li>{ask}</li> }).collect_view()}
                    </ul>
                    <p>{format!("You will be sent back to {}. You can remove its access at any time on the Connected apps page.", view.returns_to)}</p>
                    <form method="post" action="/oauth/consent" data-native="" class="button-row">
                        <input type="hidden" name="query" value=query/>
                        <button type="submit" name="decision" value="allow">"Allow"</button>
                        <button type="submit" name="decision" value="deny" class="secondary">"Deny"</button>
                    </form>
                }
            }}
        />
    }
}
