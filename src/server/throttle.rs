//! Failed-login throttling per account and per client address. It answers "try again later"
//! (HTTP 429) rather than locking accounts, so an attacker cannot lock a person out for long.

use std::collections::HashMap;
use std::sync::Mutex;

const ACCOUNT_LIMIT: usize = 5;
const ACCOUNT_WINDOW_SECS: i64 = 15 * 60;
const ACCOUNT_FIRST_BLOCK_SECS: i64 = 60;
const ADDRESS_LIMIT: usize = 30;
const ADDRESS_WINDOW_SECS: i64 = 60;

#[derive(Default)]
pub struct LoginThrottle {
    accounts: Mutex<HashMap<String, Vec<i64>>>,
    addresses: Mutex<HashMap<String, Vec<i64>>>,
}

/// Seconds until the oldest failure counted leaves the window.
fn blocked_for(failures: &[i64], limit: usize, window: i64, now: i64) -> Option<i64> {
    (failures.len() >= limit)
        .then(|| failures[failures.len() - limit] + window - now)
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

impl LoginThrottle {
    /// `Some(seconds)` when a login for this account or from this address must wait.
    pub fn check(&self, account: &str, address: &str, now: i64) -> Option<u64> {
        let account_wait = {
            let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            let failures = accounts.entry(account.to_string()).or_default();
            failures.retain(|t| now - t < ACCOUNT_WINDOW_SECS);
            let wait = account_blocked_for(failures, now);
            if failures.is_empty() {
                accounts.remove(account);
            }
            wait
        };
        let address_wait = {
            let mut addresses = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
            let failures = addresses.entry(address.to_string()).or_default();
            failures.retain(|t| now - t < ADDRESS_WINDOW_SECS);
            let wait = blocked_for(failures, ADDRESS_LIMIT, ADDRESS_WINDOW_SECS, now);
            if failures.is_empty() {
                addresses.remove(address);
            }
            wait
        };
        account_wait
            .into_iter()
            .chain(address_wait)
            .max()
            .map(|secs| secs as u64)
    }

    pub fn record_failure(&self, account: &str, address: &str, now: i64) {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(account.to_string())
            .or_default()
            .push(now);
        self.addresses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(address.to_string())
            .or_default()
            .push(now);
    }

    /// Forgets failures old enough to no longer count, so guessing at many emails or from
    /// many addresses cannot grow memory without bound.
    pub fn prune(&self, now: i64) {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, failures| {
                failures
                    .last()
                    .is_some_and(|t| now - t < ACCOUNT_WINDOW_SECS)
            });
        self.addresses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, failures| {
                failures
                    .last()
                    .is_some_and(|t| now - t < ADDRESS_WINDOW_SECS)
            });
    }

    /// A successful login clears the account's count (not the address's).
    pub fn record_success(&self, account: &str) {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_block_the_account_with_back_off() {
        let throttle = LoginThrottle::default();
        for i in 0..5 {
            assert_eq!(throttle.check("a@x.io", "1.1.1.1", 100 + i), None);
            throttle.record_failure("a@x.io", "1.1.1.1", 100 + i);
        }
        assert_eq!(throttle.check("a@x.io", "1.1.1.1", 104), Some(60));
        assert_eq!(throttle.check("b@x.io", "1.1.1.1", 104), None);
        // Waiting out the block allows one more try; failing it doubles the wait.
        assert_eq!(throttle.check("a@x.io", "1.1.1.1", 164), None);
        throttle.record_failure("a@x.io", "1.1.1.1", 164);
        assert_eq!(throttle.check("a@x.io", "1.1.1.1", 164), Some(120));
    }

    #[test]
    fn success_resets_the_account() {
        let throttle = LoginThrottle::default();
        for i in 0..5 {
            throttle.record_failure("a@x.io", "1.1.1.1", i);
        }
        throttle.record_success("a@x.io");
        assert_eq!(throttle.check("a@x.io", "2.2.2.2", 5), None);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let throttle = LoginThrottle::default();
        throttle.record_failure("a@x.io", "1.1.1.1", 0);
        throttle.prune(ACCOUNT_WINDOW_SECS + 1);
        assert!(throttle.accounts.lock().unwrap().is_empty());
        assert!(throttle.addresses.lock().unwrap().is_empty());
    }

    #[test]
    fn thirty_failures_a_minute_block_the_address() {
        let throttle = LoginThrottle::default();
        for i in 0..30 {
            throttle.record_failure(&format!("user{i}@x.io"), "9.9.9.9", 1000);
        }
        assert_eq!(throttle.check("new@x.io", "9.9.9.9", 1010), Some(50));
        assert_eq!(throttle.check("new@x.io", "9.9.9.9", 1060), None);
    }
}
