//! Field rules, written once. Each type can only be built through its `parse`, so a value of
//! that type is valid everywhere after (parse, don't validate).

use std::fmt;

use serde::{Deserialize, Serialize};

pub const DEFAULT_PASSWORD_MIN_LENGTH: usize = 8;
pub const PASSWORD_MAX_LENGTH: usize = 256;
const EMAIL_MAX_LENGTH: usize = 254;
/// How much of a password the strength estimate reads.
#[cfg(feature = "ssr")]
const STRENGTH_JUDGED_CHARS: usize = 100;

/// A syntactically valid email address, trimmed and lower-cased so that comparisons and the
/// uniqueness rule ignore letter case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("Enter your email address.".into());
        }
        if raw.chars().count() > EMAIL_MAX_LENGTH {
            return Err("Email address is too long.".into());
        }
        let normalised = trimmed.to_lowercase();
        let valid = email_address::EmailAddress::is_valid(&normalised)
            // A bare host ("me@localhost") is legal syntax but never a deliverable address here.
            && normalised
                .rsplit_once('@')
                .is_some_and(|(_, domain)| domain.contains('.') && !domain.ends_with('.'));
        if !valid {
            return Err("Enter a valid email address, like name@example.com.".into());
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 3–32 characters: letters, digits, `_`, `-`, `.`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        let len = trimmed.chars().count();
        if len == 0 {
            return Err("Choose a username.".into());
        }
        if !(3..=32).contains(&len) || raw.chars().count() > 32 {
            return Err("Username must be 3 to 32 characters long.".into());
        }
        if !trimmed
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(
                "Username may contain only letters, digits, underscores (_), hyphens (-) and dots (.)."
                    .into(),
            );
        }
        Ok(Self(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password that satisfies the policy (NIST 800-63B): length only, no composition rules,
/// never truncated, and not easily guessed. Its `Debug` never shows the text.
///
/// The browser checks the length only: the guessability estimate (zxcvbn and its
/// dictionaries) would be most of the page's code, so the server alone judges it and the form
/// shows its answer like any other field error.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// `context` holds words the password must not be built from (the email, the username).
    pub fn parse(raw: &str, min_length: usize, context: &[&str]) -> Result<Self, String> {
        let len = raw.chars().count();
        if len == 0 {
            return Err("Enter a password.".into());
        }
        if len < min_length {
            return Err(format!(
                "Password must be at least {min_length} characters long."
            ));
        }
        if len > PASSWORD_MAX_LENGTH {
            return Err(format!(
                "Password must be at most {PASSWORD_MAX_LENGTH} characters long."
            ));
        }
        strength(raw, context)?;
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Refuses a password zxcvbn scores below 3 ("safely unguessable"), with its reason.
#[cfg(feature = "ssr")]
fn strength(raw: &str, context: &[&str]) -> Result<(), String> {
    let inputs: Vec<&str> = context
        .iter()
        .flat_map(|word| word.split(['@', '.', '_', '-', '+']))
        .filter(|part| part.len() >= 3)
        .collect();
    // zxcvbn's cost grows fast with length and some long inputs are known to be slow;
    // a password whose first 100 characters are strong is strong.
    let judged: String = raw.chars().take(STRENGTH_JUDGED_CHARS).collect();
    let estimate = zxcvbn::zxcvbn(&judged, &inputs);
    if estimate.score() < zxcvbn::Score::Three {
        let reason = estimate
            .feedback()
            .and_then(|feedback| feedback.warning())
            .map(|warning| warning.to_string())
            .filter(|warning| !warning.is_empty())
            .unwrap_or_else(|| "It would be easy to guess.".to_string());
        return Err(format!(
            "This password is too easy to guess: {reason} Try a longer phrase of unrelated words."
        ));
    }
    Ok(())
}

/// In the browser: only the obvious cases, answered at once; the server judges the rest.
#[cfg(not(feature = "ssr"))]
fn strength(raw: &str, context: &[&str]) -> Result<(), String> {
    match obviously_guessable(raw, context) {
        Some(reason) => Err(format!(
            "This password is too easy to guess: {reason} Try a longer phrase of unrelated words."
        )),
        None => Ok(()),
    }
}

/// The 1,000 most common passwords of zxcvbn's own list, lower-case letters and digits only.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Passwords zxcvbn is sure to refuse, found without its dictionaries (so the browser can say
/// so before sending the form): one of the most common passwords, or a word of the email or
/// username, each with at most four digits after it. zxcvbn rates such a password at no more
/// than 2 × (rank 1,000 × 2 spellings) × 10⁴ ≈ 4 × 10⁷ guesses, below the 10⁸ it needs for
/// score 3; a unit test checks every one of them against zxcvbn itself.
#[cfg_attr(feature = "ssr", allow(dead_code))]
fn obviously_guessable(raw: &str, context: &[&str]) -> Option<&'static str> {
    // zxcvbn counts other mixes of capitals as extra guesses: leave those to the server.
    let letters: Vec<char> = raw.chars().filter(|c| c.is_alphabetic()).collect();
    let plain_case = letters.iter().all(|c| c.is_lowercase())
        || letters.iter().all(|c| c.is_uppercase())
        || letters.iter().skip(1).all(|c| c.is_lowercase());
    if !plain_case {
        return None;
    }
    let lowered = raw.to_lowercase();
    let stem = lowered.trim_end_matches(|c: char| c.is_ascii_digit());
    let stem = if lowered.len() - stem.len() <= 4 {
        stem
    } else {
        &lowered
    };
    let is_common = |text: &str| COMMON_PASSWORDS.lines().any(|common| common == text);
    if is_common(&lowered) || is_common(stem) {
        return Some("It is one of the most common passwords.");
    }
    let from_context = context
        .iter()
        .flat_map(|word| word.split(['@', '.', '_', '-', '+']))
        .filter(|part| part.len() >= 3)
        .any(|part| part.to_lowercase() == stem);
    from_context.then_some("It is made from your email address or username.")
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

pub fn check_confirmation(password: &str, confirmation: &str) -> Result<(), String> {
    if password == confirmation {
        Ok(())
    } else {
        Err("The passwords do not match.".into())
    }
}

fn bounded_text(
    raw: &str,
    min: usize,
    max: usize,
    what: &str,
    empty_message: &str,
) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.chars().count() < min {
        return Err(empty_message.to_string());
    }
    // The limit counts what was sent, spaces included, as the API document states it.
    if raw.chars().count() > max {
        return Err(format!("{what} must be at most {max} characters long."));
    }
    Ok(trimmed.to_string())
}

/// A project name: 1–100 characters after trimming.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectName(String);

impl ProjectName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        bounded_text(raw, 1, 100, "Name", "Give the project a name.").map(Self)
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A project description: at most 2,000 characters after trimming; may be empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub fn parse(raw: &str) -> Result<Self, String> {
        bounded_text(raw, 0, 2000, "Description", "").map(Self)
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A task title: 1–200 characters after trimming.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub fn parse(raw: &str) -> Result<Self, String> {
        bounded_text(raw, 1, 200, "Title", "Give the task a title.").map(Self)
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lower_cased() {
        let email = Email::parse("  Ada@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ada@example.com");
    }

    #[test]
    fn email_without_at_or_domain_is_rejected() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "a b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn username_length_and_characters() {
        assert!(Username::parse("ada.l-ove_1").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse("ada lovelace").is_err());
        assert!(Username::parse("ada<script>").is_err());
    }

    #[test]
    fn password_shorter_than_minimum_is_rejected_with_reason() {
        let err = Password::parse("Zq9!xw", 8, &[]).unwrap_err();
        assert_eq!(err, "Password must be at least 8 characters long.");
    }

    #[test]
    fn password_longer_than_maximum_is_rejected_not_truncated() {
        let long = "plum-orbit-vessel ".repeat(15);
        assert!(long.chars().count() > PASSWORD_MAX_LENGTH);
        assert!(Password::parse(&long, 8, &[]).is_err());
        let exact: String = long.chars().take(PASSWORD_MAX_LENGTH).collect();
        assert_eq!(
            Password::parse(&exact, 8, &[]).unwrap().expose(),
            exact.as_str()
        );
    }

    #[test]
    fn common_passwords_are_rejected_with_a_reason() {
        for common in [
            "password",
            "password123",
            "12345678",
            "qwertyuiop",
            "iloveyou1",
        ] {
            let err = Password::parse(common, 8, &[]).unwrap_err();
            assert!(
                err.starts_with("This password is too easy to guess"),
                "{common}: {err}"
            );
        }
    }

    #[test]
    fn password_built_from_the_username_is_rejected() {
        assert!(Password::parse("adalovelace2024", 8, &["adalovelace"]).is_err());
    }

    /// The browser's quick check must never refuse what the server would accept.
    #[test]
    fn the_browsers_quick_check_refuses_only_what_zxcvbn_refuses() {
        for word in COMMON_PASSWORDS.lines() {
            assert!(obviously_guessable(word, &[]).is_some(), "{word}");
            let capitalised = word[..1].to_uppercase() + &word[1..];
            for spelling in [word.to_string(), capitalised, word.to_uppercase()] {
                for suffix in ["", "2024"] {
                    let password = format!("{spelling}{suffix}");
                    if obviously_guessable(&password, &[]).is_some() {
                        assert!(
                            zxcvbn::zxcvbn(&password, &[]).score() < zxcvbn::Score::Three,
                            "{password}"
                        );
                    }
                }
            }
        }
        let context = ["ada.lovelace@example.com", "countess_ada"];
        for password in ["lovelace2024", "Countess1", "EXAMPLE"] {
            assert!(
                obviously_guessable(password, &context).is_some(),
                "{password}"
            );
            assert!(zxcvbn::zxcvbn(password, &context).score() < zxcvbn::Score::Three);
        }
        for fine in [
            "PaSsWoRd2024",
            "password12345",
            "violet tundra kettle 42",
            "lovelace99999",
        ] {
            assert!(obviously_guessable(fine, &context).is_none(), "{fine}");
        }
    }

    #[test]
    fn no_composition_rules_for_a_long_passphrase() {
        assert!(Password::parse("correct horse battery staple", 8, &[]).is_ok());
    }

    #[test]
    fn password_debug_is_redacted() {
        let password = Password::parse("violet-tundra-kettle-42", 8, &[]).unwrap();
        assert!(!format!("{password:?}").contains("violet"));
    }

    #[test]
    fn confirmation_must_match() {
        assert!(check_confirmation("a", "a").is_ok());
        assert_eq!(
            check_confirmation("a", "b").unwrap_err(),
            "The passwords do not match."
        );
    }

    #[test]
    fn project_and_task_text_is_trimmed_and_bounded() {
        assert_eq!(ProjectName::parse("  Home  ").unwrap().into_inner(), "Home");
        assert!(ProjectName::parse("   ").is_err());
        assert!(ProjectName::parse(&"x".repeat(101)).is_err());
        assert!(Description::parse("").is_ok());
        assert!(Description::parse(&"x".repeat(2001)).is_err());
        assert!(TaskTitle::parse(&"x".repeat(200)).is_ok());
        assert!(TaskTitle::parse(&"x".repeat(201)).is_err());
    }
}
