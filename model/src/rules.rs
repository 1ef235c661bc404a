//! The write rules (DESIGN §6): which device may make which change, checked
//! on every change a node receives, the same on every node.
//!
//! A change is judged by what it is (its actor, its seal, its operations,
//! its own time) and by its own causal past (the document as of its
//! dependencies), never by what else the judging node happens to hold, so
//! every node accepts exactly the same set of changes and all converge
//! whatever the arrival order. Roles for documents other than the team's
//! come from the team as the node knows it.
//!
//! | document | who may write what |
//! |---|---|
//! | any | the actor is a roster device's key, not revoked before the change's own time; a valid seal of that actor covers the change |
//! | team | only the team this device created or joined; its one root change by the supervisor it names; supervisors (as of the change's past) anything, rotations of the team key among it; an agent only its own member entry's `device_name` |
//! | agent | the agent's own devices, and supervisors; its status log (`status_history`) holds at most 1000 entries as of any change that adds one |
//! | interaction | its own fields: only its creator's first change; messages, notes: added by anyone, their fields only by whoever added them, `author`/`agent` the writer's own agent (or `contact`/`system` for a message), a message's `attachments` made with the message (at most 10 files, each a 64-hex-digit hash, a size up to 1 GiB, a media type, a bare name of at most 255 characters); claims and declines: only under the writer's own agent, `claimed_at`/`at` within the round and not after the change; transfers and finalization: the owner of the current round or a supervisor; a transfer of kind `return` only by the owner, `pull` and `hand` only by a supervisor, its `reason` at most 500 characters; tags: anyone adds or removes one, a key holding `true`, at most 500 characters, no control character; the snooze (`snooze_*` at the root): only the owner of the current round, naming itself and that round, a known kind, its note at most 500 characters |
//! | contact | any member; its tags as an interaction's; its merge (`merged_into`, `merged_at`, `merged_by` at the root): any member in their own name (`merged_by` the writer's agent whenever `merged_into` is written), into another contact id (or empty: unmerged), dated no later than the change; `mail_sender` (the address mail intake made it for) only in the change that creates it, a lowercase address of at most 320 characters |
//! | chat room | any member adds messages; a message's fields only by whoever added it, `author` the writer's own agent |
//! | any, text | every string at most 20,000 characters, no control characters but line breaks and tabs |

use std::collections::{BTreeMap, HashMap};

use automerge::legacy::OpType;
use automerge::{ActorId, AutoCommit, ChangeHash, Prop, ReadDoc, ScalarValue};

use crate::authorship::{Seal, device_of_actor};
use crate::doc::{self, DocId};
use crate::ids::*;
use crate::types::{Role, SnoozeKind, Team, TransferKind};

/// How far a writer's dates may run ahead of its own change's time.
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// Seals known for one document, by actor.
pub type SealBook = BTreeMap<Vec<u8>, Seal>;

/// Why changes were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn refuse<T>(reason: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(reason.into()))
}

/// One new change, as the rules read it.
struct NewChange {
    hash: ChangeHash,
    actor: ActorId,
    seq: u64,
    /// Seconds since the epoch, as its writer stated it.
    time: i64,
    deps: Vec<ChangeHash>,
    full: automerge::Change,
}

/// An object's path from the root: map keys, and `*` for a list position.
type Path = std::rc::Rc<Vec<String>>;

/// Where each object of a document was made (objects never move), by its
/// id (the counter and actor of the operation that made it): looked up
/// once per document.
type Paths = HashMap<(u64, ActorId), Path>;

/// The device behind an actor, from a roster.
#[derive(Clone)]
struct Writer {
    device: String,
    agent: AgentId,
    role: Role,
}

/// Whether a change of `device` made at `time` (seconds) comes after its
/// revocation in `team`. A revocation recorded without a time covers all.
fn revoked_before(team: &Team, device: &str, time: i64) -> bool {
    team.members
        .get(device)
        .is_some_and(|m| m.revoked && m.revoked_at.is_none_or(|at| time.saturating_mul(1000) > at))
}

fn writer_in(team: &Team, actor: &ActorId, time: i64) -> Result<Writer, Refusal> {
    let Some(device) = device_of_actor(actor) else {
        return refuse(format!("actor {actor} is not a device key"));
    };
    if revoked_before(team, &device, time) {
        return refuse(format!("device {device} was revoked before this change"));
    }
    match team.members.get(&device) {
        Some(m) => Ok(Writer {
            device,
            agent: m.agent,
            role: m.role,
        }),
        None => refuse(format!("device {device} is not on the roster")),
    }
}

/// Checks every change `doc` holds beyond `since`: its seal and its rule.
/// `incoming`: the seals that came with the changes; on success `seals`
/// (the document's stored ones) takes, for each writer of a new change,
/// the seal that covers it. `roster`: the team as this node knows it (none
/// before the team document arrives); `own_team`: the team this device
/// belongs to.
pub fn admit(
    doc_id: &DocId,
    doc: &mut AutoCommit,
    since: &[ChangeHash],
    seals: &mut SealBook,
    incoming: &[Seal],
    roster: Option<&Team>,
    own_team: Option<TeamId>,
) -> Result<(), Refusal> {
    let key = doc_id.to_string();
    if let (DocId::Team(id), Some(own)) = (doc_id, own_team)
        && *id != own
    {
        return refuse(format!("{key} is not this device's team"));
    }
    let new: Vec<NewChange> = doc
        .get_changes(since)
        .into_iter()
        .map(|c| NewChange {
            hash: c.hash(),
            actor: c.actor_id().clone(),
            seq: c.seq(),
            time: c.timestamp(),
            deps: c.deps().to_vec(),
            full: c,
        })
        .collect();
    let mut paths = Paths::new();
    if new.is_empty() {
        return Ok(());
    }
    let covering = check_seals(&key, doc, &new, incoming)?;
    match doc_id {
        DocId::Team(_) => judge_team(doc, &new, &mut paths),
        _ => {
            let Some(team) = roster else {
                return refuse("no team roster to check the writers against yet");
            };
            let mut writers: HashMap<&ActorId, Writer> = HashMap::new();
            for change in &new {
                let writer = match writers.get(&change.actor) {
                    Some(w) if !revoked_before(team, &w.device, change.time) => w.clone(),
                    Some(w) => {
                        return refuse(format!(
                            "device {} was revoked before this change",
                            w.device
                        ));
                    }
                    None => {
                        let w = writer_in(team, &change.actor, change.time)?;
                        writers.insert(&change.actor, w.clone());
                        w
                    }
                };
                judge(doc_id, doc, change, &writer, &mut paths)?;
            }
            Ok(())
        }
    }?;
    for seal in covering {
        seals.insert(seal.actor.to_vec(), seal);
    }
    Ok(())
}

/// Every actor with new changes has a valid seal (among `incoming`) on a
/// change of its own in the document at least as new as them. Automerge
/// refuses two changes of one actor with the same sequence number and every
/// change of an honest device depends on its previous one, so that seal
/// covers them all. Returns those seals.
fn check_seals(
    key: &str,
    doc: &mut AutoCommit,
    new: &[NewChange],
    incoming: &[Seal],
) -> Result<Vec<Seal>, Refusal> {
    let mut newest: BTreeMap<Vec<u8>, (&ActorId, u64)> = BTreeMap::new();
    for c in new {
        let entry = newest
            .entry(c.actor.to_bytes().to_vec())
            .or_insert((&c.actor, 0));
        entry.1 = entry.1.max(c.seq);
    }
    let mut covering = Vec::with_capacity(newest.len());
    for (bytes, (actor, seq)) in newest {
        let mut verdict = Err(Refusal(format!("no seal for the changes of actor {actor}")));
        for seal in incoming
            .iter()
            .filter(|s| s.actor.as_slice() == bytes.as_slice())
        {
            if let Err(e) = seal.verify(key) {
                verdict = Err(Refusal(format!("actor {actor}: {e}")));
                continue;
            }
            let sealed_seq = doc
                .get_change_meta_by_hash(&seal.change())
                .filter(|m| m.actor.as_ref() == actor)
                .map(|m| m.seq);
            match sealed_seq {
                Some(sealed) if sealed >= seq => {
                    verdict = Ok(seal.clone());
                    break;
                }
                _ => {
                    verdict = Err(Refusal(format!(
                        "actor {actor}'s seal does not cover its changes"
                    )))
                }
            }
        }
        covering.push(verdict?);
    }
    Ok(covering)
}

/// The team document as of a change's past: its dependencies, or for the
/// root change, the change itself.
fn team_at(doc: &mut AutoCommit, heads: &[ChangeHash]) -> Result<Team, Refusal> {
    let past = doc
        .fork_at(heads)
        .map_err(|e| Refusal(format!("the change's past is not in the document: {e}")))?;
    doc::team::read(&past).map_err(|e| Refusal(format!("the team as of the change: {e}")))
}

fn judge_team(doc: &mut AutoCommit, new: &[NewChange], paths: &mut Paths) -> Result<(), Refusal> {
    // A device revoked concurrently with its change did not know it yet;
    // what it dated after its revocation is refused all the same.
    let merged = doc::team::read(&*doc).ok();
    let roots = doc
        .get_changes_meta(&[])
        .iter()
        .filter(|m| m.deps.is_empty())
        .count();
    for change in new {
        if change.deps.is_empty() {
            // The root change makes the team; whoever made it names itself
            // its supervisor. A second root would hide the first one's
            // containers: never accepted.
            if roots > 1 {
                return refuse("a second root change for the team document");
            }
            let team = team_at(doc, &[change.hash])?;
            let writer = writer_in(&team, &change.actor, change.time)?;
            if writer.role != Role::Supervisor {
                return refuse("the team's root change does not make its writer supervisor");
            }
            continue;
        }
        let team = team_at(doc, &change.deps)?;
        let writer = writer_in(&team, &change.actor, change.time)?;
        if merged
            .as_ref()
            .is_some_and(|m| revoked_before(m, &writer.device, change.time))
        {
            return refuse(format!(
                "device {} was revoked before this change",
                writer.device
            ));
        }
        let ops = ops_of(doc, change, paths)?;
        check_text(&ops)?;
        for op in &ops {
            check_mailbox_field(op)?;
        }
        if writer.role == Role::Supervisor {
            continue;
        }
        for op in ops {
            let own_entry = op.path.len() == 2
                && op.path[0] == "members"
                && op.path[1] == writer.device
                && op.key.as_deref() == Some("device_name");
            if !own_entry {
                return refuse(format!(
                    "agent {} may only change its own device name in the team, not {}",
                    writer.agent,
                    op.describe()
                ));
            }
        }
    }
    Ok(())
}

/// A campaign's mailbox (`campaigns.<id>.mail_*`, see `doc::team`): the
/// keys the schema names, ports as ports, TLS modes as named, fetchers
/// as booleans; anything else under `mail_` is refused. Who may write it is
/// the team document's rule: supervisors.
fn check_mailbox_field(op: &OpView) -> Result<(), Refusal> {
    let Some(key) = op.key.as_deref() else {
        return Ok(());
    };
    if op.path.len() != 2 || op.path[0] != "campaigns" || !key.starts_with("mail_") {
        return Ok(());
    }
    if matches!(op.action, OpType::Delete) {
        return Ok(());
    }
    let ok = match key {
        "mail_imap_port" | "mail_smtp_port" => op
            .int_value()
            .is_some_and(|p| (1..=i64::from(u16::MAX)).contains(&p)),
        "mail_imap_tls" | "mail_smtp_tls" => op
            .str_value()
            .is_some_and(|t| matches!(t, "tls" | "starttls" | "none")),
        "mail_address" | "mail_imap_host" | "mail_imap_user" | "mail_smtp_host"
        | "mail_smtp_user" => op.str_value().is_some_and(|t| {
            t.chars().count() <= crate::validate::MAX_FIELD_CHARS && !t.contains('\n')
        }),
        k if k.starts_with("mail_fetcher:") => {
            matches!(op.value(), Some(ScalarValue::Boolean(_)))
                && k.len() <= "mail_fetcher:".len() + 128
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        refuse(format!("{} is outside a mailbox's schema", op.describe()))
    }
}

/// The mail facts of a message (`mail_id`, `mail_sent_at`, `mail_error`,
/// see `doc::interaction::MailMark`): a bounded id, a time, a reason.
fn check_mail_mark(op: &OpView) -> Result<(), Refusal> {
    let Some(key) = op.key.as_deref().filter(|k| k.starts_with("mail_")) else {
        return Ok(());
    };
    let ok = match key {
        "mail_id" => op
            .str_value()
            .is_some_and(|t| t.len() <= crate::mail::MAX_MAIL_ID_CHARS && !t.contains('\n')),
        "mail_sent_at" => op.int_value().is_some(),
        "mail_error" => op.str_value().is_some_and(|t| t.chars().count() <= 1000),
        "mail_uid" => op
            .str_value()
            .is_some_and(|t| crate::mail::parse_uid_mark(t).is_some()),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        refuse(format!("{} is outside a message's schema", op.describe()))
    }
}

/// Text any writer puts in a document is bounded and free of control
/// characters (line breaks and tabs aside), as the node's own validation
/// makes it: what a peer writes around the forms is held to the same.
fn check_text(ops: &[OpView]) -> Result<(), Refusal> {
    for op in ops {
        let Some(text) = op.str_value() else {
            continue;
        };
        if text.len() > MAX_TEXT_CHARS && text.chars().count() > MAX_TEXT_CHARS {
            return refuse(format!(
                "{} holds more than {MAX_TEXT_CHARS} characters",
                op.describe()
            ));
        }
        if let Some(c) = text
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
        {
            return refuse(format!(
                "{} holds the control character U+{:04X}",
                op.describe(),
                u32::from(c)
            ));
        }
    }
    Ok(())
}

/// A write in a `tags` map (an interaction's or a contact's): anyone may
/// add or remove a tag, but a tag is a key holding `true`, at most
/// [`MAX_TAG_CHARS`] characters, not blank, with no control character
/// (History's facets join tags with line breaks).
fn check_tag(op: &OpView) -> Result<(), Refusal> {
    let Some(tag) = op.key.as_deref() else {
        return refuse(format!("{} is not a tag", op.describe()));
    };
    if op.makes_object() {
        return refuse(format!("{} must be a tag, not an object", op.describe()));
    }
    if let Some(value) = op.value()
        && !matches!(value, ScalarValue::Boolean(true))
    {
        return refuse(format!("{} must hold true", op.describe()));
    }
    if tag.trim().is_empty() {
        return refuse(format!("{} is a blank tag", op.describe()));
    }
    if tag.len() > MAX_TAG_CHARS && tag.chars().count() > MAX_TAG_CHARS {
        return refuse(format!(
            "a tag of more than {MAX_TAG_CHARS} characters in {}",
            op.path.join(".")
        ));
    }
    if let Some(c) = tag.chars().find(|c| c.is_control()) {
        return refuse(format!(
            "a tag in {} holds the control character U+{:04X}",
            op.path.join("."),
            u32::from(c)
        ));
    }
    Ok(())
}

/// The longest tag.
const MAX_TAG_CHARS: usize = crate::bounds::MAX_TAG_CHARS;

/// The longest text a document field may hold (a message's or note's body).
const MAX_TEXT_CHARS: usize = crate::validate::MAX_MESSAGE_CHARS;
/// The longest reason a take-back carries.
const MAX_REASON_CHARS: usize = crate::bounds::MAX_REASON_CHARS;
/// The longest note a snooze carries.
const MAX_SNOOZE_NOTE_CHARS: usize = crate::bounds::MAX_SNOOZE_NOTE_CHARS;
const MAX_ATTACHMENTS_PER_MESSAGE: usize = crate::bounds::MAX_ATTACHMENTS_PER_MESSAGE;

/// One operation of a change, with where it writes.
struct OpView {
    /// The path of the object it writes in.
    path: Path,
    /// Who made that object (`None`: the root).
    creator: Option<ActorId>,
    /// The map key it writes (`None` in a list).
    key: Option<String>,
    action: OpType,
    insert: bool,
    /// The object it writes in (`None`: the root).
    obj: Option<(u64, ActorId)>,
    /// Whether that object was made by this same change.
    obj_made_here: bool,
}

impl OpView {
    fn describe(&self) -> String {
        let mut at = self.path.join(".");
        if let Some(key) = &self.key {
            if !at.is_empty() {
                at.push('.');
            }
            at.push_str(key);
        }
        if at.is_empty() {
            at.push_str("the root");
        }
        at
    }

    fn value(&self) -> Option<&ScalarValue> {
        match &self.action {
            OpType::Put(v) => Some(v),
            _ => None,
        }
    }

    fn str_value(&self) -> Option<&str> {
        match self.value() {
            Some(ScalarValue::Str(s)) => Some(s.as_str()),
            _ => None,
        }
    }

    fn int_value(&self) -> Option<i64> {
        match self.value() {
            Some(ScalarValue::Int(i)) | Some(ScalarValue::Timestamp(i)) => Some(*i),
            Some(ScalarValue::Uint(u)) => i64::try_from(*u).ok(),
            _ => None,
        }
    }

    fn makes_object(&self) -> bool {
        matches!(self.action, OpType::Make(_))
    }
}

/// The operations of `change`, each with the path it writes in.
fn ops_of(doc: &AutoCommit, change: &NewChange, paths: &mut Paths) -> Result<Vec<OpView>, Refusal> {
    let ops = crate::change_ops::read(&change.full);
    let start_op = change.full.start_op().get();
    let root: Path = Path::default();
    let mut out = Vec::with_capacity(ops.len());
    for (offset, op) in ops.into_iter().enumerate() {
        let obj_made_here = op
            .obj
            .as_ref()
            .is_some_and(|(counter, actor)| *actor == change.actor && *counter >= start_op);
        let (path, creator) = match &op.obj {
            None => (root.clone(), None),
            Some(id) => {
                let path = match paths.get(id) {
                    Some(path) => path.clone(),
                    None => {
                        let path = Path::new(object_path(doc, id.0, &id.1)?);
                        paths.insert(id.clone(), path.clone());
                        path
                    }
                };
                (path, Some(id.1.clone()))
            }
        };
        if let OpType::Make(_) = op.action {
            let counter = start_op + offset as u64;
            let mut inner = Vec::clone(&path);
            inner.push(op.key.clone().unwrap_or_else(|| "*".into()));
            paths.insert((counter, change.actor.clone()), Path::new(inner));
        }
        out.push(OpView {
            path,
            creator,
            key: op.key,
            action: op.action,
            insert: op.insert,
            obj: op.obj,
            obj_made_here,
        });
    }
    Ok(out)
}

/// Where an object made by an earlier change is. Objects never move, so
/// its path is the one it was made at, whatever happened since.
fn object_path(doc: &AutoCommit, counter: u64, actor: &ActorId) -> Result<Vec<String>, Refusal> {
    let opid = format!("{counter}@{}", actor.to_hex_string());
    let unknown = || Refusal(format!("writes in an unknown object {opid}"));
    let obj = doc.import_obj(&opid).map_err(|_| unknown())?;
    let parents = doc.parents(&obj).map_err(|_| unknown())?;
    let mut path: Vec<String> = parents
        .map(|p| match p.prop {
            Prop::Map(k) => k,
            Prop::Seq(_) => "*".to_string(),
        })
        .collect();
    path.reverse();
    Ok(path)
}

/// The writer's own agent as a message author.
fn own_author(writer: &Writer) -> String {
    format!("agent:{}", writer.agent)
}

fn judge(
    doc_id: &DocId,
    doc: &mut AutoCommit,
    change: &NewChange,
    writer: &Writer,
    paths: &mut Paths,
) -> Result<(), Refusal> {
    let ops = ops_of(doc, change, paths)?;
    check_text(&ops)?;
    match doc_id {
        DocId::Team(_) => Ok(()),
        DocId::Agent(id) => {
            if writer.agent == *id || writer.role == Role::Supervisor {
                check_status_log(doc, change, &ops)
            } else {
                refuse(format!(
                    "agent {} may not write agent {id}'s document",
                    writer.agent
                ))
            }
        }
        DocId::Contact(id) => {
            for op in ops
                .iter()
                .filter(|op| op.path.len() == 1 && op.path[0] == "tags")
            {
                check_tag(op)?;
            }
            check_mail_sender(&ops, change)?;
            judge_merge(*id, &ops, change, writer)
        }
        DocId::Room { .. } => {
            for op in &ops {
                judge_room_op(op, change, writer)?;
            }
            Ok(())
        }
        DocId::Interaction(_) => {
            let mut past: Option<Round> = if change.deps.is_empty() {
                root_round(&ops)
            } else {
                None
            };
            check_attachment_counts(&ops)?;
            for op in &ops {
                judge_interaction_op(doc, op, change, writer, &mut past)?;
            }
            Ok(())
        }
    }
}

/// A contact's merge (`merged_into`, `merged_at`, `merged_by` at the root,
/// see `merge`): any member merges or unmerges, but in their own name — a
/// change that writes `merged_into` names its writer's own agent in
/// `merged_by` — into another contact (a contact id, never its own), dated
/// no later than the change itself.
fn judge_merge(
    own: ContactId,
    ops: &[OpView],
    change: &NewChange,
    writer: &Writer,
) -> Result<(), Refusal> {
    let mut sets_target = false;
    let mut names_writer = false;
    for op in ops.iter().filter(|op| {
        op.path.is_empty() && op.key.as_deref().is_some_and(|k| k.starts_with("merged_"))
    }) {
        let key = op.key.as_deref().unwrap_or_default();
        let fits = match key {
            "merged_into" => {
                sets_target = true;
                op.str_value().is_some_and(|to| {
                    to.is_empty() || to.parse::<ContactId>().is_ok_and(|to| to != own)
                })
            }
            "merged_by" => {
                let mine = op.str_value() == Some(writer.agent.to_string().as_str());
                names_writer |= mine;
                mine
            }
            "merged_at" => {
                let latest = change
                    .time
                    .saturating_add(1)
                    .saturating_mul(1000)
                    .saturating_add(CLOCK_SKEW_MS);
                op.int_value().is_some_and(|at| (0..=latest).contains(&at))
            }
            _ => false,
        };
        if !fits {
            return refuse(format!(
                "{} by agent {} does not fit a contact's merge",
                op.describe(),
                writer.agent
            ));
        }
    }
    if sets_target && !names_writer {
        return refuse(format!(
            "agent {} merges a contact without naming itself in merged_by",
            writer.agent
        ));
    }
    Ok(())
}

/// The longest address a contact's `mail_sender` holds (RFC 5321's path).
const MAX_SENDER_CHARS: usize = 320;

/// A contact's `mail_sender` (see `merge`): written only when the contact
/// is made, so no later write pulls an entry into a sender's twins or out
/// of them (unmerging does that, in the writer's name); a lowercase
/// address on one line.
fn check_mail_sender(ops: &[OpView], change: &NewChange) -> Result<(), Refusal> {
    for op in ops
        .iter()
        .filter(|op| op.path.is_empty() && op.key.as_deref() == Some("mail_sender"))
    {
        if !change.deps.is_empty() {
            return refuse("a contact's mail_sender is written only when it is created");
        }
        let fits = op.str_value().is_some_and(|s| {
            s.contains('@')
                && s.chars().count() <= MAX_SENDER_CHARS
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
                && s == s.to_lowercase()
        });
        if !fits {
            return refuse(format!("{} is not a lowercase address", op.describe()));
        }
    }
    Ok(())
}

/// The most entries an agent's status log may hold.
const MAX_STATUS_LOG: usize = crate::bounds::MAX_STATUS_LOG;

/// A change that adds to an agent's status log leaves it at most
/// [`MAX_STATUS_LOG`] long, as of the change itself (its writer trims the
/// oldest in the same change). Only such changes pay for the count.
fn check_status_log(doc: &AutoCommit, change: &NewChange, ops: &[OpView]) -> Result<(), Refusal> {
    let adds = ops
        .iter()
        .any(|op| op.insert && op.path.len() == 1 && op.path[0] == "status_history");
    if !adds {
        return Ok(());
    }
    let at = [change.hash];
    let Ok(Some((automerge::Value::Object(_), log))) =
        doc.get_at(automerge::ROOT, "status_history", &at)
    else {
        return refuse("a status change outside the agent's status log");
    };
    let len = doc.length_at(&log, &at);
    if len > MAX_STATUS_LOG {
        return refuse(format!(
            "the status log holds {len} entries, more than {MAX_STATUS_LOG}"
        ));
    }
    Ok(())
}

fn judge_room_op(op: &OpView, change: &NewChange, writer: &Writer) -> Result<(), Refusal> {
    match op.path.len() {
        // A message is a map under its own key at the root.
        0 if op.makes_object() => Ok(()),
        1 => {
            if op.creator.as_ref() != Some(&change.actor) {
                return refuse(format!("{} belongs to another writer", op.describe()));
            }
            if op.key.as_deref() == Some("author")
                && op.str_value() != Some(writer.agent.to_string().as_str())
            {
                return refuse(format!(
                    "a chat message by agent {} names another author",
                    writer.agent
                ));
            }
            Ok(())
        }
        _ => refuse(format!(
            "{} is outside a chat room's messages",
            op.describe()
        )),
    }
}

/// The routing round of an interaction as of a change's past.
struct Round {
    /// Transfers before the change: the round's number.
    epoch: u32,
    /// When it began: the queueing, or the last transfer.
    started: Millis,
    /// The owner: the smallest `(claimed_at, agent)` among the round's claims.
    owner: Option<AgentId>,
}

/// Reads [`Round`] at the change's dependencies (for the root change, at
/// the change itself), without building the past document: a few reads at
/// those heads.
fn round_at(doc: &AutoCommit, change: &NewChange) -> Result<Round, Refusal> {
    let heads = if change.deps.is_empty() {
        vec![change.hash]
    } else {
        change.deps.clone()
    };
    let heads = heads.as_slice();
    let unreadable = |what: &str| Refusal(format!("the interaction's {what} as of the change"));
    let object = |parent: &automerge::ObjId, prop: Prop| -> Option<automerge::ObjId> {
        match doc.get_at(parent, prop, heads) {
            Ok(Some((automerge::Value::Object(_), id))) => Some(id),
            _ => None,
        }
    };
    let int = |parent: &automerge::ObjId, key: &str| -> Option<i64> {
        match doc.get_at(parent, key, heads) {
            Ok(Some((automerge::Value::Scalar(v), _))) => match v.as_ref() {
                ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Some(*i),
                ScalarValue::Uint(u) => i64::try_from(*u).ok(),
                _ => None,
            },
            _ => None,
        }
    };
    let text = |parent: &automerge::ObjId, key: &str| -> Option<String> {
        match doc.get_at(parent, key, heads) {
            Ok(Some((automerge::Value::Scalar(v), _))) => v.as_str().map(str::to_string),
            _ => None,
        }
    };
    let root = automerge::ROOT;
    let transfers = object(&root, "transfers".into()).ok_or_else(|| unreadable("transfers"))?;
    let count = doc.length_at(&transfers, heads);
    let epoch = u32::try_from(count).map_err(|_| unreadable("transfers"))?;
    let started = match count.checked_sub(1) {
        None => int(&root, "enqueued_at"),
        Some(last) => object(&transfers, last.into()).and_then(|t| int(&t, "at")),
    }
    .ok_or_else(|| unreadable("round start"))?;
    let claims = object(&root, "claims".into()).ok_or_else(|| unreadable("claims"))?;
    let mut owner: Option<(Millis, AgentId)> = None;
    let keys: Vec<String> = doc.keys_at(&claims, heads).collect();
    for key in keys {
        let Some((claim_epoch, agent)) = round_key(&key) else {
            continue;
        };
        if claim_epoch != epoch {
            continue;
        }
        let Some(at) = object(&claims, key.as_str().into()).and_then(|c| int(&c, "claimed_at"))
        else {
            continue;
        };
        let named = object(&claims, key.as_str().into()).and_then(|c| text(&c, "agent"));
        if named.as_deref() != Some(agent.to_string().as_str()) {
            continue;
        }
        if owner.is_none_or(|best| (at, agent) < best) {
            owner = Some((at, agent));
        }
    }
    Ok(Round {
        epoch,
        started,
        owner: owner.map(|(_, agent)| agent),
    })
}

/// [`Round`] as of a root change, read from its own operations rather than
/// through the document: the common plain shape only (one `transfers` list
/// left empty, one `claims` map, one `enqueued_at`, nothing deleted); any
/// other shape is read by [`round_at`]. The owner is left unset: a root
/// change may transfer and finalize as the interaction's creator, so its
/// owner is never asked for.
fn root_round(ops: &[OpView]) -> Option<Round> {
    let mut transfers = 0;
    let mut claims = 0;
    let mut started = None;
    for op in ops {
        if matches!(op.action, OpType::Delete) {
            return None;
        }
        match (op.path.first().map(String::as_str), op.key.as_deref()) {
            (None, Some("transfers")) => match op.action {
                OpType::Make(automerge::ObjType::List) => transfers += 1,
                _ => return None,
            },
            (None, Some("claims")) => match op.action {
                OpType::Make(automerge::ObjType::Map) => claims += 1,
                _ => return None,
            },
            (None, Some("enqueued_at")) => {
                if started.is_some() {
                    return None;
                }
                started = Some(op.int_value()?);
            }
            (Some("transfers"), _) => return None,
            _ => {}
        }
    }
    (transfers == 1 && claims == 1).then_some(Round {
        epoch: 0,
        started: started?,
        owner: None,
    })
}

/// The round of the change being judged, read once.
fn round<'r>(
    doc: &AutoCommit,
    change: &NewChange,
    past: &'r mut Option<Round>,
) -> Result<&'r Round, Refusal> {
    if past.is_none() {
        *past = Some(round_at(doc, change)?);
    }
    past.as_ref()
        .ok_or_else(|| Refusal("the interaction's round as of the change".into()))
}

/// A change adds at most [`MAX_ATTACHMENTS_PER_MESSAGE`] files to any one
/// message's `attachments` (which only the change that made it fills).
fn check_attachment_counts(ops: &[OpView]) -> Result<(), Refusal> {
    let mut counts: HashMap<&(u64, ActorId), usize> = HashMap::new();
    for op in ops {
        if op.insert
            && op.path.len() == 3
            && op.path[0] == "messages"
            && op.path[2] == "attachments"
            && let Some(obj) = &op.obj
        {
            let n = counts.entry(obj).or_default();
            *n += 1;
            if *n > MAX_ATTACHMENTS_PER_MESSAGE {
                return refuse(format!(
                    "a message carries more than {MAX_ATTACHMENTS_PER_MESSAGE} files"
                ));
            }
        }
    }
    Ok(())
}

/// One field of a file a message carries: a well-formed hash, a size up to
/// the ceiling, a media type and a bare file name, each bounded; nothing else.
fn judge_attachment_field(op: &OpView) -> Result<(), Refusal> {
    let fits = match op.key.as_deref() {
        Some("hash") => op.str_value().is_some_and(crate::blobs::is_hash_hex),
        Some("size") => op
            .int_value()
            .is_some_and(|n| n > 0 && n.unsigned_abs() <= crate::bounds::MAX_FILE_BYTES),
        Some("mime") => op.str_value().is_some_and(|m| {
            m.len() <= crate::bounds::MAX_MIME_CHARS
                && m.contains('/')
                && m.bytes().all(|b| b.is_ascii_graphic())
        }),
        Some("name") => op.str_value().is_some_and(|n| {
            !n.trim().is_empty()
                && n.chars().count() <= crate::bounds::MAX_FILE_NAME_CHARS
                && !n.contains(['/', '\\'])
        }),
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        refuse(format!("{} does not fit a file's record", op.describe()))
    }
}

/// `<epoch>:<agent>`, the key of a claim or a decline.
fn round_key(key: &str) -> Option<(u32, AgentId)> {
    let (epoch, agent) = key.split_once(':')?;
    Some((epoch.parse().ok()?, agent.parse().ok()?))
}

/// A transfer's `kind`: a return is its owner's alone (as of the change's
/// past), a pull-back or a hand-over a supervisor's alone (as the roster
/// says), whoever else may write transfers.
fn judge_take_back(
    doc: &AutoCommit,
    op: &OpView,
    change: &NewChange,
    writer: &Writer,
    past: &mut Option<Round>,
) -> Result<(), Refusal> {
    let Some(kind) = op.str_value().and_then(|k| k.parse::<TransferKind>().ok()) else {
        return refuse(format!("{} is not a kind of transfer", op.describe()));
    };
    match kind {
        TransferKind::Transfer => Ok(()),
        TransferKind::Return => {
            if round(doc, change, past)?.owner == Some(writer.agent) {
                Ok(())
            } else {
                refuse(format!(
                    "agent {} returns an interaction it does not own",
                    writer.agent
                ))
            }
        }
        TransferKind::PullBack | TransferKind::Hand => {
            if writer.role == Role::Supervisor {
                Ok(())
            } else {
                refuse(format!(
                    "agent {} is not a supervisor: only a supervisor may {} an interaction",
                    writer.agent,
                    if kind == TransferKind::Hand {
                        "hand over"
                    } else {
                        "pull back"
                    }
                ))
            }
        }
    }
}

/// A snooze key: written by the owner of the current round (as of the
/// change's past) only, naming itself and that round, its kind known and
/// its note bounded. Clearing writes the empty values.
fn judge_snooze(
    doc: &AutoCommit,
    op: &OpView,
    change: &NewChange,
    writer: &Writer,
    past: &mut Option<Round>,
) -> Result<(), Refusal> {
    let Some(key) = op.key.as_deref() else {
        return refuse(format!(
            "{} is outside an interaction's schema",
            op.describe()
        ));
    };
    if !doc::interaction::SNOOZE_KEYS.contains(&key) {
        return refuse(format!(
            "{} is outside an interaction's schema",
            op.describe()
        ));
    }
    let round = round(doc, change, past)?;
    if round.owner != Some(writer.agent) {
        return refuse(format!(
            "agent {} snoozes an interaction it does not own",
            writer.agent
        ));
    }
    let fits = match key {
        "snooze_agent" => op
            .str_value()
            .is_some_and(|a| a.is_empty() || a == writer.agent.to_string()),
        "snooze_epoch" => op
            .int_value()
            .is_some_and(|e| e == 0 || e == i64::from(round.epoch)),
        "snooze_at" | "snooze_until" => op.int_value().is_some(),
        "snooze_kind" => op
            .str_value()
            .is_some_and(|k| k.is_empty() || k.parse::<SnoozeKind>().is_ok()),
        "snooze_note" => op
            .str_value()
            .is_some_and(|n| n.chars().count() <= MAX_SNOOZE_NOTE_CHARS),
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        refuse(format!(
            "{} by agent {} does not fit its snooze",
            op.describe(),
            writer.agent
        ))
    }
}

fn judge_interaction_op(
    doc: &mut AutoCommit,
    op: &OpView,
    change: &NewChange,
    writer: &Writer,
    past: &mut Option<Round>,
) -> Result<(), Refusal> {
    let first = change.deps.is_empty();
    let own_object = op.creator.as_ref() == Some(&change.actor);
    let path: Vec<&str> = op.path.iter().map(String::as_str).collect();
    let key = op.key.as_deref();
    let what = || op.describe();
    match path.as_slice() {
        // The snooze: scalars at the root, the current owner's alone.
        [] if !first && key.is_some_and(|k| k.starts_with("snooze_")) => {
            judge_snooze(doc, op, change, writer, past)
        }
        // Its own fields and containers: made once, by its creator.
        [] | ["fields"] => {
            if first {
                Ok(())
            } else {
                refuse(format!("{} is written only when it is created", what()))
            }
        }
        ["messages"] | ["notes"] => {
            if op.insert && op.makes_object() {
                Ok(())
            } else {
                refuse(format!("{} only grows", what()))
            }
        }
        ["messages", "*"] => {
            // Whether an agent's reply went out by mail: any member may
            // record it, since the node that sends a reply whose author's
            // node is away is not the author's (see the email channel).
            let mail_fact = matches!(key, Some("mail_id" | "mail_sent_at" | "mail_error"));
            if !own_object && mail_fact && !op.makes_object() && !op.insert {
                return check_mail_mark(op);
            }
            if !own_object {
                return refuse(format!("{} belongs to another writer", what()));
            }
            if key == Some("attachments")
                && !matches!(op.action, OpType::Make(automerge::ObjType::List))
            {
                return refuse(format!("{} must be a list of files", what()));
            }
            if key != Some("attachments") && op.makes_object() {
                return refuse(format!("{} is outside a message's schema", what()));
            }
            check_mail_mark(op)?;
            if key == Some("author") {
                let author = op.str_value().unwrap_or_default();
                if author != own_author(writer) && author != "contact" && author != "system" {
                    return refuse(format!(
                        "a message by agent {} names the author `{author}`",
                        writer.agent
                    ));
                }
            }
            Ok(())
        }
        ["messages", "*", "attachments"] => {
            if !own_object {
                return refuse(format!("{} belongs to another writer", what()));
            }
            if op.insert && op.makes_object() && op.obj_made_here {
                Ok(())
            } else {
                refuse(format!(
                    "{} is written only with its message, one file map per entry",
                    what()
                ))
            }
        }
        ["messages", "*", "attachments", "*"] => {
            if !own_object {
                return refuse(format!("{} belongs to another writer", what()));
            }
            judge_attachment_field(op)
        }
        ["notes", "*"] | ["transfers", "*"] => {
            if !own_object {
                return refuse(format!("{} belongs to another writer", what()));
            }
            if path == ["transfers", "*"] {
                match key {
                    Some("kind") => return judge_take_back(doc, op, change, writer, past),
                    Some("reason") => {
                        let long = op
                            .str_value()
                            .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS);
                        return if long {
                            refuse(format!(
                                "{} holds more than {MAX_REASON_CHARS} characters",
                                what()
                            ))
                        } else {
                            Ok(())
                        };
                    }
                    _ => {}
                }
            }
            let named = match key {
                Some("agent") | Some("from") => op.str_value(),
                _ => return Ok(()),
            };
            if named != Some(writer.agent.to_string().as_str()) {
                return refuse(format!(
                    "{} by agent {} names another agent",
                    what(),
                    writer.agent
                ));
            }
            Ok(())
        }
        ["claims"] | ["declines"] => {
            let mine = key
                .and_then(round_key)
                .is_some_and(|(_, agent)| agent == writer.agent);
            if op.makes_object() && mine {
                Ok(())
            } else {
                refuse(format!(
                    "agent {} may only add its own entry, not {}",
                    writer.agent,
                    what()
                ))
            }
        }
        [list @ ("claims" | "declines"), entry] => {
            if !own_object {
                return refuse(format!("{} belongs to another writer", what()));
            }
            let Some((epoch, agent)) = round_key(entry) else {
                return refuse(format!("{} is not an `<epoch>:<agent>` entry", what()));
            };
            if agent != writer.agent {
                return refuse(format!("agent {} writes {}", writer.agent, what()));
            }
            let time_key = if *list == "claims" {
                "claimed_at"
            } else {
                "at"
            };
            match key {
                Some("agent") if op.str_value() != Some(agent.to_string().as_str()) => {
                    refuse(format!("{} names another agent", what()))
                }
                Some("epoch") if op.int_value() != Some(i64::from(epoch)) => {
                    refuse(format!("{} disagrees with its key", what()))
                }
                Some(k) if k == time_key => {
                    let at = op.int_value().unwrap_or(i64::MIN);
                    let past = round(doc, change, past)?;
                    let started = past.started;
                    // The change's own time is in whole seconds, by the
                    // writer's clock; a writer whose clock is behind the
                    // transferring node's dates its entry at the round's start.
                    let latest = change
                        .time
                        .saturating_add(1)
                        .saturating_mul(1000)
                        .saturating_add(CLOCK_SKEW_MS);
                    if epoch != past.epoch {
                        refuse(format!("{} is not for the current round", what()))
                    } else if at < started {
                        refuse(format!("{} is earlier than its round began", what()))
                    } else if at > latest && at != started {
                        refuse(format!("{} is later than the change itself", what()))
                    } else {
                        Ok(())
                    }
                }
                _ => Ok(()),
            }
        }
        ["transfers"] | ["finalization"] => {
            if path == ["transfers"] && !(op.insert && op.makes_object()) {
                return refuse(format!("{} only grows", what()));
            }
            if path == ["finalization"]
                && key == Some("agent")
                && op.str_value() != Some(writer.agent.to_string().as_str())
            {
                return refuse(format!("{} names another agent", what()));
            }
            if writer.role == Role::Supervisor || first {
                return Ok(());
            }
            let past = round(doc, change, past)?;
            if past.owner == Some(writer.agent) {
                Ok(())
            } else {
                refuse(format!(
                    "agent {} does not own the interaction: {}",
                    writer.agent,
                    what()
                ))
            }
        }
        ["tags"] => check_tag(op),
        _ => refuse(format!("{} is outside an interaction's schema", what())),
    }
}
