//! The store: every SQL statement of the server, one owner per table.
//!
//! - `users` (accounts), `sessions` (sessions and their refresh tokens), `email_tokens`,
//!   `outbox` (queued mail), `audit` (the audit trail), `projects` (projects and tasks),
//!   `jobs` (whose turn a scheduled job is)
//! - `change_stamp`: SQLite's WAL-index header, read to tell whether anything was committed
//!
//! Services never write SQL, never name the backend, and never read a database error's text:
//! they get typed rows and typed outcomes (`Unique` for a broken unique index). Every store
//! function takes `&mut Conn`: a connection from `Store::acquire` or a transaction from
//! `Store::begin` (both lend their connection through `Exec`), so one function serves a single
//! statement and a statement inside a larger transaction alike.
//!
//! How a backend is chosen: `Store`, `PooledConn` and `Tx` are enums over SQLite and
//! PostgreSQL, chosen by `DATABASE_URL`, and each function here runs its statement on the
//! backend at hand (`on!`). Where the two agree (most statements: `$1` placeholders, booleans
//! written as `TRUE`/`FALSE` or tested bare), one SQL text serves both; where they differ (ids
//! that are never reused, case-insensitive prefix search, savepoints) there are two. An enum
//! rather than a trait or generics: services stay free of type parameters, both backends are
//! compiled into one binary, and the compiler checks that every statement runs on both.

pub mod audit;
pub mod change_stamp;
pub mod email_tokens;
pub mod factors;
pub mod jobs;
pub mod oidc;
pub mod outbox;
pub mod projects;
pub mod sessions;
pub mod submissions;
pub mod throttle;
pub mod users;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};

/// The SQLite schema, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");
/// The PostgreSQL schema: the same tables and rules in PostgreSQL's types.
pub static PG_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// One backend's connection, borrowed for one statement.
pub enum Db<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

/// What store functions run on: a pooled connection or a transaction.
pub trait Exec: Send {
    fn db(&mut self) -> Db<'_>;
}

/// A connection (or a transaction) that store functions run on.
pub type Conn = dyn Exec;

/// A connection lent by the pool.
pub enum PooledConn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl Exec for PooledConn {
    fn db(&mut self) -> Db<'_> {
        match self {
            Self::Sqlite(c) => Db::Sqlite(c),
            Self::Postgres(c) => Db::Postgres(c),
        }
    }
}

/// A transaction: commit it, or dropping it rolls back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Exec for Tx {
    fn db(&mut self) -> Db<'_> {
        match self {
            Self::Sqlite(c) => Db::Sqlite(c),
            Self::Postgres(c) => Db::Postgres(c),
        }
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(tx) => tx.commit().await,
            Self::Postgres(tx) => tx.commit().await,
        }
    }
}

/// Runs `$body` with `$c` bound to the backend's connection. With one SQL text it serves both
/// (placeholders are `$1`, `$2`, …, which SQLite reads too); with two, `$sql` is the one of
/// the backend at hand.
macro_rules! on {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn.db() {
            $crate::server::store::Db::Sqlite($c) => $body,
            $crate::server::store::Db::Postgres($c) => $body,
        }
    };
    ($conn:expr, [$lite:expr, $pg:expr], |$c:ident, $sql:ident| $body:expr) => {
        match $conn.db() {
            $crate::server::store::Db::Sqlite($c) => {
                let $sql: &'static str = $lite;
                $body
            }
            $crate::server::store::Db::Postgres($c) => {
                let $sql: &'static str = $pg;
                $body
            }
        }
    };
}
pub(crate) use on;

/// Runs one statement with its arguments on either backend; how many rows it changed.
macro_rules! execute {
    ($conn:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::server::store::on!($conn, |c| sqlx::query($sql)
            $(.bind($arg))*
            .execute(c)
            .await
            .map(|done| done.rows_affected()))
    };
}
pub(crate) use execute;

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database: a pool of connections with the schema migrated. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl Store {
    /// Opens `database_url` and runs the migrations: SQLite (WAL journaling, foreign keys on)
    /// for `sqlite:` URLs, PostgreSQL for `postgres://` and `postgresql://`.
    pub async fn connect(database_url: &str) -> Result<Self, String> {
        if is_postgres_url(database_url) {
            return Self::connect_postgres(database_url).await;
        }
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
        Ok(Self {
            pool: Pool::Sqlite(pool),
        })
    }

    async fn connect_postgres(database_url: &str) -> Result<Self, String> {
        // sqlx's error may quote the URL, which may hold a password.
        let options = PgConnectOptions::from_str(database_url)
            .map_err(|_| "DATABASE_URL: not a valid postgres:// URL".to_string())?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| format!("DATABASE_URL: cannot reach the database: {}", redacted(&e)))?;
        PG_MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| format!("database migration failed: {e}"))?;
        Ok(Self {
            pool: Pool::Postgres(pool),
        })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// The SQLite pool, for tests and benchmarks that inspect or arrange rows directly.
    /// Server code goes through the functions of this folder.
    pub fn sqlite_pool(&self) -> &SqlitePool {
        match &self.pool {
            Pool::Sqlite(pool) => pool,
            Pool::Postgres(_) => panic!("sqlite_pool() on a PostgreSQL store"),
        }
    }

    pub async fn acquire(&self) -> Result<PooledConn, sqlx::Error> {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => PooledConn::Sqlite(pool.acquire().await?),
            Pool::Postgres(pool) => PooledConn::Postgres(pool.acquire().await?),
        })
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Pool::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// The SQLite database file (empty for an in-memory database and for PostgreSQL).
    pub fn file(&self) -> PathBuf {
        match &self.pool {
            Pool::Sqlite(pool) => pool.connect_options().get_filename().to_path_buf(),
            Pool::Postgres(_) => PathBuf::new(),
        }
    }

    /// Answers a trivial query: the database is reachable.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        let mut conn = self.acquire().await?;
        on!(conn, |c| sqlx::query("SELECT 1").execute(c).await.map(drop))
    }

    /// How many of the binary's migrations the database has not applied successfully.
    pub async fn pending_migrations(&self) -> Result<usize, sqlx::Error> {
        const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success";
        let (applied, migrator): (Vec<i64>, &Migrator) = match &self.pool {
            Pool::Sqlite(pool) => (
                sqlx::query_scalar(APPLIED).fetch_all(pool).await?,
                &MIGRATOR,
            ),
            Pool::Postgres(pool) => (
                sqlx::query_scalar(APPLIED).fetch_all(pool).await?,
                &PG_MIGRATOR,
            ),
        };
        Ok(migrator
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count())
    }

    /// Writes a consistent copy of the live database to `path` (SQLite's `VACUUM INTO`: one
    /// read transaction, writers go on). PostgreSQL is backed up with its own tools.
    pub async fn copy_to(&self, path: &str) -> Result<(), String> {
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::query("VACUUM INTO $1")
                .bind(path)
                .execute(pool)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Pool::Postgres(_) => Err("gatehouse backup copies SQLite databases; back up \
                 PostgreSQL with pg_dump (see README, \"Running several nodes\")"
                .to_string()),
        }
    }

    /// Moves every committed change from the WAL into the database file and empties the WAL
    /// (SQLite, at shutdown: the pool may not close its last connection, which would do it).
    pub async fn checkpoint(&self) -> Result<(), sqlx::Error> {
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await
                .map(drop),
            Pool::Postgres(_) => Ok(()),
        }
    }

    /// Open connections, and how many of them are idle.
    pub fn connections(&self) -> (u32, u32) {
        match &self.pool {
            Pool::Sqlite(pool) => (pool.size(), pool.num_idle() as u32),
            Pool::Postgres(pool) => (pool.size(), pool.num_idle() as u32),
        }
    }

    pub fn max_connections(&self) -> u32 {
        match &self.pool {
            Pool::Sqlite(pool) => pool.options().get_max_connections(),
            Pool::Postgres(pool) => pool.options().get_max_connections(),
        }
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    pub fn is_closed(&self) -> bool {
        match &self.pool {
            Pool::Sqlite(pool) => pool.is_closed(),
            Pool::Postgres(pool) => pool.is_closed(),
        }
    }
}

/// A connection error in words, without the URL it may quote.
fn redacted(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Io(e) => e.to_string(),
        sqlx::Error::Tls(_) => "TLS failed".to_string(),
        sqlx::Error::PoolTimedOut => "timed out".to_string(),
        sqlx::Error::Database(db) => db.message().to_string(),
        _ => "connection failed".to_string(),
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
        let hash = crate::server::security::password::PasswordHash::from_stored("x".into());
        let mut insert = async |email: &'static str, username: &'static str| {
            users::insert(&mut conn, email, username, &hash, 0)
                .await
                .unwrap()
                .map(drop)
        };
        assert_eq!(insert("a@example.com", "ada").await, Ok(()));
        assert_eq!(
            insert("A@example.com", "other").await,
            Err(Unique::UsersEmail)
        );
        assert_eq!(
            insert("b@example.com", "ada").await,
            Err(Unique::UsersUsername)
        );
    }
}
