//! Chat between agents and in campaign rooms.

use serde::{Deserialize, Serialize};

use super::{ChatView, Executor, OpError, OpResult, Outcome, Reply, RoomRow, done};
use crate::doc::{self, DocId};
use crate::store::LocalMarks;
use crate::types::*;
use crate::validate;

/// Where a chat message goes.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChatTarget {
    Agent(String),
    Campaign(String),
}

impl Executor<'_, '_> {
    pub(super) fn chat_show(&mut self, with: &ChatTarget) -> OpResult<Outcome> {
        let (room, title) = self.room(with)?;
        let messages = self.store.room_messages(room)?;
        let agent_names = self.agent_names()?;
        done(
            Reply::Chat(Box::new(ChatView {
                room,
                title,
                messages,
                agent_names,
            })),
            vec![],
        )
    }

    pub(super) fn list_rooms(&self) -> OpResult<Outcome> {
        let me = self.me.agent;
        let mut rooms = Vec::new();
        for summary in self.store.rooms()? {
            if !summary.room.includes(me) {
                continue;
            }
            // The agent's own last word means they have seen the room.
            let unread = if summary.last_author == Some(me) {
                0
            } else {
                let read = self.store.read_mark(&summary.room.key())?;
                summary.message_count.saturating_sub(read)
            };
            rooms.push(RoomRow { summary, unread });
        }
        done(Reply::Rooms(rooms), vec![])
    }

    pub(super) fn room(&self, target: &ChatTarget) -> OpResult<(RoomKey, String)> {
        match target {
            ChatTarget::Agent(name) => {
                let agent = self.agent_by_name(name)?;
                if agent.id == self.me.agent {
                    return Err(OpError::ChatWithSelf);
                }
                Ok((RoomKey::direct(self.me.agent, agent.id), agent.name))
            }
            ChatTarget::Campaign(name) => {
                let c = self.campaign(name)?;
                if !c.has_member(self.me.agent) {
                    return Err(OpError::NotMember(c.name.clone()));
                }
                Ok((RoomKey::Campaign { campaign: c.id }, format!("#{}", c.name)))
            }
        }
    }

    pub(super) fn chat_send(&mut self, to: &ChatTarget, text: &str) -> OpResult<Outcome> {
        let body = validate::message(text)?;
        let (room, _) = self.room(to)?;
        let m = ChatMessage {
            id: self.store.new_id(),
            author: self.me.agent,
            at: self.ctx.now,
            body,
        };
        let id = m.id;
        let change = self
            .store
            .write_doc(&DocId::room_at(room, m.at), true, move |d| {
                doc::room::add_message(d, &m)
            })?;
        // Who writes in a room has read it.
        self.mark_room_read(room)?;
        done(Reply::Created { id: id.to_string() }, vec![change])
    }

    pub(super) fn mark_room_read(&mut self, room: RoomKey) -> OpResult<()> {
        let count = self.store.room_message_count(room)?;
        self.store.mark_read(&room.key(), count)?;
        Ok(())
    }
}
