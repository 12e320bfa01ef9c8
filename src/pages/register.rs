use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::form::{
    form_error, ErrorSummary, Field, FormAction, PasswordField, ValidatedForm,
};
use crate::domain::{AppError, CHECK_INBOX};

#[server(endpoint = "register")]
pub async fn register(
    email: String,
    username: String,
    password: String,
    confirm_password: String,
) -> Result<(), AppError> {
    use crate::server::{accounts::register, http::context};
    let state = context::state()?;
    let issued = register::register_and_log_in(
        &state,
        register::Registration {
            email: &email,
            username: Some(&username),
            password: &password,
            confirm_password: Some(&confirm_password),
        },
        &context::client()?,
    )
    .await
    .map_err(|err| err.with_values([("email", email.as_str()), ("username", username.as_str())]))?;
    let Some(issued) = issued else {
        leptos_axum::redirect("/register?sent=1");
        return Ok(());
    };
    context::end_previous_session(&state).await?;
    state.cookies.set(&context::cookie_jar()?, &issued);
    leptos_axum::redirect("/profile");
    Ok(())
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let action = FormAction::<Register>::new();
    let error = form_error(action);
    let query = use_query_map();
    let check_inbox = move || query.read().get("sent").is_some();
    view! {
        <Title text="Create an account"/>
        <section class="card narrow">
            <h1>"Create an account"</h1>
            <Show when=check_inbox>
                <p role="status" class="notice">
                    {CHECK_INBOX}
                </p>
            </Show>
            <ValidatedForm action label="Create an account">
                <ErrorSummary error form="register" fields=&["email", "username", "password", "confirm_password"]/>
                <Field label="Email" name="email" form="register" input_type="email" autocomplete="email" error/>
                <Field label="Username" name="username" form="register" autocomplete="username" error/>
                <Field
                    label="Password"
                    name="password"
                    form="register"
                    input_type="password"
                    autocomplete="new-password"
                    hint="At least 8 characters. A few unrelated words make a strong, memorable password."
                    error
                />
                <PasswordField label="Confirm password" name="confirm_password" form="register" autocomplete="new-password" error/>
                <button type="submit">"Create account"</button>
            </ValidatedForm>
            <p>"Already have an account? " <a href="/login">"Log in"</a></p>
        </section>
    }
}
