//! Access tokens whose session the database confirmed, remembered while the database has not
//! changed since.
//!
//! Every authenticated request checks its session row, so that ending a session takes effect
//! at once. Most requests change nothing, so the answer of the last check stays right until
//! the next commit. Entries are found by the token itself: a token seen again is not verified
//! again either (its signature and claims are the same bytes), only its lifetime is.
//!
//! A remembered check is used only while the database's change stamp
//! (`store::change_stamp`) is the one read before the check was made: any commit since (a
//! logout, a revoked session, a role granted from the command line, a password change, a
//! profile edit, or anything else) sends the next request back to the database.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::domain::UserView;
use crate::server::security::tokens::Lifetime;
use crate::server::store::change_stamp::{ChangeStamps, Stamp};

/// An access token that verified, and the check of its session the database answered "live".
#[derive(Clone)]
pub struct Confirmed {
    pub user_id: i64,
    pub session_id: String,
    /// The token's own `nbf` and `exp`.
    pub token: Lifetime,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub account: Arc<UserView>,
}

/// More tokens than this seen between two commits are not remembered past it.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
struct Entries {
    stamp: Option<Stamp>,
    by_token: HashMap<String, Confirmed>,
}

pub struct SessionCache {
    stamps: ChangeStamps,
    entries: Mutex<Entries>,
}

impl SessionCache {
    /// For the SQLite database file at `database`.
    pub fn for_database(database: &Path) -> Self {
        Self {
            stamps: ChangeStamps::for_database(database),
            entries: Mutex::default(),
        }
    }

    /// The database's state now, if it can be read.
    pub fn stamp(&self) -> Option<Stamp> {
        self.stamps.stamp()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The check remembered for access token `token`, if the database is still as it was
    /// (`now`).
    pub fn get(&self, token: &str, now: Stamp) -> Option<Confirmed> {
        let entries = self.lock();
        if entries.stamp != Some(now) {
            return None;
        }
        entries.by_token.get(token).cloned()
    }

    /// Remembers a check of `token` made after the database was at `before`.
    pub fn remember(&self, token: &str, before: Stamp, confirmed: Confirmed) {
        let mut entries = self.lock();
        if entries.stamp != Some(before) || entries.by_token.len() >= MAX_ENTRIES {
            entries.by_token.clear();
            entries.stamp = Some(before);
        }
        entries.by_token.insert(token.to_owned(), confirmed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn confirmed() -> Confirmed {
        Confirmed {
            user_id: 1,
            session_id: "s".into(),
            token: Lifetime { nbf: 0, exp: 0 },
            last_used_at: 0,
            expires_at: 0,
            account: Arc::new(UserView {
                id: 1,
                email: "ada@example.com".into(),
                username: "ada".into(),
                role: Role::User,
                is_active: true,
                email_verified: false,
                created_at: String::new(),
            }),
        }
    }

    #[test]
    fn entries_remembered_before_a_change_are_dropped() {
        let cache = SessionCache::for_database(Path::new(":memory:"));
        let (one, two) = (Stamp::for_tests(1), Stamp::for_tests(2));
        cache.remember("s1", one, confirmed());
        cache.remember("s2", two, confirmed());
        assert!(cache.get("s1", two).is_none());
        assert!(cache.get("s2", two).is_some());
        assert_eq!(cache.lock().by_token.len(), 1);
    }
}
