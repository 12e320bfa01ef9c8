use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::components::form::{form_error, ErrorSummary, FormAction};
use crate::components::nav::caller_is_admin;
use crate::components::status::Loaded;
use crate::components::{human_time, provide_now, Ago};
use crate::domain::{ActivityView, AdminUserView, AppError, SessionView};
use crate::pages::admin_users::{AdminAction, AdminActions};
use crate::pages::not_found::NotFound;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminUserPage {
    pub user: AdminUserView,
    /// "Authenticator app, 8 recovery codes left", or "Off".
    pub two_step: String,
    pub sessions: Vec<SessionView>,
    pub events: Vec<ActivityView>,
}

#[server(endpoint = "admin_user")]
pub async fn load_user(id: i64) -> Result<AdminUserPage, AppError> {
    use crate::server::{accounts::admin, http::context};
    let caller = context::current_user().map_err(|_| AppError::not_found())?;
    admin::require_admin(&caller).map_err(|_| AppError::not_found())?;
    let state = context::state()?;
    let detail = admin::user_detail(&state, &caller, id).await?;
    let factors = crate::server::accounts::two_step::status(&state, id).await?;
    let two_step = if factors.app_on {
        format!(
            "Authenticator app, {} recovery codes left",
            factors.codes_left
        )
    } else {
        "Off".to_string()
    };
    let live = detail.sessions.len() as i64;
    let last_seen = detail.sessions.iter().map(|s| s.last_used_at.clone()).max();
    Ok(AdminUserPage {
        user: AdminUserView {
            user: detail.user.view(),
            last_seen_at: last_seen,
            live_sessions: live,
        },
        sessions: detail.sessions,
        events: detail.events,
        two_step,
    })
}

/// One account: its details, the actions on it, its sessions and its audit trail.
#[component]
pub fn AdminUserPage() -> impl IntoView {
    if !caller_is_admin() {
        return view! { <NotFound/> }.into_any();
    }
    provide_now();
    let action = FormAction::<AdminAction>::new();
    let error = form_error(action);
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let page = Resource::new(id, load_user);
    view! {
        <Title text="User"/>
        <p><a href="/admin/users">"All users"</a></p>
        <ErrorSummary error/>
        <Loaded
            resource=page
            ready={move |page: AdminUserPage| {
                let user = page.user.user.clone();
                view! {
                    <h1>{user.email.clone()}</h1>
                    <dl class="details">
                        <dt>"Username"</dt><dd>{user.username.clone()}</dd>
                        <dt>"Role"</dt><dd>{user.role.as_str()}</dd>
                        <dt>"Active"</dt><dd>{if user.is_active { "yes" } else { "no" }}</dd>
                        <dt>"Email"</dt><dd>{if user.email_verified { "Verified" } else { "Not verified" }}</dd>
                        <dt>"Created"</dt><dd>{human_time(&user.created_at)}</dd>
                        <dt>"Two-step verification"</dt><dd>{page.two_step.clone()}</dd>
                    </dl>
                    <AdminActions user=page.user.clone() action/>
                    <div class="actions">
                        <form action=action.url() method="post" class="inline-form">
                            <input type="hidden" name="id" value=user.id/>
                            <input type="hidden" name="action" value="send_password_reset"/>
                            <button type="submit" class="secondary">"Send password reset link"</button>
                        </form>
                        {(!user.email_verified).then(|| view! {
                            <form action=action.url() method="post" class="inline-form">
                                <input type="hidden" name="id" value=user.id/>
                                <input type="hidden" name="action" value="send_verification"/>
                                <button type="submit" class="secondary">"Resend verification"</button>
                            </form>
                        })}
                        <form action=action.url() method="post" class="inline-form">
                            <input type="hidden" name="id" value=user.id/>
                            <input type="hidden" name="action" value="reset_two_step"/>
                            <button type="submit" class="secondary">"Reset two-step verification"</button>
                        </form>
                    </div>
                    <h2>"Sessions"</h2>
                    <ul>
                        {page.sessions.into_iter().map(|s| view! {
                            <li>{format!("{}, {}, last used ", s.device, s.ip_address)}<Ago at=s.last_used_at.clone()/></li>
                        }).collect_view()}
                    </ul>
                    <h2>"Security activity"</h2>
                    <ol class="activity">
                        {page.events.into_iter().map(|e| view! {
                            <li><Ago at=e.at.clone()/>" "{e.text}</li>
                        }).collect_view()}
                    </ol>
                }
            }}
        />
    }
    .into_any()
}
