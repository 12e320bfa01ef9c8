use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos::web_sys::SubmitEvent;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

use crate::components::form::{form_error, ErrorSummary, Field, ValidatedForm};
use crate::components::status::Loaded;
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
    let state = context::state()?;
    Ok(ProjectPageData {
        project: projects::get(&state, user.user_id, id).await?,
        tasks: projects::tasks(&state, user.user_id, id).await?,
    })
}

#[server(endpoint = "update_project")]
pub async fn update_project(id: i64, name: String, description: String) -> Result<(), AppError> {
    use crate::server::{context, projects};
    let user = context::current_user()?;
    projects::update(
        &context::state()?,
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
    projects::add_task(&context::state()?, user.user_id, project_id, &title).await?;
    Ok(())
}

#[server(endpoint = "set_task_done")]
pub async fn set_task_done(id: i64, done: bool) -> Result<(), AppError> {
    use crate::server::{context, projects};
    let user = context::current_user()?;
    projects::update_task(
        &context::state()?,
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
        &context::state()?,
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
    projects::delete_task(&context::state()?, user.user_id, id).await
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

/// The `:id` of `/projects/:id…`; `None` when it is not a number (answered with 404).
pub fn use_project_id() -> Memo<Option<i64>> {
    let params = use_params_map();
    Memo::new(move |_| {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
    })
}

/// Loads the project page's data; a malformed id is simply not found.
pub async fn load_project(id: Option<i64>) -> Result<ProjectPageData, AppError> {
    match id {
        Some(id) => get_project_page(id).await,
        None => Err(AppError::not_found()),
    }
}

#[component]
pub fn ProjectPage() -> impl IntoView {
    let id = use_project_id();
    let actions = TaskActions {
        update_project: ServerAction::new(),
        add: ServerAction::new(),
        toggle: ServerAction::new(),
        rename: ServerAction::new(),
        delete: ServerAction::new(),
    };
    let data = Resource::new(
        move || (id.get(), actions.versions()),
        |(id, _)| load_project(id),
    );
    view! {
        <Loaded
            resource=data
            ready={move |page: ProjectPageData| view! { <ProjectDetails page actions/> }}
        />
    }
}

#[component]
fn ProjectDetails(page: ProjectPageData, actions: TaskActions) -> impl IntoView {
    let ProjectPageData { project, tasks } = page;
    let project_id = project.id;
    // `?rename=ID` opens the rename form without JavaScript; with it, the button does.
    let query = use_query_map();
    let renaming = RwSignal::new(
        query
            .read_untracked()
            .get("rename")
            .and_then(|id| id.parse::<i64>().ok()),
    );
    let add_local = RwSignal::new(None);
    let add_error = form_error(actions.add, add_local);
    let row_errors = RwSignal::new(None);
    let toggle_error = form_error(actions.toggle, row_errors);
    let delete_error = form_error(actions.delete, row_errors);
    let check_title = Callback::new(|input: AddTask| check_task_title(&input.title).err());
    let titles: Vec<(i64, String)> = tasks.iter().map(|t| (t.id, t.title.clone())).collect();
    let rename_form = move || {
        let id = renaming.get()?;
        let title = titles.iter().find(|(task, _)| *task == id)?.1.clone();
        let here = format!("/projects/{project_id}");
        Some(view! { <RenameTaskForm task_id=id title here renaming action=actions.rename/> })
    };
    let tasks_view = tasks
        .into_iter()
        .map(|task| task_row(task, actions, renaming))
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
            {rename_form}
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

/// One task. Its forms are plain HTML posts (so they work without JavaScript); after
/// hydration their submit handlers dispatch the actions instead, without a reload. Rows are
/// static and lean: a project may hold thousands of tasks.
fn task_row(task: TaskView, actions: TaskActions, renaming: RwSignal<Option<i64>>) -> AnyView {
    let TaskView {
        id,
        project_id,
        title,
        done,
        ..
    } = task;
    let toggle = move |ev: SubmitEvent| {
        ev.prevent_default();
        actions.toggle.dispatch(SetTaskDone { id, done: !done });
    };
    let delete = move |ev: SubmitEvent| {
        ev.prevent_default();
        actions.delete.dispatch(DeleteTask { id });
    };
    let start_renaming = move |ev: SubmitEvent| {
        ev.prevent_default();
        renaming.set(Some(id));
    };
    let label = title.clone();
    view! {
        <li class=if done { "task done" } else { "task" } aria-label=label>
            <span class="task-title">{title}</span>
            <span class="task-actions">
                <form action=SetTaskDone::url() method="post" on:submit=toggle>
                    <input type="hidden" name="id" value=id/>
                    <button type="submit" name="done" value=if done { "false" } else { "true" }>
                        {if done { "Mark not done" } else { "Mark done" }}
                    </button>
                </form>
                <form action=format!("/projects/{project_id}") method="get" on:submit=start_renaming>
                    <button type="submit" name="rename" value=id>"Rename"</button>
                </form>
                <form action=DeleteTask::url() method="post" on:submit=delete>
                    <button type="submit" name="id" value=id class="danger">"Delete"</button>
                </form>
            </span>
        </li>
    }
    // Boxed: thousands of large view structs are cheaper to collect behind a pointer.
    .into_any()
}

#[component]
fn RenameTaskForm(
    task_id: i64,
    title: String,
    here: String,
    renaming: RwSignal<Option<i64>>,
    action: ServerAction<RenameTask>,
) -> impl IntoView {
    let cancel = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        renaming.set(None);
    };
    let local = RwSignal::new(None);
    let error = form_error(action, local);
    let check = Callback::new(|input: RenameTask| check_task_title(&input.title).err());
    view! {
        <ValidatedForm action local_error=local check label=format!("Rename “{title}”") class="inline-rename">
            <ErrorSummary error/>
            <input type="hidden" name="id" value=task_id/>
            <Field label="New title" name="title" form="rename" value=title.clone() error/>
            <button type="submit">"Save"</button>
            " "
            <a href=here on:click=cancel>"Cancel"</a>
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
