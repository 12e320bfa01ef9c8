//! Whole-form checks, shared by the browser (before sending) and the server (authoritative).
//! Each returns every field's problem at once, and keeps the non-secret values typed.

use std::collections::BTreeMap;

use super::validation::{
    check_confirmation, Description, Email, Password, ProjectName, TaskTitle, Username,
    DEFAULT_PASSWORD_MIN_LENGTH,
};
use super::AppError;

fn finish<T>(
    fields: BTreeMap<String, String>,
    values: &[(&str, &str)],
    ok: impl FnOnce() -> T,
) -> Result<T, AppError> {
    match AppError::from_fields(fields) {
        Some(err) => Err(err.with_values(values.iter().copied())),
        None => Ok(ok()),
    }
}

fn note<T>(
    fields: &mut BTreeMap<String, String>,
    field: &str,
    result: Result<T, String>,
) -> Option<T> {
    result.map_err(|e| fields.insert(field.to_string(), e)).ok()
}

pub struct NewAccount {
    pub email: Email,
    /// `None` when the caller (the API) left it out.
    pub username: Option<Username>,
    pub password: Password,
}

pub fn check_registration(
    email: &str,
    username: Option<&str>,
    password: &str,
    confirmation: Option<&str>,
    min_password_length: usize,
) -> Result<NewAccount, AppError> {
    let mut fields = BTreeMap::new();
    let parsed_email = note(&mut fields, "email", Email::parse(email));
    let parsed_username =
        username.and_then(|raw| note(&mut fields, "username", Username::parse(raw)));
    let context: Vec<&str> = [
        parsed_email.as_ref().map(Email::as_str),
        parsed_username.as_ref().map(Username::as_str),
    ]
    .into_iter()
    .flatten()
    .collect();
    let parsed_password = note(
        &mut fields,
        "password",
        Password::parse(password, min_password_length, &context),
    );
    if let Some(confirmation) = confirmation {
        note(
            &mut fields,
            "confirm_password",
            check_confirmation(password, confirmation),
        );
    }
    let values = [("email", email), ("username", username.unwrap_or_default())];
    let account = finish(fields, &values, || {
        (parsed_email, parsed_username, parsed_password)
    })?;
    match account {
        (Some(email), username, Some(password)) => Ok(NewAccount {
            email,
            username,
            password,
        }),
        _ => Err(AppError::internal()),
    }
}

/// What a new account reads when it must confirm its address before logging in (the web page
/// and the API say the same).
pub const CHECK_INBOX: &str = "Check your inbox: we sent a link to confirm your email address. \
     Open it to finish creating your account.";

/// Login only checks presence: the credentials themselves are checked against the account.
pub fn check_login(email: &str, password: &str) -> Result<(), AppError> {
    let mut fields = BTreeMap::new();
    if email.trim().is_empty() {
        fields.insert("email".into(), "Enter your email address.".into());
    }
    if password.is_empty() {
        fields.insert("password".into(), "Enter your password.".into());
    }
    finish(fields, &[("email", email)], || ())
}

pub struct ProfileUpdate {
    pub username: Option<Username>,
    pub email: Option<Email>,
}

pub fn check_profile(
    username: Option<&str>,
    email: Option<&str>,
) -> Result<ProfileUpdate, AppError> {
    let mut fields = BTreeMap::new();
    let parsed_username =
        username.and_then(|raw| note(&mut fields, "username", Username::parse(raw)));
    let parsed_email = email.and_then(|raw| note(&mut fields, "email", Email::parse(raw)));
    let values = [
        ("username", username.unwrap_or_default()),
        ("email", email.unwrap_or_default()),
    ];
    finish(fields, &values, || ProfileUpdate {
        username: parsed_username,
        email: parsed_email,
    })
}

/// `context` holds the person's email and username, which the new password must not echo.
pub fn check_password_change(
    current: &str,
    new: &str,
    confirmation: Option<&str>,
    min_password_length: usize,
    context: &[&str],
) -> Result<Password, AppError> {
    let mut fields = BTreeMap::new();
    if current.is_empty() {
        fields.insert(
            "current_password".into(),
            "Enter your current password.".into(),
        );
    }
    new_password_fields(fields, new, confirmation, min_password_length, context)
}

/// A new password chosen from a reset link: no current password to give.
pub fn check_new_password(
    new: &str,
    confirmation: Option<&str>,
    min_password_length: usize,
    context: &[&str],
) -> Result<Password, AppError> {
    new_password_fields(
        BTreeMap::new(),
        new,
        confirmation,
        min_password_length,
        context,
    )
}

fn new_password_fields(
    mut fields: BTreeMap<String, String>,
    new: &str,
    confirmation: Option<&str>,
    min_password_length: usize,
    context: &[&str],
) -> Result<Password, AppError> {
    let parsed = note(
        &mut fields,
        "new_password",
        Password::parse(new, min_password_length, context),
    );
    if let Some(confirmation) = confirmation {
        note(
            &mut fields,
            "confirm_new_password",
            check_confirmation(new, confirmation),
        );
    }
    finish(fields, &[], || parsed)?.ok_or_else(AppError::internal)
}

pub struct ProjectFields {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// The form field that names the page a form was sent from (`components::form::PageField`):
/// a plain post without a `Referer` is answered on that page.
pub const PAGE_FIELD: &str = "__page";

pub fn check_project(
    name: Option<&str>,
    description: Option<&str>,
) -> Result<ProjectFields, AppError> {
    let mut fields = BTreeMap::new();
    let parsed_name = name
        .and_then(|raw| note(&mut fields, "name", ProjectName::parse(raw)))
        .map(ProjectName::into_inner);
    let parsed_description = description
        .and_then(|raw| note(&mut fields, "description", Description::parse(raw)))
        .map(Description::into_inner);
    let values = [
        ("name", name.unwrap_or_default()),
        ("description", description.unwrap_or_default()),
    ];
    finish(fields, &values, || ProjectFields {
        name: parsed_name,
        description: parsed_description,
    })
}

pub fn check_task_title(raw: &str) -> Result<String, AppError> {
    TaskTitle::parse(raw)
        .map(TaskTitle::into_inner)
        .map_err(|e| AppError::field("title", e).with_values([("title", raw)]))
}

/// The browser's check of a form before sending it, by the endpoint its form posts to (the
/// server function's name): the same rules the server applies, so a mistake is shown at once
/// and worded as the server would word it. `value` reads a field as typed; `context` holds
/// words a new password must not be built from (the account's email and username). `None`:
/// nothing to say here (the server still has the last word).
pub fn check_form(
    endpoint: &str,
    value: &dyn Fn(&str) -> String,
    context: &[&str],
) -> Option<AppError> {
    let min = DEFAULT_PASSWORD_MIN_LENGTH;
    match endpoint {
        "login" => check_login(&value("email"), &value("password")).err(),
        "register" => check_registration(
            &value("email"),
            Some(&value("username")),
            &value("password"),
            Some(&value("confirm_password")),
            min,
        )
        .err(),
        "forgot_password" => Email::parse(&value("email"))
            .err()
            .map(|message| AppError::field("email", message)),
        "reset_password" => check_new_password(
            &value("new_password"),
            Some(&value("confirm_new_password")),
            min,
            &[],
        )
        .err(),
        "update_profile" => check_profile(Some(&value("username")), Some(&value("email"))).err(),
        "change_password" => check_password_change(
            &value("current_password"),
            &value("new_password"),
            Some(&value("confirm_new_password")),
            min,
            context,
        )
        .err(),
        "delete_account" => value("password")
            .is_empty()
            .then(|| AppError::field("password", "Enter your password to delete your account.")),
        "create_project" | "update_project" => {
            check_project(Some(&value("name")), Some(&value("description"))).err()
        }
        "add_task" | "rename_task" => check_task_title(&value("title")).err(),
        _ => None,
    }
}

/// Where to go after logging in: the `next` path when it stays on this site, else `/profile`.
/// Rejects absolute and scheme-relative URLs (`https://…`, `//evil.example`, `/\evil`).
pub fn safe_next(next: Option<&str>) -> String {
    let candidate = next.unwrap_or_default().trim();
    let local = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.starts_with("/\\")
        && !candidate.chars().any(|c| c.is_control() || c == '\\')
        && candidate.len() <= 2048;
    if local {
        candidate.to_string()
    } else {
        "/profile".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_reports_every_bad_field_and_keeps_values() {
        let err = check_registration("nope", Some("a"), "short", Some("other"), 8)
            .err()
            .unwrap();
        for field in ["email", "username", "password", "confirm_password"] {
            assert!(err.fields.contains_key(field), "{field} missing");
        }
        assert_eq!(err.values["email"], "nope");
        assert!(!err.values.contains_key("password"));
    }

    /// The browser's check of each form reads its fields by the names the server function
    /// takes and finds what the server's rules find.
    #[test]
    fn each_form_is_checked_by_its_endpoint() {
        let empty = |_: &str| String::new();
        let expect = |endpoint: &str, fields: &[&str]| {
            let err = check_form(endpoint, &empty, &[]).expect(endpoint);
            let found: Vec<&str> = err.fields.keys().map(String::as_str).collect();
            assert_eq!(found, fields, "{endpoint}");
        };
        expect("login", &["email", "password"]);
        expect("register", &["email", "password", "username"]);
        expect("forgot_password", &["email"]);
        expect("reset_password", &["new_password"]);
        expect("update_profile", &["email", "username"]);
        expect("change_password", &["current_password", "new_password"]);
        expect("delete_account", &["password"]);
        expect("create_project", &["name"]);
        expect("update_project", &["name"]);
        expect("add_task", &["title"]);
        expect("rename_task", &["title"]);
        // Forms without rules of their own (a toggle, a log-out button) are left to the server.
        assert!(check_form("set_task_done", &empty, &[]).is_none());
        assert!(check_form("logout", &empty, &[]).is_none());

        let typed = |name: &str| match name {
            "email" => "ada@example.com".to_string(),
            "password" => "anything at all".to_string(),
            _ => String::new(),
        };
        assert!(check_form("login", &typed, &[]).is_none());
        // A new password built from the account's own words is refused before sending.
        let own = |name: &str| match name {
            "current_password" => "old password here".to_string(),
            _ => "lovelace".to_string(),
        };
        let err = check_form("change_password", &own, &["ada@example.com", "lovelace"]);
        assert!(err.is_some_and(|e| e.fields.contains_key("new_password")));
    }

    #[test]
    fn next_must_stay_on_this_site() {
        assert_eq!(safe_next(Some("/projects/3?x=1")), "/projects/3?x=1");
        for evil in [
            "//evil.example",
            "https://evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(evil)), "/profile", "{evil}");
        }
        assert_eq!(safe_next(None), "/profile");
    }
}
