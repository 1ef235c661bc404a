//! Counted slots: at most `max` holders per key at once (connections per
//! client address, WebSockets per visitor), each released when its guard is
//! dropped. And the per-interaction message budget of the gateways.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// How many holders each key has now.
#[derive(Debug)]
pub struct Slots<K: Eq + Hash> {
    max: usize,
    held: Mutex<HashMap<K, usize>>,
}

/// One slot of one key, given back on drop.
#[derive(Debug)]
pub struct Slot<K: Eq + Hash> {
    key: K,
    slots: Arc<Slots<K>>,
}

impl<K: Eq + Hash + Clone> Slots<K> {
    /// At most `max` holders per key (at least one).
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Slots {
            max: max.max(1),
            held: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for `key`, or `None` when it already has `max`.
    pub fn take(self: &Arc<Self>, key: K) -> Option<Slot<K>> {
        let mut held = self.held.lock().ok()?;
        let count = held.entry(key.clone()).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot {
            key,
            slots: self.clone(),
        })
    }

    /// How many slots `key` holds now.
    pub fn held(&self, key: &K) -> usize {
        self.held
            .lock()
            .map(|h| h.get(key).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

impl<K: Eq + Hash> Drop for Slot<K> {
    fn drop(&mut self) {
        if let Ok(mut held) = self.slots.held.lock()
            && let Some(count) = held.get_mut(&self.key)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// How many interactions' counts are kept before the cache starts over
/// (each is re-read from the node at its next message).
const BUDGET_CACHE: usize = 10_000;

/// Customer messages per interaction, as far as this gateway knows: read
/// from the interaction on first sight, then counted as the gateway adds
/// them, so the cap costs one read per interaction, not one per message.
#[derive(Debug)]
pub struct MessageBudget<K: Eq + Hash> {
    max: usize,
    counts: Mutex<HashMap<K, usize>>,
}

impl<K: Eq + Hash + Clone> MessageBudget<K> {
    pub fn new(max: usize) -> Self {
        MessageBudget {
            max,
            counts: Mutex::new(HashMap::new()),
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// The count known for `key`, if any.
    pub fn known(&self, key: &K) -> Option<usize> {
        self.counts.lock().ok()?.get(key).copied()
    }

    /// Records the count read from the node for `key` (unless one is known).
    pub fn learn(&self, key: K, count: usize) -> usize {
        let Ok(mut counts) = self.counts.lock() else {
            return count;
        };
        if counts.len() >= BUDGET_CACHE && !counts.contains_key(&key) {
            counts.clear();
        }
        *counts.entry(key).or_insert(count)
    }

    /// Counts one more message added to `key`.
    pub fn spend(&self, key: &K) {
        if let Ok(mut counts) = self.counts.lock()
            && let Some(count) = counts.get_mut(key)
        {
            *count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_key_and_given_back() {
        let slots = Slots::new(2);
        let a1 = slots.take("a").expect("first");
        let _a2 = slots.take("a").expect("second");
        assert!(slots.take("a").is_none(), "a third is refused");
        let _b = slots.take("b").expect("keys are independent");
        drop(a1);
        assert_eq!(slots.held(&"a"), 1);
        assert!(slots.take("a").is_some(), "a freed slot is taken again");
    }

    #[test]
    fn the_budget_counts_from_what_was_read() {
        let budget = MessageBudget::new(3);
        assert_eq!(budget.known(&1), None);
        assert_eq!(budget.learn(1, 2), 2);
        assert_eq!(budget.learn(1, 0), 2, "a known count is kept");
        budget.spend(&1);
        assert_eq!(budget.known(&1), Some(3));
    }
}
