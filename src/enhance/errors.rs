//! A form's problems found in the browser, shown as the server shows them
//! (`components::form::{ErrorSummary, Field}`): a summary with `role="alert"` at the top of
//! the form whose entries link to their fields, and each field's message beside it.

use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, HtmlFormElement};

use super::document;
use crate::domain::AppError;

/// Replaces whatever the form showed with these problems and moves focus to their summary.
pub fn show(form: &HtmlFormElement, problem: &AppError) {
    clear(form);
    let mut entries: Vec<(Option<String>, String)> = Vec::new();
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
        let id = Some(control.id()).filter(|id| !id.is_empty());
        entries.push((id, message.clone()));
    }
    for (name, message) in &problem.fields {
        if !shown.contains(&name.as_str()) {
            entries.push((None, message.clone()));
        }
    }
    let Some(summary) = summary(&problem.message, &entries) else {
        return;
    };
    let _ = form.prepend_with_node_1(&summary);
    let _ = summary.focus();
}

/// One message for the whole form (it could not be sent).
pub fn show_message(form: &HtmlFormElement, message: &str) {
    clear(form);
    if let Some(summary) = summary(message, &[]) {
        let _ = form.prepend_with_node_1(&summary);
        let _ = summary.focus();
    }
}

/// Marks a form as on its way (or no longer): busy, with its buttons disabled.
pub fn set_busy(form: &HtmlFormElement, busy: bool) {
    if busy {
        let _ = form.set_attribute("aria-busy", "true");
    } else {
        let _ = form.remove_attribute("aria-busy");
    }
    let Ok(buttons) = form.query_selector_all("button[type=submit], button:not([type])") else {
        return;
    };
    for index in 0..buttons.length() {
        if let Some(button) = buttons
            .item(index)
            .and_then(|node| node.dyn_into::<Element>().ok())
        {
            if busy {
                let _ = button.set_attribute("disabled", "");
                let _ = button.set_attribute("aria-busy", "true");
            } else {
                let _ = button.remove_attribute("disabled");
                let _ = button.remove_attribute("aria-busy");
            }
        }
    }
}

/// Removes the summary and field messages the form shows.
fn clear(form: &HtmlFormElement) {
    for selector in [".error-summary", ".field-error"] {
        if let Ok(found) = form.query_selector_all(selector) {
            for index in 0..found.length() {
                if let Some(element) = found
                    .item(index)
                    .and_then(|node| node.dyn_into::<Element>().ok())
                {
                    element.remove();
                }
            }
        }
    }
    if let Ok(invalid) = form.query_selector_all("[aria-invalid=\"true\"]") {
        for index in 0..invalid.length() {
            if let Some(control) = invalid
                .item(index)
                .and_then(|node| node.dyn_into::<Element>().ok())
            {
                let _ = control.set_attribute("aria-invalid", "false");
                let message_id = format!("{}-error", control.id());
                let described = control
                    .get_attribute("aria-describedby")
                    .unwrap_or_default();
                let rest: Vec<&str> = described
                    .split_whitespace()
                    .filter(|id| *id != message_id)
                    .collect();
                if rest.is_empty() {
                    let _ = control.remove_attribute("aria-describedby");
                } else {
                    let _ = control.set_attribute("aria-describedby", &rest.join(" "));
                }
            }
        }
    }
}

/// Shows a field's problem beside it and ties the two together for screen readers.
fn mark_field(control: &Element, message: &str) {
    let (Some(document), Some(field)) = (document(), control.parent_element()) else {
        return;
    };
    let message_id = format!("{}-error", control.id());
    let _ = control.set_attribute("aria-invalid", "true");
    let described = control
        .get_attribute("aria-describedby")
        .unwrap_or_default();
    let mut ids: Vec<&str> = described.split_whitespace().collect();
    ids.push(&message_id);
    let _ = control.set_attribute("aria-describedby", &ids.join(" "));
    if let Ok(text) = document.create_element("p") {
        text.set_class_name("field-error");
        text.set_id(&message_id);
        text.set_text_content(Some(message));
        let _ = field.append_with_node_1(&text);
    }
}

/// The summary: one problem said the same way as the summary is itself a link to its field;
/// otherwise the message and a list of the problems.
fn summary(message: &str, entries: &[(Option<String>, String)]) -> Option<HtmlElement> {
    let document = document()?;
    let summary = document
        .create_element("div")
        .ok()?
        .dyn_into::<HtmlElement>()
        .ok()?;
    let _ = summary.set_attribute("role", "alert");
    summary.set_class_name("error-summary");
    summary.set_tab_index(-1);
    let entry = |id: &Option<String>, text: &str| -> Option<Element> {
        match id {
            Some(id) => {
                let link = document.create_element("a").ok()?;
                let _ = link.set_attribute("href", &format!("#{id}"));
                link.set_text_content(Some(text));
                Some(link)
            }
            None => None,
        }
    };
    let lead = document.create_element("p").ok()?;
    match entries {
        [(id @ Some(_), only)] if only == message => {
            let link = entry(id, only)?;
            let _ = lead.append_with_node_1(&link);
            let _ = summary.append_with_node_1(&lead);
        }
        _ => {
            lead.set_text_content(Some(message));
            let _ = summary.append_with_node_1(&lead);
            if !entries.is_empty() {
                let list = document.create_element("ul").ok()?;
                for (id, text) in entries {
                    let item = document.create_element("li").ok()?;
                    match entry(id, text) {
                        Some(link) => {
                            let _ = item.append_with_node_1(&link);
                        }
                        None => item.set_text_content(Some(text)),
                    }
                    let _ = list.append_with_node_1(&item);
                }
                let _ = summary.append_with_node_1(&list);
            }
        }
    }
    Some(summary)
}
