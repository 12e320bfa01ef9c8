//! `/apps`, "Connected apps": the apps the person allowed to log them in (SPEC §8), each with
//! "Remove access".

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::components::form::{form_error, ErrorSummary, FormAction, SubmitButton};
use crate::components::status::Loaded;
use crate::components::{provide_now, Ago, ColumnHeads};
use crate::domain::AppError;

/// One app the person allowed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectedApp {
    pub client_id: String,
    pub name: String,
    /// What it may do, in words.
    pub allowed: Vec<String>,
    /// RFC 3339.
    pub since: String,
}

#[server(endpoint = "connected_apps")]
pub async fn connected_apps() -> Result<Vec<ConnectedApp>, AppError> {
    use crate::server::http::context;
    let user = context::current_user()?;
    let apps = crate::server::oidc::consents::list(&context::state()?, user.user_id).await?;
    Ok(apps
        .into_iter()
        .map(|row| ConnectedApp {
            allowed: row
                .scopes
                .split(' ')
                .filter_map(crate::pages::consent::scope_words)
                .map(str::to_string)
                .collect(),
            since: crate::server::startup::clock::rfc3339(row.updated_at),
            client_id: row.client_id,
            name: row.name,
        })
        .collect())
}

#[server(endpoint = "remove_app_access")]
pub async fn remove_app_access(client_id: String) -> Result<(), AppError> {
    use crate::server::http::context;
    let user = context::current_user()?;
    let state = context::state()?;
    if crate::server::oidc::consents::remove(&state, &user, &context::client()?, &client_id).await?
    {
        Ok(())
    } else {
        Err(AppError::new(
            crate::domain::ErrorKind::NotFound,
            "That app had no access any more.",
        ))
    }
}

#[component]
pub fn AppsPage() -> impl IntoView {
    provide_now();
    let remove = FormAction::<RemoveAppAccess>::new();
    let remove_error = form_error(remove);
    let apps = Resource::new(|| (), |_| connected_apps());
    view! {
        <Title text="Connected apps"/>
        <h1>"Connected apps"</h1>
        <p>"These apps may log you in with your Gatehouse account. Removing access ends what the app was given at once; it asks again next time."</p>
        <ErrorSummary error=remove_error/>
        <Loaded
            resource=apps
            ready={move |list: Vec<ConnectedApp>| {
                if list.is_empty() {
                    return view! { <p class="empty">"You have not allowed any app yet."</p> }.into_any();
                }
                view! {
                    <table class="apps">
                        <ColumnHeads columns=&["App", "Allowed to", "Since"] actions="Action"/>
                        <tbody>
                            {list
                                .into_iter()
                                .map(|app| {
                                    view! {
                                        <tr>
                                            <td>{app.name}</td>
                                            <td data-label="Allowed to">
                                                <ul class="plain">
                                                    {app.allowed.into_iter().map(|a| view! { <li>{a}</li> }).collect_view()}
                                                </ul>
                                            </td>
                                            <td data-label="Since"><Ago at=app.since/></td>
                                            <td>
                                                <form action=remove.url() method="post">
                                                    <input type="hidden" name="client_id" value=app.client_id/>
                                                    <SubmitButton class="quiet">"Remove access"</SubmitButton>
                                                </form>
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                    .into_any()
            }}
        />
    }
}
