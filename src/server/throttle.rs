//! Failed-login throttling per account and per client address. It answers "try again later"
//! (HTTP 429) rather than locking accounts, so an attacker cannot lock a person out for long.
//!
//! An attempt is counted as a failure when it starts, in the same step that checks the limit,
//! and taken back if it succeeds: so a burst of parallel guesses cannot all slip past the check
//! while their password hashes are still being verified.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

const ACCOUNT_LIMIT: usize = 5;
const ACCOUNT_WINDOW_SECS: i64 = 15 * 60;
const ACCOUNT_FIRST_BLOCK_SECS: i64 = 60;
const ADDRESS_LIMIT: usize = 30;
const ADDRESS_WINDOW_SECS: i64 = 60;

type Attempts = HashMap<String, Vec<i64>>;

#[derive(Default)]
pub struct LoginThrottle {
    accounts: Mutex<Attempts>,
    addresses: Mutex<Attempts>,
}

/// An attempt in progress, counted as a failure until `succeeded` takes it back.
#[must_use]
pub struct Attempt {
    account: String,
    address: Option<String>,
    started: i64,
}

fn lock(map: &Mutex<Attempts>) -> MutexGuard<'_, Attempts> {
    map.lock().unwrap_or_else(|e| e.into_inner())
}

/// Seconds until the oldest failure counted leaves the window.
fn address_blocked_for(failures: &[i64], now: i64) -> Option<i64> {
    (failures.len() >= ADDRESS_LIMIT)
        .then(|| failures[failures.len() - ADDRESS_LIMIT] + ADDRESS_WINDOW_SECS - now)
        .filter(|secs| *secs > 0)
}

/// Past the limit, each further failure doubles the wait (1, 2, 4, … minutes, at most the
/// window), measured from the latest failure.
fn account_blocked_for(failures: &[i64], now: i64) -> Option<i64> {
    if failures.len() < ACCOUNT_LIMIT {
        return None;
    }
    let extra = (failures.len() - ACCOUNT_LIMIT).min(10) as u32;
    let block = (ACCOUNT_FIRST_BLOCK_SECS << extra).min(ACCOUNT_WINDOW_SECS);
    let last = *failures.last()?;
    Some(last + block - now).filter(|secs| *secs > 0)
}

fn recent<'a>(map: &'a mut Attempts, key: &str, window: i64, now: i64) -> &'a mut Vec<i64> {
    let failures = map.entry(key.to_string()).or_default();
    failures.retain(|t| now - t < window);
    failures
}

impl LoginThrottle {
    /// Starts a password check for `account` (and, for logins, from `address`): `Err(seconds)`
    /// when it must wait, else the attempt, already counted as a failure.
    pub fn begin(&self, account: &str, address: Option<&str>, now: i64) -> Result<Attempt, u64> {
        // Lock order: accounts, then addresses.
        let mut accounts = lock(&self.accounts);
        let mut addresses = lock(&self.addresses);
        let account_failures = recent(&mut accounts, account, ACCOUNT_WINDOW_SECS, now);
        let mut wait = account_blocked_for(account_failures, now);
        if let Some(address) = address {
            let address_failures = recent(&mut addresses, address, ADDRESS_WINDOW_SECS, now);
            wait = wait.max(address_blocked_for(address_failures, now));
            if wait.is_none() {
                address_failures.push(now);
            }
        }
        if let Some(secs) = wait {
            return Err(secs as u64);
        }
        accounts.entry(account.to_string()).or_default().push(now);
        Ok(Attempt {
            account: account.to_string(),
            address: address.map(str::to_string),
            started: now,
        })
    }

    /// The password was right: the account's count starts over, and the attempt no longer
    /// counts against the address.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut accounts = lock(&self.accounts);
        let mut addresses = lock(&self.addresses);
        accounts.remove(&attempt.account);
        if let Some(address) = attempt.address {
            if let Some(failures) = addresses.get_mut(&address) {
                if let Some(at) = failures.iter().rposition(|t| *t == attempt.started) {
                    failures.remove(at);
                }
            }
        }
    }

    /// Forgets failures old enough to no longer count, so guessing at many emails or from
    /// many addresses cannot grow memory without bound.
    pub fn prune(&self, now: i64) {
        lock(&self.accounts).retain(|_, failures| {
            failures
                .last()
                .is_some_and(|t| now - t < ACCOUNT_WINDOW_SECS)
        });
        lock(&self.addresses).retain(|_, failures| {
            failures
                .last()
                .is_some_and(|t| now - t < ADDRESS_WINDOW_SECS)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Option<&str> = Some("1.1.1.1");

    fn fail(throttle: &LoginThrottle, account: &str, address: Option<&str>, now: i64) {
        let _failed = throttle.begin(account, address, now).expect("allowed");
    }

    #[test]
    fn five_failures_block_the_account_with_back_off() {
        let throttle = LoginThrottle::default();
        for i in 0..5 {
            fail(&throttle, "a@x.io", IP, 100 + i);
        }
        assert_eq!(throttle.begin("a@x.io", IP, 104).err(), Some(60));
        assert!(throttle.begin("b@x.io", IP, 104).is_ok());
        // Waiting out the block allows one more try; failing it doubles the wait.
        fail(&throttle, "a@x.io", IP, 164);
        assert_eq!(throttle.begin("a@x.io", IP, 164).err(), Some(120));
    }

    #[test]
    fn parallel_attempts_count_before_they_finish() {
        let throttle = LoginThrottle::default();
        let in_flight: Vec<Attempt> = (0..5)
            .map(|_| throttle.begin("a@x.io", IP, 10).expect("allowed"))
            .collect();
        assert!(
            throttle.begin("a@x.io", IP, 10).is_err(),
            "a sixth parallel guess"
        );
        drop(in_flight);
    }

    #[test]
    fn success_resets_the_account_and_does_not_count_against_the_address() {
        let throttle = LoginThrottle::default();
        for i in 0..4 {
            fail(&throttle, "a@x.io", IP, i);
        }
        let attempt = throttle.begin("a@x.io", IP, 5).unwrap();
        throttle.succeeded(attempt);
        assert!(lock(&throttle.accounts).get("a@x.io").is_none());
        assert_eq!(lock(&throttle.addresses)["1.1.1.1"].len(), 4);
    }

    #[test]
    fn thirty_failures_a_minute_block_the_address() {
        let throttle = LoginThrottle::default();
        for i in 0..30 {
            fail(&throttle, &format!("user{i}@x.io"), Some("9.9.9.9"), 1000);
        }
        assert_eq!(
            throttle.begin("new@x.io", Some("9.9.9.9"), 1010).err(),
            Some(50)
        );
        assert!(throttle.begin("new@x.io", Some("9.9.9.9"), 1060).is_ok());
    }

    #[test]
    fn account_only_checks_leave_addresses_alone() {
        let throttle = LoginThrottle::default();
        fail(&throttle, "password-check:7", None, 0);
        assert!(lock(&throttle.addresses).is_empty());
    }

    #[test]
    fn old_failures_are_forgotten() {
        let throttle = LoginThrottle::default();
        fail(&throttle, "a@x.io", IP, 0);
        throttle.prune(ACCOUNT_WINDOW_SECS + 1);
        assert!(lock(&throttle.accounts).is_empty());
        assert!(lock(&throttle.addresses).is_empty());
    }
}
