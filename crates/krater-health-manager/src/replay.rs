//! Replay protection. krater's agent stamps each heartbeat with its run (`boot`, a
//! random id per agent start), a sequence number counting from 0 in that run, and the
//! time it was sent. A datagram is fresh when it was sent within `window` of now and
//! its sequence number is above every one seen from the same run; a replayed copy, an
//! old one, or one without a stamp (it cannot be told from a replay) is dropped.
//!
//! The memory is per health manager: each of several receives its own copy of every
//! heartbeat. Runs not heard from for a window are forgotten (a datagram of theirs
//! would be out of the window anyway), so the memory stays bounded.

use krater_heartbeat::HeartbeatMessage;
use std::collections::HashMap;
use std::time::Duration;

/// Why a signed heartbeat is not fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFresh {
    /// Its run and sequence number were seen already.
    Replayed,
    /// Sent outside the window around now (or not stamped).
    Stale,
}

/// The highest sequence number seen per amphora run, and when it was sent.
#[derive(Debug)]
pub struct ReplayGuard {
    window_ms: u64,
    runs: HashMap<(String, String), (u64, u64)>,
    checks: u64,
}

impl ReplayGuard {
    pub fn new(window: Duration) -> Self {
        Self {
            window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
            runs: HashMap::new(),
            checks: 0,
        }
    }

    /// Checks `message` received at `now_ms` (milliseconds since the Unix epoch) and
    /// remembers it when it is fresh.
    pub fn check(&mut self, message: &HeartbeatMessage, now_ms: u64) -> Result<(), NotFresh> {
        self.checks += 1;
        if self.checks.is_multiple_of(1024) {
            self.forget_older_than(now_ms.saturating_sub(self.window_ms));
        }
        let (Some(boot), Some(sent)) = (&message.boot, message.sent_ms) else {
            return Err(NotFresh::Stale);
        };
        if sent.abs_diff(now_ms) > self.window_ms {
            return Err(NotFresh::Stale);
        }
        let run = (message.id.clone(), boot.clone());
        match self.runs.get(&run) {
            Some(&(seq, _)) if message.seq <= seq => Err(NotFresh::Replayed),
            _ => {
                self.runs.insert(run, (message.seq, sent));
                Ok(())
            }
        }
    }

    fn forget_older_than(&mut self, cutoff_ms: u64) {
        self.runs.retain(|_, &mut (_, sent)| sent >= cutoff_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn beat(boot: &str, seq: u64, sent_ms: u64) -> HeartbeatMessage {
        let mut message = HeartbeatMessage::new("amp", seq);
        message.boot = Some(boot.into());
        message.sent_ms = Some(sent_ms);
        message
    }

    #[test]
    fn a_copy_an_old_datagram_and_an_unstamped_one_are_not_fresh() {
        let mut guard = ReplayGuard::new(Duration::from_secs(30));
        assert_eq!(guard.check(&beat("a", 0, NOW), NOW), Ok(()));
        assert_eq!(guard.check(&beat("a", 1, NOW + 1000), NOW + 1000), Ok(()));
        assert_eq!(
            guard.check(&beat("a", 1, NOW + 1000), NOW + 1500),
            Err(NotFresh::Replayed),
            "the same datagram again"
        );
        assert_eq!(
            guard.check(&beat("a", 0, NOW), NOW + 2000),
            Err(NotFresh::Replayed),
            "an earlier one"
        );
        assert_eq!(
            guard.check(&beat("old", 7, NOW - 31_000), NOW),
            Err(NotFresh::Stale),
            "sent before the window"
        );
        assert_eq!(
            guard.check(&beat("ahead", 0, NOW + 31_000), NOW),
            Err(NotFresh::Stale),
            "sent after it"
        );
        let unstamped = HeartbeatMessage::new("amp", 99);
        assert_eq!(guard.check(&unstamped, NOW), Err(NotFresh::Stale));
    }

    #[test]
    fn a_restarted_agent_counts_from_zero_again() {
        let mut guard = ReplayGuard::new(Duration::from_secs(30));
        assert_eq!(guard.check(&beat("first", 500, NOW), NOW), Ok(()));
        assert_eq!(guard.check(&beat("second", 0, NOW + 10), NOW + 10), Ok(()));
        assert_eq!(guard.check(&beat("second", 1, NOW + 20), NOW + 20), Ok(()));
    }

    #[test]
    fn runs_not_heard_for_a_window_are_forgotten() {
        let mut guard = ReplayGuard::new(Duration::from_secs(1));
        for i in 0..2048u64 {
            let sent = NOW + i * 100;
            assert_eq!(
                guard.check(&beat(&format!("run{i}"), 0, sent), sent),
                Ok(())
            );
        }
        assert!(guard.runs.len() < 200, "{} runs kept", guard.runs.len());
    }
}
