//! People's accounts: registration, login and profiles (`users`), emailed links
//! (`email_links`), administration (`admin`) and the audit trail (`audit`).

pub mod admin;
pub mod audit;
pub mod email_links;
pub mod users;
