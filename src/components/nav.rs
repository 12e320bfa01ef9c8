//! The site navigation and the logged-in person it shows.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::form::SubmitButton;
use crate::components::FocusLink;
use crate::domain::{AppError, UserView};

/// The logged-in person (if any), shared by the navigation and pages.
#[derive(Clone, Copy)]
pub struct Account {
    pub user: Resource<Result<Option<UserView>, AppError>>,
}

impl Account {
    /// A second resource for the same account, for a page that shows it in its own
    /// `Suspense`: reading one resource from two boundaries can stall a server-rendered
    /// response (leptos-rs/leptos#4851).
    pub fn separate_resource(self) -> Resource<Result<Option<UserView>, AppError>> {
        Resource::new(|| (), |_| current_account())
    }
}

pub fn provide_account() {
    let user = Resource::new(|| (), |_| current_account());
    provide_context(Account { user });
}

pub fn use_account() -> Account {
    expect_context::<Account>()
}

#[server(endpoint = "account")]
pub async fn current_account() -> Result<Option<UserView>, AppError> {
    use crate::server::context;
    // The session check already read the account for this request.
    Ok(context::current_user()
        .ok()
        .map(|user| user.account.as_ref().clone()))
}

#[server(endpoint = "logout")]
pub async fn log_out() -> Result<(), AppError> {
    use crate::server::{context, sessions};
    let state = context::state()?;
    if let Ok(user) = context::current_user() {
        sessions::end(&state, &user.session_id, "logout").await?;
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

#[component]
pub fn Nav() -> impl IntoView {
    let account = use_account();
    let logout = ServerAction::<LogOut>::new();
    view! {
        <FocusLink target="main".to_string() class="skip-link">"Skip to main content"</FocusLink>
        <header class="site-header">
            <nav aria-label="Main">
                <A href="/" attr:class="brand">"Gatehouse"</A>
                <Transition fallback=|| ()>
                    {move || {
                        account
                            .user
                            .get()
                            .map(|user| match user {
                                Ok(Some(user)) => {
                                    let admin = user.role == "admin";
                                    view! {
                                        <A href="/projects">"Projects"</A>
                                        <A href="/sessions">"Sessions"</A>
                                        <A href="/activity">"Activity"</A>
                                        {admin.then(|| view! { <A href="/admin/users">"Users"</A> })}
                                        <A href="/profile">"Profile"</A>
                                        <ActionForm action=logout attr:class="inline-form">
                                            <SubmitButton class="link-button">
                                                "Log out"
                                            </SubmitButton>
                                        </ActionForm>
                                    }
                                        .into_any()
                                }
                                _ => {
                                    view! {
                                        <A href="/login">"Log in"</A>
                                        <A href="/register">"Register"</A>
                                    }
                                        .into_any()
                                }
                            })
                    }}
                </Transition>
            </nav>
        </header>
    }
}
