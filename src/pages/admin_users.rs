use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::components::form::{form_error, ErrorSummary, FormAction};
use crate::components::nav::caller_is_admin;
use crate::components::status::Loaded;
use crate::components::{encode_query_value, human_time, ColumnHeads};
use crate::domain::{AdminUserView, AppError};
use crate::pages::not_found::NotFound;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminUsersPage {
    pub users: Vec<AdminUserView>,
    pub next_cursor: Option<String>,
}

/// The filters as the query string carries them ("" = any).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Filters {
    pub q: String,
    pub active: String,
    pub role: String,
    pub verified: String,
    pub cursor: String,
}

#[server(endpoint = "admin_users")]
pub async fn list_users(filters: Filters) -> Result<AdminUsersPage, AppError> {
    use crate::server::accounts::admin::{self, UserFilter};
    use crate::server::http::context;
    // Anyone but an admin sees the 404 page: the area does not exist for them.
    let caller = context::current_user().map_err(|_| AppError::not_found())?;
    admin::require_admin(&caller).map_err(|_| AppError::not_found())?;
    let flag = |raw: &str| match raw {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    let filter = UserFilter {
        query: Some(filters.q.clone()),
        active: flag(&filters.active),
        role: crate::domain::Role::parse(&filters.role),
        verified: flag(&filters.verified),
    };
    let page =
        admin::list_users(&context::state()?, &caller, &filter, Some(&filters.cursor)).await?;
    Ok(AdminUsersPage {
        users: page.users,
        next_cursor: page.next_cursor,
    })
}

#[server(endpoint = "admin_action")]
pub async fn admin_action(id: i64, action: String) -> Result<(), AppError> {
    use crate::server::accounts::admin::{self, Action};
    use crate::server::http::context;
    let caller = context::current_user().map_err(|_| AppError::not_found())?;
    let action: Action = serde_json::from_value(serde_json::Value::String(action))
        .map_err(|_| AppError::bad_request("Unknown action."))?;
    admin::act(&context::state()?, &caller, &context::client()?, id, action).await
}

/// The buttons that act on one account.
#[component]
pub fn AdminActions(user: AdminUserView, action: FormAction<AdminAction>) -> impl IntoView {
    let id = user.user.id;
    let button = move |name: &'static str, label: &'static str, class: &'static str| {
        view! {
            <form action=action.url() method="post" class="inline-form">
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="action" value=name/>
                <button type="submit" class=class>{label}</button>
            </form>
        }
    };
    view! {
        <div class="actions">
            {if user.user.is_active {
                button("deactivate", "Deactivate", "danger")
            } else {
                button("reactivate", "Reactivate", "secondary")
            }}
            {button("log_out_everywhere", "Log out everywhere", "secondary")}
            {if user.user.role == crate::domain::Role::Admin {
                button("make_user", "Make user", "secondary")
            } else {
                button("make_admin", "Make admin", "secondary")
            }}
        </div>
    }
}

fn yes_no(flag: bool) -> &'static str {
    if flag {
        "yes"
    } else {
        "no"
    }
}

/// Every account: search, filters, pages of 50, and the actions on each.
#[component]
pub fn AdminUsersPage() -> impl IntoView {
    if !caller_is_admin() {
        return view! { <NotFound/> }.into_any();
    }
    let action = FormAction::<AdminAction>::new();
    let error = form_error(action);
    let query = use_query_map();
    let filters = move || {
        let query = query.read();
        let get = |name: &str| query.get(name).unwrap_or_default();
        Filters {
            q: get("q"),
            active: get("active"),
            role: get("role"),
            verified: get("verified"),
            cursor: get("cursor"),
        }
    };
    let page = Resource::new(filters, list_users);
    let current = filters();
    let option = |value: &'static str, label: &'static str, chosen: &str| {
        view! { <option value=value selected=chosen == value>{label}</option> }
    };
    view! {
        <Title text="Users"/>
        <h1>"Users"</h1>
        <form method="get" action="/admin/users" class="filters" role="search" aria-label="Find users">
            <label for="admin-search">"Search"</label>
            <input id="admin-search" type="search" name="q" value=current.q.clone() placeholder="Email or username"/>
            <label for="admin-active">"Status"</label>
            <select id="admin-active" name="active">
                {option("", "Any", &current.active)}
                {option("yes", "Active", &current.active)}
                {option("no", "Deactivated", &current.active)}
            </select>
            <label for="admin-role">"Role"</label>
            <select id="admin-role" name="role">
                {option("", "Any", &current.role)}
                {option("user", "User", &current.role)}
                {option("admin", "Admin", &current.role)}
            </select>
            <label for="admin-verified">"Email"</label>
            <select id="admin-verified" name="verified">
                {option("", "Any", &current.verified)}
                {option("yes", "Verified", &current.verified)}
                {option("no", "Not verified", &current.verified)}
            </select>
            <button type="submit">"Search"</button>
        </form>
        <ErrorSummary error/>
        <Loaded
            resource=page
            ready={move |page: AdminUsersPage| {
                let next = page.next_cursor.map(|cursor| {
                    let f = filters();
                    let query = query_string(&[
                        ("q", &f.q),
                        ("active", &f.active),
                        ("role", &f.role),
                        ("verified", &f.verified),
                        ("cursor", &cursor),
                    ]);
                    format!("/admin/users?{query}")
                });
                view! {
                    <table class="users">
                        <ColumnHeads
                            columns=&["Email", "Username", "Role", "Active", "Verified", "Created", "Last seen", "Live sessions"]
                            actions="Actions"
                        />
                        <tbody>
                            {page
                                .users
                                .into_iter()
                                .map(|row| {
                                    let href = format!("/admin/users/{}", row.user.id);
                                    let email = row.user.email.clone();
                                    let username = row.user.username.clone();
                                    let role = row.user.role.as_str();
                                    let active = yes_no(row.user.is_active);
                                    let verified = yes_no(row.user.email_verified);
                                    let created = human_time(&row.user.created_at);
                                    let seen = row
                                        .last_seen_at
                                        .as_deref()
                                        .map(human_time)
                                        .unwrap_or_else(|| "never".into());
                                    let live = row.live_sessions;
                                    view! {
                                        <tr>
                                            <td><a href=href>{email}</a></td>
                                            <td>{username}</td>
                                            <td>{role}</td>
                                            <td>{active}</td>
                                            <td>{verified}</td>
                                            <td>{created}</td>
                                            <td>{seen}</td>
                                            <td>{live}</td>
                                            <td><AdminActions user=row action/></td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                    {next.map(|href| view! { <p><a href=href>"Next page"</a></p> })}
                }
            }}
        />
    }
    .into_any()
}

/// `a=1&b=2`, percent-encoded, leaving out empty values.
fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
        .collect::<Vec<_>>()
        .join("&")
}
