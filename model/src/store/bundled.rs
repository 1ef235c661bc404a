//! The store's side of bundles ([`crate::bundle`]): the documents to write
//! into one, and importing one's documents through whole-document import,
//! with the same checks as a peer's.

use std::collections::HashSet;

use automerge::ChangeHash;
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use super::tables::*;
use super::whole::Replication;
use super::{
    CATALOG_BUCKETS, DocChange, DocMeta, HeadsDigest, Store, StoreResult, bucket_of, decode,
};
use crate::bounds;
use crate::bundle::BundleDoc;
use crate::doc::{DocId, DocKind};

/// A document larger than this stays out of a bundle (as it would stay out
/// of a whole-document transfer): inflated, it could not be imported anyway.
const MAX_DOC_BYTES: usize = bounds::MAX_INFLATED as usize;
/// Received documents imported in one transaction, at most: no more than a
/// batch of whole documents from a peer holds, so a bundle's import is
/// bounded in memory like one, and small enough that progress is told a
/// few times a second.
const IMPORT_BATCH_BYTES: usize = 2 * 1024 * 1024;

/// What a bundle's export holds.
#[derive(Debug, Default)]
pub struct BundleContents {
    pub docs: Vec<BundleDoc>,
    /// Documents held but left out: malformed or quarantined here, or too large.
    pub left_out: usize,
    /// Documents left out because the device named already holds them.
    pub already_there: usize,
}

/// What importing a bundle did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleImported {
    /// Documents this store did not hold before.
    pub new: usize,
    /// Documents it held that gained changes.
    pub updated: usize,
    /// Documents it already held as they are in the bundle (or more).
    pub unchanged: usize,
    /// Documents refused (nothing of them stored), with the reason.
    pub refused: Vec<(String, String)>,
    /// What changed, for the node to tell its peers and listeners.
    #[serde(skip)]
    pub changes: Vec<DocChange>,
}

impl Store {
    /// The documents for a bundle: every document this store can send
    /// whole, the team's first; with `since_device`, only those that device
    /// may lack (see [`Store::peer_holds`]).
    pub fn bundle_contents(&self, since_device: Option<&str>) -> StoreResult<BundleContents> {
        let mut ids = self.catalog_ids()?;
        ids.sort_by_key(|id| {
            id.parse::<DocId>()
                .map_or(true, |d| d.kind() != DocKind::Team)
        });
        let mut contents = BundleContents::default();
        if let Some(device) = since_device {
            let held_there = self.peer_holds(device, &ids)?;
            let before = ids.len();
            ids.retain(|id| !held_there.contains(id));
            contents.already_there = before - ids.len();
        }
        let raw = self.raw_doc_bytes(&ids, MAX_DOC_BYTES)?;
        contents.left_out = ids.len() - raw.len();
        contents.docs = raw
            .into_iter()
            .map(|d| BundleDoc {
                id: d.doc_id,
                heads: d.heads.iter().map(|h| h.0).collect(),
                sealed: d.bytes,
            })
            .collect();
        Ok(contents)
    }

    /// Records the catalog bucket digests `peer` sent (it asks for ours with
    /// them at every catalog round). Not fsynced: a lost record only makes
    /// a `--since-device` bundle larger.
    pub fn remember_peer_catalog(
        &mut self,
        peer: &str,
        digests: &[HeadsDigest],
    ) -> StoreResult<()> {
        if digests.len() != usize::from(CATALOG_BUCKETS) {
            return Ok(());
        }
        let mut txn = self.db.begin_write()?;
        if let Err(e) = txn.set_durability(redb::Durability::None) {
            tracing::debug!(%e, "a peer's catalog committed durably");
        }
        txn.open_table(PEER_CATALOGS)?
            .insert(peer, digests.concat().as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// The buckets whose documents `device` held exactly as this store
    /// holds them now, by the catalog it last sent.
    fn buckets_held_by(&self, device: &str) -> StoreResult<HashSet<u16>> {
        let mut held = HashSet::new();
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(PEER_CATALOGS) {
            Ok(table) => table,
            // A store from before bundles has no such table until a peer's
            // catalog is recorded.
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(held),
            Err(e) => return Err(e.into()),
        };
        let Some(theirs) = table.get(device)? else {
            return Ok(held);
        };
        let theirs = theirs.value();
        if theirs.len() != usize::from(CATALOG_BUCKETS) * 32 {
            return Ok(held);
        }
        for (bucket, ours) in self.catalog_digests()?.iter().enumerate() {
            if theirs[bucket * 32..(bucket + 1) * 32] == ours[..] {
                held.insert(u16::try_from(bucket).unwrap_or(u16::MAX));
            }
        }
        Ok(held)
    }

    /// Which of `ids` `device` is known to hold at this store's heads: the
    /// document's catalog bucket was the same on both sides in the catalog
    /// the device last sent (so nothing in it changed here since), or the
    /// sync state kept with the device for the document (what the two last
    /// shared, written when they synced it or this store sent it whole)
    /// covers every head this store has. Anything else counts as lacking
    /// there: a bundle may carry more than needed, never less.
    pub fn peer_holds(&self, device: &str, ids: &[String]) -> StoreResult<HashSet<String>> {
        let same_buckets = self.buckets_held_by(device)?;
        let txn = self.db.begin_read()?;
        let meta_table = txn.open_table(DOC_META)?;
        let states = txn.open_table(SYNC_STATE)?;
        let mut held = HashSet::new();
        for id in ids {
            if same_buckets.contains(&bucket_of(id)) {
                held.insert(id.clone());
                continue;
            }
            let Some(meta) = meta_table.get(id.as_str())? else {
                continue;
            };
            let meta: DocMeta = decode("doc_meta", meta.value())?;
            let shared = match self.sync_states.get(&(device.to_string(), id.clone())) {
                Some(state) => state.shared_heads.clone(),
                None => match states.get((device, id.as_str()))? {
                    Some(v) => automerge::sync::State::decode(v.value())
                        .map(|s| s.shared_heads)
                        .unwrap_or_default(),
                    None => continue,
                },
            };
            if meta.heads.iter().all(|h| shared.contains(&ChangeHash(*h))) {
                held.insert(id.clone());
            }
        }
        Ok(held)
    }

    /// Imports a bundle's documents exactly as whole documents from a peer
    /// are imported (seals, roster, write rules, bounds), in transactions
    /// of a bounded size, the team's document first.
    pub fn import_bundle(&mut self, docs: Vec<BundleDoc>) -> StoreResult<BundleImported> {
        self.import_bundle_reporting(docs, |_, _| {})
    }

    /// [`Store::import_bundle`], telling `progress` (documents done, of all)
    /// after each transaction.
    pub fn import_bundle_reporting(
        &mut self,
        docs: Vec<BundleDoc>,
        mut progress: impl FnMut(usize, usize),
    ) -> StoreResult<BundleImported> {
        let held = {
            let txn = self.db.begin_read()?;
            let meta = txn.open_table(DOC_META)?;
            let mut held = HashSet::new();
            for doc in &docs {
                if meta.get(doc.id.as_str())?.is_some() {
                    held.insert(doc.id.clone());
                }
            }
            held
        };
        let mut docs = docs;
        docs.sort_by_key(|d| {
            d.id.parse::<DocId>()
                .map_or(true, |id| id.kind() != DocKind::Team)
        });
        let total = docs.len();
        let mut result = BundleImported::default();
        let mut batch = Vec::new();
        let mut batch_bytes = 0usize;
        let mut done = 0usize;
        progress(done, total);
        let mut docs = docs.into_iter().peekable();
        while let Some(doc) = docs.next() {
            batch_bytes += doc.sealed.len();
            let is_team = doc.id.starts_with("team:");
            batch.push((doc.id, doc.sealed));
            // The team's document lands alone first: its roster judges the rest.
            let full = batch_bytes >= IMPORT_BATCH_BYTES || is_team;
            if full || docs.peek().is_none() {
                done += batch.len();
                let imported = self.import_whole(None, std::mem::take(&mut batch))?;
                batch_bytes = 0;
                progress(done, total);
                result.refused.extend(imported.refused);
                result
                    .refused
                    .extend(imported.deferred.into_iter().map(|d| {
                        (
                            d,
                            "this device holds no team roster yet to judge it by".to_string(),
                        )
                    }));
                result.changes.extend(imported.changes);
            }
        }
        let mut changed = HashSet::new();
        for change in &result.changes {
            let id = change.doc_id.to_string();
            if changed.insert(id.clone()) {
                if held.contains(&id) {
                    result.updated += 1;
                } else {
                    result.new += 1;
                }
            }
        }
        let refused: HashSet<&str> = result.refused.iter().map(|(d, _)| d.as_str()).collect();
        result.unchanged = total.saturating_sub(changed.len() + refused.len());
        Ok(result)
    }

    /// Every document id in the catalog.
    pub(super) fn catalog_ids(&self) -> StoreResult<Vec<String>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CATALOG)?;
        let mut ids = Vec::new();
        for row in table.iter()? {
            let (k, _) = row?;
            ids.push(k.value().1.to_string());
        }
        Ok(ids)
    }
}
