use std::sync::Arc;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::form::{
    form_error, ErrorSummary, Field, FormAction, PasswordField, ValidatedForm,
};
use crate::components::human_date;
use crate::components::nav::current_account;
use crate::components::status::LoadError;
use crate::domain::{AppError, UserView};

#[server(endpoint = "update_profile")]
pub async fn update_profile(
    username: String,
    email: String,
    current_password: Option<String>,
) -> Result<(), AppError> {
    use crate::server::{accounts::profile, http::context};
    let user = context::current_user()?;
    let state = context::state()?;
    let updated = profile::update_profile(
        &state,
        &user,
        &context::client()?,
        user.user_id,
        profile::ProfileChanges {
            username: Some(&username),
            email: Some(&email),
            current_password: current_password.as_deref().unwrap_or_default(),
            ..Default::default()
        },
    )
    .await
    .map_err(|err| err.with_values([("username", username.as_str()), ("email", email.as_str())]))?;
    let saved = match updated.confirmation_sent_to {
        Some(_) => "email",
        None => "profile",
    };
    leptos_axum::redirect(&format!("/profile?saved={saved}"));
    Ok(())
}

#[server(endpoint = "resend_confirmation")]
pub async fn resend_confirmation() -> Result<(), AppError> {
    use crate::server::{accounts::email_links, http::context};
    let user = context::current_user()?;
    email_links::resend_verification(&context::state()?, &user, &context::client()?).await?;
    leptos_axum::redirect("/profile?saved=confirmation");
    Ok(())
}

#[server(endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    confirm_new_password: String,
) -> Result<(), AppError> {
    use crate::server::{accounts::profile, http::context};
    let user = context::current_user()?;
    let state = context::state()?;
    profile::change_password(
        &state,
        &user,
        profile::PasswordChange {
            current_password: &current_password,
            new_password: &new_password,
            confirm_new_password: Some(&confirm_new_password),
        },
    )
    .await?;
    leptos_axum::redirect("/profile?saved=password");
    Ok(())
}

#[server(endpoint = "delete_account")]
pub async fn delete_account(password: String) -> Result<(), AppError> {
    use crate::server::{accounts::profile, http::context};
    let user = context::current_user()?;
    let state = context::state()?;
    profile::delete_account(&state, &user, &password).await?;
    state.cookies.clear(&context::cookie_jar()?);
    leptos_axum::redirect("/?deleted=1");
    Ok(())
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    let update = FormAction::<UpdateProfile>::new();
    let change = FormAction::<ChangePassword>::new();
    let delete = FormAction::<DeleteAccount>::new();
    let resend = FormAction::<ResendConfirmation>::new();
    let query = use_query_map();
    let notice = move || {
        query
            .read()
            .get("saved")
            .and_then(|saved| match saved.as_str() {
                "profile" => Some("Your profile has been saved."),
                "password" => Some(
                    "Your password has been changed. Your other sessions have been logged out.",
                ),
                "email" => Some(
                    "A confirmation link was sent to the new address. Your account keeps its current email address until you use it.",
                ),
                "confirmation" => Some("A new confirmation link is on its way to your inbox."),
                _ => None,
            })
    };
    view! {
        <Title text="Your profile"/>
        <h1>"Your profile"</h1>
        {move || notice().map(|text| view! { <p role="status" class="notice">{text}</p> })}
        // The account as this request's session check read it: no second query.
        {match current_account() {
            Some(user) => view! {
                <VerificationNotice user=user.clone() action=resend/>
                <ProfileDetails user=user.clone()/>
                <ProfileForm user=user.clone() action=update/>
                <PasswordForm user action=change/>
                <DeleteAccountForm action=delete/>
            }
            .into_any(),
            None => view! { <LoadError error=AppError::unauthenticated()/> }.into_any(),
        }}
    }
}

/// Until the address is confirmed: a reminder and a way to get a new link.
#[component]
fn VerificationNotice(
    user: Arc<UserView>,
    action: FormAction<ResendConfirmation>,
) -> impl IntoView {
    let error = form_error(action);
    (!user.email_verified).then(|| {
        view! {
            <section class="notice" aria-labelledby="verify-title">
                <h2 id="verify-title">"Confirm your email address"</h2>
                <p>"We sent you a link by email. Open it to confirm that the address is yours."</p>
                <ErrorSummary error/>
                <form action=action.url() method="post">
                    <button type="submit">
                        "Resend confirmation email"
                    </button>
                </form>
            </section>
        }
    })
}

#[component]
fn ProfileDetails(user: Arc<UserView>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="details-title">
            <h2 id="details-title">"Account"</h2>
            <dl class="details">
                <dt>"Email"</dt>
                <dd>
                    <span data-testid="profile-email">{user.email.clone()}</span>
                    " "
                    {if user.email_verified {
                        view! { <span class="badge verified">"Verified"</span> }.into_any()
                    } else {
                        view! { <span class="badge unverified">"Not verified"</span> }.into_any()
                    }}
                </dd>
                <dt>"Username"</dt>
                <dd data-testid="profile-username">{user.username.clone()}</dd>
                <dt>"Role"</dt>
                <dd>{user.role.as_str()}</dd>
                <dt>"Member since"</dt>
                <dd>{human_date(&user.created_at)}</dd>
            </dl>
        </section>
    }
}

#[component]
fn ProfileForm(user: Arc<UserView>, action: FormAction<UpdateProfile>) -> impl IntoView {
    let error = form_error(action);
    let saved_email = user.email.trim().to_lowercase();
    // Changing the email asks for the current password; nothing else does. The field is in
    // the page from the start, hidden until the email typed differs (`enhance` shows it as the
    // person types; without JavaScript the server asks for it).
    let asked = error
        .get_untracked()
        .is_some_and(|e| e.fields.contains_key("current_password"));
    let typed_email = error
        .get_untracked()
        .and_then(|e| e.values.get("email").cloned())
        .unwrap_or_else(|| user.email.clone());
    let email_changes = asked || typed_email.trim().to_lowercase() != saved_email;
    view! {
        <section class="card" aria-labelledby="edit-title">
            <h2 id="edit-title">"Edit profile"</h2>
            <ValidatedForm action label="Edit profile">
                <ErrorSummary error form="profile" fields=&["username", "email", "current_password"]/>
                <Field
                    label="Username"
                    name="username"
                    form="profile"
                    autocomplete="username"
                    value=user.username.clone()
                    error
                />
                <Field
                    label="Email"
                    name="email"
                    form="profile"
                    input_type="email"
                    autocomplete="email"
                    value=user.email.clone()
                    error
                />
                <div data-reveal-for="profile-email" data-saved=saved_email data-asked=asked hidden=!email_changes>
                    <PasswordField label="Current password" name="current_password" form="profile" autocomplete="current-password" error/>
                    <p class="hint">"Changing your email needs your current password."</p>
                </div>
                <button type="submit">"Save changes"</button>
            </ValidatedForm>
        </section>
    }
}

#[component]
fn PasswordForm(user: Arc<UserView>, action: FormAction<ChangePassword>) -> impl IntoView {
    let error = form_error(action);
    view! {
        <section class="card" aria-labelledby="password-title">
            <h2 id="password-title">"Change password"</h2>
            <ValidatedForm action label="Change password" password_context=format!("{} {}", user.email, user.username)>
                <ErrorSummary error form="password" fields=&["current_password", "new_password", "confirm_new_password"]/>
                <PasswordField label="Current password" name="current_password" form="password" autocomplete="current-password" error/>
                <PasswordField label="New password" name="new_password" form="password" autocomplete="new-password" error/>
                <PasswordField label="Confirm new password" name="confirm_new_password" form="password" autocomplete="new-password" error/>
                <p class="hint">"Changing your password logs out all your other sessions."</p>
                <button type="submit">"Change password"</button>
            </ValidatedForm>
        </section>
    }
}

#[component]
fn DeleteAccountForm(action: FormAction<DeleteAccount>) -> impl IntoView {
    let error = form_error(action);
    view! {
        <section class="card danger" aria-labelledby="delete-title">
            <h2 id="delete-title">"Delete account"</h2>
            <p>"This deletes your account, your sessions and all your projects. It cannot be undone."</p>
            <ValidatedForm action label="Delete account">
                <ErrorSummary error form="delete" fields=&["password"]/>
                <PasswordField label="Password" name="password" form="delete" autocomplete="current-password" error/>
                <button type="submit" class="danger">
                    "Delete account"
                </button>
            </ValidatedForm>
        </section>
    }
}
