use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::form::{
    form_error, ErrorSummary, Field, FormAction, PasswordField, ValidatedForm,
};
use crate::domain::AppError;

#[server(endpoint = "login")]
pub async fn log_in(
    email: String,
    password: String,
    remember: Option<String>,
    next: Option<String>,
) -> Result<(), AppError> {
    use crate::domain::safe_next;
    use crate::server::accounts::login::{self, Credentials};
    use crate::server::http::context;
    let state = context::state()?;
    let jar = context::cookie_jar()?;
    let device_token = state.cookies.device_token(&jar);
    let credentials = Credentials {
        email: &email,
        password: &password,
        remember: remember.is_some(),
        device_token: device_token.as_deref(),
    };
    let outcome = login::log_in(&state, credentials, &context::client()?)
        .await
        .map_err(|err| err.with_values([("email", email.as_str())]))?;
    let logged_in = match outcome {
        login::Outcome::LoggedIn(logged_in) => logged_in,
        login::Outcome::SecondStep(step) => {
            use crate::server::accounts::two_step::PENDING_SECS;
            state
                .cookies
                .set_pending_login(&jar, step.token, PENDING_SECS);
            let next = safe_next(next.as_deref());
            let verify = if next == "/profile" {
                "/login/verify".to_string()
            } else {
                let query = serde_urlencoded::to_string([("next", next.as_str())])
                    .map_err(AppError::internal_from)?;
                format!("/login/verify?{query}")
            };
            leptos_axum::redirect(&verify);
            return Ok(());
        }
    };
    context::end_previous_session(&state).await?;
    state
        .cookies
        .set_login(&jar, &logged_in.tokens, logged_in.device_token);
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = FormAction::<LogIn>::new();
    let error = form_error(action);
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let was_reset = move || query.read().get("reset").as_deref() == Some("done");
    // Logging in for an app: the answer leads back to it.
    let for_app = next().starts_with("/oauth/");
    view! {
        <Title text="Log in"/>
        <section class="card narrow">
            <h1>"Log in"</h1>
            <Show when=was_reset>
                <p role="status" class="notice">
                    "Your password has been changed. Log in with your new password."
                </p>
            </Show>
            <ValidatedForm action label="Log in" native=for_app>
                <ErrorSummary error form="login" fields=&["email", "password"]/>
                <input type="hidden" name="next" value=next/>
                <Field label="Email" name="email" form="login" input_type="email" autocomplete="username webauthn" error/>
                <PasswordField label="Password" name="password" form="login" autocomplete="current-password" error/>
                <div class="checkbox">
                    <input type="checkbox" id="login-remember" name="remember" value="on"/>
                    <label for="login-remember">"Remember me"</label>
                </div>
                <button type="submit">"Log in"</button>
            </ValidatedForm>
            <PasskeyLogin/>
            <p><a href="/forgot-password">"Forgot your password?"</a></p>
            <p>"New here? " <a href="/register">"Create an account"</a></p>
        </section>
    }
}

/// "Log in with a passkey": the browser's passkey dialog (JavaScript), for any passkey of this
/// site; no email or password typed.
#[component]
fn PasskeyLogin() -> impl IntoView {
    let available = crate::server::http::context::state()
        .map(|state| state.passkeys.unavailable().is_none())
        .unwrap_or(false);
    available.then(|| {
        view! {
            <div class="passkey-login">
                <button type="button" class="secondary" data-passkey="login">"Log in with a passkey"</button>
                <noscript><p>"Logging in with a passkey needs JavaScript."</p></noscript>
                <p role="alert" class="error-summary" data-passkey-status="" hidden=true></p>
            </div>
        }
    })
}
