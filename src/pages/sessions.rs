use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::form::{form_error, ErrorSummary, FormAction, SubmitButton};
use crate::components::status::Loaded;
use crate::components::{provide_now, Ago, ColumnHeads};
use crate::domain::{AppError, SessionView};

#[server(endpoint = "sessions")]
pub async fn list_sessions() -> Result<Vec<SessionView>, AppError> {
    use crate::server::{http::context, sessions};
    let user = context::current_user()?;
    sessions::list(&context::state()?, &user).await
}

#[server(endpoint = "end_session")]
pub async fn end_session(id: String) -> Result<(), AppError> {
    use crate::server::{http::context, sessions};
    let user = context::current_user()?;
    if sessions::end_owned(&context::state()?, user.user_id, &id).await? {
        Ok(())
    } else {
        Err(AppError::new(
            crate::domain::ErrorKind::NotFound,
            "That session has already ended.",
        ))
    }
}

#[server(endpoint = "end_other_sessions")]
pub async fn end_other_sessions() -> Result<(), AppError> {
    use crate::server::{http::context, sessions};
    let user = context::current_user()?;
    sessions::end_all_for_user(
        &context::state()?,
        user.user_id,
        Some(&user.session_id),
        sessions::EndReason::LoggedOutElsewhere,
    )
    .await?;
    Ok(())
}

#[component]
pub fn SessionsPage() -> impl IntoView {
    provide_now();
    let end_one = FormAction::<EndSession>::new();
    let end_others = FormAction::<EndOtherSessions>::new();
    let sessions = Resource::new(|| (), |_| list_sessions());
    let end_one_error = form_error(end_one);
    view! {
        <Title text="Your sessions"/>
        <h1>"Your sessions"</h1>
        <p>"These are the places where you are logged in. Log out any you do not recognise."</p>
        <ErrorSummary error=end_one_error/>
        <Loaded
            resource=sessions
            ready={move |list: Vec<SessionView>| {
                let others = list.iter().filter(|s| !s.current).count();
                view! {
                    <table class="sessions">
                        <ColumnHeads columns=&["Device", "Address", "Signed in with", "Started", "Last used"] actions="Action"/>
                        <tbody>
                            {list
                                .into_iter()
                                .map(|session| view! { <SessionRow session action=end_one/> })
                                .collect_view()}
                        </tbody>
                    </table>
                    <Show when=move || { others > 0 }>
                        <form action=end_others.url() method="post">
                            <SubmitButton>"Log out everywhere else"</SubmitButton>
                        </form>
                    </Show>
                }
            }}
        />
    }
}

#[component]
fn SessionRow(session: SessionView, action: FormAction<EndSession>) -> impl IntoView {
    let id = session.id.clone();
    view! {
        <tr data-session=session.id.clone()>
            <td class="device">{session.device}</td>
            <td data-label="Address">{session.ip_address}</td>
            <td data-label="Signed in with">{session.signed_in_with}</td>
            <td data-label="Started"><Ago at=session.created_at/></td>
            <td data-label="Last used"><Ago at=session.last_used_at/></td>
            <td>
                {if session.current {
                    view! { <strong class="badge">"This device"</strong> }.into_any()
                } else {
                    view! {
                        <form action=action.url() method="post">
                            <input type="hidden" name="id" value=id/>
                            <SubmitButton class="quiet">"Log out"</SubmitButton>
                        </form>
                    }
                        .into_any()
                }}
            </td>
        </tr>
    }
}
