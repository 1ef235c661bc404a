//! The interaction document: one conversation with its messages, claims,
//! declines, transfers, finalization, notes and tags.
//!
//! Claims and declines are maps keyed `<epoch>:<agent>`: each agent's node
//! writes only its own key, so no two writers ever touch the same entry.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc};

use super::*;
use crate::blobs::Attachment;
use crate::types::*;

/// Writes a new interaction; every container it will ever need is made here.
pub fn create(doc: &mut AutoCommit, i: &Interaction) -> DocResult<()> {
    doc.put(ROOT, "kind", "interaction")?;
    doc.put(ROOT, "schema", SCHEMA)?;
    doc.put(ROOT, "id", i.id.to_string())?;
    doc.put(ROOT, "direction", i.direction.as_str())?;
    doc.put(ROOT, "channel", i.channel.as_str())?;
    doc.put(ROOT, "campaign", i.origin_campaign.to_string())?;
    doc.put(
        ROOT,
        "contact",
        i.contact.map(|c| c.to_string()).unwrap_or_default(),
    )?;
    doc.put(ROOT, "address", i.address.as_str())?;
    doc.put(ROOT, "contact_name", i.contact_name.as_str())?;
    // Written only when set: older readers and documents know no such field.
    if i.contact_unverified {
        doc.put(ROOT, "contact_unverified", true)?;
    }
    doc.put(ROOT, "subject", i.subject.as_str())?;
    let fields = doc.put_object(ROOT, "fields", ObjType::Map)?;
    set_string_map(doc, &fields, &i.fields)?;
    doc.put(ROOT, "priority", i64::from(i.priority))?;
    doc.put(ROOT, "enqueued_at", i.enqueued_at)?;
    doc.put(ROOT, "created_at", i.created_at)?;
    doc.put(
        ROOT,
        "created_by",
        i.created_by.map(|a| a.to_string()).unwrap_or_default(),
    )?;
    let messages = doc.put_object(ROOT, "messages", ObjType::List)?;
    for (n, m) in i.messages.iter().enumerate() {
        insert_message(doc, &messages, n, m)?;
    }
    doc.put_object(ROOT, "claims", ObjType::Map)?;
    doc.put_object(ROOT, "declines", ObjType::Map)?;
    let transfers = doc.put_object(ROOT, "transfers", ObjType::List)?;
    doc.put_object(ROOT, "finalization", ObjType::Map)?;
    let notes = doc.put_object(ROOT, "notes", ObjType::List)?;
    let tags = doc.put_object(ROOT, "tags", ObjType::Map)?;
    set_key_set(doc, &tags, &i.tags)?;
    for c in &i.claims {
        add_claim(doc, c)?;
    }
    for d in &i.declines {
        add_decline(doc, d)?;
    }
    for (n, t) in i.transfers.iter().enumerate() {
        insert_transfer(doc, &transfers, n, t)?;
    }
    for (n, note) in i.notes.iter().enumerate() {
        insert_note(doc, &notes, n, note)?;
    }
    if let Some(f) = &i.finalization {
        finalize(doc, f)?;
    }
    if let Some(s) = &i.snooze {
        snooze(doc, Some(s))?;
    }
    Ok(())
}

/// The snooze's keys, always all of them and in this order: scalars at the
/// root, so no container is made after creation (DESIGN §3), and two
/// concurrent writes of the owner's devices resolve to one whole snooze
/// (each key's winner is the same change's op).
pub const SNOOZE_KEYS: [&str; 6] = [
    "snooze_agent",
    "snooze_epoch",
    "snooze_at",
    "snooze_until",
    "snooze_kind",
    "snooze_note",
];

/// Sets the snooze, or clears it (`None`: `snooze_until` 0, the rest empty).
pub fn snooze(doc: &mut AutoCommit, s: Option<&Snooze>) -> DocResult<()> {
    let [agent, epoch, at, until, kind, note] = SNOOZE_KEYS;
    match s {
        Some(s) => {
            doc.put(ROOT, agent, s.agent.to_string())?;
            doc.put(ROOT, epoch, i64::from(s.epoch))?;
            doc.put(ROOT, at, s.at)?;
            doc.put(ROOT, until, s.until)?;
            doc.put(ROOT, kind, s.kind.as_str())?;
            doc.put(ROOT, note, s.note.as_str())?;
        }
        None => {
            doc.put(ROOT, agent, "")?;
            doc.put(ROOT, epoch, 0i64)?;
            doc.put(ROOT, at, 0i64)?;
            doc.put(ROOT, until, 0i64)?;
            doc.put(ROOT, kind, "")?;
            doc.put(ROOT, note, "")?;
        }
    }
    Ok(())
}

/// The snooze as written; none when never set or cleared.
fn read_snooze<D: ReadDoc>(root: &MapReader<'_, D>) -> DocResult<Option<Snooze>> {
    if !root.has("snooze_until")? || root.i64("snooze_until")? == 0 {
        return Ok(None);
    }
    Ok(Some(Snooze {
        agent: root.parsed("snooze_agent")?,
        epoch: root.u32("snooze_epoch")?,
        at: root.i64("snooze_at")?,
        until: root.i64("snooze_until")?,
        kind: root
            .str("snooze_kind")?
            .parse()
            .map_err(|reason| DocError::Invalid {
                path: "snooze_kind".into(),
                reason,
            })?,
        note: root.str_or_empty("snooze_note")?,
    }))
}

fn author_text(author: &Author) -> String {
    match author {
        Author::Agent(a) => format!("agent:{a}"),
        Author::Contact => "contact".into(),
        Author::System => "system".into(),
    }
}

fn parse_author(path: &str, text: &str) -> DocResult<Author> {
    match text {
        "contact" => Ok(Author::Contact),
        "system" => Ok(Author::System),
        _ => match text.strip_prefix("agent:").map(str::parse) {
            Some(Ok(a)) => Ok(Author::Agent(a)),
            _ => Err(DocError::Invalid {
                path: path.into(),
                reason: format!("unknown author `{text}`"),
            }),
        },
    }
}

fn insert_message(doc: &mut AutoCommit, list: &ObjId, index: usize, m: &Message) -> DocResult<()> {
    let obj = doc.insert_object(list, index, ObjType::Map)?;
    doc.put(&obj, "id", m.id.to_string())?;
    doc.put(&obj, "author", author_text(&m.author))?;
    doc.put(&obj, "at", m.at)?;
    // A plain string, not a Text object: bodies are written once, never co-edited.
    doc.put(&obj, "body", m.body.as_str())?;
    // Written only when there are files: the list is made in the
    // message's own change, which is what the write rules accept.
    if !m.attachments.is_empty() {
        let list = doc.put_object(&obj, "attachments", ObjType::List)?;
        for (n, a) in m.attachments.iter().enumerate() {
            let file = doc.insert_object(&list, n, ObjType::Map)?;
            doc.put(&file, "hash", a.hash.to_hex())?;
            doc.put(&file, "size", i64::try_from(a.size).unwrap_or(i64::MAX))?;
            doc.put(&file, "mime", a.mime.as_str())?;
            doc.put(&file, "name", a.name.as_str())?;
        }
    }
    Ok(())
}

fn insert_transfer(
    doc: &mut AutoCommit,
    list: &ObjId,
    index: usize,
    t: &Transfer,
) -> DocResult<()> {
    let obj = doc.insert_object(list, index, ObjType::Map)?;
    doc.put(&obj, "from", t.from.to_string())?;
    let (kind, id) = match t.to {
        TransferTarget::Agent(a) => ("agent", a.to_string()),
        TransferTarget::Campaign(c) => ("campaign", c.to_string()),
    };
    doc.put(&obj, "to_kind", kind)?;
    doc.put(&obj, "to", id)?;
    doc.put(&obj, "at", t.at)?;
    doc.put(&obj, "note", t.note.as_str())?;
    // Written only for take-backs: a plain transfer stays as older
    // releases wrote and read it.
    if t.kind != TransferKind::Transfer {
        doc.put(&obj, "kind", t.kind.as_str())?;
        doc.put(&obj, "reason", t.reason.as_str())?;
    }
    Ok(())
}

fn insert_note(doc: &mut AutoCommit, list: &ObjId, index: usize, n: &Note) -> DocResult<()> {
    let obj = doc.insert_object(list, index, ObjType::Map)?;
    doc.put(&obj, "agent", n.agent.to_string())?;
    doc.put(&obj, "at", n.at)?;
    doc.put(&obj, "text", n.text.as_str())?;
    Ok(())
}

pub fn append_message(doc: &mut AutoCommit, m: &Message) -> DocResult<()> {
    let list = existing(doc, &ROOT, "messages")?;
    let len = doc.length(&list);
    insert_message(doc, &list, len, m)
}

pub fn add_claim(doc: &mut AutoCommit, c: &Claim) -> DocResult<()> {
    let claims = existing(doc, &ROOT, "claims")?;
    let obj = doc.put_object(&claims, format!("{}:{}", c.epoch, c.agent), ObjType::Map)?;
    doc.put(&obj, "agent", c.agent.to_string())?;
    doc.put(&obj, "claimed_at", c.claimed_at)?;
    doc.put(&obj, "epoch", i64::from(c.epoch))?;
    Ok(())
}

pub fn add_decline(doc: &mut AutoCommit, d: &Decline) -> DocResult<()> {
    let declines = existing(doc, &ROOT, "declines")?;
    let obj = doc.put_object(&declines, format!("{}:{}", d.epoch, d.agent), ObjType::Map)?;
    doc.put(&obj, "agent", d.agent.to_string())?;
    doc.put(&obj, "at", d.at)?;
    doc.put(&obj, "epoch", i64::from(d.epoch))?;
    Ok(())
}

pub fn add_transfer(doc: &mut AutoCommit, t: &Transfer) -> DocResult<()> {
    let list = existing(doc, &ROOT, "transfers")?;
    let len = doc.length(&list);
    insert_transfer(doc, &list, len, t)
}

pub fn finalize(doc: &mut AutoCommit, f: &Finalization) -> DocResult<()> {
    let obj = existing(doc, &ROOT, "finalization")?;
    doc.put(&obj, "agent", f.agent.to_string())?;
    doc.put(&obj, "at", f.at)?;
    doc.put(&obj, "disposition", f.disposition.as_str())?;
    doc.put(&obj, "note", f.note.as_str())?;
    doc.put(&obj, "wrapup_until", f.wrapup_until)?;
    Ok(())
}

pub fn add_note(doc: &mut AutoCommit, n: &Note) -> DocResult<()> {
    let list = existing(doc, &ROOT, "notes")?;
    let len = doc.length(&list);
    insert_note(doc, &list, len, n)
}

pub fn add_tag(doc: &mut AutoCommit, tag: &str) -> DocResult<()> {
    let tags = existing(doc, &ROOT, "tags")?;
    doc.put(&tags, tag, true)?;
    Ok(())
}

pub fn remove_tag(doc: &mut AutoCommit, tag: &str) -> DocResult<()> {
    let tags = existing(doc, &ROOT, "tags")?;
    doc.delete(&tags, tag)?;
    Ok(())
}

/// Reads the whole interaction, every message included.
pub fn read<D: ReadDoc>(doc: &D) -> DocResult<Interaction> {
    Ok(read_with(doc, usize::MAX)?.0)
}

/// How many trailing messages [`read_head`] reads: enough to find the latest
/// even when a few concurrent appends landed out of time order.
pub const HEAD_TAIL: usize = 8;

/// Reads everything but the older messages: the last [`HEAD_TAIL`] messages
/// and the total count. Cost stays flat however long the conversation grows;
/// state checks and projections need no more.
pub fn read_head<D: ReadDoc>(doc: &D) -> DocResult<(Interaction, usize)> {
    read_with(doc, HEAD_TAIL)
}

/// Calls `each` with the bodies of the first `upto` messages, oldest first,
/// until it returns false: search indexes the messages `read_head` skips
/// without reading more of them than it keeps.
pub fn each_body<D: ReadDoc>(
    doc: &D,
    upto: usize,
    mut each: impl FnMut(&str) -> bool,
) -> DocResult<()> {
    let root = MapReader::root(doc);
    let list = root.list("messages")?;
    if is_email(&root)? {
        let maps = list.maps()?;
        for n in shown_mails(&maps)?.into_iter().take(upto) {
            if !each(&maps[n].str("body")?) {
                break;
            }
        }
        return Ok(());
    }
    list.each_str(upto, "body", each)
}

fn is_email<D: ReadDoc>(root: &MapReader<'_, D>) -> DocResult<bool> {
    Ok(root.str("channel")? == ChannelKind::Email.as_str())
}

/// The positions of the messages an email conversation shows, oldest
/// first: every message, but of those carrying one `Message-ID` only the
/// first by (`at`, message id). Two fetchers apart can each append the
/// same mail (a customer's answer) and the list keeps both; every reader
/// goes through here, so every node shows it once, the same one, and
/// nothing is deleted.
fn shown_mails<D: ReadDoc>(maps: &[MapReader<'_, D>]) -> DocResult<Vec<usize>> {
    let mut first: std::collections::HashMap<String, ((Millis, MessageId), usize)> =
        std::collections::HashMap::new();
    let mut hidden = vec![false; maps.len()];
    for (n, m) in maps.iter().enumerate() {
        let Some(mail) = m
            .opt_str("mail_id")?
            .as_deref()
            .and_then(crate::mail::normalize_mail_id)
        else {
            continue;
        };
        let key = (m.i64("at")?, m.parsed::<MessageId>("id")?);
        match first.entry(mail) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((key, n));
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let (kept, at) = *e.get();
                if key < kept {
                    hidden[at] = true;
                    e.insert((key, n));
                } else {
                    hidden[n] = true;
                }
            }
        }
    }
    Ok((0..maps.len()).filter(|n| !hidden[*n]).collect())
}

/// What the email channel keeps on a message, beside the message itself:
/// scalars in the message's own map, written only by whoever added the
/// message (the write rules' "a message's fields only by its writer").
#[derive(Clone, PartialEq, Eq, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct MailMark {
    pub message: MessageId,
    /// The mail's `Message-ID` (inbound: the customer's; outbound: ours).
    pub mail_id: Option<String>,
    /// When the SMTP server accepted it (outbound).
    pub sent_at: Option<i64>,
    /// Why sending failed for good (outbound).
    pub error: Option<String>,
    /// Where a fetcher found it: `<campaign>/<UIDVALIDITY>/<UID>` (inbound).
    #[serde(default)]
    pub uid: Option<String>,
}

/// The mail facts of every message in the list, in order, those of
/// repeated mails that readers leave out (see `shown_mails`) included.
pub fn mail_marks<D: ReadDoc>(doc: &D) -> DocResult<Vec<MailMark>> {
    let list = MapReader::root(doc).list("messages")?;
    let mut out = Vec::with_capacity(list.len());
    for n in 0..list.len() {
        let m = list.map_at(n)?;
        out.push(MailMark {
            message: m.parsed("id")?,
            mail_id: m.opt_str("mail_id")?,
            sent_at: m.opt_i64("mail_sent_at")?,
            error: m.opt_str("mail_error")?,
            uid: m.opt_str("mail_uid")?,
        });
    }
    Ok(out)
}

/// Records where a fetched mail was found (see [`MailMark::uid`]) on this
/// writer's own message.
pub fn put_mail_uid(doc: &mut AutoCommit, message: MessageId, uid: &str) -> DocResult<()> {
    let list = existing(doc, &ROOT, "messages")?;
    let wanted = message.to_string();
    for n in (0..doc.length(&list)).rev() {
        let Some((_, obj)) = doc.get(&list, n)? else {
            continue;
        };
        if let Some((automerge::Value::Scalar(s), _)) = doc.get(&obj, "id")?
            && let automerge::ScalarValue::Str(id) = s.as_ref()
            && id.as_str() == wanted
        {
            doc.put(&obj, "mail_uid", uid)?;
            return Ok(());
        }
    }
    Err(DocError::Missing(format!("messages.{wanted}")))
}

/// Appends a message that came as (or goes out as) a mail with this `Message-ID`.
pub fn append_mail_message(doc: &mut AutoCommit, m: &Message, mail_id: &str) -> DocResult<()> {
    let list = existing(doc, &ROOT, "messages")?;
    let len = doc.length(&list);
    insert_message(doc, &list, len, m)?;
    let obj = doc
        .get(&list, len)?
        .map(|(_, id)| id)
        .ok_or_else(|| DocError::Missing("messages".into()))?;
    doc.put(&obj, "mail_id", mail_id)?;
    Ok(())
}

/// Records on this writer's own message that its mail was sent (`sent_at`)
/// or failed for good (`error`).
pub fn mark_mail(
    doc: &mut AutoCommit,
    message: MessageId,
    mail_id: &str,
    sent_at: Option<i64>,
    error: Option<&str>,
) -> DocResult<()> {
    let list = existing(doc, &ROOT, "messages")?;
    let wanted = message.to_string();
    let len = doc.length(&list);
    for n in (0..len).rev() {
        let Some((_, obj)) = doc.get(&list, n)? else {
            continue;
        };
        let id = match doc.get(&obj, "id")? {
            Some((automerge::Value::Scalar(s), _)) => match s.as_ref() {
                automerge::ScalarValue::Str(s) => s.to_string(),
                _ => continue,
            },
            _ => continue,
        };
        if id == wanted {
            doc.put(&obj, "mail_id", mail_id)?;
            if let Some(at) = sent_at {
                doc.put(&obj, "mail_sent_at", at)?;
            }
            if let Some(e) = error {
                doc.put(&obj, "mail_error", e)?;
            }
            return Ok(());
        }
    }
    Err(DocError::Missing(format!("messages.{wanted}")))
}

fn read_message<D: ReadDoc>(m: &MapReader<'_, D>) -> DocResult<Message> {
    Ok(Message {
        id: m.parsed("id")?,
        author: parse_author("messages.author", &m.str("author")?)?,
        at: m.i64("at")?,
        body: m.str("body")?,
        attachments: read_attachments(m)?,
    })
}

fn read_attachments<D: ReadDoc>(m: &MapReader<'_, D>) -> DocResult<Vec<Attachment>> {
    if !m.has("attachments")? {
        return Ok(Vec::new());
    }
    m.list("attachments")?
        .maps()?
        .iter()
        .map(|f| {
            let size = f.i64("size")?;
            Ok(Attachment {
                hash: f.parsed("hash")?,
                size: u64::try_from(size).map_err(|_| DocError::Invalid {
                    path: "messages.attachments.size".into(),
                    reason: format!("{size} is not a size"),
                })?,
                mime: f.str("mime")?,
                name: f.str("name")?,
            })
        })
        .collect()
}

fn read_with<D: ReadDoc>(doc: &D, tail: usize) -> DocResult<(Interaction, usize)> {
    let root = MapReader::root(doc);
    if root.str("kind")? != "interaction" {
        return Err(DocError::Invalid {
            path: "kind".into(),
            reason: "not an interaction".into(),
        });
    }
    let list = root.list("messages")?;
    let (messages, count) = if is_email(&root)? {
        let maps = list.maps()?;
        let shown = shown_mails(&maps)?;
        let count = shown.len();
        let messages = shown[count.saturating_sub(tail)..]
            .iter()
            .map(|n| read_message(&maps[*n]))
            .collect::<DocResult<Vec<_>>>()?;
        (messages, count)
    } else {
        let count = list.len();
        let messages = list
            .maps_from(count.saturating_sub(tail))?
            .iter()
            .map(read_message)
            .collect::<DocResult<Vec<_>>>()?;
        (messages, count)
    };
    let claims_map = root.map("claims")?;
    let claims = claims_map
        .keys()
        .iter()
        .map(|k| {
            let c = claims_map.map(k)?;
            Ok(Claim {
                agent: c.parsed("agent")?,
                claimed_at: c.i64("claimed_at")?,
                epoch: c.u32("epoch")?,
            })
        })
        .collect::<DocResult<Vec<_>>>()?;
    let declines_map = root.map("declines")?;
    let declines = declines_map
        .keys()
        .iter()
        .map(|k| {
            let d = declines_map.map(k)?;
            Ok(Decline {
                agent: d.parsed("agent")?,
                at: d.i64("at")?,
                epoch: d.u32("epoch")?,
            })
        })
        .collect::<DocResult<Vec<_>>>()?;
    let transfers = root
        .list("transfers")?
        .maps()?
        .iter()
        .map(|t| {
            let to = match t.str("to_kind")?.as_str() {
                "agent" => TransferTarget::Agent(t.parsed("to")?),
                "campaign" => TransferTarget::Campaign(t.parsed("to")?),
                other => {
                    return Err(DocError::Invalid {
                        path: "transfers.to_kind".into(),
                        reason: format!("unknown target `{other}`"),
                    });
                }
            };
            Ok(Transfer {
                from: t.parsed("from")?,
                to,
                at: t.i64("at")?,
                note: t.str_or_empty("note")?,
                kind: match (t.opt_str("kind")?, to) {
                    (None, _) => TransferKind::Transfer,
                    (Some(kind), to) => match kind.parse().map_err(|reason| DocError::Invalid {
                        path: "transfers.kind".into(),
                        reason,
                    })? {
                        // A kind that does not fit its target (written around
                        // the ops) reads as the plain transfer it is.
                        TransferKind::Return | TransferKind::PullBack
                            if matches!(to, TransferTarget::Agent(_)) =>
                        {
                            TransferKind::Transfer
                        }
                        TransferKind::Hand if matches!(to, TransferTarget::Campaign(_)) => {
                            TransferKind::Transfer
                        }
                        kind => kind,
                    },
                },
                reason: t.str_or_empty("reason")?,
            })
        })
        .collect::<DocResult<Vec<_>>>()?;
    let fin = root.map("finalization")?;
    let finalization = if fin.has("at")? {
        Some(Finalization {
            agent: fin.parsed("agent")?,
            at: fin.i64("at")?,
            disposition: fin.str("disposition")?,
            note: fin.str_or_empty("note")?,
            wrapup_until: fin.i64("wrapup_until")?,
        })
    } else {
        None
    };
    let notes = root
        .list("notes")?
        .maps()?
        .iter()
        .map(|n| {
            Ok(Note {
                agent: n.parsed("agent")?,
                at: n.i64("at")?,
                text: n.str("text")?,
            })
        })
        .collect::<DocResult<Vec<_>>>()?;
    let priority = i32::try_from(root.i64("priority")?).map_err(|_| DocError::Invalid {
        path: "priority".into(),
        reason: "out of range".into(),
    })?;
    Ok((
        Interaction {
            id: root.parsed("id")?,
            direction: root.parsed("direction")?,
            channel: root.parsed("channel")?,
            origin_campaign: root.parsed("campaign")?,
            contact: root.opt_parsed("contact")?,
            address: root.str_or_empty("address")?,
            contact_name: root.str_or_empty("contact_name")?,
            contact_unverified: root.opt_bool("contact_unverified")?.unwrap_or(false),
            subject: root.str_or_empty("subject")?,
            fields: root.map("fields")?.string_map()?,
            priority,
            enqueued_at: root.i64("enqueued_at")?,
            created_at: root.i64("created_at")?,
            created_by: root.opt_parsed("created_by")?,
            messages,
            claims,
            declines,
            transfers,
            finalization,
            notes,
            tags: root.map("tags")?.key_set()?,
            snooze: read_snooze(&root)?,
        },
        count,
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    pub fn sample(agent: AgentId, campaign: CampaignId) -> Interaction {
        Interaction {
            id: InteractionId::new(),
            direction: Direction::Inbound,
            channel: ChannelKind::Webchat,
            origin_campaign: campaign,
            contact: Some(ContactId::new()),
            address: "marta@example.com".into(),
            contact_name: "Marta".into(),
            contact_unverified: false,
            snooze: None,
            subject: "Broken router".into(),
            fields: BTreeMap::from([("order".to_string(), "A-1".to_string())]),
            priority: 2,
            enqueued_at: 100,
            created_at: 100,
            created_by: None,
            messages: vec![Message {
                attachments: Vec::new(),
                id: MessageId::new(),
                author: Author::Contact,
                at: 100,
                body: "<b>hi</b>".into(),
            }],
            claims: vec![Claim {
                agent,
                claimed_at: 110,
                epoch: 0,
            }],
            declines: vec![Decline {
                agent: AgentId::new(),
                at: 105,
                epoch: 0,
            }],
            transfers: vec![],
            finalization: None,
            notes: vec![Note {
                agent,
                at: 120,
                text: "called back".into(),
            }],
            tags: BTreeSet::from(["router".to_string()]),
        }
    }

    fn canonical(mut i: Interaction) -> Interaction {
        i.claims.sort_by_key(|c| (c.epoch, c.agent));
        i.declines.sort_by_key(|d| (d.epoch, d.agent));
        i
    }

    #[test]
    fn interaction_round_trips_through_document_and_bytes() {
        let (agent, campaign) = (AgentId::new(), CampaignId::new());
        let mut i = sample(agent, campaign);
        i.transfers.push(Transfer {
            from: agent,
            to: TransferTarget::Campaign(campaign),
            at: 130,
            note: "billing".into(),
            kind: TransferKind::Transfer,
            reason: String::new(),
        });
        i.transfers.push(Transfer {
            from: AgentId::new(),
            to: TransferTarget::Campaign(campaign),
            at: 140,
            note: String::new(),
            kind: TransferKind::PullBack,
            reason: "left for the day".into(),
        });
        i.transfers.push(Transfer {
            from: agent,
            to: TransferTarget::Agent(AgentId::new()),
            at: 150,
            note: String::new(),
            kind: TransferKind::Hand,
            reason: "off sick".into(),
        });
        i.finalization = Some(Finalization {
            agent,
            at: 200,
            disposition: "Resolved".into(),
            note: "ok".into(),
            wrapup_until: 230,
        });
        i.snooze = Some(Snooze {
            agent,
            epoch: 3,
            at: 160,
            until: 9_000,
            kind: SnoozeKind::Callback,
            note: "after lunch".into(),
        });
        let mut doc = AutoCommit::new();
        create(&mut doc, &i).expect("create");
        assert_eq!(canonical(read(&doc).expect("read")), canonical(i.clone()));
        let loaded = AutoCommit::load(&doc.save()).expect("load");
        assert_eq!(canonical(read(&loaded).expect("read")), canonical(i));
    }

    #[test]
    fn a_take_back_whose_target_does_not_fit_its_kind_reads_as_a_plain_transfer() {
        let (agent, campaign) = (AgentId::new(), CampaignId::new());
        let mut doc = AutoCommit::new();
        create(&mut doc, &sample(agent, campaign)).expect("create");
        for (to, kind) in [
            (TransferTarget::Agent(agent), TransferKind::Return),
            (TransferTarget::Agent(agent), TransferKind::PullBack),
            (TransferTarget::Campaign(campaign), TransferKind::Hand),
        ] {
            let t = Transfer {
                from: agent,
                to,
                at: 200,
                note: String::new(),
                kind,
                reason: "x".into(),
            };
            add_transfer(&mut doc, &t).expect("transfer");
        }
        let read = read(&doc).expect("read");
        assert!(
            read.transfers
                .iter()
                .all(|t| t.kind == TransferKind::Transfer),
            "{:?}",
            read.transfers
        );
    }

    #[test]
    fn concurrent_claims_and_messages_all_survive_a_merge() {
        let (a, b, campaign) = (AgentId::new(), AgentId::new(), CampaignId::new());
        let mut i = sample(a, campaign);
        i.claims.clear();
        let mut doc_a = AutoCommit::new();
        create(&mut doc_a, &i).expect("create");
        let mut doc_b = doc_a.fork();
        add_claim(
            &mut doc_a,
            &Claim {
                agent: a,
                claimed_at: 300,
                epoch: 0,
            },
        )
        .expect("claim");
        append_message(
            &mut doc_a,
            &Message {
                attachments: Vec::new(),
                id: MessageId::new(),
                author: Author::Agent(a),
                at: 301,
                body: "from a".into(),
            },
        )
        .expect("msg");
        add_claim(
            &mut doc_b,
            &Claim {
                agent: b,
                claimed_at: 299,
                epoch: 0,
            },
        )
        .expect("claim");
        append_message(
            &mut doc_b,
            &Message {
                attachments: Vec::new(),
                id: MessageId::new(),
                author: Author::Agent(b),
                at: 302,
                body: "from b".into(),
            },
        )
        .expect("msg");
        doc_a.merge(&mut doc_b).expect("merge");
        doc_b.merge(&mut doc_a).expect("merge");
        let (ra, rb) = (read(&doc_a).expect("read"), read(&doc_b).expect("read"));
        assert_eq!(ra.owner().map(|c| c.agent), Some(b));
        assert_eq!(rb.owner().map(|c| c.agent), Some(b));
        assert_eq!(ra.losing_claimants(), vec![a]);
        assert_eq!(ra.messages.len(), 3);
    }

    #[test]
    fn a_mail_appended_on_two_sides_shows_once_the_first_by_time_and_id() {
        let (agent, campaign) = (AgentId::new(), CampaignId::new());
        let mut i = sample(agent, campaign);
        i.channel = ChannelKind::Email;
        let mut doc_a = AutoCommit::new();
        create(&mut doc_a, &i).expect("create");
        let mut doc_b = doc_a.fork();
        let answer = |at: i64, body: &str| Message {
            attachments: Vec::new(),
            id: MessageId::new(),
            author: Author::Contact,
            at,
            body: body.into(),
        };
        // B takes the answer in first, then A; A's agent also replies.
        let on_b = answer(200, "answer (b)");
        let on_a = answer(201, "answer (a)");
        append_mail_message(&mut doc_b, &on_b, "<q2@customer.example>").expect("b");
        append_mail_message(&mut doc_a, &on_a, "<q2@customer.example>").expect("a");
        append_message(&mut doc_a, &answer(202, "reply")).expect("reply");
        doc_a.merge(&mut doc_b).expect("merge");
        doc_b.merge(&mut doc_a).expect("merge");
        for doc in [&doc_a, &doc_b] {
            let bodies: Vec<String> = read(doc)
                .expect("read")
                .messages
                .into_iter()
                .map(|m| m.body)
                .collect();
            // Where two appends made apart land in the list depends on
            // the writers' actor ids; which copy shows does not.
            let mut shown = bodies.clone();
            shown.sort();
            assert_eq!(shown, ["<b>hi</b>", "answer (b)", "reply"]);
            let (head, count) = read_head(doc).expect("head");
            assert_eq!((head.messages.len(), count), (3, 3));
            let mut seen = Vec::new();
            each_body(doc, 2, |b| {
                seen.push(b.to_string());
                true
            })
            .expect("bodies");
            assert_eq!(seen, bodies[..2]);
            // The facts of both stay: nothing is deleted.
            assert_eq!(mail_marks(doc).expect("marks").len(), 4);
        }
        // Another channel shows every message as it is.
        i.channel = ChannelKind::Webchat;
        let mut chat = AutoCommit::new();
        create(&mut chat, &i).expect("create");
        append_mail_message(&mut chat, &on_a, "<x@y>").expect("one");
        append_mail_message(&mut chat, &on_b, "<x@y>").expect("two");
        assert_eq!(read(&chat).expect("read").messages.len(), 3);
    }

    #[test]
    fn wrong_types_are_reported_with_their_path() {
        let (agent, campaign) = (AgentId::new(), CampaignId::new());
        let mut doc = AutoCommit::new();
        create(&mut doc, &sample(agent, campaign)).expect("create");
        doc.put(ROOT, "priority", "high").expect("put");
        let err = read(&doc).expect_err("malformed");
        assert!(err.to_string().contains("priority"), "{err}");
        doc.put(ROOT, "priority", 1).expect("put");
        doc.put_object(ROOT, "messages", ObjType::Map).expect("put");
        assert!(read(&doc).is_err());
    }
}
