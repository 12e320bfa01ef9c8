//! The second step of a login (SPEC §7): an app code or a recovery code for the pending login
//! whose token the `gatehouse_pending` cookie carries.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::form::{form_error, ErrorSummary, Field, FormAction, ValidatedForm};
use crate::components::status::Loaded;
use crate::domain::AppError;

/// The methods the pending login can be finished with; empty when there is none (expired,
/// used, or never started).
#[server(endpoint = "second_step")]
pub async fn second_step() -> Result<Vec<String>, AppError> {
    use crate::server::{accounts::two_step, http::context};
    let state = context::state()?;
    let Some(token) = state.cookies.pending_login(&context::cookie_jar()?) else {
        return Ok(Vec::new());
    };
    Ok(two_step::pending_methods(&state, &token)
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(|method| method.as_str().to_string())
        .collect())
}

#[server(endpoint = "verify_login")]
pub async fn verify_login(code: String, next: Option<String>) -> Result<(), AppError> {
    use crate::domain::safe_next;
    use crate::server::accounts::login;
    use crate::server::http::context;
    let state = context::state()?;
    let jar = context::cookie_jar()?;
    if code.trim().is_empty() {
        return Err(AppError::field(
            "code",
            "Enter the code from your authenticator app or a recovery code.",
        ));
    }
    let Some(token) = state.cookies.pending_login(&jar) else {
        return Err(AppError::new(
            crate::domain::ErrorKind::Unauthenticated,
            "Your login took too long or has already been used. Log in again.",
        ));
    };
    let logged_in = login::finish_second_step(&state, &token, &code, &context::client()?)
        .await
        .inspect_err(|err| {
            // The pending login expired or was used: the cookie is no use any more.
            if err.kind == crate::domain::ErrorKind::Unauthenticated {
                state.cookies.clear_pending_login(&jar);
            }
        })?;
    context::end_previous_session(&state).await?;
    state
        .cookies
        .set_login(&jar, &logged_in.tokens, logged_in.device_token);
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

#[component]
pub fn LoginVerifyPage() -> impl IntoView {
    let action = FormAction::<VerifyLogin>::new();
    let error = form_error(action);
    let query = use_query_map();
    let next = query.read_untracked().get("next").unwrap_or_default();
    let methods = Resource::new(|| (), |_| second_step());
    view! {
        <Title text="Two-step verification"/>
        <section class="card narrow">
            <h1>"Two-step verification"</h1>
            <Loaded
                resource=methods
                ready={move |methods: Vec<String>| {
                    let next = next.clone();
                    let native = next.starts_with("/oauth/");
                    if methods.is_empty() && error.get_untracked().is_none() {
                        return view! {
                            <p role="alert" class="error-summary">
                                "Your login took too long or has already been used. "
                                <a href="/login">"Log in again"</a>
                            </p>
                        }
                        .into_any();
                    }
                    let passkey = methods.iter().any(|m| m == "passkey");
                    let hint = if methods.iter().any(|m| m == "totp") {
                        "Enter the 6-digit code from your authenticator app, or one of your recovery codes."
                    } else if passkey {
                        "Use your passkey, or enter one of your recovery codes."
                    } else {
                        "Enter one of your recovery codes."
                    };
                    view! {
                        <p>{hint}</p>
                        <ValidatedForm action label="Two-step verification" native=native>
                            <ErrorSummary error form="verify" fields=&["code"]/>
                            <input type="hidden" name="next" value=next/>
                            <Field label="Code" name="code" form="verify" autocomplete="one-time-code" autofocus=true error/>
                            <button type="submit">"Verify"</button>
                        </ValidatedForm>
                        {passkey.then(|| view! {
                            <div class="passkey-login">
                                <button type="button" class="secondary" data-passkey="second-step">"Use a passkey"</button>
                                <noscript><p>"Using a passkey needs JavaScript; enter a code instead."</p></noscript>
                                <p role="alert" class="error-summary" data-passkey-status="" hidden=true></p>
                            </div>
                        })}
                        <p><a href="/login">"Start again"</a></p>
                    }
                    .into_any()
                }}
            />
        </section>
    }
}
