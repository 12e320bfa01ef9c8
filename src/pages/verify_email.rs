use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::form::{form_error, ErrorSummary, FormAction, PageField};
use crate::domain::AppError;

#[server(endpoint = "confirm_email")]
pub async fn confirm_email(token: String) -> Result<(), AppError> {
    use crate::server::accounts::email_links::{self, Confirmed};
    use crate::server::http::context;
    let state = context::state()?;
    let done = match email_links::confirm(&state, &token).await? {
        Confirmed::Verified => "verified",
        Confirmed::EmailChanged(_) => "changed",
    };
    leptos_axum::redirect(&format!("/verify-email?done={done}"));
    Ok(())
}

/// Confirms an address from an emailed link. Opening the link spends nothing (mail scanners
/// fetch links); the button does.
#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let action = FormAction::<ConfirmEmail>::new();
    let error = form_error(action);
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let done = move || query.read().get("done");
    view! {
        <Title text="Confirm your email address"/>
        <section class="card narrow">
            {move || match done().as_deref() {
                Some("verified") => {
                    view! {
                        <h1>"Email address confirmed"</h1>
                        <p role="status">"Thank you: your email address is confirmed."</p>
                        <p><a href="/profile">"Go to your profile"</a></p>
                    }
                        .into_any()
                }
                Some("changed") => {
                    view! {
                        <h1>"Email address confirmed"</h1>
                        <p role="status">
                            "Your new email address is confirmed and is now the address of your account."
                        </p>
                        <p><a href="/profile">"Go to your profile"</a></p>
                    }
                        .into_any()
                }
                _ => {
                    view! {
                        <h1>"Confirm your email address"</h1>
                        <ErrorSummary error/>
                        <form action=action.url() method="post">
                            <PageField/>
                            <input type="hidden" name="token" value=token/>
                            <button type="submit">
                                "Confirm email address"
                            </button>
                        </form>
                        <p class="hint">
                            "Link expired or already used? Ask for a new one from your profile, or "
                            <a href="/forgot-password">"reset your password"</a>
                            "."
                        </p>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}
