//! A page form sent twice in a row creates one thing. With JavaScript the page itself refuses
//! a second click while the first is on its way; a plain form post cannot, and a double click
//! (or an impatient second click) posts twice. The same person creating the same thing again
//! within a few seconds gets the first one back instead of a copy. The JSON API is exact and
//! does not go through here.
//!
//! Submissions are remembered in the database (`store::submissions`), so the two posts of a
//! double click are recognised even when a load balancer sends them to different nodes.

use std::hash::Hash;
use std::time::Duration;

use crate::domain::{AppError, ErrorKind};
use crate::server::security::stable_hash::StableHasher;
use crate::server::store::{submissions, Store};

const WINDOW_SECS: i64 = 5;

/// A handle on the remembered submissions.
pub struct Resubmissions {
    db: Store,
}

impl Resubmissions {
    pub fn new(db: Store) -> Self {
        Self { db }
    }

    /// Forgets submissions older than the window (the periodic clean-up).
    pub async fn prune(&self, now: i64) -> Result<u64, sqlx::Error> {
        let mut conn = self.db.acquire().await?;
        submissions::delete_before(&mut conn, now - WINDOW_SECS).await
    }
}

/// A fingerprint of what is being submitted.
pub fn fingerprint(parts: &impl Hash) -> u64 {
    StableHasher::hash_one(b"", parts)
}

/// Runs `create` unless the same submission (by `key`) created something within the last few
/// seconds; then answers what `existing` finds for that earlier id.
pub async fn once<T, C, E, CF, EF>(
    resubmissions: &Resubmissions,
    now: i64,
    key: u64,
    create: C,
    existing: E,
) -> Result<T, AppError>
where
    C: FnOnce() -> CF,
    CF: std::future::Future<Output = Result<(T, i64), AppError>>,
    E: FnOnce(i64) -> EF,
    EF: std::future::Future<Output = Result<T, AppError>>,
{
    // The table's key is a signed 64-bit integer; the bits are the same.
    let key = key as i64;
    let db = &resubmissions.db;
    let claim = {
        let mut conn = db.acquire().await?;
        submissions::claim(&mut conn, key, now, now - WINDOW_SECS).await?
    };
    match claim {
        None => {
            let outcome = create().await;
            let mut conn = db.acquire().await?;
            match &outcome {
                Ok((_, id)) => submissions::settle(&mut conn, key, now, *id).await?,
                // A failed first attempt must not swallow a corrected second one.
                Err(_) => submissions::release(&mut conn, key, now).await?,
            }
            outcome.map(|(value, _)| value)
        }
        Some(Some(id)) => existing(id).await,
        Some(None) => {
            // The first is still being created: wait for it briefly.
            for _ in 0..50 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let mut conn = db.acquire().await?;
                if let Some(id) = submissions::created(&mut conn, key).await? {
                    drop(conn);
                    return existing(id).await;
                }
            }
            Err(AppError::new(
                ErrorKind::Conflict,
                "This was already sent. Reload the page to see it.",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_and_tell_submissions_apart() {
        let a = fingerprint(&(1_i64, "project", "Alpha", ""));
        assert_eq!(a, fingerprint(&(1_i64, "project", "Alpha", "")));
        assert_ne!(a, fingerprint(&(2_i64, "project", "Alpha", "")));
        assert_ne!(a, fingerprint(&(1_i64, "project", "Alph", "a")));
        // Fixed by SHA-256, not by the process or the build: another node computes it too.
        assert_eq!(a, 0x8b42_3904_3235_ebf1_u64, "{a:#x}");
    }

    #[tokio::test]
    async fn a_second_send_gets_the_first_result_and_a_failed_one_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
        let guard = Resubmissions::new(Store::connect(&url).await.unwrap());
        let made = once(
            &guard,
            100,
            7,
            || async { Ok(("made", 41)) },
            |_| async { Ok("copy") },
        );
        assert_eq!(made.await.unwrap(), "made");
        let again = once(
            &guard,
            101,
            7,
            || async { Ok(("made twice", 42)) },
            |id| async move {
                assert_eq!(id, 41);
                Ok("the first one")
            },
        );
        assert_eq!(again.await.unwrap(), "the first one");
        // After the window the same submission is new again.
        let later = once(
            &guard,
            106,
            7,
            || async { Ok(("new", 43)) },
            |_| async { Ok("copy") },
        );
        assert_eq!(later.await.unwrap(), "new");
        let failed = once(
            &guard,
            200,
            8,
            || async { Err::<(&str, i64), _>(AppError::new(ErrorKind::Validation, "no")) },
            |_| async { Ok("copy") },
        );
        assert!(failed.await.is_err());
        let corrected = once(
            &guard,
            200,
            8,
            || async { Ok(("fixed", 44)) },
            |_| async { Ok("copy") },
        );
        assert_eq!(corrected.await.unwrap(), "fixed");
        assert_eq!(guard.prune(300).await.unwrap(), 2);
    }
}
