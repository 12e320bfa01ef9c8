//! The parts of a form that wait for a field to change (`data-reveal-for`, `data-saved`,
//! `data-asked`): shown once the field's value differs from the saved one.

use wasm_bindgen::JsCast;
use web_sys::{Event, HtmlElement, HtmlInputElement};

use super::attributes::{ASKED, REVEAL_FOR, SAVED};
use super::{all, document, focus};

pub fn on_input(event: Event) {
    if let Some(input) = event
        .target()
        .and_then(|target| target.dyn_into::<HtmlInputElement>().ok())
    {
        if !input.id().is_empty() {
            reveal(&input);
        }
    }
}

/// Shows or hides what waits for this field to change (`data-reveal-for`, `data-saved`).
fn reveal(input: &HtmlInputElement) {
    let Some(root) = document().and_then(|document| document.document_element()) else {
        return;
    };
    let typed = input.value().trim().to_lowercase();
    for part in all(&root, &format!("[{REVEAL_FOR}=\"{}\"]", input.id())) {
        let Ok(part) = part.dyn_into::<HtmlElement>() else {
            continue;
        };
        let saved = part.get_attribute(SAVED).unwrap_or_default();
        // Once the server has asked for it, it stays.
        if !part.has_attribute(ASKED) {
            part.set_hidden(typed == saved);
        }
    }
}

/// Applies `reveal` to every field a part waits for (after a page is put in place).
pub fn reveal_all(root: &HtmlElement) {
    for part in all(root, &format!("[{REVEAL_FOR}]")) {
        let field = part
            .get_attribute(REVEAL_FOR)
            .and_then(|id| focus::by_id(&id))
            .and_then(|element| element.dyn_into::<HtmlInputElement>().ok());
        if let Some(field) = field {
            reveal(&field);
        }
    }
}
