//! Access tokens whose session the database confirmed, remembered while the database has not
//! changed since.
//!
//! Every authenticated request checks its session row, so that ending a session takes effect
//! at once. Most requests change nothing, so the answer of the last check stays right until
//! the next commit. Entries are found by the token itself: a token seen again is not verified
//! again either (its signature and claims are the same bytes), only its lifetime is.
//!
//! SQLite's WAL index (the `-shm` file beside the database) holds a header that every
//! committed transaction rewrites, whichever connection or process commits it
//! (<https://sqlite.org/walformat.html>, "the WAL-index header"). A remembered check is used
//! only while that header is byte-for-byte the one read before the check was made: any commit
//! since (a logout, a revoked session, a role granted from the command line, a password change,
//! a profile edit, or anything else) sends the next request back to the database.
//!
//! Reading the header is one small file read: a fraction of a query's round trip to SQLite's
//! worker thread. The file stays open between reads while it is still the one at its path
//! (SQLite removes it when the last connection closes and makes a new one after): a status
//! check of the open file and a read, instead of a path lookup, open, read and close.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::domain::UserView;
use crate::server::security::tokens::Lifetime;

/// Size of one copy of the WAL-index header; the file starts with two copies.
const HEADER_BYTES: usize = 48;

/// The database's state as of one moment: equal stamps mean nothing was committed between.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Stamp([u8; HEADER_BYTES]);

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
    /// The `-shm` file, or `None` when the database has none (in memory): nothing is cached.
    index: Option<PathBuf>,
    /// That file as last opened.
    open: Mutex<Option<Arc<File>>>,
    entries: Mutex<Entries>,
}

impl SessionCache {
    /// For the SQLite database file at `database`.
    pub fn for_database(database: &Path) -> Self {
        let mut index = database.as_os_str().to_owned();
        index.push("-shm");
        let in_memory =
            database.as_os_str().is_empty() || database.to_string_lossy().contains(":memory:");
        Self {
            index: (!in_memory).then(|| PathBuf::from(index)),
            open: Mutex::default(),
            entries: Mutex::default(),
        }
    }

    /// The database's state now, if it can be read.
    pub fn stamp(&self) -> Option<Stamp> {
        let index = self.index.as_ref()?;
        let mut header = [0u8; 2 * HEADER_BYTES];
        self.index_file(index)?.read_exact_at(&mut header, 0).ok()?;
        let (first, second) = header.split_at(HEADER_BYTES);
        // SQLite writes the second copy, then the first: a read that overlaps a commit sees
        // them differ, and is not trusted. An uninitialised index (all zeros) is not either.
        if first != second || first.iter().all(|b| *b == 0) {
            return None;
        }
        let mut stamp = [0u8; HEADER_BYTES];
        stamp.copy_from_slice(first);
        Some(Stamp(stamp))
    }

    /// The `-shm` file now at `index`. The one held open is used while it still has a name:
    /// SQLite unlinks it when the last connection closes and the next connection creates a
    /// new file, which a handle to the old one would never see change. A commit racing this
    /// check is no different from one just after the read.
    fn index_file(&self, index: &Path) -> Option<Arc<File>> {
        let held = self.open.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(file) = held {
            if file.metadata().is_ok_and(|status| status.nlink() > 0) {
                return Some(file);
            }
        }
        let file = Arc::new(File::open(index).ok()?);
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = Some(file.clone());
        Some(file)
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
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
    use sqlx::{ConnectOptions, Connection};

    fn account() -> Arc<UserView> {
        Arc::new(UserView {
            id: 1,
            email: "ada@example.com".into(),
            username: "ada".into(),
            role: "user".into(),
            is_active: true,
            email_verified: false,
            created_at: String::new(),
        })
    }

    fn confirmed() -> Confirmed {
        Confirmed {
            user_id: 1,
            session_id: "s".into(),
            token: Lifetime { nbf: 0, exp: 0 },
            last_used_at: 0,
            expires_at: 0,
            account: account(),
        }
    }

    /// A WAL database file in `dir` with one table `t`, its options and the connection that
    /// made it.
    async fn wal_database(dir: &Path) -> (PathBuf, SqliteConnectOptions, sqlx::SqliteConnection) {
        let file = dir.join("db.sqlite");
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let mut first = options.connect().await.unwrap();
        sqlx::query("CREATE TABLE t (v INTEGER)")
            .execute(&mut first)
            .await
            .unwrap();
        (file, options, first)
    }

    #[tokio::test]
    async fn a_commit_from_any_connection_changes_the_stamp_and_reads_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let (file, options, writer) = wal_database(dir.path()).await;
        let mut other = options.connect().await.unwrap();
        let cache = SessionCache::for_database(&file);

        let before = cache.stamp().expect("a WAL database has a stamp");
        let _: Vec<(i64,)> = sqlx::query_as("SELECT v FROM t")
            .fetch_all(&mut other)
            .await
            .unwrap();
        assert_eq!(cache.stamp(), Some(before), "a read changes nothing");

        cache.remember("s1", before, confirmed());
        assert!(cache.get("s1", before).is_some());

        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut other)
            .await
            .unwrap();
        let after = cache.stamp().unwrap();
        assert_ne!(after, before, "another connection's commit is seen");
        assert!(cache.get("s1", after).is_none());

        writer.close().await.unwrap();
        other.close().await.unwrap();
    }

    #[tokio::test]
    async fn the_index_made_after_every_connection_closed_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let (file, options, first) = wal_database(dir.path()).await;
        let cache = SessionCache::for_database(&file);
        let before = cache.stamp().expect("a WAL database has a stamp");
        cache.remember("s1", before, confirmed());
        first.close().await.unwrap();
        assert!(
            !dir.path().join("db.sqlite-shm").exists(),
            "SQLite removes the index when the last connection closes"
        );

        let mut second = options.connect().await.unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut second)
            .await
            .unwrap();
        let after = cache.stamp().expect("the new index is read");
        assert_ne!(after, before, "a commit in the new index is seen");
        assert!(cache.get("s1", after).is_none());
        second.close().await.unwrap();
    }

    #[test]
    fn nothing_is_cached_without_a_wal_index() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SessionCache::for_database(&dir.path().join("missing.sqlite"));
        assert_eq!(cache.stamp(), None);
        let cache = SessionCache::for_database(Path::new(":memory:"));
        assert_eq!(cache.stamp(), None);
    }

    #[test]
    fn entries_remembered_before_a_change_are_dropped() {
        let cache = SessionCache::for_database(Path::new(":memory:"));
        let (one, two) = (Stamp([1; HEADER_BYTES]), Stamp([2; HEADER_BYTES]));
        cache.remember("s1", one, confirmed());
        cache.remember("s2", two, confirmed());
        assert!(cache.get("s1", two).is_none());
        assert!(cache.get("s2", two).is_some());
        assert_eq!(cache.lock().by_token.len(), 1);
    }
}
