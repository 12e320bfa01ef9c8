//! Whether anything was committed: SQLite's WAL index (the `-shm` file beside the database)
//! holds a header that every committed transaction rewrites, whichever connection or process
//! commits it (<https://sqlite.org/walformat.html>, "the WAL-index header"). Two equal stamps
//! mean nothing was committed between the two reads.
//!
//! Reading the header is one small file read: a fraction of a query's round trip to SQLite's
//! worker thread. The file stays open between reads while it is still the one at its path.
//! SQLite removes it when the last connection closes and builds a new one for the next
//! connection, whose header may repeat bytes an old one had (its change counter starts again):
//! a stamp therefore also carries which file it was read from, so no stamp read before the
//! index was rebuilt equals one read after. A header whose change counter is still zero is
//! not trusted at all. The pool keeps one connection open, so the index is rarely rebuilt.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Size of one copy of the WAL-index header; the file starts with two copies.
const HEADER_BYTES: usize = 48;
/// Where the header's change counter (`iChange`, a u32) sits.
const CHANGE_COUNTER: std::ops::Range<usize> = 8..12;

/// The database's state as of one moment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Stamp {
    /// Which index file it was read from (counts the files opened).
    file: u64,
    header: [u8; HEADER_BYTES],
}

impl Stamp {
    #[cfg(test)]
    pub(crate) fn for_tests(n: u8) -> Self {
        Self {
            file: 0,
            header: [n; HEADER_BYTES],
        }
    }
}

struct Held {
    file: Arc<File>,
    number: u64,
}

/// Reads stamps of one database.
pub struct ChangeStamps {
    /// The `-shm` file, or `None` when the database has none (in memory): no stamps.
    index: Option<PathBuf>,
    /// That file as last opened, and its number.
    open: Mutex<Option<Held>>,
    opened: Mutex<u64>,
}

impl ChangeStamps {
    /// For the SQLite database file at `database`.
    pub fn for_database(database: &Path) -> Self {
        let mut index = database.as_os_str().to_owned();
        index.push("-shm");
        let in_memory =
            database.as_os_str().is_empty() || database.to_string_lossy().contains(":memory:");
        Self {
            index: (!in_memory).then(|| PathBuf::from(index)),
            open: Mutex::default(),
            opened: Mutex::default(),
        }
    }

    /// The database's state now, if it can be read and trusted.
    pub fn stamp(&self) -> Option<Stamp> {
        let index = self.index.as_ref()?;
        let (file, number) = self.index_file(index)?;
        let mut header = [0u8; 2 * HEADER_BYTES];
        file.read_exact_at(&mut header, 0).ok()?;
        // Unlinked (and perhaps replaced) between the check and the read: not trusted.
        if !file.metadata().is_ok_and(|status| status.nlink() > 0) {
            return None;
        }
        let (first, second) = header.split_at(HEADER_BYTES);
        // SQLite writes the second copy, then the first: a read that overlaps a commit sees
        // them differ, and is not trusted. A fresh index (change counter zero) is not either.
        if first != second || first[CHANGE_COUNTER].iter().all(|b| *b == 0) {
            return None;
        }
        let mut stamp = [0u8; HEADER_BYTES];
        stamp.copy_from_slice(first);
        Some(Stamp {
            file: number,
            header: stamp,
        })
    }

    /// The `-shm` file now at `index`, and its number. The one held open is used while it
    /// still has a name: a handle to an unlinked file would never see a commit again.
    fn index_file(&self, index: &Path) -> Option<(Arc<File>, u64)> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = open.as_ref() {
            if held.file.metadata().is_ok_and(|status| status.nlink() > 0) {
                return Some((held.file.clone(), held.number));
            }
        }
        let file = Arc::new(File::open(index).ok()?);
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        *opened += 1;
        *open = Some(Held {
            file: file.clone(),
            number: *opened,
        });
        Some((file, *opened))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
    use sqlx::{ConnectOptions, Connection};

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
        let stamps = ChangeStamps::for_database(&file);

        let before = stamps.stamp().expect("a WAL database has a stamp");
        let _: Vec<(i64,)> = sqlx::query_as("SELECT v FROM t")
            .fetch_all(&mut other)
            .await
            .unwrap();
        assert_eq!(stamps.stamp(), Some(before), "a read changes nothing");

        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut other)
            .await
            .unwrap();
        assert_ne!(
            stamps.stamp().unwrap(),
            before,
            "another connection's commit"
        );

        writer.close().await.unwrap();
        other.close().await.unwrap();
    }

    #[tokio::test]
    async fn the_index_made_after_every_connection_closed_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let (file, options, first) = wal_database(dir.path()).await;
        let stamps = ChangeStamps::for_database(&file);
        let before = stamps.stamp().expect("a WAL database has a stamp");
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
        let after = stamps.stamp().expect("the new index is read");
        assert_ne!(after, before, "a commit in the new index is seen");
        second.close().await.unwrap();
    }

    /// A header as SQLite writes it: two equal copies, change counter `counter`.
    fn header(counter: u32, salt: u8) -> Vec<u8> {
        let mut copy = [salt; HEADER_BYTES];
        copy[CHANGE_COUNTER].copy_from_slice(&counter.to_le_bytes());
        [copy, copy].concat()
    }

    #[test]
    fn a_rebuilt_index_with_the_same_bytes_is_not_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("db.sqlite");
        let index = dir.path().join("db.sqlite-shm");
        let stamps = ChangeStamps::for_database(&database);
        std::fs::write(&index, header(1, 7)).unwrap();
        let before = stamps.stamp().unwrap();
        // Every connection closed (the file is gone) and a new index came back byte for byte.
        std::fs::remove_file(&index).unwrap();
        std::fs::write(&index, header(1, 7)).unwrap();
        assert_ne!(stamps.stamp(), Some(before));
    }

    #[test]
    fn a_fresh_index_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("db.sqlite");
        std::fs::write(dir.path().join("db.sqlite-shm"), header(0, 7)).unwrap();
        assert_eq!(ChangeStamps::for_database(&database).stamp(), None);
    }

    #[test]
    fn nothing_is_stamped_without_a_wal_index() {
        let dir = tempfile::tempdir().unwrap();
        let stamps = ChangeStamps::for_database(&dir.path().join("missing.sqlite"));
        assert_eq!(stamps.stamp(), None);
        assert_eq!(
            ChangeStamps::for_database(Path::new(":memory:")).stamp(),
            None
        );
    }
}
