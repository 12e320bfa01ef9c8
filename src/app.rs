//! The HTML shell and the router: which page answers which path.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::components::nav::Nav;
use crate::pages::{
    activity::ActivityPage, admin_user::AdminUserPage, admin_users::AdminUsersPage,
    forgot_password::ForgotPasswordPage, home::HomePage, login::LoginPage, not_found::NotFound,
    profile::ProfilePage, project::ProjectPage, project_delete::DeleteProjectPage,
    projects::ProjectsPage, register::RegisterPage, reset_password::ResetPasswordPage,
    sessions::SessionsPage, verify_email::VerifyEmailPage,
};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy(&options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                // Nothing on the page is hydrated: the script loads the wasm and calls its
                // `hydrate()`, which starts `enhance`. In this mode (Leptos's "islands", here
                // without any island) the resources' data is not written into the page.
                <HydrationScripts options=options.clone() islands=true/>
                // Built files carry a content hash in release builds (`make release`).
                <HashedStylesheet options id="leptos"/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// A fresh nonce per response admits Leptos's hydration scripts and nothing else inline.
#[cfg(feature = "ssr")]
fn content_security_policy(options: &LeptosOptions) {
    use http::header::CONTENT_SECURITY_POLICY;
    use http::HeaderValue;
    leptos::nonce::provide_nonce();
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    static WATCHING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let watching = *WATCHING.get_or_init(|| std::env::var("LEPTOS_WATCH").is_ok());
    let policy = crate::server::security::page_csp(&nonce, watching.then_some(options.reload_port));
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Render everything before sending: pages then work without JavaScript, and guards and
    // 404 statuses are decided before the first byte.
    let ssr = SsrMode::Async;
    view! {
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml"/>
        <Title formatter=|title: String| {
            if title.is_empty() { "Gatehouse".to_string() } else { format!("{title} · Gatehouse") }
        }/>
        <Router>
            <Nav/>
            <main id="main" tabindex="-1">
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=path!("/") view=HomePage ssr=ssr.clone()/>
                    <Route path=path!("/login") view=LoginPage ssr=ssr.clone()/>
                    <Route path=path!("/register") view=RegisterPage ssr=ssr.clone()/>
                    <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=ssr.clone()/>
                    <Route path=path!("/reset-password") view=ResetPasswordPage ssr=ssr.clone()/>
                    <Route path=path!("/verify-email") view=VerifyEmailPage ssr=ssr.clone()/>
                    <Route path=path!("/profile") view=ProfilePage ssr=ssr.clone()/>
                    <Route path=path!("/sessions") view=SessionsPage ssr=ssr.clone()/>
                    <Route path=path!("/activity") view=ActivityPage ssr=ssr.clone()/>
                    <Route path=path!("/admin/users") view=AdminUsersPage ssr=ssr.clone()/>
                    <Route path=path!("/admin/users/:id") view=AdminUserPage ssr=ssr.clone()/>
                    <Route path=path!("/projects") view=ProjectsPage ssr=ssr.clone()/>
                    <Route path=path!("/projects/:id") view=ProjectPage ssr=ssr.clone()/>
                    <Route path=path!("/projects/:id/delete") view=DeleteProjectPage ssr=ssr/>
                </Routes>
            </main>
        </Router>
    }
}
