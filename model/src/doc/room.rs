//! Chat-room documents. Their ids are derived (two peers may create the same
//! room at once), so each message lives under its own key at the root and no
//! shared container is ever made.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};

use super::*;
use crate::types::*;

pub fn add_message(doc: &mut AutoCommit, m: &ChatMessage) -> DocResult<()> {
    let obj = doc.put_object(ROOT, m.id.to_string(), ObjType::Map)?;
    doc.put(&obj, "author", m.author.to_string())?;
    doc.put(&obj, "at", m.at)?;
    doc.put(&obj, "body", m.body.as_str())?;
    Ok(())
}

pub fn read<D: ReadDoc>(doc: &D, room: RoomKey, month: &str) -> DocResult<ChatRoom> {
    let root = MapReader::root(doc);
    let mut messages = Vec::new();
    for key in root.keys() {
        let id: MessageId = key.parse().map_err(|_| DocError::Invalid {
            path: key.clone(),
            reason: "a room holds only messages keyed by their id".into(),
        })?;
        let m = root.map(&key)?;
        messages.push(ChatMessage {
            id,
            author: m.parsed("author")?,
            at: m.i64("at")?,
            body: m.str("body")?,
        });
    }
    messages.sort_by_key(|m| (m.at, m.id));
    Ok(ChatRoom {
        room,
        month: month.to_string(),
        messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_peers_creating_the_same_room_keep_both_messages() {
        let (a, b) = (AgentId::new(), AgentId::new());
        let room = RoomKey::direct(a, b);
        let mut doc_a = AutoCommit::new();
        let mut doc_b = AutoCommit::new();
        let ma = ChatMessage {
            id: MessageId::new(),
            author: a,
            at: 1,
            body: "hola".into(),
        };
        let mb = ChatMessage {
            id: MessageId::new(),
            author: b,
            at: 2,
            body: "hi".into(),
        };
        add_message(&mut doc_a, &ma).expect("a");
        add_message(&mut doc_b, &mb).expect("b");
        doc_a.merge(&mut doc_b).expect("merge");
        let read_back = read(&doc_a, room, "2024-01").expect("read");
        assert_eq!(read_back.messages, vec![ma, mb]);
    }
}
