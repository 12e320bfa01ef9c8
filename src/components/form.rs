//! Forms as plain HTML posts to server functions. They work without JavaScript; in a browser,
//! `enhance` checks them with the shared Rust rules before sending and sends them without a
//! full reload. Errors come back from the server (through the URL after a plain post); the
//! browser shows the problems it finds with `domain::error_markup`, the markup rendered here
//! (the tests below hold the two to it).

use std::marker::PhantomData;

use leptos::prelude::*;
use leptos::server::ServerActionError;
use leptos::server_fn::error::ServerFnUrlError;
use leptos::server_fn::ServerFn;

use crate::components::FocusLink;
use crate::domain::{AppError, PAGE_FIELD};

/// A page's form that posts to server function `S`: its address and the server's answer to
/// its last submission. Nothing of it runs in a browser, so it is only a name for `S`.
pub struct FormAction<S>(PhantomData<fn() -> S>);

impl<S> Clone for FormAction<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for FormAction<S> {}

impl<S> Default for FormAction<S> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<S: ServerFn<Error = AppError>> FormAction<S> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn url(self) -> &'static str {
        S::url()
    }
}

/// What a form shows: the server's answer to its last submission, if that failed. After a
/// plain post it comes back through the address (`?__path=…&__err=…`, see
/// `server::form_errors`), which Leptos puts in the page's context.
pub fn form_error<S: ServerFn<Error = AppError>>(_: FormAction<S>) -> Signal<Option<AppError>> {
    let error = use_context::<ServerActionError>()
        .filter(|error| error.path() == S::PATH)
        .map(|error| ServerFnUrlError::<AppError>::decode_err(error.err()));
    Signal::stored(error)
}

/// A form that posts to `action`'s server function.
#[component]
pub fn ValidatedForm<ServFn>(
    action: FormAction<ServFn>,
    /// Accessible name, which also gives the form the `form` role.
    #[prop(into)]
    label: String,
    /// The id that takes keyboard focus after a successful submission with JavaScript, when
    /// the page that answers names nothing itself (e.g. the field for the next task).
    #[prop(optional)]
    focus_after: Option<&'static str>,
    /// Words a new password must not be built from, checked in the browser before sending.
    #[prop(optional, into)]
    password_context: Option<String>,
    #[prop(optional, into)] class: Option<String>,
    /// The browser sends the form itself (`data-native`): its answer may lead off the site
    /// (back to an app that asked Gatehouse to log the person in), which a script's request
    /// cannot follow.
    #[prop(optional)]
    native: bool,
    children: Children,
) -> impl IntoView
where
    ServFn: ServerFn<Error = AppError>,
{
    view! {
        <form
            action=action.url()
            method="post"
            novalidate=true
            aria-label=label
            class=class
            data-focus-after=focus_after
            data-password-context=password_context
            data-native=native.then_some("")
        >
            <PageField/>
            {children()}
        </form>
    }
}

/// Names the page the form is on, so a refusal comes back to it even when the browser sends
/// no `Referer` (the token pages forbid one; so may a browser's privacy settings): the server
/// takes it as the form's referrer (`http::form_errors::form_names_its_page`).
#[component]
pub fn PageField() -> impl IntoView {
    let page = use_context::<PageAddress>().map(|page| page.0);
    view! { <input type="hidden" name=PAGE_FIELD value=page/> }
}

/// The address of the page being rendered (path and query), read once while the router is at
/// hand. Parts of a page rendered after its data arrived read it from here: by then a client
/// that went away has taken the request, and the router's context, with it, and asking the
/// router would panic.
#[derive(Clone)]
pub struct PageAddress(pub String);

/// Provides `PageAddress` to everything inside it (the whole app, inside `<Router>`).
#[component]
pub fn WithPageAddress(children: Children) -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let (path, query) = (
        location.pathname.get_untracked(),
        location.search.get_untracked(),
    );
    let page = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    provide_context(PageAddress(page));
    children()
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
    // The page that shows it asks for focus (`autofocus`): the browser gives it on load, and
    // `enhance` after putting the page in place.
    error.get_untracked().map(|err| {
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
                    <div role="alert" class="error-summary" tabindex="-1" autofocus=true>
                        <p><FocusLink target>{message}</FocusLink></p>
                    </div>
                }
                .into_any();
            }
        }
        // A message without field problems is said alone, without an empty list.
        let list = (!entries.is_empty()).then(|| {
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
            view! { <ul>{items}</ul> }
        });
        view! {
            <div role="alert" class="error-summary" tabindex="-1" autofocus=true>
                <p>{err.message.clone()}</p>
                {list}
            </div>
        }
        .into_any()
    })
}

/// A submit button. While its form is on its way, `enhance` marks it busy and disabled, so it
/// cannot be pressed twice.
#[component]
pub fn SubmitButton(
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
        >
            {children()}
        </button>
    }
}

/// A password input: a `Field` that never shows a typed value again.
#[component]
pub fn PasswordField(
    label: &'static str,
    name: &'static str,
    form: &'static str,
    /// `current-password` or `new-password`, so password managers fill the right one.
    autocomplete: &'static str,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    view! { <Field label name form input_type="password" autocomplete error/> }
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
    #[prop(optional, into)] value: String,
    /// Takes keyboard focus when the page is shown (a form opened for editing).
    #[prop(optional)]
    autofocus: bool,
    #[prop(optional)] multiline: bool,
    /// Help shown under the label and read with the field.
    #[prop(optional)]
    hint: Option<&'static str>,
) -> impl IntoView {
    let id = format!("{form}-{name}");
    let message_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    // Pages are rendered once, on the server: read the form's answer once.
    let (message, typed) = error.with_untracked(|error| {
        let error = error.as_ref();
        (
            error.and_then(|e| e.fields.get(name).cloned()),
            error.and_then(|e| e.values.get(name).cloned()),
        )
    });
    let shown_value = match (input_type == "password", typed) {
        (true, _) => String::new(),
        (false, Some(typed)) => typed,
        (false, None) => value,
    };
    let invalid = message.is_some().to_string();
    let described = [
        hint.map(|_| hint_id.as_str()),
        message.as_ref().map(|_| message_id.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let described = (!described.is_empty()).then_some(described);
    let control = if multiline {
        view! {
            <textarea
                id=id.clone()
                name=name
                rows="3"
                aria-invalid=invalid
                aria-describedby=described
                autofocus=autofocus
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
                autofocus=autofocus
            />
        }
        .into_any()
    };
    view! {
        <div class="field">
            <label for=id>{label}</label>
            {hint.map(|text| view! { <p class="hint" id=hint_id>{text}</p> })}
            {control}
            {message.map(|m| view! { <p class="field-error" id=message_id>{m}</p> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use leptos::prelude::*;

    use super::{ErrorSummary, Field};
    use crate::domain::error_markup::{error_summary, field_error, field_error_id, SummaryEntry};
    use crate::domain::{AppError, ErrorKind};

    fn summary_html(
        error: AppError,
        form: &'static str,
        fields: &'static [&'static str],
    ) -> String {
        Owner::new().with(|| {
            let error = Signal::stored(Some(error));
            view! { <ErrorSummary error form fields/> }.to_html()
        })
    }

    fn field_html(error: AppError) -> String {
        Owner::new().with(|| {
            let error = Signal::stored(Some(error));
            view! { <Field label="Email" name="email" form="register" error/> }.to_html()
        })
    }

    fn linked(field_id: &str, message: &str) -> SummaryEntry {
        SummaryEntry {
            field_id: Some(field_id.to_string()),
            message: message.to_string(),
        }
    }

    /// Markup as a browser reads it: without comments (Leptos marks its views with them) and
    /// with each tag's attributes in one order.
    fn canonical(html: &str) -> String {
        let mut html = html.replace("<!>", "");
        while let Some(start) = html.find("<!--") {
            let end = html[start..]
                .find("-->")
                .map_or(html.len(), |end| start + end + 3);
            html.replace_range(start..end, "");
        }
        let mut out = String::with_capacity(html.len());
        let mut rest = html.as_str();
        while let Some(start) = rest.find('<') {
            out.push_str(&rest[..start]);
            let end = start + rest[start..].find('>').expect("every tag is closed");
            let tag = &rest[start + 1..end];
            match tag.split_once(' ') {
                Some((name, attributes)) if !name.starts_with('/') => {
                    let mut attributes = split_attributes(attributes);
                    attributes.sort_unstable();
                    out.push('<');
                    out.push_str(name);
                    for attribute in attributes {
                        out.push(' ');
                        out.push_str(attribute);
                    }
                    out.push('>');
                }
                _ => out.push_str(&rest[start..=end]),
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// `a="x y" b` → `a="x y"`, `b`.
    fn split_attributes(attributes: &str) -> Vec<&str> {
        let mut found = Vec::new();
        let (mut start, mut quoted) = (0, false);
        for (index, character) in attributes.char_indices() {
            match character {
                '"' => quoted = !quoted,
                ' ' if !quoted => {
                    if index > start {
                        found.push(&attributes[start..index]);
                    }
                    start = index + 1;
                }
                _ => {}
            }
        }
        if start < attributes.len() {
            found.push(&attributes[start..]);
        }
        found
    }

    #[test]
    fn one_problem_worded_as_its_summary_is_a_link_to_its_field_in_both_builds() {
        let message = "Enter a valid email address.";
        let server = summary_html(
            AppError::field("email", message),
            "register",
            &["email", "password"],
        );
        let browser = error_summary(message, &[linked("register-email", message)]);
        assert_eq!(canonical(&server), canonical(&browser));
    }

    #[test]
    fn several_problems_are_listed_as_links_in_the_forms_order_in_both_builds() {
        let fields = BTreeMap::from([
            (
                "email".to_string(),
                "Enter an email & <nothing> else.".to_string(),
            ),
            ("username".to_string(), "Choose a username.".to_string()),
        ]);
        let error = AppError::from_fields(fields).expect("two problems");
        let browser = error_summary(
            &error.message,
            &[
                linked("register-username", "Choose a username."),
                linked("register-email", "Enter an email & <nothing> else."),
            ],
        );
        let server = summary_html(error, "register", &["username", "email"]);
        assert_eq!(canonical(&server), canonical(&browser));
    }

    #[test]
    fn a_message_without_field_problems_is_said_alone_in_both_builds() {
        let message = "Invalid email or password.";
        let server = summary_html(
            AppError::new(ErrorKind::Unauthenticated, message),
            "login",
            &["email", "password"],
        );
        assert_eq!(canonical(&server), canonical(&error_summary(message, &[])));
    }

    #[test]
    fn problems_of_a_form_without_field_ids_are_plain_text_in_both_builds() {
        let message = "Enter a title.";
        let server = summary_html(AppError::field("title", message), "", &[]);
        let browser = error_summary(
            message,
            &[SummaryEntry {
                field_id: None,
                message: message.to_string(),
            }],
        );
        assert_eq!(canonical(&server), canonical(&browser));
    }

    #[test]
    fn a_fields_message_sits_beside_it_and_is_named_by_it_in_both_builds() {
        let message = "Enter an email & <nothing> else.";
        let server = canonical(&field_html(AppError::field("email", message)));
        let browser = canonical(&field_error("register-email", message));
        assert!(server.contains(&browser), "{server}\n lacks {browser}");
        let described = format!("aria-describedby=\"{}\"", field_error_id("register-email"));
        assert!(server.contains(&described), "{server}\n lacks {described}");
    }
}
