//! Whole-document transfer: the first sync of documents a peer lacks
//! entirely. The holder sends each document's stored bytes as they are
//! ([`Store::raw_doc_bytes`], no Automerge parsing); the receiver loads each
//! once, validates it, keeps the received bytes as its snapshot and projects
//! it, all in one transaction ([`Store::import_docs`]). Both sides then hold
//! the sync state a finished Automerge exchange would leave, so later edits
//! travel incrementally on the per-document sync path.

use std::collections::HashMap;

use automerge::sync::{BloomFilter, Capability, Have, State};
use automerge::{ActorId, AutoCommit, ChangeHash, ReadDoc};
use redb::ReadableDatabase;

use super::tables::*;
use super::{
    CachedDoc, DocChange, DocMeta, Store, StoreError, StoreResult, admit, decode, encode,
    heads_digest, project, seals_record, stored_bytes, stored_seals, untrusted,
};
use crate::authorship::Sealed;
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

/// Threads that load and read received documents.
pub const IMPORT_THREADS: usize = 2;

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
    doc: AutoCommit,
    seals: SealBook,
    row: Result<project::Row, DocError>,
    refused: Option<String>,
}

/// A received document this store lacks.
struct Fresh {
    key: String,
    doc_id: DocId,
    bytes: Vec<u8>,
    cached: CachedDoc,
    row: Result<project::Row, DocError>,
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
) -> StoreResult<Prepared> {
    let doc_id: DocId = key.parse().map_err(|_| StoreError::BadDocId(key.clone()))?;
    let Sealed {
        seals: incoming,
        bytes,
    } = Sealed::decode(&sealed).map_err(|e| bad_data(&key, e.to_string()))?;
    // Its size once inflated was checked before (`check_batch`).
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
    Ok(Prepared {
        key,
        doc_id,
        bytes,
        doc: cached.doc,
        seals: cached.seals,
        row,
        refused,
    })
}

/// [`prepare`]s every document, in order, on up to [`IMPORT_THREADS`] threads.
fn prepare_all(
    docs: Vec<(String, Vec<u8>)>,
    actor: &ActorId,
    judge: Judge<'_>,
) -> StoreResult<Vec<Prepared>> {
    let per_thread = docs.len().div_ceil(IMPORT_THREADS).max(16);
    let mut parts: Vec<Vec<(String, Vec<u8>)>> = Vec::new();
    let mut rest = docs.into_iter();
    loop {
        let part: Vec<_> = rest.by_ref().take(per_thread).collect();
        if part.is_empty() {
            break;
        }
        parts.push(part);
    }
    let prepare_part = |part: Vec<(String, Vec<u8>)>| {
        part.into_iter()
            .map(|(key, bytes)| prepare(key, bytes, actor, judge))
            .collect::<StoreResult<Vec<_>>>()
    };
    let results: Vec<StoreResult<Vec<Prepared>>> = if parts.len() <= 1 {
        parts.into_iter().map(prepare_part).collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|part| scope.spawn(move || prepare_part(part)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(bad_data("", "a loading thread panicked".into())))
                })
                .collect()
        })
    };
    let mut out = Vec::new();
    for part in results {
        out.extend(part?);
    }
    Ok(out)
}

/// Checks what each received document, and the batch in all, would
/// inflate to, before Automerge allocates anything for them.
fn check_batch(docs: &[(String, Vec<u8>)]) -> StoreResult<()> {
    let mut total = 0u64;
    for (key, sealed) in docs {
        let Sealed { bytes, .. } =
            Sealed::decode(sealed).map_err(|e| bad_data(key, e.to_string()))?;
        crate::bounds::check_document(&bytes)
            .and_then(|inflated| crate::bounds::add_to_batch(&mut total, inflated))
            .map_err(|source| StoreError::Oversized {
                doc: key.clone(),
                source,
            })?;
    }
    Ok(())
}

impl Store {
    /// The stored bytes of the documents in `ids` that can be sent whole,
    /// read in one transaction and not parsed. Left out: documents not
    /// stored, recorded as malformed (those go the per-document sync path,
    /// where the receiver records them as malformed too), or larger than
    /// `max_bytes`.
    pub fn raw_doc_bytes(&self, ids: &[String], max_bytes: usize) -> StoreResult<Vec<RawDoc>> {
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

    /// Records that `peer` now holds these documents at these heads (they
    /// were sent to it whole). Not fsynced on its own: a lost state only
    /// makes the next exchange start from further back.
    pub fn mark_delivered(
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

    /// Stores whole documents received from `peer` in one durable
    /// transaction. Each is loaded once and checked; a document this store
    /// lacks keeps the received bytes as its snapshot, one it holds already
    /// gets them merged in. Undecodable bytes, an empty document or one that
    /// names itself by another id fail the whole batch before anything is
    /// written. Content the model cannot read is stored and recorded as
    /// malformed, as on the per-document sync path. Loading and reading run
    /// on up to [`IMPORT_THREADS`] threads; the writes on this one.
    pub fn import_docs(
        &mut self,
        peer: &str,
        docs: Vec<(String, Vec<u8>)>,
    ) -> StoreResult<Imported> {
        check_batch(&docs)?;
        // The team's document first: its roster judges the others.
        let (own_team, mut roster) = self.trust_context()?;
        // A quarantined document is not touched by sync.
        let mut refused = Vec::new();
        let docs: Vec<(String, Vec<u8>)> = docs
            .into_iter()
            .filter(|(key, _)| match self.quarantine_reason(key) {
                Some(reason) => {
                    refused.push((key.clone(), format!("quarantined here: {reason}")));
                    false
                }
                None => true,
            })
            .collect();
        let (teams, others): (Vec<_>, Vec<_>) = docs.into_iter().partition(|(key, _)| {
            key.parse::<DocId>()
                .is_ok_and(|d| d.kind() == DocKind::Team)
        });
        let mut prepared = Vec::new();
        for (key, bytes) in teams {
            let judge = Judge {
                roster: roster.as_ref(),
                own_team,
            };
            let p = prepare(key, bytes, &self.actor, judge)?;
            if p.refused.is_none()
                && let Ok(project::Row::Team(team)) = &p.row
            {
                roster = Some(team.clone());
            }
            prepared.push(p);
        }
        // Before the team's roster is here nothing else can be judged.
        let mut deferred = Vec::new();
        let others = if roster.is_none() {
            deferred.extend(others.into_iter().map(|(key, _)| key));
            Vec::new()
        } else {
            others
        };
        let judge = Judge {
            roster: roster.as_ref(),
            own_team,
        };
        prepared.extend(prepare_all(others, &self.actor, judge)?);
        // Fresh documents (with the bytes to keep) and merged ones, in order;
        // the maps find a document seen earlier in the batch.
        let mut fresh: Vec<Fresh> = Vec::new();
        let mut fresh_at: HashMap<String, usize> = HashMap::new();
        let mut merged: Vec<(String, DocId, CachedDoc)> = Vec::new();
        let mut merged_at: HashMap<String, usize> = HashMap::new();
        for p in prepared {
            let Prepared {
                key,
                doc_id,
                bytes,
                mut doc,
                seals,
                row,
                refused: refusal,
            } = p;
            if let Some(reason) = refusal {
                tracing::warn!(doc = %key, %reason, "whole document refused by the write rules");
                refused.push((key, reason));
                continue;
            }
            if let Some(&i) = fresh_at.get(&key) {
                // The same document twice in one batch: keep what both hold.
                let kept = &mut fresh[i];
                kept.cached
                    .doc
                    .merge(&mut doc)
                    .map_err(|e| bad_data(&key, e.to_string()))?;
                merge_seals(&mut kept.cached.doc, &mut kept.cached.seals, seals);
                kept.cached.persisted = kept.cached.doc.get_heads();
                kept.bytes = kept.cached.doc.save();
                kept.row = project::read_row(&kept.doc_id, &kept.cached.doc);
                continue;
            }
            if let Some(&i) = merged_at.get(&key) {
                let held = &mut merged[i].2;
                held.doc
                    .merge(&mut doc)
                    .map_err(|e| bad_data(&key, e.to_string()))?;
                merge_seals(&mut held.doc, &mut held.seals, seals);
                continue;
            }
            let held = match self.take_doc(&key) {
                Err(StoreError::Quarantined { reason, .. }) => {
                    refused.push((key, format!("quarantined here: {reason}")));
                    continue;
                }
                other => other?,
            };
            match held {
                Some(mut cached) => {
                    cached
                        .doc
                        .merge(&mut doc)
                        .map_err(|e| bad_data(&key, e.to_string()))?;
                    merge_seals(&mut cached.doc, &mut cached.seals, seals);
                    merged_at.insert(key.clone(), merged.len());
                    merged.push((key, doc_id, cached));
                }
                None => {
                    let persisted = doc.get_heads();
                    fresh_at.insert(key.clone(), fresh.len());
                    fresh.push(Fresh {
                        key,
                        doc_id,
                        bytes,
                        cached: CachedDoc {
                            doc,
                            persisted,
                            seals,
                        },
                        row,
                    });
                }
            }
        }
        let txn = self.db.begin_write()?;
        let mut changes = Vec::with_capacity(fresh.len() + merged.len());
        {
            let mut snapshots = txn.open_table(DOC_SNAPSHOT)?;
            let mut meta_table = txn.open_table(DOC_META)?;
            let mut sync_table = txn.open_table(SYNC_STATE)?;
            let mut seal_table = txn.open_table(DOC_SEALS)?;
            for Fresh {
                key,
                doc_id,
                bytes,
                cached,
                row,
            } in fresh.iter_mut()
            {
                let heads = &cached.persisted;
                let meta = DocMeta {
                    heads: heads.iter().map(|h| h.0).collect(),
                    digest: heads_digest(heads),
                    updated_at: self.now_ms(),
                    snapshot_bytes: bytes.len() as u64,
                    chunk_bytes: 0,
                    next_seq: 0,
                };
                snapshots.insert(key.as_str(), bytes.as_slice())?;
                seal_table.insert(key.as_str(), seals_record(&cached.seals).as_slice())?;
                meta_table.insert(key.as_str(), encode(&meta).as_slice())?;
                sync_table.insert(
                    (peer, key.as_str()),
                    settled_state(heads).encode().as_slice(),
                )?;
                self.update_catalog(&txn, key, None, meta.digest)?;
                let read = std::mem::replace(row, Err(DocError::Missing(String::new())));
                project::write_projection(&txn, doc_id, read)?;
                changes.push(DocChange {
                    doc_id: key.clone(),
                    kind: doc_id.kind(),
                });
            }
        }
        for (key, doc_id, cached) in merged.iter_mut() {
            if self.persist(&txn, key, doc_id, cached)? {
                changes.push(DocChange {
                    doc_id: key.clone(),
                    kind: doc_id.kind(),
                });
            }
        }
        txn.commit()?;
        for Fresh { key, cached, .. } in fresh {
            self.sync_states.insert(
                (peer.to_string(), key.clone()),
                settled_state(&cached.persisted),
            );
            self.put_back(key, cached);
        }
        for (key, _, cached) in merged {
            self.put_back(key, cached);
        }
        self.search.refresh(&self.db, &changes)?;
        Ok(Imported {
            changes,
            refused,
            deferred,
        })
    }
}
