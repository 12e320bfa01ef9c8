//! Every message Gatehouse sends, worded in one place. Each function takes what its text
//! needs and returns the message; links are built by the caller from `PUBLIC_URL`.

use super::Mail;

fn mail(to: &str, subject: &str, body: String) -> Mail {
    Mail {
        to: to.to_string(),
        subject: subject.to_string(),
        body,
    }
}

/// The link that confirms a new account's address.
pub fn confirm_address(to: &str, link: &str, valid_hours: i64) -> Mail {
    mail(
        to,
        "Confirm your email address",
        format!(
            "Hello,\n\nplease confirm that {to} is your email address by opening this link and \
             pressing \"Confirm email address\":\n\n{link}\n\nThe link works for {valid_hours} \
             hours. If you did not create a Gatehouse account, ignore this message.\n"
        ),
    )
}

/// To the owner of an address someone tried to register again.
pub fn registration_attempt(to: &str, origin: &str) -> Mail {
    mail(
        to,
        "Someone tried to register with your address",
        format!(
            "Hello,\n\nsomeone tried to create a Gatehouse account with {to}, which already has \
             one. If it was you, log in instead, or reset your password at \
             {origin}/forgot-password. Otherwise you can ignore this message.\n"
        ),
    )
}

/// The link that confirms a new address for an existing account.
pub fn confirm_new_address(to: &str, username: &str, link: &str, valid_hours: i64) -> Mail {
    mail(
        to,
        "Confirm your new email address",
        format!(
            "Hello {username},\n\nto use {to} for your Gatehouse account, open this link and \
             press \"Confirm email address\":\n\n{link}\n\nThe link works for {valid_hours} \
             hours, from the session that asked for it. Until then your account keeps its \
             current address.\n"
        ),
    )
}

/// To the current address, when a change to `new_email` was asked for.
pub fn address_change_requested(to: &str, username: &str, new_email: &str, origin: &str) -> Mail {
    mail(
        to,
        "Your email address is about to change",
        format!(
            "Hello {username},\n\nsomeone logged in to your Gatehouse account asked to change its \
             email address to {new_email}; the confirmation link was sent to {new_email}. It \
             changes only once that link is used. If this was not you, change your password \
             now: {origin}/profile\n"
        ),
    )
}

/// To the owner of an address a member of another account asked to move to (when
/// verification is required, that request answers the same for taken and free addresses).
pub fn address_claimed(to: &str, origin: &str) -> Mail {
    mail(
        to,
        "Someone tried to use your address",
        format!(
            "Hello,\n\nsomeone logged in to another Gatehouse account asked to change its email \
             address to {to}, which already belongs to your account. Nothing was changed. If it \
             was you, log in to your own account instead: {origin}/login\n"
        ),
    )
}

pub fn reset_password(to: &str, username: &str, link: &str, valid_minutes: i64) -> Mail {
    mail(
        to,
        "Reset your password",
        format!(
            "Hello {username},\n\nto choose a new password for your Gatehouse account, open this \
             link:\n\n{link}\n\nThe link works once, for {valid_minutes} minutes. If you did not \
             ask for it, ignore this message: your password stays as it is.\n"
        ),
    )
}

pub fn password_changed(to: &str, username: &str, origin: &str) -> Mail {
    mail(
        to,
        "Your password was changed",
        format!(
            "Hello {username},\n\nthe password of your Gatehouse account was just changed, and \
             its other sessions were logged out. If this was not you, reset your password at \
             once: {origin}/forgot-password\n"
        ),
    )
}

pub fn account_deactivated(to: &str, username: &str) -> Mail {
    mail(
        to,
        "Your account was deactivated",
        format!(
            "Hello {username},\n\nan administrator deactivated your Gatehouse account. You can no \
             longer log in; if you think this is a mistake, contact the site's administrators.\n"
        ),
    )
}

pub fn session_ended_after_reuse(to: &str, username: &str) -> Mail {
    mail(
        to,
        "A session of your account was ended",
        format!(
            "Hello {username},\n\none of your sessions was ended because its refresh token was \
             used twice, which can mean someone copied it. If you do not recognise this, change \
             your password.\n"
        ),
    )
}

/// After a login finished with a recovery code.
pub fn recovery_code_used(to: &str, username: &str, left: i64, origin: &str) -> Mail {
    let left = match left {
        0 => "You have no recovery codes left: generate new ones now.".to_string(),
        1 => "You have 1 recovery code left.".to_string(),
        n => format!("You have {n} recovery codes left."),
    };
    mail(
        to,
        "A recovery code was used to log in",
        format!(
            "Hello {username},\n\nsomeone logged in to your Gatehouse account with one of your \
             recovery codes. {left} You can generate new codes at {origin}/security.\n\nIf this \
             was not you, change your password and generate new recovery codes at once.\n"
        ),
    )
}

/// After an administrator removed the account's second factors.
pub fn two_step_reset(to: &str, username: &str, origin: &str) -> Mail {
    mail(
        to,
        "Two-step verification was reset",
        format!(
            "Hello {username},\n\nan administrator reset two-step verification for your \
             Gatehouse account: your authenticator app and recovery codes were removed and your \
             sessions were logged out. You can log in with your password and set up a second \
             factor again at {origin}/security.\n\nIf you did not ask for this, contact the \
             site's administrators.\n"
        ),
    )
}

/// After a second factor was added to the account.
pub fn second_factor_added(to: &str, username: &str, what: &str, origin: &str) -> Mail {
    mail(
        to,
        "A second factor was added to your account",
        format!(
            "Hello {username},\n\n{what} was added to your Gatehouse account. From now on it \
             can be used to log in.\n\nIf this was not you, log in, remove it at \
             {origin}/security and change your password at once.\n"
        ),
    )
}
