use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::status::Loaded;
use crate::components::{provide_now, Ago};
use crate::domain::{ActivityView, AppError};

/// Entries per page.
const PAGE: usize = 50;

#[server(endpoint = "activity")]
pub async fn list_activity(before: Option<i64>) -> Result<Vec<ActivityView>, AppError> {
    use crate::server::{accounts::audit, http::context};
    let user = context::current_user()?;
    let state = context::state()?;
    let limit = PAGE as i64 + 1;
    audit::for_subject(&state.db, user.user_id, before, limit, audit::Reader::Owner).await
}

/// The person's own security events, newest first.
#[component]
pub fn ActivityPage() -> impl IntoView {
    provide_now();
    let query = use_query_map();
    let before = move || {
        query
            .read()
            .get("before")
            .and_then(|b| b.parse::<i64>().ok())
    };
    let events = Resource::new(before, list_activity);
    view! {
        <Title text="Security activity"/>
        <h1>"Security activity"</h1>
        <p>"What happened to your account, newest first. Something you do not recognise? Change your password and log out your other sessions."</p>
        <Loaded
            resource=events
            ready={|mut list: Vec<ActivityView>| {
                let older = (list.len() > PAGE).then(|| {
                    list.truncate(PAGE);
                    list.last().map(|e| format!("/activity?before={}", e.id))
                }).flatten();
                if list.is_empty() {
                    return view! { <p class="empty">"Nothing yet."</p> }.into_any();
                }
                view! {
                    <ol class="activity" aria-label="Security activity">
                        {list
                            .into_iter()
                            .map(|event| {
                                view! {
                                    <li>
                                        <Ago at=event.at.clone()/>
                                        " "
                                        <span>{event.text}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ol>
                    {older.map(|href| view! { <p><a href=href>"Older events"</a></p> })}
                }
                    .into_any()
            }}
        />
    }
}
