//! The `throttle_entries` table (PostgreSQL): the login, registration and mail counters that
//! every node shares, so that limits count across nodes. One SQLite file is one node, whose
//! counters live in its memory (`security::throttle`).

use sqlx::{Postgres, Transaction};

use super::{Pool, Store};

/// The counters of a list of keys.
const COUNTERS_OF: &str =
    "SELECT tbl, key, count, first_at, last_at, reported FROM throttle_entries WHERE key = ANY($1)";

/// One counter as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Counter {
    /// Which limit it counts for.
    pub tbl: i16,
    pub key: i64,
    pub count: i32,
    pub first_at: i64,
    pub last_at: i64,
    pub reported: bool,
}

/// Counters locked for one decision: other nodes asking about the same keys wait until it
/// is committed (or dropped, which rolls back).
pub struct Locked {
    tx: Transaction<'static, Postgres>,
}

/// Locks `keys` (in ascending order, so two decisions never wait on each other in a circle)
/// and reads their counters. `None` on SQLite, which keeps its counters in memory.
pub async fn lock(
    store: &Store,
    keys: &[i64],
) -> Result<Option<(Locked, Vec<Counter>)>, sqlx::Error> {
    let Pool::Postgres(pool) = &store.pool else {
        return Ok(None);
    };
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut tx = pool.begin().await?;
    // A decision that cannot get its locks soon gives up (and the caller refuses) rather
    // than holding a connection.
    sqlx::query("SET LOCAL lock_timeout = '2s'")
        .execute(&mut *tx)
        .await?;
    for key in &sorted {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(&mut *tx)
            .await?;
    }
    let counters = sqlx::query_as(COUNTERS_OF)
        .bind(&sorted)
        .fetch_all(&mut *tx)
        .await?;
    Ok(Some((Locked { tx }, counters)))
}

/// Reads the counters of `keys` without locking them (a check that decides nothing).
pub async fn read(store: &Store, keys: &[i64]) -> Result<Vec<Counter>, sqlx::Error> {
    let Pool::Postgres(pool) = &store.pool else {
        return Ok(Vec::new());
    };
    sqlx::query_as(COUNTERS_OF).bind(keys).fetch_all(pool).await
}

impl Locked {
    /// Stores `counter`, to be forgotten at `expires_at`.
    pub async fn save(&mut self, counter: &Counter, expires_at: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO throttle_entries (tbl, key, count, first_at, last_at, reported, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (tbl, key) DO UPDATE SET count = excluded.count,
                 first_at = excluded.first_at, last_at = excluded.last_at,
                 reported = excluded.reported, expires_at = excluded.expires_at",
        )
        .bind(counter.tbl)
        .bind(counter.key)
        .bind(counter.count)
        .bind(counter.first_at)
        .bind(counter.last_at)
        .bind(counter.reported)
        .bind(expires_at)
        .execute(&mut *self.tx)
        .await
        .map(drop)
    }

    pub async fn delete(&mut self, tbl: i16, key: i64) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM throttle_entries WHERE tbl = $1 AND key = $2")
            .bind(tbl)
            .bind(key)
            .execute(&mut *self.tx)
            .await
            .map(drop)
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

/// Forgets counters whose window has passed (the periodic clean-up); 0 on SQLite.
pub async fn delete_expired(store: &Store, now: i64) -> Result<u64, sqlx::Error> {
    let Pool::Postgres(pool) = &store.pool else {
        return Ok(0);
    };
    // Rows a decision holds are left for the next clean-up (no lock-order deadlock).
    sqlx::query(
        "DELETE FROM throttle_entries WHERE (tbl, key) IN (
             SELECT tbl, key FROM throttle_entries WHERE expires_at <= $1
             FOR UPDATE SKIP LOCKED)",
    )
    .bind(now)
    .execute(pool)
    .await
    .map(|done| done.rows_affected())
}

/// Counters stored (tests and benchmarks); 0 on SQLite.
pub async fn count(store: &Store) -> Result<i64, sqlx::Error> {
    let Pool::Postgres(pool) = &store.pool else {
        return Ok(0);
    };
    sqlx::query_scalar("SELECT count(*) FROM throttle_entries")
        .fetch_one(pool)
        .await
}
