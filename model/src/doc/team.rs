//! The team document: members, campaigns, invites, break reasons.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc};

use super::*;
use crate::types::*;

/// Writes a new team document; every container is made here, in the first change.
pub fn create(doc: &mut AutoCommit, team: &Team) -> DocResult<()> {
    doc.put(ROOT, "kind", "team")?;
    doc.put(ROOT, "schema", SCHEMA)?;
    doc.put(ROOT, "id", team.id.to_string())?;
    doc.put(ROOT, "name", team.name.as_str())?;
    doc.put(ROOT, "created_at", team.created_at)?;
    let members = doc.put_object(ROOT, "members", ObjType::Map)?;
    for member in team.members.values() {
        put_member(doc, &members, member)?;
    }
    let campaigns = doc.put_object(ROOT, "campaigns", ObjType::Map)?;
    for campaign in team.campaigns.values() {
        put_campaign(doc, &campaigns, campaign)?;
    }
    let reasons = doc.put_object(ROOT, "break_reasons", ObjType::List)?;
    set_string_list(doc, &reasons, &team.break_reasons)?;
    let invites = doc.put_object(ROOT, "invites", ObjType::Map)?;
    for invite in team.invites.values() {
        put_invite(doc, &invites, invite)?;
    }
    // An empty list older releases require in every team; nothing reads it.
    doc.put_object(ROOT, "canned_responses", ObjType::List)?;
    let canned = doc.put_object(ROOT, CANNED, ObjType::Map)?;
    for response in team.canned.values() {
        put_canned(doc, &canned, response)?;
    }
    let keys = doc.put_object(ROOT, "keys", ObjType::Map)?;
    for key in team.keys.values() {
        put_team_key(doc, &keys, key)?;
    }
    Ok(())
}

/// The map of canned responses by id (`canned_responses`, a list of
/// strings, was an earlier placeholder).
const CANNED: &str = "canned";

fn put_canned(doc: &mut AutoCommit, canned: &ObjId, c: &CannedResponse) -> DocResult<()> {
    let obj = doc.put_object(canned, c.id.to_string(), ObjType::Map)?;
    put_canned_fields(doc, &obj, c)
}

fn put_canned_fields(doc: &mut AutoCommit, obj: &ObjId, c: &CannedResponse) -> DocResult<()> {
    doc.put(obj, "code", c.code.as_str())?;
    doc.put(obj, "body", c.body.as_str())?;
    match c.campaign {
        Some(campaign) => doc.put(obj, "campaign", campaign.to_string())?,
        None => doc.put(obj, "campaign", "")?,
    }
    Ok(())
}

/// Adds a canned response, or rewrites one in place (so an edit made
/// concurrently elsewhere merges field by field). Teams made before canned
/// responses existed get the map with their first one.
pub fn put_canned_response(doc: &mut AutoCommit, c: &CannedResponse) -> DocResult<()> {
    let canned = match doc.get(ROOT, CANNED)? {
        Some((automerge::Value::Object(ObjType::Map), id)) => id,
        _ => doc.put_object(ROOT, CANNED, ObjType::Map)?,
    };
    match doc.get(&canned, c.id.to_string())? {
        Some((automerge::Value::Object(ObjType::Map), obj)) => put_canned_fields(doc, &obj, c),
        _ => put_canned(doc, &canned, c),
    }
}

/// Removes a canned response.
pub fn remove_canned_response(doc: &mut AutoCommit, id: CannedId) -> DocResult<()> {
    let canned = existing(doc, &ROOT, CANNED)?;
    doc.delete(&canned, id.to_string())?;
    Ok(())
}

/// The canned responses that read whole; one that does not is left out
/// rather than making the whole team unreadable.
fn read_canned<D: ReadDoc>(
    root: &MapReader<'_, D>,
) -> std::collections::BTreeMap<CannedId, CannedResponse> {
    let mut canned = std::collections::BTreeMap::new();
    let Ok(map) = root.map(CANNED) else {
        return canned;
    };
    for key in map.keys() {
        let read = || -> DocResult<CannedResponse> {
            let c = map.map(&key)?;
            Ok(CannedResponse {
                id: key
                    .parse()
                    .map_err(|e: crate::ids::InvalidId| DocError::Invalid {
                        path: format!("{CANNED}.{key}"),
                        reason: e.to_string(),
                    })?,
                code: c.str("code")?,
                body: c.str("body")?,
                campaign: c.opt_parsed("campaign")?,
            })
        };
        match read() {
            Ok(c) => {
                canned.insert(c.id, c);
            }
            Err(e) => tracing::warn!(canned = %key, error = %e, "a canned response does not read"),
        }
    }
    canned
}

fn put_team_key(doc: &mut AutoCommit, keys: &ObjId, k: &TeamKey) -> DocResult<()> {
    let obj = doc.put_object(keys, k.id.as_str(), ObjType::Map)?;
    doc.put(&obj, "generation", k.generation)?;
    doc.put(&obj, "made_by", k.made_by.as_str())?;
    doc.put(&obj, "made_at", k.made_at)?;
    doc.put(&obj, "fingerprint", k.fingerprint.as_str())?;
    let excludes = doc.put_object(&obj, "excludes", ObjType::Map)?;
    for device in &k.excludes {
        doc.put(&excludes, device.as_str(), true)?;
    }
    let sealed = doc.put_object(&obj, "sealed", ObjType::Map)?;
    for (device, bytes) in &k.sealed {
        doc.put(
            &sealed,
            device.as_str(),
            automerge::ScalarValue::Bytes(bytes.clone()),
        )?;
    }
    Ok(())
}

/// Records a rotation of the team key (teams made before rotations existed
/// get their `keys` map with the first one).
pub fn add_team_key(doc: &mut AutoCommit, key: &TeamKey) -> DocResult<()> {
    let keys = match doc.get(ROOT, "keys")? {
        Some((automerge::Value::Object(ObjType::Map), id)) => id,
        _ => doc.put_object(ROOT, "keys", ObjType::Map)?,
    };
    put_team_key(doc, &keys, key)
}

fn put_member(doc: &mut AutoCommit, members: &ObjId, m: &Member) -> DocResult<()> {
    let obj = doc.put_object(members, m.device.as_str(), ObjType::Map)?;
    doc.put(&obj, "agent", m.agent.to_string())?;
    doc.put(&obj, "role", m.role.as_str())?;
    doc.put(&obj, "device_name", m.device_name.as_str())?;
    doc.put(&obj, "joined_at", m.joined_at)?;
    doc.put(&obj, "revoked", m.revoked)?;
    if let Some(at) = m.revoked_at {
        doc.put(&obj, "revoked_at", at)?;
    }
    Ok(())
}

fn put_campaign(doc: &mut AutoCommit, campaigns: &ObjId, c: &Campaign) -> DocResult<()> {
    let obj = doc.put_object(campaigns, c.id.to_string(), ObjType::Map)?;
    doc.put(&obj, "name", c.name.as_str())?;
    doc.put(&obj, "channel", c.channel.as_str())?;
    doc.put(&obj, "strategy", c.strategy.as_str())?;
    let members = doc.put_object(&obj, "members", ObjType::List)?;
    let member_ids: Vec<String> = c.members.iter().map(ToString::to_string).collect();
    set_string_list(doc, &members, &member_ids)?;
    doc.put(&obj, "capacity", i64::from(c.capacity))?;
    doc.put(&obj, "auto_accept", c.auto_accept)?;
    doc.put(
        &obj,
        "offer_timeout_seconds",
        i64::from(c.offer_timeout_seconds),
    )?;
    let dispositions = doc.put_object(&obj, "dispositions", ObjType::List)?;
    set_string_list(doc, &dispositions, &c.dispositions)?;
    let fields = doc.put_object(&obj, "fields", ObjType::List)?;
    for (i, field) in c.fields.iter().enumerate() {
        let f = doc.insert_object(&fields, i, ObjType::Map)?;
        doc.put(&f, "name", field.name.as_str())?;
        doc.put(&f, "required", field.required)?;
    }
    doc.put(&obj, "sla_seconds", i64::from(c.sla_seconds))?;
    doc.put(&obj, "wrapup_seconds", i64::from(c.wrapup_seconds))?;
    put_hours(doc, &obj, c.hours.as_ref())?;
    Ok(())
}

/// A campaign's business hours: one map, replaced whole (its three texts
/// only make sense together), or no key for always open.
fn put_hours(
    doc: &mut AutoCommit,
    campaign: &ObjId,
    hours: Option<&crate::hours::BusinessHours>,
) -> DocResult<()> {
    match hours {
        Some(h) => {
            let obj = doc.put_object(campaign, "hours", ObjType::Map)?;
            doc.put(&obj, "zone", h.zone.as_str())?;
            doc.put(&obj, "week", h.week.as_str())?;
            doc.put(&obj, "closed_message", h.closed_message.as_str())?;
        }
        None => {
            if doc.get(campaign, "hours")?.is_some() {
                doc.delete(campaign, "hours")?;
            }
        }
    }
    Ok(())
}

fn put_invite(doc: &mut AutoCommit, invites: &ObjId, i: &Invite) -> DocResult<()> {
    let obj = doc.put_object(invites, i.token_hash.as_str(), ObjType::Map)?;
    doc.put(&obj, "created_by", i.created_by.to_string())?;
    doc.put(&obj, "issuer", i.issuer.as_str())?;
    doc.put(&obj, "created_at", i.created_at)?;
    doc.put(&obj, "expires_at", i.expires_at)?;
    doc.put(&obj, "max_uses", i64::from(i.max_uses))?;
    let used = doc.put_object(&obj, "used_by", ObjType::Map)?;
    for device in &i.used_by {
        doc.put(&used, device.as_str(), true)?;
    }
    if !i.campaigns.is_empty() {
        let list = doc.put_object(&obj, "campaigns", ObjType::List)?;
        let ids: Vec<String> = i.campaigns.iter().map(|c| c.to_string()).collect();
        set_string_list(doc, &list, &ids)?;
    }
    Ok(())
}

/// Adds a campaign (a new key, so concurrent additions never collide).
pub fn add_campaign(doc: &mut AutoCommit, campaign: &Campaign) -> DocResult<()> {
    let campaigns = existing(doc, &ROOT, "campaigns")?;
    put_campaign(doc, &campaigns, campaign)
}

/// Writes a campaign's changed settings in place (only what differs, so
/// concurrent edits of different settings both stay).
pub fn update_campaign(doc: &mut AutoCommit, c: &Campaign) -> DocResult<()> {
    let campaigns = existing(doc, &ROOT, "campaigns")?;
    let obj = existing(doc, &campaigns, &c.id.to_string())?;
    let old = read(&*doc)?
        .campaigns
        .remove(&c.id)
        .ok_or_else(|| DocError::Invalid {
            path: format!("campaigns.{}", c.id),
            reason: "no such campaign".into(),
        })?;
    if old.name != c.name {
        doc.put(&obj, "name", c.name.as_str())?;
    }
    if old.strategy != c.strategy {
        doc.put(&obj, "strategy", c.strategy.as_str())?;
    }
    if old.members != c.members {
        let members = existing(doc, &obj, "members")?;
        let ids: Vec<String> = c.members.iter().map(ToString::to_string).collect();
        set_string_list(doc, &members, &ids)?;
    }
    if old.dispositions != c.dispositions {
        let dispositions = existing(doc, &obj, "dispositions")?;
        set_string_list(doc, &dispositions, &c.dispositions)?;
    }
    if old.hours != c.hours {
        put_hours(doc, &obj, c.hours.as_ref())?;
    }
    if old.fields != c.fields {
        let fields = doc.put_object(&obj, "fields", ObjType::List)?;
        for (i, field) in c.fields.iter().enumerate() {
            let f = doc.insert_object(&fields, i, ObjType::Map)?;
            doc.put(&f, "name", field.name.as_str())?;
            doc.put(&f, "required", field.required)?;
        }
    }
    for (key, old, new) in [
        ("capacity", old.capacity, c.capacity),
        (
            "offer_timeout_seconds",
            old.offer_timeout_seconds,
            c.offer_timeout_seconds,
        ),
        ("sla_seconds", old.sla_seconds, c.sla_seconds),
        ("wrapup_seconds", old.wrapup_seconds, c.wrapup_seconds),
    ] {
        if old != new {
            doc.put(&obj, key, i64::from(new))?;
        }
    }
    if old.auto_accept != c.auto_accept {
        doc.put(&obj, "auto_accept", c.auto_accept)?;
    }
    Ok(())
}

/// Admits a device to the roster.
pub fn add_member(doc: &mut AutoCommit, member: &Member) -> DocResult<()> {
    let members = existing(doc, &ROOT, "members")?;
    put_member(doc, &members, member)
}

/// Marks a device revoked as of `at`; it stays listed so every peer learns of the revocation.
pub fn revoke_member(doc: &mut AutoCommit, device: &str, at: Millis) -> DocResult<()> {
    let members = existing(doc, &ROOT, "members")?;
    let member = existing(doc, &members, device)?;
    doc.put(&member, "revoked", true)?;
    doc.put(&member, "revoked_at", at)?;
    Ok(())
}

/// Gives a device's member entry another role (a supervisor's change).
pub fn set_role(doc: &mut AutoCommit, device: &str, role: Role) -> DocResult<()> {
    let members = existing(doc, &ROOT, "members")?;
    let member = existing(doc, &members, device)?;
    doc.put(&member, "role", role.as_str())?;
    Ok(())
}

/// Appends an agent to a campaign's member list (routing order: last).
pub fn add_campaign_member(
    doc: &mut AutoCommit,
    campaign: CampaignId,
    agent: AgentId,
) -> DocResult<()> {
    let campaigns = existing(doc, &ROOT, "campaigns")?;
    let c = existing(doc, &campaigns, &campaign.to_string())?;
    let members = existing(doc, &c, "members")?;
    let current = ListReader {
        doc: &*doc,
        obj: members.clone(),
        path: String::new(),
    }
    .strings()?;
    if !current.contains(&agent.to_string()) {
        doc.insert(&members, current.len(), agent.to_string())?;
    }
    Ok(())
}

pub fn add_invite(doc: &mut AutoCommit, invite: &Invite) -> DocResult<()> {
    let invites = existing(doc, &ROOT, "invites")?;
    put_invite(doc, &invites, invite)
}

/// Records that `device` used an invite (its own key in `used_by`).
pub fn use_invite(doc: &mut AutoCommit, token_hash: &str, device: &str) -> DocResult<()> {
    let invites = existing(doc, &ROOT, "invites")?;
    let invite = existing(doc, &invites, token_hash)?;
    let used = existing(doc, &invite, "used_by")?;
    doc.put(&used, device, true)?;
    Ok(())
}

/// Cancels an invite: it is gone, so no device can redeem it any more.
pub fn remove_invite(doc: &mut AutoCommit, token_hash: &str) -> DocResult<()> {
    let invites = existing(doc, &ROOT, "invites")?;
    doc.delete(&invites, token_hash)?;
    Ok(())
}

pub fn set_break_reasons(doc: &mut AutoCommit, reasons: &[String]) -> DocResult<()> {
    let list = existing(doc, &ROOT, "break_reasons")?;
    set_string_list(doc, &list, reasons)
}

pub fn read<D: ReadDoc>(doc: &D) -> DocResult<Team> {
    let root = MapReader::root(doc);
    if root.str("kind")? != "team" {
        return Err(DocError::Invalid {
            path: "kind".into(),
            reason: "not a team".into(),
        });
    }
    let members_map = root.map("members")?;
    let mut members = std::collections::BTreeMap::new();
    for device in members_map.keys() {
        let m = members_map.map(&device)?;
        let member = Member {
            device: device.clone(),
            agent: m.parsed("agent")?,
            role: m.parsed("role")?,
            device_name: m.str_or_empty("device_name")?,
            joined_at: m.i64("joined_at")?,
            revoked: m.bool("revoked")?,
            revoked_at: m.opt_i64("revoked_at")?,
        };
        members.insert(device, member);
    }
    let campaigns_map = root.map("campaigns")?;
    let mut campaigns = std::collections::BTreeMap::new();
    let mut mailboxes = std::collections::BTreeMap::new();
    for key in campaigns_map.keys() {
        let c = campaigns_map.map(&key)?;
        let mailbox = read_mailbox(&c)?;
        let id: CampaignId = key
            .parse()
            .map_err(|e: crate::ids::InvalidId| DocError::Invalid {
                path: format!("campaigns.{key}"),
                reason: e.to_string(),
            })?;
        let members = c
            .list("members")?
            .strings()?
            .iter()
            .map(|s| {
                s.parse()
                    .map_err(|e: crate::ids::InvalidId| DocError::Invalid {
                        path: format!("campaigns.{key}.members"),
                        reason: e.to_string(),
                    })
            })
            .collect::<DocResult<Vec<AgentId>>>()?;
        let fields = c
            .list("fields")?
            .maps()?
            .iter()
            .map(|f| {
                Ok(FormField {
                    name: f.str("name")?,
                    required: f.bool("required")?,
                })
            })
            .collect::<DocResult<Vec<_>>>()?;
        campaigns.insert(
            id,
            Campaign {
                id,
                name: c.str("name")?,
                channel: c.parsed("channel")?,
                strategy: c.parsed("strategy")?,
                members,
                capacity: c.u32("capacity")?,
                auto_accept: c.bool("auto_accept")?,
                offer_timeout_seconds: c.u32("offer_timeout_seconds")?,
                dispositions: c.list("dispositions")?.strings()?,
                fields,
                sla_seconds: c.u32("sla_seconds")?,
                wrapup_seconds: c.u32("wrapup_seconds")?,
                hours: if c.has("hours")? {
                    let h = c.map("hours")?;
                    Some(crate::hours::BusinessHours {
                        zone: h.str("zone")?,
                        week: h.str("week")?,
                        closed_message: h.str("closed_message")?,
                    })
                } else {
                    None
                },
            },
        );
        if let Some(mailbox) = mailbox {
            mailboxes.insert(id, mailbox);
        }
    }
    let invites_map = root.map("invites")?;
    let mut invites = std::collections::BTreeMap::new();
    for hash in invites_map.keys() {
        let i = invites_map.map(&hash)?;
        let invite = Invite {
            token_hash: hash.clone(),
            created_by: i.parsed("created_by")?,
            issuer: i.str_or_empty("issuer")?,
            created_at: i.i64("created_at")?,
            expires_at: i.i64("expires_at")?,
            max_uses: i.u32("max_uses")?,
            used_by: i.map("used_by")?.keys().into_iter().collect(),
            campaigns: if i.has("campaigns")? {
                i.list("campaigns")?
                    .strings()?
                    .iter()
                    .map(|s| {
                        s.parse()
                            .map_err(|e: crate::ids::InvalidId| DocError::Invalid {
                                path: format!("invites.{hash}.campaigns"),
                                reason: e.to_string(),
                            })
                    })
                    .collect::<DocResult<Vec<CampaignId>>>()?
            } else {
                Vec::new()
            },
        };
        invites.insert(hash, invite);
    }
    Ok(Team {
        id: root.parsed("id")?,
        name: root.str("name")?,
        created_at: root.i64("created_at")?,
        members,
        campaigns,
        break_reasons: root.list("break_reasons")?.strings()?,
        invites,
        canned: read_canned(&root),
        keys: read_team_keys(&root),
        mailboxes,
    })
}

/// The key prefix of a mailbox's fetcher devices in its campaign's map.
const MAIL_FETCHER: &str = "mail_fetcher:";

/// A campaign's mailbox, from flat keys of its campaign map (`mail_*`):
/// scalars only, so two supervisors' edits merge key by key and no
/// container is ever made twice at one key.
fn read_mailbox<D: ReadDoc>(c: &MapReader<'_, D>) -> DocResult<Option<Mailbox>> {
    let Some(imap_host) = c.opt_str("mail_imap_host")?.filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let port = |key: &str| -> DocResult<u16> {
        let raw = c.i64(key)?;
        u16::try_from(raw).map_err(|_| DocError::Invalid {
            path: key.into(),
            reason: format!("{raw} is not a port"),
        })
    };
    let tls = |key: &str| -> DocResult<MailTls> {
        c.str(key)?.parse().map_err(|reason| DocError::Invalid {
            path: key.into(),
            reason,
        })
    };
    let mut fetchers = std::collections::BTreeSet::new();
    for key in c.keys() {
        if let Some(device) = key.strip_prefix(MAIL_FETCHER)
            && c.opt_bool(&key)? == Some(true)
        {
            fetchers.insert(device.to_string());
        }
    }
    Ok(Some(Mailbox {
        address: c.str("mail_address")?,
        imap: MailServer {
            host: imap_host,
            port: port("mail_imap_port")?,
            tls: tls("mail_imap_tls")?,
            user: c.str("mail_imap_user")?,
        },
        smtp: MailServer {
            host: c.str("mail_smtp_host")?,
            port: port("mail_smtp_port")?,
            tls: tls("mail_smtp_tls")?,
            user: c.str("mail_smtp_user")?,
        },
        fetchers,
    }))
}

/// Writes (or, with `None`, removes) a campaign's mailbox: only the keys
/// that differ, so concurrent edits of different settings both stay.
pub fn set_mailbox(
    doc: &mut AutoCommit,
    campaign: CampaignId,
    mailbox: Option<&Mailbox>,
) -> DocResult<()> {
    let campaigns = existing(doc, &ROOT, "campaigns")?;
    let obj = existing(doc, &campaigns, &campaign.to_string())?;
    let old = read(&*doc)?.mailboxes.remove(&campaign);
    let Some(m) = mailbox else {
        if old.is_some() {
            doc.put(&obj, "mail_imap_host", "")?;
        }
        return Ok(());
    };
    let texts = [
        ("mail_address", m.address.as_str()),
        ("mail_imap_host", m.imap.host.as_str()),
        ("mail_imap_tls", m.imap.tls.as_str()),
        ("mail_imap_user", m.imap.user.as_str()),
        ("mail_smtp_host", m.smtp.host.as_str()),
        ("mail_smtp_tls", m.smtp.tls.as_str()),
        ("mail_smtp_user", m.smtp.user.as_str()),
    ];
    for (key, value) in texts {
        put_str_if_changed(doc, &obj, key, value)?;
    }
    for (key, port, was) in [
        (
            "mail_imap_port",
            m.imap.port,
            old.as_ref().map(|o| o.imap.port),
        ),
        (
            "mail_smtp_port",
            m.smtp.port,
            old.as_ref().map(|o| o.smtp.port),
        ),
    ] {
        if was != Some(port) {
            doc.put(&obj, key, i64::from(port))?;
        }
    }
    let old_fetchers = old.map(|o| o.fetchers).unwrap_or_default();
    for device in m.fetchers.difference(&old_fetchers) {
        doc.put(&obj, format!("{MAIL_FETCHER}{device}"), true)?;
    }
    for device in old_fetchers.difference(&m.fetchers) {
        doc.put(&obj, format!("{MAIL_FETCHER}{device}"), false)?;
    }
    Ok(())
}

/// The rotations that read whole; one that does not is left out (and
/// reported) rather than making the whole team unreadable.
fn read_team_keys<D: ReadDoc>(
    root: &MapReader<'_, D>,
) -> std::collections::BTreeMap<String, TeamKey> {
    let mut keys = std::collections::BTreeMap::new();
    let Ok(map) = root.map("keys") else {
        return keys;
    };
    for id in map.keys() {
        let read = |id: &str| -> DocResult<TeamKey> {
            let k = map.map(id)?;
            let sealed_map = k.map("sealed")?;
            let mut sealed = std::collections::BTreeMap::new();
            for device in sealed_map.keys() {
                let bytes = sealed_map.bytes(&device)?;
                sealed.insert(device, bytes);
            }
            Ok(TeamKey {
                id: id.to_string(),
                generation: u64::try_from(k.i64("generation")?).map_err(|_| DocError::Invalid {
                    path: format!("keys.{id}.generation"),
                    reason: "negative".into(),
                })?,
                made_by: k.str("made_by")?,
                made_at: k.i64("made_at")?,
                fingerprint: k.str("fingerprint")?,
                excludes: k.map("excludes")?.key_set()?,
                sealed,
            })
        };
        match read(&id) {
            Ok(key) => {
                keys.insert(id, key);
            }
            Err(e) => {
                tracing::warn!(rotation = %id, error = %e, "unreadable team key rotation skipped")
            }
        }
    }
    keys
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    pub fn sample_team() -> Team {
        let agent = AgentId::new();
        let canned = CannedId::new();
        let campaign = Campaign {
            id: CampaignId::new(),
            name: "General".into(),
            channel: ChannelKind::Phone,
            strategy: Strategy::RingAll,
            members: vec![agent],
            capacity: 3,
            auto_accept: false,
            offer_timeout_seconds: 30,
            dispositions: vec!["Resolved".into(), "Callback".into()],
            fields: vec![FormField {
                name: "Subject".into(),
                required: true,
            }],
            sla_seconds: 60,
            wrapup_seconds: 15,
            hours: None,
        };
        let mut invites = BTreeMap::new();
        invites.insert(
            "abc".to_string(),
            Invite {
                token_hash: "abc".into(),
                created_by: agent,
                issuer: "12D3KooDevice".into(),
                created_at: 5,
                expires_at: 10,
                max_uses: 1,
                used_by: BTreeSet::from(["12D3Koo".to_string()]),
                campaigns: vec![campaign.id],
            },
        );
        Team {
            id: TeamId::new(),
            name: "Support".into(),
            created_at: 1,
            members: BTreeMap::from([(
                "12D3KooDevice".to_string(),
                Member {
                    device: "12D3KooDevice".into(),
                    agent,
                    role: Role::Supervisor,
                    device_name: "desk-1".into(),
                    joined_at: 1,
                    revoked: false,
                    revoked_at: None,
                },
            )]),
            campaigns: BTreeMap::from([(campaign.id, campaign)]),
            break_reasons: vec!["Lunch".into(), "Training".into()],
            invites,
            canned: BTreeMap::from([(
                canned,
                CannedResponse {
                    id: canned,
                    code: "thanks".into(),
                    body: "Thanks for calling, {contact.name}".into(),
                    campaign: None,
                },
            )]),
            keys: Default::default(),
            mailboxes: Default::default(),
        }
    }

    #[test]
    fn team_round_trips_through_its_document_and_bytes() {
        let team = sample_team();
        let mut doc = AutoCommit::new();
        create(&mut doc, &team).expect("create");
        assert_eq!(read(&doc).expect("read"), team);
        let loaded = AutoCommit::load(&doc.save()).expect("load");
        assert_eq!(read(&loaded).expect("read"), team);
    }

    #[test]
    fn team_edits_are_read_back() {
        let mut team = sample_team();
        let mut doc = AutoCommit::new();
        create(&mut doc, &team).expect("create");
        let device = team.members.keys().next().cloned().expect("member");
        revoke_member(&mut doc, &device, 77).expect("revoke");
        use_invite(&mut doc, "abc", "other").expect("use");
        let rotation = TeamKey {
            id: "0000000001-00ff".into(),
            generation: 1,
            made_by: device.clone(),
            made_at: 78,
            fingerprint: "f0".into(),
            excludes: BTreeSet::from([device.clone()]),
            sealed: BTreeMap::from([("someone".to_string(), vec![1, 2, 3])]),
        };
        add_team_key(&mut doc, &rotation).expect("rotate");
        team.keys.insert(rotation.id.clone(), rotation);
        if let Some(m) = team.members.get_mut(&device) {
            m.revoked = true;
            m.revoked_at = Some(77);
        }
        if let Some(i) = team.invites.get_mut("abc") {
            i.used_by.insert("other".into());
        }
        assert_eq!(read(&doc).expect("read"), team);
    }

    #[test]
    fn campaign_edits_made_apart_keep_both_settings() {
        let team = sample_team();
        let mut ana = AutoCommit::new();
        create(&mut ana, &team).expect("create");
        let mut eve = ana.fork();
        let general = team.campaigns.values().next().cloned().expect("campaign");
        let mut on_ana = general.clone();
        on_ana.capacity = 9;
        on_ana.dispositions = vec!["Solved".into()];
        update_campaign(&mut ana, &on_ana).expect("edit");
        let mut on_eve = general.clone();
        on_eve.sla_seconds = 20;
        on_eve.name = "Front desk".into();
        update_campaign(&mut eve, &on_eve).expect("edit");
        ana.merge(&mut eve).expect("merge");
        let merged = read(&ana).expect("read").campaigns[&general.id].clone();
        assert_eq!(
            (
                merged.capacity,
                merged.dispositions,
                merged.sla_seconds,
                merged.name
            ),
            (9, vec!["Solved".to_string()], 20, "Front desk".to_string())
        );
        // The rest is as it was.
        assert_eq!(merged.fields, general.fields);
        assert_eq!(merged.wrapup_seconds, general.wrapup_seconds);
    }

    #[test]
    fn malformed_team_is_an_error_not_a_panic() {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "kind", "team").expect("put");
        doc.put(ROOT, "id", 42).expect("put");
        let err = read(&doc).expect_err("malformed");
        assert!(
            err.to_string().contains("id") || err.to_string().contains("members"),
            "{err}"
        );
    }
}
