//! Whole-document transfer: the first sync of documents a peer lacks
//! entirely. The holder sends each document's stored bytes as they are
//! ([`Store::raw_doc_bytes`], no Automerge parsing); the receiver loads each
//! once, validates it, keeps the received bytes as its snapshot and projects
//! it, all in one transaction ([`Store::import_docs`]). Both sides then hold
//! the sync state a finished Automerge exchange would leave, so later edits
//! travel incrementally on the per-document sync path.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use automerge::sync::{BloomFilter, Capability, Have, State, SyncDoc};
use automerge::{ActorId, AutoCommit, ChangeHash, ReadDoc};
use redb::{ReadableDatabase, ReadableTable};

use super::tables::*;
use super::{
    CATALOG_BUCKETS, CachedDoc, DocChange, DocMeta, HeadsDigest, Received, Refusals, Store,
    StoreError, StoreResult, admit, decode, encode, heads_digest, in_order, project, seals_record,
    settles, stored_bytes, stored_seals, untrusted,
};
use crate::authorship::{Seal, Sealed};
use crate::bounds;
use crate::doc::{DocError, DocId, DocKind};
use crate::ids::TeamId;
use crate::rules::SealBook;
use crate::types::Team;

/// A stored document as it is on disk (its snapshot and chunks,
/// concatenated), sealed by its writers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawDoc {
    pub doc_id: String,
    /// A [`Sealed`] payload.
    pub bytes: Vec<u8>,
    /// The heads those bytes hold.
    pub heads: Vec<ChangeHash>,
}

/// The sync state of two sides that both hold `heads`, as a finished
/// exchange leaves it: the next local change is sent at once, on its own.
fn settled_state(heads: &[ChangeHash]) -> State {
    let mut heads = heads.to_vec();
    heads.sort();
    State {
        shared_heads: heads.clone(),
        last_sent_heads: heads.clone(),
        their_heads: Some(heads.clone()),
        their_need: Some(Vec::new()),
        their_have: Some(vec![Have {
            last_sync: heads,
            bloom: BloomFilter::default(),
        }]),
        have_responded: true,
        their_capabilities: Some(vec![Capability::MessageV2, Capability::SyncReset]),
        ..State::default()
    }
}

/// The id a document names itself by (kinds with a random id keep it at the
/// root), when it names one that is not `doc_id`'s. Ids compare parsed, as
/// the projection reads them (case and padding do not make another id).
fn foreign_id(doc_id: &DocId, doc: &AutoCommit) -> Option<String> {
    fn same<T: std::str::FromStr + PartialEq>(named: &str, own: &T) -> bool {
        named.trim().parse::<T>().is_ok_and(|n| n == *own)
    }
    let named = match doc.get(automerge::ROOT, "id") {
        Ok(Some((automerge::Value::Scalar(s), _))) => match s.as_ref() {
            automerge::ScalarValue::Str(named) => named.to_string(),
            _ => return None,
        },
        _ => return None,
    };
    let ours = match doc_id {
        DocId::Team(id) => same(&named, id),
        DocId::Agent(id) => same(&named, id),
        DocId::Interaction(id) => same(&named, id),
        DocId::Contact(id) => same(&named, id),
        DocId::Room { .. } => true,
    };
    (!ours).then_some(named)
}

/// What whole documents did to the store.
#[derive(Debug, Default)]
pub struct Imported {
    pub changes: Vec<DocChange>,
    /// Documents the write rules refused (nothing of them stored), with the reason.
    pub refused: Vec<(String, String)>,
    /// Documents that cannot be judged yet (no team roster has arrived):
    /// nothing of them stored; ask for them again.
    pub deferred: Vec<String>,
}

/// Who may write, as the received documents are judged.
#[derive(Clone, Copy)]
struct Judge<'a> {
    roster: Option<&'a Team>,
    own_team: Option<TeamId>,
}

/// A received document, loaded, checked against the write rules and read
/// for its projection; or the reason the rules refused it.
struct Prepared {
    key: String,
    doc_id: DocId,
    bytes: Vec<u8>,
    /// The loaded document, kept only when this store holds one to merge
    /// it into: a fresh one is stored as received and dropped where it was
    /// loaded.
    doc: Option<AutoCommit>,
    heads: Vec<ChangeHash>,
    seals: SealBook,
    row: Result<project::Row, DocError>,
    refused: Option<String>,
}

/// Takes into `book` each seal of `received` that covers a newer change of
/// its writer than the one `book` holds.
fn merge_seals(doc: &mut AutoCommit, book: &mut SealBook, received: SealBook) {
    for (actor, seal) in received {
        let newer = match book.get(&actor) {
            None => true,
            Some(held) => {
                let seq = |d: &mut AutoCommit, h| d.get_change_meta_by_hash(&h).map(|m| m.seq);
                seq(doc, seal.change()) > seq(doc, held.change())
            }
        };
        if newer {
            book.insert(actor, seal);
        }
    }
}

fn bad_data(doc: &str, reason: String) -> StoreError {
    StoreError::BadDocData {
        doc: doc.to_string(),
        reason,
    }
}

fn prepare(
    key: String,
    sealed: Vec<u8>,
    actor: &ActorId,
    judge: Judge<'_>,
    batch: &BatchInflation,
    held: &HashSet<String>,
) -> StoreResult<Prepared> {
    let doc_id: DocId = key.parse().map_err(|_| StoreError::BadDocId(key.clone()))?;
    let Sealed {
        seals: incoming,
        bytes,
    } = Sealed::decode(&sealed).map_err(|e| bad_data(&key, e.to_string()))?;
    batch.check(&key, &bytes)?;
    // Loading and reading are the work on bytes from a peer: both guarded.
    let loaded = untrusted(|| {
        let doc = AutoCommit::load(&bytes)?.with_actor(actor.clone());
        let row = project::read_row(&doc_id, &doc);
        Ok::<_, automerge::AutomergeError>((doc, row))
    });
    let (mut doc, row) = loaded
        .map_err(|reason| bad_data(&key, reason))?
        .map_err(|e| bad_data(&key, e.to_string()))?;
    if doc.get_heads().is_empty() {
        return Err(bad_data(&key, "an empty document".into()));
    }
    if let Some(named) = foreign_id(&doc_id, &doc) {
        return Err(bad_data(&key, format!("the document is {named}'s")));
    }
    // Every change of the document is judged, whatever this store holds:
    // a whole document is admitted or refused as a whole.
    let mut cached = CachedDoc {
        doc,
        persisted: Vec::new(),
        seals: SealBook::new(),
    };
    let refused = admit(
        &doc_id,
        &mut cached,
        &incoming,
        judge.roster,
        judge.own_team,
    )
    .err();
    let heads = cached.doc.get_heads();
    let doc = held.contains(&key).then_some(cached.doc);
    Ok(Prepared {
        key,
        doc_id,
        bytes,
        doc,
        heads,
        seals: cached.seals,
        row,
        refused,
    })
}

/// What an imported document leaves to do once its transaction commits.
enum Kept {
    /// Stored as received: the sync state the peer and this store share.
    Fresh { key: String, heads: Vec<ChangeHash> },
    /// Merged into the held one: that one, to cache again.
    Merged { key: String, cached: Box<CachedDoc> },
}

/// [`prepare`]s every document on [`in_order::THREADS`] threads and hands
/// each to `take` on this thread, in order, as soon as it and those before
/// it are ready: the writing overlaps the loading.
fn prepare_streaming(
    docs: Vec<(String, Vec<u8>)>,
    actor: &ActorId,
    judge: Judge<'_>,
    batch: &BatchInflation,
    held: &HashSet<String>,
    mut take: impl FnMut(Prepared) -> StoreResult<()>,
) -> StoreResult<()> {
    if docs.len() < 2 * in_order::THREADS {
        for (key, bytes) in docs {
            take(prepare(key, bytes, actor, judge, batch, held)?)?;
        }
        return Ok(());
    }
    in_order::in_order(
        docs,
        |(key, bytes)| prepare(key, bytes, actor, judge, batch, held),
        |prepared| take(prepared?),
    )
}

/// What a batch of received documents inflates to, counted by the threads
/// that load them: each document is checked, and the batch in all, before
/// Automerge allocates anything for it.
#[derive(Default)]
struct BatchInflation(AtomicU64);

impl BatchInflation {
    fn check(&self, key: &str, bytes: &[u8]) -> StoreResult<()> {
        let oversized = |source| StoreError::Oversized {
            doc: key.to_string(),
            source,
        };
        let inflated = crate::bounds::check_document(bytes).map_err(oversized)?;
        let mut total = self.0.fetch_add(inflated, Ordering::Relaxed);
        crate::bounds::add_to_batch(&mut total, inflated).map_err(oversized)
    }
}

impl Store {
    /// Writes one prepared document into `txn`: refused, stored fresh with
    /// the received bytes as its snapshot, or merged into the one held.
    /// `kept`: what to note once `txn` commits.
    fn write_prepared(
        &mut self,
        txn: &redb::WriteTransaction,
        peer: Option<&str>,
        prepared: Prepared,
        imported: &mut Imported,
        kept: &mut Vec<Kept>,
    ) -> StoreResult<()> {
        let Prepared {
            key,
            doc_id,
            bytes,
            doc,
            heads,
            seals,
            row,
            refused,
        } = prepared;
        if let Some(reason) = refused {
            tracing::warn!(doc = %key, %reason, "whole document refused by the write rules");
            imported.refused.push((key, reason));
            return Ok(());
        }
        let held = match self.take_doc(&key) {
            Err(StoreError::Quarantined { reason, .. }) => {
                imported
                    .refused
                    .push((key, format!("quarantined here: {reason}")));
                return Ok(());
            }
            other => other?,
        };
        if let Some(mut cached) = held {
            // Loaded documents are kept for those held when the batch began.
            let Some(mut doc) = doc else {
                return Err(bad_data(&key, "held but not loaded to merge".into()));
            };
            cached
                .doc
                .merge(&mut doc)
                .map_err(|e| bad_data(&key, e.to_string()))?;
            merge_seals(&mut cached.doc, &mut cached.seals, seals);
            if self.persist(txn, &key, &doc_id, &mut cached)? {
                imported.changes.push(DocChange::of(doc_id.clone()));
            }
            kept.push(Kept::Merged {
                key,
                cached: Box::new(cached),
            });
            return Ok(());
        }
        let meta = DocMeta {
            heads: heads.iter().map(|h| h.0).collect(),
            digest: heads_digest(&heads),
            updated_at: self.now_ms(),
            snapshot_bytes: bytes.len() as u64,
            chunk_bytes: 0,
            next_seq: 0,
        };
        txn.open_table(DOC_SNAPSHOT)?
            .insert(key.as_str(), bytes.as_slice())?;
        txn.open_table(DOC_SEALS)?
            .insert(key.as_str(), seals_record(&seals).as_slice())?;
        txn.open_table(DOC_META)?
            .insert(key.as_str(), encode(&meta).as_slice())?;
        // A bundle is no peer to keep a sync state with.
        if let Some(peer) = peer {
            txn.open_table(SYNC_STATE)?.insert(
                (peer, key.as_str()),
                settled_state(&heads).encode().as_slice(),
            )?;
        }
        self.update_catalog(txn, &key, None, meta.digest)?;
        project::write_projection(txn, &doc_id, row)?;
        imported.changes.push(DocChange::of(doc_id.clone()));
        kept.push(Kept::Fresh { key, heads });
        Ok(())
    }

    /// Which of `keys` this store holds.
    fn held_among<'k>(&self, keys: impl Iterator<Item = &'k str>) -> StoreResult<HashSet<String>> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(DOC_META)?;
        let mut held = HashSet::new();
        for key in keys {
            if meta.get(key)?.is_some() {
                held.insert(key.to_string());
            }
        }
        Ok(held)
    }
}

/// What sync needs of a store, and nothing else: catalogs to compare,
/// Automerge sync messages per peer and document, whole documents for a
/// first sync, and forgetting a peer's state. Every document that arrives
/// this way is checked (seal, write rules, bounds) before it is stored.
pub trait Replication {
    /// The digest of every catalog bucket, in bucket order.
    fn catalog_digests(&self) -> StoreResult<Vec<HeadsDigest>>;

    /// The documents of one bucket with their heads digests.
    fn catalog_bucket(&self, bucket: u16) -> StoreResult<Vec<(String, HeadsDigest)>>;

    /// The next Automerge sync message for `doc_id` to `peer`, if there is anything to say.
    /// An unknown document answers with an empty-document message, which asks the peer for it.
    fn generate_sync_message(&mut self, peer: &str, doc_id: &str) -> StoreResult<Option<Vec<u8>>>;

    /// The answer to a sync message for `doc_id` from `peer` that announced
    /// the heads `announced`, if there is anything to say. `None` also when a
    /// reply would only tell the peer what it just told us (our heads equal
    /// the ones it announced, and we neither send changes nor need any): the
    /// exchange then ends a round trip earlier (the usual case when a
    /// document arrives whole). Automerge's state still counts the reply as
    /// sent, which only makes it include the next change in the next message
    /// it generates, as it would anyway.
    fn sync_reply(
        &mut self,
        peer: &str,
        doc_id: &str,
        announced: Option<&[ChangeHash]>,
    ) -> StoreResult<Option<Vec<u8>>>;

    /// Applies a batch of sync messages from `peer` in one durable transaction.
    /// A malformed message fails the batch before anything is written.
    fn receive_sync_messages(
        &mut self,
        peer: &str,
        messages: &[(String, Vec<u8>)],
    ) -> StoreResult<Received>;

    /// Forgets the in-memory sync states of a peer (on disconnect); the
    /// persisted ones let the next session resume from shared heads.
    fn forget_peer(&mut self, peer: &str);

    /// Forgets the in-memory sync state of one document with a peer: the
    /// next message starts from the shared heads persisted for it.
    fn forget_sync_state(&mut self, peer: &str, doc_id: &str);

    /// The stored bytes of the documents in `ids` that can be sent whole,
    /// read in one transaction and not parsed. Left out: documents not
    /// stored, recorded as malformed (those go the per-document sync path,
    /// where the receiver records them as malformed too), or larger than
    /// `max_bytes`.
    fn raw_doc_bytes(&self, ids: &[String], max_bytes: usize) -> StoreResult<Vec<RawDoc>>;

    /// Records that `peer` now holds these documents at these heads (they
    /// were sent to it whole). Not fsynced on its own: a lost state only
    /// makes the next exchange start from further back.
    fn mark_delivered(&mut self, peer: &str, docs: &[(String, Vec<ChangeHash>)])
    -> StoreResult<()>;

    /// Stores whole documents received from `peer` in one durable
    /// transaction. Each is loaded once and checked; a document this store
    /// lacks keeps the received bytes as its snapshot, one it holds already
    /// gets them merged in. Undecodable bytes, a document or batch that
    /// would inflate past its bound, an empty document or one that names
    /// itself by another id fail the whole batch and nothing of it is
    /// written. Content the model cannot read is stored and recorded as
    /// malformed, as on the per-document sync path. Loading, judging and
    /// reading run on up to [`in_order::THREADS`] threads while this one writes
    /// what they have prepared, in order, into the transaction. A document
    /// named twice in a batch has its repeat merged in a second transaction.
    fn import_docs(&mut self, peer: &str, docs: Vec<(String, Vec<u8>)>) -> StoreResult<Imported>;
}

impl Replication for Store {
    fn catalog_digests(&self) -> StoreResult<Vec<HeadsDigest>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CATALOG_DIGEST)?;
        let mut out = vec![[0u8; 32]; usize::from(CATALOG_BUCKETS)];
        for row in table.iter()? {
            let (k, v) = row?;
            if let (Some(slot), true) = (out.get_mut(usize::from(k.value())), v.value().len() == 32)
            {
                slot.copy_from_slice(v.value());
            }
        }
        Ok(out)
    }

    fn catalog_bucket(&self, bucket: u16) -> StoreResult<Vec<(String, HeadsDigest)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CATALOG)?;
        let mut out = Vec::new();
        for row in table.range((bucket, "")..(bucket.saturating_add(1), ""))? {
            let (k, v) = row?;
            let (b, doc) = k.value();
            if b != bucket {
                continue;
            }
            let mut digest = [0u8; 32];
            if v.value().len() == 32 {
                digest.copy_from_slice(v.value());
            }
            out.push((doc.to_string(), digest));
        }
        Ok(out)
    }

    fn generate_sync_message(&mut self, peer: &str, doc_id: &str) -> StoreResult<Option<Vec<u8>>> {
        self.sync_reply(peer, doc_id, None)
    }

    fn sync_reply(
        &mut self,
        peer: &str,
        doc_id: &str,
        announced: Option<&[ChangeHash]>,
    ) -> StoreResult<Option<Vec<u8>>> {
        doc_id
            .parse::<DocId>()
            .map_err(|_| StoreError::BadDocId(doc_id.to_string()))?;
        // A quarantined document is never offered to peers.
        if self.quarantined.contains_key(doc_id) {
            return Ok(None);
        }
        let mut state = self.sync_state(peer, doc_id)?;
        let stored = match self.take_doc(doc_id) {
            Err(StoreError::Quarantined { .. }) => return Ok(None),
            other => other?,
        };
        let (message, seals) = match stored {
            Some(mut cached) => {
                let msg = cached.doc.sync().generate_sync_message(&mut state);
                let seals = cached.seals.values().cloned().collect();
                self.put_back(doc_id.to_string(), cached);
                (msg, seals)
            }
            None => (
                AutoCommit::new().sync().generate_sync_message(&mut state),
                Vec::new(),
            ),
        };
        self.sync_states
            .insert((peer.to_string(), doc_id.to_string()), state);
        Ok(message
            .filter(|m| !announced.is_some_and(|heads| settles(m, heads)))
            .map(|m| {
                // The seals of the document's writers travel with its changes.
                let seals = if m.changes.is_empty() {
                    Vec::new()
                } else {
                    seals
                };
                Sealed {
                    seals,
                    bytes: m.encode(),
                }
                .encode()
            }))
    }

    fn receive_sync_messages(
        &mut self,
        peer: &str,
        messages: &[(String, Vec<u8>)],
    ) -> StoreResult<Received> {
        let mut touched: Vec<(String, DocId, CachedDoc)> = Vec::new();
        let mut position: HashMap<String, usize> = HashMap::new();
        let mut states: HashMap<String, automerge::sync::State> = HashMap::new();
        let mut announced = HashMap::new();
        let mut incoming: HashMap<String, Vec<Seal>> = HashMap::new();
        let mut quarantined: Refusals = Vec::new();
        // Every message is decoded and checked before Automerge allocates
        // anything for any of them: the batch is held in memory until it
        // commits, so its total is bounded too.
        let mut inflated_total = 0u64;
        let mut decoded = Vec::with_capacity(messages.len());
        for (doc_id, bytes) in messages {
            let parsed: DocId = doc_id
                .parse()
                .map_err(|_| StoreError::BadDocId(doc_id.clone()))?;
            let sealed = Sealed::decode(bytes).map_err(|e| StoreError::BadSyncMessage {
                doc: doc_id.clone(),
                reason: e.to_string(),
            })?;
            bounds::check_sync_message(&sealed.bytes)
                .and_then(|inflated| bounds::add_to_batch(&mut inflated_total, inflated))
                .map_err(|source| StoreError::Oversized {
                    doc: doc_id.clone(),
                    source,
                })?;
            decoded.push((doc_id, parsed, sealed));
        }
        for (doc_id, parsed, sealed) in decoded {
            let bad = |reason: String| StoreError::BadSyncMessage {
                doc: doc_id.clone(),
                reason,
            };
            if let Some(reason) = self.quarantine_reason(doc_id) {
                if !quarantined.iter().any(|(d, _)| d == doc_id) {
                    quarantined.push((doc_id.clone(), format!("quarantined here: {reason}")));
                }
                continue;
            }
            let message = untrusted(|| automerge::sync::Message::decode(&sealed.bytes))
                .map_err(bad)?
                .map_err(|e| bad(e.to_string()))?;
            incoming
                .entry(doc_id.clone())
                .or_default()
                .extend(sealed.seals);
            let heads = message.heads.clone();
            let index = match position.get(doc_id) {
                Some(&i) => i,
                None => {
                    let cached = match self.take_doc(doc_id) {
                        Ok(Some(c)) => c,
                        Ok(None) => CachedDoc::new(&self.actor),
                        Err(StoreError::Quarantined { reason, .. }) => {
                            quarantined
                                .push((doc_id.clone(), format!("quarantined here: {reason}")));
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    touched.push((doc_id.clone(), parsed, cached));
                    position.insert(doc_id.clone(), touched.len() - 1);
                    touched.len() - 1
                }
            };
            let mut state = match states.remove(doc_id) {
                Some(state) => state,
                None => self.sync_state(peer, doc_id)?,
            };
            let doc = &mut touched[index].2.doc;
            untrusted(|| doc.sync().receive_sync_message(&mut state, message))
                .map_err(bad)?
                .map_err(|e| bad(e.to_string()))?;
            states.insert(doc_id.clone(), state);
            announced.insert(doc_id.clone(), heads);
        }
        // Only what the write rules admit is stored; a refused document
        // keeps what it had (its copy and sync state here are dropped).
        let (mut refused, deferred) = self.admit_all(&mut touched, &incoming)?;
        refused.extend(quarantined);
        for doc_id in refused.iter().map(|(d, _)| d).chain(&deferred) {
            states.remove(doc_id);
            self.sync_states.remove(&(peer.to_string(), doc_id.clone()));
        }
        let txn = self.db.begin_write()?;
        let mut changes = Vec::new();
        for (key, doc_id, cached) in touched.iter_mut() {
            if self.persist(&txn, key, doc_id, cached)? {
                changes.push(DocChange::of(doc_id.clone()));
            }
        }
        {
            let mut table = txn.open_table(SYNC_STATE)?;
            for (doc_id, state) in &states {
                table.insert((peer, doc_id.as_str()), state.encode().as_slice())?;
            }
        }
        txn.commit()?;
        for (doc_id, state) in states {
            self.sync_states.insert((peer.to_string(), doc_id), state);
        }
        for (key, _, cached) in touched {
            if !cached.persisted.is_empty() {
                self.put_back(key, cached);
            }
        }
        self.search.refresh(&self.db, &changes)?;
        Ok(Received {
            changes,
            announced,
            refused,
            deferred,
        })
    }

    fn forget_peer(&mut self, peer: &str) {
        self.sync_states.retain(|(p, _), _| p != peer);
    }

    fn forget_sync_state(&mut self, peer: &str, doc_id: &str) {
        self.sync_states
            .remove(&(peer.to_string(), doc_id.to_string()));
    }

    fn raw_doc_bytes(&self, ids: &[String], max_bytes: usize) -> StoreResult<Vec<RawDoc>> {
        let txn = self.db.begin_read()?;
        let meta_table = txn.open_table(DOC_META)?;
        let snapshots = txn.open_table(DOC_SNAPSHOT)?;
        let chunks = txn.open_table(DOC_CHUNK)?;
        let malformed = txn.open_table(MALFORMED)?;
        let seal_table = txn.open_table(DOC_SEALS)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let key = id.as_str();
            let Some(meta) = meta_table.get(key)? else {
                continue;
            };
            let meta: DocMeta = decode("doc_meta", meta.value())?;
            let size = meta.snapshot_bytes.saturating_add(meta.chunk_bytes);
            if size > max_bytes as u64 || malformed.get(key)?.is_some() {
                continue;
            }
            let capacity = usize::try_from(size).unwrap_or(0);
            let bytes = stored_bytes(&snapshots, &chunks, key, capacity)?;
            if bytes.is_empty() {
                continue;
            }
            let seals = stored_seals(&seal_table, key)?;
            let bytes = Sealed { seals, bytes }.encode();
            if bytes.len() > max_bytes {
                continue;
            }
            out.push(RawDoc {
                doc_id: id.clone(),
                bytes,
                heads: meta.heads.iter().map(|h| ChangeHash(*h)).collect(),
            });
        }
        Ok(out)
    }

    fn mark_delivered(
        &mut self,
        peer: &str,
        docs: &[(String, Vec<ChangeHash>)],
    ) -> StoreResult<()> {
        if docs.is_empty() {
            return Ok(());
        }
        let mut txn = self.db.begin_write()?;
        if let Err(e) = txn.set_durability(redb::Durability::None) {
            tracing::debug!(%e, "sync states committed durably");
        }
        let mut states = Vec::with_capacity(docs.len());
        {
            let mut table = txn.open_table(SYNC_STATE)?;
            for (doc_id, heads) in docs {
                let state = settled_state(heads);
                table.insert((peer, doc_id.as_str()), state.encode().as_slice())?;
                states.push((doc_id.clone(), state));
            }
        }
        txn.commit()?;
        for (doc_id, state) in states {
            self.sync_states.insert((peer.to_string(), doc_id), state);
        }
        Ok(())
    }

    fn import_docs(&mut self, peer: &str, docs: Vec<(String, Vec<u8>)>) -> StoreResult<Imported> {
        self.import_whole(Some(peer), docs)
    }
}

impl Store {
    /// [`Replication::import_docs`], from `peer` or (`None`) from a bundle,
    /// which leaves no sync state behind.
    pub(super) fn import_whole(
        &mut self,
        peer: Option<&str>,
        docs: Vec<(String, Vec<u8>)>,
    ) -> StoreResult<Imported> {
        // The team's document first: its roster judges the others.
        let (own_team, mut roster) = self.trust_context()?;
        let mut imported = Imported::default();
        // A quarantined document is not touched by sync.
        let mut seen = HashSet::new();
        let mut repeats = Vec::new();
        let mut teams = Vec::new();
        let mut others = Vec::new();
        for (key, bytes) in docs {
            if let Some(reason) = self.quarantine_reason(&key) {
                let reason = format!("quarantined here: {reason}");
                imported.refused.push((key, reason));
            } else if !seen.insert(key.clone()) {
                repeats.push((key, bytes));
            } else if key
                .parse::<DocId>()
                .is_ok_and(|d| d.kind() == DocKind::Team)
            {
                teams.push((key, bytes));
            } else {
                others.push((key, bytes));
            }
        }
        // In key order: each table's pages then fill one after another
        // instead of every document touching pages all over each tree.
        others.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let batch = BatchInflation::default();
        let held = self.held_among(teams.iter().chain(&others).map(|(key, _)| key.as_str()))?;
        let txn = self.db.begin_write()?;
        let mut kept = Vec::new();
        for (key, bytes) in teams {
            let judge = Judge {
                roster: roster.as_ref(),
                own_team,
            };
            let p = prepare(key, bytes, &self.actor, judge, &batch, &held)?;
            if p.refused.is_none()
                && let Ok(project::Row::Team(team)) = &p.row
            {
                roster = Some(team.clone());
            }
            self.write_prepared(&txn, peer, p, &mut imported, &mut kept)?;
        }
        // Before the team's roster is here nothing else can be judged.
        if roster.is_none() {
            imported
                .deferred
                .extend(others.drain(..).map(|(key, _)| key));
        }
        let judge = Judge {
            roster: roster.as_ref(),
            own_team,
        };
        let actor = self.actor.clone();
        prepare_streaming(others, &actor, judge, &batch, &held, |p| {
            self.write_prepared(&txn, peer, p, &mut imported, &mut kept)
        })?;
        txn.commit()?;
        for kept in kept {
            match kept {
                Kept::Fresh { key, heads } => {
                    if let Some(peer) = peer {
                        self.sync_states
                            .insert((peer.to_string(), key), settled_state(&heads));
                    }
                }
                Kept::Merged { key, cached } => self.put_back(key, *cached),
            }
        }
        self.search.refresh(&self.db, &imported.changes)?;
        if !repeats.is_empty() {
            let again = self.import_whole(peer, repeats)?;
            imported.changes.extend(again.changes);
            imported.refused.extend(again.refused);
            imported.deferred.extend(again.deferred);
        }
        Ok(imported)
    }
}
