//! Mentions of this agent in notes and team chat (see `crate::mentions`).

use serde::{Deserialize, Serialize};

use super::{ChatTarget, Executor, OpResult, Outcome, Reply, done};
use crate::ids::*;
use crate::mentions::{self, MentionPlace};
use crate::store::LocalMarks;
use crate::types::*;

/// One mention of this agent, as the Mentions view and `meshdesk mentions` show it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MentionRow {
    /// The note's or message's id (`<document>#<key>`), what `MarkMentionsSeen` takes.
    pub id: String,
    pub place: MentionPlace,
    /// Where, in words: the customer of the interaction, or the room
    /// (`#Sales`, or the teammate of a direct conversation).
    pub title: String,
    /// What opens a chat mention's room; none for a note.
    pub chat: Option<ChatTarget>,
    pub author: AgentId,
    pub author_name: String,
    pub at: Millis,
    /// The start of the note or message.
    pub text: String,
    /// Whether the agent has seen it on this device.
    pub seen: bool,
}

impl MentionRow {
    /// The interaction a note mention is in.
    pub fn interaction(&self) -> Option<InteractionId> {
        match self.place {
            MentionPlace::Note { interaction } => Some(interaction),
            MentionPlace::Chat { .. } => None,
        }
    }
}

impl Executor<'_, '_> {
    /// This agent's mentions, newest first; one read of the index under the
    /// first word of the agent's name, each row checked with the full rule.
    pub(super) fn mention_rows(&self, unseen_only: bool) -> OpResult<Vec<MentionRow>> {
        let me = self.me.agent;
        let agents = self.store.agents()?;
        let Some(my_name) = agents.get(&me).map(|a| a.name.clone()) else {
            return Ok(Vec::new());
        };
        let names: Vec<(AgentId, &str)> =
            agents.values().map(|a| (a.id, a.name.as_str())).collect();
        let mut rows = Vec::new();
        for source in self
            .store
            .mention_sources(&mentions::index_word(my_name.trim()))?
        {
            if source.author == me
                || !mentions::mentioned_in_tails(&source.tails, names.iter().copied()).contains(&me)
            {
                continue;
            }
            let (title, chat) = match &source.place {
                MentionPlace::Note { interaction } => {
                    let title = match self.store.interaction_summary(*interaction)? {
                        Some(s) if !s.subject.is_empty() => {
                            format!("{} · {}", s.contact_name, s.subject)
                        }
                        Some(s) => s.contact_name,
                        None => continue,
                    };
                    (title, None)
                }
                MentionPlace::Chat { room } => match room {
                    RoomKey::Direct { a, b } => {
                        let other = if *a == me { *b } else { *a };
                        if !room.includes(me) {
                            continue;
                        }
                        let name = agents
                            .get(&other)
                            .map(|a| a.name.clone())
                            .unwrap_or_else(|| other.to_string());
                        (name.clone(), Some(ChatTarget::Agent(name)))
                    }
                    RoomKey::Campaign { campaign } => {
                        // Only members read a campaign's room.
                        let Some(c) = self
                            .team
                            .campaigns
                            .get(campaign)
                            .filter(|c| c.has_member(me))
                        else {
                            continue;
                        };
                        (
                            format!("#{}", c.name),
                            Some(ChatTarget::Campaign(c.name.clone())),
                        )
                    }
                },
            };
            let seen = self.store.mention_seen(&source.id)?;
            if unseen_only && seen {
                continue;
            }
            rows.push(MentionRow {
                author_name: agents
                    .get(&source.author)
                    .map(|a| a.name.clone())
                    .unwrap_or_else(|| source.author.to_string()),
                id: source.id,
                place: source.place,
                title,
                chat,
                author: source.author,
                at: source.at,
                text: source.text,
                seen,
            });
        }
        // Newest first across every word's rows; equal times in id order.
        rows.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.id.cmp(&b.id)));
        Ok(rows)
    }

    pub(super) fn list_mentions(&self, unseen_only: bool) -> OpResult<Outcome> {
        done(Reply::Mentions(self.mention_rows(unseen_only)?), vec![])
    }

    /// Marks mentions seen on this device: those named, or every one when
    /// none is named. Ids that name no mention of this agent are ignored.
    pub(super) fn mark_mentions_seen(&mut self, ids: &[String]) -> OpResult<Outcome> {
        let mine: Vec<String> = self
            .mention_rows(true)?
            .into_iter()
            .map(|m| m.id)
            .filter(|id| ids.is_empty() || ids.contains(id))
            .collect();
        self.store.mark_mentions_seen(&mine)?;
        done(Reply::Done, vec![])
    }
}
