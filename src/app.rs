//! The HTML shell and the router: which page answers which path.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::components::form::WithPageAddress;
use crate::components::nav::Nav;
use crate::pages::{
    activity::ActivityPage, admin_apps::AdminAppsPage, admin_user::AdminUserPage,
    admin_users::AdminUsersPage, apps::AppsPage, consent::ConsentPage,
    forgot_password::ForgotPasswordPage, home::HomePage, login::LoginPage,
    login_verify::LoginVerifyPage, not_found::NotFound, profile::ProfilePage, project::ProjectPage,
    project_delete::DeleteProjectPage, projects::ProjectsPage, register::RegisterPage,
    reset_password::ResetPasswordPage, security::SecurityPage, sessions::SessionsPage,
    verify_email::VerifyEmailPage,
};

/// The page around every route, for Leptos's error and file handler (which passes the options
/// by value).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    page_shell(&options)
}

/// The page around every route. Borrows the options: the router calls this for every page,
/// and a copy of the options is a dozen reference counts.
pub fn page_shell(options: &LeptosOptions) -> impl IntoView {
    // Nothing on the page is hydrated (the browser's wasm is `enhance`): Leptos need not write
    // the resources' data into the page for it.
    if let Some(context) = Owner::current_shared_context() {
        context.set_is_hydrating(false);
    }
    let nonce = content_security_policy(options);
    let files = built_files(options);
    let start = format!(
        "import init, {{ hydrate }} from '{}'; init({{ module_or_path: '{}' }}).then(hydrate);",
        files.js, files.wasm
    );
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="description" content=DESCRIPTION/>
                {watching().then(|| view! { <AutoReload options=options.clone()/> })}
                <link rel="modulepreload" href=files.js.as_str()/>
                <link rel="preload" href=files.wasm.as_str() r#as="fetch" type="application/wasm" crossorigin="anonymous"/>
                <script type="module" nonce=nonce>{start}</script>
                <link rel="stylesheet" id="leptos" href=files.css.as_str()/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// What search engines and link previews say of every page.
pub const DESCRIPTION: &str =
    "Gatehouse: a self-hosted account service. Register, log in, and manage your profile, \
     sessions and projects.";

/// Whether `cargo leptos watch` runs the server (its live-reload script is then allowed).
fn watching() -> bool {
    static WATCHING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WATCHING.get_or_init(|| std::env::var("LEPTOS_WATCH").is_ok())
}

/// The addresses of the built script, wasm and stylesheet.
struct BuiltFiles {
    js: String,
    wasm: String,
    css: String,
}

/// Named as Leptos names them: with the content hashes of `hash.txt` (beside the executable)
/// in release builds (`make release`). Read once: Leptos's own `HydrationScripts` and
/// `HashedStylesheet` read the file on every page, a tenth of a member page's time.
fn built_files(options: &LeptosOptions) -> &'static BuiltFiles {
    static FILES: std::sync::OnceLock<BuiltFiles> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let hashes = if options.hash_files {
            std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(|dir| dir.join(options.hash_file.as_ref())))
                .and_then(|path| std::fs::read_to_string(path).ok())
                .unwrap_or_default()
        } else {
            String::new()
        };
        let hash = |kind: &str| {
            hashes
                .lines()
                .filter_map(|line| line.trim().split_once(':'))
                .find(|(file, _)| file.trim() == kind)
                .map(|(_, hash)| format!(".{}", hash.trim()))
                .unwrap_or_default()
        };
        // Without hashes (`cargo leptos build`), wasm-bindgen's own name unless cargo-leptos
        // named the output when this was compiled.
        let bg = if !options.hash_files && option_env!("LEPTOS_OUTPUT_NAME").is_none() {
            "_bg"
        } else {
            ""
        };
        let base = format!("/{}/{}", options.site_pkg_dir, options.output_name);
        BuiltFiles {
            js: format!("{base}{}.js", hash("js")),
            wasm: format!("{base}{}{bg}.wasm", hash("wasm")),
            css: format!("{base}{}.css", hash("css")),
        }
    })
}

/// A fresh nonce per response admits the start-up script and nothing else inline.
fn content_security_policy(options: &LeptosOptions) -> Option<String> {
    use http::header::CONTENT_SECURITY_POLICY;
    use http::HeaderValue;
    leptos::nonce::provide_nonce();
    let nonce = leptos::nonce::use_nonce()?;
    let response = use_context::<leptos_axum::ResponseOptions>()?;
    let policy =
        crate::server::http::guards::page_csp(&nonce, watching().then_some(options.reload_port));
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
    Some(nonce.to_string())
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
            <WithPageAddress>
                <Nav/>
                <main id="main" tabindex="-1">
                    <Routes fallback=|| view! { <NotFound/> }>
                        <Route path=path!("/") view=HomePage ssr=ssr.clone()/>
                        <Route path=path!("/login") view=LoginPage ssr=ssr.clone()/>
                        <Route path=path!("/login/verify") view=LoginVerifyPage ssr=ssr.clone()/>
                        <Route path=path!("/register") view=RegisterPage ssr=ssr.clone()/>
                        <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=ssr.clone()/>
                        <Route path=path!("/reset-password") view=ResetPasswordPage ssr=ssr.clone()/>
                        <Route path=path!("/verify-email") view=VerifyEmailPage ssr=ssr.clone()/>
                        <Route path=path!("/profile") view=ProfilePage ssr=ssr.clone()/>
                        <Route path=path!("/sessions") view=SessionsPage ssr=ssr.clone()/>
                        <Route path=path!("/security") view=SecurityPage ssr=ssr.clone()/>
                        <Route path=path!("/activity") view=ActivityPage ssr=ssr.clone()/>
                        <Route path=path!("/apps") view=AppsPage ssr=ssr.clone()/>
                        <Route path=path!("/consent") view=ConsentPage ssr=ssr.clone()/>
                        <Route path=path!("/admin/apps") view=AdminAppsPage ssr=ssr.clone()/>
                        <Route path=path!("/admin/users") view=AdminUsersPage ssr=ssr.clone()/>
                        <Route path=path!("/admin/users/:id") view=AdminUserPage ssr=ssr.clone()/>
                        <Route path=path!("/projects") view=ProjectsPage ssr=ssr.clone()/>
                        <Route path=path!("/projects/:id") view=ProjectPage ssr=ssr.clone()/>
                        <Route path=path!("/projects/:id/delete") view=DeleteProjectPage ssr=ssr/>
                    </Routes>
                </main>
            </WithPageAddress>
        </Router>
    }
}
