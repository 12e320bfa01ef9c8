//! Forms that work as plain HTML posts without JavaScript and, after hydration, check their
//! fields with the shared Rust rules before sending and submit without a page reload.

use leptos::html::Form;
use leptos::prelude::*;
use leptos::server_fn::client::Client;
use leptos::server_fn::codec::PostUrl;
use leptos::server_fn::request::ClientReq;
use leptos::server_fn::{Http, ServerFn};
use leptos::web_sys::{FormData, SubmitEvent};
use serde::de::DeserializeOwned;

use crate::domain::AppError;

/// What a form shows: the browser's own check if it failed, else the server's last answer
/// (which, after a plain post without JavaScript, arrives through the URL).
pub fn form_error<S>(
    action: ServerAction<S>,
    local: RwSignal<Option<AppError>>,
) -> Signal<Option<AppError>>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Signal::derive(move || {
        local
            .get()
            .or_else(|| action.value().get().and_then(Result::err))
    })
}

#[component]
pub fn ValidatedForm<ServFn, OutputProtocol>(
    action: ServerAction<ServFn>,
    /// Set when the browser-side check fails; cleared when it passes.
    local_error: RwSignal<Option<AppError>>,
    /// The same rules the server applies, run before sending.
    #[prop(optional)]
    check: Option<Callback<ServFn, Option<AppError>>>,
    /// Accessible name, which also gives the form the `form` role.
    #[prop(into)]
    label: String,
    /// Empty the fields after a successful submission (password forms).
    #[prop(optional)]
    reset_on_success: bool,
    #[prop(optional, into)] class: Option<String>,
    children: Children,
) -> impl IntoView
where
    ServFn: DeserializeOwned
        + ServerFn<Protocol = Http<PostUrl, OutputProtocol>>
        + Clone
        + Send
        + Sync
        + 'static,
    <<ServFn::Client as Client<ServFn::Error>>::Request as ClientReq<ServFn::Error>>::FormData:
        From<FormData>,
    ServFn::Output: Send + Sync + 'static,
    <ServFn as ServerFn>::Client: Client<<ServFn as ServerFn>::Error>,
{
    let form_ref = NodeRef::<Form>::new();
    if reset_on_success {
        Effect::new(move |_| {
            if action.value().with(|v| matches!(v, Some(Ok(_)))) {
                if let Some(form) = form_ref.get_untracked() {
                    form.reset();
                }
            }
        });
    }
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let input = match <ServFn as leptos::form::FromFormData>::from_event(&ev) {
            Ok(input) => input,
            Err(_) => {
                local_error.set(Some(AppError::bad_request(
                    "The form could not be read. Please try again.",
                )));
                return;
            }
        };
        if let Some(problem) = check.and_then(|check| check.run(input.clone())) {
            local_error.set(Some(problem));
            return;
        }
        local_error.set(None);
        action.dispatch(input);
    };
    view! {
        <form
            action=ServFn::url()
            method="post"
            novalidate=true
            aria-label=label
            class=class
            node_ref=form_ref
            on:submit=on_submit
        >
            {children()}
        </form>
    }
}

/// The summary of a form's problems, announced to screen readers.
#[component]
pub fn ErrorSummary(error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error.get().map(|err| {
            let details: Vec<String> = if err.fields.len() > 1 {
                err.fields.values().cloned().collect()
            } else {
                Vec::new()
            };
            view! {
                <div role="alert" class="error-summary">
                    <p>{err.message.clone()}</p>
                    <ul>{details.into_iter().map(|d| view! { <li>{d}</li> }).collect_view()}</ul>
                </div>
            }
        })
    }
}

/// A labelled input with its error message beside it. Typed values come back after an error,
/// except for passwords.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    /// Makes ids unique when two forms on a page share a field name.
    form: &'static str,
    error: Signal<Option<AppError>>,
    #[prop(default = "text")] input_type: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional, into)] value: Signal<String>,
    #[prop(optional)] on_input: Option<Callback<String>>,
    #[prop(optional)] multiline: bool,
) -> impl IntoView {
    let id = format!("{form}-{name}");
    let message_id = format!("{id}-error");
    let message = move || error.get().and_then(|e| e.fields.get(name).cloned());
    let is_secret = input_type == "password";
    let shown_value = move || {
        if is_secret {
            return String::new();
        }
        error
            .get()
            .and_then(|e| e.values.get(name).cloned())
            .unwrap_or_else(|| value.get())
    };
    let invalid = move || message().is_some().to_string();
    let described = {
        let message_id = message_id.clone();
        move || message().map(|_| message_id.clone())
    };
    let handle_input = move |ev: leptos::ev::Event| {
        if let Some(callback) = on_input {
            callback.run(event_target_value(&ev));
        }
    };
    let control = if multiline {
        view! {
            <textarea
                id=id.clone()
                name=name
                rows="3"
                aria-invalid=invalid
                aria-describedby=described
                on:input=handle_input
            >
                {shown_value}
            </textarea>
        }
        .into_any()
    } else {
        view! {
            <input
                id=id.clone()
                name=name
                type=input_type
                autocomplete=autocomplete
                value=shown_value
                aria-invalid=invalid
                aria-describedby=described
                on:input=handle_input
            />
        }
        .into_any()
    };
    view! {
        <div class="field">
            <label for=id>{label}</label>
            {control}
            {move || message().map(|m| view! { <p class="field-error" id=message_id.clone()>{m}</p> })}
        </div>
    }
}
