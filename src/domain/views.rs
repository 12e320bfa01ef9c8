use serde::{Deserialize, Serialize};

/// What an account may do: every account is a `user`; an `admin` also administers others.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }

    /// The stored or typed name (`user`, `admin`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "user" => Some(Self::User),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// What a person may see of an account. Never carries a password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub username: String,
    pub role: Role,
    pub is_active: bool,
    pub email_verified: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// One login of the person, as shown on `/sessions` and by the API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionView {
    pub id: String,
    /// Browser and operating system in words, e.g. "Chrome on Linux".
    pub device: String,
    pub ip_address: String,
    pub created_at: String,
    pub last_used_at: String,
    pub current: bool,
    /// How the session was authenticated, in words ("Password and authenticator app").
    pub signed_in_with: String,
    /// The same as RFC 8176 values: `pwd`, `otp`, `hwk`/`swk` …
    pub amr: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProjectView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub task_count: i64,
    pub done_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TaskView {
    pub id: i64,
    pub project_id: i64,
    pub title: String,
    pub done: bool,
    pub position: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// One security event, in words, for the person it concerns (and for admins).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ActivityView {
    pub id: i64,
    /// RFC 3339, UTC.
    pub at: String,
    /// Stable kind, e.g. `login_succeeded`.
    pub event: String,
    pub text: String,
    pub actor_id: Option<i64>,
    pub subject_id: Option<i64>,
}

/// A row of the admin users list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AdminUserView {
    #[serde(flatten)]
    pub user: UserView,
    /// RFC 3339 of the most recent use of any session; absent when never.
    pub last_seen_at: Option<String>,
    pub live_sessions: i64,
}
