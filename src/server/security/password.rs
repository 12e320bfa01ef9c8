//! argon2id hashing on a small fixed pool of threads, so a login flood can neither stall page
//! rendering nor grow memory (each hash holds 19 MiB, and only the pool's threads ever hold
//! one), with a bound on how many may wait: past it the answer is 503 (at the pace of
//! refusals, see `pacing`) instead of a queue that grows without end. Logins are served before
//! new hashes. The hashing threads run at idle priority, on time the pages leave; a guard of
//! normal priority steps in, one job at a time, when they are starved (`STARVED_AFTER`).

use std::collections::VecDeque;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{Output, PasswordHash as Phc, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::domain::AppError;
use crate::server::security::pacing::RefusalPacer;

/// OWASP / ASVS 5.0 appendix C: m = 19456 KiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

/// A stored PHC hash string. Cannot be serialized or `Debug`-printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_stored(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// Outcome of a verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but hashed with other parameters: store a fresh hash.
    YesButRehash,
}

type Job = Box<dyn FnOnce() + Send>;

/// A job and when it was queued.
struct Queued {
    since: Instant,
    job: Job,
}

struct Jobs {
    logins: VecDeque<Queued>,
    other: VecDeque<Queued>,
    /// When a hashing thread last started or finished a job.
    progress: Instant,
}

impl Default for Jobs {
    fn default() -> Self {
        Self {
            logins: VecDeque::new(),
            other: VecDeque::new(),
            progress: Instant::now(),
        }
    }
}

impl Jobs {
    fn next(&mut self) -> Option<Queued> {
        self.logins.pop_front().or_else(|| self.other.pop_front())
    }

    /// When the job `next` would give was queued.
    fn oldest(&self) -> Option<Instant> {
        self.logins
            .front()
            .or_else(|| self.other.front())
            .map(|q| q.since)
    }
}

/// The hashing threads run only on time nothing else wants (`SCHED_IDLE`): a login flood then
/// leaves the pages their speed. They could starve while the cores are busy with other work,
/// so a guard thread of normal priority runs the next queued job itself whenever it has waited
/// this long and no job has started or finished meanwhile: however busy the pages keep the
/// cores, a login goes through at least every `STARVED_AFTER` plus one hash (about three a
/// second), and it takes a core from the pages for no more than a sixth of the time.
const STARVED_AFTER: Duration = Duration::from_millis(300);

/// The hashing threads, the guard and their queue.
#[derive(Default)]
struct Pool {
    jobs: Mutex<Jobs>,
    ready: Condvar,
    guard: Condvar,
    closed: AtomicBool,
}

impl Pool {
    fn start(threads: usize) -> Arc<Self> {
        let pool = Arc::new(Self::default());
        for n in 0..threads {
            let pool = pool.clone();
            std::thread::Builder::new()
                .name(format!("gatehouse-hash-{n}"))
                .spawn(move || {
                    idle_priority();
                    pool.work()
                })
                .expect("the OS starts a hashing thread");
        }
        let guard = pool.clone();
        std::thread::Builder::new()
            .name("gatehouse-hash-guard".into())
            .spawn(move || guard.guard())
            .expect("the OS starts the hashing guard");
        pool
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Jobs> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits on `signal` for at most `timeout`, or, with no timeout, until woken; working
    /// memory is given back after `IDLE_RELEASE_AFTER` without work.
    fn wait<'a>(
        &self,
        signal: &Condvar,
        jobs: std::sync::MutexGuard<'a, Jobs>,
        timeout: Option<Duration>,
    ) -> std::sync::MutexGuard<'a, Jobs> {
        let release = holds_working_memory().then_some(IDLE_RELEASE_AFTER);
        let Some(timeout) = [timeout, release].into_iter().flatten().min() else {
            return signal.wait(jobs).unwrap_or_else(|e| e.into_inner());
        };
        let (jobs, waited) = signal
            .wait_timeout(jobs, timeout)
            .unwrap_or_else(|e| e.into_inner());
        if waited.timed_out() && release.is_some_and(|r| r <= timeout) {
            release_working_memory();
        }
        jobs
    }

    /// A hashing thread: runs queued jobs; starting and finishing one both count as progress.
    fn work(&self) {
        let mut jobs = self.lock();
        loop {
            if let Some(queued) = jobs.next() {
                jobs.progress = Instant::now();
                drop(jobs);
                run(queued.job);
                jobs = self.lock();
                jobs.progress = Instant::now();
                continue;
            }
            if self.closed.load(Ordering::Acquire) {
                return;
            }
            jobs = self.wait(&self.ready, jobs, None);
        }
    }

    /// The guard: runs a queued job whenever the hashing threads have been starved of time
    /// for `STARVED_AFTER`; its own job counts as progress, so it then waits again.
    fn guard(&self) {
        let mut jobs = self.lock();
        loop {
            if self.closed.load(Ordering::Acquire) {
                return;
            }
            let Some(oldest) = jobs.oldest() else {
                jobs = self.wait(&self.guard, jobs, None);
                continue;
            };
            let stalled_since = oldest.max(jobs.progress);
            let stalled = stalled_since.elapsed();
            if stalled < STARVED_AFTER {
                jobs = self.wait(&self.guard, jobs, Some(STARVED_AFTER - stalled));
                continue;
            }
            let Some(queued) = jobs.next() else { continue };
            drop(jobs);
            run(queued.job);
            jobs = self.lock();
            jobs.progress = Instant::now();
        }
    }

    fn submit(&self, lane: Lane, job: Job) {
        let mut jobs = self.lock();
        let queued = Queued {
            since: Instant::now(),
            job,
        };
        match lane {
            Lane::Login => jobs.logins.push_back(queued),
            Lane::Other => jobs.other.push_back(queued),
        }
        self.ready.notify_one();
        self.guard.notify_one();
    }
}

/// A panicking job loses its answer (the caller sees an internal error), not the thread.
fn run(job: Job) {
    let _ = catch_unwind(AssertUnwindSafe(job));
}

/// Gives the calling thread the idle scheduling class: the kernel runs it only when no thread
/// of normal priority (the async workers serving pages, anything else on the machine) wants
/// the core, and preempts it at once when one does. Where that is not allowed, nice 19.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn idle_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `sched_setscheduler` reads the parameter we pass and touches no other memory
    // of ours; `pid = 0` is the calling thread alone.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } == 0 {
        return;
    }
    // SAFETY: as above; on Linux, `PRIO_PROCESS` with `who = 0` is the calling thread.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) } != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "could not lower the hashing thread's priority"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn idle_priority() {}

/// Owned by every `Hasher` clone together: when the last goes, the threads end.
struct PoolHandle(Arc<Pool>);

impl Drop for PoolHandle {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        let _jobs = self.0.lock();
        self.0.ready.notify_all();
        self.0.guard.notify_all();
    }
}

#[derive(Clone)]
pub struct Hasher {
    pool: Arc<PoolHandle>,
    /// Jobs running or waiting for a permit.
    queued: Arc<AtomicUsize>,
    /// At most this many jobs running or waiting.
    capacity: usize,
    /// Places only logins may take, so a flood of registrations cannot keep people from
    /// logging in.
    reserved_for_logins: usize,
    /// Verified for unknown emails so a login takes the same time whether or not the
    /// account exists.
    dummy: PasswordHash,
    /// The pace of "busy" answers, shared with the throttle's refusals.
    refusals: Arc<RefusalPacer>,
}

fn argon2_with(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn params() -> Params {
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .expect("argon2 parameters are valid constants")
}

/// Length of the raw hash in new PHC strings.
const OUTPUT_BYTES: usize = 32;
/// Stored hashes asking for more memory than this are refused rather than honoured.
const MAX_MEMORY_KIB: u32 = 256 * 1024;

/// A hashing thread's argon2 working memory: an anonymous mapping of its own, so giving it
/// back unmaps the pages at once (an allocator may keep a freed 19 MiB block, or return it
/// only later).
struct WorkingMemory {
    map: memmap2::MmapMut,
    blocks: usize,
}

impl WorkingMemory {
    fn map(blocks: usize) -> std::io::Result<Self> {
        let map = memmap2::MmapMut::map_anon(blocks * std::mem::size_of::<Block>())?;
        Ok(Self { map, blocks })
    }

    /// The first `n` blocks (at most `self.blocks`).
    #[allow(unsafe_code)]
    fn blocks(&mut self, n: usize) -> &mut [Block] {
        let n = n.min(self.blocks);
        // SAFETY: the mapping is page-aligned (Block needs 64 bytes), at least
        // `n × size_of::<Block>()` bytes long, zero-filled and written only through this
        // exclusive borrow, and any bytes are a valid `Block` (an array of `u64`).
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().cast::<Block>(), n) }
    }
}

thread_local! {
    /// Each hashing thread's working memory, mapped when it starts hashing and reused for
    /// every hash until it is idle: memory stays at (threads × 19 MiB) however many logins
    /// arrive, and drops back when they stop.
    static MEMORY: std::cell::RefCell<Option<WorkingMemory>> = const { std::cell::RefCell::new(None) };
}

/// A hashing thread that has had nothing to do for this long gives its working memory back:
/// memory returns to its idle size after a flood, and a steady stream of logins still reuses
/// one buffer.
const IDLE_RELEASE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

fn holds_working_memory() -> bool {
    MEMORY.with(|memory| memory.borrow().is_some())
}

fn release_working_memory() {
    MEMORY.with(|memory| memory.borrow_mut().take());
}

/// Computes the raw argon2id hash into `out` with this thread's reused working memory.
fn hash_into(
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let needed = params.block_count();
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        // A mapping too small for these parameters is unmapped before a larger one is made.
        let held = match memory.take().filter(|held| held.blocks >= needed) {
            Some(held) => memory.insert(held),
            None => memory.insert(WorkingMemory::map(needed).map_err(|e| {
                tracing::error!(error = %e, "could not map argon2 working memory");
                argon2::Error::MemoryTooMuch
            })?),
        };
        argon2_with(params).hash_password_into_with_memory(password, salt, out, held.blocks(needed))
    })
}

fn hash_blocking(password: &str) -> Result<PasswordHash, AppError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_bytes = [0u8; 64];
    let fail = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "password hashing failed");
        AppError::internal()
    };
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| fail(&e))?;
    let mut out = [0u8; OUTPUT_BYTES];
    hash_into(params(), password.as_bytes(), salt_bytes, &mut out).map_err(|e| fail(&e))?;
    let encoded = Output::new(&out).map_err(|e| fail(&e))?;
    Ok(PasswordHash(format!(
        "$argon2id$v=19$m={MEMORY_KIB},t={ITERATIONS},p={PARALLELISM}${}${encoded}",
        salt.as_str()
    )))
}

fn verify_blocking(password: &str, stored: &PasswordHash) -> Verified {
    let Ok(parsed) = Phc::new(&stored.0) else {
        tracing::error!("stored password hash is not a valid PHC string");
        return Verified::No;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        tracing::error!("stored password hash has no hash or salt");
        return Verified::No;
    };
    let params = Params::try_from(&parsed)
        .ok()
        .filter(|p| p.m_cost() <= MAX_MEMORY_KIB)
        .and_then(|p| Params::new(p.m_cost(), p.t_cost(), p.p_cost(), Some(expected.len())).ok());
    let (Some(params), true) = (params, parsed.algorithm.as_str() == "argon2id") else {
        tracing::error!("stored password hash has parameters this server does not use");
        return Verified::No;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return Verified::No;
    };
    let mut out = vec![0u8; expected.len()];
    if hash_into(params.clone(), password.as_bytes(), salt_bytes, &mut out).is_err() {
        return Verified::No;
    }
    // `Output`'s comparison takes the same time wherever the bytes differ.
    if Output::new(&out).ok() != Some(expected) {
        return Verified::No;
    }
    let current = params.m_cost() == MEMORY_KIB
        && params.t_cost() == ITERATIONS
        && params.p_cost() == PARALLELISM
        && parsed.version == Some(0x13)
        && expected.len() == OUTPUT_BYTES;
    if current {
        Verified::Yes
    } else {
        Verified::YesButRehash
    }
}

/// A place in the hashing queue, given back when dropped (also when the request is dropped).
struct Place(Arc<AtomicUsize>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Which places in the queue a job may take.
#[derive(Clone, Copy)]
enum Lane {
    /// Password checks of logins: every place.
    Login,
    /// New hashes and strength estimates (registrations, password changes): all but the
    /// places reserved for logins.
    Other,
}

/// Seconds a client is asked to wait when the queue is full.
const BUSY_RETRY_SECS: u64 = 2;

impl Hasher {
    /// `max_concurrent` threads hash; `max_waiting` more jobs may wait for them.
    pub fn new(max_concurrent: usize, max_waiting: usize) -> Self {
        let max_concurrent = max_concurrent.max(1);
        let pool = Pool::start(max_concurrent);
        // Hashed on a pool thread, whose working memory is kept anyway: hashing here would
        // leave a second 19 MiB buffer on the starting thread for the life of the process.
        let (answer, answered) = std::sync::mpsc::channel();
        pool.submit(
            Lane::Other,
            Box::new(move || {
                let _ = answer.send(hash_blocking("gatehouse dummy password for timing"));
            }),
        );
        let dummy = answered
            .recv()
            .expect("a hashing thread answers")
            .expect("hashing a constant succeeds");
        Self {
            pool: Arc::new(PoolHandle(pool)),
            queued: Arc::new(AtomicUsize::new(0)),
            capacity: max_concurrent + max_waiting,
            reserved_for_logins: max_waiting / 4,
            dummy,
            refusals: Arc::default(),
        }
    }

    /// Answers a refusal (busy, or too many attempts) when `pacing` allows: at once unless
    /// refusals are arriving in a flood.
    pub async fn refuse(&self, refusal: AppError) -> AppError {
        self.refusals.wait_turn().await;
        refusal
    }

    /// "Busy" (503), at the pace of refusals.
    pub async fn busy(&self) -> AppError {
        self.refuse(AppError::busy(BUSY_RETRY_SECS)).await
    }

    /// Jobs running or waiting now.
    pub fn queue_depth(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Whether a login's password check would be refused now; lets a flood be answered 503
    /// before it costs a database read.
    pub fn logins_full(&self) -> bool {
        self.queued.load(Ordering::Acquire) >= self.capacity
    }

    fn take_place(&self, lane: Lane) -> Option<Place> {
        let capacity = match lane {
            Lane::Login => self.capacity,
            Lane::Other => self.capacity - self.reserved_for_logins,
        };
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .ok()
            .map(|_| Place(self.queued.clone()))
    }

    /// Runs CPU-heavy password work (hashing, verifying, strength estimates) on the hashing
    /// threads, behind the same bounds.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        self.run_in(Lane::Other, job).await
    }

    async fn run_in<T: Send + 'static>(
        &self,
        lane: Lane,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        // The place is given back when the job is done, even if its caller has gone.
        let Some(place) = self.take_place(lane) else {
            return Err(self.busy().await);
        };
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.pool.0.submit(
            lane,
            Box::new(move || {
                let done = job();
                // Given back before answering: whoever reads the answer sees the place free.
                drop(place);
                let _ = answer.send(done);
            }),
        );
        answered.await.map_err(|_| {
            tracing::error!("a password task panicked");
            AppError::internal()
        })
    }

    pub async fn hash(&self, password: &str) -> Result<PasswordHash, AppError> {
        let password = password.to_string();
        self.run(move || hash_blocking(&password)).await?
    }

    /// Verifies against `stored`, or against the dummy hash when there is no account, so both
    /// cases cost the same.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&PasswordHash>,
    ) -> Result<Verified, AppError> {
        let password = password.to_string();
        let (target, real) = match stored {
            Some(hash) => (hash.clone(), true),
            None => (self.dummy.clone(), false),
        };
        let outcome = self
            .run_in(Lane::Login, move || verify_blocking(&password, &target))
            .await?;
        Ok(if real { outcome } else { Verified::No })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify_accepts_only_the_right_password() {
        let hasher = Hasher::new(2, 4);
        let hash = hasher.hash("violet-tundra-kettle-42").await.unwrap();
        assert!(hash
            .as_stored()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(
            hasher
                .verify("violet-tundra-kettle-42", Some(&hash))
                .await
                .unwrap(),
            Verified::Yes
        );
        assert_eq!(
            hasher
                .verify("violet-tundra-kettle-43", Some(&hash))
                .await
                .unwrap(),
            Verified::No
        );
    }

    /// Keeps a hashing thread busy until the returned barrier is passed.
    async fn hold_the_thread(
        hasher: &Hasher,
    ) -> (
        Arc<std::sync::Barrier>,
        tokio::task::JoinHandle<Result<(), AppError>>,
    ) {
        let gate = Arc::new(std::sync::Barrier::new(2));
        let held = {
            let (hasher, gate) = (hasher.clone(), gate.clone());
            tokio::spawn(async move {
                hasher
                    .run(move || {
                        gate.wait();
                    })
                    .await
            })
        };
        while hasher.queue_depth() < 1 {
            tokio::task::yield_now().await;
        }
        (gate, held)
    }

    /// The scheduling policy of the thread running this (`SCHED_OTHER`, `SCHED_IDLE`, …).
    fn own_policy() -> i32 {
        let sched = std::fs::read_to_string("/proc/thread-self/sched").unwrap();
        let line = sched.lines().find(|l| l.starts_with("policy")).unwrap();
        line.rsplit(':').next().unwrap().trim().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_only_on_idle_time() {
        let hasher = Hasher::new(2, 4);
        let (a, b) = tokio::join!(hasher.run(own_policy), hasher.run(own_policy));
        assert_eq!([a.unwrap(), b.unwrap()], [libc::SCHED_IDLE; 2]);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_starved_hashing_thread_is_stood_in_for() {
        let hasher = Hasher::new(1, 4);
        // The only hashing thread is held, as if the cores had no time for it.
        let (gate, held) = hold_the_thread(&hasher).await;
        let started = Instant::now();
        let timed = || async {
            let policy = hasher.run(own_policy).await.unwrap();
            (started.elapsed(), policy)
        };
        let (a, b) = tokio::join!(timed(), timed());
        let [(first, first_policy), (second, second_policy)] = {
            let mut both = [a, b];
            both.sort();
            both
        };
        assert_eq!(
            [first_policy, second_policy],
            [libc::SCHED_OTHER; 2],
            "the guard, at normal priority, ran both"
        );
        assert!(
            first >= STARVED_AFTER,
            "not before the thread counts as starved"
        );
        assert!(second >= STARVED_AFTER * 2, "one job per wait: {second:?}");
        gate.wait();
        held.await.unwrap().unwrap();
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_guard_keeps_out_while_the_hashing_threads_make_progress() {
        let hasher = Hasher::new(1, 12);
        // Eight jobs of 60 ms queued at once: the last waits 420 ms, but the thread finishes
        // one every 60 ms, so it is not starved.
        let jobs: Vec<_> = (0..8)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move {
                    hasher
                        .run(|| {
                            std::thread::sleep(Duration::from_millis(60));
                            own_policy()
                        })
                        .await
                })
            })
            .collect();
        for job in jobs {
            assert_eq!(job.await.unwrap().unwrap(), libc::SCHED_IDLE);
        }
    }

    #[tokio::test]
    async fn same_password_gets_a_different_salt_each_time() {
        let hasher = Hasher::new(2, 4);
        let a = hasher.hash("violet-tundra-kettle-42").await.unwrap();
        let b = hasher.hash("violet-tundra-kettle-42").await.unwrap();
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn unknown_account_is_verified_against_the_dummy_and_fails() {
        let hasher = Hasher::new(2, 4);
        assert_eq!(
            hasher
                .verify("gatehouse dummy password for timing", None)
                .await
                .unwrap(),
            Verified::No
        );
    }

    #[test]
    fn hashes_read_and_written_as_standard_phc_strings() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let password = "violet-tundra-kettle-42";
        // Hashes stored before the buffers were reused still verify...
        let library = Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
            .hash_password(
                password.as_bytes(),
                &SaltString::generate(&mut rand::rngs::OsRng),
            )
            .unwrap()
            .to_string();
        let stored = PasswordHash::from_stored(library);
        assert_eq!(verify_blocking(password, &stored), Verified::Yes);
        assert_eq!(
            verify_blocking("violet-tundra-kettle-43", &stored),
            Verified::No
        );
        // ...and ours are what the library itself would verify.
        let ours = hash_blocking(password).unwrap();
        let parsed = Phc::new(ours.as_stored()).unwrap();
        assert!(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"violet-tundra-kettle-43", &parsed)
            .is_err());
    }

    #[test]
    fn a_hashing_thread_reuses_one_buffer() {
        let held = || MEMORY.with(|m| m.borrow().as_ref().map(|m| (m.map.as_ptr(), m.blocks)));
        hash_blocking("first").unwrap();
        let first = held().unwrap().0;
        hash_blocking("second").unwrap();
        verify_blocking("third", &hash_blocking("third").unwrap());
        assert_eq!(held(), Some((first, MEMORY_KIB as usize)));
    }

    #[tokio::test]
    async fn an_idle_hashing_thread_gives_its_memory_back() {
        let hasher = Hasher::new(1, 4);
        hasher.hash("violet-tundra-kettle-42").await.unwrap();
        let held = || hasher.run(holds_working_memory);
        assert!(held().await.unwrap(), "kept between hashes");
        tokio::time::sleep(IDLE_RELEASE_AFTER * 2).await;
        assert!(!held().await.unwrap(), "released when idle");
        hasher.hash("violet-tundra-kettle-42").await.unwrap();
        assert!(held().await.unwrap());
    }

    #[tokio::test]
    async fn old_parameters_ask_for_a_rehash() {
        use argon2::password_hash::PasswordHasher as _;
        let hasher = Hasher::new(2, 4);
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(
            b"violet-tundra-kettle-42",
            &SaltString::generate(&mut rand::rngs::OsRng),
        )
        .unwrap()
        .to_string();
        let outcome = hasher
            .verify(
                "violet-tundra-kettle-42",
                Some(&PasswordHash::from_stored(weak)),
            )
            .await
            .unwrap();
        assert_eq!(outcome, Verified::YesButRehash);
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once() {
        let hasher = Hasher::new(1, 1);
        let (gate, running) = hold_the_thread(&hasher).await;
        let waiting = {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.run(|| ()).await })
        };
        while hasher.queue_depth() < 2 {
            tokio::task::yield_now().await;
        }
        let refused = hasher.run(|| ()).await.unwrap_err();
        assert_eq!(refused.kind, crate::domain::ErrorKind::Unavailable);
        assert!(refused.retry_after_secs.is_some());
        gate.wait();
        running.await.unwrap().unwrap();
        waiting.await.unwrap().unwrap();
        assert_eq!(hasher.queue_depth(), 0, "places are given back");
    }

    #[tokio::test]
    async fn registrations_leave_places_for_logins() {
        let hasher = Hasher::new(1, 4);
        let gate = Arc::new(std::sync::Barrier::new(2));
        let mut held = Vec::new();
        for i in 0..4 {
            let (worker, gate) = (hasher.clone(), gate.clone());
            held.push(tokio::spawn(async move {
                worker
                    .run(move || {
                        if i == 0 {
                            gate.wait();
                        }
                    })
                    .await
            }));
            while hasher.queue_depth() < i + 1 {
                tokio::task::yield_now().await;
            }
        }
        assert!(hasher.run(|| ()).await.is_err(), "other work is refused");
        let login = {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.verify("x", None).await })
        };
        while hasher.queue_depth() < 5 {
            tokio::task::yield_now().await;
        }
        gate.wait();
        assert_eq!(
            login.await.unwrap().unwrap(),
            Verified::No,
            "the login was served"
        );
        for job in held {
            job.await.unwrap().unwrap();
        }
    }

    #[test]
    fn hash_debug_is_redacted() {
        let hash = PasswordHash::from_stored("$argon2id$secret".into());
        assert!(!format!("{hash:?}").contains("secret"));
    }
}
