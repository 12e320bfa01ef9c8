//! The browser side. Every page is rendered by the server and works as plain HTML (links and
//! form posts); this small wasm makes it better without changing what it does:
//!
//! - `forms`: a form is checked with the shared Rust rules (`domain::check_form`) before it
//!   is sent, and its problems are shown at once, as the server would show them (`errors`);
//!   it is sent where its submitter says (`formaction`, `formmethod`), marked busy on its
//!   way, and cannot be sent twice;
//! - `reveal`: a part marked `data-reveal-for` appears while the named field differs from its
//!   saved value (the current password, asked for when the email changes);
//! - `navigation`: forms and links are followed without a full reload: the server's page is
//!   fetched and put in place of the current one, and the address and history follow. A page
//!   that names other built files than the open one (the site was deployed meanwhile) is
//!   loaded in full, so the tab runs the new wasm and stylesheet;
//! - `focus`: keyboard focus goes where a person expects: to what the new page asks for
//!   (`autofocus`, e.g. an error summary), to what the form names (`data-focus-after`), or
//!   back to the control that had it.
//!
//! - `passkeys`: buttons marked `data-passkey` run a WebAuthn ceremony with the server, and a
//!   field whose `autocomplete` names `webauthn` offers passkeys in its autofill;
//!
//! `attributes` lists every attribute the layer honours. No Leptos here: the pages' views,
//! routes and data stay on the server, which keeps this module, and what a browser downloads,
//! small.

pub mod attributes;
mod errors;
mod focus;
mod forms;
mod navigation;
mod passkeys;
mod reveal;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, Event, EventTarget, Url, Window};

/// Listens for the page's clicks, submissions, typing and history moves, and marks the page
/// as ready (`data-hydrated`).
pub fn start() {
    let (Some(window), Some(document)) = (window(), document()) else {
        return;
    };
    listen(&document, "submit", forms::on_submit);
    listen(&document, "click", navigation::on_click);
    listen(&document, "click", passkeys::on_click);
    listen(&document, "input", reveal::on_input);
    listen(&window, "popstate", navigation::on_popstate);
    // Back and Forward show their page once it is fetched: the browser must not scroll first.
    if let Ok(history) = window.history() {
        let _ = history.set_scroll_restoration(web_sys::ScrollRestoration::Manual);
    }
    if let Some(body) = document.body() {
        reveal::reveal_all(&body);
        let _ = body.set_attribute(attributes::HYDRATED, "true");
    }
    passkeys::page_shown();
}

fn document() -> Option<Document> {
    window()?.document()
}

fn window() -> Option<Window> {
    web_sys::window()
}

/// Adds a listener for the page's lifetime.
fn listen(target: &EventTarget, kind: &str, handler: fn(Event)) {
    let closure = Closure::<dyn Fn(Event)>::new(handler);
    let _ = target.add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref());
    closure.forget();
}

/// The nearest element (the target itself or an ancestor) matching `selector`.
fn closest(target: Option<EventTarget>, selector: &str) -> Option<Element> {
    let element = target?.dyn_into::<Element>().ok()?;
    element.closest(selector).ok().flatten()
}

fn current_url() -> Option<Url> {
    Url::new(&window()?.location().href().ok()?).ok()
}

/// Every element of `root` matching `selector`.
fn all(root: &Element, selector: &str) -> Vec<Element> {
    let Ok(found) = root.query_selector_all(selector) else {
        return Vec::new();
    };
    (0..found.length())
        .filter_map(|index| found.item(index)?.dyn_into::<Element>().ok())
        .collect()
}
