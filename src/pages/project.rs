use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use leptos_router::params::ParamsMap;
use serde::{Deserialize, Serialize};

use crate::components::form::{
    form_error, ErrorSummary, Field, FormAction, SubmitButton, ValidatedForm,
};
use crate::components::status::Loaded;
use crate::domain::{AppError, ProjectView, TaskView};

/// Tasks shown per page: a project may hold thousands.
pub const TASKS_PER_PAGE: i64 = 100;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectPageData {
    pub project: ProjectView,
    /// The tasks of this page (after the filter).
    pub tasks: Vec<TaskView>,
    /// 1-based page number shown, and how many pages the filtered list has.
    pub page: i64,
    pub pages: i64,
}

#[server(endpoint = "project")]
pub async fn get_project_page(
    id: i64,
    show: Option<String>,
    page: Option<i64>,
) -> Result<ProjectPageData, AppError> {
    use crate::server::{http::context, projects};
    let user = context::current_user()?;
    let state = context::state()?;
    let project = projects::get(&state, user.user_id, id).await?;
    let filter = Show::from_query(show.as_deref());
    let shown = match filter {
        Show::All => project.task_count,
        Show::Open => project.task_count - project.done_count,
        Show::Done => project.done_count,
    };
    let pages = ((shown + TASKS_PER_PAGE - 1) / TASKS_PER_PAGE).max(1);
    let page = page.unwrap_or(1).clamp(1, pages);
    let tasks = projects::task_page(
        &state,
        user.user_id,
        id,
        filter.done(),
        TASKS_PER_PAGE,
        (page - 1) * TASKS_PER_PAGE,
    )
    .await?;
    Ok(ProjectPageData {
        project,
        tasks,
        page,
        pages,
    })
}

#[server(endpoint = "update_project")]
pub async fn update_project(id: i64, name: String, description: String) -> Result<(), AppError> {
    use crate::server::{http::context, projects};
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
    use crate::server::{http::context, http::resubmit, projects};
    let user = context::current_user()?;
    let state = context::state()?;
    let key = resubmit::fingerprint(&(user.user_id, "task", project_id, title.trim()));
    resubmit::once(
        &state.resubmissions,
        state.now(),
        key,
        || async {
            let task = projects::add_task(&state, user.user_id, project_id, &title).await?;
            Ok(((), task.id))
        },
        |_| async { Ok(()) },
    )
    .await
}

#[server(endpoint = "set_task_done")]
pub async fn set_task_done(id: i64, done: bool) -> Result<(), AppError> {
    use crate::server::{http::context, projects};
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
    use crate::server::{http::context, projects};
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
    use crate::server::{http::context, projects};
    let user = context::current_user()?;
    projects::delete_task(&context::state()?, user.user_id, id).await
}

/// Every action this page's forms post to (their answers after a failed plain post).
#[derive(Clone, Copy)]
struct TaskActions {
    update_project: FormAction<UpdateProject>,
    add: FormAction<AddTask>,
    toggle: FormAction<SetTaskDone>,
    rename: FormAction<RenameTask>,
    delete: FormAction<DeleteTask>,
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
    load_project_page(id, None, None).await
}

/// One page of the project's tasks, filtered by `show` (`open` or `done`).
pub async fn load_project_page(
    id: Option<i64>,
    show: Option<String>,
    page: Option<i64>,
) -> Result<ProjectPageData, AppError> {
    match id {
        Some(id) => get_project_page(id, show, page).await,
        None => Err(AppError::not_found()),
    }
}

#[component]
pub fn ProjectPage() -> impl IntoView {
    let id = use_project_id();
    let actions = TaskActions {
        update_project: FormAction::new(),
        add: FormAction::new(),
        toggle: FormAction::new(),
        rename: FormAction::new(),
        delete: FormAction::new(),
    };
    let query = use_query_map();
    let data = Resource::new(
        move || {
            let query = query.read();
            let show = query.get("show");
            let page = query.get("page").and_then(|p| p.parse::<i64>().ok());
            (id.get(), show, page)
        },
        |(id, show, page)| load_project_page(id, show, page),
    );
    view! {
        <Loaded
            resource=data
            ready={move |page: ProjectPageData| view! { <ProjectDetails page actions query/> }}
        />
    }
}

/// Which tasks the list shows (`?show=open` or `?show=done`; all by default).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Show {
    All,
    Open,
    Done,
}

impl Show {
    fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("open") => Self::Open,
            Some("done") => Self::Done,
            _ => Self::All,
        }
    }

    /// The `done` value the list keeps, if it keeps only one.
    #[cfg(feature = "ssr")]
    fn done(self) -> Option<bool> {
        match self {
            Self::All => None,
            Self::Open => Some(false),
            Self::Done => Some(true),
        }
    }

    fn param(self) -> Option<&'static str> {
        match self {
            Self::All => None,
            Self::Open => Some("open"),
            Self::Done => Some("done"),
        }
    }
}

fn toggle_id(task: i64) -> String {
    format!("task-{task}-done")
}

const ADD_TITLE_ID: &str = "add-task-title";

#[component]
fn ProjectDetails(
    page: ProjectPageData,
    actions: TaskActions,
    /// The page's query, read by the parent: this runs once the data is loaded, when the
    /// request may be gone (a client that disconnected) and its router context with it.
    query: Memo<ParamsMap>,
) -> impl IntoView {
    let ProjectPageData {
        project,
        tasks,
        page,
        pages,
    } = page;
    let project_id = project.id;
    let here = format!("/projects/{project_id}");
    let here_for_pages = here.clone();
    // `?rename=ID` opens the rename form in that task's row.
    let renaming = query
        .read_untracked()
        .get("rename")
        .and_then(|id| id.parse::<i64>().ok());
    let show = Show::from_query(query.read_untracked().get("show").as_deref());
    let add_error = form_error(actions.add);
    let toggle_error = form_error(actions.toggle);
    let delete_error = form_error(actions.delete);
    let (total, done_count) = (project.task_count, project.done_count);
    let open_count = total - done_count;
    let progress = if total == 0 {
        "No tasks yet".to_string()
    } else {
        format!("{done_count} / {total} done")
    };
    let ids: Vec<i64> = tasks.iter().map(|t| t.id).collect();
    let rows = {
        let wanted = show;
        let shown: Vec<AnyView> = tasks
            .iter()
            .map(|task| task_row(task.clone(), &ids, renaming, actions.rename))
            .collect();
        if shown.is_empty() {
            let text = match (wanted, total) {
                (_, 0) => "No tasks yet. Add the first one below.",
                (Show::Open, _) => "Nothing left to do.",
                (Show::Done, _) => "Nothing done yet.",
                (Show::All, _) => "No tasks yet.",
            };
            view! { <p class="empty">{text}</p> }.into_any()
        } else {
            view! { <ul class="tasks" aria-label="Tasks">{shown}</ul> }.into_any()
        }
    };
    let filter_link = move |value: Show, href: String, text: String| {
        view! {
            <a href=href aria-current=(show == value).then_some("true")>{text}</a>
        }
    };
    view! {
        <Title text=project.name.clone()/>
        <p><a href="/projects">"← All projects"</a></p>
        <h1>{project.name.clone()}</h1>
        <p class="muted">{project.description.clone()}</p>
        <p class="count">{progress}</p>

        <section class="card" aria-labelledby="tasks-title">
            <h2 id="tasks-title">"Tasks"</h2>
            {(total > 0).then(|| view! {
                <div class="task-filter" role="group" aria-label="Show tasks">
                    {filter_link(Show::All, here.clone(), format!("All ({total})"))}
                    {filter_link(Show::Open, format!("{here}?show=open"), format!("Not done ({open_count})"))}
                    {filter_link(Show::Done, format!("{here}?show=done"), format!("Done ({done_count})"))}
                </div>
            })}
            <ErrorSummary error=toggle_error/>
            <ErrorSummary error=delete_error/>
            {rows}
            {(pages > 1).then(|| {
                let link = move |to: i64| {
                    let mut query = vec![format!("page={to}")];
                    if let Some(show) = show.param() {
                        query.insert(0, format!("show={show}"));
                    }
                    format!("{here_for_pages}?{}", query.join("&"))
                };
                view! {
                    <nav class="pager" aria-label="Pages of tasks">
                        {(page > 1).then(|| view! { <a href=link(page - 1) rel="prev">"Previous page"</a> })}
                        <span>{format!("Page {page} of {pages}")}</span>
                        {(page < pages).then(|| view! { <a href=link(page + 1) rel="next">"Next page"</a> })}
                    </nav>
                }
            })}
            <ValidatedForm
                action=actions.add
                label="Add task"
                focus_after=ADD_TITLE_ID
                class="inline-add"
            >
                <ErrorSummary error=add_error form="add-task" fields=&["title"]/>
                <input type="hidden" name="project_id" value=project_id/>
                <Field label="Title" name="title" form="add-task" error=add_error/>
                <SubmitButton>"Add task"</SubmitButton>
            </ValidatedForm>
        </section>

        <ProjectEditForm project action=actions.update_project/>
        <form action=format!("/projects/{project_id}/delete") method="get">
            <button type="submit" class="quiet danger">"Delete project"</button>
        </form>
    }
}

/// One task: a done toggle (a button drawn as a checkbox), its title, and quieter rename and
/// delete buttons, each a plain form. Renaming happens in the row. Rows are static and lean: a
/// project may hold thousands of tasks.
fn task_row(
    task: TaskView,
    ids: &[i64],
    renaming: Option<i64>,
    rename: FormAction<RenameTask>,
) -> AnyView {
    let TaskView {
        id,
        project_id,
        title,
        done,
        ..
    } = task;
    // After a delete, focus goes to the next task (or the previous one, or the add form).
    let position = ids.iter().position(|t| *t == id).unwrap_or_default();
    let neighbour = ids
        .get(position + 1)
        .or_else(|| position.checked_sub(1).and_then(|p| ids.get(p)))
        .map(|t| toggle_id(*t))
        .unwrap_or_else(|| ADD_TITLE_ID.to_string());
    let toggle_name = format!(
        "{}: {title}",
        if done { "Mark not done" } else { "Mark done" }
    );
    let label = title.clone();
    let here = format!("/projects/{project_id}");
    let body = if renaming == Some(id) {
        view! { <RenameTaskForm task_id=id title here action=rename/> }.into_any()
    } else {
        view! {
            <span class="task-title">{title}</span>
            <span class="task-actions">
                <form action=here method="get">
                    <button type="submit" name="rename" value=id class="quiet">"Rename"</button>
                </form>
                <form action=DeleteTask::url() method="post" data-focus-after=neighbour>
                    <button type="submit" name="id" value=id class="quiet danger">"Delete"</button>
                </form>
            </span>
        }
        .into_any()
    };
    view! {
        <li class=if done { "task done" } else { "task" } aria-label=label>
            <form action=SetTaskDone::url() method="post">
                <input type="hidden" name="id" value=id/>
                <button
                    type="submit"
                    id=toggle_id(id)
                    class="task-check"
                    name="done"
                    value=if done { "false" } else { "true" }
                    aria-label=toggle_name
                    aria-pressed=if done { "true" } else { "false" }
                ></button>
            </form>
            {body}
        </li>
    }
    // Boxed: thousands of large view structs are cheaper to collect behind a pointer.
    .into_any()
}

/// The rename form, opened in its row by `?rename=ID` (the row's Rename button); its field
/// takes the focus.
#[component]
fn RenameTaskForm(
    task_id: i64,
    title: String,
    here: String,
    action: FormAction<RenameTask>,
) -> impl IntoView {
    let error = form_error(action);
    view! {
        <ValidatedForm action label=format!("Rename “{title}”") class="rename-form">
            <ErrorSummary error form="rename" fields=&["title"]/>
            <input type="hidden" name="id" value=task_id/>
            <Field label="New title" name="title" form="rename" value=title.clone() error autofocus=true/>
            <SubmitButton>"Save"</SubmitButton>
            <a href=here>"Cancel"</a>
        </ValidatedForm>
    }
}

#[component]
fn ProjectEditForm(project: ProjectView, action: FormAction<UpdateProject>) -> impl IntoView {
    let error = form_error(action);
    view! {
        <section class="card" aria-labelledby="edit-project-title">
            <h2 id="edit-project-title">"Edit project"</h2>
            <ValidatedForm action label="Edit project">
                <ErrorSummary error form="edit-project" fields=&["name", "description"]/>
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
                <SubmitButton>"Save project"</SubmitButton>
            </ValidatedForm>
        </section>
    }
}
