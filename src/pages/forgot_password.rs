use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::form::{form_error, ErrorSummary, Field, FormAction, ValidatedForm};
use crate::domain::AppError;

#[server(endpoint = "forgot_password")]
pub async fn forgot_password(email: String) -> Result<(), AppError> {
    use crate::server::{accounts::email_links as account_email, http::context};
    let state = context::state()?;
    let device_token = state.cookies.device_token(&context::cookie_jar()?);
    account_email::request_reset(&state, &email, &context::client()?, device_token)
        .await
        .map_err(|err| err.with_values([("email", email.as_str())]))?;
    leptos_axum::redirect("/forgot-password?sent=1");
    Ok(())
}

/// Asks for a reset link. The answer is the same for every address.
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = FormAction::<ForgotPassword>::new();
    let error = form_error(action);
    let query = use_query_map();
    let sent = move || query.read().get("sent").is_some();
    view! {
        <Title text="Forgot your password?"/>
        <section class="card narrow">
            <Show
                when=sent
                fallback=move || {
                    view! {
                        <h1>"Forgot your password?"</h1>
                        <p>"Enter the email address of your account and we will send you a link to choose a new password."</p>
                        <ValidatedForm action label="Forgot your password">
                            <ErrorSummary error form="forgot" fields=&["email"]/>
                            <Field label="Email" name="email" form="forgot" input_type="email" autocomplete="email" error/>
                            <button type="submit">"Send reset link"</button>
                        </ValidatedForm>
                    }
                }
            >
                <h1>"Check your inbox"</h1>
                <p role="status">
                    "Check your inbox: if an account uses that address, a link to choose a new password is on its way. It works once, for an hour."
                </p>
            </Show>
            <p><a href="/login">"Back to log in"</a></p>
        </section>
    }
}
