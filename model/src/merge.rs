//! Merged contacts: which contact a phonebook entry now stands for.
//!
//! A merge writes only the absorbed contact's own document (`merged_into`,
//! with who and when), so nothing is destroyed and an unmerge clears it.
//! Which contact an entry stands for — its *survivor* — is derived when it
//! is read, from every live contact's `merged_into` (the `contact_merges`
//! projection). That is a function of the documents alone, so every node
//! holding the same documents finds the same survivors, whichever merge was
//! made first or arrived first:
//!
//! - a `merged_into` naming the contact itself, or a contact that is not
//!   live (deleted, or not here yet), counts as no merge: the entry stands
//!   for itself (deleting a survivor brings back what it absorbed);
//! - otherwise the entry follows `merged_into` until a contact that is not
//!   merged: that one is the survivor;
//! - merges made apart may close a cycle (A into B on one node, B into A on
//!   another): the smallest contact id in the cycle is the survivor of every
//!   contact in it and of everything merged into them;
//! - contacts mail intake made for one address (`mail_sender`; two
//!   fetchers apart each made one) are merged into the smallest id among
//!   them without anyone writing it (`sender_merges`), unless their merge
//!   was set or cleared by hand.
//!
//! Every contact has exactly one survivor, and a survivor is its own, so the
//! phonebook (survivors only) holds each customer once on every node.

use std::collections::BTreeMap;

use crate::ids::ContactId;

/// The merges in force: each absorbed contact with its survivor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Merges {
    /// Every contact with a merge in force (its `merged_into` names another
    /// live contact) → where it points.
    edges: BTreeMap<ContactId, ContactId>,
    /// Every contact merged into another → its survivor (never itself).
    survivors: BTreeMap<ContactId, ContactId>,
}

impl Merges {
    /// The merges that `merged_into` fields make, as `(contact, merged_into)`
    /// pairs of live contacts; `live` says whether a named contact is live
    /// (a merge into one that is not counts as none).
    pub fn new(
        merged_into: impl IntoIterator<Item = (ContactId, ContactId)>,
        live: impl Fn(ContactId) -> bool,
    ) -> Merges {
        let edges: BTreeMap<ContactId, ContactId> = merged_into
            .into_iter()
            .filter(|(from, to)| from != to && live(*to))
            .collect();
        let mut resolved: BTreeMap<ContactId, ContactId> = BTreeMap::new();
        for &start in edges.keys() {
            if resolved.contains_key(&start) {
                continue;
            }
            // Walk until a contact already resolved, one not merged, or one
            // already on this walk (a cycle).
            let mut path: Vec<ContactId> = Vec::new();
            let mut at = start;
            let survivor = loop {
                if let Some(s) = resolved.get(&at) {
                    break *s;
                }
                if let Some(n) = path.iter().position(|c| *c == at) {
                    break path[n..].iter().copied().min().unwrap_or(at);
                }
                match edges.get(&at) {
                    Some(next) => {
                        path.push(at);
                        at = *next;
                    }
                    None => break at,
                }
            };
            for c in path {
                resolved.insert(c, survivor);
            }
        }
        let survivors = resolved.into_iter().filter(|(c, s)| c != s).collect();
        Merges { edges, survivors }
    }

    /// The contact `id` stands for: its survivor, or itself.
    pub fn survivor(&self, id: ContactId) -> ContactId {
        self.survivors.get(&id).copied().unwrap_or(id)
    }

    /// Whether `id` is merged into another contact (and so not listed).
    pub fn is_absorbed(&self, id: ContactId) -> bool {
        self.survivors.contains_key(&id)
    }

    /// Every contact merged into another, with its survivor.
    pub fn absorbed(&self) -> impl Iterator<Item = (ContactId, ContactId)> + '_ {
        self.survivors.iter().map(|(c, s)| (*c, *s))
    }

    /// How many contacts are merged into others.
    pub fn absorbed_count(&self) -> usize {
        self.survivors.len()
    }

    /// The contacts merged into `survivor` (through any chain), by id.
    pub fn absorbed_into(&self, survivor: ContactId) -> Vec<ContactId> {
        self.survivors
            .iter()
            .filter(|(_, s)| **s == survivor)
            .map(|(c, _)| *c)
            .collect()
    }

    /// The longest chain of merges that ends at `survivor`: 0 when nothing
    /// is merged into it, 1 when only direct merges are, and so on.
    pub fn chain_below(&self, survivor: ContactId) -> usize {
        self.absorbed_into(survivor)
            .into_iter()
            .map(|c| {
                let mut steps = 0;
                let mut at = c;
                // Every walk from an absorbed contact reaches its survivor
                // within as many steps as there are merges.
                while at != survivor && steps <= self.edges.len() {
                    match self.edges.get(&at) {
                        Some(next) => at = *next,
                        None => break,
                    }
                    steps += 1;
                }
                steps
            })
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids(n: usize) -> Vec<ContactId> {
        let mut ids: Vec<ContactId> = (0..n).map(|_| ContactId::new()).collect();
        ids.sort();
        ids
    }

    #[test]
    fn a_chain_resolves_to_its_end_and_a_dead_target_to_nothing() {
        let c = ids(4);
        let m = Merges::new([(c[0], c[1]), (c[1], c[2])], |_| true);
        assert_eq!(m.survivor(c[0]), c[2]);
        assert_eq!(m.survivor(c[1]), c[2]);
        assert_eq!(m.survivor(c[2]), c[2]);
        assert_eq!(m.absorbed_into(c[2]), vec![c[0], c[1]]);
        assert_eq!(m.chain_below(c[2]), 2);
        assert_eq!(m.chain_below(c[3]), 0);
        // The survivor deleted: what it absorbed stands for itself again.
        let m = Merges::new([(c[0], c[1]), (c[1], c[2])], |id| id != c[2]);
        assert_eq!(m.survivor(c[0]), c[1]);
        assert!(!m.is_absorbed(c[1]));
        // A merge into itself is none.
        let m = Merges::new([(c[3], c[3])], |_| true);
        assert!(!m.is_absorbed(c[3]));
    }

    #[test]
    fn opposite_merges_made_apart_keep_the_smallest_id() {
        let c = ids(3);
        for edges in [
            vec![(c[0], c[1]), (c[1], c[0])],
            vec![(c[1], c[0]), (c[0], c[1])],
        ] {
            let m = Merges::new(edges, |_| true);
            assert_eq!(m.survivor(c[1]), c[0]);
            assert_eq!(m.survivor(c[0]), c[0]);
            assert_eq!(m.absorbed_count(), 1);
        }
        // A longer cycle with a tail into it.
        let m = Merges::new([(c[2], c[1]), (c[1], c[0]), (c[0], c[2])], |_| true);
        assert_eq!(
            c.iter().map(|x| m.survivor(*x)).collect::<Vec<_>>(),
            vec![c[0]; 3]
        );
    }

    proptest! {
        /// Whatever the merges and the order they are found in, every
        /// contact has one survivor, a survivor is its own, and a survivor
        /// is always reached by following the merges (or is the smallest
        /// of a cycle).
        #[test]
        fn any_merges_in_any_order_give_the_same_survivors(
            targets in proptest::collection::vec(proptest::option::of(0usize..8), 8),
            dead in proptest::collection::vec(any::<bool>(), 8),
            seed in any::<u64>(),
        ) {
            let c = ids(8);
            let edges: Vec<(ContactId, ContactId)> = targets
                .iter()
                .enumerate()
                .filter_map(|(from, to)| to.map(|to| (c[from], c[to])))
                .collect();
            let live = |id: ContactId| c.iter().position(|x| *x == id).is_some_and(|n| !dead[n]);
            let one = Merges::new(edges.clone(), live);
            let mut shuffled = edges.clone();
            let mut state = seed;
            for i in (1..shuffled.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (state >> 33) as usize % (i + 1));
            }
            let other = Merges::new(shuffled, live);
            prop_assert_eq!(&one, &other);
            for x in &c {
                let s = one.survivor(*x);
                prop_assert_eq!(one.survivor(s), s);
                prop_assert!(!one.is_absorbed(s));
                prop_assert_eq!(one.is_absorbed(*x), s != *x);
            }
        }
    }
}
