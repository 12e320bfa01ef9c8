use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::components::form::{form_error, ErrorSummary, Field, SubmitButton, ValidatedForm};
use crate::components::status::Loaded;
use crate::domain::{check_project, AppError, ProjectView};

#[server(endpoint = "projects")]
pub async fn list_projects() -> Result<Vec<ProjectView>, AppError> {
    use crate::server::{context, projects};
    let user = context::current_user()?;
    projects::list(&context::state()?, user.user_id).await
}

#[server(endpoint = "create_project")]
pub async fn create_project(name: String, description: String) -> Result<ProjectView, AppError> {
    use crate::server::{context, projects, resubmit};
    let user = context::current_user()?;
    let state = context::state()?;
    let key = resubmit::fingerprint(&(user.user_id, "project", name.trim(), description.trim()));
    resubmit::once(
        &state,
        key,
        || async {
            let input = projects::ProjectInput {
                name: Some(&name),
                description: Some(&description),
            };
            let project = projects::create(&state, user.user_id, input).await?;
            let id = project.id;
            Ok((project, id))
        },
        |id| projects::get(&state, user.user_id, id),
    )
    .await
}

#[component]
pub fn ProjectsPage() -> impl IntoView {
    let create = ServerAction::<CreateProject>::new();
    let projects = Resource::new(move || create.version().get(), |_| list_projects());
    let local = RwSignal::new(None);
    let error = form_error(create, local);
    let check = Callback::new(|input: CreateProject| {
        check_project(Some(&input.name), Some(&input.description)).err()
    });
    view! {
        <Title text="Your projects"/>
        <h1>"Your projects"</h1>
        <section class="card" aria-labelledby="new-project-title">
            <h2 id="new-project-title">"New project"</h2>
            <ValidatedForm action=create local_error=local check label="New project" reset_on_success=true>
                <ErrorSummary error form="project" fields=&["name", "description"]/>
                <Field label="Name" name="name" form="project" error/>
                <Field label="Description" name="description" form="project" multiline=true error/>
                <SubmitButton pending=create.pending()>"Create project"</SubmitButton>
            </ValidatedForm>
        </section>
        <Loaded
            resource=projects
            ready={|list: Vec<ProjectView>| {
                if list.is_empty() {
                    view! { <p class="empty">"No projects yet. Create your first one above."</p> }
                        .into_any()
                } else {
                    view! {
                        <ul class="projects" aria-label="Projects">
                            {list.into_iter().map(|p| view! { <ProjectItem project=p/> }).collect_view()}
                        </ul>
                    }
                        .into_any()
                }
            }}
        />
    }
}

#[component]
fn ProjectItem(project: ProjectView) -> impl IntoView {
    let href = format!("/projects/{}", project.id);
    let delete_href = format!("/projects/{}/delete", project.id);
    let name = project.name.clone();
    view! {
        <li class="project" aria-label=name>
            <div>
                <A href=href attr:class="project-name">{project.name}</A>
                <p class="muted">{project.description}</p>
            </div>
            <span class="count">{format!("{} / {} done", project.done_count, project.task_count)}</span>
            // Navigation to the confirmation page, as a real button that needs no JavaScript.
            <form action=delete_href method="get">
                <button type="submit" class="quiet danger">"Delete"</button>
            </form>
        </li>
    }
}
