use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::form::{
    form_error, ErrorSummary, Field, FormAction, SubmitButton, ValidatedForm,
};
use crate::components::status::Loaded;
use crate::domain::{AppError, ProjectView};

/// Projects shown per page.
pub const PROJECTS_PER_PAGE: i64 = 50;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProjectsPage {
    pub projects: Vec<ProjectView>,
    /// 1-based page shown, and how many pages there are.
    pub page: i64,
    pub pages: i64,
}

#[server(endpoint = "projects")]
pub async fn list_projects(page: Option<i64>) -> Result<ProjectsPage, AppError> {
    use crate::server::{http::context, projects};
    let user = context::current_user()?;
    let state = context::state()?;
    let page = page.unwrap_or(1).max(1);
    let (mut list, total) = projects::list_page(
        &state,
        user.user_id,
        PROJECTS_PER_PAGE,
        (page - 1) * PROJECTS_PER_PAGE,
    )
    .await?;
    let pages = ((total + PROJECTS_PER_PAGE - 1) / PROJECTS_PER_PAGE).max(1);
    let shown = page.min(pages);
    if shown != page {
        // Past the end: the last page.
        list = projects::list_page(
            &state,
            user.user_id,
            PROJECTS_PER_PAGE,
            (shown - 1) * PROJECTS_PER_PAGE,
        )
        .await?
        .0;
    }
    Ok(ProjectsPage {
        projects: list,
        page: shown,
        pages,
    })
}

#[server(endpoint = "create_project")]
pub async fn create_project(name: String, description: String) -> Result<ProjectView, AppError> {
    use crate::server::{http::context, http::resubmit, projects};
    let user = context::current_user()?;
    let state = context::state()?;
    let key = resubmit::fingerprint(&(user.user_id, "project", name.trim(), description.trim()));
    resubmit::once(
        &state.resubmissions,
        state.now(),
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
    let create = FormAction::<CreateProject>::new();
    let query = leptos_router::hooks::use_query_map();
    let projects = Resource::new(
        move || query.read().get("page").and_then(|p| p.parse::<i64>().ok()),
        list_projects,
    );
    let error = form_error(create);
    view! {
        <Title text="Your projects"/>
        <h1>"Your projects"</h1>
        <section class="card" aria-labelledby="new-project-title">
            <h2 id="new-project-title">"New project"</h2>
            <ValidatedForm action=create label="New project">
                <ErrorSummary error form="project" fields=&["name", "description"]/>
                <Field label="Name" name="name" form="project" error/>
                <Field label="Description" name="description" form="project" multiline=true error/>
                <SubmitButton>"Create project"</SubmitButton>
            </ValidatedForm>
        </section>
        <Loaded
            resource=projects
            ready={|ProjectsPage { projects: list, page, pages }: ProjectsPage| {
                let pager = (pages > 1).then(|| view! {
                    <nav class="pager" aria-label="Pages of projects">
                        {(page > 1).then(|| view! { <a href=format!("/projects?page={}", page - 1) rel="prev">"Previous page"</a> })}
                        <span>{format!("Page {page} of {pages}")}</span>
                        {(page < pages).then(|| view! { <a href=format!("/projects?page={}", page + 1) rel="next">"Next page"</a> })}
                    </nav>
                });
                if list.is_empty() {
                    view! { <p class="empty">"No projects yet. Create your first one above."</p> }
                        .into_any()
                } else {
                    view! {
                        <ul class="projects" aria-label="Projects">
                            {list.into_iter().map(|p| view! { <ProjectItem project=p/> }).collect_view()}
                        </ul>
                        {pager}
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
                <a href=href class="project-name">{project.name}</a>
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
