//! What only this device keeps ([`LocalMarks`]), apart from the replicated
//! documents and their projections (the store's own methods) and what sync
//! needs ([`super::Replication`], in `whole.rs`).

use super::tables::*;
use super::*;

/// What only this device keeps, never replicated: how far the agent has
/// read each interaction and room, and where teammates' nodes were last heard.
pub trait LocalMarks {
    /// Remembers a peer's addresses across restarts.
    fn remember_peer_addrs(&mut self, peer: &str, addrs: &[String]) -> StoreResult<()>;

    fn known_peer_addrs(&self) -> StoreResult<Vec<(String, Vec<String>)>>;

    /// Records how many messages of an interaction or room this device has read.
    /// Not fsynced on its own: a read mark is worth no disk flush, and it
    /// becomes durable with the next durable commit.
    fn mark_read(&mut self, key: &str, count: u32) -> StoreResult<()>;

    /// How many messages of an interaction or room this device has read.
    fn read_mark(&self, key: &str) -> StoreResult<u32>;

    /// Records that the agent has seen these mentions (by source id) on this
    /// device. Not fsynced on its own, like read marks.
    fn mark_mentions_seen(&mut self, ids: &[String]) -> StoreResult<()>;

    /// Whether the agent has seen this mention on this device.
    fn mention_seen(&self, id: &str) -> StoreResult<bool>;

    /// Records that these snoozes (interaction, due time) were announced on
    /// this device. Durable: a restart must not announce them again.
    fn mark_snoozes_announced(&mut self, due: &[(InteractionId, Millis)]) -> StoreResult<()>;

    /// Whether this snooze's due time was announced on this device.
    fn snooze_announced(&self, id: InteractionId, until: Millis) -> StoreResult<bool>;
}

/// Where a snooze's announced mark is kept in `read_marks`: per due time,
/// so a later snooze of the same interaction is announced again.
fn announced_key(id: InteractionId, until: Millis) -> String {
    format!("snooze:{id}:{until}")
}

/// Where a mention's seen mark is kept in `read_marks`.
fn seen_key(id: &str) -> String {
    format!("mention:{id}")
}

impl LocalMarks for Store {
    fn remember_peer_addrs(&mut self, peer: &str, addrs: &[String]) -> StoreResult<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(PEER_ADDRS)?
            .insert(peer, encode(&addrs.to_vec()).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    fn known_peer_addrs(&self) -> StoreResult<Vec<(String, Vec<String>)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PEER_ADDRS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push((k.value().to_string(), decode("peer_addrs", v.value())?));
        }
        Ok(out)
    }

    fn mark_read(&mut self, key: &str, count: u32) -> StoreResult<()> {
        let mut txn = self.db.begin_write()?;
        if let Err(e) = txn.set_durability(redb::Durability::None) {
            tracing::debug!(%e, "read mark committed durably");
        }
        txn.open_table(READ_MARKS)?.insert(key, count)?;
        txn.commit()?;
        Ok(())
    }

    fn mark_mentions_seen(&mut self, ids: &[String]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut txn = self.db.begin_write()?;
        if let Err(e) = txn.set_durability(redb::Durability::None) {
            tracing::debug!(%e, "mention marks committed durably");
        }
        {
            let mut marks = txn.open_table(READ_MARKS)?;
            for id in ids {
                marks.insert(seen_key(id).as_str(), 1)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    fn mention_seen(&self, id: &str) -> StoreResult<bool> {
        Ok(self.read_mark(&seen_key(id))? > 0)
    }

    fn mark_snoozes_announced(&mut self, due: &[(InteractionId, Millis)]) -> StoreResult<()> {
        if due.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write()?;
        {
            let mut marks = txn.open_table(READ_MARKS)?;
            for (id, until) in due {
                marks.insert(announced_key(*id, *until).as_str(), 1)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    fn snooze_announced(&self, id: InteractionId, until: Millis) -> StoreResult<bool> {
        Ok(self.read_mark(&announced_key(id, until))? > 0)
    }

    fn read_mark(&self, key: &str) -> StoreResult<u32> {
        let txn = self.db().begin_read()?;
        Ok(txn
            .open_table(READ_MARKS)?
            .get(key)?
            .map(|v| v.value())
            .unwrap_or(0))
    }
}
