//! Changing a profile (username, email, password) and deleting the account.

use crate::domain::{check_profile, AppError};
use crate::server::accounts::audit::{Event, EventKind};
use crate::server::security::password::PasswordHash;
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::startup::state::AppState;
use crate::server::store::{email_tokens, users, Unique};

use super::email_links::NewAddress;
use super::passwords::{after_password_change, require_current_password, strong_new_password};
use super::{current, email_links, find_by_email, find_by_id, profile_of, taken, User, LAST_ADMIN};

/// A change to a profile. Fields left `None` stay as they are.
#[derive(Default)]
pub struct ProfileChanges<'a> {
    pub username: Option<&'a str>,
    pub email: Option<&'a str>,
    /// A new password (the owner only); ends the owner's other sessions.
    pub password: Option<&'a str>,
    /// Required from the owner to change the email or the password.
    pub current_password: &'a str,
}

/// A saved profile change.
pub struct ProfileUpdated {
    pub user: User,
    /// The owner changed their email: it changes once the link sent here is used.
    pub confirmation_sent_to: Option<String>,
}

/// Changes `id`'s profile on behalf of `caller`: their own, or as an admin anyone's username
/// and email (without a password). Everything is checked before anything is saved, so a
/// refused change changes nothing.
pub async fn update_profile(
    state: &AppState,
    caller: &CurrentUser,
    client: &Client,
    id: i64,
    changes: ProfileChanges<'_>,
) -> Result<ProfileUpdated, AppError> {
    let user = profile_of(state, caller, id).await?;
    let own = caller.user_id == id;
    if changes.password.is_some() && !own {
        return Err(AppError::forbidden(
            "Only the account's owner can change its password.",
        ));
    }
    let update = check_profile(changes.username, changes.email)?;
    let new_password = match changes.password {
        Some(new_password) => Some(
            // The API calls the new password `password`; the form's checks say `new_password`.
            strong_new_password(state, &user, changes.current_password, new_password, None)
                .await
                .map_err(|err| err.rename_field("new_password", "password"))?,
        ),
        None => None,
    };
    let username = update
        .username
        .map_or_else(|| user.username.clone(), |u| u.as_str().to_string());
    let email = update
        .email
        .map_or_else(|| user.email.clone(), |e| e.as_str().to_string());
    let email_changed = email != user.email;
    if own && (email_changed || new_password.is_some()) {
        require_current_password(state, &user, changes.current_password).await?;
    }
    let new_hash = match &new_password {
        Some(password) => Some(state.hasher.hash(password.expose()).await?),
        None => None,
    };
    // The owner's new address must prove itself first; an admin's correction applies at once.
    let confirm_new_email = own && email_changed;
    // With verification required, a taken address answers as a free one does: its owner is
    // told instead, and no link is made.
    let claims_taken = confirm_new_email && find_by_email(state, &email).await?.is_some();
    if claims_taken && !state.config.mail.verification_required {
        return Err(taken(Unique::UsersEmail));
    }
    let stored_email = if confirm_new_email {
        &user.email
    } else {
        &email
    };
    let now = state.now();
    let mut tx = state.db.begin().await?;
    users::update_profile(&mut tx, id, &username, stored_email, new_hash.as_ref(), now)
        .await?
        .map_err(taken)?;
    if new_hash.is_some() {
        after_password_change(&mut tx, state, &user, Some(&caller.session_id), now).await?;
        state.audit.record(
            Event::new(EventKind::PasswordChanged)
                .by(user.id)
                .session(&caller.session_id),
        );
    }
    if email_changed && !own {
        // An admin's correction: links sent to the old address must not outlive it.
        email_tokens::delete_all_for(&mut tx, id).await?;
    }
    if confirm_new_email {
        let new_address = if claims_taken {
            let notify_owner = email_links::notice_allowed(state, &email, client, now).await;
            NewAddress::Taken { notify_owner }
        } else {
            NewAddress::Free
        };
        email_links::request_email_change(&mut tx, state, &user, caller, &email, new_address, now)
            .await?;
        state.audit.record(
            Event::new(EventKind::EmailChangeRequested)
                .by(user.id)
                .session(&caller.session_id)
                .detail("new_email", email.clone()),
        );
    }
    tx.commit().await?;
    state.mailer.wake();
    let user = find_by_id(state, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(ProfileUpdated {
        user,
        confirmation_sent_to: confirm_new_email.then_some(email),
    })
}

pub struct PasswordChange<'a> {
    pub current_password: &'a str,
    pub new_password: &'a str,
    /// The web form asks twice; the API does not.
    pub confirm_new_password: Option<&'a str>,
}

/// Changes the password and ends every other session of the person.
pub async fn change_password(
    state: &AppState,
    caller: &CurrentUser,
    change: PasswordChange<'_>,
) -> Result<(), AppError> {
    let user = current(state, caller).await?;
    let new_password = strong_new_password(
        state,
        &user,
        change.current_password,
        change.new_password,
        change.confirm_new_password,
    )
    .await?;
    require_current_password(state, &user, change.current_password).await?;
    let hash: PasswordHash = state.hasher.hash(new_password.expose()).await?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    users::set_password_hash(&mut tx, user.id, &hash, now).await?;
    after_password_change(&mut tx, state, &user, Some(&caller.session_id), now).await?;
    tx.commit().await?;
    state.mailer.wake();
    state.audit.record(
        Event::new(EventKind::PasswordChanged)
            .by(user.id)
            .session(&caller.session_id),
    );
    Ok(())
}

/// Deletes the account after checking the password; its sessions, projects and tasks go with
/// it (foreign keys cascade).
pub async fn delete_account(
    state: &AppState,
    caller: &CurrentUser,
    password: &str,
) -> Result<(), AppError> {
    let user = current(state, caller).await?;
    require_current_password(state, &user, password)
        .await
        .map_err(|err| err.rename_field("current_password", "password"))?;
    let mut conn = state.db.acquire().await?;
    if !users::delete_unless_last_admin(&mut conn, user.id).await? {
        return Err(AppError::forbidden(LAST_ADMIN));
    }
    tracing::info!(user_id = user.id, "account deleted");
    state.audit.record(
        Event::new(EventKind::AccountDeleted)
            .by(user.id)
            .session(&caller.session_id),
    );
    Ok(())
}
