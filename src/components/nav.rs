//! The site navigation and the logged-in person it shows.

use std::sync::Arc;

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::components::form::{FormAction, SubmitButton};
use crate::components::FocusLink;
use crate::domain::{AppError, UserView};

/// The logged-in person, if any, as this request's session check read it (no query, no copy).
/// Whether the calling person is an administrator: anyone else gets only the 404 page of an
/// admin page, nothing of its own content.
pub fn caller_is_admin() -> bool {
    current_account().is_some_and(|user| user.role == crate::domain::Role::Admin)
}

pub fn current_account() -> Option<Arc<UserView>> {
    crate::server::http::context::current_user()
        .ok()
        .map(|user| Arc::clone(&user.account))
}

#[server(endpoint = "logout")]
pub async fn log_out() -> Result<(), AppError> {
    use crate::server::{http::context, sessions};
    let state = context::state()?;
    if let Ok(user) = context::current_user() {
        sessions::end(&state, &user.session_id, sessions::EndReason::Logout).await?;
        tracing::info!(user_id = user.user_id, "logged out");
    }
    state.cookies.clear(&context::cookie_jar()?);
    // Whatever this browser kept of the account goes too. Not "cookies": that would also
    // drop the device cookie and make the owner a stranger to the login throttle.
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.append_header(
            http::HeaderName::from_static("clear-site-data"),
            http::HeaderValue::from_static("\"cache\", \"storage\""),
        );
    }
    leptos_axum::redirect("/login");
    Ok(())
}

/// A navigation link, marked as the current page (`aria-current`) on its own path and below
/// it (the home link only on `/`).
fn nav_link(href: &'static str, text: &'static str, here: &str) -> impl IntoView {
    let below = href != "/"
        && here
            .strip_prefix(href)
            .is_some_and(|rest| rest.starts_with('/'));
    let current = here == href || below;
    view! { <a href=href aria-current=current.then_some("page")>{text}</a> }
}

#[component]
pub fn Nav() -> impl IntoView {
    let here = use_location().pathname.get_untracked();
    let links = match current_account() {
        Some(user) => {
            let logout = FormAction::<LogOut>::new();
            let admin = user.role == crate::domain::Role::Admin;
            view! {
                {nav_link("/projects", "Projects", &here)}
                {nav_link("/sessions", "Sessions", &here)}
                {nav_link("/security", "Security", &here)}
                {nav_link("/apps", "Connected apps", &here)}
                {nav_link("/activity", "Activity", &here)}
                {admin.then(|| nav_link("/admin/users", "Users", &here))}
                {admin.then(|| nav_link("/admin/apps", "Apps", &here))}
                {nav_link("/profile", "Profile", &here)}
                <form action=logout.url() method="post" class="inline-form">
                    <SubmitButton class="link-button">"Log out"</SubmitButton>
                </form>
            }
            .into_any()
        }
        None => view! {
            {nav_link("/login", "Log in", &here)}
            {nav_link("/register", "Register", &here)}
        }
        .into_any(),
    };
    view! {
        <FocusLink target="main".to_string() class="skip-link">"Skip to main content"</FocusLink>
        <header class="site-header">
            <nav aria-label="Main">
                <a href="/" class="brand" aria-current=(here == "/").then_some("page")>"Gatehouse"</a>
                {links}
            </nav>
        </header>
    }
}
