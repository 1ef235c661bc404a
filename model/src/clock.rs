//! Where a store reads the time and draws fresh ids and tokens.
//!
//! A real device uses the system's clock and randomness (the defaults). The
//! in-process simulation (`meshdesk_sync::sim`) gives every store a manual
//! clock it advances step by step and a seeded generator, so one seed
//! replays a run bit for bit: same ids, same change times, same change
//! hashes, same frames.
//!
//! Both live in the [`crate::store::Store`], not in global state: every
//! local write (an op, a device admitted by a sync session, an invite) goes
//! through the device's store, which also stamps each change with its time,
//! so the store is the one place all of them already pass.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ulid::Ulid;

use crate::ids::{Millis, now_ms};

/// A clock a driver sets by hand; clones share the time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(now: Millis) -> Self {
        ManualClock(Arc::new(AtomicI64::new(now)))
    }

    pub fn now(&self) -> Millis {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, now: Millis) {
        self.0.store(now, Ordering::Relaxed);
    }
}

/// What a store reads the time from.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The wall clock.
    #[default]
    System,
    /// A simulated clock.
    Manual(ManualClock),
}

impl Clock {
    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> Millis {
        match self {
            Clock::System => now_ms(),
            Clock::Manual(clock) => clock.now(),
        }
    }
}

/// Where fresh ids and tokens come from.
#[derive(Debug, Default)]
pub enum Entropy {
    /// The operating system's randomness (ULIDs time-stamped by the wall clock).
    #[default]
    System,
    /// A seeded generator: the same seed draws the same values.
    Seeded(Box<Mutex<Seeded>>),
}

/// A seeded generator and the last ULID it made (ids grow, as the
/// process-wide generator's do).
#[derive(Debug)]
pub struct Seeded {
    rng: StdRng,
    last: Ulid,
}

impl Entropy {
    pub fn seeded(seed: u64) -> Self {
        Entropy::Seeded(Box::new(Mutex::new(Seeded {
            rng: StdRng::seed_from_u64(seed),
            last: Ulid::nil(),
        })))
    }

    /// A fresh ULID, greater than the ones made before it; a seeded one
    /// carries `now` as its time.
    pub fn ulid(&self, now: Millis) -> Ulid {
        match self {
            Entropy::System => crate::ids::next_ulid(),
            Entropy::Seeded(seeded) => {
                let mut seeded = lock(seeded);
                let random: u128 = seeded.rng.random();
                let drawn = Ulid::from_parts(u64::try_from(now).unwrap_or(0), random);
                let next = if drawn > seeded.last {
                    drawn
                } else {
                    seeded.last.increment().unwrap_or(drawn)
                };
                seeded.last = next;
                next
            }
        }
    }

    /// 32 fresh random bytes (an invite token).
    pub fn bytes32(&self) -> [u8; 32] {
        match self {
            Entropy::System => rand::random(),
            Entropy::Seeded(seeded) => lock(seeded).rng.random(),
        }
    }
}

/// The generator; one that panicked mid-draw is still a generator.
fn lock(seeded: &Mutex<Seeded>) -> std::sync::MutexGuard<'_, Seeded> {
    seeded.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_draws_the_same_ids_and_tokens() {
        let (a, b) = (Entropy::seeded(9), Entropy::seeded(9));
        let now = 1_750_000_000_123;
        let ids_a: Vec<Ulid> = (0..4).map(|_| a.ulid(now)).collect();
        let ids_b: Vec<Ulid> = (0..4).map(|_| b.ulid(now)).collect();
        assert_eq!(ids_a, ids_b);
        assert_eq!(a.bytes32(), b.bytes32());
        assert!(
            ids_a
                .iter()
                .all(|id| id.timestamp_ms() == 1_750_000_000_123)
        );
        assert_ne!(ids_a[0], ids_a[1]);
        assert_ne!(Entropy::seeded(10).ulid(now), Entropy::seeded(9).ulid(now));
    }

    #[test]
    fn a_manual_clock_reads_what_its_clones_set() {
        let clock = ManualClock::new(5);
        let store_side = Clock::Manual(clock.clone());
        assert_eq!(store_side.now_ms(), 5);
        clock.set(1_000);
        assert_eq!(store_side.now_ms(), 1_000);
    }
}
