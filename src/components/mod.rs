//! Pieces shared by several pages.

pub mod form;
pub mod nav;
pub mod status;

/// "2026-11-21T17:13:00Z" → "21 November 2026".
pub fn human_date(rfc3339: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let mut parts = rfc3339.get(..10).unwrap_or_default().split('-');
    let (Some(year), Some(month), Some(day)) = (parts.next(), parts.next(), parts.next()) else {
        return rfc3339.to_string();
    };
    let month = month
        .parse::<usize>()
        .ok()
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or(month);
    format!("{} {month} {year}", day.trim_start_matches('0'))
}

/// "2026-11-21T17:13:05Z" → "2026-11-21 17:13 UTC".
pub fn human_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => rfc3339.to_string(),
    }
}

/// Unix seconds of an RFC 3339 UTC time as the server writes it ("2026-11-21T17:13:05Z").
pub fn unix_seconds(rfc3339: &str) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| rfc3339.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// "just now", "3 minutes ago", "yesterday", "5 days ago"; past a month, the date.
pub fn relative_time(rfc3339: &str, now: i64) -> String {
    let Some(at) = unix_seconds(rfc3339) else {
        return rfc3339.to_string();
    };
    let ago = (now - at).max(0);
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    match ago {
        0..=59 => "just now".to_string(),
        60..=3_599 => plural(ago / 60, "minute"),
        3_600..=86_399 => plural(ago / 3_600, "hour"),
        86_400..=172_799 => "yesterday".to_string(),
        172_800..=2_591_999 => plural(ago / 86_400, "day"),
        _ => human_date(rfc3339),
    }
}

/// Now, in Unix seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The "now" every `Ago` of a page measures from.
#[derive(Clone, Copy)]
struct Now(i64);

/// Gives the calling page one "now", so every time on it is measured from the same moment.
/// Pages that show `Ago` call it first.
pub fn provide_now() {
    leptos::prelude::provide_context(Now(now_unix()));
}

/// A time as people say it ("3 minutes ago"), with the exact time on hover, relative to the
/// page's `provide_now`.
#[leptos::component]
pub fn Ago(#[prop(into)] at: String) -> impl leptos::IntoView {
    use leptos::prelude::*;
    let now = use_context::<Now>().map_or_else(now_unix, |now| now.0);
    let words = relative_time(&at, now);
    let exact = human_time(&at);
    view! { <time datetime=at title=exact>{words}</time> }
}

/// A link to an element on this page. Without JavaScript the browser moves focus there; in a
/// browser `enhance` does the same for every such link.
#[leptos::component]
pub fn FocusLink(
    /// The target's id, without `#`.
    target: String,
    #[prop(optional)] class: &'static str,
    children: leptos::prelude::Children,
) -> impl leptos::IntoView {
    use leptos::prelude::*;
    let href = format!("#{target}");
    if class.is_empty() {
        view! { <a href=href>{children()}</a> }.into_any()
    } else {
        view! { <a href=href class=class>{children()}</a> }.into_any()
    }
}

/// A table's header row: one column per name, and a last one for each row's buttons, named
/// for screen readers only.
#[leptos::component]
pub fn ColumnHeads(
    columns: &'static [&'static str],
    actions: &'static str,
) -> impl leptos::IntoView {
    use leptos::prelude::*;
    view! {
        <thead>
            <tr>
                {columns.iter().map(|name| view! { <th scope="col">{*name}</th> }).collect_view()}
                <th scope="col"><span class="visually-hidden">{actions}</span></th>
            </tr>
        </thead>
    }
}

/// Percent-encodes a path for use as a query value.
pub fn encode_query_value(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_words() {
        assert_eq!(human_date("2026-11-01T17:13:00Z"), "1 November 2026");
        assert_eq!(human_time("2026-11-01T17:13:05Z"), "2026-11-01 17:13 UTC");
    }

    #[test]
    fn times_read_relative_to_now() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2026-11-22T04:23:48Z"), Some(1_795_321_428));
        assert_eq!(unix_seconds("2000-02-29T12:00:00Z"), Some(951_825_600));
        let at = "2026-11-22T04:00:00Z";
        let t = unix_seconds(at).unwrap();
        assert_eq!(relative_time(at, t + 30), "just now");
        assert_eq!(relative_time(at, t + 60), "1 minute ago");
        assert_eq!(relative_time(at, t + 3 * 60 + 59), "3 minutes ago");
        assert_eq!(relative_time(at, t + 2 * 3600), "2 hours ago");
        assert_eq!(relative_time(at, t + 86_400 + 5), "yesterday");
        assert_eq!(relative_time(at, t + 5 * 86_400), "5 days ago");
        assert_eq!(relative_time(at, t + 40 * 86_400), "22 November 2026");
        assert_eq!(relative_time("garbage", t), "garbage");
    }
}
