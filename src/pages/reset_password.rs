use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::form::{
    form_error, ErrorSummary, Field, FormAction, PasswordField, ValidatedForm,
};
use crate::domain::AppError;

#[server(endpoint = "reset_password")]
pub async fn reset_password(
    token: String,
    new_password: String,
    confirm_new_password: String,
) -> Result<(), AppError> {
    use crate::server::{accounts::email_links, http::context};
    let state = context::state()?;
    email_links::reset_password(&state, &token, &new_password, Some(&confirm_new_password)).await?;
    leptos_axum::redirect("/login?reset=done");
    Ok(())
}

/// Chooses a new password from an emailed link. Opening the link spends nothing; the button
/// does.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let action = FormAction::<ResetPassword>::new();
    let error = form_error(action);
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    view! {
        <Title text="Choose a new password"/>
        <section class="card narrow">
            <h1>"Choose a new password"</h1>
            <ValidatedForm action label="Choose a new password">
                <ErrorSummary error form="reset" fields=&["new_password", "confirm_new_password"]/>
                <input type="hidden" name="token" value=token/>
                <Field
                    label="New password"
                    name="new_password"
                    form="reset"
                    input_type="password"
                    autocomplete="new-password"
                    hint="At least 8 characters. A few unrelated words make a strong, memorable password."
                    error
                />
                <PasswordField label="Confirm new password" name="confirm_new_password" form="reset" autocomplete="new-password" error/>
                <button type="submit">"Set new password"</button>
            </ValidatedForm>
            <p>
                "Link expired or already used? "
                <a href="/forgot-password">"Ask for a new reset link"</a>
            </p>
        </section>
    }
}
