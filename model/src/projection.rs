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
        let declined_now = i.declined_now();
        let mut declined: Vec<(AgentId, Millis)> = declined_now
            .iter()
            .map(|agent| {
                let at = i
                    .declines
                    .iter()
                    .filter(|d| d.agent == *agent && d.epoch == i.epoch())
                    .map(|d| d.at)
                    .max()
                    .unwrap_or(0);
                (*agent, at)
            })
            .collect();
        declined.sort();
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
                .map(|t| t.note.clone())
                .unwrap_or_default(),
            finalized: i.finalization.as_ref().map(|f| FinalizedSummary {
                agent: f.agent,
                at: f.at,
                disposition: f.disposition.clone(),
                wrapup_until: f.wrapup_until,
            }),
            message_count: u32::try_from(message_count).unwrap_or(u32::MAX),
            last_message_preview: last.map(|m| preview(&m.body)).unwrap_or_default(),
            last_message_at: last.map(|m| m.at),
            tags: i.tags.iter().cloned().collect(),
        }
    }

    pub fn state_at(&self, now: Millis) -> InteractionState {
        match &self.finalized {
            Some(f) if now < f.wrapup_until => InteractionState::WrapUp,
            Some(_) => InteractionState::Closed,
            None if self.owner.is_some() => InteractionState::Active,
            None => InteractionState::Queued,
        }
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

    /// What a person would look for: name, address, subject, tags, last message.
    pub fn search_text(&self) -> String {
        let mut text = String::with_capacity(128);
        for part in [
            &self.contact_name,
            &self.address,
            &self.subject,
            &self.last_message_preview,
        ] {
            text.push_str(part);
            text.push('\n');
        }
        for tag in &self.tags {
            text.push_str(tag);
            text.push('\n');
        }
        text.to_lowercase()
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
    /// When the agent last got an interaction (their latest claim).
    pub last_assigned_at: Option<Millis>,
    /// When the agent last finalized one.
    pub last_finished_at: Option<Millis>,
    /// How many they finalized since the start of today (UTC).
    pub finished_today: u32,
    /// Until when the agent is in wrap-up.
    pub wrapup_until: Option<Millis>,
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
        let mut text = String::with_capacity(96);
        text.push_str(&self.name);
        text.push('\n');
        text.push_str(&self.company);
        text.push('\n');
        for p in &self.phones {
            text.push_str(p);
            text.push('\n');
            // Numbers are found whatever spacing the agent types.
            text.extend(p.chars().filter(|c| c.is_ascii_digit() || *c == '+'));
            text.push('\n');
        }
        for e in self.emails.iter().chain(self.tags.iter()) {
            text.push_str(e);
            text.push('\n');
        }
        text.to_lowercase()
    }
}
