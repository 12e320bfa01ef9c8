use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use crate::components::form::{form_error, ErrorSummary, Field, ValidatedForm};
use crate::components::status::LoadError;
use crate::domain::{check_project, check_task_title, AppError, ProjectView, TaskView};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectPageData {
    pub project: ProjectView,
    pub tasks: Vec<TaskView>,
}

#[server(endpoint = "project")]
pub async fn get_project_page(id: i64) -> Result<ProjectPageData, AppError> {
    use crate::server::{context, projects};
    let user = context::current_user()?;
    let db = context::state()?.db;
    Ok(ProjectPageData {
        project: projects::get(&db, user.user_id, id).await?,
        tasks: projects::tasks(&db, user.user_id, id).await?,
    })
}

#[server(endpoint = "update_project")]
pub async fn update_project(id: i64, name: String, description: String) -> Result<(), AppError> {
    use crate::server::{context, projects};
    let user = context::current_user()?;
    projects::update(
        &context::state()?.db,
        user.user_id,
        id,
        projects::ProjectInput {
            name: Some(&name),
            description: Some(&description),
        },
    )
    .await?;
    Ok(())
}

#[server(endpoint = "add_task")]
pub async fn add_task(project_id: i64, title: String) -> Result<(), AppError> {
    use crate::server::{context, projects};
    let user = context::current_user()?;
    projects::add_task(&context::state()?.db, user.user_id, project_id, &title).await?;
    Ok(())
}

#[server(endpoint = "set_task_done")]
pub async fn set_task_done(id: i64, done: bool) -> Result<(), AppError> {
    use crate::server::{context, projects};
    let user = context::current_user()?;
    projects::update_task(
        &context::state()?.db,
        user.user_id,
        id,
        projects::TaskChanges {
            title: None,
            done: Some(done),
        },
    )
    .await?;
    Ok(())
}

#[server(endpoint = "rename_task")]
pub async fn rename_task(id: i64, title: String) -> Result<(), AppError> {
    use crate::server::{context, projects};
    let user = context::current_user()?;
    let task = projects::update_task(
        &context::state()?.db,
        user.user_id,
        id,
        projects::TaskChanges {
            title: Some(&title),
            done: None,
        },
    )
    .await?;
    leptos_axum::redirect(&format!("/projects/{}", task.project_id));
    Ok(())
}

#[server(endpoint = "delete_task")]
pub async fn delete_task(id: i64) -> Result<(), AppError> {
    use crate::server::{context, projects};
    let user = context::current_user()?;
    projects::delete_task(&context::state()?.db, user.user_id, id).await
}

/// Every action that changes what this page shows.
#[derive(Clone, Copy)]
struct TaskActions {
    update_project: ServerAction<UpdateProject>,
    add: ServerAction<AddTask>,
    toggle: ServerAction<SetTaskDone>,
    rename: ServerAction<RenameTask>,
    delete: ServerAction<DeleteTask>,
}

impl TaskActions {
    fn versions(&self) -> [usize; 5] {
        [
            self.update_project.version().get(),
            self.add.version().get(),
            self.toggle.version().get(),
            self.rename.version().get(),
            self.delete.version().get(),
        ]
    }
}

#[component]
pub fn ProjectPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
    };
    let actions = TaskActions {
        update_project: ServerAction::new(),
        add: ServerAction::new(),
        toggle: ServerAction::new(),
        rename: ServerAction::new(),
        delete: ServerAction::new(),
    };
    let data = Resource::new(
        move || (id(), actions.versions()),
        |(id, _)| async move {
            match id {
                Some(id) => get_project_page(id).await,
                None => Err(AppError::not_found()),
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                data.get()
                    .map(|result| match result {
                        Ok(page) => view! { <ProjectDetails page actions/> }.into_any(),
                        Err(error) => view! { <LoadError error/> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

#[component]
fn ProjectDetails(page: ProjectPageData, actions: TaskActions) -> impl IntoView {
    let ProjectPageData { project, tasks } = page;
    let project_id = project.id;
    let query = use_query_map();
    let renaming = move || {
        query
            .read()
            .get("rename")
            .and_then(|id| id.parse::<i64>().ok())
    };
    let add_local = RwSignal::new(None);
    let add_error = form_error(actions.add, add_local);
    let row_errors = RwSignal::new(None);
    let toggle_error = form_error(actions.toggle, row_errors);
    let delete_error = form_error(actions.delete, row_errors);
    let check_title = Callback::new(|input: AddTask| check_task_title(&input.title).err());
    let tasks_view = tasks
        .into_iter()
        .map(|task| view! { <TaskRow task actions renaming=Signal::derive(renaming)/> })
        .collect_view();
    view! {
        <Title text=project.name.clone()/>
        <p><A href="/projects">"← All projects"</A></p>
        <h1>{project.name.clone()}</h1>
        <p class="muted">{project.description.clone()}</p>
        <p class="count">{format!("{} / {} done", project.done_count, project.task_count)}</p>

        <section class="card" aria-labelledby="tasks-title">
            <h2 id="tasks-title">"Tasks"</h2>
            <ErrorSummary error=toggle_error/>
            <ErrorSummary error=delete_error/>
            <ul class="tasks" aria-label="Tasks">{tasks_view}</ul>
            <ValidatedForm
                action=actions.add
                local_error=add_local
                check=check_title
                label="Add task"
                reset_on_success=true
                class="inline-add"
            >
                <ErrorSummary error=add_error/>
                <input type="hidden" name="project_id" value=project_id/>
                <Field label="Title" name="title" form="add-task" error=add_error/>
                <button type="submit">"Add task"</button>
            </ValidatedForm>
        </section>

        <ProjectEditForm project action=actions.update_project/>
        <p>
            <A href=format!("/projects/{project_id}/delete") attr:class="button danger" attr:role="button">
                "Delete project"
            </A>
        </p>
    }
}

#[component]
fn TaskRow(task: TaskView, actions: TaskActions, renaming: Signal<Option<i64>>) -> impl IntoView {
    let task_id = task.id;
    let title = task.title.clone();
    let is_renaming = move || renaming.get() == Some(task_id);
    let done = task.done;
    let here = format!("/projects/{}", task.project_id);
    let label = title.clone();
    view! {
        <li class=if done { "task done" } else { "task" } aria-label=label>
            <Show
                when=is_renaming
                fallback={
                    let title = title.clone();
                    let here = here.clone();
                    move || {
                        view! {
                            <span class="task-title">{title.clone()}</span>
                            <span class="task-actions">
                                <ActionForm action=actions.toggle>
                                    <input type="hidden" name="id" value=task_id/>
                                    <input type="hidden" name="done" value=(!done).to_string()/>
                                    <button type="submit">{if done { "Mark not done" } else { "Mark done" }}</button>
                                </ActionForm>
                                <Form method="GET" action=here.clone()>
                                    <input type="hidden" name="rename" value=task_id/>
                                    <button type="submit">"Rename"</button>
                                </Form>
                                <ActionForm action=actions.delete>
                                    <input type="hidden" name="id" value=task_id/>
                                    <button type="submit" class="danger">"Delete"</button>
                                </ActionForm>
                            </span>
                        }
                    }
                }
            >
                {
                    let title = title.clone();
                    let here = here.clone();
                    move || {
                        view! {
                            <RenameTaskForm
                                task_id
                                title=title.clone()
                                here=here.clone()
                                action=actions.rename
                            />
                        }
                    }
                }
            </Show>
        </li>
    }
}

#[component]
fn RenameTaskForm(
    task_id: i64,
    title: String,
    here: String,
    action: ServerAction<RenameTask>,
) -> impl IntoView {
    let local = RwSignal::new(None);
    let error = form_error(action, local);
    let check = Callback::new(|input: RenameTask| check_task_title(&input.title).err());
    view! {
        <ValidatedForm action local_error=local check label=format!("Rename {title}") class="inline-rename">
            <ErrorSummary error/>
            <input type="hidden" name="id" value=task_id/>
            <Field label="New title" name="title" form="rename" value=title.clone() error/>
            <button type="submit">"Save"</button>
            " "
            <A href=here>"Cancel"</A>
        </ValidatedForm>
    }
}

#[component]
fn ProjectEditForm(project: ProjectView, action: ServerAction<UpdateProject>) -> impl IntoView {
    let local = RwSignal::new(None);
    let error = form_error(action, local);
    let check = Callback::new(|input: UpdateProject| {
        check_project(Some(&input.name), Some(&input.description)).err()
    });
    view! {
        <section class="card" aria-labelledby="edit-project-title">
            <h2 id="edit-project-title">"Edit project"</h2>
            <ValidatedForm action local_error=local check label="Edit project">
                <ErrorSummary error/>
                <input type="hidden" name="id" value=project.id/>
                <Field label="Name" name="name" form="edit-project" value=project.name.clone() error/>
                <Field
                    label="Description"
                    name="description"
                    form="edit-project"
                    value=project.description.clone()
                    multiline=true
                    error
                />
                <button type="submit" disabled=move || action.pending().get()>"Save project"</button>
            </ValidatedForm>
        </section>
    }
}
