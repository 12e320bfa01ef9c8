//! The audit trail: who did what to which account, from where. Recording never blocks or
//! fails the request it describes: events go through a bounded channel to a writer task, and
//! when that is full an event is dropped with a warning. Events hold kinds, ids, addresses
//! and short details, never a secret, token or password.

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::domain::{ActivityView, AppError};
use crate::server::security::principal::Client;
use crate::server::startup::state::AppState;

/// Events waiting for the writer before new ones are dropped.
const BACKLOG: usize = 10_000;

/// One thing that happened.
#[derive(Debug, Clone)]
pub struct Event {
    at: i64,
    kind: &'static str,
    actor: Option<i64>,
    subject: Option<i64>,
    ip_address: String,
    user_agent: String,
    session_id: Option<String>,
    details: Map<String, Value>,
}

impl Event {
    pub fn new(kind: &'static str) -> Self {
        Self {
            at: 0,
            kind,
            actor: None,
            subject: None,
            ip_address: String::new(),
            user_agent: String::new(),
            session_id: None,
            details: Map::new(),
        }
    }

    /// Who did it (their user id).
    pub fn actor(mut self, id: i64) -> Self {
        self.actor = Some(id);
        self
    }

    /// Whose account it concerns.
    pub fn subject(mut self, id: i64) -> Self {
        self.subject = Some(id);
        self
    }

    /// The person acting on their own account.
    pub fn by(self, id: i64) -> Self {
        self.actor(id).subject(id)
    }

    pub fn client(mut self, client: &Client) -> Self {
        self.ip_address.clone_from(&client.ip_address);
        self.user_agent.clone_from(&client.user_agent);
        self
    }

    pub fn session(mut self, id: &str) -> Self {
        self.session_id = Some(id.to_string());
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<String>) -> Self {
        self.details
            .insert(key.to_string(), Value::String(value.into()));
        self
    }
}

/// What the writer task receives.
enum Message {
    Record(Event),
    /// Answered once everything sent before it is written.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The sending end; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    sender: mpsc::Sender<Message>,
}

impl AuditLog {
    /// Starts the writer task for `db`.
    pub fn start(db: sqlx::SqlitePool) -> Self {
        let (sender, mut receiver) = mpsc::channel::<Message>(BACKLOG);
        tokio::spawn(async move {
            let mut received = Vec::with_capacity(64);
            while receiver.recv_many(&mut received, 64).await > 0 {
                let mut events = Vec::with_capacity(received.len());
                let mut flushes = Vec::new();
                for message in received.drain(..) {
                    match message {
                        Message::Record(event) => events.push(event),
                        Message::Flush(done) => flushes.push(done),
                    }
                }
                if let Err(e) = write(&db, &events).await {
                    tracing::warn!(error = %e, lost = events.len(), "could not write audit events");
                }
                for done in flushes {
                    let _ = done.send(());
                }
            }
        });
        Self { sender }
    }

    /// Waits until every event recorded so far is written (a short-lived command ends
    /// right after).
    pub async fn flush(&self) {
        let (done, written) = tokio::sync::oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

async fn write(db: &sqlx::SqlitePool, events: &[Event]) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    for event in events {
        sqlx::query(
            "INSERT INTO audit_events (at, actor_id, subject_id, event, ip_address, user_agent, session_id, details)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(event.at)
        .bind(event.actor)
        .bind(event.subject)
        .bind(event.kind)
        .bind(&event.ip_address)
        .bind(&event.user_agent)
        .bind(&event.session_id)
        .bind(Value::Object(event.details.clone()).to_string())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Records `event` now, without waiting.
pub fn record(state: &AppState, mut event: Event) {
    event.at = state.now();
    if state.audit.sender.try_send(Message::Record(event)).is_err() {
        tracing::warn!("audit backlog full: event dropped");
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    at: i64,
    actor_id: Option<i64>,
    subject_id: Option<i64>,
    event: String,
    ip_address: String,
    user_agent: String,
    details: String,
}

/// The events about `subject`, newest first, `limit` at a time, older than `before` (an id).
pub async fn for_subject(
    state: &AppState,
    subject: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ActivityView>, AppError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, at, actor_id, subject_id, event, ip_address, user_agent, details
         FROM audit_events WHERE subject_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
    )
    .bind(subject)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(&state.db)
    .await?;
    Ok(rows.into_iter().map(describe).collect())
}

/// Deletes events older than `AUDIT_RETENTION`.
pub async fn delete_old(state: &AppState) -> Result<u64, sqlx::Error> {
    let keep = i64::try_from(state.config.audit_retention.as_secs()).unwrap_or(i64::MAX / 4);
    let result = sqlx::query("DELETE FROM audit_events WHERE at < ?")
        .bind(state.now() - keep)
        .execute(&state.db)
        .await?;
    Ok(result.rows_affected())
}

/// An event in words, as the person it concerns reads it.
fn describe(row: Row) -> ActivityView {
    let details: Map<String, Value> = serde_json::from_str(&row.details).unwrap_or_default();
    let detail = |key: &str| {
        details
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let device = crate::server::sessions::describe_user_agent(&row.user_agent);
    let from = if row.ip_address.is_empty() {
        device.clone()
    } else {
        format!("{device}, {}", row.ip_address)
    };
    let by_admin = row.actor_id.is_some() && row.actor_id != row.subject_id;
    let text = match row.event.as_str() {
        "registered" => "Account created".to_string(),
        "login_succeeded" => format!("Log in from {from}"),
        "login_failed" => format!("Failed log-in attempt from {from} ({})", detail("reason")),
        "login_throttled" => {
            format!("Log-in attempts from {from} were slowed down after too many failures")
        }
        "refresh_token_reused" => {
            "A session was ended because its refresh token was used twice".to_string()
        }
        "session_ended" => format!("Session ended ({})", detail("how").replace('_', " ")),
        "password_changed" => "Password changed".to_string(),
        "email_change_requested" => format!(
            "Change of email address to {} requested",
            detail("new_email")
        ),
        "email_changed" => format!("Email address changed to {}", detail("new_email")),
        "reset_requested" => "Password reset link sent".to_string(),
        "password_reset" => "Password reset from an emailed link".to_string(),
        "verification_sent" => "Confirmation link sent".to_string(),
        "email_verified" => "Email address confirmed".to_string(),
        "account_deleted" => "Account deleted".to_string(),
        "admin_deactivated" => "An administrator deactivated the account".to_string(),
        "admin_reactivated" => "An administrator reactivated the account".to_string(),
        "admin_logged_out" => "An administrator logged the account out everywhere".to_string(),
        "admin_role_changed" => format!("An administrator changed the role to {}", detail("role")),
        "admin_sent_reset" => "An administrator sent a password reset link".to_string(),
        "admin_sent_verification" => "An administrator sent a confirmation link".to_string(),
        other => other.replace('_', " "),
    };
    ActivityView {
        id: row.id,
        at: crate::server::store::rfc3339(row.at),
        text: if by_admin && !row.event.starts_with("admin_") {
            format!("{text} (by an administrator)")
        } else {
            text
        },
        event: row.event,
        actor_id: row.actor_id,
        subject_id: row.subject_id,
    }
}
