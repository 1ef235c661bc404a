//! Open data: every document as the standard Automerge file any Automerge
//! implementation loads (`AutoCommit::save()`), with what it is.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, StoreResult, project};
use crate::doc::{DocId, DocKind};
use crate::types::RoomKey;

/// One document of an open-data export, as `index.json` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenDocEntry {
    pub id: String,
    pub kind: DocKind,
    /// What a person calls it: the team's, agent's or contact's name, an
    /// interaction's contact (and subject), a room's campaign or agents and month.
    pub title: String,
    /// Its file beside the index.
    pub file: String,
}

impl Store {
    /// Every stored document that loads, saved whole, with its index entry;
    /// quarantined ones are left out (`meshdesk doctor` lists them).
    pub fn open_data(&mut self) -> StoreResult<Vec<(OpenDocEntry, Vec<u8>)>> {
        let mut ids: Vec<String> = self.catalog_ids()?;
        ids.sort();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Ok(doc_id) = id.parse::<DocId>() else {
                continue;
            };
            let read = self.with_doc(&doc_id, |doc| {
                (doc.clone().save(), project::read_row(&doc_id, doc))
            });
            let (bytes, row) = match read {
                Ok(read) => read,
                Err(StoreError::Quarantined { .. } | StoreError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let title = match row {
                Ok(project::Row::Team(t)) => t.name,
                Ok(project::Row::Agent(a)) => a.name,
                Ok(project::Row::Contact(c)) => c.name,
                Ok(project::Row::Interaction(s, _, _, _, _)) if s.subject.is_empty() => {
                    s.contact_name
                }
                Ok(project::Row::Interaction(s, _, _, _, _)) => {
                    format!("{}: {}", s.contact_name, s.subject)
                }
                Ok(project::Row::Room(room)) => match room.room {
                    RoomKey::Campaign { campaign } => {
                        format!("campaign {campaign}, {}", room.month)
                    }
                    RoomKey::Direct { a, b } => format!("{a} and {b}, {}", room.month),
                },
                Err(_) => String::new(),
            };
            let file = format!("{}.automerge", id.replace(':', "_"));
            out.push((
                OpenDocEntry {
                    id,
                    kind: doc_id.kind(),
                    title,
                    file,
                },
                bytes,
            ));
        }
        Ok(out)
    }
}
