//! Keyboard focus, kept where a person expects it when the page changes under them: a link
//! within the page moves focus to its target (as it does without JavaScript), and a page put
//! in place focuses what it asks for, what the form named, or the control that had focus.

use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, Url};

use super::attributes::AUTOFOCUS;
use super::document;

/// The id of the element that has keyboard focus, if it has one.
pub fn focused_id() -> Option<String> {
    document()?
        .active_element()
        .map(|element| element.id())
        .filter(|id| !id.is_empty())
}

pub fn by_id(id: &str) -> Option<HtmlElement> {
    document()?
        .get_element_by_id(id)?
        .dyn_into::<HtmlElement>()
        .ok()
}

/// Moves focus to the target of a link within this page ("Skip to main content", an error
/// summary's entries), not only the view. `false`: the link leads elsewhere, or to nothing here.
pub fn follow_in_page(link: &Url, current: &Url) -> bool {
    let same_page = link.origin() == current.origin()
        && link.pathname() == current.pathname()
        && link.search() == current.search();
    let Some(target) = same_page
        .then(|| link.hash())
        .and_then(|hash| hash.strip_prefix('#').and_then(by_id))
    else {
        return false;
    };
    let _ = target.focus();
    true
}

/// Where focus goes once a new page is in `body`.
pub struct Settle<'a> {
    /// The id the form named for after its answer (`data-focus-after`).
    pub focus_after: Option<&'a str>,
    /// The id of the control that had focus before, kept when the person stays on the page.
    pub focused: Option<String>,
    /// A form answered on its own page: the person's place is kept.
    pub stays: bool,
    /// The page's address, whose `#fragment` is scrolled to when nothing takes focus.
    pub address: &'a str,
}

impl Settle<'_> {
    /// What the page asks for first (an error summary, a field opened for editing), then what
    /// the form named, then the control that had focus, if the page still has it.
    pub fn apply(self, body: &HtmlElement) {
        let target = body
            .query_selector(&format!("[{AUTOFOCUS}]"))
            .ok()
            .flatten()
            .and_then(|element| element.dyn_into::<HtmlElement>().ok())
            .or_else(|| self.focus_after.and_then(by_id))
            .or_else(|| {
                self.stays
                    .then_some(self.focused)
                    .flatten()
                    .and_then(|id| by_id(&id))
            });
        if let Some(target) = target {
            let _ = target.focus();
        } else if let Some(element) = self.address.split_once('#').and_then(|(_, id)| by_id(id)) {
            element.scroll_into_view();
        } else if !self.stays {
            start_from_top(body);
        }
    }
}

/// Where a freshly loaded page starts: nothing focused, and the next Tab goes to the page's
/// first control (the skip link), not to where the removed element was.
fn start_from_top(body: &HtmlElement) {
    let _ = body.set_attribute("tabindex", "-1");
    let _ = body.focus();
    let _ = body.remove_attribute("tabindex");
}
