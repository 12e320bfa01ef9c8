//! One module per page; each page's server functions live beside it.

pub mod activity;
pub mod admin_apps;
pub mod admin_user;
pub mod admin_users;
pub mod apps;
pub mod consent;
pub mod forgot_password;
pub mod home;
pub mod login;
pub mod login_verify;
pub mod not_found;
pub mod profile;
pub mod project;
pub mod project_delete;
pub mod projects;
pub mod register;
pub mod reset_password;
pub mod security;
pub mod sessions;
pub mod verify_email;
