//! The browser side. Every page is rendered by the server and works as plain HTML (links and
//! form posts); this small wasm makes it better without changing what it does:
//!
//! - a form is checked with the shared Rust rules (`domain::check_form`) before it is sent,
//!   and its problems are shown at once, as the server would show them (`errors`);
//! - forms and links are followed without a full reload: the server's page is fetched and
//!   put in place of the current one, and the address and history follow;
//! - keyboard focus goes where a person expects: to what the new page asks for
//!   (`autofocus`, e.g. an error summary), to what the form names (`data-focus-after`), or
//!   back to the control that had it;
//! - a form on its way is marked busy and cannot be sent twice;
//! - a part marked `data-reveal-for` appears while the named field differs from its saved
//!   value (the current password, asked for when the email changes).
//!
//! No Leptos here: the pages' views, routes and data stay on the server, which keeps this
//! module, and what a browser downloads, small.

mod errors;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    Document, DomParser, Element, Event, EventTarget, FormData, HtmlAnchorElement,
    HtmlButtonElement, HtmlElement, HtmlFormElement, HtmlInputElement, MouseEvent, ReferrerPolicy,
    RequestInit, Response, SubmitEvent, SupportedType, Url, UrlSearchParams, Window,
};

use crate::domain::check_form;

/// Shown when a form could not be sent or its answer could not be read.
const UNREACHABLE: &str = "Could not reach Gatehouse. Check your connection and try again.";

/// Listens for the page's clicks, submissions, typing and history moves, and marks the page
/// as ready (`data-hydrated`, which the end-to-end tests wait for).
pub fn start() {
    let (Some(window), Some(document)) = (web_sys::window(), document()) else {
        return;
    };
    listen(&document, "submit", on_submit);
    listen(&document, "click", on_click);
    listen(&document, "input", on_input);
    listen(&window, "popstate", |_| spawn_local(visit(Visit::back())));
    // Back and Forward show their page once it is fetched: the browser must not scroll first.
    if let Ok(history) = window.history() {
        let _ = history.set_scroll_restoration(web_sys::ScrollRestoration::Manual);
    }
    if let Some(body) = document.body() {
        reveal_all(&body);
        let _ = body.set_attribute("data-hydrated", "true");
    }
}

fn document() -> Option<Document> {
    web_sys::window()?.document()
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

/// The address a form is sent to: its `action` attribute against the page's address.
fn form_address(form: &HtmlFormElement) -> Option<Url> {
    let base = document()?.base_uri().ok()??;
    let action = form.get_attribute("action").unwrap_or_default();
    Url::new_with_base(&action, &base).ok()
}

/// Whether a same-site address is one of the app's pages (not the API, its documentation or
/// a built file), which can be fetched and put in place.
fn is_page(url: &Url) -> bool {
    let path = url.pathname();
    let Some(current) = current_url() else {
        return false;
    };
    url.origin() == current.origin()
        && !["/api/", "/docs", "/pkg/", "/metrics", "/health"]
            .iter()
            .any(|prefix| path.starts_with(prefix))
        && !path.rsplit('/').next().unwrap_or_default().contains('.')
}

fn on_click(event: Event) {
    let Ok(event) = event.dyn_into::<MouseEvent>() else {
        return;
    };
    if event.default_prevented()
        || event.button() != 0
        || event.meta_key()
        || event.ctrl_key()
        || event.shift_key()
        || event.alt_key()
    {
        return;
    }
    let Some(anchor) = closest(event.target(), "a[href]")
        .and_then(|element| element.dyn_into::<HtmlAnchorElement>().ok())
    else {
        return;
    };
    if !anchor.target().is_empty()
        || anchor.has_attribute("download")
        || anchor.rel().split_whitespace().any(|rel| rel == "external")
    {
        return;
    }
    let (Ok(url), Some(current)) = (Url::new(&anchor.href()), current_url()) else {
        return;
    };
    // A link within this page ("Skip to main content", an error summary's entries) moves
    // keyboard focus to its target, as it does without JavaScript, not only the view.
    if url.origin() == current.origin()
        && url.pathname() == current.pathname()
        && url.search() == current.search()
    {
        if let Some(target) = url.hash().strip_prefix('#').and_then(by_id) {
            event.prevent_default();
            let _ = target.focus();
            return;
        }
    }
    if !is_page(&url) {
        return;
    }
    event.prevent_default();
    spawn_local(visit(Visit::link(url.href())));
}

fn on_submit(event: Event) {
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
    // Read as attributes: a field named `action` or `method` would shadow the properties.
    let method = form
        .get_attribute("method")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let Some(action) = form_address(&form) else {
        return;
    };
    // A plain post goes to a server function; a search or filter form goes to a page.
    let post = method == "post";
    let follows = post || (method == "get" && is_page(&action));
    if !follows {
        return;
    }
    if action.origin() != current_url().map(|url| url.origin()).unwrap_or_default() {
        return;
    }
    event.prevent_default();
    // A second press while the first is on its way sends nothing.
    if form.has_attribute("aria-busy") {
        return;
    }
    let Ok(data) = FormData::new_with_form(&form) else {
        return;
    };
    if let Some(button) = event
        .submitter()
        .and_then(|element| element.dyn_into::<HtmlButtonElement>().ok())
    {
        if !button.name().is_empty() {
            let _ = data.append_with_str(&button.name(), &button.value());
        }
    }
    if post {
        if let Some(endpoint) = action.pathname().strip_prefix("/api/") {
            let value = |name: &str| data.get(name).as_string().unwrap_or_default();
            let context = form
                .get_attribute("data-password-context")
                .unwrap_or_default();
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
    let focus_after = form.get_attribute("data-focus-after");
    let visit_of = if post {
        Visit::post(action.href(), fields, focus_after)
    } else {
        action.set_search(&String::from(fields.to_string()));
        Visit::link(action.href())
    };
    errors::set_busy(&form, true);
    spawn_local(async move {
        if let Err(problem) = visit_or_fail(visit_of).await {
            errors::set_busy(&form, false);
            errors::show_message(&form, &problem);
        }
    });
}

fn on_input(event: Event) {
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
    let Some(document) = document() else {
        return;
    };
    let selector = format!("[data-reveal-for=\"{}\"]", input.id());
    let Ok(parts) = document.query_selector_all(&selector) else {
        return;
    };
    let typed = input.value().trim().to_lowercase();
    for index in 0..parts.length() {
        let Some(part) = parts
            .item(index)
            .and_then(|node| node.dyn_into::<HtmlElement>().ok())
        else {
            continue;
        };
        let saved = part.get_attribute("data-saved").unwrap_or_default();
        // Once the server has asked for it, it stays.
        if !part.has_attribute("data-asked") {
            part.set_hidden(typed == saved);
        }
    }
}

/// Applies `reveal` to every field a part waits for (after a page is put in place).
fn reveal_all(root: &HtmlElement) {
    let Ok(parts) = root.query_selector_all("[data-reveal-for]") else {
        return;
    };
    for index in 0..parts.length() {
        let field = parts
            .item(index)
            .and_then(|node| node.dyn_into::<Element>().ok())
            .and_then(|part| part.get_attribute("data-reveal-for"))
            .and_then(|id| by_id(&id))
            .and_then(|element| element.dyn_into::<HtmlInputElement>().ok());
        if let Some(field) = field {
            reveal(&field);
        }
    }
}

/// The id of the element that has keyboard focus, if it has one.
fn focused_id() -> Option<String> {
    document()?
        .active_element()
        .map(|element| element.id())
        .filter(|id| !id.is_empty())
}

fn by_id(id: &str) -> Option<HtmlElement> {
    document()?
        .get_element_by_id(id)?
        .dyn_into::<HtmlElement>()
        .ok()
}

/// How the address bar follows a visit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum History {
    /// A new entry, unless the address is the one already shown.
    Push,
    /// The browser already moved (back or forward).
    Keep,
}

/// One fetch of a page: a link followed, a form sent, or a step back in history.
struct Visit {
    url: String,
    /// The form's fields, sent as a plain form post.
    post: Option<UrlSearchParams>,
    history: History,
    /// The id to focus after a form's answer when the page names nothing itself.
    focus_after: Option<String>,
    /// The id of the control that had focus when the form was sent (a busy button loses it).
    focused: Option<String>,
}

impl Visit {
    fn link(url: String) -> Self {
        Self {
            url,
            post: None,
            history: History::Push,
            focus_after: None,
            focused: None,
        }
    }

    fn post(url: String, fields: UrlSearchParams, focus_after: Option<String>) -> Self {
        Self {
            url,
            post: Some(fields),
            history: History::Push,
            focus_after,
            focused: focused_id(),
        }
    }

    fn back() -> Self {
        Self {
            url: window()
                .and_then(|w| w.location().href().ok())
                .unwrap_or_default(),
            post: None,
            history: History::Keep,
            focus_after: None,
            focused: None,
        }
    }
}

/// Follows a link or a history step; when the page cannot be fetched here, the browser loads
/// it itself.
async fn visit(visit: Visit) {
    let url = visit.url.clone();
    if visit_or_fail(visit).await.is_err() {
        if let Some(window) = window() {
            let _ = window.location().assign(&url);
        }
    }
}

thread_local! {
    /// The number of the latest visit: an answer to an older one arrives too late to be shown
    /// (the person followed another link, went Back, or sent another form meanwhile).
    static LATEST: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Fetches the page and puts it in place. `Err` carries what to tell the person when a form
/// could not be sent (nothing has changed on the page then).
async fn visit_or_fail(visit: Visit) -> Result<(), String> {
    let number = LATEST.with(|latest| {
        latest.set(latest.get() + 1);
        latest.get()
    });
    let stale = move || LATEST.with(|latest| latest.get() != number);
    let window = window().ok_or(UNREACHABLE)?;
    let current = current_url().ok_or(UNREACHABLE)?;
    let init = RequestInit::new();
    let headers = web_sys::Headers::new().map_err(|_| UNREACHABLE)?;
    let _ = headers.set("Accept", "text/html");
    init.set_headers(&headers);
    // The server sends a form's answer back to the page it came from (its `Referer`). Pages
    // opened from an emailed link are served with `no-referrer`, which the document keeps
    // after moving on: ask for the referrer on every other page.
    let on_token_page = current.search_params().has("token");
    init.set_referrer_policy(if on_token_page {
        ReferrerPolicy::NoReferrer
    } else {
        ReferrerPolicy::SameOrigin
    });
    if let Some(fields) = &visit.post {
        init.set_method("POST");
        init.set_body(fields);
    }
    let answer = JsFuture::from(window.fetch_with_str_and_init(&visit.url, &init))
        .await
        .map_err(|_| UNREACHABLE)?;
    let response: Response = answer.dyn_into().map_err(|_| UNREACHABLE)?;
    let failed = || {
        format!(
            "Something went wrong (HTTP {}). Please try again.",
            response.status()
        )
    };
    let is_html = response
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .is_some_and(|kind| kind.starts_with("text/html"));
    let same_site = Url::new(&response.url()).is_ok_and(|url| url.origin() == current.origin());
    if !is_html || !same_site {
        return Err(failed());
    }
    let text = JsFuture::from(response.text().map_err(|_| UNREACHABLE)?)
        .await
        .map_err(|_| UNREACHABLE)?
        .as_string()
        .unwrap_or_default();
    if stale() {
        return Ok(());
    }
    let page = DomParser::new()
        .and_then(|parser| parser.parse_from_string(&text, SupportedType::TextHtml))
        .map_err(|_| UNREACHABLE)?;
    let (Some(new_body), true) = (page.body(), page.get_element_by_id("main").is_some()) else {
        // Not one of the app's pages (a bare error page): a link is left to the browser; a
        // form stays as it was, with the problem said.
        if visit.post.is_some() {
            return Err(failed());
        }
        let _ = window.location().assign(&response.url());
        return Ok(());
    };
    let mut address = response.url();
    // A redirect back to the form's page may end in a bare `?`: the same address.
    if let Ok(url) = Url::new(&address) {
        if url.search().is_empty() {
            url.set_search("");
            address = url.href();
        }
    }
    // A link's `#fragment` does not reach the server; keep it for the address bar.
    if let Some((_, fragment)) = visit.url.split_once('#') {
        if visit.post.is_none() {
            address = format!("{address}#{fragment}");
        }
    }
    put_in_place(&window, &page, &new_body, &address, &visit);
    Ok(())
}

fn put_in_place(
    window: &Window,
    page: &Document,
    new_body: &HtmlElement,
    address: &str,
    visit: &Visit,
) {
    let (Some(document), Some(current)) = (document(), current_url()) else {
        return;
    };
    let Some(body) = document.body() else {
        return;
    };
    let Ok(answer) = Url::new(address) else {
        return;
    };
    // A form answered on the page it was sent from keeps the person's place (scroll, focus);
    // anything else is a new page, shown from its top.
    let stays = visit.post.is_some() && answer.pathname() == current.pathname();
    let focused_id = visit.focused.clone().or_else(focused_id);
    // A form the server refused comes back to the same page with its error in the address
    // (`__err`, for the plain post without JavaScript): here the page shows it, and the
    // address stays the one the person was on.
    let refused = visit.post.is_some() && answer.search_params().has("__err");
    document.set_title(&page.title());
    body.set_inner_html(&new_body.inner_html());
    reveal_all(&body);
    if let Ok(history) = window.history() {
        let moved = address != current.href();
        match visit.history {
            History::Push if moved && !refused => {
                let _ = history.push_state_with_url(&JsValue::NULL, "", Some(address));
            }
            // Back or Forward to an address that now redirects (the login page once logged
            // in): the address shows where the page came from.
            History::Keep if moved => {
                let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(address));
            }
            _ => {}
        }
    }
    if !stays {
        window.scroll_to_with_x_and_y(0.0, 0.0);
    }
    // What the page asks for first (an error summary, a field opened for editing), then what
    // the form named, then the control that had focus, if the page still has it.
    let target = body
        .query_selector("[autofocus]")
        .ok()
        .flatten()
        .and_then(|element| element.dyn_into::<HtmlElement>().ok())
        .or_else(|| visit.focus_after.as_deref().and_then(by_id))
        .or_else(|| {
            stays
                .then_some(focused_id)
                .flatten()
                .and_then(|id| by_id(&id))
        });
    if let Some(target) = target {
        let _ = target.focus();
    } else if let Some(element) = address.split_once('#').and_then(|(_, id)| by_id(id)) {
        element.scroll_into_view();
    } else if !stays {
        start_from_top(&body);
    }
}

/// Where a freshly loaded page starts: nothing focused, and the next Tab goes to the page's
/// first control (the skip link), not to where the removed element was.
fn start_from_top(body: &HtmlElement) {
    let _ = body.set_attribute("tabindex", "-1");
    let _ = body.focus();
    let _ = body.remove_attribute("tabindex");
}
