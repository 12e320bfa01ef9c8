//! The markup of a form's problems, as plain strings so the browser layer (which has no
//! Leptos) can show them: a summary at the top of the form (GOV.UK pattern: announced,
//! focusable, each problem a link to its field) and a message beside each field.
//!
//! The server renders the same markup with Leptos (`components::form::{ErrorSummary,
//! Field}`); a test there holds both to it.

/// One problem in a summary, linked to its field when the form has it.
pub struct SummaryEntry {
    /// The id of the field the problem is about.
    pub field_id: Option<String>,
    pub message: String,
}

/// The summary of a form's problems. One problem said the same way as the summary is a link
/// to its field by itself; otherwise the message leads a list of the problems (none: no list).
pub fn error_summary(message: &str, entries: &[SummaryEntry]) -> String {
    let link = |id: &str, text: &str| {
        format!(
            "<a href=\"#{}\">{}</a>",
            escape_attribute(id),
            escape_text(text)
        )
    };
    let content = match entries {
        [SummaryEntry {
            field_id: Some(id),
            message: only,
        }] if only == message => format!("<p>{}</p>", link(id, only)),
        _ => {
            let items: String = entries
                .iter()
                .map(|entry| match &entry.field_id {
                    Some(id) => format!("<li>{}</li>", link(id, &entry.message)),
                    None => format!("<li>{}</li>", escape_text(&entry.message)),
                })
                .collect();
            let list = if items.is_empty() {
                String::new()
            } else {
                format!("<ul>{items}</ul>")
            };
            format!("<p>{}</p>{list}", escape_text(message))
        }
    };
    format!("<div role=\"alert\" class=\"error-summary\" tabindex=\"-1\" autofocus>{content}</div>")
}

/// The id of a field's message, which the field names in `aria-describedby`.
pub fn field_error_id(field_id: &str) -> String {
    format!("{field_id}-error")
}

/// A field's message, shown beside it.
pub fn field_error(field_id: &str, message: &str) -> String {
    format!(
        "<p class=\"field-error\" id=\"{}\">{}</p>",
        escape_attribute(&field_error_id(field_id)),
        escape_text(message)
    )
}

/// Text as HTML escapes it (what Leptos escapes in text).
fn escape_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A double-quoted attribute value.
fn escape_attribute(value: &str) -> String {
    escape_text(value).replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_escaped_in_text_and_in_links() {
        let html = field_error("a\"b", "Use <b> & more");
        assert_eq!(
            html,
            "<p class=\"field-error\" id=\"a&quot;b-error\">Use &lt;b&gt; &amp; more</p>"
        );
    }

    #[test]
    fn a_summary_without_problems_has_no_empty_list() {
        let html = error_summary("Invalid email or password.", &[]);
        assert!(
            html.ends_with("<p>Invalid email or password.</p></div>"),
            "{html}"
        );
    }
}
