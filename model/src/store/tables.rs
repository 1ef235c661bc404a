//! The redb tables (DESIGN §4). Every table a change touches is written in the
//! same write transaction as the change itself.

use redb::{MultimapTableDefinition, TableDefinition};

/// `doc_id → full Automerge save`.
pub const DOC_SNAPSHOT: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("doc_snapshot");
/// `(doc_id, seq) → save_incremental bytes` written since the snapshot.
pub const DOC_CHUNK: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("doc_chunk");
/// `doc_id → DocMeta` (JSON).
pub const DOC_META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("doc_meta");
/// `(peer, doc_id) → automerge sync::State::encode()`.
pub const SYNC_STATE: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("sync_state");
/// `(bucket, doc_id) → heads digest`: the catalog peers reconcile.
pub const CATALOG: TableDefinition<'_, (u16, &str), &[u8]> = TableDefinition::new("catalog");
/// `bucket → XOR of blake3(doc_id, heads digest)` over the bucket's documents.
pub const CATALOG_DIGEST: TableDefinition<'_, u16, &[u8]> = TableDefinition::new("catalog_digest");
/// `doc_id → postcard Vec<Seal>`: each writer's seal on its newest change.
pub const DOC_SEALS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("doc_seals");
/// `doc_id → reason` for documents that could not be read.
pub const MALFORMED: TableDefinition<'_, &str, &str> = TableDefinition::new("malformed");

/// Per-device facts: identity, actor id.
pub const LOCAL: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("local");
/// `interaction id or room key → messages read`, per device; a mention seen
/// on this device is kept as `mention:<source id> → 1`.
pub const READ_MARKS: TableDefinition<'_, &str, u32> = TableDefinition::new("read_marks");
/// `peer id → multiaddrs (JSON)`, remembered across restarts.
pub const PEER_ADDRS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("peer_addrs");
/// `peer id → its 256 catalog bucket digests`, as it last sent them (what
/// `bundle export --since-device` cuts against).
pub const PEER_CATALOGS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("peer_catalogs");

/// `"team" → Team` (JSON).
pub const TEAM: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("team");
/// `agent id → Agent` (JSON).
pub const AGENTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("agents");
/// `interaction id → InteractionSummary` (JSON).
pub const INTERACTIONS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("interactions");
/// `(base state, a, b, id) → ()`, the list order of each state:
/// queued by (priority, enqueued_at), active by newest activity, finalized by newest finalize.
pub const INTERACTION_ORDER: TableDefinition<'_, (u8, i64, i64, &str), ()> =
    TableDefinition::new("interaction_order");
/// `(scope, id) → (owner, campaign, text)`: what search matches against. The
/// text is the row's distinct lowercase words (see `projection::SearchText`);
/// owner is set for active interactions (the owner) and finalized ones (whose
/// History it is in, `InteractionSummary::history_owner`), campaign for every
/// interaction.
pub const SEARCH_ROWS: TableDefinition<'_, (u8, &str), (&str, &str, &str)> =
    TableDefinition::new("search_rows");
/// `(owner, -last_activity, 0, id) → ()`: each agent's active interactions,
/// newest activity first (the Active tab without reading anyone else's).
pub const ACTIVE_BY_OWNER: TableDefinition<'_, (&str, i64, i64, &str), ()> =
    TableDefinition::new("active_by_owner");
/// `(owner, -finalized_at, 0, id) → ()`: each agent's History (their closed
/// interactions), newest closed first, so "Mine" reads nobody else's rows.
pub const FINALIZED_BY_OWNER: TableDefinition<'_, (&str, i64, i64, &str), ()> =
    TableDefinition::new("finalized_by_owner");
/// `id → (channel, disposition, tags)` of each finalized interaction, lowercase,
/// tags joined by `\n`: what History's filters narrow on besides owner and campaign.
pub const HISTORY_FACETS: TableDefinition<'_, &str, (&str, &str, &str)> =
    TableDefinition::new("history_facets");
/// `(kind, tag) → uses`: how many interactions (kind 0) and contacts (kind 1)
/// carry each tag, as written: the completion of the tag field reads this
/// small table, never the rows.
pub const TAG_USES: TableDefinition<'_, (u8, &str), u64> = TableDefinition::new("tag_uses");
/// `(base state, owner or "") → rows`: list totals without walking an index.
pub const LIST_COUNTS: TableDefinition<'_, (u8, &str), u64> = TableDefinition::new("list_counts");
/// `(agent, round_started_at, interaction) → ()`: each agent's finalized
/// work, at the start of the round they owned (routing's round-robin history).
pub const CLAIMED_BY: TableDefinition<'_, (&str, i64, &str), ()> =
    TableDefinition::new("claimed_by");
/// `(agent, finalized_at, interaction) → wrapup_until`.
pub const FINISHED_BY: TableDefinition<'_, (&str, i64, &str), i64> =
    TableDefinition::new("finished_by");
/// `contact id → interaction ids` for a contact's history.
pub const CONTACT_INTERACTIONS: MultimapTableDefinition<'_, &str, &str> =
    MultimapTableDefinition::new("contact_interactions");

/// `contact id → Contact` (JSON); deleted contacts are absent.
pub const CONTACTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("contacts");
/// `(lowercase name, id) → ()`: the phonebook's order.
pub const CONTACT_ORDER: TableDefinition<'_, (&str, &str), ()> =
    TableDefinition::new("contact_order");
/// `lowercase email → contact ids`, to match a webchat visitor to the phonebook.
pub const CONTACT_EMAIL: MultimapTableDefinition<'_, &str, &str> =
    MultimapTableDefinition::new("contact_email");

/// `contact id → the contact it is merged into`, for every live contact
/// whose `merged_into` is set: the edges `merge::Merges` resolves (which
/// contact stands for which is read from them, never stored).
pub const CONTACT_MERGES: TableDefinition<'_, &str, &str> = TableDefinition::new("contact_merges");
/// `lowercase address → contact ids`: the live contacts mail intake made
/// for each sender (their `mail_sender`).
pub const MAIL_SENDERS: MultimapTableDefinition<'_, &str, &str> =
    MultimapTableDefinition::new("mail_senders");
/// `contact id → the contact it stands for`: of the contacts mail intake
/// made for one address (two fetchers apart each made one), every one but
/// the smallest id points at that one, unless its merge was set or cleared
/// by hand. More edges for `merge::Merges`, a function of the set of
/// contacts.
pub const SENDER_MERGES: TableDefinition<'_, &str, &str> = TableDefinition::new("sender_merges");

/// `(room key, month) → RoomSummary` of that month's document.
pub const ROOM_MONTHS: TableDefinition<'_, (&str, &str), &[u8]> =
    TableDefinition::new("room_months");

/// `(index word, at, source id) → MentionSource` (JSON): every note and chat
/// message with an `@` that may start a mention, under the first word after
/// it (see `mentions`), so an agent's mentions are one range read.
pub const MENTION_WORDS: TableDefinition<'_, (&str, i64, &str), &[u8]> =
    TableDefinition::new("mention_words");
/// `doc_id → [(index word, at, source id)]` (JSON): the rows a document put
/// in `mention_words`, removed when it is projected again.
pub const MENTION_DOCS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("mention_docs");

/// `(last activity, interaction id) → postcard ReportRow`: what a report
/// reads of each interaction (its rounds, transfers and finalization),
/// keyed by its newest event so a range's rows are one range read.
/// Postcard, not JSON: a month's report reads 100k of them.
pub const REPORT_ROWS: TableDefinition<'_, (i64, &str), &[u8]> =
    TableDefinition::new("report_rows");
/// `interaction id → postcard OpenHead`: every queued and active
/// interaction as the board reads it after each change, small and in one
/// table (the summaries are JSON with every list's fields).
pub const OPEN_HEADS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("open_heads");
/// `(agent id, at, index) → (status, break reason)`: every agent's status
/// log as its document keeps it (the newest `Agent::HISTORY_LIMIT`).
pub const STATUS_LOG: TableDefinition<'_, (&str, i64, u32), (&str, &str)> =
    TableDefinition::new("status_log");

/// `Message-ID → interaction ids`: every mail an email interaction holds
/// (the customer's, and our replies once sent), for dedupe and threading.
/// Two ids for one mail: two fetchers apart each took it in (see
/// `Store::open_interactions`).
pub const MAIL_HOLDERS: MultimapTableDefinition<'_, &str, &str> =
    MultimapTableDefinition::new("mail_holders");
/// `interaction id → its Message-IDs` (JSON), removed when it is projected again.
pub const MAIL_DOCS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("mail_docs");
/// `(campaign id, UIDVALIDITY) → the highest UID` among the fetched mails
/// the team holds (their messages' `mail_uid`): where a fetcher goes on
/// from. Only ever rises.
pub const MAIL_HIGH_WATER: TableDefinition<'_, (&str, u32), u32> =
    TableDefinition::new("mail_high_water");
