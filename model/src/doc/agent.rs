//! The agent document: display name, status with its bounded history, capacity.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc};

use super::*;
use crate::types::*;

fn status_parts(status: &AgentStatus) -> (&'static str, &str) {
    match status {
        AgentStatus::Available => ("available", ""),
        AgentStatus::Break { reason } => ("break", reason.as_str()),
        AgentStatus::Offline => ("offline", ""),
    }
}

fn status_from(path: &str, kind: &str, reason: String) -> DocResult<AgentStatus> {
    match kind {
        "available" => Ok(AgentStatus::Available),
        "break" => Ok(AgentStatus::Break { reason }),
        "offline" => Ok(AgentStatus::Offline),
        other => Err(DocError::Invalid {
            path: path.into(),
            reason: format!("unknown status `{other}`"),
        }),
    }
}

pub fn create(doc: &mut AutoCommit, agent: &Agent) -> DocResult<()> {
    doc.put(ROOT, "kind", "agent")?;
    doc.put(ROOT, "schema", SCHEMA)?;
    doc.put(ROOT, "id", agent.id.to_string())?;
    doc.put(ROOT, "name", agent.name.as_str())?;
    doc.put(ROOT, "capacity", i64::from(agent.capacity))?;
    let (kind, reason) = status_parts(&agent.status);
    doc.put(ROOT, "status", kind)?;
    doc.put(ROOT, "reason", reason)?;
    doc.put(ROOT, "status_since", agent.status_since)?;
    let history = doc.put_object(ROOT, "status_history", ObjType::List)?;
    for (i, change) in agent.status_history.iter().enumerate() {
        insert_change(doc, &history, i, change)?;
    }
    Ok(())
}

fn insert_change(
    doc: &mut AutoCommit,
    history: &ObjId,
    index: usize,
    change: &StatusChange,
) -> DocResult<()> {
    let obj = doc.insert_object(history, index, ObjType::Map)?;
    let (kind, reason) = status_parts(&change.status);
    doc.put(&obj, "at", change.at)?;
    doc.put(&obj, "status", kind)?;
    doc.put(&obj, "reason", reason)?;
    Ok(())
}

/// Sets the status and appends it to the history, dropping the oldest past the limit.
pub fn set_status(doc: &mut AutoCommit, status: &AgentStatus, at: Millis) -> DocResult<()> {
    let (kind, reason) = status_parts(status);
    doc.put(ROOT, "status", kind)?;
    doc.put(ROOT, "reason", reason)?;
    doc.put(ROOT, "status_since", at)?;
    let history = existing(doc, &ROOT, "status_history")?;
    let len = doc.length(&history);
    insert_change(
        doc,
        &history,
        len,
        &StatusChange {
            at,
            status: status.clone(),
        },
    )?;
    let mut len = len + 1;
    while len > Agent::HISTORY_LIMIT {
        doc.delete(&history, 0)?;
        len -= 1;
    }
    Ok(())
}

/// Open interactions the agent may hold across campaigns (0: no limit).
pub fn set_capacity(doc: &mut AutoCommit, capacity: u32) -> DocResult<()> {
    doc.put(ROOT, "capacity", i64::from(capacity))?;
    Ok(())
}

pub fn set_name(doc: &mut AutoCommit, name: &str) -> DocResult<()> {
    put_str_if_changed(doc, &ROOT, "name", name)
}

pub fn read<D: ReadDoc>(doc: &D) -> DocResult<Agent> {
    let root = MapReader::root(doc);
    if root.str("kind")? != "agent" {
        return Err(DocError::Invalid {
            path: "kind".into(),
            reason: "not an agent".into(),
        });
    }
    let status = status_from("status", &root.str("status")?, root.str_or_empty("reason")?)?;
    let status_history = root
        .list("status_history")?
        .maps()?
        .iter()
        .map(|m| {
            Ok(StatusChange {
                at: m.i64("at")?,
                status: status_from(
                    "status_history.status",
                    &m.str("status")?,
                    m.str_or_empty("reason")?,
                )?,
            })
        })
        .collect::<DocResult<Vec<_>>>()?;
    Ok(Agent {
        id: root.parsed("id")?,
        name: root.str("name")?,
        status,
        status_since: root.i64("status_since")?,
        capacity: root.u32("capacity")?,
        status_history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_round_trips_and_history_stays_bounded() {
        let mut agent = Agent {
            id: AgentId::new(),
            name: "Ana".into(),
            status: AgentStatus::Offline,
            status_since: 1,
            capacity: 4,
            status_history: vec![StatusChange {
                at: 1,
                status: AgentStatus::Offline,
            }],
        };
        let mut doc = AutoCommit::new();
        create(&mut doc, &agent).expect("create");
        assert_eq!(read(&doc).expect("read"), agent);

        for at in 2..(Agent::HISTORY_LIMIT as i64 + 10) {
            set_status(
                &mut doc,
                &AgentStatus::Break {
                    reason: "Lunch".into(),
                },
                at,
            )
            .expect("status");
        }
        let read_back = read(&AutoCommit::load(&doc.save()).expect("load")).expect("read");
        assert_eq!(
            read_back.status,
            AgentStatus::Break {
                reason: "Lunch".into()
            }
        );
        assert_eq!(read_back.status_history.len(), Agent::HISTORY_LIMIT);
        agent.status = read_back.status.clone();
        assert_eq!(read_back.name, agent.name);
    }
}
