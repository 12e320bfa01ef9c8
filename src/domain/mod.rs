//! Types and rules shared by the browser (wasm) and the server.
//!
//! Everything here compiles for both targets, so a rule written once checks a field
//! instantly in the browser and authoritatively on the server.

#[cfg(feature = "ssr")]
pub mod devices;
mod error;
pub mod error_markup;
mod forms;
mod validation;
mod views;

pub use error::{AppError, ErrorKind};
pub use forms::{
    check_form, check_login, check_new_password, check_password_change, check_profile,
    check_project, check_registration, check_task_title, safe_next, NewAccount, ProfileUpdate,
    ProjectFields, CHECK_INBOX, PAGE_FIELD,
};
pub use validation::{
    check_confirmation, Description, Email, Password, ProjectName, TaskTitle, Username,
    DEFAULT_PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH,
};
pub use views::{ActivityView, AdminUserView, ProjectView, Role, SessionView, TaskView, UserView};
