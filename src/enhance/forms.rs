//! Forms, sent as the browser would send them but without a full reload: to the address and
//! with the method their submitter names (`formaction`, `formmethod`, else the form's own),
//! checked with the shared Rust rules first, marked busy on their way. What this layer cannot
//! send the same way (another target, a file upload's encoding, a dialog's close) is left to
//! the browser.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{
    Element, Event, FormData, HtmlButtonElement, HtmlFormElement, HtmlInputElement, SubmitEvent,
    Url, UrlSearchParams,
};

use super::attributes::{
    ACTION, ARIA_BUSY, DISABLED, ENCTYPE, FOCUS_AFTER, FORM_ACTION, FORM_ENCTYPE, FORM_METHOD,
    FORM_TARGET, METHOD, NATIVE, PASSWORD_CONTEXT, TARGET,
};
use super::navigation::{is_page, visit_or_fail, Visit};
use super::{all, current_url, document, errors};
use crate::domain::check_form;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

/// Where and how a form is sent, its submitter's choices over the form's own.
struct Submission {
    address: Url,
    method: Method,
}

impl Submission {
    /// `None`: the browser sends it (or, for `dialog`, closes its dialog) itself.
    fn of(form: &HtmlFormElement, submitter: Option<&Element>) -> Option<Self> {
        // Read as attributes: a field named `action` or `method` would shadow the properties.
        let chosen = |own: &str, submitters: &str| {
            submitter
                .and_then(|element| element.get_attribute(submitters))
                .or_else(|| form.get_attribute(own))
                .unwrap_or_default()
                .to_ascii_lowercase()
        };
        if form.has_attribute(NATIVE) {
            return None;
        }
        let target = chosen(TARGET, FORM_TARGET);
        if !target.is_empty() && target != "_self" {
            return None;
        }
        // As in HTML, a missing or unknown method is GET.
        let method = match chosen(METHOD, FORM_METHOD).as_str() {
            "post" => Method::Post,
            "dialog" => return None,
            _ => Method::Get,
        };
        // A post is sent URL-encoded here; another encoding (a file upload) is the browser's.
        let encoding = chosen(ENCTYPE, FORM_ENCTYPE);
        if method == Method::Post
            && matches!(encoding.as_str(), "multipart/form-data" | "text/plain")
        {
            return None;
        }
        let action = submitter
            .and_then(|element| element.get_attribute(FORM_ACTION))
            .or_else(|| form.get_attribute(ACTION))
            .unwrap_or_default();
        let base = document()?.base_uri().ok()??;
        let address = Url::new_with_base(&action, &base).ok()?;
        Some(Self { address, method })
    }
}

/// The name and value a submit button adds to its form's fields.
fn submitter_field(submitter: &Element) -> Option<(String, String)> {
    let (name, value) = if let Some(button) = submitter.dyn_ref::<HtmlButtonElement>() {
        (button.name(), button.value())
    } else if let Some(input) = submitter.dyn_ref::<HtmlInputElement>() {
        (input.name(), input.value())
    } else {
        return None;
    };
    (!name.is_empty()).then_some((name, value))
}

pub fn on_submit(event: Event) {
    let Ok(event) = event.dyn_into::<SubmitEvent>() else {
        return;
    };
    if event.default_prevented() {
        return;
    }
    let Some(form) = event
        .target()
        .and_then(|target| target.dyn_into::<HtmlFormElement>().ok())
    else {
        return;
    };
    let submitter: Option<Element> = event.submitter().map(Element::from);
    let Some(Submission { address, method }) = Submission::of(&form, submitter.as_ref()) else {
        return;
    };
    // A post goes to a server function; a search or filter form goes to a page.
    let post = method == Method::Post;
    if !(post || is_page(&address)) {
        return;
    }
    if address.origin() != current_url().map(|url| url.origin()).unwrap_or_default() {
        return;
    }
    event.prevent_default();
    // A second press while the first is on its way sends nothing.
    if form.has_attribute(ARIA_BUSY) {
        return;
    }
    let Ok(data) = FormData::new_with_form(&form) else {
        return;
    };
    if let Some((name, value)) = submitter.as_ref().and_then(submitter_field) {
        let _ = data.append_with_str(&name, &value);
    }
    if post {
        if let Some(endpoint) = address.pathname().strip_prefix("/api/") {
            let value = |name: &str| data.get(name).as_string().unwrap_or_default();
            let context = form.get_attribute(PASSWORD_CONTEXT).unwrap_or_default();
            let context: Vec<&str> = context.split_whitespace().collect();
            if let Some(problem) = check_form(endpoint, &value, &context) {
                errors::show(&form, &problem);
                return;
            }
        }
    }
    let Ok(fields) = UrlSearchParams::new_with_str_sequence_sequence(&data) else {
        return;
    };
    let visit = if post {
        Visit::post(address.href(), fields, form.get_attribute(FOCUS_AFTER))
    } else {
        address.set_search(&String::from(fields.to_string()));
        Visit::link(address.href())
    };
    set_busy(&form, true);
    spawn_local(async move {
        if let Err(problem) = visit_or_fail(visit).await {
            set_busy(&form, false);
            errors::show_message(&form, &problem);
        }
    });
}

/// Marks a form as on its way (or no longer): busy, with its buttons disabled.
fn set_busy(form: &HtmlFormElement, busy: bool) {
    if busy {
        let _ = form.set_attribute(ARIA_BUSY, "true");
    } else {
        let _ = form.remove_attribute(ARIA_BUSY);
    }
    for button in all(form, "button[type=submit], button:not([type])") {
        if busy {
            let _ = button.set_attribute(DISABLED, "");
            let _ = button.set_attribute(ARIA_BUSY, "true");
        } else {
            let _ = button.remove_attribute(DISABLED);
            let _ = button.remove_attribute(ARIA_BUSY);
        }
    }
}
