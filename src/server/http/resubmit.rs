//! A page form sent twice in a row creates one thing. With JavaScript the page itself refuses
//! a second click while the first is on its way; a plain form post cannot, and a double click
//! (or an impatient second click) posts twice. The same person creating the same thing again
//! within a few seconds gets the first one back instead of a copy. The JSON API is exact and
//! does not go through here.

use std::collections::HashMap;
use std::hash::{Hash, Hasher as _};
use std::sync::Mutex;
use std::time::Duration;

use crate::domain::AppError;

const WINDOW_SECS: i64 = 5;
/// Beyond this many remembered submissions, old ones are forgotten first.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Default)]
pub struct Resubmissions {
    /// Submission fingerprint → (when, the id it created; `None` while being created).
    seen: Mutex<HashMap<u64, (i64, Option<i64>)>>,
}

enum Claim {
    First,
    Again(Option<i64>),
}

impl Resubmissions {
    fn claim(&self, key: u64, now: i64) -> Claim {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > PRUNE_ABOVE {
            seen.retain(|_, (at, _)| now - *at < WINDOW_SECS);
        }
        match seen.get(&key) {
            Some((at, id)) if now - *at < WINDOW_SECS => Claim::Again(*id),
            _ => {
                seen.insert(key, (now, None));
                Claim::First
            }
        }
    }

    fn settle(&self, key: u64, outcome: Option<i64>) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Some(id) => {
                if let Some(entry) = seen.get_mut(&key) {
                    entry.1 = Some(id);
                }
            }
            // A failed first attempt must not swallow a corrected second one.
            None => {
                seen.remove(&key);
            }
        }
    }

    fn created(&self, key: u64) -> Option<i64> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(&key).and_then(|(_, id)| *id)
    }
}

/// A fingerprint of what is being submitted.
pub fn fingerprint(parts: &impl Hash) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut hasher);
    hasher.finish()
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
    match resubmissions.claim(key, now) {
        Claim::First => {
            let outcome = create().await;
            resubmissions.settle(key, outcome.as_ref().ok().map(|(_, id)| *id));
            outcome.map(|(value, _)| value)
        }
        Claim::Again(Some(id)) => existing(id).await,
        Claim::Again(None) => {
            // The first is still being created: wait for it briefly.
            for _ in 0..50 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if let Some(id) = resubmissions.created(key) {
                    return existing(id).await;
                }
            }
            Err(AppError::new(
                crate::domain::ErrorKind::Conflict,
                "This was already sent. Reload the page to see it.",
            ))
        }
    }
}
