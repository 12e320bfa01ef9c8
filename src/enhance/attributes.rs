//! Every attribute the browser layer honours: the contract between the server's pages and
//! this layer. A page asks for a behaviour with one of these; nothing else on a page changes
//! what the layer does.

// The pages' own attributes.

/// On a form: the id that takes keyboard focus after its answer, when the page that answers
/// names nothing itself (`autofocus`).
pub const FOCUS_AFTER: &str = "data-focus-after";
/// On a form: words a new password must not be built from (the account's email and username),
/// for the check before sending.
pub const PASSWORD_CONTEXT: &str = "data-password-context";
/// On a part of a form: the id of the field it waits for; it is shown while that field differs
/// from `data-saved`.
pub const REVEAL_FOR: &str = "data-reveal-for";
/// Beside `data-reveal-for`: the field's saved value, trimmed and in lower case.
pub const SAVED: &str = "data-saved";
/// Beside `data-reveal-for`: the server asked for the part, so it stays shown.
pub const ASKED: &str = "data-asked";
/// On a button: the passkey ceremony it runs (`add`, `login`, `second-step`; see `passkeys`).
pub const PASSKEY: &str = "data-passkey";
/// Where a passkey button's messages are shown (in the same section or form).
pub const PASSKEY_STATUS: &str = "data-passkey-status";
/// On a form: the browser sends it itself (its answer leads to another site).
pub const NATIVE: &str = "data-native";
/// Set on `<body>` once the layer runs (the end-to-end tests wait for it).
pub const HYDRATED: &str = "data-hydrated";

// HTML's own, honoured as a browser would.

/// A form's address and method, and its submitter's overrides of them.
pub const ACTION: &str = "action";
pub const METHOD: &str = "method";
pub const FORM_ACTION: &str = "formaction";
pub const FORM_METHOD: &str = "formmethod";
/// A form (or link) aimed at another browsing context, and a submitter's override: left to the
/// browser.
pub const TARGET: &str = "target";
pub const FORM_TARGET: &str = "formtarget";
/// A form's encoding and a submitter's override: anything but a plain form post is left to the
/// browser.
pub const ENCTYPE: &str = "enctype";
pub const FORM_ENCTYPE: &str = "formenctype";
/// On a link: a download, or (`rel="external"`) a page to load in full, left to the browser.
pub const DOWNLOAD: &str = "download";
pub const REL: &str = "rel";
/// What a page that was put in place asks to focus first (an error summary, a field opened
/// for editing), as the browser does on a full load.
pub const AUTOFOCUS: &str = "autofocus";

// Written by the layer.

/// On a form on its way and its submit buttons (which are also `disabled`); a busy form is
/// not sent again.
pub const ARIA_BUSY: &str = "aria-busy";
pub const DISABLED: &str = "disabled";
/// On a field with a problem found before sending, tied to its message.
pub const ARIA_INVALID: &str = "aria-invalid";
pub const ARIA_DESCRIBEDBY: &str = "aria-describedby";
