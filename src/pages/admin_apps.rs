//! `/admin/apps`: the apps that may log people in through Gatehouse (SPEC §8), for admins.
//! A new app's secret is shown once, to the admin who added it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::components::form::{
    form_error, ErrorSummary, Field, FormAction, SubmitButton, ValidatedForm,
};
use crate::components::nav::caller_is_admin;
use crate::components::status::Loaded;
use crate::components::ColumnHeads;
use crate::domain::AppError;
use crate::pages::not_found::NotFound;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppRow {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppsOverview {
    pub apps: Vec<AppRow>,
    /// The app just added, with its secret (confidential apps), shown this once.
    pub added: Option<(String, Option<String>)>,
}

#[server(endpoint = "admin_apps")]
pub async fn admin_apps(added: Option<String>) -> Result<AppsOverview, AppError> {
    use crate::server::accounts::admin;
    use crate::server::http::context;
    use crate::server::oidc::clients;
    let caller = context::current_user().map_err(|_| AppError::not_found())?;
    admin::require_admin(&caller).map_err(|_| AppError::not_found())?;
    let state = context::state()?;
    let apps: Vec<AppRow> = clients::list(&state)
        .await?
        .into_iter()
        .map(|view| AppRow {
            client_id: view.client_id,
            name: view.name,
            redirect_uris: view.redirect_uris,
            post_logout_redirect_uris: view.post_logout_redirect_uris,
            public: view.public,
        })
        .collect();
    let added = match added.filter(|id| apps.iter().any(|app| app.client_id == *id)) {
        Some(id) => {
            let secret = clients::take_new_secret(&state, &id, caller.user_id).await?;
            Some((id, secret))
        }
        None => None,
    };
    Ok(AppsOverview { apps, added })
}

#[server(endpoint = "add_app")]
pub async fn add_app(
    name: String,
    redirect_uris: String,
    post_logout_redirect_uris: Option<String>,
    public: Option<String>,
) -> Result<(), AppError> {
    use crate::server::accounts::admin;
    use crate::server::http::context;
    use crate::server::oidc::clients::{self, Registration};
    let caller = context::current_user().map_err(|_| AppError::not_found())?;
    admin::require_admin(&caller).map_err(|_| AppError::not_found())?;
    let state = context::state()?;
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_string)
            .collect()
    };
    let post_logout = post_logout_redirect_uris.unwrap_or_default();
    let registration = Registration {
        name: &name,
        redirect_uris: &lines(&redirect_uris),
        post_logout_redirect_uris: &lines(&post_logout),
        public: public.is_some(),
    };
    let added = clients::add(&state, &registration, Some(caller.user_id))
        .await
        .map_err(|err| {
            err.with_values([
                ("name", name.as_str()),
                ("redirect_uris", redirect_uris.as_str()),
                ("post_logout_redirect_uris", post_logout.as_str()),
            ])
        })?;
    clients::audit_added(
        &state,
        &caller,
        &context::client()?,
        &added.client_id,
        &name,
    );
    let query = serde_urlencoded::to_string([("added", added.client_id.as_str())])
        .map_err(AppError::internal_from)?;
    leptos_axum::redirect(&format!("/admin/apps?{query}"));
    Ok(())
}

#[server(endpoint = "remove_app")]
pub async fn remove_app(client_id: String) -> Result<(), AppError> {
    use crate::server::accounts::admin;
    use crate::server::http::context;
    use crate::server::oidc::clients;
    let caller = context::current_user().map_err(|_| AppError::not_found())?;
    admin::require_admin(&caller).map_err(|_| AppError::not_found())?;
    let state = context::state()?;
    match clients::remove(&state, &client_id).await? {
        Some(name) => {
            clients::audit_removed(&state, &caller, &context::client()?, &client_id, &name);
            leptos_axum::redirect("/admin/apps");
            Ok(())
        }
        None => Err(AppError::new(
            crate::domain::ErrorKind::NotFound,
            "That app was removed already.",
        )),
    }
}

#[component]
pub fn AdminAppsPage() -> impl IntoView {
    if !caller_is_admin() {
        return view! { <NotFound/> }.into_any();
    }
    let add = FormAction::<AddApp>::new();
    let add_error = form_error(add);
    let remove = FormAction::<RemoveApp>::new();
    let remove_error = form_error(remove);
    let query = use_query_map();
    let added = query.read_untracked().get("added");
    let apps = Resource::new(move || added.clone(), admin_apps);
    view! {
        <Title text="Apps"/>
        <h1>"Apps"</h1>
        <p>"Apps listed here may send people to Gatehouse to log in (OpenID Connect). Each gets a client ID; a confidential app also gets a secret, shown once."</p>
        <ErrorSummary error=remove_error/>
        <Loaded
            resource=apps
            ready={move |AppsOverview { apps, added }: AppsOverview| {
                let added = added.map(|(id, secret)| view! {
                    <section class="notice" role="status" aria-labelledby="added-heading">
                        <h2 id="added-heading">"App added"</h2>
                        <dl>
                            <dt>"Client ID"</dt>
                            <dd><code data-client-id="">{id}</code></dd>
                            {secret.map(|secret| view! {
                                <dt>"Client secret"</dt>
                                <dd><code data-client-secret="">{secret}</code></dd>
                            })}
                        </dl>
                        <p>"Copy the secret now: it is not shown again."</p>
                    </section>
                });
                let list = if apps.is_empty() {
                    view! { <p class="empty">"No apps yet."</p> }.into_any()
                } else {
                    view! {
                        <table class="apps">
                            <ColumnHeads columns=&["Name", "Client ID", "Redirect URIs", "Type"] actions="Action"/>
                            <tbody>
                                {apps.into_iter().map(|app| view! {
                                    <tr>
                                        <td>{app.name}</td>
                                        <td data-label="Client ID"><code>{app.client_id.clone()}</code></td>
                                        <td data-label="Redirect URIs">
                                            <ul class="plain">
                                                {app.redirect_uris.into_iter().map(|uri| view! { <li>{uri}</li> }).collect_view()}
                                            </ul>
                                        </td>
                                        <td data-label="Type">{if app.public { "Public" } else { "Confidential" }}</td>
                                        <td>
                                            <form action=remove.url() method="post">
                                                <input type="hidden" name="client_id" value=app.client_id/>
                                                <SubmitButton class="danger">"Remove"</SubmitButton>
                                            </form>
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }
                        .into_any()
                };
                view! { {added} {list} }
            }}
        />
        <section aria-labelledby="add-app-heading">
            <h2 id="add-app-heading">"Add app"</h2>
            <ValidatedForm action=add label="Add app">
                <ErrorSummary error=add_error form="app" fields=&["name", "redirect_uris", "post_logout_redirect_uris"]/>
                <Field label="Name" name="name" form="app" error=add_error/>
                <Field label="Redirect URIs" name="redirect_uris" form="app" multiline=true error=add_error hint="One per line, exactly as the app sends them."/>
                <Field label="Addresses after logout" name="post_logout_redirect_uris" form="app" multiline=true error=add_error hint="Optional: where the app may send people after logging them out (post-logout redirect URIs), one per line."/>
                <div class="checkbox">
                    <input type="checkbox" id="app-public" name="public"/>
                    <label for="app-public">"Public app (runs in a browser or on a device: no secret)"</label>
                </div>
                <SubmitButton>"Add app"</SubmitButton>
            </ValidatedForm>
        </section>
    }
    .into_any()
}
