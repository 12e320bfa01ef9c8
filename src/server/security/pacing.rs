//! The pace of refusals. "Too many attempts" (429) and "busy" (503) are the cheapest answers
//! the server gives, so a client that loops on them can keep every async worker busy: the
//! requests of everyone else then wait behind thousands of refusals a second, and the hashing
//! threads (which give way to pages) get no time, so logins stall too.
//!
//! All refusals share one allowance (generic cell rate algorithm): up to `BURST` are answered
//! at once, then `RATE_PER_SEC` a second; a refusal beyond that waits for its turn, at most
//! `MAX_WAIT`. A person who is refused now and then is answered at once; a flood is answered
//! at a pace that leaves the cores to real work. Waiting costs a timer, no thread.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

const RATE_PER_SEC: u32 = 1_000;
const BURST: u32 = 200;
const MAX_WAIT: Duration = Duration::from_secs(1);

pub struct RefusalPacer {
    /// When the allowance would be back to full if no refusal came in the meantime (the
    /// algorithm's "theoretical arrival time").
    full_at: Mutex<Instant>,
}

impl Default for RefusalPacer {
    fn default() -> Self {
        Self {
            full_at: Mutex::new(Instant::now()),
        }
    }
}

impl RefusalPacer {
    /// How long this refusal must wait for its turn; counts it.
    fn take_turn(&self, now: Instant) -> Duration {
        let interval = Duration::from_secs(1) / RATE_PER_SEC;
        let tolerance = interval * BURST;
        let mut full_at = self.full_at.lock().unwrap_or_else(|e| e.into_inner());
        // Past the longest wait, further refusals do not push the queue further out.
        let next = ((*full_at).max(now) + interval).min(now + tolerance + MAX_WAIT);
        *full_at = next;
        (next - now).saturating_sub(tolerance)
    }

    /// Waits until this refusal may be answered.
    pub async fn wait_turn(&self) {
        let wait = self.take_turn(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occasional_refusals_are_answered_at_once() {
        let pacer = RefusalPacer::default();
        let start = Instant::now();
        for i in 0..1_000 {
            let now = start + Duration::from_millis(5 * i);
            assert_eq!(pacer.take_turn(now), Duration::ZERO);
        }
    }

    #[test]
    fn a_flood_is_answered_at_the_rate_after_the_burst() {
        let pacer = RefusalPacer::default();
        let now = Instant::now();
        let waits: Vec<Duration> = (0..BURST + 100).map(|_| pacer.take_turn(now)).collect();
        assert!(waits[..BURST as usize].iter().all(Duration::is_zero));
        // Each refusal beyond the burst waits one interval more than the one before.
        assert_eq!(waits[BURST as usize], Duration::from_millis(1));
        assert_eq!(waits[BURST as usize + 99], Duration::from_millis(100));
        // Refused again after the flood ends: the allowance has come back.
        assert_eq!(
            pacer.take_turn(now + Duration::from_secs(1)),
            Duration::ZERO
        );
    }

    #[test]
    fn no_refusal_waits_longer_than_the_limit() {
        let pacer = RefusalPacer::default();
        let now = Instant::now();
        let longest = (0..100_000).map(|_| pacer.take_turn(now)).max();
        assert_eq!(longest, Some(MAX_WAIT));
        // The queue did not run away: a second later the wait is no longer than the limit.
        assert!(pacer.take_turn(now + Duration::from_secs(1)) <= MAX_WAIT);
    }

    #[tokio::test]
    async fn a_refusal_beyond_the_burst_waits_its_turn() {
        let pacer = RefusalPacer::default();
        for _ in 0..BURST + 20 {
            pacer.take_turn(Instant::now());
        }
        let started = Instant::now();
        pacer.wait_turn().await;
        assert!(started.elapsed() >= Duration::from_millis(15));
    }
}
