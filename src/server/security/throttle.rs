//! Throttling of password guesses and registrations. It answers "try again later" (HTTP 429)
//! rather than locking accounts, and it cannot be turned against the owner:
//!
//! - A client that has logged in to an account before carries a signed device token
//!   (`tokens::DeviceToken`). It has its own small budget of failures for that account and is
//!   not held back by failures from anywhere else (OWASP "device cookies").
//! - Other clients share the account's strict budget (5 failures in 15 minutes, then a
//!   doubling wait) and each client address has one (30 failures a minute; IPv6 per /64).
//! - An attempt counts as a failure from the moment it starts, so parallel guesses cannot
//!   slip past the check, and is taken back if the password was right. The caller settles it
//!   off the connection, so a client that goes away mid-check cannot leave a false failure.
//!
//! Where the counters live: on SQLite (one node) in this process's memory, below. On
//! PostgreSQL every node shares them (`store::throttle`): each decision locks the counters it
//! reads, so parallel guesses on different nodes cannot slip past a limit either, and keys are
//! keyed with the signing secret that all nodes share. If the shared counters cannot be
//! reached, guesses, registrations and mails are refused (fail closed) and the node says so
//! in its log: an outage never hands out fresh allowances.
//!
//! Memory stays bounded whatever arrives: limits are checked before anything is stored, a
//! refused request stores nothing (only the first refusal by an entry is marked on it, for the
//! audit log), keys are 64-bit hashes (keyed per process, so they cannot
//! be aimed at one another), each entry is a fixed-size counter, and each table holds at most
//! `MAX_ENTRIES`; past that, expired entries go first, then arbitrary ones.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use crate::server::security::stable_hash::StableHasher;
use crate::server::store::{self, throttle::Counter, Store};

const ACCOUNT_LIMIT: u32 = 5;
const ACCOUNT_WINDOW_SECS: i64 = 15 * 60;
const FIRST_BLOCK_SECS: i64 = 60;
/// A known device's own allowance for its account, per account window.
const DEVICE_LIMIT: u32 = 10;
const ADDRESS_LIMIT: u32 = 30;
/// Passkey ceremonies one client address may start in an hour: the login page starts one on
/// every visit (the Email field's autofill), so this is generous.
const PASSKEY_CEREMONY_LIMIT: usize = 600;
const ADDRESS_WINDOW_SECS: i64 = 60;
const REGISTRATION_WINDOW_SECS: i64 = 3600;
/// Mails about one address or account asked for by one client: one a minute, five a day. A
/// stranger's requests therefore never use up the owner's allowance; all clients together get
/// twenty a day (a client holding the account's device cookie is not held to that), and one
/// client a hundred an hour (a client may be a whole office behind one address).
const MAIL_DAILY_LIMIT: u32 = 5;
const MAIL_SUBJECT_DAILY_LIMIT: u32 = 20;
const MAIL_CLIENT_LIMIT: u32 = 100;
/// Entries per table; each is 8 + 24 bytes plus the map's overhead, so about 5 MB a table.
pub const MAX_ENTRIES: usize = 100_000;

/// Failures in the window that began at `first`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Failures {
    count: u32,
    first: i64,
    last: i64,
    /// A refusal because of this entry has been written to the audit log.
    reported: bool,
}

struct Table {
    window: i64,
    entries: HashMap<u64, Failures>,
}

impl Table {
    fn new(window: i64) -> Self {
        Self {
            window,
            entries: HashMap::new(),
        }
    }

    fn current(&self, key: u64, now: i64) -> Option<Failures> {
        self.entries
            .get(&key)
            .copied()
            .filter(|f| now - f.first < self.window)
    }

    #[cfg(test)]
    fn count(&self, key: u64, now: i64) -> u32 {
        self.current(key, now).map_or(0, |f| f.count)
    }

    fn record(&mut self, key: u64, now: i64) {
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(&key) {
            self.make_room(now);
        }
        let failures = match self.current(key, now) {
            Some(f) => Failures {
                count: f.count.saturating_add(1),
                last: now,
                ..f
            },
            None => Failures {
                count: 1,
                first: now,
                last: now,
                reported: false,
            },
        };
        self.entries.insert(key, failures);
    }

    /// A refusal because of `key`'s entry, which is marked: only its first refusal is
    /// `first`.
    fn refused(&mut self, key: u64, wait_secs: i64) -> Refused {
        let first = self
            .entries
            .get_mut(&key)
            .is_some_and(|failures| !std::mem::replace(&mut failures.reported, true));
        Refused {
            wait_secs: wait_secs as u64,
            first,
            unavailable: false,
        }
    }

    fn take_back(&mut self, key: u64) {
        if let Some(f) = self.entries.get_mut(&key) {
            f.count = f.count.saturating_sub(1);
            if f.count == 0 {
                self.entries.remove(&key);
            }
        }
    }

    fn forget(&mut self, key: u64) {
        self.entries.remove(&key);
    }

    fn prune(&mut self, now: i64) {
        let window = self.window;
        self.entries.retain(|_, f| now - f.first < window);
    }

    /// Expired entries first; if the table is still full, an eighth of it, arbitrarily (the
    /// map's order is randomised per process).
    fn make_room(&mut self, now: i64) {
        self.prune(now);
        if self.entries.len() >= MAX_ENTRIES {
            let drop: Vec<u64> = self.entries.keys().take(MAX_ENTRIES / 8).copied().collect();
            for key in drop {
                self.entries.remove(&key);
            }
        }
    }
}

/// Past the limit, each further failure doubles the wait (1, 2, 4, … minutes, at most the
/// window), measured from the latest failure.
fn back_off(failures: Option<Failures>, limit: u32, now: i64) -> Option<i64> {
    let f = failures.filter(|f| f.count >= limit)?;
    let extra = (f.count - limit).min(10);
    let block = (FIRST_BLOCK_SECS << extra).min(ACCOUNT_WINDOW_SECS);
    Some(f.last + block - now).filter(|secs| *secs > 0)
}

/// Seconds until a fixed window full of failures ends.
fn window_full(failures: Option<Failures>, limit: u32, window: i64, now: i64) -> Option<i64> {
    let f = failures.filter(|f| f.count >= limit)?;
    Some(f.first + window - now).filter(|secs| *secs > 0)
}

/// Whether a client without a device token must wait: its address's limit first, then the
/// account's.
fn stranger_refused(
    tables: &mut Tables,
    account_key: u64,
    address_key: u64,
    now: i64,
) -> Option<Refused> {
    let address = tables.addresses.current(address_key, now);
    if let Some(secs) = window_full(address, ADDRESS_LIMIT, ADDRESS_WINDOW_SECS, now) {
        return Some(tables.addresses.refused(address_key, secs));
    }
    let account = tables.accounts.current(account_key, now);
    back_off(account, ACCOUNT_LIMIT, now).map(|secs| tables.accounts.refused(account_key, secs))
}

/// The limits, each a table of counters (stored as `tbl` in `throttle_entries`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Tbl {
    Accounts = 1,
    Devices = 2,
    Addresses = 3,
    Registrations = 4,
    MailMinute = 5,
    MailDay = 6,
    MailSubjectDay = 7,
    MailClients = 8,
}

impl Tbl {
    const ALL: [Tbl; 8] = [
        Tbl::Accounts,
        Tbl::Devices,
        Tbl::Addresses,
        Tbl::Registrations,
        Tbl::MailMinute,
        Tbl::MailDay,
        Tbl::MailSubjectDay,
        Tbl::MailClients,
    ];

    fn from_stored(tbl: i16) -> Option<Tbl> {
        Self::ALL.into_iter().find(|t| *t as i16 == tbl)
    }
}

struct Tables {
    accounts: Table,
    devices: Table,
    addresses: Table,
    registrations: Table,
    mail_minute: Table,
    mail_day: Table,
    mail_subject_day: Table,
    mail_clients: Table,
}

impl Tables {
    fn new() -> Self {
        Self {
            accounts: Table::new(ACCOUNT_WINDOW_SECS),
            devices: Table::new(ACCOUNT_WINDOW_SECS),
            addresses: Table::new(ADDRESS_WINDOW_SECS),
            registrations: Table::new(REGISTRATION_WINDOW_SECS),
            mail_minute: Table::new(60),
            mail_day: Table::new(86_400),
            mail_subject_day: Table::new(86_400),
            mail_clients: Table::new(3600),
        }
    }

    fn table(&mut self, tbl: Tbl) -> &mut Table {
        match tbl {
            Tbl::Accounts => &mut self.accounts,
            Tbl::Devices => &mut self.devices,
            Tbl::Addresses => &mut self.addresses,
            Tbl::Registrations => &mut self.registrations,
            Tbl::MailMinute => &mut self.mail_minute,
            Tbl::MailDay => &mut self.mail_day,
            Tbl::MailSubjectDay => &mut self.mail_subject_day,
            Tbl::MailClients => &mut self.mail_clients,
        }
    }

    fn prune(&mut self, now: i64) {
        for tbl in Tbl::ALL {
            self.table(tbl).prune(now);
        }
    }

    fn len(&mut self) -> usize {
        Tbl::ALL
            .into_iter()
            .map(|tbl| self.table(tbl).entries.len())
            .sum()
    }
}

/// Counters as read from `throttle_entries`, in tables.
fn tables_from(counters: Vec<Counter>) -> Tables {
    let mut tables = Tables::new();
    for counter in counters {
        if let Some(tbl) = Tbl::from_stored(counter.tbl) {
            let failures = Failures {
                count: u32::try_from(counter.count).unwrap_or(0),
                first: counter.first_at,
                last: counter.last_at,
                reported: counter.reported,
            };
            tables
                .table(tbl)
                .entries
                .insert(counter.key as u64, failures);
        }
    }
    tables
}

/// What a refusal says when the shared counters cannot be reached: wait a little.
const UNSURE: Refused = Refused {
    wait_secs: 5,
    first: false,
    unavailable: true,
};

/// Shared decisions in progress on one node at most (the pool has 16 connections).
const SHARED_TURNS: usize = 6;

/// How keys are made: per process (one node), or with the secret every node shares.
enum Keys {
    Process(RandomState),
    Shared(Vec<u8>),
}

pub struct Throttle {
    keys: Keys,
    tables: Mutex<Tables>,
    /// PostgreSQL: the counters every node shares.
    shared: Option<Store>,
    turns: tokio::sync::Semaphore,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            keys: Keys::Process(RandomState::new()),
            tables: Mutex::new(Tables::new()),
            shared: None,
            turns: tokio::sync::Semaphore::new(SHARED_TURNS),
        }
    }
}

/// Who is guessing: a client that has logged in to this account before (its device id), or
/// anyone else, known only by address.
#[derive(Clone, Copy, Debug)]
pub enum Guesser<'a> {
    KnownDevice(&'a str),
    Stranger { address: &'a str },
}

/// A guess the throttle refused: how long the guesser must wait, and whether this is the first
/// refusal by the entry that refused it (only that one is written to the audit log: a flood
/// of refused guesses would otherwise fill the database with identical events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    pub wait_secs: u64,
    pub first: bool,
    /// Not a limit: the shared counters could not be reached (answer "busy", not "too many").
    pub unavailable: bool,
}

/// A password check in progress, counted as a failure until `succeeded` takes it back.
#[must_use]
#[derive(Debug)]
pub struct Attempt {
    /// The account's key, or the device's when the guesser is a known device.
    budget: Budget,
    address: Option<u64>,
}

#[derive(Debug)]
enum Budget {
    Account(u64),
    Device { account: u64, device: u64 },
}

/// IPv6 clients get a whole /64 each, so an address is throttled per /64.
fn address_scope(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            format!("{}/64", std::net::Ipv6Addr::from(segments))
        }
        _ => address.to_string(),
    }
}

impl Throttle {
    /// Counters shared by every node on `db` (PostgreSQL), keyed with `secret` (which every
    /// node has: the token signing secret). On SQLite, a process's own counters.
    pub fn for_store(db: &Store, secret: &[u8]) -> Self {
        if !db.is_postgres() {
            return Self::default();
        }
        let mut key = b"gatehouse throttle keys v1".to_vec();
        key.extend_from_slice(secret);
        Self {
            keys: Keys::Shared(key),
            tables: Mutex::new(Tables::new()),
            shared: Some(db.clone()),
            turns: tokio::sync::Semaphore::new(SHARED_TURNS),
        }
    }

    fn key(&self, kind: &str, value: impl Hash) -> u64 {
        match &self.keys {
            Keys::Process(keys) => keys.hash_one((kind, value)),
            Keys::Shared(secret) => StableHasher::hash_one(secret, &(kind, value)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one decision on the counters `involved` names: this process's, or (PostgreSQL)
    /// the shared ones, locked until the decision's changes are stored. `None` when the shared
    /// counters could not be read or the decision not stored: callers then refuse (fail
    /// closed), so an outage never hands out fresh allowances.
    async fn decide<R>(
        &self,
        involved: &[(Tbl, u64)],
        op: impl FnOnce(&mut Tables) -> R,
    ) -> Option<R> {
        let Some(db) = &self.shared else {
            return Some(op(&mut self.lock()));
        };
        // Decisions wait for a turn here, holding no connection, so that a flood of guesses
        // cannot take every pooled connection while it queues for the counters' locks.
        let _turn = self.turns.acquire().await.ok()?;
        let keys: Vec<i64> = involved.iter().map(|(_, key)| *key as i64).collect();
        let (mut locked, counters) = match store::throttle::lock(db, &keys).await {
            Ok(Some(found)) => found,
            Ok(None) => return Some(op(&mut self.lock())),
            Err(e) => {
                tracing::warn!(error = %e, "throttle: the shared counters cannot be read");
                return None;
            }
        };
        let mut tables = tables_from(counters);
        let mut involved = involved.to_vec();
        involved.sort_unstable_by_key(|(tbl, key)| (*tbl as i16, *key));
        involved.dedup();
        let before: Vec<Option<Failures>> = involved
            .iter()
            .map(|(tbl, key)| tables.table(*tbl).entries.get(key).copied())
            .collect();
        let outcome = op(&mut tables);
        let saved = async {
            for ((tbl, key), before) in involved.iter().zip(before) {
                let table = tables.table(*tbl);
                let after = table.entries.get(key).copied();
                if after == before {
                    continue;
                }
                match after {
                    Some(f) => {
                        let counter = Counter {
                            tbl: *tbl as i16,
                            key: *key as i64,
                            count: i32::try_from(f.count).unwrap_or(i32::MAX),
                            first_at: f.first,
                            last_at: f.last,
                            reported: f.reported,
                        };
                        locked.save(&counter, f.first + table.window).await?;
                    }
                    None => locked.delete(*tbl as i16, *key as i64).await?,
                }
            }
            locked.commit().await
        };
        match saved.await {
            Ok(()) => Some(outcome),
            Err(e) => {
                tracing::error!(error = %e, "throttle: a decision could not be stored");
                None
            }
        }
    }

    /// Starts a password check for `account` (a normalised email or an internal name such as
    /// a user id). `Err` when the guesser must wait; nothing new is stored then.
    pub async fn begin(
        &self,
        account: &str,
        guesser: Guesser<'_>,
        now: i64,
    ) -> Result<Attempt, Refused> {
        let account_key = self.key("account", account);
        match guesser {
            Guesser::KnownDevice(device) => {
                let device_key = self.key("device", (account, device));
                let involved = [(Tbl::Devices, device_key)];
                self.decide(&involved, |tables| {
                    let wait = back_off(tables.devices.current(device_key, now), DEVICE_LIMIT, now);
                    if let Some(secs) = wait {
                        return Err(tables.devices.refused(device_key, secs));
                    }
                    tables.devices.record(device_key, now);
                    Ok(Attempt {
                        budget: Budget::Device {
                            account: account_key,
                            device: device_key,
                        },
                        address: None,
                    })
                })
                .await
                .unwrap_or(Err(UNSURE))
            }
            Guesser::Stranger { address } => {
                let address_key = self.key("address", address_scope(address));
                let involved = [(Tbl::Addresses, address_key), (Tbl::Accounts, account_key)];
                self.decide(&involved, |tables| {
                    if let Some(refused) = stranger_refused(tables, account_key, address_key, now) {
                        return Err(refused);
                    }
                    tables.addresses.record(address_key, now);
                    tables.accounts.record(account_key, now);
                    Ok(Attempt {
                        budget: Budget::Account(account_key),
                        address: Some(address_key),
                    })
                })
                .await
                .unwrap_or(Err(UNSURE))
            }
        }
    }

    /// `Err` when `begin` would refuse a guess from a client with no device token for the
    /// account: lets a refusal be answered before the account is looked up.
    pub async fn check_stranger(
        &self,
        account: &str,
        address: &str,
        now: i64,
    ) -> Result<(), Refused> {
        let account_key = self.key("account", account);
        let address_key = self.key("address", address_scope(address));
        let involved = [(Tbl::Addresses, address_key), (Tbl::Accounts, account_key)];
        if let Some(db) = &self.shared {
            // A read without locks: a flood of refused guesses costs one query each and never
            // queues. Only a first refusal, which marks its entry, takes the locked path.
            let keys = [address_key as i64, account_key as i64];
            match store::throttle::read(db, &keys).await {
                Ok(counters) => {
                    let mut tables = tables_from(counters);
                    match stranger_refused(&mut tables, account_key, address_key, now) {
                        None => return Ok(()),
                        Some(refused) if !refused.first => return Err(refused),
                        Some(_) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "throttle: the shared counters cannot be read");
                    return Err(UNSURE);
                }
            }
        }
        self.decide(&involved, |tables| {
            match stranger_refused(tables, account_key, address_key, now) {
                Some(refused) => Err(refused),
                None => Ok(()),
            }
        })
        .await
        .unwrap_or(Err(UNSURE))
    }

    fn settled(attempt: &Attempt) -> Vec<(Tbl, u64)> {
        let mut involved = match attempt.budget {
            Budget::Account(account) => vec![(Tbl::Accounts, account)],
            Budget::Device { account, device } => {
                vec![(Tbl::Devices, device), (Tbl::Accounts, account)]
            }
        };
        involved.extend(attempt.address.map(|address| (Tbl::Addresses, address)));
        involved
    }

    /// The check could not run (the server was too busy): it counts for nothing.
    pub async fn cancelled(&self, attempt: Attempt) {
        self.decide(&Self::settled(&attempt), |tables| {
            match attempt.budget {
                Budget::Account(account) => tables.accounts.take_back(account),
                Budget::Device { device, .. } => tables.devices.take_back(device),
            }
            if let Some(address) = attempt.address {
                tables.addresses.take_back(address);
            }
        })
        .await;
    }

    /// Starts a check of the current password before a sensitive change: the account's own
    /// budget, keyed by `user_id`, with no address involved.
    pub async fn begin_password_check(&self, user_id: i64, now: i64) -> Result<Attempt, u64> {
        let key = self.key("password-check", user_id);
        self.decide(&[(Tbl::Accounts, key)], |tables| {
            if let Some(secs) = back_off(tables.accounts.current(key, now), ACCOUNT_LIMIT, now) {
                return Err(secs as u64);
            }
            tables.accounts.record(key, now);
            Ok(Attempt {
                budget: Budget::Account(key),
                address: None,
            })
        })
        .await
        .unwrap_or(Err(UNSURE.wait_secs))
    }

    /// The password was right: the account's (or device's) count starts over, and the attempt
    /// no longer counts against the address.
    pub async fn succeeded(&self, attempt: Attempt) {
        self.decide(&Self::settled(&attempt), |tables| {
            match attempt.budget {
                Budget::Account(account) => tables.accounts.forget(account),
                Budget::Device { account, device } => {
                    tables.devices.forget(device);
                    tables.accounts.forget(account);
                }
            }
            if let Some(address) = attempt.address {
                tables.addresses.take_back(address);
            }
        })
        .await;
    }

    /// Counts a registration from `address`; `Err(seconds)` once it has made `limit` in the
    /// last hour.
    pub async fn register(&self, address: &str, limit: usize, now: i64) -> Result<(), u64> {
        self.hourly("registration", address, limit, now).await
    }

    /// Counts a passkey ceremony started from `address` (each stores a challenge until it is
    /// answered or expires); `Err(seconds)` beyond `PASSKEY_CEREMONY_LIMIT` an hour.
    pub async fn passkey_ceremony(&self, address: &str, now: i64) -> Result<(), u64> {
        self.hourly("passkey-ceremony", address, PASSKEY_CEREMONY_LIMIT, now)
            .await
    }

    async fn hourly(&self, label: &str, address: &str, limit: usize, now: i64) -> Result<(), u64> {
        let key = self.key(label, address_scope(address));
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        self.decide(&[(Tbl::Registrations, key)], |tables| {
            let table = &mut tables.registrations;
            let full = window_full(
                table.current(key, now),
                limit,
                REGISTRATION_WINDOW_SECS,
                now,
            );
            if let Some(secs) = full {
                return Err(secs as u64);
            }
            table.record(key, now);
            Ok(())
        })
        .await
        .unwrap_or(Err(UNSURE.wait_secs))
    }

    /// Counts a mail about `subject` (an email address or an account) asked for by a client at
    /// `address`: `Err(seconds)` once this client asked for one about `subject` in the last
    /// minute or five today, all clients twenty about it today (not counted for a client with
    /// the account's device cookie, `known_device`), or the client a hundred in the last hour.
    /// Nothing is stored for a refused one.
    pub async fn mail(
        &self,
        subject: &str,
        address: &str,
        known_device: bool,
        now: i64,
    ) -> Result<(), u64> {
        let scope = address_scope(address);
        let pair_key = self.key("mail", (subject, scope.as_str()));
        let subject_key = self.key("mail-subject", subject);
        let client_key = self.key("mail-client", scope.as_str());
        let involved = [
            (Tbl::MailMinute, pair_key),
            (Tbl::MailDay, pair_key),
            (Tbl::MailSubjectDay, subject_key),
            (Tbl::MailClients, client_key),
        ];
        self.decide(&involved, |tables| {
            let wait = window_full(tables.mail_minute.current(pair_key, now), 1, 60, now)
                .or_else(|| {
                    window_full(
                        tables.mail_day.current(pair_key, now),
                        MAIL_DAILY_LIMIT,
                        86_400,
                        now,
                    )
                })
                .or_else(|| {
                    let subject_day = tables.mail_subject_day.current(subject_key, now);
                    let limit = MAIL_SUBJECT_DAILY_LIMIT;
                    (!known_device)
                        .then(|| window_full(subject_day, limit, 86_400, now))
                        .flatten()
                })
                .or_else(|| {
                    window_full(
                        tables.mail_clients.current(client_key, now),
                        MAIL_CLIENT_LIMIT,
                        3600,
                        now,
                    )
                });
            if let Some(secs) = wait {
                return Err(secs as u64);
            }
            tables.mail_minute.record(pair_key, now);
            tables.mail_day.record(pair_key, now);
            tables.mail_subject_day.record(subject_key, now);
            tables.mail_clients.record(client_key, now);
            Ok(())
        })
        .await
        .unwrap_or(Err(60))
    }

    /// Forgets what no longer counts (the periodic clean-up).
    pub async fn prune(&self, now: i64) {
        self.lock().prune(now);
        if let Some(db) = &self.shared {
            if let Err(e) = store::throttle::delete_expired(db, now).await {
                tracing::warn!(error = %e, "throttle: old shared counters could not be deleted");
            }
        }
    }

    /// Counters held, over all tables: this process's, or the shared ones (tests and
    /// benchmarks).
    pub async fn entries(&self) -> usize {
        match &self.shared {
            Some(db) => store::throttle::count(db)
                .await
                .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX)),
            None => self.lock().len(),
        }
    }

    #[cfg(test)]
    fn failures(&self, account: &str, now: i64) -> u32 {
        self.lock()
            .accounts
            .count(self.key("account", account), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Guesser<'static> = Guesser::Stranger { address: "1.1.1.1" };

    fn wait(begun: Result<Attempt, Refused>) -> Option<u64> {
        begun.err().map(|refused| refused.wait_secs)
    }

    async fn fail(throttle: &Throttle, account: &str, guesser: Guesser<'_>, now: i64) {
        let _failed = throttle
            .begin(account, guesser, now)
            .await
            .expect("allowed");
    }

    #[tokio::test]
    async fn five_failures_block_the_account_with_back_off() {
        let throttle = Throttle::default();
        for i in 0..5 {
            fail(&throttle, "a@x.io", IP, 100 + i).await;
        }
        assert_eq!(wait(throttle.begin("a@x.io", IP, 104).await), Some(60));
        assert!(throttle.begin("b@x.io", IP, 104).await.is_ok());
        // Waiting out the block allows one more try; failing it doubles the wait.
        fail(&throttle, "a@x.io", IP, 164).await;
        assert_eq!(wait(throttle.begin("a@x.io", IP, 164).await), Some(120));
    }

    #[tokio::test]
    async fn parallel_attempts_count_before_they_finish() {
        let throttle = Throttle::default();
        let mut in_flight = Vec::new();
        for _ in 0..5 {
            in_flight.push(throttle.begin("a@x.io", IP, 10).await.expect("allowed"));
        }
        assert!(
            throttle.begin("a@x.io", IP, 10).await.is_err(),
            "a sixth parallel guess"
        );
        drop(in_flight);
    }

    #[tokio::test]
    async fn success_resets_the_account_and_does_not_count_against_the_address() {
        let throttle = Throttle::default();
        for i in 0..4 {
            fail(&throttle, "a@x.io", IP, i).await;
        }
        let attempt = throttle.begin("a@x.io", IP, 5).await.unwrap();
        throttle.succeeded(attempt).await;
        assert_eq!(throttle.failures("a@x.io", 5), 0);
        let tables = throttle.lock();
        let address = throttle.key("address", address_scope("1.1.1.1"));
        assert_eq!(tables.addresses.count(address, 5), 4);
    }

    #[tokio::test]
    async fn thirty_failures_a_minute_block_the_address() {
        let throttle = Throttle::default();
        let from = Guesser::Stranger { address: "9.9.9.9" };
        for i in 0..30 {
            fail(&throttle, &format!("user{i}@x.io"), from, 1000).await;
        }
        assert_eq!(wait(throttle.begin("new@x.io", from, 1010).await), Some(50));
        assert!(throttle.begin("new@x.io", from, 1060).await.is_ok());
    }

    #[tokio::test]
    async fn refused_attempts_store_nothing() {
        let throttle = Throttle::default();
        let from = Guesser::Stranger { address: "9.9.9.9" };
        for i in 0..30 {
            fail(&throttle, &format!("user{i}@x.io"), from, 1000).await;
        }
        let before = throttle.entries().await;
        for i in 0..1000 {
            assert!(throttle
                .begin(&format!("other{i}@x.io"), from, 1001)
                .await
                .is_err());
        }
        assert_eq!(throttle.entries().await, before);
    }

    #[tokio::test]
    async fn ipv6_clients_are_throttled_per_64() {
        let throttle = Throttle::default();
        for i in 0..30 {
            let address = format!("2001:db8:1:2::{i:x}");
            fail(
                &throttle,
                &format!("user{i}@x.io"),
                Guesser::Stranger { address: &address },
                0,
            )
            .await;
        }
        let same_64 = Guesser::Stranger {
            address: "2001:db8:1:2:ffff::1",
        };
        let other_64 = Guesser::Stranger {
            address: "2001:db8:1:3::1",
        };
        assert!(throttle.begin("new@x.io", same_64, 1).await.is_err());
        assert!(throttle.begin("new@x.io", other_64, 1).await.is_ok());
    }

    #[tokio::test]
    async fn a_known_device_is_not_locked_out_by_strangers() {
        let throttle = Throttle::default();
        for i in 0..20 {
            let _ = throttle.begin("a@x.io", IP, i).await;
        }
        assert!(
            throttle.begin("a@x.io", IP, 30).await.is_err(),
            "strangers wait"
        );
        let owner = throttle
            .begin("a@x.io", Guesser::KnownDevice("laptop"), 30)
            .await;
        assert!(owner.is_ok(), "the owner's device keeps its own allowance");
    }

    #[tokio::test]
    async fn a_known_device_has_a_budget_of_its_own() {
        let throttle = Throttle::default();
        let device = Guesser::KnownDevice("laptop");
        for i in 0..DEVICE_LIMIT {
            fail(&throttle, "a@x.io", device, i64::from(i)).await;
        }
        assert!(throttle.begin("a@x.io", device, 10).await.is_err());
        assert!(throttle
            .begin("a@x.io", Guesser::KnownDevice("phone"), 10)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn password_checks_leave_addresses_alone() {
        let throttle = Throttle::default();
        let _failed = throttle.begin_password_check(7, 0).await.unwrap();
        assert_eq!(throttle.lock().addresses.entries.len(), 0);
    }

    #[tokio::test]
    async fn tables_stay_bounded_under_a_flood_of_distinct_accounts() {
        let throttle = Throttle::default();
        for i in 0..(MAX_ENTRIES + 5_000) {
            let address = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            let _ = throttle
                .begin(
                    &format!("user{i}@x.io"),
                    Guesser::Stranger { address: &address },
                    0,
                )
                .await;
        }
        let tables = throttle.lock();
        assert!(tables.accounts.entries.len() <= MAX_ENTRIES);
        assert!(tables.addresses.entries.len() <= MAX_ENTRIES);
    }

    #[tokio::test]
    async fn registrations_are_limited_per_address() {
        let throttle = Throttle::default();
        for _ in 0..3 {
            throttle.register("1.1.1.1", 3, 0).await.unwrap();
        }
        assert_eq!(throttle.register("1.1.1.1", 3, 10).await.err(), Some(3590));
        assert!(throttle.register("2.2.2.2", 3, 10).await.is_ok());
        assert!(throttle.register("1.1.1.1", 3, 3600).await.is_ok());
    }

    #[tokio::test]
    async fn mails_are_limited_per_address_and_per_client() {
        let throttle = Throttle::default();
        assert!(throttle.mail("a@x.io", "1.1.1.1", false, 0).await.is_ok());
        assert_eq!(
            throttle.mail("a@x.io", "1.1.1.1", false, 30).await.err(),
            Some(30),
            "one a minute"
        );
        for minute in 1..5 {
            assert!(throttle
                .mail("a@x.io", "1.1.1.1", false, minute * 60)
                .await
                .is_ok());
        }
        assert!(
            throttle
                .mail("a@x.io", "1.1.1.1", false, 3600)
                .await
                .is_err(),
            "five a day"
        );
        for i in 0..(MAIL_CLIENT_LIMIT - 5) {
            let subject = format!("u{i}@x.io");
            throttle.mail(&subject, "1.1.1.1", false, 10).await.unwrap();
        }
        assert!(
            throttle
                .mail("new@x.io", "1.1.1.1", false, 11)
                .await
                .is_err(),
            "a hundred an hour per client"
        );
        assert!(throttle
            .mail("new@x.io", "3.3.3.3", false, 11)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn strangers_cannot_use_up_the_owners_mail() {
        let throttle = Throttle::default();
        for minute in 0..5 {
            assert!(throttle
                .mail("a@x.io", "6.6.6.6", false, minute * 60)
                .await
                .is_ok());
        }
        assert!(throttle
            .mail("a@x.io", "6.6.6.6", false, 600)
            .await
            .is_err());
        assert!(
            throttle.mail("a@x.io", "1.1.1.1", false, 600).await.is_ok(),
            "the owner's own client still gets a link"
        );
        // Many clients together reach the address's cap; the device cookie still gets through.
        let mut now = 700;
        for client in 0..20 {
            let address = format!("10.0.{client}.1");
            if throttle.mail("a@x.io", &address, false, now).await.is_err() {
                break;
            }
            now += 1;
        }
        assert!(throttle
            .mail("a@x.io", "10.9.9.1", false, now)
            .await
            .is_err());
        assert!(throttle.mail("a@x.io", "10.9.9.1", true, now).await.is_ok());
    }

    #[tokio::test]
    async fn only_the_first_refusal_by_an_entry_is_reported() {
        let throttle = Throttle::default();
        let first = |begun: Result<Attempt, Refused>| begun.expect_err("refused").first;
        for i in 0..5 {
            fail(&throttle, "a@x.io", IP, 100 + i).await;
        }
        let stored = throttle.entries().await;
        assert!(first(throttle.begin("a@x.io", IP, 105).await));
        let elsewhere = Guesser::Stranger { address: "2.2.2.2" };
        for now in 106..160 {
            assert!(!first(throttle.begin("a@x.io", elsewhere, now).await));
            assert!(
                !throttle
                    .check_stranger("a@x.io", "2.2.2.2", now)
                    .await
                    .expect_err("refused")
                    .first
            );
        }
        assert_eq!(
            throttle.entries().await,
            stored,
            "marking stores nothing new"
        );

        // An address over its limit is reported once too, whichever account it tries.
        let flood = Guesser::Stranger { address: "3.3.3.3" };
        for i in 0..ADDRESS_LIMIT {
            fail(&throttle, &format!("u{i}@x.io"), flood, 300).await;
        }
        assert!(first(throttle.begin("new@x.io", flood, 301).await));
        assert!(!first(throttle.begin("other@x.io", flood, 302).await));

        // A new window is reported again.
        let later = 100 + ACCOUNT_WINDOW_SECS;
        for i in 0..5 {
            fail(&throttle, "a@x.io", IP, later + i).await;
        }
        assert!(first(throttle.begin("a@x.io", IP, later + 5).await));
    }

    #[tokio::test]
    async fn old_failures_are_forgotten() {
        let throttle = Throttle::default();
        fail(&throttle, "a@x.io", IP, 0).await;
        throttle.prune(ACCOUNT_WINDOW_SECS + 1).await;
        assert_eq!(throttle.entries().await, 0);
    }
}
