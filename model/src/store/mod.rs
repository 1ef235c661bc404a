//! The Store: Automerge documents and their projections in one redb file.
//!
//! - Documents are kept as a snapshot plus incremental chunks, compacted into a
//!   new snapshot when the chunks outgrow it.
//! - Every write updates the document's chunk, its `doc_meta` (heads), the
//!   sync catalog and the projections in one durable transaction: when a call
//!   returns `Ok`, the change survives a crash.
//! - Opening reads no document. Lists and search read projection rows only;
//!   documents are loaded on demand and kept in a small LRU cache.

mod bundled;
mod doctor;
mod faces;
mod in_order;
mod open_data;
mod project;
mod read;
mod search_index;
pub mod tables;
mod whole;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use automerge::{ActorId, AutoCommit, ChangeHash};
use lru::LruCache;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::authorship::{DeviceKey, Seal};
use crate::bounds::{self, DecodeLimitError};
use crate::clock::{Clock, Entropy};
use crate::doc::{DocError, DocId, DocKind};
use crate::ids::*;
use crate::rules::{self, SealBook};
use crate::types::Team;
use tables::*;

pub use bundled::{BundleContents, BundleImported};
pub use doctor::{DoctorReport, Problem};
pub use faces::LocalMarks;
pub use open_data::OpenDocEntry;
pub use read::{HistoryNarrow, Page, ReportData, SearchScope, TagUse};
pub use search_index::ScopeSnapshot;
pub use whole::{Imported, RawDoc, Replication};

/// How many catalog buckets peers compare when reconciling.
pub const CATALOG_BUCKETS: u16 = 256;
/// redb's page cache.
const CACHE_BYTES: usize = 128 * 1024 * 1024;
/// How many decoded documents stay in memory.
const CACHE_DOCS: usize = 512;
/// The shape of the projections. A store whose projections were written with
/// another version derives them again from its documents once, on open.
/// 6: the team row holds canned responses; search words hold `tag:` words.
/// 7: History by owner (`finalized_by_owner`, owners in finalized search rows
/// and counts) and its filters' facets (`history_facets`).
/// 8: the mention index (`mention_words`, `mention_docs`).
/// 9: tags in use (`tag_uses`).
/// 10: interaction rows hold the snooze in force.
/// 11: merged contacts (`contact_merges`; contact rows hold their merge).
/// 12: reports' rows (`report_rows`) and the agents' status logs (`status_log`).
/// 13: mail holders and docs (the email channel).
/// 14: the board's `open_heads`; agent rows without their status history.
/// 15: each mailbox's high-water mark (`mail_high_water`).
/// 16: board rows (`open_heads`) and report rows hold their first mail.
/// 17: an email conversation counts and indexes a mail taken in twice once;
/// contacts made by mail intake for one address stand for one
/// (`mail_senders`, `sender_merges`).
pub const PROJECTION_VERSION: u64 = 17;

/// How a `malformed` entry marks a quarantined document: kept on disk and
/// listed, but never loaded for sync, sent to peers, edited or projected.
pub const QUARANTINED: &str = "quarantined: ";
/// The reason of a document quarantined because its stored bytes do not load.
const UNLOADABLE: &str = "cannot be loaded: ";

/// Documents refused by the write rules, with the reason.
pub type Refusals = Vec<(String, String)>;

/// What applying a batch of sync messages did.
#[derive(Debug, Default)]
pub struct Received {
    /// The documents whose content changed.
    pub changes: Vec<DocChange>,
    /// The heads each document's last message announced.
    pub announced: HashMap<String, Vec<ChangeHash>>,
    /// Documents whose new changes were refused (nothing of them stored), with the reason.
    pub refused: Vec<(String, String)>,
    /// Documents that cannot be judged yet (no team roster has arrived):
    /// nothing of them stored; ask again once the team's document is here.
    pub deferred: Vec<String>,
}

/// Runs the write rules on what `cached` holds beyond its persisted heads,
/// with the seals that came with it; on success its seals are the ones to keep.
fn admit(
    doc_id: &DocId,
    cached: &mut CachedDoc,
    incoming: &[Seal],
    roster: Option<&crate::types::Team>,
    own_team: Option<TeamId>,
) -> Result<(), String> {
    let mut seals = cached.seals.clone();
    let persisted = cached.persisted.clone();
    let doc = &mut cached.doc;
    untrusted(|| {
        rules::admit(
            doc_id, doc, &persisted, &mut seals, incoming, roster, own_team,
        )
    })?
    .map_err(|refusal| refusal.0)?;
    cached.seals = seals;
    Ok(())
}

/// Whether `reply` would only echo the heads the peer announced.
fn settles(reply: &automerge::sync::Message, announced: &[ChangeHash]) -> bool {
    let mut ours = reply.heads.clone();
    let mut theirs = announced.to_vec();
    ours.sort();
    theirs.sort();
    ours == theirs && reply.changes.is_empty() && reply.need.is_empty()
}

/// Runs an Automerge call on bytes from a peer or the disk. Automerge has
/// panicked on hostile input before; such a panic becomes an error for that
/// document, never an unwound node.
pub(crate) fn untrusted<T>(call: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("automerge panicked: {what}")
    })
}

/// A stored document's bytes as they are on disk: its snapshot, then its
/// chunks in order. Empty when it is not stored.
pub(crate) fn stored_bytes(
    snapshots: &redb::ReadOnlyTable<&'static str, &'static [u8]>,
    chunks: &redb::ReadOnlyTable<(&'static str, u64), &'static [u8]>,
    key: &str,
    capacity: usize,
) -> StoreResult<Vec<u8>> {
    let mut bytes = Vec::with_capacity(capacity);
    if let Some(s) = snapshots.get(key)? {
        bytes.extend_from_slice(s.value());
    }
    for chunk in chunks.range((key, 0)..=(key, u64::MAX))? {
        bytes.extend_from_slice(chunk?.1.value());
    }
    Ok(bytes)
}

/// A blake3 digest of a document's heads.
pub type HeadsDigest = [u8; 32];

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(
        "the store at {0} is in use by another process (is a meshdesk node running on this data dir?)"
    )]
    InUse(PathBuf),
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: PathBuf,
        source: Box<redb::DatabaseError>,
    },
    /// A redb failure (I/O, corruption, a transaction that could not begin or commit).
    #[error("storage error: {0}")]
    Storage(Box<redb::Error>),
    /// A write found the disk full; it was not saved, and what was saved before is intact.
    #[error(
        "the disk is full: this change was not saved (everything saved before is safe); free some space and try again"
    )]
    DiskFull,
    /// An earlier write failed part-way (the disk was full, or failing): the
    /// store takes no more writes until it is opened again.
    #[error(
        "an earlier write to the store failed (was the disk full?): this change was not saved (everything saved before is safe); free some space and restart meshdesk"
    )]
    WriteFailedEarlier,
    #[error("document {doc}: {source}")]
    Doc { doc: String, source: DocError },
    #[error("document {doc} cannot be loaded: {reason}")]
    CorruptDoc { doc: String, reason: String },
    /// The document is quarantined on this device (see [`Store::malformed`]).
    #[error("document {doc} is quarantined: {reason}")]
    Quarantined { doc: String, reason: String },
    /// Bytes from a peer that would decode past the limits (a decompression bomb).
    #[error("document {doc} refused: {source}")]
    Oversized {
        doc: String,
        source: DecodeLimitError,
    },
    #[error("corrupt record in {table}: {reason}")]
    CorruptRecord { table: &'static str, reason: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("malformed sync message for {doc}: {reason}")]
    BadSyncMessage { doc: String, reason: String },
    #[error("malformed whole document {doc}: {reason}")]
    BadDocData { doc: String, reason: String },
    #[error("`{0}` is not a document id")]
    BadDocId(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Whether an I/O error says the disk (or the user's quota) is full.
fn is_disk_full(e: &std::io::Error) -> bool {
    // ENOSPC (28) and EDQUOT (122) on Linux.
    e.kind() == std::io::ErrorKind::StorageFull
        || e.kind() == std::io::ErrorKind::QuotaExceeded
        || matches!(e.raw_os_error(), Some(28 | 122))
}

impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> Self {
        match e {
            redb::Error::Io(io) if is_disk_full(&io) => StoreError::DiskFull,
            // redb refuses every write after one failed part-way.
            redb::Error::PreviousIo => StoreError::WriteFailedEarlier,
            other => StoreError::Storage(Box::new(other)),
        }
    }
}

macro_rules! from_redb {
    ($($t:ty),+) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::from(redb::Error::from(e))
            }
        }
    )+};
}
from_redb!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError
);

/// Who this device is in its team.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LocalIdentity {
    pub team: TeamId,
    pub agent: AgentId,
    /// This device's libp2p peer id.
    pub device: String,
}

/// Bookkeeping for one stored document.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct DocMeta {
    pub heads: Vec<[u8; 32]>,
    pub digest: HeadsDigest,
    pub updated_at: Millis,
    pub snapshot_bytes: u64,
    pub chunk_bytes: u64,
    pub next_seq: u64,
}

/// A document that changed, so listeners know what to re-read.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct DocChange {
    /// Written as its text (`interaction:<ulid>`) in events.
    #[serde(with = "doc_id_text")]
    pub doc_id: DocId,
    pub kind: DocKind,
}

impl DocChange {
    pub fn of(doc_id: DocId) -> Self {
        let kind = doc_id.kind();
        DocChange { doc_id, kind }
    }
}

/// A [`DocId`] as its text, for serde.
mod doc_id_text {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::doc::DocId;

    pub(super) fn serialize<S: Serializer>(id: &DocId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DocId, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}

/// A boxed document edit.
pub type EditFn = Box<dyn FnOnce(&mut AutoCommit) -> Result<(), DocError> + Send>;

/// One edit of a [`Store::write_many`] batch.
pub struct DocEdit {
    pub doc_id: DocId,
    /// Make the document if it is not stored yet.
    pub create: bool,
    pub edit: EditFn,
}

impl DocEdit {
    pub fn new(
        doc_id: DocId,
        create: bool,
        edit: impl FnOnce(&mut AutoCommit) -> Result<(), DocError> + Send + 'static,
    ) -> Self {
        DocEdit {
            doc_id,
            create,
            edit: Box::new(edit),
        }
    }
}

/// A loaded document, the heads already persisted for it and its writers' seals.
struct CachedDoc {
    doc: AutoCommit,
    persisted: Vec<ChangeHash>,
    seals: SealBook,
}

impl CachedDoc {
    fn new(actor: &ActorId) -> Self {
        CachedDoc {
            doc: AutoCommit::new().with_actor(actor.clone()),
            persisted: Vec::new(),
            seals: SealBook::new(),
        }
    }
}

/// Reads a document's stored seals.
pub(crate) fn stored_seals(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> StoreResult<Vec<Seal>> {
    match table.get(key)? {
        Some(v) => postcard::from_bytes(v.value()).map_err(|e| StoreError::CorruptRecord {
            table: "doc_seals",
            reason: e.to_string(),
        }),
        None => Ok(Vec::new()),
    }
}

/// A document's seals as `doc_seals` keeps them (the reverse of [`stored_seals`]).
pub(crate) fn seals_record(book: &SealBook) -> Vec<u8> {
    let seals: Vec<&Seal> = book.values().collect();
    // A list of plain structs of byte arrays always serialises.
    postcard::to_stdvec(&seals).unwrap_or_default()
}

/// Records in `txn` that a document's stored bytes do not load (see
/// [`Store::quarantine_reason`]) and takes it out of the projections; an
/// unreadable team document never takes the roster away.
fn record_unloadable(txn: &WriteTransaction, doc_id: &str, reason: &str) -> StoreResult<()> {
    txn.open_table(MALFORMED)?
        .insert(doc_id, format!("{QUARANTINED}{reason}").as_str())?;
    if let Ok(parsed) = doc_id.parse::<DocId>()
        && parsed.kind() != DocKind::Team
    {
        project::remove_projection(txn, &parsed)?;
    }
    Ok(())
}

fn seal_book(seals: Vec<Seal>) -> SealBook {
    seals.into_iter().map(|s| (s.actor.to_vec(), s)).collect()
}

/// A document's stored bytes and seals, as read from redb.
struct Stored {
    bytes: Vec<u8>,
    /// Its seals, or why they cannot be read.
    seals: Result<SealBook, String>,
}

/// Reads a document's bytes and seals; `None` if it is not stored.
fn read_stored(txn: &redb::ReadTransaction, doc_id: &str) -> StoreResult<Option<Stored>> {
    let bytes = stored_bytes(
        &txn.open_table(DOC_SNAPSHOT)?,
        &txn.open_table(DOC_CHUNK)?,
        doc_id,
        0,
    )?;
    if bytes.is_empty() {
        return Ok(None);
    }
    let seals = match stored_seals(&txn.open_table(DOC_SEALS)?, doc_id) {
        Ok(seals) => Ok(seal_book(seals)),
        Err(StoreError::CorruptRecord { reason, .. }) => {
            Err(format!("its seals cannot be read: {reason}"))
        }
        Err(e) => return Err(e),
    };
    Ok(Some(Stored { bytes, seals }))
}

/// Loads stored bytes, checked against the decoding limits first.
fn load_bytes(doc_id: &str, stored: Stored, actor: &ActorId) -> StoreResult<CachedDoc> {
    let corrupt = |reason: String| StoreError::CorruptDoc {
        doc: doc_id.to_string(),
        reason,
    };
    // Without its seals a document cannot be sent on: as bad as its bytes.
    let seals = stored.seals.map_err(corrupt)?;
    bounds::check_document(&stored.bytes).map_err(|e| corrupt(e.to_string()))?;
    let mut doc = untrusted(|| AutoCommit::load(&stored.bytes))
        .map_err(corrupt)?
        .map_err(|e| corrupt(e.to_string()))?
        .with_actor(actor.clone());
    let persisted = doc.get_heads();
    Ok(CachedDoc {
        doc,
        persisted,
        seals,
    })
}

/// What a rebuild makes of one stored document.
enum Rederived {
    /// Not stored (any more).
    Gone,
    /// Its bytes or seals do not load: why.
    Unloadable(String),
    /// It breaks the write rules: why.
    Refused(String),
    /// Its projection row, and the team it names when it is this device's.
    Admitted {
        row: Box<Result<project::Row, DocError>>,
        team: Option<Box<Team>>,
    },
}

/// Judges a loaded document afresh against the write rules and reads its
/// projection row: the work of a rebuild, on any thread.
fn rederive(
    doc_id: &DocId,
    loaded: StoreResult<Option<CachedDoc>>,
    roster: Option<&Team>,
    own_team: Option<TeamId>,
) -> StoreResult<Rederived> {
    let mut cached = match loaded {
        Ok(Some(cached)) => cached,
        Ok(None) => return Ok(Rederived::Gone),
        Err(StoreError::CorruptDoc { reason, .. }) => return Ok(Rederived::Unloadable(reason)),
        Err(e) => return Err(e),
    };
    let seals: Vec<Seal> = cached.seals.values().cloned().collect();
    let mut book = SealBook::new();
    let doc = &mut cached.doc;
    let verdict = untrusted(|| rules::admit(doc_id, doc, &[], &mut book, &seals, roster, own_team))
        .and_then(|v| v.map_err(|r| r.0));
    if let Err(reason) = verdict {
        return Ok(Rederived::Refused(reason));
    }
    let team = match doc_id {
        DocId::Team(id) if own_team.is_none_or(|own| own == *id) => {
            crate::doc::team::read(&cached.doc).ok().map(Box::new)
        }
        _ => None,
    };
    Ok(Rederived::Admitted {
        row: Box::new(project::read_row(doc_id, &cached.doc)),
        team,
    })
}

/// Writes what a rebuild made of a document: its projection, or its
/// quarantine (`log`: say so). The team it names, when it is this device's.
fn settle_rederived(
    txn: &WriteTransaction,
    doc_id: &DocId,
    key: &str,
    rederived: Rederived,
    log: bool,
) -> StoreResult<Option<Team>> {
    match rederived {
        Rederived::Gone => Ok(None),
        Rederived::Unloadable(reason) => {
            if log {
                tracing::error!(doc = %key, %reason, "document quarantined: its bytes do not load");
            }
            record_unloadable(txn, key, &format!("{UNLOADABLE}{reason}"))?;
            Ok(None)
        }
        Rederived::Refused(reason) => {
            if log {
                tracing::warn!(doc = %key, %reason, "document quarantined: it breaks the write rules");
            }
            txn.open_table(MALFORMED)?
                .insert(key, format!("{QUARANTINED}{reason}").as_str())?;
            Ok(None)
        }
        Rederived::Admitted { row, team } => {
            project::write_projection(txn, doc_id, *row)?;
            Ok(team.map(|t| *t))
        }
    }
}

pub struct Store {
    db: Database,
    path: PathBuf,
    /// This device's key; its public half is the actor of every local change.
    key: DeviceKey,
    actor: ActorId,
    cache: LruCache<String, CachedDoc>,
    /// Quarantined documents and why (the `malformed` entries that say so).
    quarantined: HashMap<String, String>,
    sync_states: HashMap<(String, String), automerge::sync::State>,
    search: search_index::SearchIndex,
    /// The last `agent_history` answer: the history version and the day it
    /// was read for, then what it read.
    history: std::sync::Mutex<Option<HistoryCache>>,
    /// The last `contact_merges` answer, with the merges version it was
    /// read at.
    merges: std::sync::Mutex<Option<(u64, std::sync::Arc<crate::merge::Merges>)>>,
    /// The time of local changes and records (see [`crate::clock`]).
    clock: Clock,
    /// Fresh ids and tokens (see [`crate::clock`]).
    entropy: Entropy,
}

/// See [`Store::agent_history`].
type HistoryCache = (
    u64,
    Millis,
    std::collections::BTreeMap<AgentId, crate::projection::AgentHistory>,
);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Where `local` keeps [`PROJECTION_VERSION`].
const VERSION_KEY: &str = "projection_version";

fn projection_version(
    local: &impl ReadableTable<&'static str, &'static [u8]>,
) -> StoreResult<Option<u64>> {
    Ok(local
        .get(VERSION_KEY)?
        .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
        .map(u64::from_le_bytes))
}

fn heads_digest(heads: &[ChangeHash]) -> HeadsDigest {
    let mut sorted: Vec<&ChangeHash> = heads.iter().collect();
    sorted.sort();
    let mut hasher = blake3::Hasher::new();
    for h in sorted {
        hasher.update(&h.0);
    }
    *hasher.finalize().as_bytes()
}

/// The catalog bucket a document falls in.
pub fn bucket_of(doc_id: &str) -> u16 {
    let hash = blake3::hash(doc_id.as_bytes());
    let bytes = hash.as_bytes();
    u16::from_be_bytes([bytes[0], bytes[1]]) % CATALOG_BUCKETS
}

fn entry_hash(doc_id: &str, digest: &HeadsDigest) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(doc_id.as_bytes());
    hasher.update(&[0]);
    hasher.update(digest);
    *hasher.finalize().as_bytes()
}

fn xor_into(acc: &mut [u8; 32], other: &[u8; 32]) {
    for (a, b) in acc.iter_mut().zip(other) {
        *a ^= b;
    }
}

// Records are JSON: self-describing, so tagged enums round-trip and a record
// written by an older version still reads.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising plain structs with string keys to a Vec cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(
    table: &'static str,
    bytes: &[u8],
) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::CorruptRecord {
        table,
        reason: e.to_string(),
    })
}

impl Store {
    /// Opens the store at `path`, creating it if missing, writing as the
    /// device with `key`. Reads no document.
    pub fn open(path: impl AsRef<Path>, key: DeviceKey) -> StoreResult<Store> {
        let path = path.as_ref().to_path_buf();
        // redb's default page cache is 1 GiB; a desktop app shares the machine.
        let db = match Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
        {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(StoreError::InUse(path)),
            Err(source) => {
                return Err(StoreError::Open {
                    path,
                    source: Box::new(source),
                });
            }
        };
        let mut store = Store {
            db,
            path,
            actor: key.actor(),
            key,
            cache: LruCache::new(NonZeroUsize::new(CACHE_DOCS).unwrap_or(NonZeroUsize::MIN)),
            quarantined: HashMap::new(),
            sync_states: HashMap::new(),
            search: search_index::SearchIndex::default(),
            history: std::sync::Mutex::new(None),
            merges: std::sync::Mutex::new(None),
            clock: Clock::System,
            entropy: Entropy::System,
        };
        store.init_tables()?;
        store.quarantined = store.read_quarantined()?;
        Ok(store)
    }

    /// Reads the time from `clock` and draws ids and tokens from `entropy`
    /// from now on (a simulation's; a device keeps the system's).
    pub fn set_sources(&mut self, clock: Clock, entropy: Entropy) {
        self.clock = clock;
        self.entropy = entropy;
    }

    /// Now, by this store's clock.
    pub fn now_ms(&self) -> Millis {
        self.clock.now_ms()
    }

    /// A fresh id for a new entity.
    pub fn new_id<T: From<ulid::Ulid>>(&self) -> T {
        T::from(self.entropy.ulid(self.now_ms()))
    }

    /// A fresh random token (an invite's).
    pub fn new_token(&self) -> [u8; 32] {
        self.entropy.bytes32()
    }

    /// The time Automerge records on a local change: whole seconds.
    fn change_time(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// The quarantined entries of `malformed`.
    fn read_quarantined(&self) -> StoreResult<HashMap<String, String>> {
        Ok(self
            .malformed()?
            .into_iter()
            .filter_map(|(doc, reason)| Some((doc, reason.strip_prefix(QUARANTINED)?.to_string())))
            .collect())
    }

    /// Why a document is quarantined, if it is.
    pub fn quarantine_reason(&self, doc_id: &str) -> Option<&str> {
        self.quarantined.get(doc_id).map(String::as_str)
    }

    fn quarantined_error(&self, doc_id: &str) -> Option<StoreError> {
        self.quarantine_reason(doc_id)
            .map(|reason| StoreError::Quarantined {
                doc: doc_id.to_string(),
                reason: reason.to_string(),
            })
    }

    /// Quarantines a document whose stored bytes do not load: recorded in
    /// `malformed`, left out of the projections (the team's roster stays,
    /// as it does for an unreadable team document), its bytes kept.
    fn quarantine_unloadable(&mut self, doc_id: &str, reason: &str) -> StoreResult<StoreError> {
        let reason = format!("{UNLOADABLE}{reason}");
        tracing::error!(doc = %doc_id, %reason, "document quarantined");
        let txn = self.db.begin_write()?;
        record_unloadable(&txn, doc_id, &reason)?;
        txn.commit()?;
        self.quarantined.insert(doc_id.to_string(), reason.clone());
        if let Ok(parsed) = doc_id.parse::<DocId>() {
            let change = DocChange::of(parsed);
            self.search
                .refresh(&self.db, std::slice::from_ref(&change))?;
        }
        Ok(StoreError::Quarantined {
            doc: doc_id.to_string(),
            reason,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The files of this store's data dir (the folder holding its file).
    pub fn blobs(&self) -> Result<crate::blobs::BlobStore, crate::blobs::BlobError> {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        crate::blobs::BlobStore::in_data_dir(dir)
    }

    /// This device's peer id: the one its changes name.
    pub fn device(&self) -> String {
        self.key.device()
    }

    /// Creates every table on first open; later opens only read the
    /// projections' version, so opening never writes (unless the
    /// projections are of an older shape: then they are rebuilt, once).
    fn init_tables(&mut self) -> StoreResult<()> {
        {
            let txn = self.db.begin_read()?;
            if let Ok(local) = txn.open_table(LOCAL)
                && projection_version(&local)? == Some(PROJECTION_VERSION)
            {
                return Ok(());
            }
        }
        let txn = self.db.begin_write()?;
        {
            txn.open_table(DOC_SNAPSHOT)?;
            txn.open_table(DOC_CHUNK)?;
            txn.open_table(DOC_META)?;
            txn.open_table(DOC_SEALS)?;
            txn.open_table(SYNC_STATE)?;
            txn.open_table(CATALOG)?;
            txn.open_table(CATALOG_DIGEST)?;
            txn.open_table(MALFORMED)?;
            txn.open_table(READ_MARKS)?;
            txn.open_table(PEER_ADDRS)?;
            txn.open_table(TEAM)?;
            txn.open_table(AGENTS)?;
            txn.open_table(INTERACTIONS)?;
            txn.open_table(INTERACTION_ORDER)?;
            txn.open_table(SEARCH_ROWS)?;
            txn.open_table(ACTIVE_BY_OWNER)?;
            txn.open_table(FINALIZED_BY_OWNER)?;
            txn.open_table(HISTORY_FACETS)?;
            txn.open_table(LIST_COUNTS)?;
            txn.open_table(TAG_USES)?;
            txn.open_table(CLAIMED_BY)?;
            txn.open_table(FINISHED_BY)?;
            txn.open_multimap_table(CONTACT_INTERACTIONS)?;
            txn.open_table(CONTACTS)?;
            txn.open_table(CONTACT_ORDER)?;
            txn.open_multimap_table(CONTACT_EMAIL)?;
            txn.open_table(CONTACT_MERGES)?;
            txn.open_multimap_table(MAIL_SENDERS)?;
            txn.open_table(SENDER_MERGES)?;
            txn.open_table(ROOM_MONTHS)?;
            txn.open_table(MENTION_WORDS)?;
            txn.open_table(MENTION_DOCS)?;
            txn.open_table(REPORT_ROWS)?;
            txn.open_table(OPEN_HEADS)?;
            txn.open_table(STATUS_LOG)?;
            txn.open_multimap_table(MAIL_HOLDERS)?;
            txn.open_table(MAIL_DOCS)?;
            txn.open_table(MAIL_HIGH_WATER)?;
            txn.open_table(LOCAL)?;
        }
        let stale = txn.open_table(DOC_META)?.len()? > 0;
        if !stale {
            txn.open_table(LOCAL)?
                .insert(VERSION_KEY, PROJECTION_VERSION.to_le_bytes().as_slice())?;
        }
        txn.commit()?;
        if stale {
            tracing::info!(
                version = PROJECTION_VERSION,
                "projections are of an older shape; deriving them again from the documents"
            );
            self.rebuild_projections()?;
        }
        Ok(())
    }

    // ---- identity ----------------------------------------------------------

    pub fn identity(&self) -> StoreResult<Option<LocalIdentity>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(LOCAL)?;
        match table.get("identity")? {
            Some(bytes) => Ok(Some(decode("local", bytes.value())?)),
            None => Ok(None),
        }
    }

    /// Records who this device is; written with the first documents of a new or joined team.
    pub fn set_identity(&mut self, identity: &LocalIdentity) -> StoreResult<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(LOCAL)?
            .insert("identity", encode(identity).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    // ---- documents ---------------------------------------------------------

    /// Loads a document from the cache or from redb; `None` if it is not
    /// stored. A quarantined document is an error; one whose stored bytes
    /// turn out not to load is quarantined here.
    fn take_doc(&mut self, doc_id: &str) -> StoreResult<Option<CachedDoc>> {
        if let Some(e) = self.quarantined_error(doc_id) {
            return Err(e);
        }
        if let Some(cached) = self.cache.pop(doc_id) {
            return Ok(Some(cached));
        }
        match self.load_stored(doc_id) {
            Err(StoreError::CorruptDoc { doc, reason }) => {
                Err(self.quarantine_unloadable(&doc, &reason)?)
            }
            other => other,
        }
    }

    /// Loads a document from redb, its bytes checked against the decoding
    /// limits first; `None` if it is not stored.
    fn load_stored(&self, doc_id: &str) -> StoreResult<Option<CachedDoc>> {
        let txn = self.db.begin_read()?;
        match read_stored(&txn, doc_id)? {
            Some(stored) => load_bytes(doc_id, stored, &self.actor).map(Some),
            None => Ok(None),
        }
    }

    fn put_back(&mut self, doc_id: String, cached: CachedDoc) {
        self.cache.put(doc_id, cached);
    }

    /// Runs `read` on a stored document.
    pub fn with_doc<T>(
        &mut self,
        doc_id: &DocId,
        read: impl FnOnce(&AutoCommit) -> T,
    ) -> StoreResult<T> {
        let key = doc_id.to_string();
        let cached = self
            .take_doc(&key)?
            .ok_or_else(|| StoreError::NotFound(key.clone()))?;
        let out = read(&cached.doc);
        self.put_back(key, cached);
        Ok(out)
    }

    /// Whether a document is stored.
    pub fn has_doc(&self, doc_id: &str) -> StoreResult<bool> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(DOC_META)?.get(doc_id)?.is_some())
    }

    /// The full saved bytes of a document (for tests and diagnostics).
    pub fn doc_bytes(&mut self, doc_id: &str) -> StoreResult<Option<Vec<u8>>> {
        match self.take_doc(doc_id)? {
            Some(mut cached) => {
                let bytes = cached.doc.save();
                self.put_back(doc_id.to_string(), cached);
                Ok(Some(bytes))
            }
            None => Ok(None),
        }
    }

    /// Applies a local edit durably. `create` makes the document if it is not
    /// stored yet (new entities, and rooms, whose ids are derived).
    pub fn write_doc(
        &mut self,
        doc_id: &DocId,
        create: bool,
        edit: impl FnOnce(&mut AutoCommit) -> Result<(), DocError>,
    ) -> StoreResult<DocChange> {
        let key = doc_id.to_string();
        let mut cached = match self.take_doc(&key)? {
            Some(c) => c,
            None if create => CachedDoc::new(&self.actor),
            None => return Err(StoreError::NotFound(key)),
        };
        // On any failure the mutated copy is dropped, so the cache never holds
        // a change that is not on disk.
        edit(&mut cached.doc).map_err(|source| StoreError::Doc {
            doc: key.clone(),
            source,
        })?;
        self.seal_local(&key, &mut cached);
        let txn = self.db.begin_write()?;
        self.persist(&txn, &key, doc_id, &mut cached)?;
        txn.commit()?;
        self.put_back(key, cached);
        let change = DocChange::of(doc_id.clone());
        self.search
            .refresh(&self.db, std::slice::from_ref(&change))?;
        Ok(change)
    }

    /// Applies edits to several documents in one durable transaction: all land or none do.
    pub fn write_many(&mut self, edits: Vec<DocEdit>) -> StoreResult<Vec<DocChange>> {
        let mut touched = Vec::with_capacity(edits.len());
        for DocEdit {
            doc_id,
            create,
            edit,
        } in edits
        {
            let key = doc_id.to_string();
            let position = touched
                .iter()
                .position(|(k, _, _): &(String, DocId, CachedDoc)| *k == key);
            let mut cached = match position {
                Some(i) => touched.swap_remove(i).2,
                None => match self.take_doc(&key)? {
                    Some(c) => c,
                    None if create => CachedDoc::new(&self.actor),
                    None => return Err(StoreError::NotFound(key)),
                },
            };
            edit(&mut cached.doc).map_err(|source| StoreError::Doc {
                doc: key.clone(),
                source,
            })?;
            self.seal_local(&key, &mut cached);
            touched.push((key, doc_id, cached));
        }
        let txn = self.db.begin_write()?;
        let mut changes = Vec::new();
        for (key, doc_id, cached) in touched.iter_mut() {
            if self.persist(&txn, key, doc_id, cached)? {
                changes.push(DocChange::of(doc_id.clone()));
            }
        }
        txn.commit()?;
        for (key, _, cached) in touched {
            self.put_back(key, cached);
        }
        self.search.refresh(&self.db, &changes)?;
        Ok(changes)
    }

    /// Commits a local edit with its time and seals it: after a local
    /// commit the document's one head is this device's newest change.
    fn seal_local(&self, key: &str, cached: &mut CachedDoc) {
        let committed = cached.doc.commit_with(
            automerge::transaction::CommitOptions::default().with_time(self.change_time()),
        );
        let heads = cached.doc.get_heads();
        if committed.is_none() && heads == cached.persisted {
            return;
        }
        if let [newest] = heads.as_slice() {
            let seal = self.key.seal(key, newest);
            cached.seals.insert(seal.actor.to_vec(), seal);
        }
    }

    /// Writes what `cached.doc` has beyond its persisted heads, then re-projects it.
    fn persist(
        &self,
        txn: &WriteTransaction,
        key: &str,
        doc_id: &DocId,
        cached: &mut CachedDoc,
    ) -> StoreResult<bool> {
        let heads = cached.doc.get_heads();
        if heads == cached.persisted {
            return Ok(false);
        }
        let mut meta_table = txn.open_table(DOC_META)?;
        let mut meta: DocMeta = match meta_table.get(key)? {
            Some(v) => decode("doc_meta", v.value())?,
            None => DocMeta::default(),
        };
        let old_digest = meta.digest;
        let existed = !meta.heads.is_empty();
        {
            let mut chunks = txn.open_table(DOC_CHUNK)?;
            // A new document's first save is its snapshot (the compact
            // format, which also loads fastest); later changes are chunks
            // until they outgrow it.
            let chunk = (meta.snapshot_bytes > 0)
                .then(|| cached.doc.save_after(&cached.persisted))
                .filter(|c| meta.chunk_bytes + c.len() as u64 <= meta.snapshot_bytes.max(4096));
            if let Some(chunk) = chunk {
                chunks.insert((key, meta.next_seq), chunk.as_slice())?;
                meta.next_seq += 1;
                meta.chunk_bytes += chunk.len() as u64;
            } else {
                // Compact: one fresh snapshot replaces the snapshot and every chunk.
                let snapshot = cached.doc.save();
                txn.open_table(DOC_SNAPSHOT)?
                    .insert(key, snapshot.as_slice())?;
                let stale: Vec<u64> = chunks
                    .range((key, 0)..=(key, u64::MAX))?
                    .map(|r| r.map(|(k, _)| k.value().1))
                    .collect::<Result<_, _>>()?;
                for seq in stale {
                    chunks.remove((key, seq))?;
                }
                meta.snapshot_bytes = snapshot.len() as u64;
                meta.chunk_bytes = 0;
            }
        }
        meta.heads = heads.iter().map(|h| h.0).collect();
        meta.digest = heads_digest(&heads);
        meta.updated_at = self.now_ms();
        meta_table.insert(key, encode(&meta).as_slice())?;
        txn.open_table(DOC_SEALS)?
            .insert(key, seals_record(&cached.seals).as_slice())?;
        self.update_catalog(txn, key, existed.then_some(old_digest), meta.digest)?;
        project::project(txn, doc_id, &cached.doc)?;
        cached.persisted = heads;
        Ok(true)
    }

    fn update_catalog(
        &self,
        txn: &WriteTransaction,
        key: &str,
        old: Option<HeadsDigest>,
        new: HeadsDigest,
    ) -> StoreResult<()> {
        let bucket = bucket_of(key);
        let mut digests = txn.open_table(CATALOG_DIGEST)?;
        let mut acc = [0u8; 32];
        if let Some(v) = digests.get(bucket)? {
            let bytes = v.value();
            if bytes.len() == 32 {
                acc.copy_from_slice(bytes);
            }
        }
        if let Some(old) = old {
            xor_into(&mut acc, &entry_hash(key, &old));
        }
        xor_into(&mut acc, &entry_hash(key, &new));
        digests.insert(bucket, acc.as_slice())?;
        txn.open_table(CATALOG)?
            .insert((bucket, key), new.as_slice())?;
        Ok(())
    }

    // ---- sync --------------------------------------------------------------

    fn sync_state(&self, peer: &str, doc_id: &str) -> StoreResult<automerge::sync::State> {
        if let Some(state) = self
            .sync_states
            .get(&(peer.to_string(), doc_id.to_string()))
        {
            return Ok(state.clone());
        }
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SYNC_STATE)?;
        let state = match table.get((peer, doc_id))? {
            Some(v) => automerge::sync::State::decode(v.value()).unwrap_or_default(),
            None => automerge::sync::State::new(),
        };
        Ok(state)
    }

    /// The team this device belongs to and the roster as this store knows it.
    fn trust_context(&self) -> StoreResult<(Option<TeamId>, Option<crate::types::Team>)> {
        Ok((self.identity()?.map(|i| i.team), self.team()?))
    }

    /// Checks the new changes of each touched document against the write
    /// rules (the team document first: its roster judges the others), and
    /// takes the refused ones out of `touched`, with the reason, and those
    /// that cannot be judged before the team's document arrives.
    fn admit_all(
        &self,
        touched: &mut Vec<(String, DocId, CachedDoc)>,
        incoming: &HashMap<String, Vec<Seal>>,
    ) -> StoreResult<(Refusals, Vec<String>)> {
        let (own_team, mut roster) = self.trust_context()?;
        touched.sort_by_key(|(_, doc_id, _)| doc_id.kind() != DocKind::Team);
        let mut refused = Vec::new();
        let mut deferred = Vec::new();
        let mut kept = Vec::with_capacity(touched.len());
        for (key, doc_id, mut cached) in touched.drain(..) {
            if roster.is_none() && doc_id.kind() != DocKind::Team {
                deferred.push(key);
                continue;
            }
            let seals = incoming.get(&key).map(Vec::as_slice).unwrap_or_default();
            match admit(&doc_id, &mut cached, seals, roster.as_ref(), own_team) {
                Ok(()) => {
                    if let DocId::Team(_) = doc_id
                        && let Ok(team) = crate::doc::team::read(&cached.doc)
                    {
                        roster = Some(team);
                    }
                    kept.push((key, doc_id, cached));
                }
                Err(reason) => {
                    tracing::warn!(doc = %key, %reason, "changes refused by the write rules");
                    refused.push((key, reason));
                }
            }
        }
        *touched = kept;
        Ok((refused, deferred))
    }

    /// Every stored document id.
    pub fn doc_ids(&self) -> StoreResult<Vec<String>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DOC_META)?;
        table
            .iter()?
            .map(|r| Ok(r?.0.value().to_string()))
            .collect()
    }

    /// Documents that could not be read, with the reason.
    pub fn malformed(&self) -> StoreResult<Vec<(String, String)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MALFORMED)?;
        table
            .iter()?
            .map(|r| {
                let (k, v) = r?;
                Ok((k.value().to_string(), v.value().to_string()))
            })
            .collect()
    }

    /// Drops every projection and derives them again from the documents
    /// alone. Every document is judged by the write rules again: one that
    /// breaks them (stored before the rules, or by an older version) is
    /// quarantined: kept, listed in [`Store::malformed`], not projected.
    pub fn rebuild_projections(&mut self) -> StoreResult<()> {
        self.search.clear();
        let txn = self.db.begin_write()?;
        self.derive_projections(&txn, true)?;
        txn.commit()?;
        self.quarantined = self.read_quarantined()?;
        Ok(())
    }

    /// The work of [`Store::rebuild_projections`], in `txn` (which
    /// [`Store::doctor`] aborts, and asks not to `log` what it finds).
    fn derive_projections(&mut self, txn: &WriteTransaction, log: bool) -> StoreResult<()> {
        let own_team = self.identity()?.map(|i| i.team);
        let mut ids: Vec<(DocId, String)> = self
            .doc_ids()?
            .into_iter()
            .filter_map(|key| Some((key.parse::<DocId>().ok()?, key)))
            .collect();
        // The team first: its roster judges the rest.
        ids.sort_by_key(|(doc_id, _)| doc_id.kind() != DocKind::Team);
        let previous_team = self.team()?;
        project::clear_all(txn)?;
        txn.open_table(LOCAL)?
            .insert(VERSION_KEY, PROJECTION_VERSION.to_le_bytes().as_slice())?;
        // Loaded afresh: a document quarantined because its bytes do not
        // load stays quarantined, and one that no longer loads is.
        self.cache.clear();
        let (teams, rest): (Vec<_>, Vec<_>) = ids
            .into_iter()
            .partition(|(doc_id, _)| doc_id.kind() == DocKind::Team);
        let mut roster = None;
        for (doc_id, key) in teams {
            let rederived = rederive(&doc_id, self.load_stored(&key), roster.as_ref(), own_team);
            if let Some(team) = settle_rederived(txn, &doc_id, &key, rederived?, log)? {
                roster = Some(team);
            }
        }
        // The rest on several threads, judged by that roster, written here.
        let stored = self.db.begin_read()?;
        let actor = self.actor.clone();
        let roster = roster.as_ref();
        in_order::in_order(
            rest.into_iter().map(move |(doc_id, key)| {
                let read = read_stored(&stored, &key);
                (doc_id, key, read)
            }),
            |(doc_id, key, read)| {
                let loaded = read.and_then(|stored| {
                    stored
                        .map(|stored| load_bytes(&key, stored, &actor))
                        .transpose()
                });
                let rederived = rederive(&doc_id, loaded, roster, own_team);
                (doc_id, key, rederived)
            },
            |(doc_id, key, rederived)| {
                settle_rederived(txn, &doc_id, &key, rederived?, log).map(|_| ())
            },
        )?;
        // A quarantined team document never takes the roster away.
        if roster.is_none()
            && let Some(team) = previous_team
        {
            txn.open_table(TEAM)?
                .insert("team", encode(&team).as_slice())?;
        }
        Ok(())
    }

    /// Every projection row, as bytes, in key order: two stores with equal
    /// projections give equal dumps.
    pub fn projection_dump(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        project::dump(&self.db)
    }

    /// What the in-memory search index holds for every scope searched so
    /// far (tests compare an index kept current with one loaded afresh).
    #[doc(hidden)]
    pub fn search_index_snapshot(&self) -> Vec<(u8, ScopeSnapshot)> {
        self.search.snapshot()
    }

    /// Drops the in-memory search index; the next search in a scope loads it again.
    #[doc(hidden)]
    pub fn reload_search_index(&self) {
        self.search.clear();
    }

    pub(crate) fn search_index(&self) -> &search_index::SearchIndex {
        &self.search
    }

    pub(crate) fn db(&self) -> &Database {
        &self.db
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doc_change_is_written_with_its_id_as_text() {
        let id = InteractionId::new();
        let change = DocChange::of(DocId::Interaction(id));
        let json = serde_json::to_value(&change).expect("serializes");
        let text = format!("interaction:{id}");
        assert_eq!(
            json,
            serde_json::json!({ "doc_id": text, "kind": "interaction" })
        );
        let back: DocChange = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, change);
    }
}
