//! Administration: finding accounts, and the actions an admin may take on them. Every action is
//! recorded in the audit trail with who did it. Admins cannot deactivate themselves, and the
//! last active admin can be neither deactivated nor demoted, so the site always keeps one.

use crate::domain::{ActivityView, AdminUserView, AppError, SessionView};
use crate::server::accounts::audit::{self, Event};
use crate::server::accounts::email_links;
use crate::server::accounts::users::{self, User};
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::sessions;
use crate::server::startup::state::AppState;

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
    pub role: Option<String>,
    pub verified: Option<bool>,
}

/// One page of the list and the cursor of the next (newest first: rows added meanwhile never
/// shift a page, so none is shown twice or missed).
pub struct UserPage {
    pub users: Vec<AdminUserView>,
    pub next_cursor: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ListRow {
    #[sqlx(flatten)]
    user: users::UserRow,
    last_seen_at: Option<i64>,
    live_sessions: i64,
}

fn parse_cursor(raw: &str) -> Result<(i64, i64), AppError> {
    let bad = || AppError::bad_request("The cursor is not one this list gave out.");
    let (created, id) = raw.split_once('.').ok_or_else(bad)?;
    Ok((
        created.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}

/// The half-open range of strings that start with `prefix` (compared case-insensitively, as the
/// NOCASE columns compare), so a search walks an index instead of every row.
fn prefix_range(prefix: &str) -> (String, String) {
    let low = prefix.to_lowercase();
    let high = format!("{low}{}", char::MAX);
    (low, high)
}

pub async fn list_users(
    state: &AppState,
    caller: &CurrentUser,
    filter: &UserFilter,
    cursor: Option<&str>,
) -> Result<UserPage, AppError> {
    require_admin(caller)?;
    let (before_created, before_id) = match cursor.filter(|c| !c.is_empty()) {
        Some(raw) => parse_cursor(raw)?,
        None => (i64::MAX, i64::MAX),
    };
    let now = state.now();
    let query = filter
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty());
    // With a search, the matching emails and usernames come from their indexes; without one,
    // the newest-first index is walked from the cursor.
    // (CROSS JOIN makes SQLite start from the matches rather than from the newest account.)
    let from = if query.is_some() {
        "(SELECT id FROM users WHERE email >= ? AND email < ?
          UNION SELECT id FROM users WHERE username >= ? AND username < ?) AS m
         CROSS JOIN users u ON u.id = m.id"
    } else {
        "users u"
    };
    let sql = format!(
        "SELECT {columns},
                (SELECT MAX(s.last_used_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen_at,
                (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.ended_at IS NULL
                    AND s.expires_at > ?) AS live_sessions
         FROM {from}
         WHERE (u.created_at, u.id) < (?, ?)
           AND (? IS NULL OR u.is_active = ?)
           AND (? IS NULL OR u.role = ?)
           AND (? IS NULL OR u.email_verified = ?)
         ORDER BY u.created_at DESC, u.id DESC
         LIMIT ?",
        columns = users::USER_COLUMNS_OF_U,
    );
    let mut select = sqlx::query_as::<_, ListRow>(&sql).bind(now);
    if let Some(query) = query {
        let (low, high) = prefix_range(query);
        select = select
            .bind(low.clone())
            .bind(high.clone())
            .bind(low)
            .bind(high);
    }
    let rows = select
        .bind(before_created)
        .bind(before_id)
        .bind(filter.active)
        .bind(filter.active)
        .bind(filter.role.as_deref())
        .bind(filter.role.as_deref())
        .bind(filter.verified)
        .bind(filter.verified)
        .bind(PAGE_SIZE + 1)
        .fetch_all(&state.db)
        .await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    let mut users = Vec::with_capacity(rows.len());
    let mut last = None;
    for row in rows.into_iter().take(PAGE_SIZE as usize) {
        let user = User::from(row.user);
        last = Some((user.created_at, user.id));
        users.push(AdminUserView {
            user: user.view(),
            last_seen_at: row.last_seen_at.map(crate::server::store::rfc3339),
            live_sessions: row.live_sessions,
        });
    }
    let next_cursor = last
        .filter(|_| more)
        .map(|(created, id)| format!("{created}.{id}"));
    Ok(UserPage { users, next_cursor })
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
    let user = users::find_by_id(state, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let sessions = sessions::list_for(state, id, None).await?;
    let events = audit::for_subject(state, id, None, 100).await?;
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
}

const LAST_ADMIN: &str = "The site needs at least one active administrator.";

pub async fn act(
    state: &AppState,
    caller: &CurrentUser,
    client: &Client,
    id: i64,
    action: Action,
) -> Result<(), AppError> {
    require_admin(caller)?;
    let user = users::find_by_id(state, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let now = state.now();
    let event = match action {
        Action::Deactivate => {
            if id == caller.user_id {
                return Err(AppError::forbidden(
                    "You cannot deactivate your own account.",
                ));
            }
            // One statement, so two admins cannot deactivate each other at the same moment.
            let changed = sqlx::query(
                "UPDATE users SET is_active = 0, updated_at = ? WHERE id = ? AND (role <> 'admin'
                    OR EXISTS (SELECT 1 FROM users o WHERE o.role = 'admin' AND o.is_active = 1 AND o.id <> ?))",
            )
            .bind(now)
            .bind(id)
            .bind(id)
            .execute(&state.db)
            .await?;
            if changed.rows_affected() == 0 {
                return Err(AppError::forbidden(LAST_ADMIN));
            }
            sessions::end_all_for_user(state, id, None, "deactivated").await?;
            users::notify(
                state,
                &user,
                "Your account was deactivated",
                "an administrator deactivated your Gatehouse account. You can no longer log in; \
                 if you think this is a mistake, contact the site's administrators.",
            )
            .await?;
            "admin_deactivated"
        }
        Action::Reactivate => {
            sqlx::query("UPDATE users SET is_active = 1, updated_at = ? WHERE id = ?")
                .bind(now)
                .bind(id)
                .execute(&state.db)
                .await?;
            "admin_reactivated"
        }
        Action::LogOutEverywhere => {
            sessions::end_all_for_user(state, id, None, "logged_out_by_admin").await?;
            "admin_logged_out"
        }
        Action::MakeAdmin | Action::MakeUser => {
            let role = if action == Action::MakeAdmin {
                "admin"
            } else {
                "user"
            };
            set_role(state, id, role).await?;
            audit::record(
                state,
                Event::new("admin_role_changed")
                    .actor(caller.user_id)
                    .subject(id)
                    .client(client)
                    .detail("role", role),
            );
            return Ok(());
        }
        Action::SendPasswordReset => {
            email_links::queue_reset(state, &user).await?;
            "admin_sent_reset"
        }
        Action::SendVerification => {
            if user.email_verified {
                return Err(AppError::bad_request("This address is already confirmed."));
            }
            let mut tx = state.db.begin().await?;
            email_links::queue_verification(&mut tx, state, id, &user.email, now).await?;
            tx.commit().await?;
            state.mailer.wake();
            "admin_sent_verification"
        }
    };
    audit::record(
        state,
        Event::new(event)
            .actor(caller.user_id)
            .subject(id)
            .client(client),
    );
    Ok(())
}

/// Sets a role; demoting the last active admin is refused.
async fn set_role(state: &AppState, id: i64, role: &str) -> Result<(), AppError> {
    let changed = sqlx::query(
        "UPDATE users SET role = ?, updated_at = ? WHERE id = ? AND (? = 'admin'
            OR EXISTS (SELECT 1 FROM users o WHERE o.role = 'admin' AND o.is_active = 1 AND o.id <> ?))",
    )
    .bind(role)
    .bind(state.now())
    .bind(id)
    .bind(role)
    .bind(id)
    .execute(&state.db)
    .await?;
    if changed.rows_affected() == 0 {
        return Err(AppError::forbidden(LAST_ADMIN));
    }
    Ok(())
}

/// `gatehouse admin grant|revoke EMAIL`: run by the operator with the server's settings.
pub async fn set_role_by_email(
    state: &AppState,
    email: &str,
    role: &str,
) -> Result<User, AppError> {
    let email = crate::domain::Email::parse(email).map_err(|m| AppError::field("email", m))?;
    let user = users::find_by_email(state, email.as_str())
        .await?
        .ok_or_else(|| {
            AppError::new(
                crate::domain::ErrorKind::NotFound,
                "No account uses this email address.",
            )
        })?;
    set_role(state, user.id, role).await?;
    audit::record(
        state,
        Event::new("admin_role_changed")
            .subject(user.id)
            .detail("role", role)
            .detail("by", "command line"),
    );
    users::find_by_id(state, user.id)
        .await?
        .ok_or_else(AppError::not_found)
}
