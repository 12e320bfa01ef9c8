//! Outgoing mail. A message is written to the `outbox` table in the same transaction as the
//! change that caused it; a background worker delivers it by SMTP (`SMTP_URL`) or, when that is
//! unset, as an `.eml` file in `$DATA_DIR/outbox/`, retrying with back-off. A slow or dead mail
//! server therefore never slows a request, fails it, or shows in its timing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::SqliteConnection;
use tokio::sync::Notify;

use crate::server::startup::config::MailSettings;
use crate::server::startup::state::AppState;

/// Delivery attempts before a message is given up (logged, kept in the table).
const MAX_ATTEMPTS: i64 = 5;
/// Messages taken per round of the worker.
const BATCH: i64 = 20;
/// How often the worker looks for retries that have come due.
const TICK: Duration = Duration::from_secs(1);

/// A plain-text message to one recipient.
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Queues `mail` inside the caller's transaction; it is sent once that commits.
pub async fn enqueue(
    conn: &mut SqliteConnection,
    mail: &Mail,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (recipient, subject, body, created_at, next_attempt_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&mail.to)
    .bind(&mail.subject)
    .bind(&mail.body)
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues `mail` on its own (no other change goes with it) and wakes the worker.
pub async fn send(state: &AppState, mail: &Mail) -> Result<(), sqlx::Error> {
    let mut conn = state.db.acquire().await?;
    enqueue(&mut conn, mail, state.now()).await?;
    state.mailer.wake();
    Ok(())
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Where mail goes, and a bell that wakes the worker when a message is queued.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    queued: Arc<Notify>,
}

impl Mailer {
    /// `Err` names the bad setting.
    pub fn new(settings: &MailSettings, data_dir: &std::path::Path) -> Result<Self, String> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| format!("MAIL_FROM: {:?} is not a mailbox: {e}", settings.from))?;
        let transport = match &settings.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    // lettre's error may quote the URL, which may hold a password.
                    .map_err(|_| "SMTP_URL: not a valid smtp:// or smtps:// URL".to_string())?
                    .timeout(Some(Duration::from_secs(10)))
                    .build();
                Transport::Smtp(transport)
            }
            None => Transport::Files(data_dir.join("outbox")),
        };
        Ok(Self {
            transport,
            from,
            queued: Arc::new(Notify::new()),
        })
    }

    /// Tells the worker that a message was queued (call after the commit).
    pub fn wake(&self) {
        self.queued.notify_one();
    }

    fn message(&self, to: &str, subject: &str, body: &str) -> Result<Message, String> {
        let to: Mailbox = to.parse().map_err(|e| format!("bad recipient: {e}"))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| format!("cannot build the message: {e}"))
    }

    /// Delivers one message; the answer says where it went, never what it said.
    async fn deliver(&self, id: i64, message: Message) -> Result<String, String> {
        match &self.transport {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| "smtp".to_string())
                .map_err(|e| e.to_string()),
            Transport::Files(dir) => {
                let path = dir.join(format!("{id:08}.eml"));
                write_private(dir, &path, &message.formatted())
                    .await
                    .map(|()| path.display().to_string())
                    .map_err(|e| e.to_string())
            }
        }
    }
}

async fn write_private(
    dir: &std::path::Path,
    path: &std::path::Path,
    bytes: &[u8],
) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    use tokio::io::AsyncWriteExt;
    let mut file = options.open(path).await?;
    file.write_all(bytes).await?;
    file.sync_all().await
}

/// Waits after the n-th failed attempt: 10 s, 20 s, 40 s, 80 s.
fn back_off(attempts: i64) -> i64 {
    10 << (attempts - 1).clamp(0, 6)
}

#[derive(sqlx::FromRow)]
struct Queued {
    id: i64,
    recipient: String,
    subject: String,
    body: String,
    attempts: i64,
}

/// Delivers what is due now; returns how many were delivered.
pub async fn deliver_due(state: &AppState) -> Result<usize, sqlx::Error> {
    let now = state.now();
    let due: Vec<Queued> = sqlx::query_as(
        "SELECT id, recipient, subject, body, attempts FROM outbox
         WHERE sent_at IS NULL AND attempts < ? AND next_attempt_at <= ?
         ORDER BY next_attempt_at, id LIMIT ?",
    )
    .bind(MAX_ATTEMPTS)
    .bind(now)
    .bind(BATCH)
    .fetch_all(&state.db)
    .await?;
    let mut delivered = 0;
    for mail in due {
        let outcome = match state
            .mailer
            .message(&mail.recipient, &mail.subject, &mail.body)
        {
            Ok(message) => state.mailer.deliver(mail.id, message).await,
            Err(e) => Err(e),
        };
        let now = state.now();
        match outcome {
            Ok(place) => {
                delivered += 1;
                tracing::info!(mail_id = mail.id, to = %place, "mail delivered");
                sqlx::query(
                    "UPDATE outbox SET sent_at = ?, body = '', last_error = NULL WHERE id = ?",
                )
                .bind(now)
                .bind(mail.id)
                .execute(&state.db)
                .await?;
            }
            Err(error) => {
                let attempts = mail.attempts + 1;
                if attempts >= MAX_ATTEMPTS {
                    tracing::error!(mail_id = mail.id, %error, "mail given up after {attempts} attempts");
                } else {
                    tracing::warn!(mail_id = mail.id, %error, attempts, "mail delivery failed; will retry");
                }
                sqlx::query(
                    "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
                )
                .bind(attempts)
                .bind(now + back_off(attempts))
                .bind(error)
                .bind(mail.id)
                .execute(&state.db)
                .await?;
            }
        }
    }
    Ok(delivered)
}

/// Messages still waiting for delivery (for metrics and tests).
pub async fn backlog(state: &AppState) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND attempts < ?")
        .bind(MAX_ATTEMPTS)
        .fetch_one(&state.db)
        .await
}

/// The delivery worker: wakes when a message is queued, and every second for retries.
pub fn spawn_worker(state: AppState) {
    tokio::spawn(async move {
        // Ends when the server closes the database at shutdown.
        while !state.db.is_closed() {
            if let Err(e) = deliver_due(&state).await {
                tracing::warn!(error = %e, "mail worker: database error");
            }
            tokio::select! {
                () = state.mailer.queued.notified() => {}
                () = tokio::time::sleep(TICK) => {}
            }
        }
    });
}
