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
use tokio::sync::Notify;

use crate::server::startup::clock::Clock;
use crate::server::startup::config::MailSettings;
use crate::server::store::outbox::{self, MAX_ATTEMPTS};
use crate::server::store::{Conn, Store};

pub mod templates;
/// How long a claimed message is left to the worker that claimed it (longer than the SMTP
/// timeout) before another may take it.
const LEASE_SECS: i64 = 60;
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

/// Queues `mail` inside the caller's transaction; it is sent once that commits (then call
/// `Mailer::wake`).
pub async fn enqueue(conn: &mut Conn, mail: &Mail, now: i64) -> Result<(), sqlx::Error> {
    outbox::enqueue(conn, &mail.to, &mail.subject, &mail.body, now).await
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Where mail goes, the outbox it is taken from, and a bell that wakes the worker when a
/// message is queued.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    queued: Arc<Notify>,
    store: Store,
    clock: Clock,
}

impl Mailer {
    /// `Err` names the bad setting.
    pub fn new(
        settings: &MailSettings,
        data_dir: &std::path::Path,
        store: Store,
        clock: Clock,
    ) -> Result<Self, String> {
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
            store,
            clock,
        })
    }

    /// Queues `mail` on `conn` (not inside a transaction: it commits at once) and wakes the
    /// worker.
    pub async fn send(&self, conn: &mut Conn, mail: &Mail, now: i64) -> Result<(), sqlx::Error> {
        enqueue(conn, mail, now).await?;
        self.wake();
        Ok(())
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

impl Mailer {
    /// Delivers what is due now; returns how many were delivered.
    pub async fn deliver_due(&self) -> Result<usize, sqlx::Error> {
        let mut conn = self.store.acquire().await?;
        let due = outbox::claim_due(&mut conn, self.clock.now(), LEASE_SECS, BATCH).await?;
        let mut delivered = 0;
        for mail in due {
            let outcome = match self.message(&mail.recipient, &mail.subject, &mail.body) {
                Ok(message) => self.deliver(mail.id, message).await,
                Err(e) => Err(e),
            };
            let now = self.clock.now();
            match outcome {
                Ok(place) => {
                    delivered += 1;
                    tracing::info!(mail_id = mail.id, to = %place, "mail delivered");
                    outbox::mark_sent(&mut conn, mail.id, now).await?;
                }
                Err(error) => {
                    let attempts = mail.attempts + 1;
                    if attempts >= MAX_ATTEMPTS {
                        tracing::error!(mail_id = mail.id, %error, "mail given up after {attempts} attempts");
                    } else {
                        tracing::warn!(mail_id = mail.id, %error, attempts, "mail delivery failed; will retry");
                    }
                    let next = now + back_off(attempts);
                    outbox::mark_failed(&mut conn, mail.id, attempts, next, &error).await?;
                }
            }
        }
        Ok(delivered)
    }

    /// Messages still waiting for delivery (for metrics and tests).
    pub async fn backlog(&self) -> Result<i64, sqlx::Error> {
        let mut conn = self.store.acquire().await?;
        outbox::backlog(&mut conn).await
    }

    /// The delivery worker: wakes when a message is queued, and every second for retries.
    pub fn spawn_worker(&self) {
        let mailer = self.clone();
        tokio::spawn(async move {
            // Ends when the server closes the database at shutdown.
            while !mailer.store.is_closed() {
                if let Err(e) = mailer.deliver_due().await {
                    tracing::warn!(error = %e, "mail worker: database error");
                }
                tokio::select! {
                    () = mailer.queued.notified() => {}
                    () = tokio::time::sleep(TICK) => {}
                }
            }
        });
    }
}
