//! The audit trail: who did what to which account, from where. Recording never blocks or
//! fails the request it describes: events go through a bounded channel to a writer task, and
//! when that is full an event is dropped with a warning. Events hold kinds, ids, addresses
//! and short details, never a secret, token or password.

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::domain::devices::describe_user_agent;
use crate::domain::{ActivityView, AppError};
use crate::server::security::principal::Client;
use crate::server::startup::clock::{rfc3339, Clock};
use crate::server::store::audit::{self as store, EventRow, NewEvent};
use crate::server::store::Store;

/// Events waiting for the writer before new ones are dropped.
const BACKLOG: usize = 10_000;

/// What happened: the `event` column holds `as_str`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Registered,
    VerificationSent,
    EmailVerified,
    LoginSucceeded,
    LoginFailed,
    LoginThrottled,
    RefreshTokenReused,
    SessionEnded,
    PasswordChanged,
    EmailChangeRequested,
    EmailChanged,
    ResetRequested,
    PasswordReset,
    AccountDeleted,
    AdminDeactivated,
    AdminReactivated,
    AdminLoggedOut,
    AdminRoleChanged,
    AdminSentReset,
    AdminSentVerification,
    AppTurnedOn,
    AppTurnedOff,
    RecoveryCodesGenerated,
    RecoveryCodeUsed,
    SecondStepFailed,
    SecondStepThrottled,
    AdminResetTwoStep,
    PasskeyAdded,
    PasskeyRemoved,
    AppAllowed,
    AppAccessRemoved,
    AppTokensIssued,
    AppTokenReused,
    AppRegistered,
    AppUnregistered,
}

impl EventKind {
    const ALL: [EventKind; 35] = [
        Self::Registered,
        Self::VerificationSent,
        Self::EmailVerified,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginThrottled,
        Self::RefreshTokenReused,
        Self::SessionEnded,
        Self::PasswordChanged,
        Self::EmailChangeRequested,
        Self::EmailChanged,
        Self::ResetRequested,
        Self::PasswordReset,
        Self::AccountDeleted,
        Self::AdminDeactivated,
        Self::AdminReactivated,
        Self::AdminLoggedOut,
        Self::AdminRoleChanged,
        Self::AdminSentReset,
        Self::AdminSentVerification,
        Self::AppTurnedOn,
        Self::AppTurnedOff,
        Self::RecoveryCodesGenerated,
        Self::RecoveryCodeUsed,
        Self::SecondStepFailed,
        Self::SecondStepThrottled,
        Self::AdminResetTwoStep,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::AppAllowed,
        Self::AppAccessRemoved,
        Self::AppTokensIssued,
        Self::AppTokenReused,
        Self::AppRegistered,
        Self::AppUnregistered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::VerificationSent => "verification_sent",
            Self::EmailVerified => "email_verified",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoginThrottled => "login_throttled",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::SessionEnded => "session_ended",
            Self::PasswordChanged => "password_changed",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::ResetRequested => "reset_requested",
            Self::PasswordReset => "password_reset",
            Self::AccountDeleted => "account_deleted",
            Self::AdminDeactivated => "admin_deactivated",
            Self::AdminReactivated => "admin_reactivated",
            Self::AdminLoggedOut => "admin_logged_out",
            Self::AdminRoleChanged => "admin_role_changed",
            Self::AdminSentReset => "admin_sent_reset",
            Self::AdminSentVerification => "admin_sent_verification",
            Self::AppTurnedOn => "app_turned_on",
            Self::AppTurnedOff => "app_turned_off",
            Self::RecoveryCodesGenerated => "recovery_codes_generated",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::SecondStepFailed => "second_step_failed",
            Self::SecondStepThrottled => "second_step_throttled",
            Self::AdminResetTwoStep => "admin_reset_two_step",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::AppAllowed => "app_allowed",
            Self::AppAccessRemoved => "app_access_removed",
            Self::AppTokensIssued => "app_tokens_issued",
            Self::AppTokenReused => "app_token_reused",
            Self::AppRegistered => "app_registered",
            Self::AppUnregistered => "app_unregistered",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == stored)
    }

    /// Done by an administrator to someone else's account.
    fn is_admin_action(self) -> bool {
        self.as_str().starts_with("admin_")
    }
}

/// One thing that happened.
#[derive(Debug, Clone)]
pub struct Event {
    at: i64,
    kind: EventKind,
    actor: Option<i64>,
    subject: Option<i64>,
    ip_address: String,
    user_agent: String,
    session_id: Option<String>,
    details: Map<String, Value>,
}

impl Event {
    pub fn new(kind: EventKind) -> Self {
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
    clock: Clock,
}

impl AuditLog {
    /// Starts the writer task for `db`.
    pub fn start(db: Store, clock: Clock) -> Self {
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
        Self { sender, clock }
    }

    /// Records `event` now, without waiting.
    pub fn record(&self, mut event: Event) {
        event.at = self.clock.now();
        if self.sender.try_send(Message::Record(event)).is_err() {
            tracing::warn!("audit backlog full: event dropped");
        }
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

async fn write(db: &Store, events: &[Event]) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    for event in events {
        let details = Value::Object(event.details.clone()).to_string();
        let row = NewEvent {
            at: event.at,
            kind: event.kind.as_str(),
            actor: event.actor,
            subject: event.subject,
            ip_address: &event.ip_address,
            user_agent: &event.user_agent,
            session_id: event.session_id.as_deref(),
            details: &details,
        };
        store::insert(&mut tx, &row).await?;
    }
    tx.commit().await
}

/// Who reads the trail: the person it concerns, or an administrator (who is told which
/// administrator acted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    Owner,
    Admin,
}

/// The events about `subject`, newest first, `limit` at a time, older than `before` (an id).
pub async fn for_subject(
    db: &Store,
    subject: i64,
    before: Option<i64>,
    limit: i64,
    reader: Reader,
) -> Result<Vec<ActivityView>, AppError> {
    let mut conn = db.acquire().await?;
    let rows = store::for_subject(&mut conn, subject, before, limit).await?;
    Ok(rows.into_iter().map(|row| describe(row, reader)).collect())
}

/// Deletes events recorded before `before` (unix seconds).
pub async fn delete_before(db: &Store, before: i64) -> Result<u64, sqlx::Error> {
    let mut conn = db.acquire().await?;
    store::delete_before(&mut conn, before).await
}

/// An event in words, as the person it concerns reads it.
fn describe(row: EventRow, reader: Reader) -> ActivityView {
    let details: Map<String, Value> = serde_json::from_str(&row.details).unwrap_or_default();
    let detail = |key: &str| {
        details
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let device = describe_user_agent(&row.user_agent);
    let from = if row.ip_address.is_empty() {
        device.clone()
    } else {
        format!("{device}, {}", row.ip_address)
    };
    let by_admin = row.actor_id.is_some() && row.actor_id != row.subject_id;
    // Admins see which administrator acted; the person keeps the neutral wording.
    let admin = match (reader, &row.actor_email) {
        (Reader::Admin, Some(email)) => match &row.actor_username {
            Some(name) => format!("Administrator {email} ({name})"),
            None => format!("Administrator {email}"),
        },
        (Reader::Admin, None) if row.actor_id.is_some() => {
            "An administrator (account since deleted)".to_string()
        }
        _ => "An administrator".to_string(),
    };
    let kind = EventKind::parse(&row.event);
    let text = match kind {
        Some(EventKind::Registered) => "Account created".to_string(),
        Some(EventKind::LoginSucceeded) => match detail("with").as_str() {
            "" => format!("Log in from {from}"),
            with => format!("Log in from {from} ({with})"),
        },
        Some(EventKind::LoginFailed) => {
            format!("Failed log-in attempt from {from} ({})", detail("reason"))
        }
        Some(EventKind::LoginThrottled) => {
            format!("Log-in attempts from {from} were slowed down after too many failures")
        }
        Some(EventKind::RefreshTokenReused) => {
            "A session was ended because its refresh token was used twice".to_string()
        }
        Some(EventKind::SessionEnded) => {
            format!("Session ended ({})", detail("how").replace('_', " "))
        }
        Some(EventKind::PasswordChanged) => "Password changed".to_string(),
        Some(EventKind::EmailChangeRequested) => format!(
            "Change of email address to {} requested",
            detail("new_email")
        ),
        Some(EventKind::EmailChanged) => {
            format!("Email address changed to {}", detail("new_email"))
        }
        Some(EventKind::ResetRequested) => "Password reset link sent".to_string(),
        Some(EventKind::PasswordReset) => "Password reset from an emailed link".to_string(),
        Some(EventKind::VerificationSent) => "Confirmation link sent".to_string(),
        Some(EventKind::EmailVerified) => "Email address confirmed".to_string(),
        Some(EventKind::AccountDeleted) => "Account deleted".to_string(),
        Some(EventKind::AdminDeactivated) => format!("{admin} deactivated the account"),
        Some(EventKind::AdminReactivated) => format!("{admin} reactivated the account"),
        Some(EventKind::AdminLoggedOut) => format!("{admin} logged the account out everywhere"),
        Some(EventKind::AdminRoleChanged) => {
            format!("{admin} changed the role to {}", detail("role"))
        }
        Some(EventKind::AdminSentReset) => format!("{admin} sent a password reset link"),
        Some(EventKind::AdminSentVerification) => format!("{admin} sent a confirmation link"),
        Some(EventKind::AppTurnedOn) => "Authenticator app turned on".to_string(),
        Some(EventKind::AppTurnedOff) => "Authenticator app turned off".to_string(),
        Some(EventKind::RecoveryCodesGenerated) => {
            "New recovery codes generated (the old ones no longer work)".to_string()
        }
        Some(EventKind::RecoveryCodeUsed) => "A recovery code was used to log in".to_string(),
        Some(EventKind::SecondStepFailed) => format!(
            "Wrong two-step verification code from {from} ({})",
            detail("reason")
        ),
        Some(EventKind::SecondStepThrottled) => {
            format!(
                "Two-step verification codes from {from} were slowed down after too many failures"
            )
        }
        Some(EventKind::AdminResetTwoStep) => format!("{admin} reset two-step verification"),
        Some(EventKind::PasskeyAdded) => format!("Passkey added ({})", detail("name")),
        Some(EventKind::PasskeyRemoved) => format!("Passkey removed ({})", detail("name")),
        Some(EventKind::AppAllowed) => format!("Allowed the app {} to log you in", detail("app")),
        Some(EventKind::AppAccessRemoved) => {
            format!("Removed the access of the app {}", detail("app"))
        }
        Some(EventKind::AppTokensIssued) => format!("The app {} received tokens", detail("app")),
        Some(EventKind::AppTokenReused) => format!(
            "An app's tokens were ended because its {} was used twice",
            detail("token").replace('_', " ")
        ),
        Some(EventKind::AppRegistered) => format!("{admin} added the app {}", detail("app")),
        Some(EventKind::AppUnregistered) => format!("{admin} removed the app {}", detail("app")),
        // Written by another version of Gatehouse.
        None => row.event.replace('_', " "),
    };
    let admin_action = kind.is_some_and(EventKind::is_admin_action);
    let text = if by_admin && !admin_action {
        match reader {
            Reader::Owner => format!("{text} (by an administrator)"),
            Reader::Admin => match &row.actor_email {
                Some(email) => format!("{text} (by administrator {email})"),
                None => format!("{text} (by an administrator)"),
            },
        }
    } else {
        text
    };
    ActivityView {
        id: row.id,
        at: rfc3339(row.at),
        text,
        event: row.event,
        actor_id: row.actor_id,
        subject_id: row.subject_id,
    }
}
