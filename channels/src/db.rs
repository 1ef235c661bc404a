//! The gateways' durable local state, `<data-dir>/channels.redb`, owned by the
//! serving process: the webchat signing key, the webhook outbox and the
//! record of which events were already put in it.
//!
//! This is per-device state, like the store's read marks: it is never
//! replicated. Every method is a short synchronous redb transaction; async
//! callers run them on the blocking pool.

use std::path::Path;
use std::sync::Arc;

use meshdesk_model::Millis;
use rand::RngCore;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use serde::{Deserialize, Serialize};

use crate::error::ChannelError;

/// The state file's name inside the data dir.
pub const STATE_FILE: &str = "channels.redb";

/// `key → bytes`: `webchat_secret`, `outbox_seq`.
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
/// `(next attempt at, seq) → OutboxEntry (JSON)`: due deliveries come first.
const OUTBOX: TableDefinition<'_, (i64, u64), &[u8]> = TableDefinition::new("webhook_outbox");
/// `event id → when it was put in the outbox`: each event is sent once.
const SENT: TableDefinition<'_, &str, i64> = TableDefinition::new("webhook_events");

/// `interaction id → (messages, finalized at or -1)` as the webhook producer
/// last read it: a catch-up re-reads only interactions that differ now.
/// Counts, not timestamps: a teammate's message can arrive by sync long after
/// the time it carries, so no clock makes a safe cursor.
const COLLECTED: TableDefinition<'_, &str, (u32, i64)> = TableDefinition::new("webhook_collected");

/// `event id → OutboxEntry (JSON)`: deliveries that can never succeed (the
/// destination was refused), kept for the supervisor to see; never retried.
const FAILED: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("webhook_failed");

/// One webhook delivery waiting in the outbox.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub seq: u64,
    /// Unique per event; sent as `X-Meshdesk-Delivery` so receivers can drop repeats.
    pub event_id: String,
    pub event_type: String,
    /// Whose webhook it goes to: the URL and key are read at delivery time.
    pub campaign_id: String,
    /// The JSON body, exactly as signed and sent.
    pub body: String,
    pub attempts: u32,
    pub created_at: Millis,
    pub last_error: Option<String>,
}

/// An event to put in the outbox.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewEvent {
    pub event_id: String,
    pub event_type: String,
    pub campaign_id: String,
    pub body: String,
}

/// How far the webhook producer has read one interaction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Collected {
    pub messages: u32,
    pub finalized_at: Option<Millis>,
}

impl Collected {
    fn row(self) -> (u32, i64) {
        (self.messages, self.finalized_at.unwrap_or(-1))
    }

    fn from_row((messages, finalized): (u32, i64)) -> Self {
        Collected {
            messages,
            finalized_at: (finalized >= 0).then_some(finalized),
        }
    }
}

/// The outbox key: when to try next, then arrival order.
pub type OutboxKey = (i64, u64);

/// Counts a failed attempt in `entry` and encodes it for storing.
fn failed_attempt(entry: &mut OutboxEntry, error: String) -> Result<Vec<u8>, ChannelError> {
    entry.attempts = entry.attempts.saturating_add(1);
    entry.last_error = Some(error);
    serde_json::to_vec(entry).map_err(|e| corrupt("outbox entry", e))
}

/// A handle to the state file (cheap to clone).
#[derive(Clone)]
pub struct ChannelDb {
    db: Arc<Database>,
}

impl std::fmt::Debug for ChannelDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelDb").finish_non_exhaustive()
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> ChannelError {
    ChannelError::State(format!("corrupt {what}: {e}"))
}

impl ChannelDb {
    /// Opens (or creates) the state file in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<ChannelDb, ChannelError> {
        std::fs::create_dir_all(data_dir).map_err(|source| ChannelError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(STATE_FILE);
        let db = Database::create(&path).map_err(|source| ChannelError::OpenState {
            path: path.clone(),
            source,
        })?;
        let txn = db.begin_write()?;
        {
            txn.open_table(META)?;
            txn.open_table(OUTBOX)?;
            txn.open_table(SENT)?;
            txn.open_table(FAILED)?;
            txn.open_table(COLLECTED)?;
        }
        txn.commit()?;
        Ok(ChannelDb { db: Arc::new(db) })
    }

    /// Waits (up to `timeout`) until this is the last handle, then closes the
    /// file, so the same data dir can be opened again at once.
    pub async fn close(self, timeout: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while Arc::strong_count(&self.db) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        if Arc::strong_count(&self.db) > 1 {
            tracing::warn!("the channel state is still in use after shutdown");
        }
    }

    /// The key that signs visitor tokens, made on first use and kept for good.
    pub fn webchat_secret(&self) -> Result<[u8; 32], ChannelError> {
        let txn = self.db.begin_write()?;
        let secret = {
            let mut meta = txn.open_table(META)?;
            let existing = meta.get("webchat_secret")?.map(|v| v.value().to_vec());
            match existing {
                Some(bytes) => <[u8; 32]>::try_from(bytes.as_slice())
                    .map_err(|_| corrupt("webchat secret", "wrong length"))?,
                None => {
                    let mut secret = [0u8; 32];
                    rand::rng().fill_bytes(&mut secret);
                    meta.insert("webchat_secret", secret.as_slice())?;
                    secret
                }
            }
        };
        txn.commit()?;
        Ok(secret)
    }

    /// Puts events in the outbox, due at once, skipping any already put there
    /// before. Durable on return. Returns how many were new.
    pub fn enqueue(&self, events: &[NewEvent], now: Millis) -> Result<usize, ChannelError> {
        if events.is_empty() {
            return Ok(0);
        }
        self.collect(None, events, now)
    }

    /// What the producer last read of each interaction, by id (absent: never read).
    pub fn collected(&self, ids: &[String]) -> Result<Vec<Option<Collected>>, ChannelError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(COLLECTED)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(
                table
                    .get(id.as_str())?
                    .map(|v| Collected::from_row(v.value())),
            );
        }
        Ok(out)
    }

    /// Puts an interaction's events in the outbox (as [`ChannelDb::enqueue`])
    /// and records what was read of it, in one transaction: the record never
    /// claims events that are not durable.
    pub fn collect(
        &self,
        read: Option<(&str, Collected)>,
        events: &[NewEvent],
        now: Millis,
    ) -> Result<usize, ChannelError> {
        let mut txn = self.db.begin_write()?;
        if let Some((id, seen)) = read {
            let unchanged = {
                let mut table = txn.open_table(COLLECTED)?;
                let before = table.insert(id, seen.row())?.map(|v| v.value());
                before == Some(seen.row())
            };
            if events.is_empty() {
                if unchanged {
                    txn.abort()?;
                    return Ok(0);
                }
                // A lost record only makes a catch-up read the interaction
                // again: no need to wait for the disk (if refused, it waits).
                let _ = txn.set_durability(Durability::None);
            }
        }
        let mut added = 0;
        {
            let mut meta = txn.open_table(META)?;
            let mut outbox = txn.open_table(OUTBOX)?;
            let mut sent = txn.open_table(SENT)?;
            let mut seq = match meta.get("outbox_seq")? {
                Some(v) => <[u8; 8]>::try_from(v.value())
                    .map(u64::from_be_bytes)
                    .map_err(|_| corrupt("outbox sequence", "wrong length"))?,
                None => 0,
            };
            for e in events {
                if sent.get(e.event_id.as_str())?.is_some() {
                    continue;
                }
                seq += 1;
                let entry = OutboxEntry {
                    seq,
                    event_id: e.event_id.clone(),
                    event_type: e.event_type.clone(),
                    campaign_id: e.campaign_id.clone(),
                    body: e.body.clone(),
                    attempts: 0,
                    created_at: now,
                    last_error: None,
                };
                let bytes = serde_json::to_vec(&entry).map_err(|e| corrupt("outbox entry", e))?;
                outbox.insert((now, seq), bytes.as_slice())?;
                sent.insert(e.event_id.as_str(), now)?;
                added += 1;
            }
            meta.insert("outbox_seq", seq.to_be_bytes().as_slice())?;
        }
        txn.commit()?;
        Ok(added)
    }

    /// Up to `limit` deliveries due at `now`, soonest first.
    pub fn due(
        &self,
        now: Millis,
        limit: usize,
    ) -> Result<Vec<(OutboxKey, OutboxEntry)>, ChannelError> {
        let txn = self.db.begin_read()?;
        let outbox = txn.open_table(OUTBOX)?;
        let mut out = Vec::new();
        for row in outbox.range((i64::MIN, 0)..=(now, u64::MAX))?.take(limit) {
            let (k, v) = row?;
            let entry: OutboxEntry =
                serde_json::from_slice(v.value()).map_err(|e| corrupt("outbox entry", e))?;
            out.push((k.value(), entry));
        }
        Ok(out)
    }

    /// When the next delivery is due, if any is waiting.
    pub fn next_due(&self) -> Result<Option<Millis>, ChannelError> {
        let txn = self.db.begin_read()?;
        let outbox = txn.open_table(OUTBOX)?;
        Ok(outbox.first()?.map(|(k, _)| k.value().0))
    }

    /// How many deliveries wait.
    pub fn pending(&self) -> Result<u64, ChannelError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(OUTBOX)?.len()?)
    }

    /// Removes a delivered (or abandoned) entry.
    pub fn remove(&self, key: OutboxKey) -> Result<(), ChannelError> {
        let txn = self.db.begin_write()?;
        txn.open_table(OUTBOX)?.remove(key)?;
        txn.commit()?;
        Ok(())
    }

    /// Takes an entry out of the outbox for good, keeping it with the reason
    /// among the permanent failures.
    pub fn fail(
        &self,
        key: OutboxKey,
        mut entry: OutboxEntry,
        error: String,
    ) -> Result<(), ChannelError> {
        let bytes = failed_attempt(&mut entry, error)?;
        let txn = self.db.begin_write()?;
        {
            txn.open_table(OUTBOX)?.remove(key)?;
            txn.open_table(FAILED)?
                .insert(entry.event_id.as_str(), bytes.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// The permanent failures, by event id.
    pub fn failed(&self) -> Result<Vec<OutboxEntry>, ChannelError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(FAILED)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, v) = row?;
            out.push(serde_json::from_slice(v.value()).map_err(|e| corrupt("failed entry", e))?);
        }
        Ok(out)
    }

    /// Moves a failed entry to its next attempt.
    pub fn reschedule(
        &self,
        key: OutboxKey,
        mut entry: OutboxEntry,
        next_at: Millis,
        error: String,
    ) -> Result<(), ChannelError> {
        let bytes = failed_attempt(&mut entry, error)?;
        let txn = self.db.begin_write()?;
        {
            let mut outbox = txn.open_table(OUTBOX)?;
            outbox.remove(key)?;
            outbox.insert((next_at, entry.seq), bytes.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> NewEvent {
        NewEvent {
            event_id: id.into(),
            event_type: "message.created".into(),
            campaign_id: "c".into(),
            body: "{}".into(),
        }
    }

    #[test]
    fn read_marks_are_kept_with_their_events_and_survive_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let read = |messages, finalized_at| Collected {
            messages,
            finalized_at,
        };
        {
            let db = ChannelDb::open(dir.path()).expect("open");
            assert_eq!(db.collected(&["i1".into()]).expect("read"), vec![None]);
            // Read with no events owed: recorded all the same.
            assert_eq!(
                db.collect(Some(("i1", read(1, None))), &[], 5)
                    .expect("collect"),
                0
            );
            // Then an agent's message: the event and the new mark together.
            assert_eq!(
                db.collect(Some(("i1", read(2, None))), &[event("m1")], 6)
                    .expect("collect"),
                1
            );
            // The same read again changes nothing.
            assert_eq!(
                db.collect(Some(("i1", read(2, None))), &[], 7)
                    .expect("collect"),
                0
            );
            db.collect(Some(("i2", read(3, Some(99)))), &[event("f2")], 8)
                .expect("collect");
        }
        let db = ChannelDb::open(dir.path()).expect("reopen");
        assert_eq!(
            db.collected(&["i1".into(), "i2".into(), "i3".into()])
                .expect("read"),
            vec![Some(read(2, None)), Some(read(3, Some(99))), None]
        );
        assert_eq!(db.pending().expect("pending"), 2);
        // Events already put in the outbox are not put there again.
        assert_eq!(
            db.collect(Some(("i1", read(2, None))), &[event("m1")], 9)
                .expect("collect"),
            0
        );
    }

    #[test]
    fn outbox_orders_dedupes_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = {
            let db = ChannelDb::open(dir.path()).expect("open");
            assert_eq!(
                db.enqueue(&[event("a"), event("b")], 10).expect("enqueue"),
                2
            );
            assert_eq!(db.enqueue(&[event("a")], 11).expect("enqueue"), 0);
            let due = db.due(10, 10).expect("due");
            assert_eq!(due.len(), 2);
            let (key, entry) = due[0].clone();
            assert_eq!(entry.event_id, "a");
            db.reschedule(key, entry, 100, "HTTP 500".into())
                .expect("reschedule");
            assert_eq!(db.due(50, 10).expect("due").len(), 1);
            assert_eq!(db.next_due().expect("next"), Some(10));
            db.webchat_secret().expect("secret")
        };
        let db = ChannelDb::open(dir.path()).expect("reopen");
        assert_eq!(db.webchat_secret().expect("secret"), secret);
        assert_eq!(db.pending().expect("pending"), 2);
        let due = db.due(100, 10).expect("due");
        let a = due
            .iter()
            .find(|(_, e)| e.event_id == "a")
            .expect("a is kept");
        assert_eq!(a.1.attempts, 1);
        assert_eq!(a.1.last_error.as_deref(), Some("HTTP 500"));
        for (key, _) in due {
            db.remove(key).expect("remove");
        }
        assert_eq!(db.pending().expect("pending"), 0);
    }
}
