//! Projections: the small, query-ready rows derived from documents.
//!
//! A projection is a pure function of its document, so every node derives the
//! same rows from the same document. Per-device facts (what this agent has
//! read) are kept apart, in the store's local tables.

use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::types::*;

/// How long a message preview in a list row may be, in characters.
pub const PREVIEW_CHARS: usize = 120;

/// The finalization facts a list row needs.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct FinalizedSummary {
    pub agent: AgentId,
    pub at: Millis,
    pub disposition: String,
    pub wrapup_until: Millis,
}

/// One interaction as the lists, search and routing see it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InteractionSummary {
    pub id: InteractionId,
    pub direction: Direction,
    pub channel: ChannelKind,
    /// The campaign it is queued in now.
    pub campaign: CampaignId,
    pub contact: Option<ContactId>,
    pub contact_name: String,
    pub address: String,
    pub subject: String,
    pub priority: i32,
    pub enqueued_at: Millis,
    pub created_at: Millis,
    pub last_activity: Millis,
    /// The current routing round (number of transfers).
    pub epoch: u32,
    /// When the current round began: the last transfer, or the enqueue.
    pub round_started_at: Millis,
    pub owner: Option<AgentId>,
    pub claimed_at: Option<Millis>,
    /// Agents whose claim in this round lost to the owner's.
    pub lost_claims: Vec<AgentId>,
    /// Agents who declined (or let time out) this round's offer, with when.
    pub declined: Vec<(AgentId, Millis)>,
    /// A transfer directed to one agent, waiting for them.
    pub directed_to: Option<AgentId>,
    pub transfer_note: String,
    pub finalized: Option<FinalizedSummary>,
    pub message_count: u32,
    pub last_message_preview: String,
    pub last_message_at: Option<Millis>,
    pub tags: Vec<String>,
    /// The snooze in force (see [`Interaction::snoozed`]), due or not.
    #[serde(default)]
    pub snooze: Option<Snooze>,
    /// An email interaction's first mail (its `Message-ID`): two fetchers
    /// apart may each have made an interaction for it (see `mail_holders`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_mail: Option<String>,
}

impl InteractionSummary {
    pub fn from_interaction(i: &Interaction) -> Self {
        Self::from_head(i, i.messages.len())
    }

    /// From an interaction whose `messages` may hold only the latest few
    /// (see `doc::interaction::read_head`), with the true message count.
    pub fn from_head(i: &Interaction, message_count: usize) -> Self {
        let owner = i.owner();
        let last = i.messages_in_order().last().copied();
        let declined = i.declined_in_round();
        InteractionSummary {
            id: i.id,
            direction: i.direction,
            channel: i.channel,
            campaign: i.campaign(),
            contact: i.contact,
            contact_name: i.contact_name.clone(),
            address: i.address.clone(),
            subject: i.subject.clone(),
            priority: i.priority,
            enqueued_at: i.enqueued_at,
            created_at: i.created_at,
            last_activity: i.last_activity(),
            epoch: i.epoch(),
            round_started_at: i.transfers.last().map(|t| t.at).unwrap_or(i.enqueued_at),
            owner: owner.map(|c| c.agent),
            claimed_at: owner.map(|c| c.claimed_at),
            lost_claims: i.losing_claimants(),
            declined,
            directed_to: if owner.is_none() {
                i.directed_to()
            } else {
                None
            },
            transfer_note: i
                .transfers
                .last()
                .map(|t| {
                    // A take-back's reason is what the next agent should read.
                    if t.note.is_empty() {
                        t.reason.clone()
                    } else {
                        t.note.clone()
                    }
                })
                .unwrap_or_default(),
            finalized: i.finalization.as_ref().map(|f| FinalizedSummary {
                agent: f.agent,
                at: f.at,
                disposition: f.disposition.clone(),
                wrapup_until: f.wrapup_until,
            }),
            message_count: u32::try_from(message_count).unwrap_or(u32::MAX),
            last_message_preview: last.map(message_preview).unwrap_or_default(),
            last_message_at: last.map(|m| m.at),
            tags: i.tags.iter().cloned().collect(),
            snooze: i.snoozed().cloned(),
            first_mail: None,
        }
    }

    /// Set aside by its owner and not due yet at `now`: out of Active.
    pub fn snoozed_at(&self, now: Millis) -> bool {
        self.snooze.as_ref().is_some_and(|s| s.pending_at(now))
    }

    pub fn state_at(&self, now: Millis) -> InteractionState {
        match &self.finalized {
            Some(f) if now < f.wrapup_until => InteractionState::WrapUp,
            Some(_) => InteractionState::Closed,
            None if self.owner.is_some() => InteractionState::Active,
            None => InteractionState::Queued,
        }
    }

    /// Whose History a finalized interaction is in: the agent who owned it
    /// when it closed, or, for one closed from the queue (no owner), the
    /// agent who finalized it. `None` while it is open.
    pub fn history_owner(&self) -> Option<AgentId> {
        self.finalized
            .as_ref()
            .map(|f| self.owner.unwrap_or(f.agent))
    }

    /// When it closed, if it did.
    pub fn closed_at(&self) -> Option<Millis> {
        self.finalized.as_ref().map(|f| f.at)
    }

    /// Queued, active or finalized, ignoring the wrap-up clock (what the indexes key on).
    pub fn base_state(&self) -> BaseState {
        if self.finalized.is_some() {
            BaseState::Finalized
        } else if self.owner.is_some() {
            BaseState::Active
        } else {
            BaseState::Queued
        }
    }
}

/// How many bytes of distinct words one row's search text may hold: every
/// field and the latest messages first, then earlier messages oldest first
/// until this is reached. Bounds the index whatever a conversation's length.
pub const SEARCH_TEXT_BYTES: usize = 16 * 1024;
/// Longer words (links, encoded blobs) are cut to this many characters.
pub const SEARCH_WORD_CHARS: usize = 64;
/// Most text read into one row's search text. A conversation that repeats
/// its words never fills [`SEARCH_TEXT_BYTES`]; this keeps the work each
/// commit does to project it flat however long it grows.
pub const SEARCH_SCAN_BYTES: usize = 4 * SEARCH_TEXT_BYTES;

/// A query or text word as the index keeps it: lowercase, at most
/// [`SEARCH_WORD_CHARS`] characters (so a long query word still matches the
/// cut word it was indexed as).
pub fn search_word(word: &str) -> String {
    let mut word = word.to_lowercase();
    if let Some((cut, _)) = word.char_indices().nth(SEARCH_WORD_CHARS) {
        word.truncate(cut);
    }
    word
}

/// A tag's words, and `tag:` before its first, so a search word like
/// `tag:vip` narrows a list to what carries the tag.
fn push_tag(text: &mut SearchText, tag: &str) {
    text.push(tag);
    text.push(&format!("tag:{tag}"));
}

/// The text search matches a row against: its distinct lowercase words, in
/// order of first appearance, separated by single spaces, at most
/// [`SEARCH_TEXT_BYTES`]. A query word (no whitespace) is a substring of the
/// original text exactly when it is a substring of one of these words, so
/// keeping each word once loses no match.
#[derive(Debug, Default)]
pub struct SearchText {
    text: String,
    seen: std::collections::HashSet<String>,
    /// Bytes of text read so far (see [`SEARCH_SCAN_BYTES`]).
    scanned: usize,
}

impl SearchText {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the words of `part`; false once the budget is spent.
    pub fn push(&mut self, part: &str) -> bool {
        self.scanned = self.scanned.saturating_add(part.len());
        for word in part.split_whitespace() {
            if self.text.len() + 2 > SEARCH_TEXT_BYTES {
                return false;
            }
            let word = search_word(word);
            if self.text.len() + word.len() + 1 > SEARCH_TEXT_BYTES || self.seen.contains(&word) {
                continue;
            }
            if !self.text.is_empty() {
                self.text.push(' ');
            }
            self.text.push_str(&word);
            self.seen.insert(word);
        }
        !self.is_full()
    }

    /// Whether no more text is taken: the kept words or the text read
    /// reached their budget.
    pub fn is_full(&self) -> bool {
        self.text.len() + 2 > SEARCH_TEXT_BYTES || self.scanned >= SEARCH_SCAN_BYTES
    }

    pub fn finish(self) -> String {
        self.text
    }

    /// An interaction's words: who, subject, tags, form fields, disposition,
    /// notes, transfer notes and its latest messages (`i.messages`, which may
    /// hold only the latest few). Earlier messages are added after this.
    pub fn of_interaction(i: &Interaction) -> SearchText {
        let mut text = SearchText::new();
        for part in [&i.contact_name, &i.address, &i.subject] {
            text.push(part);
        }
        for tag in &i.tags {
            push_tag(&mut text, tag);
        }
        for value in i.fields.values() {
            text.push(value);
        }
        if let Some(f) = &i.finalization {
            text.push(&f.disposition);
            text.push(&f.note);
        }
        for note in &i.notes {
            text.push(&note.text);
        }
        for t in &i.transfers {
            text.push(&t.note);
            text.push(&t.reason);
        }
        for m in i.messages_in_order().into_iter().rev() {
            text.push(&m.body);
        }
        text
    }
}

/// The clock-free part of an interaction's state: what the store indexes on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub enum BaseState {
    Queued = 0,
    Active = 1,
    Finalized = 2,
}

/// A chat room's list row.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RoomSummary {
    pub room: RoomKey,
    pub message_count: u32,
    pub last_message_preview: String,
    pub last_message_at: Option<Millis>,
    pub last_author: Option<AgentId>,
}

/// What routing needs to know of an agent's past work (from the finalized and claimed indexes).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct AgentHistory {
    /// Where the agent's latest *finalized* assignment sits on the queue's
    /// timeline: when the round they owned began (its enqueue or the transfer
    /// that started it), not when they claimed it. Interactions they hold now
    /// are in routing's `open` and are placed from there.
    pub last_assigned_at: Option<Millis>,
    /// When the agent last finalized one.
    pub last_finished_at: Option<Millis>,
    /// How many they finalized since the start of today (UTC).
    pub finished_today: u32,
    /// Until when the agent is in wrap-up.
    pub wrapup_until: Option<Millis>,
}

/// An interaction message's preview: its text, else the file it carries.
pub fn message_preview(m: &Message) -> String {
    match (m.body.trim().is_empty(), m.attachments.as_slice()) {
        (true, [one]) => preview(&format!("File: {}", one.name)),
        (true, [_, ..]) => format!("{} files", m.attachments.len()),
        _ => preview(&m.body),
    }
}

/// A message preview: first line(s), whitespace folded, bounded length.
pub fn preview(body: &str) -> String {
    let folded: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() <= PREVIEW_CHARS {
        folded
    } else {
        let mut cut: String = folded.chars().take(PREVIEW_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

impl Contact {
    pub fn search_text(&self) -> String {
        let mut text = SearchText::new();
        text.push(&self.name);
        text.push(&self.company);
        for p in &self.phones {
            text.push(p);
            // Numbers are found whatever spacing the agent types.
            text.push(
                &p.chars()
                    .filter(|c| c.is_ascii_digit() || *c == '+')
                    .collect::<String>(),
            );
        }
        for e in &self.emails {
            text.push(e);
        }
        for tag in &self.tags {
            push_tag(&mut text, tag);
        }
        for value in self.custom.values() {
            text.push(value);
        }
        text.push(&self.notes);
        text.finish()
    }
}
