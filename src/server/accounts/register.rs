//! Creating an account.

use crate::domain::{check_registration, AppError, Email, NewAccount, Username};
use crate::server::accounts::audit::{Event, EventKind};
use crate::server::security::password::PasswordHash;
use crate::server::security::principal::Client;
use crate::server::security::tokens::IssuedTokens;
use crate::server::sessions;
use crate::server::startup::state::AppState;
use crate::server::store::{users, Conn, Unique};

use super::{email_links, find_by_id, taken, User};

pub struct Registration<'a> {
    pub email: &'a str,
    /// The API may leave it out; one is then derived from the email.
    pub username: Option<&'a str>,
    pub password: &'a str,
    /// The web form asks twice; the API does not.
    pub confirm_password: Option<&'a str>,
}

/// A username from the email's local part ("ada.l@x.io" → "ada.l"), padded to the minimum.
fn username_from_email(email: &Email) -> String {
    let local = email.as_str().split('@').next().unwrap_or_default();
    let mut name: String = local
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(24)
        .collect();
    while name.chars().count() < 3 {
        name.push('_');
    }
    name
}

/// What a registration led to.
pub enum Registered {
    /// The account exists and may log in.
    Account(User),
    /// `EMAIL_VERIFICATION=required`: the same answer whether or not the address already had
    /// an account; a link (or, for a taken address, a notice to its owner) is on its way.
    CheckInbox,
}

/// Creates an account. Every answer, including "email taken", comes after the same work (the
/// checks, then a password hash, then one insert), so its timing does not tell whether an
/// account exists; the one conflict it reports is the field the person must change.
pub async fn register(
    state: &AppState,
    input: Registration<'_>,
    client: &Client,
) -> Result<Registered, AppError> {
    let (email, username, password) = (
        input.email.to_string(),
        input.username.map(str::to_string),
        input.password.to_string(),
    );
    let confirm = input.confirm_password.map(str::to_string);
    let min_length = state.config.password_min_length;
    // The strength estimate is CPU work: off the async workers, behind the hashing bound.
    let NewAccount {
        email,
        username,
        password,
    } = state
        .hasher
        .run(move || {
            check_registration(
                &email,
                username.as_deref(),
                &password,
                confirm.as_deref(),
                min_length,
            )
        })
        .await??;
    state
        .throttle
        .register(
            &client.ip_address,
            state.config.registration_limit,
            state.now(),
        )
        .await
        .map_err(AppError::too_many_requests)?;
    let hash = state.hasher.hash(password.expose()).await?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let inserted = match username {
        Some(username) => {
            users::insert(&mut tx, email.as_str(), username.as_str(), &hash, now).await?
        }
        None => insert_with_derived_username(&mut tx, &email, &hash, now).await?,
    };
    let required = state.config.mail.verification_required;
    let id = match inserted {
        Ok(id) => id,
        Err(Unique::UsersEmail) if required => {
            drop(tx);
            email_links::registration_attempt_notice(state, email.as_str(), client).await?;
            return Ok(Registered::CheckInbox);
        }
        Err(unique) => return Err(taken(unique)),
    };
    email_links::queue_verification(&mut tx, state, id, email.as_str(), now).await?;
    tx.commit().await?;
    state.mailer.wake();
    tracing::info!(user_id = id, "account registered");
    state
        .audit
        .record(Event::new(EventKind::Registered).by(id).client(client));
    state.audit.record(
        Event::new(EventKind::VerificationSent)
            .subject(id)
            .client(client),
    );
    if required {
        return Ok(Registered::CheckInbox);
    }
    let user = find_by_id(state, id)
        .await?
        .ok_or_else(AppError::internal)?;
    Ok(Registered::Account(user))
}

/// Registers and logs the new person in on this client (the web form's flow); `None` when
/// they must first confirm their address.
pub async fn register_and_log_in(
    state: &AppState,
    input: Registration<'_>,
    client: &Client,
) -> Result<Option<IssuedTokens>, AppError> {
    match register(state, input, client).await? {
        Registered::Account(user) => {
            Ok(Some(sessions::start(state, user.id, false, client).await?))
        }
        Registered::CheckInbox => Ok(None),
    }
}

/// The person chose no username: take one from the email, and if it is taken (also by a
/// registration running at the same moment), the next free numbered one.
async fn insert_with_derived_username(
    conn: &mut Conn,
    email: &Email,
    hash: &PasswordHash,
    now: i64,
) -> crate::server::store::Written<i64> {
    let base = username_from_email(email);
    let candidates = std::iter::once(base.clone()).chain((2..1000).map(|n| format!("{base}{n}")));
    for candidate in candidates {
        let Ok(username) = Username::parse(&candidate) else {
            continue;
        };
        match users::insert(conn, email.as_str(), username.as_str(), hash, now).await? {
            Err(Unique::UsersUsername) => continue,
            outcome => return Ok(outcome),
        }
    }
    Ok(Err(Unique::UsersUsername))
}
