//! Passkeys in the browser: a button marked `data-passkey` ("add", "login" or
//! "second-step") runs that ceremony with the server (`/passkeys/…`), and a page with a field
//! whose `autocomplete` names `webauthn` offers the site's passkeys in that field's autofill
//! (conditional mediation). The options arrive as WebAuthn's JSON and the answer goes back as
//! `PublicKeyCredential.toJSON()`, so nothing here reads or builds credentials itself.
//!
//! Messages go to the element marked `data-passkey-status` in the button's section. Without
//! JavaScript the buttons do nothing and the page says passkeys need it (`<noscript>`).

use std::cell::RefCell;

use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{Element, Event, HtmlInputElement, RequestInit, Response};

use super::attributes::{ARIA_BUSY, DISABLED, PASSKEY, PASSKEY_STATUS};
use super::{closest, document, window};

const UNSUPPORTED: &str = "This browser cannot use passkeys. Use your password or a code instead.";
const NOT_USED: &str = "No passkey was used (the request was cancelled or timed out).";
const FAILED: &str = "Something went wrong. Please try again.";

thread_local! {
    /// The autofill request in progress (its `AbortController`): a button's request must end
    /// it first, as a browser allows one request at a time.
    static CONDITIONAL: RefCell<Option<JsValue>> = const { RefCell::new(None) };
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ceremony {
    Add,
    Login,
    SecondStep,
}

impl Ceremony {
    fn parse(kind: &str) -> Option<Self> {
        match kind {
            "add" => Some(Self::Add),
            "login" => Some(Self::Login),
            "second-step" => Some(Self::SecondStep),
            _ => None,
        }
    }

    fn paths(self) -> (&'static str, &'static str) {
        match self {
            Self::Add => ("/passkeys/add/options", "/passkeys/add"),
            Self::Login => ("/passkeys/login/options", "/passkeys/login"),
            Self::SecondStep => ("/passkeys/second-step/options", "/passkeys/second-step"),
        }
    }
}

/// A click on a `data-passkey` button.
pub fn on_click(event: Event) {
    let Some(button) = closest(event.target(), &format!("[{PASSKEY}]")) else {
        return;
    };
    let Some(ceremony) = button
        .get_attribute(PASSKEY)
        .as_deref()
        .and_then(Ceremony::parse)
    else {
        return;
    };
    event.prevent_default();
    if button.has_attribute(ARIA_BUSY) {
        return;
    }
    spawn_local(async move {
        abort_conditional();
        let _ = button.set_attribute(ARIA_BUSY, "true");
        let _ = button.set_attribute(DISABLED, "");
        show(&button, "");
        let outcome = run(ceremony, None).await;
        let _ = button.remove_attribute(ARIA_BUSY);
        let _ = button.remove_attribute(DISABLED);
        match outcome {
            Ok(redirect) => go(&redirect),
            Err(message) => show(&button, &message),
        }
    });
}

/// After a page is shown: offers passkeys in a `webauthn` field's autofill.
pub fn page_shown() {
    abort_conditional();
    let Some(document) = document() else {
        return;
    };
    let Ok(Some(field)) = document.query_selector("input[autocomplete~=\"webauthn\"]") else {
        return;
    };
    spawn_local(async move {
        if !conditional_available().await {
            return;
        }
        let Some(controller) = new_abort_controller() else {
            return;
        };
        let signal = Reflect::get(&controller, &"signal".into()).ok();
        CONDITIONAL.with(|slot| *slot.borrow_mut() = Some(controller));
        match run(Ceremony::Login, signal).await {
            Ok(redirect) => go(&redirect),
            // Aborted (a button took over, or the page changed) or dismissed: say nothing
            // unless the server refused the passkey.
            Err(message) if message != NOT_USED => show(&field, &message),
            Err(_) => {}
        }
    });
}

fn abort_conditional() {
    if let Some(controller) = CONDITIONAL.with(|slot| slot.borrow_mut().take()) {
        if let Ok(abort) = Reflect::get(&controller, &"abort".into()) {
            if let Ok(abort) = abort.dyn_into::<Function>() {
                let _ = abort.call0(&controller);
            }
        }
    }
}

fn new_abort_controller() -> Option<JsValue> {
    let constructor = Reflect::get(&JsValue::from(window()?), &"AbortController".into()).ok()?;
    let constructor = constructor.dyn_into::<Function>().ok()?;
    Reflect::construct(&constructor, &Array::new()).ok()
}

/// `PublicKeyCredential`, when the browser has WebAuthn.
fn public_key_credential() -> Option<JsValue> {
    Reflect::get(&JsValue::from(window()?), &"PublicKeyCredential".into())
        .ok()
        .filter(|value| !value.is_undefined())
}

async fn conditional_available() -> bool {
    let Some(pkc) = public_key_credential() else {
        return false;
    };
    let Some(check) = method(&pkc, "isConditionalMediationAvailable") else {
        return false;
    };
    let Ok(promise) = check.call0(&pkc).and_then(|p| p.dyn_into::<Promise>()) else {
        return false;
    };
    JsFuture::from(promise)
        .await
        .ok()
        .and_then(|answer| answer.as_bool())
        .unwrap_or(false)
}

fn method(on: &JsValue, name: &str) -> Option<Function> {
    Reflect::get(on, &name.into()).ok()?.dyn_into().ok()
}

/// Runs one ceremony: its options, the browser's passkey dialog (or autofill, with `signal`),
/// the server's verdict. `Ok` is where to go next.
async fn run(ceremony: Ceremony, signal: Option<JsValue>) -> Result<String, String> {
    let pkc = public_key_credential().ok_or(UNSUPPORTED)?;
    let (options_path, answer_path) = ceremony.paths();
    let conditional = signal.is_some();
    let body = if conditional {
        "{\"conditional\":true}"
    } else {
        "{}"
    };
    let started = post_json(options_path, body.to_string()).await?;
    let get =
        |on: &JsValue, name: &str| Reflect::get(on, &name.into()).map_err(|_| FAILED.to_string());
    let handle = get(&started, "ceremony")?;
    let public_key = get(&get(&started, "options")?, "publicKey")?;
    let creating = ceremony == Ceremony::Add;
    let parse = method(
        &pkc,
        if creating {
            "parseCreationOptionsFromJSON"
        } else {
            "parseRequestOptionsFromJSON"
        },
    )
    .ok_or(UNSUPPORTED)?;
    let public_key = parse
        .call1(&pkc, &public_key)
        .map_err(|_| FAILED.to_string())?;
    let request = Object::new();
    let _ = Reflect::set(&request, &"publicKey".into(), &public_key);
    if let Some(signal) = &signal {
        let _ = Reflect::set(&request, &"mediation".into(), &"conditional".into());
        let _ = Reflect::set(&request, &"signal".into(), signal);
    }
    let navigator = Reflect::get(&JsValue::from(window().ok_or(FAILED)?), &"navigator".into())
        .map_err(|_| FAILED)?;
    let credentials = get(&navigator, "credentials")?;
    let ask = method(&credentials, if creating { "create" } else { "get" }).ok_or(UNSUPPORTED)?;
    let promise: Promise = ask
        .call1(&credentials, &request)
        .and_then(|p| p.dyn_into())
        .map_err(|_| NOT_USED.to_string())?;
    let credential = JsFuture::from(promise)
        .await
        .map_err(|_| NOT_USED.to_string())?;
    if credential.is_null() || credential.is_undefined() {
        return Err(NOT_USED.into());
    }
    let as_json = method(&credential, "toJSON").ok_or(UNSUPPORTED)?;
    let credential = as_json.call0(&credential).map_err(|_| FAILED.to_string())?;
    let answer = Object::new();
    let _ = Reflect::set(&answer, &"ceremony".into(), &handle);
    let _ = Reflect::set(&answer, &"credential".into(), &credential);
    if !creating {
        if let Some(next) = next_address() {
            let _ = Reflect::set(&answer, &"next".into(), &next.into());
        }
        let _ = Reflect::set(&answer, &"remember".into(), &remember().into());
    }
    let body = JSON::stringify(&answer)
        .ok()
        .and_then(|text| text.as_string())
        .ok_or(FAILED)?;
    let done = post_json(answer_path, body).await?;
    get(&done, "redirect")?
        .as_string()
        .ok_or_else(|| FAILED.to_string())
}

/// The page's `next` (a hidden field of the login forms), if any.
fn next_address() -> Option<String> {
    let field = document()?.query_selector("input[name=\"next\"]").ok()??;
    let value = field.dyn_into::<HtmlInputElement>().ok()?.value();
    (!value.is_empty()).then_some(value)
}

/// Whether the login page's "Remember me" is ticked.
fn remember() -> bool {
    document()
        .and_then(|document| document.get_element_by_id("login-remember"))
        .and_then(|element| element.dyn_into::<HtmlInputElement>().ok())
        .is_some_and(|checkbox| checkbox.checked())
}

/// A same-origin JSON post; `Err` is the server's message (or a general one).
async fn post_json(path: &str, body: String) -> Result<JsValue, String> {
    let window = window().ok_or(FAILED)?;
    let init = RequestInit::new();
    let headers = web_sys::Headers::new().map_err(|_| FAILED)?;
    let _ = headers.set("Content-Type", "application/json");
    let _ = headers.set("Accept", "application/json");
    init.set_headers(&headers);
    init.set_method("POST");
    init.set_body(&body.into());
    let answer = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(|_| "The server could not be reached. Please try again.".to_string())?;
    let response: Response = answer.dyn_into().map_err(|_| FAILED)?;
    let json = match response.json() {
        Ok(promise) => JsFuture::from(promise).await.unwrap_or(JsValue::NULL),
        Err(_) => JsValue::NULL,
    };
    if response.ok() {
        return Ok(json);
    }
    let message = Reflect::get(&json, &"error".into())
        .and_then(|error| Reflect::get(&error, &"message".into()))
        .ok()
        .and_then(|message| message.as_string())
        .unwrap_or_else(|| FAILED.to_string());
    Err(message)
}

fn go(address: &str) {
    if let Some(window) = window() {
        let _ = window.location().assign(address);
    }
}

/// Shows `message` in the status element of the part of the page `near` is in.
fn show(near: &Element, message: &str) {
    let status = near
        .closest("section, main")
        .ok()
        .flatten()
        .and_then(|part| {
            part.query_selector(&format!("[{PASSKEY_STATUS}]"))
                .ok()
                .flatten()
        });
    if let Some(status) = status {
        status.set_text_content(Some(message));
        if message.is_empty() {
            let _ = status.set_attribute("hidden", "");
        } else {
            let _ = status.remove_attribute("hidden");
        }
    }
}
