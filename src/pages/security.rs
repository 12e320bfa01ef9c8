//! `/security` (SPEC §7): the authenticator app and the recovery codes. Changes that weaken
//! the account ask for the current password.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::components::form::{
    form_error, ErrorSummary, Field, FormAction, PageField, PasswordField, SubmitButton,
    ValidatedForm,
};
use crate::components::status::Loaded;
use crate::domain::AppError;

/// What the page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecurityPage {
    pub passkeys: Vec<crate::server::accounts::passkeys::PasskeyView>,
    /// Why this site cannot offer passkeys (its address is an IP address), if it cannot.
    pub passkeys_unavailable: Option<String>,
    pub app_on: bool,
    /// A passkey or the app: recovery codes exist.
    pub has_factor: bool,
    /// An app set-up waiting for its first code: the setup key and the QR code (SVG).
    pub setup: Option<(String, String)>,
    pub codes_left: i64,
    /// New recovery codes, shown this once.
    pub new_codes: Option<Vec<String>>,
}

#[server(endpoint = "security")]
pub async fn load_security() -> Result<SecurityPage, AppError> {
    use crate::server::{accounts::two_step, http::context};
    let caller = context::current_user()?;
    let state = context::state()?;
    let status = two_step::status(&state, caller.user_id).await?;
    let setup = if status.app_on {
        None
    } else {
        two_step::app_setup(&state, &caller)
            .await?
            .map(|setup| (setup.setup_key, setup.qr_svg))
    };
    Ok(SecurityPage {
        passkeys: crate::server::accounts::passkeys::list(&state, caller.user_id).await?,
        passkeys_unavailable: state.passkeys.unavailable().map(str::to_string),
        app_on: status.app_on,
        has_factor: status.has_second_factor(),
        setup,
        codes_left: status.codes_left,
        new_codes: two_step::take_new_codes(&state, &caller).await?,
    })
}

#[server(endpoint = "set_up_app")]
pub async fn set_up_app() -> Result<(), AppError> {
    use crate::server::{accounts::two_step, http::context};
    let caller = context::current_user()?;
    two_step::begin_app_setup(&context::state()?, &caller).await?;
    leptos_axum::redirect("/security#app");
    Ok(())
}

#[server(endpoint = "turn_on_app")]
pub async fn turn_on_app(code: String) -> Result<(), AppError> {
    use crate::server::{accounts::two_step, http::context};
    let caller = context::current_user()?;
    two_step::turn_on_app(&context::state()?, &caller, &context::client()?, &code).await?;
    leptos_axum::redirect("/security?saved=app-on");
    Ok(())
}

#[server(endpoint = "turn_off_app")]
pub async fn turn_off_app(current_password: String) -> Result<(), AppError> {
    use crate::server::{accounts::two_step, http::context};
    let caller = context::current_user()?;
    let state = context::state()?;
    two_step::turn_off_app(&state, &caller, &context::client()?, &current_password).await?;
    leptos_axum::redirect("/security?saved=app-off");
    Ok(())
}

#[server(endpoint = "remove_passkey")]
pub async fn remove_passkey(id: String, current_password: String) -> Result<(), AppError> {
    use crate::server::{accounts::passkeys, http::context};
    let caller = context::current_user()?;
    let state = context::state()?;
    passkeys::remove(&state, &caller, &context::client()?, &id, &current_password).await?;
    leptos_axum::redirect("/security?saved=passkey-removed");
    Ok(())
}

#[server(endpoint = "rename_passkey")]
pub async fn rename_passkey(id: String, name: String) -> Result<(), AppError> {
    use crate::server::{accounts::passkeys, http::context};
    let caller = context::current_user()?;
    passkeys::rename(&context::state()?, &caller, &id, &name).await?;
    leptos_axum::redirect("/security?saved=passkey-renamed");
    Ok(())
}

#[server(endpoint = "new_recovery_codes")]
pub async fn new_recovery_codes(current_password: String) -> Result<(), AppError> {
    use crate::server::{accounts::two_step, http::context};
    let caller = context::current_user()?;
    let state = context::state()?;
    two_step::regenerate_codes(&state, &caller, &context::client()?, &current_password).await?;
    leptos_axum::redirect("/security?saved=codes");
    Ok(())
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    let query = use_query_map();
    let notice = query
        .read_untracked()
        .get("saved")
        .and_then(|saved| match saved.as_str() {
            "app-on" => Some("Your authenticator app is on. Logins now ask for a code from it."),
            "app-off" => Some("Your authenticator app is off."),
            "codes" => Some("New recovery codes were made. The old ones no longer work."),
            "passkey" => Some("Your passkey was added. You can now log in with it."),
            "passkey-removed" => Some("The passkey was removed."),
            "passkey-renamed" => Some("The passkey was renamed."),
            _ => None,
        });
    crate::components::provide_now();
    let page = Resource::new(|| (), |_| load_security());
    view! {
        <Title text="Security"/>
        <h1>"Security"</h1>
        {notice.map(|text| view! { <p role="status" class="notice">{text}</p> })}
        <Loaded
            resource=page
            ready={move |page: SecurityPage| {
                view! {
                    <PasskeysSection page=page.clone()/>
                    <AppSection page=page.clone()/>
                    <RecoveryCodesSection page/>
                }
            }}
        />
    }
}

#[component]
fn PasskeysSection(page: SecurityPage) -> impl IntoView {
    use crate::components::{human_time, Ago};
    let remove = FormAction::<RemovePasskey>::new();
    let error = form_error(remove);
    let rename = FormAction::<RenamePasskey>::new();
    let rename_error = form_error(rename);
    let list = (!page.passkeys.is_empty()).then(|| {
        view! {
            <ErrorSummary error=rename_error/>
            <ul class="passkeys">
                {page.passkeys.into_iter().map(|passkey| {
                    let name_id = format!("passkey-{}", passkey.id);
                    let field_id = format!("passkey-name-{}", passkey.id);
                    view! {
                        <li>
                            <strong id=name_id.clone()>{passkey.name.clone()}</strong>
                            <span>" · added "{human_time(&passkey.created_at)}</span>
                            <span>{match passkey.last_used_at {
                                Some(at) => view! { " · last used " <Ago at/> }.into_any(),
                                None => view! { " · not used yet" }.into_any(),
                            }}</span>
                            " "
                            <button type="submit" form="remove-passkey" class="quiet" name="id" value=passkey.id.clone() aria-describedby=name_id.clone()>"Remove"</button>
                            <form action=rename.url() method="post" class="inline-form rename-passkey">
                                <PageField/>
                                <input type="hidden" name="id" value=passkey.id/>
                                <label for=field_id.clone()>"Passkey name"</label>
                                <input id=field_id type="text" name="name" value=passkey.name maxlength="64" autocomplete="off" required=true/>
                                <button type="submit" class="quiet" aria-describedby=name_id>"Rename"</button>
                            </form>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <form id="remove-passkey" action=remove.url() method="post" novalidate=true aria-label="Remove a passkey">
                <PageField/>
                <ErrorSummary error form="passkeys" fields=&["current_password"]/>
                <PasswordField label="Current password" name="current_password" form="passkeys" autocomplete="current-password" error/>
                <p class="hint">"Removing a passkey asks for your current password: choose \"Remove\" beside it."</p>
            </form>
        }
    });
    let add = match page.passkeys_unavailable {
        Some(why_not) => view! { <p>{why_not}</p> }.into_any(),
        None => view! {
            <p>
                <button type="button" data-passkey="add">"Add a passkey"</button>
            </p>
            <noscript><p>"Passkeys need JavaScript: turn it on to add or use one."</p></noscript>
            <p role="alert" class="error-summary" data-passkey-status="" hidden=true></p>
        }
        .into_any(),
    };
    view! {
        <section id="passkeys" aria-labelledby="passkeys-title">
            <h2 id="passkeys-title">"Passkeys"</h2>
            <p>"A passkey logs you in with your device's screen lock (fingerprint, face or PIN) instead of a password, and cannot be phished."</p>
            {list}
            {add}
        </section>
    }
}

#[component]
fn AppSection(page: SecurityPage) -> impl IntoView {
    let set_up = FormAction::<SetUpApp>::new();
    let turn_on = FormAction::<TurnOnApp>::new();
    let turn_off = FormAction::<TurnOffApp>::new();
    let set_up_error = form_error(set_up);
    let turn_on_error = form_error(turn_on);
    let turn_off_error = form_error(turn_off);
    let body = if page.app_on {
        view! {
            <p class="factor-state"><strong>"On"</strong>" — logins ask for a code from your app."</p>
            <ValidatedForm action=turn_off label="Turn off authenticator app">
                <ErrorSummary error=turn_off_error form="app-off" fields=&["current_password"]/>
                <PasswordField label="Current password" name="current_password" form="app-off" autocomplete="current-password" error=turn_off_error/>
                <SubmitButton class="danger">"Turn off"</SubmitButton>
            </ValidatedForm>
        }
        .into_any()
    } else if let Some((key, qr)) = page.setup {
        view! {
            <p>"Scan this QR code with your authenticator app, or type the setup key into it. Then enter the 6-digit code the app shows."</p>
            <div class="qr-code" inner_html=qr></div>
            <p class="setup-key">
                <span id="setup-key-label">"Setup key"</span>" "
                <code aria-label="Setup key" aria-describedby="setup-key-label">{key}</code>
            </p>
            <ValidatedForm action=turn_on label="Turn on authenticator app">
                <ErrorSummary error=turn_on_error form="app-on" fields=&["code"]/>
                <Field label="Code" name="code" form="app-on" autocomplete="one-time-code" error=turn_on_error/>
                <SubmitButton>"Turn on"</SubmitButton>
            </ValidatedForm>
        }
        .into_any()
    } else {
        view! {
            <p>"Off. With an authenticator app, a login also asks for a code from your phone, so a stolen password alone is not enough."</p>
            <ErrorSummary error=set_up_error/>
            <form action=set_up.url() method="post">
                <SubmitButton>"Set up authenticator app"</SubmitButton>
            </form>
        }
        .into_any()
    };
    view! {
        <section id="app" aria-labelledby="app-title">
            <h2 id="app-title">"Authenticator app"</h2>
            {body}
        </section>
    }
}

#[component]
fn RecoveryCodesSection(page: SecurityPage) -> impl IntoView {
    let regenerate = FormAction::<NewRecoveryCodes>::new();
    let error = form_error(regenerate);
    let fresh = page.new_codes.map(|codes| {
        view! {
            <div class="new-codes" role="status">
                <p><strong>"Save these recovery codes now: they are shown only this once."</strong>
                " Each works once, in place of your passkey or app code, if you lose your device."</p>
                <ul aria-label="Recovery codes" class="recovery-codes">
                    {codes.into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view()}
                </ul>
            </div>
        }
    });
    let body = if page.has_factor {
        let left = match page.codes_left {
            1 => "1 recovery code left".to_string(),
            n => format!("{n} recovery codes left"),
        };
        view! {
            <p>{left}</p>
            <ValidatedForm action=regenerate label="Generate new recovery codes">
                <ErrorSummary error form="codes" fields=&["current_password"]/>
                <PasswordField label="Current password" name="current_password" form="codes" autocomplete="current-password" error/>
                <SubmitButton class="secondary">"Generate new recovery codes"</SubmitButton>
            </ValidatedForm>
        }
        .into_any()
    } else {
        view! {
            <p>"You get 10 single-use recovery codes when you turn on a second factor. They let you log in if you lose it."</p>
        }
        .into_any()
    };
    view! {
        <section id="recovery-codes" aria-labelledby="codes-title">
            <h2 id="codes-title">"Recovery codes"</h2>
            {fresh}
            {body}
        </section>
    }
}
