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

use crate::components::FocusLink;
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
        // A second click while the first is on its way sends nothing.
        if action.pending().get_untracked() {
            return;
        }
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
            aria-busy=move || action.pending().get().then_some("true")
            class=class
            node_ref=form_ref
            on:submit=on_submit
        >
            {children()}
        </form>
    }
}

/// The summary of a form's problems (GOV.UK pattern): announced, focused when it appears, and
/// each field's problem a link to that field. `form` and `fields` (in the form's order) make
/// the links; without them the entries are plain text.
#[component]
pub fn ErrorSummary(
    error: Signal<Option<AppError>>,
    /// The form's id prefix, as given to its `Field`s.
    #[prop(optional)]
    form: &'static str,
    /// The form's field names in the order they appear.
    #[prop(optional)]
    fields: &'static [&'static str],
) -> impl IntoView {
    let summary = NodeRef::<leptos::html::Div>::new();
    // After a failed submission with JavaScript, focus moves to the summary; without it, the
    // re-rendered page asks for the same with `autofocus`.
    Effect::new(move |_| {
        if error.with(Option::is_some) {
            if let Some(summary) = summary.get() {
                let _ = summary.focus();
            }
        }
    });
    move || {
        error.get().map(|err| {
            let mut entries: Vec<(String, String)> = fields
                .iter()
                .filter_map(|name| err.fields.get(*name).map(|m| (name.to_string(), m.clone())))
                .collect();
            for (name, message) in &err.fields {
                if !fields.contains(&name.as_str()) {
                    entries.push((name.clone(), message.clone()));
                }
            }
            // One problem, said the same way as the summary: the summary itself links to it.
            if let [(name, message)] = entries.as_slice() {
                if *message == err.message && !form.is_empty() {
                    let target = format!("{form}-{name}");
                    let message = message.clone();
                    return view! {
                        <div role="alert" class="error-summary" tabindex="-1" autofocus=true node_ref=summary>
                            <p><FocusLink target>{message}</FocusLink></p>
                        </div>
                    }
                    .into_any();
                }
            }
            let items = entries
                .into_iter()
                .map(|(name, message)| {
                    if form.is_empty() {
                        view! { <li>{message}</li> }.into_any()
                    } else {
                        let target = format!("{form}-{name}");
                        view! { <li><FocusLink target>{message}</FocusLink></li> }.into_any()
                    }
                })
                .collect_view();
            view! {
                <div role="alert" class="error-summary" tabindex="-1" autofocus=true node_ref=summary>
                    <p>{err.message.clone()}</p>
                    <ul>{items}</ul>
                </div>
            }
            .into_any()
        })
    }
}

/// A submit button that shows its form is on its way (`aria-busy`, disabled) and so cannot be
/// pressed twice.
#[component]
pub fn SubmitButton(
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional)] class: &'static str,
    /// Accessible name when the visible text is not enough (e.g. the item it acts on).
    #[prop(optional, into)]
    label: Option<String>,
    #[prop(optional)] name: Option<&'static str>,
    #[prop(optional, into)] value: Option<String>,
    children: Children,
) -> impl IntoView {
    view! {
        <button
            type="submit"
            class=(!class.is_empty()).then_some(class)
            aria-label=label
            name=name
            value=value
            disabled=move || pending.get()
            aria-busy=move || pending.get().then_some("true")
        >
            {children()}
        </button>
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
    /// Help shown under the label and read with the field.
    #[prop(optional)]
    hint: Option<&'static str>,
) -> impl IntoView {
    let id = format!("{form}-{name}");
    let message_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
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
        let (message_id, hint_id) = (message_id.clone(), hint_id.clone());
        move || {
            let ids: Vec<&str> = [
                hint.map(|_| hint_id.as_str()),
                message().map(|_| message_id.as_str()),
            ]
            .into_iter()
            .flatten()
            .collect();
            (!ids.is_empty()).then(|| ids.join(" "))
        }
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
            {hint.map(|text| view! { <p class="hint" id=hint_id>{text}</p> })}
            {control}
            {move || message().map(|m| view! { <p class="field-error" id=message_id.clone()>{m}</p> })}
        </div>
    }
}
