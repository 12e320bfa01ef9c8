//! Projects and tasks: CRUD, cascades, validation and isolation between people.

use crate::common::{spawn_app, Browser, Page, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Client {
    browser: Browser,
    token: String,
}

impl Client {
    async fn new(app: &TestApp, email: &str) -> Self {
        let (_, token, _) = app.api_member(email).await;
        Self {
            browser: app.browser(),
            token,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Page {
        self.browser
            .api(method, path, Some(&self.token), body)
            .await
    }
}

async fn project(client: &Client, name: &str) -> Value {
    let res = client
        .call(
            Method::POST,
            "/api/v1/projects",
            Some(json!({"name": name, "description": "d"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.json()
}

async fn task(client: &Client, project_id: &Value, title: &str) -> Value {
    let res = client
        .call(
            Method::POST,
            &format!("/api/v1/projects/{project_id}/tasks"),
            Some(json!({"title": title})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.json()
}

#[tokio::test]
async fn projects_and_tasks_can_be_created_listed_changed_and_deleted() {
    let app = spawn_app().await;
    let ada = Client::new(&app, "ada@example.com").await;
    let garden = project(&ada, "  Garden  ").await;
    assert_eq!(garden["name"], "Garden", "trimmed");
    assert_eq!(garden["task_count"], 0);
    let id = garden["id"].clone();
    let first = task(&ada, &id, "Dig").await;
    let second = task(&ada, &id, "Plant").await;
    let third = task(&ada, &id, "Water").await;
    assert_eq!(first["position"], 1);
    assert_eq!(third["position"], 3);
    assert_eq!(first["done"], false);

    let done = ada
        .call(
            Method::PATCH,
            &format!("/api/v1/tasks/{}", first["id"]),
            Some(json!({"done": true})),
        )
        .await;
    assert_eq!(done.json()["done"], true);
    let renamed = ada
        .call(
            Method::PATCH,
            &format!("/api/v1/tasks/{}", second["id"]),
            Some(json!({"title": "Plant basil"})),
        )
        .await;
    assert_eq!(renamed.json()["title"], "Plant basil");
    let deleted = ada
        .call(
            Method::DELETE,
            &format!("/api/v1/tasks/{}", third["id"]),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);

    let tasks = ada
        .call(Method::GET, &format!("/api/v1/projects/{id}/tasks"), None)
        .await
        .json();
    let titles: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Dig", "Plant basil"]);
    let listed = ada.call(Method::GET, "/api/v1/projects", None).await.json();
    assert_eq!(listed[0]["task_count"], 2);
    assert_eq!(listed[0]["done_count"], 1);

    let patched = ada
        .call(
            Method::PATCH,
            &format!("/api/v1/projects/{id}"),
            Some(json!({"name": "Allotment"})),
        )
        .await
        .json();
    assert_eq!(patched["name"], "Allotment");
    assert_eq!(patched["description"], "d", "untouched fields stay");

    // The page shows the same data (pages accept the same Bearer credential).
    let page = ada
        .call(Method::GET, &format!("/projects/{id}"), None)
        .await;
    assert!(page.body.contains("Plant basil") && page.body.contains("1 / 2 done"));
}

#[tokio::test]
async fn deleting_a_project_deletes_its_tasks_and_deleting_an_account_deletes_both() {
    let app = spawn_app().await;
    let ada = Client::new(&app, "ada@example.com").await;
    let p = project(&ada, "Garden").await;
    let t = task(&ada, &p["id"], "Dig").await;
    let res = ada
        .call(
            Method::DELETE,
            &format!("/api/v1/projects/{}", p["id"]),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let gone = ada
        .call(
            Method::PATCH,
            &format!("/api/v1/tasks/{}", t["id"]),
            Some(json!({"done": true})),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let orphans: i64 = app.scalar("SELECT COUNT(*) FROM tasks").await;
    assert_eq!(orphans, 0);

    let browser = app.registered("bob@example.com", "bob").await;
    browser
        .submit(
            "/projects",
            "/api/create_project",
            &[("name", "Attic"), ("description", "")],
        )
        .await;
    let pid: i64 = app.scalar("SELECT id FROM projects").await;
    browser
        .submit(
            &format!("/projects/{pid}"),
            "/api/add_task",
            &[("project_id", &pid.to_string()), ("title", "Sweep")],
        )
        .await;
    browser
        .submit("/profile", "/api/delete_account", &[("password", PASSWORD)])
        .await;
    let left: (i64, i64) = crate::on_db!(&app.state.db, |c| sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM projects), (SELECT COUNT(*) FROM tasks)"
    )
    .fetch_one(c)
    .await)
    .unwrap();
    assert_eq!(left, (0, 0));
}

#[tokio::test]
async fn each_validation_error_is_explained() {
    let app = spawn_app().await;
    let ada = Client::new(&app, "ada@example.com").await;
    let p = project(&ada, "Garden").await;
    let cases = [
        (
            Method::POST,
            "/api/v1/projects".to_string(),
            json!({"name": "   "}),
            "name",
            "Give the project a name.",
        ),
        (
            Method::POST,
            "/api/v1/projects".to_string(),
            json!({"name": "x".repeat(101)}),
            "name",
            "at most 100",
        ),
        (
            Method::POST,
            "/api/v1/projects".to_string(),
            json!({"name": "ok", "description": "x".repeat(2001)}),
            "description",
            "at most 2000",
        ),
        (
            Method::POST,
            format!("/api/v1/projects/{}/tasks", p["id"]),
            json!({"title": ""}),
            "title",
            "Give the task a title.",
        ),
        (
            Method::POST,
            format!("/api/v1/projects/{}/tasks", p["id"]),
            json!({"title": "x".repeat(201)}),
            "title",
            "at most 200",
        ),
    ];
    for (method, path, body, field, message) in cases {
        let res = ada.call(method, &path, Some(body)).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            res.body
        );
        let text = res.json()["error"]["fields"][field]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(text.contains(message), "{field}: {text}");
    }
    // And on the page, without JavaScript.
    let browser = app.registered("bob@example.com", "bob").await;
    let res = browser
        .submit(
            "/projects",
            "/api/create_project",
            &[("name", ""), ("description", "")],
        )
        .await;
    assert_eq!(
        res.form_error().unwrap()["fields"]["name"],
        "Give the project a name."
    );
}

#[tokio::test]
async fn another_persons_projects_and_tasks_are_404_everywhere() {
    let app = spawn_app().await;
    let ada = Client::new(&app, "ada@example.com").await;
    let bob = Client::new(&app, "bob@example.com").await;
    let p = project(&ada, "Private").await;
    let t = task(&ada, &p["id"], "Secret").await;
    let (pid, tid) = (p["id"].clone(), t["id"].clone());
    let attempts = [
        (Method::GET, format!("/api/v1/projects/{pid}"), None),
        (
            Method::PATCH,
            format!("/api/v1/projects/{pid}"),
            Some(json!({"name": "mine"})),
        ),
        (Method::DELETE, format!("/api/v1/projects/{pid}"), None),
        (Method::GET, format!("/api/v1/projects/{pid}/tasks"), None),
        (
            Method::POST,
            format!("/api/v1/projects/{pid}/tasks"),
            Some(json!({"title": "x"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/tasks/{tid}"),
            Some(json!({"done": true})),
        ),
        (Method::DELETE, format!("/api/v1/tasks/{tid}"), None),
    ];
    for (method, path, body) in attempts {
        let res = bob.call(method.clone(), &path, body).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(res.json()["error"]["code"], "not_found");
    }
    assert_eq!(
        bob.call(Method::GET, "/api/v1/projects", None).await.json(),
        json!([])
    );

    // The web app: the same 404 page as a missing project, and every action refused.
    let intruder = app.registered("eve@example.com", "eve").await;
    for path in [
        format!("/projects/{pid}"),
        format!("/projects/{pid}/delete"),
        "/projects/999999".to_string(),
    ] {
        let page = intruder.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.body.contains("Page not found"));
    }
    let pid_s = pid.to_string();
    let tid_s = tid.to_string();
    let actions: [(&str, Vec<(&str, &str)>); 6] = [
        (
            "/api/update_project",
            vec![("id", &pid_s), ("name", "mine"), ("description", "")],
        ),
        ("/api/delete_project", vec![("id", &pid_s)]),
        (
            "/api/add_task",
            vec![("project_id", &pid_s), ("title", "x")],
        ),
        ("/api/set_task_done", vec![("id", &tid_s), ("done", "true")]),
        ("/api/rename_task", vec![("id", &tid_s), ("title", "y")]),
        ("/api/delete_task", vec![("id", &tid_s)]),
    ];
    for (action, fields) in actions {
        let res = intruder.call(action, &fields).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{action}");
    }
    let still = ada
        .call(Method::GET, &format!("/api/v1/projects/{pid}/tasks"), None)
        .await
        .json();
    assert_eq!(still[0]["title"], "Secret");
    assert_eq!(still[0]["done"], false);
}

#[tokio::test]
async fn project_pages_work_with_plain_form_posts() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    let created = browser
        .submit(
            "/projects",
            "/api/create_project",
            &[("name", "Garden"), ("description", "Veg")],
        )
        .await;
    assert_eq!(created.status, StatusCode::FOUND);
    let list = browser.get("/projects").await;
    assert!(list.body.contains("Garden") && list.body.contains("0 / 0 done"));
    let pid: i64 = app.scalar("SELECT id FROM projects").await;
    let here = format!("/projects/{pid}");
    browser
        .submit(
            &here,
            "/api/add_task",
            &[("project_id", &pid.to_string()), ("title", "Dig")],
        )
        .await;
    let tid: i64 = app.scalar("SELECT id FROM tasks").await;
    browser
        .submit(
            &here,
            "/api/set_task_done",
            &[("id", &tid.to_string()), ("done", "true")],
        )
        .await;
    let rename_form = browser.get(&format!("{here}?rename={tid}")).await;
    assert!(rename_form.body.contains("New title"));
    let renamed = browser
        .submit(
            &here,
            "/api/rename_task",
            &[("id", &tid.to_string()), ("title", "Dig deep")],
        )
        .await;
    assert_eq!(renamed.location(), Some(here.as_str()));
    let page = browser.get(&here).await;
    assert!(
        page.body.contains("Dig deep")
            && page.body.contains("Mark not done")
            && page.body.contains("1 / 1 done")
    );
    let confirm = browser.get(&format!("{here}/delete")).await;
    assert!(confirm.body.contains("Yes, delete project"));
    let deleted = browser
        .submit(
            &format!("{here}/delete"),
            "/api/delete_project",
            &[("id", &pid.to_string())],
        )
        .await;
    assert_eq!(deleted.location(), Some("/projects"));
    assert!(browser
        .get("/projects")
        .await
        .body
        .contains("No projects yet"));
}

#[tokio::test]
async fn a_form_posted_twice_in_a_row_creates_once() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    let create = || {
        browser.submit(
            "/projects",
            "/api/create_project",
            &[("name", "Garden"), ("description", "Veg")],
        )
    };
    let (a, b) = tokio::join!(create(), create());
    assert_eq!((a.status, b.status), (StatusCode::FOUND, StatusCode::FOUND));
    let count = || async {
        crate::on_db!(&app.state.db, |c| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM projects"
        )
        .fetch_one(c)
        .await)
        .unwrap()
    };
    assert_eq!(count().await, 1, "a double click creates one project");
    assert_eq!(create().await.status, StatusCode::FOUND);
    assert_eq!(count().await, 1);
    // Meant twice: the same name again a little later is a second project.
    app.advance(std::time::Duration::from_secs(6));
    create().await;
    assert_eq!(count().await, 2);

    let pid: i64 = app.scalar("SELECT MIN(id) FROM projects").await;
    let here = format!("/projects/{pid}");
    let pid = pid.to_string();
    let fields = [("project_id", pid.as_str()), ("title", "Dig")];
    browser.submit(&here, "/api/add_task", &fields).await;
    browser.submit(&here, "/api/add_task", &fields).await;
    let tasks: i64 = app.scalar("SELECT COUNT(*) FROM tasks").await;
    assert_eq!(tasks, 1);
    // The API is exact: scripts that create twice get two.
    let token = app.api_login("ada@example.com", PASSWORD).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        let res = app
            .api(
                reqwest::Method::POST,
                "/api/v1/projects",
                Some(&token),
                Some(serde_json::json!({"name": "Garden", "description": "Veg"})),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED);
    }
    assert_eq!(count().await, 4);
}

#[tokio::test]
async fn a_long_task_list_is_shown_a_hundred_at_a_time() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    browser
        .submit(
            "/projects",
            "/api/create_project",
            &[("name", "Big"), ("description", "")],
        )
        .await;
    let pid: i64 = app.scalar("SELECT id FROM projects").await;
    for n in 1..=250 {
        crate::on_db!(&app.state.db, |c| sqlx::query(
            "INSERT INTO tasks (project_id, title, position, done, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 0, 0)",
        )
        .bind(pid)
        .bind(format!("Task number {n:03}"))
        .bind(n)
        .bind(n % 5 == 0)
        .execute(c)
        .await
        .map(drop))
        .unwrap();
    }
    let rows = |body: &str| body.matches("aria-pressed=").count();
    let first = browser.get(&format!("/projects/{pid}")).await;
    assert_eq!(rows(&first.body), 100);
    assert!(first.body.contains("Task number 001") && !first.body.contains("Task number 101"));
    assert!(first.body.contains("Page 1 of 3") && first.body.contains("Next page"));
    assert!(first.body.contains("50 / 250 done"));

    let last = browser.get(&format!("/projects/{pid}?page=3")).await;
    assert_eq!(rows(&last.body), 50);
    assert!(last.body.contains("Task number 250") && last.body.contains("Previous page"));
    assert!(!last.body.contains("Next page"));

    // The filter applies before paging: 50 done tasks fit on one page.
    let done = browser.get(&format!("/projects/{pid}?show=done")).await;
    assert_eq!(rows(&done.body), 50);
    assert!(!done.body.contains("Task number 001") && done.body.contains("Task number 005"));
    assert!(!done.body.contains("Page 1 of"));
    let open = browser
        .get(&format!("/projects/{pid}?show=open&page=2"))
        .await;
    assert_eq!(rows(&open.body), 100);
    assert!(open.body.contains("Page 2 of 2"));
    assert!(open.body.contains("show=open&amp;page=1") || open.body.contains("show=open&page=1"));

    // Pages past the end show the last one.
    let beyond = browser.get(&format!("/projects/{pid}?page=99")).await;
    assert!(beyond.body.contains("Page 3 of 3"));
}

#[tokio::test]
async fn many_projects_are_shown_fifty_at_a_time() {
    let app = spawn_app().await;
    let browser = app.registered("ada@example.com", "ada").await;
    let owner: i64 = app.scalar("SELECT id FROM users").await;
    for n in 1..=120 {
        crate::on_db!(&app.state.db, |c| sqlx::query(
            "INSERT INTO projects (owner_id, name, description, created_at, updated_at)
             VALUES ($1, $2, '', 0, 0)",
        )
        .bind(owner)
        .bind(format!("Project number {n:03}"))
        .execute(c)
        .await
        .map(drop))
        .unwrap();
    }
    let items = |body: &str| body.matches(r#"class="project-name""#).count();
    let first = browser.get("/projects").await;
    assert_eq!(items(&first.body), 50);
    assert!(first.body.contains("Project number 120"), "newest first");
    assert!(first.body.contains("Page 1 of 3") && first.body.contains("/projects?page=2"));
    let last = browser.get("/projects?page=3").await;
    assert_eq!(items(&last.body), 20);
    assert!(last.body.contains("Project number 001"));
    let beyond = browser.get("/projects?page=40").await;
    assert!(beyond.body.contains("Page 3 of 3"));
}
