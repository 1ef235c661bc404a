//! An in-memory copy of the `search_text` rows of each scope, loaded on the
//! first search in that scope and kept current after every commit, so a
//! keystroke scans memory instead of walking a redb table.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use redb::{Database, ReadableDatabase};

use super::project::{SCOPE_ACTIVE, SCOPE_CONTACTS, SCOPE_FINALIZED, SCOPE_QUEUED};
use super::tables::SEARCH_TEXT;
use super::{DocChange, StoreResult};
use crate::doc::DocKind;

#[derive(Default)]
pub(crate) struct SearchIndex {
    /// scope → (id → lowercase text); ids are ULIDs, so key order is creation order.
    scopes: Mutex<HashMap<u8, BTreeMap<String, String>>>,
}

impl SearchIndex {
    /// Ids in `scope` whose text contains every word, newest first, at most `limit`.
    pub fn search(
        &self,
        db: &Database,
        scope: u8,
        words: &[String],
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let mut scopes = self
            .scopes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let rows = match scopes.entry(scope) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(slot) => {
                let txn = db.begin_read()?;
                let table = txn.open_table(SEARCH_TEXT)?;
                let mut rows = BTreeMap::new();
                for row in table.range((scope, "")..(scope + 1, ""))? {
                    let (k, v) = row?;
                    rows.insert(k.value().1.to_string(), v.value().to_string());
                }
                slot.insert(rows)
            }
        };
        let finders: Vec<memchr::memmem::Finder<'_>> = words
            .iter()
            .map(|w| memchr::memmem::Finder::new(w.as_bytes()))
            .collect();
        let mut out = Vec::new();
        for (id, text) in rows.iter().rev() {
            if finders.iter().all(|f| f.find(text.as_bytes()).is_some()) {
                out.push(id.clone());
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Brings loaded scopes up to date with what `changes` committed.
    pub fn refresh(&self, db: &Database, changes: &[DocChange]) -> StoreResult<()> {
        let mut scopes = self
            .scopes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if scopes.is_empty() {
            return Ok(());
        }
        let txn = db.begin_read()?;
        let table = txn.open_table(SEARCH_TEXT)?;
        for change in changes {
            let candidates: &[u8] = match change.kind {
                DocKind::Interaction => &[SCOPE_QUEUED, SCOPE_ACTIVE, SCOPE_FINALIZED],
                DocKind::Contact => &[SCOPE_CONTACTS],
                _ => continue,
            };
            let Some((_, id)) = change.doc_id.split_once(':') else {
                continue;
            };
            for scope in candidates {
                let Some(rows) = scopes.get_mut(scope) else {
                    continue;
                };
                match table.get((*scope, id))? {
                    Some(text) => {
                        rows.insert(id.to_string(), text.value().to_string());
                    }
                    None => {
                        rows.remove(id);
                    }
                }
            }
        }
        Ok(())
    }

    /// Forgets everything (projections were rebuilt).
    pub fn clear(&self) {
        self.scopes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }
}
