//! A first sync's progress: documents fetched out of those known to be
//! missing, bytes received, and an estimate of the time left.
//!
//! The node reports, per peer, how many documents are still to sync and how
//! many document bytes arrived. The total is not known up front (catalog
//! rounds reveal what differs bucket by bucket while earlier ones are being
//! fetched), so every rise of a peer's pending count adds to the total and
//! every fall to the documents done; the estimate extrapolates the rate.

use std::collections::BTreeMap;
use std::time::Duration;

/// No estimate before this much has happened: early rates mislead.
const MIN_ELAPSED_FOR_ESTIMATE: Duration = Duration::from_millis(500);
const MIN_DONE_FOR_ESTIMATE: usize = 10;

/// What a progress bar shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstSyncProgress {
    pub done_docs: usize,
    pub total_docs: usize,
    pub received_bytes: u64,
    /// Time left at the rate so far; `None` until there is enough to judge.
    pub remaining: Option<Duration>,
}

impl std::fmt::Display for FirstSyncProgress {
    /// `1200 of 5000 documents, 3.4 MB, about 12 s left`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} documents, {}",
            self.done_docs,
            self.total_docs,
            Bytes(self.received_bytes)
        )?;
        match self.remaining {
            Some(left) if self.done_docs < self.total_docs => {
                write!(f, ", about {} left", Seconds(left))
            }
            _ => Ok(()),
        }
    }
}

/// A byte count as people read it (decimal units, one decimal place).
pub struct Bytes(pub u64);

impl std::fmt::Display for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
        if self.0 < 1000 {
            return write!(f, "{} B", self.0);
        }
        let mut value = self.0 as f64 / 1000.0;
        let mut unit = 0;
        while value >= 1000.0 && unit + 1 < UNITS.len() {
            value /= 1000.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
}

/// A duration rounded up to whole seconds, or minutes past two minutes.
pub struct Seconds(pub Duration);

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.0.as_millis().div_ceil(1000);
        if secs < 120 {
            write!(f, "{secs} s")
        } else {
            write!(f, "{} min", secs.div_ceil(60))
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct PeerCount {
    pending: usize,
    added: usize,
    done: usize,
    received_bytes: u64,
}

/// Folds the node's per-peer progress reports into one figure.
#[derive(Clone, Debug, Default)]
pub struct FirstSyncTracker {
    peers: BTreeMap<String, PeerCount>,
    started: Option<Duration>,
}

impl FirstSyncTracker {
    /// One report from `peer`, at `now` (any monotonic clock, as a duration).
    pub fn report(
        &mut self,
        peer: &str,
        pending_docs: usize,
        received_bytes: u64,
        now: Duration,
    ) -> FirstSyncProgress {
        let started = *self.started.get_or_insert(now);
        let count = self.peers.entry(peer.to_string()).or_default();
        if pending_docs > count.pending {
            count.added += pending_docs - count.pending;
        } else {
            count.done += count.pending - pending_docs;
        }
        count.pending = pending_docs;
        count.received_bytes = count.received_bytes.max(received_bytes);
        let total_docs: usize = self.peers.values().map(|c| c.added).sum();
        let done_docs: usize = self.peers.values().map(|c| c.done).sum();
        let received_bytes = self.peers.values().map(|c| c.received_bytes).sum();
        let elapsed = now.saturating_sub(started);
        let remaining = (elapsed >= MIN_ELAPSED_FOR_ESTIMATE && done_docs >= MIN_DONE_FOR_ESTIMATE)
            .then(|| {
                let left = (total_docs - done_docs) as u32;
                elapsed.mul_f64(f64::from(left) / done_docs as f64)
            });
        FirstSyncProgress {
            done_docs,
            total_docs,
            received_bytes,
            remaining,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn documents_found_while_others_are_fetched_add_to_the_total() {
        let mut t = FirstSyncTracker::default();
        let p = t.report("a", 100, 0, MS(0));
        assert_eq!((p.done_docs, p.total_docs), (0, 100));
        let p = t.report("a", 40, 1_000, MS(100));
        assert_eq!((p.done_docs, p.total_docs), (60, 100));
        // A later catalog bucket reveals more.
        let p = t.report("a", 240, 2_000, MS(150));
        assert_eq!((p.done_docs, p.total_docs), (60, 300));
        let p = t.report("a", 0, 9_000, MS(200));
        assert_eq!(
            (p.done_docs, p.total_docs, p.received_bytes),
            (300, 300, 9_000)
        );
    }

    #[test]
    fn the_estimate_extrapolates_the_rate_once_there_is_enough_to_judge() {
        let mut t = FirstSyncTracker::default();
        t.report("a", 1_000, 0, MS(0));
        assert_eq!(t.report("a", 995, 10, MS(100)).remaining, None);
        // A quarter done in 2 s: three quarters left take 6 s.
        let p = t.report("a", 750, 10_000, MS(2_000));
        assert_eq!(p.remaining, Some(MS(6_000)));
        assert_eq!(t.report("a", 0, 40_000, MS(8_000)).remaining, Some(MS(0)));
    }

    #[test]
    fn reads_as_people_say_it() {
        let p = FirstSyncProgress {
            done_docs: 1_200,
            total_docs: 5_000,
            received_bytes: 3_456_789,
            remaining: Some(MS(11_200)),
        };
        assert_eq!(
            p.to_string(),
            "1200 of 5000 documents, 3.5 MB, about 12 s left"
        );
        let done = FirstSyncProgress {
            done_docs: 5_000,
            remaining: Some(MS(0)),
            ..p
        };
        assert_eq!(done.to_string(), "5000 of 5000 documents, 3.5 MB");
        assert_eq!(Bytes(999).to_string(), "999 B");
        assert_eq!(Bytes(2_500_000_000).to_string(), "2.5 GB");
        assert_eq!(Seconds(MS(600_000)).to_string(), "10 min");
    }

    #[test]
    fn several_peers_add_up() {
        let mut t = FirstSyncTracker::default();
        t.report("a", 10, 100, MS(0));
        let p = t.report("b", 20, 50, MS(10));
        assert_eq!((p.done_docs, p.total_docs, p.received_bytes), (0, 30, 150));
        let p = t.report("b", 0, 500, MS(20));
        assert_eq!((p.done_docs, p.total_docs, p.received_bytes), (20, 30, 600));
    }
}
