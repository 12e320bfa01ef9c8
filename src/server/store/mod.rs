//! The store: every SQL statement of the server, one owner per table.
//!
//! - `users` (accounts), `sessions` (sessions and their refresh tokens), `email_tokens`,
//!   `outbox` (queued mail), `audit` (the audit trail), `projects` (projects and tasks)
//! - `change_stamp`: SQLite's WAL-index header, read to tell whether anything was committed
//!
//! Services never write SQL, never name the backend, and never read a database error's text:
//! they get typed rows and typed outcomes (`Unique` for a broken unique index). Every store
//! function takes `&mut Conn`: a connection from `Store::acquire` or a transaction from
//! `Store::begin` (which derefs to one), so one function serves a single statement and a
//! statement inside a larger transaction alike.
//!
//! How a backend is chosen: today `Conn` is SQLite's connection and `Store` wraps SQLite's
//! pool. The PostgreSQL sibling turns `Store` and `Conn` into enums over the two pools and
//! their connections, and each function here matches on them (the SQL that differs —
//! placeholders, booleans, `RETURNING`, upserts, case-insensitive uniqueness — differs only
//! in this folder). An enum rather than a trait or generics: services stay free of type
//! parameters, both backends are compiled into one binary chosen by `DATABASE_URL`, and the
//! compiler checks that each statement has both forms.

pub mod audit;
pub mod change_stamp;
pub mod email_tokens;
pub mod outbox;
pub mod projects;
pub mod sessions;
pub mod users;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// A connection (or a transaction, through `DerefMut`) that store functions run on.
pub type Conn = sqlx::SqliteConnection;
/// A transaction: commit it, or dropping it rolls back.
pub type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;
/// A connection lent by the pool.
pub type PooledConn = sqlx::pool::PoolConnection<sqlx::Sqlite>;

/// The schema, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The database: a pool of connections with the schema migrated. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: sqlx::SqlitePool,
}

impl Store {
    /// Opens `database_url` (WAL journaling, foreign keys on) and runs the migrations.
    pub async fn connect(database_url: &str) -> Result<Self, String> {
        let options = SqliteConnectOptions::from_str(database_url)
            .map_err(|e| format!("DATABASE_URL: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // One connection stays open: the WAL index then outlives quiet periods
        // (`change_stamp`).
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|e| format!("DATABASE_URL: cannot open the database: {e}"))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| format!("database migration failed: {e}"))?;
        Ok(Self { pool })
    }

    /// The pool itself, for tests and benchmarks that inspect or arrange rows directly.
    /// Server code goes through the functions of this folder.
    pub fn sqlite_pool(&self) -> &sqlx::SqlitePool {
        &self.pool
    }

    pub async fn acquire(&self) -> Result<PooledConn, sqlx::Error> {
        self.pool.acquire().await
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.pool.begin().await
    }

    /// The database file (empty for an in-memory database).
    pub fn file(&self) -> PathBuf {
        self.pool.connect_options().get_filename().to_path_buf()
    }

    /// Answers a trivial query: the database is reachable.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(drop)
    }

    /// How many of the binary's migrations the database has not applied successfully.
    pub async fn pending_migrations(&self) -> Result<usize, sqlx::Error> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = 1")
                .fetch_all(&self.pool)
                .await?;
        Ok(MIGRATOR
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count())
    }

    /// Writes a consistent copy of the live database to `path` (`VACUUM INTO`: one read
    /// transaction, writers go on).
    pub async fn copy_to(&self, path: &str) -> Result<(), sqlx::Error> {
        sqlx::query("VACUUM INTO ?")
            .bind(path)
            .execute(&self.pool)
            .await
            .map(drop)
    }

    /// Open connections, and how many of them are idle.
    pub fn connections(&self) -> (u32, u32) {
        (self.pool.size(), self.pool.num_idle() as u32)
    }

    pub fn max_connections(&self) -> u32 {
        self.pool.options().get_max_connections()
    }

    /// Moves every committed change from the WAL into the database file and empties the WAL
    /// (at shutdown: the pool may not close its last connection, which would do it).
    pub async fn checkpoint(&self) -> Result<(), sqlx::Error> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
            .map(drop)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }
}

/// The unique indexes a write can run into, named as in the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unique {
    UsersEmail,
    UsersUsername,
}

impl Unique {
    const ALL: [Unique; 2] = [Unique::UsersEmail, Unique::UsersUsername];

    /// The index's name in the schema (what PostgreSQL reports as the constraint).
    pub fn name(self) -> &'static str {
        match self {
            Self::UsersEmail => "users_email_key",
            Self::UsersUsername => "users_username_key",
        }
    }

    /// The indexed columns as SQLite reports them: SQLite names no constraint in its errors,
    /// only `UNIQUE constraint failed: users.email`.
    fn sqlite_columns(self) -> &'static str {
        match self {
            Self::UsersEmail => "users.email",
            Self::UsersUsername => "users.username",
        }
    }

    /// The unique index `err` broke, if it is one of ours.
    pub fn violated_by(err: &sqlx::Error) -> Option<Self> {
        let db = err
            .as_database_error()
            .filter(|db| db.is_unique_violation())?;
        if let Some(name) = db.constraint() {
            return Self::ALL.into_iter().find(|u| u.name() == name);
        }
        let columns = db.message().strip_prefix("UNIQUE constraint failed: ")?;
        Self::ALL
            .into_iter()
            .find(|u| u.sqlite_columns() == columns)
    }
}

/// A write's outcome when it may run into a unique index.
pub type Written<T> = Result<Result<T, Unique>, sqlx::Error>;

/// Sorts a failed write into "ran into a unique index" and every other failure.
pub(crate) fn unique_or<T>(result: Result<T, sqlx::Error>) -> Written<T> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(err) => match Unique::violated_by(&err) {
            Some(unique) => Ok(Err(unique)),
            None => Err(err),
        },
    }
}

/// Seconds of a duration, saturating (for settings turned into SQL bounds).
pub fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_broken_unique_index_is_named_by_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
        let store = Store::connect(&url).await.unwrap();
        let mut conn = store.acquire().await.unwrap();
        let insert = |email: &'static str, username: &'static str| {
            sqlx::query(
                "INSERT INTO users (email, username, password_hash, created_at, updated_at)
                 VALUES (?, ?, 'x', 0, 0)",
            )
            .bind(email)
            .bind(username)
        };
        insert("a@example.com", "ada")
            .execute(&mut *conn)
            .await
            .unwrap();
        let email = insert("A@example.com", "other")
            .execute(&mut *conn)
            .await
            .map(drop);
        assert_eq!(unique_or(email).unwrap(), Err(Unique::UsersEmail));
        let username = insert("b@example.com", "ada")
            .execute(&mut *conn)
            .await
            .map(drop);
        assert_eq!(unique_or(username).unwrap(), Err(Unique::UsersUsername));
    }
}
