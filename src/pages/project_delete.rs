use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::form::{form_error, ErrorSummary, FormAction};
use crate::components::status::Loaded;
use crate::domain::AppError;
use crate::pages::project::{load_project, use_project_id, ProjectPageData};

#[server(endpoint = "delete_project")]
pub async fn delete_project(id: i64) -> Result<(), AppError> {
    use crate::server::{http::context, projects};
    let user = context::current_user()?;
    projects::delete(&context::state()?, user.user_id, id).await?;
    leptos_axum::redirect("/projects");
    Ok(())
}

/// A confirmation step as its own page, so deleting works the same without JavaScript.
#[component]
pub fn DeleteProjectPage() -> impl IntoView {
    let id = use_project_id();
    let project = Resource::new(move || id.get(), load_project);
    let delete = FormAction::<DeleteProject>::new();
    let error = form_error(delete);
    view! {
        <Title text="Delete project"/>
        <Loaded
            resource=project
            ready={move |ProjectPageData { project, .. }| {
                let back = format!("/projects/{}", project.id);
                view! {
                    <section class="card narrow danger">
                        <h1>"Delete “" {project.name.clone()} "”?"</h1>
                        <p>
                            {format!(
                                "The project and its {} task{} will be deleted. This cannot be undone.",
                                project.task_count,
                                if project.task_count == 1 { "" } else { "s" },
                            )}
                        </p>
                        <ErrorSummary error/>
                        <form action=delete.url() method="post">
                            <input type="hidden" name="id" value=project.id/>
                            <button type="submit" class="danger">"Yes, delete project"</button>
                            " "
                            <a href=back>"Cancel"</a>
                        </form>
                    </section>
                }
            }}
        />
    }
}
