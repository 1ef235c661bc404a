//! Deriving projection rows from a document, inside the write transaction of
//! the change. A document that cannot be read is recorded in `malformed` and
//! left out of every projection; it never stops the transaction.

use std::collections::BTreeSet;

use automerge::AutoCommit;
use redb::{
    Database, ReadableDatabase, ReadableMultimapTable, ReadableTable, TableHandle, WriteTransaction,
};

use super::tables::*;
use super::{StoreResult, decode, encode};
use crate::bounds::MENTION_TEXT_CHARS;
use crate::doc::{self, DocError, DocId};
use crate::ids::{AgentId, Millis, TeamId};
use crate::mentions::{self, MentionPlace, MentionSource};
use crate::projection::*;
use crate::types::*;

/// Search scopes as stored in `search_text`.
pub(crate) const SCOPE_QUEUED: u8 = 0;
pub(crate) const SCOPE_ACTIVE: u8 = 1;
pub(crate) const SCOPE_FINALIZED: u8 = 2;
pub(crate) const SCOPE_CONTACTS: u8 = 10;

pub(crate) fn scope_of(state: BaseState) -> u8 {
    match state {
        BaseState::Queued => SCOPE_QUEUED,
        BaseState::Active => SCOPE_ACTIVE,
        BaseState::Finalized => SCOPE_FINALIZED,
    }
}

/// The `interaction_order` key of a summary.
pub(crate) fn order_key(s: &InteractionSummary) -> (u8, i64, i64) {
    match s.base_state() {
        BaseState::Queued => (SCOPE_QUEUED, i64::from(s.priority), s.enqueued_at),
        BaseState::Active => (SCOPE_ACTIVE, -s.last_activity, 0),
        BaseState::Finalized => (
            SCOPE_FINALIZED,
            -s.finalized
                .as_ref()
                .map(|f| f.at)
                .unwrap_or(s.last_activity),
            0,
        ),
    }
}

/// What reading a document gave: the row(s) to project.
pub(crate) enum Row {
    Team(Team),
    Agent(Agent),
    /// The summary, its search text, its notes that may mention someone
    /// and its report row.
    Interaction(
        Box<InteractionSummary>,
        String,
        Vec<MentionSource>,
        Box<crate::report::ReportRow>,
        Vec<String>,
    ),
    Contact(Contact),
    Room(ChatRoom),
}

fn id_mismatch() -> DocError {
    DocError::Invalid {
        path: "id".into(),
        reason: "does not match the document id".into(),
    }
}

pub(crate) fn read_row(doc_id: &DocId, doc: &AutoCommit) -> Result<Row, DocError> {
    Ok(match doc_id {
        DocId::Team(id) => {
            let team = doc::team::read(doc)?;
            if team.id != *id {
                return Err(id_mismatch());
            }
            Row::Team(team)
        }
        DocId::Agent(id) => {
            let agent = doc::agent::read(doc)?;
            if agent.id != *id {
                return Err(id_mismatch());
            }
            Row::Agent(agent)
        }
        DocId::Interaction(id) => {
            let (i, count) = doc::interaction::read_head(doc)?;
            if i.id != *id {
                return Err(id_mismatch());
            }
            let mut text = SearchText::of_interaction(&i);
            let earlier = count.saturating_sub(i.messages.len());
            if !text.is_full() {
                doc::interaction::each_body(doc, earlier, |body| text.push(body))?;
            }
            let mentions = i
                .notes
                .iter()
                .enumerate()
                .map(|(n, note)| MentionSource {
                    id: format!("{doc_id}#note:{n}"),
                    place: MentionPlace::Note { interaction: i.id },
                    author: note.agent,
                    at: note.at,
                    text: note.text.clone(),
                    tails: Vec::new(),
                })
                .collect();
            let marks = if i.channel == crate::types::ChannelKind::Email {
                doc::interaction::mail_marks(doc)?
            } else {
                Vec::new()
            };
            // Message-IDs, then where each fetched mail was found, set
            // apart by a leading U+0001 (no Message-ID holds a control
            // character); `write_row` takes them apart again.
            let mail_ids = marks
                .iter()
                .filter_map(|m| {
                    m.mail_id
                        .as_deref()
                        .and_then(crate::mail::normalize_mail_id)
                })
                .chain(
                    marks
                        .iter()
                        .filter_map(|m| m.uid.as_ref().map(|u| format!("\u{1}{u}"))),
                )
                .collect();
            Row::Interaction(
                Box::new(InteractionSummary::from_head(&i, count)),
                text.finish(),
                mentions,
                Box::new(crate::report::ReportRow::of(&i)),
                mail_ids,
            )
        }
        DocId::Contact(id) => {
            let c = doc::contact::read(doc)?;
            if c.id != *id {
                return Err(id_mismatch());
            }
            Row::Contact(c)
        }
        DocId::Room { room, month } => Row::Room(doc::room::read(doc, *room, month)?),
    })
}

fn write_row(txn: &WriteTransaction, row: Row) -> StoreResult<()> {
    match row {
        Row::Team(team) => {
            txn.open_table(TEAM)?
                .insert("team", encode(&team).as_slice())?;
        }
        Row::Agent(mut agent) => {
            let id = agent.id.to_string();
            put_status_log(txn, &id, &agent.status_history)?;
            // The list and the board read agents after every change: the
            // row keeps no history (reports read `status_log`).
            agent.status_history.clear();
            txn.open_table(AGENTS)?
                .insert(id.as_str(), encode(&agent).as_slice())?;
        }
        Row::Interaction(mut summary, text, mentions, mut report, mail_ids) => {
            let (uids, mail_ids): (Vec<String>, Vec<String>) =
                mail_ids.into_iter().partition(|m| m.starts_with('\u{1}'));
            put_high_water(txn, &uids)?;
            summary.first_mail = mail_ids.first().cloned();
            report.first_mail = summary.first_mail.clone();
            let id = summary.id.to_string();
            put_interaction(txn, Some((&summary, &text)), &id)?;
            put_mail_ids(txn, &id, mail_ids)?;
            put_mentions(txn, &DocId::Interaction(summary.id).to_string(), mentions)?;
            txn.open_table(REPORT_ROWS)?.insert(
                (summary.last_activity, id.as_str()),
                postcard::to_stdvec(&*report).unwrap_or_default().as_slice(),
            )?;
        }
        Row::Contact(c) => put_contact(txn, &c.id.to_string(), (!c.deleted).then_some(&c))?,
        Row::Room(room) => {
            let last = room.messages_in_order().last().copied().cloned();
            let summary = RoomSummary {
                room: room.room,
                message_count: u32::try_from(room.messages.len()).unwrap_or(u32::MAX),
                last_message_preview: last.as_ref().map(|m| preview(&m.body)).unwrap_or_default(),
                last_message_at: last.as_ref().map(|m| m.at),
                last_author: last.as_ref().map(|m| m.author),
            };
            txn.open_table(ROOM_MONTHS)?.insert(
                (room.room.key().as_str(), room.month.as_str()),
                encode(&summary).as_slice(),
            )?;
            let doc_id = DocId::Room {
                room: room.room,
                month: room.month.clone(),
            }
            .to_string();
            let mentions = room
                .messages
                .iter()
                .map(|m| MentionSource {
                    id: format!("{doc_id}#{}", m.id),
                    place: MentionPlace::Chat { room: room.room },
                    author: m.author,
                    at: m.at,
                    text: m.body.clone(),
                    tails: Vec::new(),
                })
                .collect();
            put_mentions(txn, &doc_id, mentions)?;
        }
    }
    Ok(())
}

/// Raises each mailbox's high-water mark to the fetched mails' UIDs.
fn put_high_water(txn: &WriteTransaction, uids: &[String]) -> StoreResult<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let mut table = txn.open_table(MAIL_HIGH_WATER)?;
    for mark in uids {
        let Some((campaign, validity, uid)) =
            crate::mail::parse_uid_mark(mark.trim_start_matches('\u{1}'))
        else {
            continue;
        };
        let campaign = campaign.to_string();
        let old = table
            .get((campaign.as_str(), validity))?
            .map(|v| v.value())
            .unwrap_or(0);
        if uid > old {
            table.insert((campaign.as_str(), validity), uid)?;
        }
    }
    Ok(())
}

/// Replaces an interaction's rows in `mail_holders` with `ids`.
fn put_mail_ids(txn: &WriteTransaction, id: &str, ids: Vec<String>) -> StoreResult<()> {
    let mut docs = txn.open_table(MAIL_DOCS)?;
    let old: Vec<String> = match docs.get(id)? {
        Some(v) => serde_json::from_slice(v.value()).unwrap_or_default(),
        None => Vec::new(),
    };
    if old.is_empty() && ids.is_empty() {
        return Ok(());
    }
    let mut holders = txn.open_multimap_table(MAIL_HOLDERS)?;
    for mail in old.iter().filter(|m| !ids.contains(m)) {
        holders.remove(mail.as_str(), id)?;
    }
    for mail in &ids {
        holders.insert(mail.as_str(), id)?;
    }
    if ids.is_empty() {
        docs.remove(id)?;
    } else {
        docs.insert(id, serde_json::to_vec(&ids).unwrap_or_default().as_slice())?;
    }
    Ok(())
}

/// Replaces an agent's rows in `status_log` with `log`.
fn put_status_log(txn: &WriteTransaction, agent: &str, log: &[StatusChange]) -> StoreResult<()> {
    let mut table = txn.open_table(STATUS_LOG)?;
    table.retain_in(
        (agent, i64::MIN, 0)..=(agent, i64::MAX, u32::MAX),
        |_, _| false,
    )?;
    for (n, change) in log.iter().enumerate() {
        let (kind, reason) = match &change.status {
            AgentStatus::Available => ("available", ""),
            AgentStatus::Break { reason } => ("break", reason.as_str()),
            AgentStatus::Offline => ("offline", ""),
        };
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        table.insert((agent, change.at, n), (kind, reason))?;
    }
    Ok(())
}

/// Replaces a document's rows in the mention index with those of `sources`
/// that hold an `@` which may start a mention.
fn put_mentions(txn: &WriteTransaction, doc: &str, sources: Vec<MentionSource>) -> StoreResult<()> {
    let mut words = txn.open_table(MENTION_WORDS)?;
    let mut docs = txn.open_table(MENTION_DOCS)?;
    let old: Vec<(String, i64, String)> = match docs.get(doc)? {
        Some(v) => decode("mention_docs", v.value())?,
        None => Vec::new(),
    };
    for (word, at, id) in &old {
        words.remove((word.as_str(), *at, id.as_str()))?;
    }
    let mut keys = Vec::new();
    for mut source in sources {
        source.tails = mentions::tails(&source.text);
        if source.tails.is_empty() {
            continue;
        }
        let found: std::collections::BTreeSet<String> = source
            .tails
            .iter()
            .map(|t| mentions::index_word(t))
            .collect();
        if source.text.chars().count() > MENTION_TEXT_CHARS {
            source.text = source.text.chars().take(MENTION_TEXT_CHARS).collect();
        }
        let row = encode(&source);
        for word in found {
            words.insert(
                (word.as_str(), source.at, source.id.as_str()),
                row.as_slice(),
            )?;
            keys.push((word, source.at, source.id.clone()));
        }
    }
    if keys.is_empty() {
        if !old.is_empty() {
            docs.remove(doc)?;
        }
    } else {
        docs.insert(doc, encode(&keys).as_slice())?;
    }
    Ok(())
}

pub(crate) fn project(txn: &WriteTransaction, doc_id: &DocId, doc: &AutoCommit) -> StoreResult<()> {
    write_projection(txn, doc_id, read_row(doc_id, doc))
}

/// Writes what [`read_row`] gave: the row, or the document recorded as malformed.
pub(crate) fn write_projection(
    txn: &WriteTransaction,
    doc_id: &DocId,
    read: Result<Row, DocError>,
) -> StoreResult<()> {
    let key = doc_id.to_string();
    // Only the team this device created or joined is ever the team.
    let read = match (doc_id, read) {
        (DocId::Team(id), Ok(_)) if !is_own_team(txn, *id)? => Err(DocError::Invalid {
            path: "id".into(),
            reason: "not this device's team".into(),
        }),
        (_, read) => read,
    };
    match read {
        Ok(row) => {
            write_row(txn, row)?;
            txn.open_table(MALFORMED)?.remove(key.as_str())?;
        }
        Err(reason) if doc_id.kind() == crate::doc::DocKind::Team => {
            // An unreadable team document never takes the roster away.
            tracing::warn!(doc = %key, %reason, "team document left out of the projections");
            txn.open_table(MALFORMED)?
                .insert(key.as_str(), reason.to_string().as_str())?;
        }
        Err(reason) => {
            tracing::warn!(doc = %key, %reason, "malformed document left out of the projections");
            txn.open_table(MALFORMED)?
                .insert(key.as_str(), reason.to_string().as_str())?;
            remove_projection(txn, doc_id)?;
        }
    }
    Ok(())
}

/// Whether `team` is this device's team: the one its identity names, or,
/// before the identity is written (while a team is being created or
/// joined), the first team projected.
fn is_own_team(txn: &WriteTransaction, team: TeamId) -> StoreResult<bool> {
    if let Some(identity) = txn.open_table(LOCAL)?.get("identity")? {
        let identity: crate::store::LocalIdentity = decode("local", identity.value())?;
        return Ok(identity.team == team);
    }
    Ok(match txn.open_table(TEAM)?.get("team")? {
        Some(row) => decode::<Team>("team", row.value())?.id == team,
        None => true,
    })
}

/// The agent a row is listed under in its state: an active one's owner, a
/// finalized one's History owner; "" for queued ones.
pub(crate) fn list_owner(s: &InteractionSummary) -> String {
    match s.base_state() {
        BaseState::Active => s.owner.map(|a| a.to_string()).unwrap_or_default(),
        BaseState::Finalized => s.history_owner().map(|a| a.to_string()).unwrap_or_default(),
        BaseState::Queued => String::new(),
    }
}

/// A finalized interaction's History facets as `history_facets` keeps them:
/// channel, disposition and tags, lowercase (tags joined by `\n`).
pub(crate) fn history_facets(s: &InteractionSummary) -> Option<(String, String, String)> {
    let f = s.finalized.as_ref()?;
    let tags: Vec<String> = s.tags.iter().map(|t| t.trim().to_lowercase()).collect();
    Some((
        s.channel.as_str().to_string(),
        f.disposition.trim().to_lowercase(),
        tags.join("\n"),
    ))
}

/// The `list_counts` keys a summary counts under: its state, and for an
/// active or finalized one, its owner's rows in that state.
fn count_keys(s: &InteractionSummary) -> [Option<(u8, String)>; 2] {
    let scope = scope_of(s.base_state());
    let owner = list_owner(s);
    let owned = (!owner.is_empty()).then_some((scope, owner));
    [Some((scope, String::new())), owned]
}

/// Adds `delta` to a count, removing it at zero so a rebuild writes the same rows.
fn bump(
    counts: &mut redb::Table<'_, (u8, &'static str), u64>,
    key: &(u8, String),
    delta: i64,
) -> StoreResult<()> {
    let now = counts
        .get((key.0, key.1.as_str()))?
        .map(|v| v.value())
        .unwrap_or(0);
    let next = now.saturating_add_signed(delta);
    if next == 0 {
        counts.remove((key.0, key.1.as_str()))?;
    } else {
        counts.insert((key.0, key.1.as_str()), next)?;
    }
    Ok(())
}

/// Where `local` counts the changes to the claim and finish rows.
pub(crate) const HISTORY_VERSION_KEY: &str = "history_version";

/// The count of changes to the claim and finish rows (what
/// `Store::agent_history` reads), in the transaction's view.
pub(crate) fn history_version(
    local: &impl redb::ReadableTable<&'static str, &'static [u8]>,
) -> StoreResult<u64> {
    Ok(local
        .get(HISTORY_VERSION_KEY)?
        .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

/// Where `local` counts the changes to which contacts are live and what
/// they are merged into (what `Store::contact_merges` reads).
pub(crate) const MERGES_VERSION_KEY: &str = "merges_version";

/// The count of changes to the merges in force, in the transaction's view.
pub(crate) fn merges_version(
    local: &impl redb::ReadableTable<&'static str, &'static [u8]>,
) -> StoreResult<u64> {
    Ok(local
        .get(MERGES_VERSION_KEY)?
        .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

fn bump_merges_version(txn: &WriteTransaction) -> StoreResult<()> {
    let mut local = txn.open_table(LOCAL)?;
    let next = merges_version(&local)?.wrapping_add(1);
    local.insert(MERGES_VERSION_KEY, next.to_be_bytes().as_slice())?;
    Ok(())
}

fn bump_history_version(txn: &WriteTransaction) -> StoreResult<()> {
    let mut local = txn.open_table(LOCAL)?;
    let next = history_version(&local)?.wrapping_add(1);
    local.insert(HISTORY_VERSION_KEY, next.to_be_bytes().as_slice())?;
    Ok(())
}

/// The `claimed_by` row of an interaction: its owner and when the round they
/// own began (where the assignment sits on the round-robin timeline), once
/// it is finalized. Active ones are not there: routing reads them from the
/// open interactions, each at its place in the queue (see `routing`).
fn assignment_row(s: &InteractionSummary) -> Option<(AgentId, Millis)> {
    match (s.owner, &s.finalized) {
        (Some(owner), Some(_)) => Some((owner, s.round_started_at)),
        _ => None,
    }
}

/// Where `tag_uses` counts interactions' tags and contacts' tags.
pub(crate) const TAGS_OF_INTERACTIONS: u8 = 0;
pub(crate) const TAGS_OF_CONTACTS: u8 = 1;

/// Moves one document's tag uses from `old` to `new` in `tag_uses`.
fn count_tags<'a>(
    txn: &WriteTransaction,
    kind: u8,
    old: impl IntoIterator<Item = &'a String>,
    new: impl IntoIterator<Item = &'a String>,
) -> StoreResult<()> {
    let old: BTreeSet<&str> = old.into_iter().map(|t| t.trim()).collect();
    let new: BTreeSet<&str> = new.into_iter().map(|t| t.trim()).collect();
    if old == new {
        return Ok(());
    }
    let mut uses = txn.open_table(TAG_USES)?;
    for tag in old.difference(&new).filter(|t| !t.is_empty()) {
        let now = uses.get((kind, *tag))?.map(|v| v.value()).unwrap_or(0);
        if now <= 1 {
            uses.remove((kind, *tag))?;
        } else {
            uses.insert((kind, *tag), now - 1)?;
        }
    }
    for tag in new.difference(&old).filter(|t| !t.is_empty()) {
        let now = uses.get((kind, *tag))?.map(|v| v.value()).unwrap_or(0);
        uses.insert((kind, *tag), now.saturating_add(1))?;
    }
    Ok(())
}

fn put_interaction(
    txn: &WriteTransaction,
    new: Option<(&InteractionSummary, &str)>,
    id: &str,
) -> StoreResult<()> {
    let mut rows = txn.open_table(INTERACTIONS)?;
    let old: Option<InteractionSummary> = match rows.get(id)? {
        Some(v) => Some(decode("interactions", v.value())?),
        None => None,
    };
    let mut order = txn.open_table(INTERACTION_ORDER)?;
    let mut by_owner = txn.open_table(ACTIVE_BY_OWNER)?;
    let mut closed_by_owner = txn.open_table(FINALIZED_BY_OWNER)?;
    let mut facets = txn.open_table(HISTORY_FACETS)?;
    let mut counts = txn.open_table(LIST_COUNTS)?;
    let mut search = txn.open_table(SEARCH_ROWS)?;
    let mut claimed = txn.open_table(CLAIMED_BY)?;
    let mut finished = txn.open_table(FINISHED_BY)?;
    let mut by_contact = txn.open_multimap_table(CONTACT_INTERACTIONS)?;
    // What `agent_history` reads changed: its cached answer is stale.
    let history = |s: &InteractionSummary| (assignment_row(s), s.finalized.clone());
    if old.as_ref().map(history) != new.map(|(n, _)| history(n)) {
        bump_history_version(txn)?;
    }
    count_tags(
        txn,
        TAGS_OF_INTERACTIONS,
        old.iter().flat_map(|o| &o.tags),
        new.iter().flat_map(|(n, _)| &n.tags),
    )?;
    let old_counts = old.as_ref().map(count_keys).unwrap_or_default();
    let new_counts = new.map(|(n, _)| count_keys(n)).unwrap_or_default();
    for key in old_counts.iter().flatten() {
        if !new_counts.contains(&Some(key.clone())) {
            bump(&mut counts, key, -1)?;
        }
    }
    for key in new_counts.iter().flatten() {
        if !old_counts.contains(&Some(key.clone())) {
            bump(&mut counts, key, 1)?;
        }
    }
    if let Some(old) = &old {
        let (s, a, b) = order_key(old);
        order.remove((s, a, b, id))?;
        let owner = list_owner(old);
        match old.base_state() {
            BaseState::Active if !owner.is_empty() => {
                by_owner.remove((owner.as_str(), a, b, id))?;
            }
            BaseState::Finalized => {
                closed_by_owner.remove((owner.as_str(), a, b, id))?;
                facets.remove(id)?;
            }
            _ => {}
        }
        search.remove((scope_of(old.base_state()), id))?;
        txn.open_table(REPORT_ROWS)?
            .remove((old.last_activity, id))?;
        if let Some((agent, at)) = assignment_row(old) {
            claimed.remove((agent.to_string().as_str(), at, id))?;
        }
        if let Some(f) = &old.finalized {
            finished.remove((f.agent.to_string().as_str(), f.at, id))?;
        }
        if let Some(c) = old.contact {
            by_contact.remove(c.to_string().as_str(), id)?;
        }
    }
    let mut open = txn.open_table(OPEN_HEADS)?;
    match new.filter(|(n, _)| n.finalized.is_none()) {
        Some((n, _)) => {
            let head = postcard::to_stdvec(&crate::board::OpenHead::of(n)).unwrap_or_default();
            open.insert(id, head.as_slice())?;
        }
        None => {
            open.remove(id)?;
        }
    }
    match new {
        Some((new, text)) => {
            rows.insert(id, encode(new).as_slice())?;
            let (s, a, b) = order_key(new);
            order.insert((s, a, b, id), ())?;
            let owner = list_owner(new);
            match new.base_state() {
                BaseState::Active if !owner.is_empty() => {
                    by_owner.insert((owner.as_str(), a, b, id), ())?;
                }
                BaseState::Finalized => {
                    closed_by_owner.insert((owner.as_str(), a, b, id), ())?;
                }
                _ => {}
            }
            if let Some((channel, disposition, tags)) = history_facets(new) {
                facets.insert(id, (channel.as_str(), disposition.as_str(), tags.as_str()))?;
            }
            let campaign = new.campaign.to_string();
            search.insert(
                (scope_of(new.base_state()), id),
                (owner.as_str(), campaign.as_str(), text),
            )?;
            if let Some((agent, at)) = assignment_row(new) {
                claimed.insert((agent.to_string().as_str(), at, id), ())?;
            }
            if let Some(f) = &new.finalized {
                finished.insert((f.agent.to_string().as_str(), f.at, id), f.wrapup_until)?;
            }
            if let Some(c) = new.contact {
                by_contact.insert(c.to_string().as_str(), id)?;
            }
        }
        None => {
            rows.remove(id)?;
        }
    }
    Ok(())
}

fn put_contact(txn: &WriteTransaction, id: &str, new: Option<&Contact>) -> StoreResult<()> {
    let old_sender = put_contact_rows(txn, id, new)?;
    let new_sender = new.and_then(|c| c.mail_sender.clone());
    if old_sender.is_none() && new_sender.is_none() {
        return Ok(());
    }
    {
        let mut senders = txn.open_multimap_table(MAIL_SENDERS)?;
        if let Some(s) = &old_sender {
            senders.remove(s.as_str(), id)?;
        }
        if let Some(s) = &new_sender {
            senders.insert(s.as_str(), id)?;
        }
    }
    // Gone from its group (deleted, or its address changed): no edge.
    let mut changed = txn.open_table(SENDER_MERGES)?.remove(id)?.is_some();
    for sender in old_sender.iter().chain(
        new_sender
            .iter()
            .filter(|s| Some(*s) != old_sender.as_ref()),
    ) {
        changed |= put_sender_merges(txn, sender)?;
    }
    if changed {
        bump_merges_version(txn)?;
    }
    Ok(())
}

/// Points every contact mail intake made for `sender` at the smallest id
/// among them, but those whose merge someone set or cleared by hand
/// (their own choice stands). Whether any row changed.
fn put_sender_merges(txn: &WriteTransaction, sender: &str) -> StoreResult<bool> {
    let ids: Vec<String> = txn
        .open_multimap_table(MAIL_SENDERS)?
        .get(sender)?
        .map(|v| v.map(|v| v.value().to_string()))
        .collect::<Result<_, _>>()?;
    let rows = txn.open_table(CONTACTS)?;
    let mut edges = txn.open_table(SENDER_MERGES)?;
    let mut changed = false;
    // Multimap values come in order: the first is the smallest id.
    let survivor = ids.first();
    for id in &ids {
        let by_hand = match rows.get(id.as_str())? {
            Some(v) => decode::<Contact>("contacts", v.value())?.merged_at != 0,
            None => true,
        };
        let wanted = survivor.filter(|s| *s != id && !by_hand);
        let old = edges.get(id.as_str())?.map(|v| v.value().to_string());
        if old.as_ref() != wanted {
            changed = true;
            match wanted {
                Some(s) => edges.insert(id.as_str(), s.as_str())?,
                None => edges.remove(id.as_str())?,
            };
        }
    }
    Ok(changed)
}

/// Writes a contact's own rows; answers the `mail_sender` it had.
fn put_contact_rows(
    txn: &WriteTransaction,
    id: &str,
    new: Option<&Contact>,
) -> StoreResult<Option<String>> {
    let mut rows = txn.open_table(CONTACTS)?;
    let old: Option<Contact> = match rows.get(id)? {
        Some(v) => Some(decode("contacts", v.value())?),
        None => None,
    };
    count_tags(
        txn,
        TAGS_OF_CONTACTS,
        old.iter().flat_map(|o| &o.tags),
        new.iter().flat_map(|n| &n.tags),
    )?;
    let mut order = txn.open_table(CONTACT_ORDER)?;
    let mut search = txn.open_table(SEARCH_ROWS)?;
    let mut emails = txn.open_multimap_table(CONTACT_EMAIL)?;
    // A contact that comes or goes, or a merge set or cleared, changes
    // which merges are in force: the kept answer is stale.
    if old.as_ref().map(|o| o.merged_into) != new.map(|n| n.merged_into) {
        bump_merges_version(txn)?;
    }
    let mut merges = txn.open_table(CONTACT_MERGES)?;
    match new.and_then(|c| c.merged_into) {
        Some(into) => {
            merges.insert(id, into.to_string().as_str())?;
        }
        None => {
            merges.remove(id)?;
        }
    }
    if let Some(old) = &old {
        order.remove((old.name.to_lowercase().as_str(), id))?;
        search.remove((SCOPE_CONTACTS, id))?;
        for e in &old.emails {
            emails.remove(e.to_lowercase().as_str(), id)?;
        }
    }
    match new {
        Some(c) => {
            rows.insert(id, encode(c).as_slice())?;
            order.insert((c.name.to_lowercase().as_str(), id), ())?;
            search.insert((SCOPE_CONTACTS, id), ("", "", c.search_text().as_str()))?;
            for e in &c.emails {
                emails.insert(e.to_lowercase().as_str(), id)?;
            }
        }
        None => {
            rows.remove(id)?;
        }
    }
    Ok(old.and_then(|o| o.mail_sender))
}

pub(crate) fn remove_projection(txn: &WriteTransaction, doc_id: &DocId) -> StoreResult<()> {
    match doc_id {
        DocId::Team(_) => {
            txn.open_table(TEAM)?.remove("team")?;
        }
        DocId::Agent(id) => {
            let id = id.to_string();
            txn.open_table(AGENTS)?.remove(id.as_str())?;
            put_status_log(txn, &id, &[])?;
        }
        DocId::Interaction(id) => {
            put_interaction(txn, None, &id.to_string())?;
            put_mail_ids(txn, &id.to_string(), Vec::new())?;
            put_mentions(txn, &doc_id.to_string(), Vec::new())?;
        }
        DocId::Contact(id) => put_contact(txn, &id.to_string(), None)?,
        DocId::Room { room, month } => {
            txn.open_table(ROOM_MONTHS)?
                .remove((room.key().as_str(), month.as_str()))?;
            put_mentions(txn, &doc_id.to_string(), Vec::new())?;
        }
    }
    Ok(())
}

pub(crate) fn clear_all(txn: &WriteTransaction) -> StoreResult<()> {
    macro_rules! clear {
        ($def:expr) => {{
            let mut t = txn.open_table($def)?;
            t.retain(|_, _| false)?;
        }};
    }
    clear!(TEAM);
    clear!(AGENTS);
    clear!(INTERACTIONS);
    clear!(INTERACTION_ORDER);
    clear!(ACTIVE_BY_OWNER);
    clear!(FINALIZED_BY_OWNER);
    clear!(HISTORY_FACETS);
    clear!(LIST_COUNTS);
    clear!(TAG_USES);
    clear!(SEARCH_ROWS);
    clear!(CLAIMED_BY);
    clear!(FINISHED_BY);
    bump_history_version(txn)?;
    clear!(CONTACTS);
    clear!(CONTACT_ORDER);
    clear!(CONTACT_MERGES);
    clear!(SENDER_MERGES);
    bump_merges_version(txn)?;
    clear!(ROOM_MONTHS);
    clear!(MENTION_WORDS);
    clear!(MENTION_DOCS);
    clear!(REPORT_ROWS);
    clear!(OPEN_HEADS);
    clear!(STATUS_LOG);
    clear!(MALFORMED);
    clear!(MAIL_DOCS);
    clear!(MAIL_HIGH_WATER);
    // The search text of projection version 1.
    let legacy: Vec<_> = txn
        .list_tables()?
        .filter(|t| t.name() == "search_text")
        .collect();
    for table in legacy {
        txn.delete_table(table)?;
    }
    for def in [
        CONTACT_INTERACTIONS,
        CONTACT_EMAIL,
        MAIL_HOLDERS,
        MAIL_SENDERS,
    ] {
        let mut t = txn.open_multimap_table(def)?;
        let keys: Vec<String> = t
            .iter()?
            .map(|r| r.map(|(k, _)| k.value().to_string()))
            .collect::<Result<_, _>>()?;
        for k in keys {
            t.remove_all(k.as_str())?;
        }
    }
    Ok(())
}

/// Every projection row of `$txn` (a read or a write transaction), as bytes, in key order.
macro_rules! dump_rows {
    ($txn:expr) => {{
        let txn = &$txn;
        let mut out = Vec::new();
        macro_rules! dump_table {
            ($name:literal, $def:expr) => {{
                let t = txn.open_table($def)?;
                for row in t.iter()? {
                    let (k, v) = row?;
                    out.push((
                        format!("{}:{:?}", $name, k.value()),
                        format!("{:?}", v.value()).into_bytes(),
                    ));
                }
            }};
        }
        dump_table!("team", TEAM);
        dump_table!("agents", AGENTS);
        dump_table!("interactions", INTERACTIONS);
        dump_table!("interaction_order", INTERACTION_ORDER);
        dump_table!("active_by_owner", ACTIVE_BY_OWNER);
        dump_table!("finalized_by_owner", FINALIZED_BY_OWNER);
        dump_table!("history_facets", HISTORY_FACETS);
        dump_table!("list_counts", LIST_COUNTS);
        dump_table!("tag_uses", TAG_USES);
        dump_table!("search_rows", SEARCH_ROWS);
        dump_table!("claimed_by", CLAIMED_BY);
        dump_table!("finished_by", FINISHED_BY);
        dump_table!("contacts", CONTACTS);
        dump_table!("contact_order", CONTACT_ORDER);
        dump_table!("contact_merges", CONTACT_MERGES);
        dump_table!("sender_merges", SENDER_MERGES);
        dump_table!("room_months", ROOM_MONTHS);
        dump_table!("mention_words", MENTION_WORDS);
        dump_table!("mention_docs", MENTION_DOCS);
        dump_table!("report_rows", REPORT_ROWS);
        dump_table!("open_heads", OPEN_HEADS);
        dump_table!("status_log", STATUS_LOG);
        dump_table!("malformed", MALFORMED);
        dump_table!("mail_docs", MAIL_DOCS);
        dump_table!("mail_high_water", MAIL_HIGH_WATER);
        for (name, def) in [
            ("contact_interactions", CONTACT_INTERACTIONS),
            ("contact_email", CONTACT_EMAIL),
            ("mail_holders", MAIL_HOLDERS),
            ("mail_senders", MAIL_SENDERS),
        ] {
            let t = txn.open_multimap_table(def)?;
            for row in t.iter()? {
                let (k, values) = row?;
                for v in values {
                    out.push((
                        format!("{name}:{}", k.value()),
                        v?.value().as_bytes().to_vec(),
                    ));
                }
            }
        }
        Ok(out)
    }};
}

pub(crate) fn dump(db: &Database) -> StoreResult<Vec<(String, Vec<u8>)>> {
    let txn = db.begin_read()?;
    dump_rows!(txn)
}

/// [`dump`] as a write transaction sees it (what it would commit).
pub(crate) fn dump_uncommitted(txn: &WriteTransaction) -> StoreResult<Vec<(String, Vec<u8>)>> {
    dump_rows!(txn)
}
