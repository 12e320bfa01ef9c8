//! Links, form answers and history steps without a full reload: the server's page is fetched
//! and its `<body>` put in place of the current one; the title, the address and history
//! follow. Only the body changes, so a page that names other built files (wasm, script,
//! stylesheet) than the open one, which happens when the site was deployed since it loaded,
//! is loaded in full instead: the tab then runs what the server now serves.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    Document, DomParser, Event, HtmlAnchorElement, HtmlElement, MouseEvent, ReferrerPolicy,
    RequestInit, Response, SupportedType, Url, UrlSearchParams, Window,
};

use super::attributes::{DOWNLOAD, REL, TARGET};
use super::focus::{self, Settle};
use super::{all, closest, current_url, document, reveal, window};

/// Shown when a form could not be sent or its answer could not be read.
pub const UNREACHABLE: &str = "Could not reach Gatehouse. Check your connection and try again.";

/// Where the site's built files are served from.
const BUILT_FILES: &str = "/pkg/";

/// The id of every page's `<main>`: an answer without it is not one of the app's pages.
const MAIN: &str = "main";

/// Whether a same-site address is one of the app's pages (not the API, its documentation or
/// a built file), which can be fetched and put in place.
pub fn is_page(url: &Url) -> bool {
    let path = url.pathname();
    let Some(current) = current_url() else {
        return false;
    };
    url.origin() == current.origin()
        && !["/api/", "/docs", BUILT_FILES, "/metrics", "/health"]
            .iter()
            .any(|prefix| path.starts_with(prefix))
        && !path.rsplit('/').next().unwrap_or_default().contains('.')
}

pub fn on_click(event: Event) {
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
    let rel = anchor.get_attribute(REL).unwrap_or_default();
    if !anchor.get_attribute(TARGET).unwrap_or_default().is_empty()
        || anchor.has_attribute(DOWNLOAD)
        || rel.split_whitespace().any(|rel| rel == "external")
    {
        return;
    }
    let (Ok(url), Some(current)) = (Url::new(&anchor.href()), current_url()) else {
        return;
    };
    if focus::follow_in_page(&url, &current) {
        event.prevent_default();
        return;
    }
    if !is_page(&url) {
        return;
    }
    event.prevent_default();
    spawn_local(visit(Visit::link(url.href())));
}

pub fn on_popstate(_: Event) {
    spawn_local(visit(Visit::back()));
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
pub struct Visit {
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
    pub fn link(url: String) -> Self {
        Self {
            url,
            post: None,
            history: History::Push,
            focus_after: None,
            focused: None,
        }
    }

    pub fn post(url: String, fields: UrlSearchParams, focus_after: Option<String>) -> Self {
        Self {
            url,
            post: Some(fields),
            history: History::Push,
            focus_after,
            focused: focus::focused_id(),
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
pub async fn visit_or_fail(visit: Visit) -> Result<(), String> {
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
    let (Some(new_body), true) = (page.body(), page.get_element_by_id(MAIN).is_some()) else {
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
    // A form's answer can be loaded again only from where the server redirected it (its own
    // address would send the form a second time); one that was not redirected is put in place.
    let reloadable = visit.post.is_none() || response.redirected();
    if reloadable && document().is_some_and(|open| built_files(&page) != built_files(&open)) {
        let location = window.location();
        let _ = match visit.history {
            History::Push => location.assign(&address),
            History::Keep => location.replace(&address),
        };
        return Ok(());
    }
    put_in_place(&window, &page, &new_body, &address, &visit);
    Ok(())
}

/// The built files a page's `<head>` names (its script, wasm and stylesheet; with `make
/// release` their names carry content hashes), in a stable order.
fn built_files(page: &Document) -> Vec<String> {
    let (Some(root), Some(base)) = (page.document_element(), current_url()) else {
        return Vec::new();
    };
    let mut files: Vec<String> = all(&root, "head link[href], head script[src]")
        .iter()
        .filter_map(|element| {
            element
                .get_attribute("href")
                .or_else(|| element.get_attribute("src"))
        })
        .filter(|address| {
            Url::new_with_base(address, &base.href())
                .is_ok_and(|url| url.pathname().starts_with(BUILT_FILES))
        })
        .collect();
    files.sort();
    files.dedup();
    files
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
    let focused = visit.focused.clone().or_else(focus::focused_id);
    // A form the server refused comes back to the same page with its error in the address
    // (`__err`, for the plain post without JavaScript): here the page shows it, and the
    // address stays the one the person was on.
    let refused = visit.post.is_some() && answer.search_params().has("__err");
    document.set_title(&page.title());
    body.set_inner_html(&new_body.inner_html());
    reveal::reveal_all(&body);
    super::passkeys::page_shown();
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
    Settle {
        focus_after: visit.focus_after.as_deref(),
        focused,
        stays,
        address,
    }
    .apply(&body);
}
