//! Administration: finding accounts, and the actions an admin may take on them. Every action is
//! recorded in the audit trail with who did it. Admins cannot deactivate themselves, and the
//! last active admin can be neither deactivated nor demoted, so the site always keeps one.

use crate::domain::{ActivityView, AdminUserView, AppError, Role, SessionView};
use crate::server::accounts::audit::{self, Event, EventKind, Reader};
use crate::server::accounts::{email_links, find_by_email, find_by_id, User, LAST_ADMIN};
use crate::server::mail::templates;
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::sessions::{self, EndReason};
use crate::server::startup::clock::rfc3339;
use crate::server::startup::state::AppState;
use crate::server::store::users::{self, Filter};

/// Rows per page of the users list.
pub const PAGE_SIZE: i64 = 50;

/// Only admins get past this; the API answers 403, the pages show their 404.
pub fn require_admin(caller: &CurrentUser) -> Result<(), AppError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(AppError::forbidden("Only administrators may do this."))
    }
}

/// What the users list shows.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// The start of an email address or username.
    pub query: Option<String>,
    pub active: Option<bool>,
    pub role: Option<Role>,
    pub verified: Option<bool>,
}

/// One page of the list and the cursor of the next (newest first: rows added meanwhile never
/// shift a page, so none is shown twice or missed).
pub struct UserPage {
    pub users: Vec<AdminUserView>,
    pub next_cursor: Option<String>,
}

fn parse_cursor(raw: &str) -> Result<(i64, i64), AppError> {
    let bad = || AppError::bad_request("The cursor is not one this list gave out.");
    let (created, id) = raw.split_once('.').ok_or_else(bad)?;
    Ok((
        created.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}

pub async fn list_users(
    state: &AppState,
    caller: &CurrentUser,
    filter: &UserFilter,
    cursor: Option<&str>,
) -> Result<UserPage, AppError> {
    require_admin(caller)?;
    let before = match cursor.filter(|c| !c.is_empty()) {
        Some(raw) => parse_cursor(raw)?,
        None => (i64::MAX, i64::MAX),
    };
    // Compared case-insensitively, as the NOCASE columns compare, so a search walks an index.
    let prefix = filter
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let store_filter = Filter {
        prefix: prefix.as_deref(),
        active: filter.active,
        role: filter.role,
        verified: filter.verified,
    };
    let mut conn = state.db.acquire().await?;
    let rows = users::list(&mut conn, &store_filter, before, PAGE_SIZE + 1, state.now()).await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    let mut listed = Vec::with_capacity(rows.len());
    let mut last = None;
    for row in rows.into_iter().take(PAGE_SIZE as usize) {
        last = Some((row.user.created_at, row.user.id));
        listed.push(AdminUserView {
            user: row.user.view(),
            last_seen_at: row.last_seen_at.map(rfc3339),
            live_sessions: row.live_sessions,
        });
    }
    let next_cursor = last
        .filter(|_| more)
        .map(|(created, id)| format!("{created}.{id}"));
    Ok(UserPage {
        users: listed,
        next_cursor,
    })
}

/// Everything an admin sees of one account.
pub struct UserDetail {
    pub user: User,
    pub sessions: Vec<SessionView>,
    pub events: Vec<ActivityView>,
}

pub async fn user_detail(
    state: &AppState,
    caller: &CurrentUser,
    id: i64,
) -> Result<UserDetail, AppError> {
    require_admin(caller)?;
    let user = find_by_id(state, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let sessions = sessions::list_for(state, id, None).await?;
    let events = audit::for_subject(&state.db, id, None, 100, Reader::Admin).await?;
    Ok(UserDetail {
        user,
        sessions,
        events,
    })
}

/// What an admin may do to an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Deactivate,
    Reactivate,
    LogOutEverywhere,
    MakeAdmin,
    MakeUser,
    SendPasswordReset,
    SendVerification,
    /// Removes the app, the recovery codes and the passkeys, ends the sessions, mails them.
    ResetTwoStep,
}

pub async fn act(
    state: &AppState,
    caller: &CurrentUser,
    client: &Client,
    id: i64,
    action: Action,
) -> Result<(), AppError> {
    require_admin(caller)?;
    let user = find_by_id(state, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let now = state.now();
    let mut conn = state.db.acquire().await?;
    let event = match action {
        Action::Deactivate => {
            if id == caller.user_id {
                return Err(AppError::forbidden(
                    "You cannot deactivate your own account.",
                ));
            }
            if !users::deactivate_unless_last_admin(&mut conn, id, now).await? {
                return Err(AppError::forbidden(LAST_ADMIN));
            }
            sessions::end_all_for_user(state, id, None, EndReason::Deactivated).await?;
            let notice = templates::account_deactivated(&user.email, &user.username);
            state.mailer.send(&mut conn, &notice, now).await?;
            EventKind::AdminDeactivated
        }
        Action::Reactivate => {
            users::reactivate(&mut conn, id, now).await?;
            EventKind::AdminReactivated
        }
        Action::LogOutEverywhere => {
            sessions::end_all_for_user(state, id, None, EndReason::LoggedOutByAdmin).await?;
            EventKind::AdminLoggedOut
        }
        Action::MakeAdmin | Action::MakeUser => {
            let role = if action == Action::MakeAdmin {
                Role::Admin
            } else {
                Role::User
            };
            set_role(state, id, role).await?;
            state.audit.record(
                Event::new(EventKind::AdminRoleChanged)
                    .actor(caller.user_id)
                    .subject(id)
                    .client(client)
                    .detail("role", role.as_str()),
            );
            return Ok(());
        }
        Action::SendPasswordReset => {
            email_links::queue_reset(state, &user).await?;
            EventKind::AdminSentReset
        }
        Action::SendVerification => {
            if user.email_verified {
                return Err(AppError::bad_request("This address is already confirmed."));
            }
            email_links::queue_verification(&mut conn, state, id, &user.email, now).await?;
            state.mailer.wake();
            EventKind::AdminSentVerification
        }
        Action::ResetTwoStep => {
            drop(conn);
            super::two_step::reset_by_admin(state, &user).await?;
            EventKind::AdminResetTwoStep
        }
    };
    state.audit.record(
        Event::new(event)
            .actor(caller.user_id)
            .subject(id)
            .client(client),
    );
    Ok(())
}

/// Sets a role; demoting the last active admin is refused.
async fn set_role(state: &AppState, id: i64, role: Role) -> Result<(), AppError> {
    let mut conn = state.db.acquire().await?;
    if !users::set_role_unless_last_admin(&mut conn, id, role, state.now()).await? {
        return Err(AppError::forbidden(LAST_ADMIN));
    }
    Ok(())
}

/// `gatehouse admin grant|revoke EMAIL`: run by the operator with the server's settings.
pub async fn set_role_by_email(
    state: &AppState,
    email: &str,
    role: Role,
) -> Result<User, AppError> {
    let email = crate::domain::Email::parse(email).map_err(|m| AppError::field("email", m))?;
    let user = find_by_email(state, email.as_str()).await?.ok_or_else(|| {
        AppError::new(
            crate::domain::ErrorKind::NotFound,
            "No account uses this email address.",
        )
    })?;
    set_role(state, user.id, role).await?;
    state.audit.record(
        Event::new(EventKind::AdminRoleChanged)
            .subject(user.id)
            .detail("role", role.as_str())
            .detail("by", "command line"),
    );
    find_by_id(state, user.id)
        .await?
        .ok_or_else(AppError::not_found)
}
