//! A form's problems found in the browser, shown as the server shows them, with the same
//! markup (`domain::error_markup`): a summary with `role="alert"` at the top of the form whose
//! entries link to their fields, and each field's message beside it.

use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlFormElement};

use super::all;
use super::attributes::{ARIA_DESCRIBEDBY, ARIA_INVALID};
use crate::domain::error_markup::{error_summary, field_error, field_error_id, SummaryEntry};
use crate::domain::AppError;

/// Replaces whatever the form showed with these problems and moves focus to their summary.
pub fn show(form: &HtmlFormElement, problem: &AppError) {
    clear(form);
    let mut entries = Vec::new();
    let mut shown: Vec<&str> = Vec::new();
    let controls = form.elements();
    for index in 0..controls.length() {
        let Some(control) = controls.item(index) else {
            continue;
        };
        let name = control.get_attribute("name").unwrap_or_default();
        let Some((name, message)) = problem.fields.get_key_value(&name) else {
            continue;
        };
        if shown.contains(&name.as_str()) {
            continue;
        }
        shown.push(name);
        mark_field(&control, message);
        entries.push(SummaryEntry {
            field_id: Some(control.id()).filter(|id| !id.is_empty()),
            message: message.clone(),
        });
    }
    for (name, message) in &problem.fields {
        if !shown.contains(&name.as_str()) {
            entries.push(SummaryEntry {
                field_id: None,
                message: message.clone(),
            });
        }
    }
    show_summary(form, &error_summary(&problem.message, &entries));
}

/// One message for the whole form (it could not be sent).
pub fn show_message(form: &HtmlFormElement, message: &str) {
    clear(form);
    show_summary(form, &error_summary(message, &[]));
}

/// Puts the summary at the top of the form and focuses it.
fn show_summary(form: &HtmlFormElement, markup: &str) {
    if form.insert_adjacent_html("afterbegin", markup).is_err() {
        return;
    }
    if let Some(summary) = form
        .first_element_child()
        .and_then(|element| element.dyn_into::<HtmlElement>().ok())
    {
        let _ = summary.focus();
    }
}

/// Removes the summary and field messages the form shows.
fn clear(form: &HtmlFormElement) {
    for element in all(form, ".error-summary, .field-error") {
        element.remove();
    }
    for control in all(form, &format!("[{ARIA_INVALID}=\"true\"]")) {
        let _ = control.set_attribute(ARIA_INVALID, "false");
        let message_id = field_error_id(&control.id());
        let described = control.get_attribute(ARIA_DESCRIBEDBY).unwrap_or_default();
        let rest: Vec<&str> = described
            .split_whitespace()
            .filter(|id| *id != message_id)
            .collect();
        if rest.is_empty() {
            let _ = control.remove_attribute(ARIA_DESCRIBEDBY);
        } else {
            let _ = control.set_attribute(ARIA_DESCRIBEDBY, &rest.join(" "));
        }
    }
}

/// Shows a field's problem beside it and ties the two together for screen readers.
fn mark_field(control: &Element, message: &str) {
    let Some(field) = control.parent_element() else {
        return;
    };
    let message_id = field_error_id(&control.id());
    let _ = control.set_attribute(ARIA_INVALID, "true");
    let described = control.get_attribute(ARIA_DESCRIBEDBY).unwrap_or_default();
    let mut ids: Vec<&str> = described.split_whitespace().collect();
    ids.push(&message_id);
    let _ = control.set_attribute(ARIA_DESCRIBEDBY, &ids.join(" "));
    let _ = field.insert_adjacent_html("beforeend", &field_error(&control.id(), message));
}
