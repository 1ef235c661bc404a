//! The team: creating it, admitting devices, campaigns, agents and their status.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    Context, Executor, InviteRefusal, OpError, OpResult, Outcome, Reply, TeamOverview, done,
};
use crate::doc::{self, DocId};
use crate::hours::BusinessHours;
use crate::ids::*;
use crate::routing::{PresenceEntry, PresenceView};
use crate::store::{DocChange, DocEdit, LocalIdentity, Store};
use crate::types::*;
use crate::validate;

/// The dispositions a new team's default campaign offers.
pub const DEFAULT_DISPOSITIONS: [&str; 3] = ["Resolved", "Callback", "No answer"];

/// Break reasons a team holds at most.
pub const MAX_BREAK_REASONS: usize = 32;

/// Break reasons a new team starts with.
pub const DEFAULT_BREAK_REASONS: [&str; 3] = ["Lunch", "Training", "Meeting"];

/// What `campaign edit` changes: each `Some` replaces that setting (lists
/// whole: members in their new routing order), `None` leaves it.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct CampaignEdit {
    pub name: Option<String>,
    pub strategy: Option<Strategy>,
    /// Agent names, in routing order.
    pub members: Option<Vec<String>>,
    pub dispositions: Option<Vec<String>>,
    pub fields: Option<Vec<FormField>>,
    pub capacity: Option<u32>,
    pub auto_accept: Option<bool>,
    pub sla_seconds: Option<u32>,
    pub wrapup_seconds: Option<u32>,
    pub offer_timeout_seconds: Option<u32>,
    /// New business hours; hours with an empty week: always open again.
    #[serde(default)]
    pub hours: Option<BusinessHours>,
}

/// What `agent edit` changes: each `Some` replaces that setting, `None`
/// leaves it.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct AgentEdit {
    /// The role of every device of the agent's.
    pub role: Option<Role>,
    /// Open interactions the agent may hold across campaigns (0: no limit).
    pub capacity: Option<u32>,
    /// Campaign names or ids, whole: the agent joins the ones it is not in
    /// (last in routing order) and leaves the others.
    pub campaigns: Option<Vec<String>>,
}

/// A new campaign's settings.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CampaignSpec {
    pub name: String,
    pub channel: ChannelKind,
    pub strategy: Strategy,
    /// Agent names; empty means just the creator.
    pub members: Vec<String>,
    /// Empty means the default dispositions.
    pub dispositions: Vec<String>,
    pub fields: Vec<FormField>,
    pub capacity: u32,
    pub auto_accept: bool,
    pub sla_seconds: u32,
    pub wrapup_seconds: u32,
    pub offer_timeout_seconds: Option<u32>,
    /// When it answers; none: always open.
    #[serde(default)]
    pub hours: Option<BusinessHours>,
}

impl CampaignSpec {
    /// A campaign with the defaults `campaign add` gives: only its creator
    /// as member, the default dispositions, no fields, no capacity limit,
    /// no SLA or wrap-up, offers answered by hand.
    pub fn new(name: &str, channel: ChannelKind, strategy: Strategy) -> CampaignSpec {
        CampaignSpec {
            name: name.into(),
            channel,
            strategy,
            members: vec![],
            dispositions: vec![],
            fields: vec![],
            capacity: 0,
            auto_accept: false,
            sla_seconds: 0,
            wrapup_seconds: 0,
            offer_timeout_seconds: None,
            hours: None,
        }
    }
}

pub(super) fn create_team(
    store: &mut Store,
    ctx: &Context,
    team_name: &str,
    agent_name: &str,
    device_name: &str,
) -> OpResult<Outcome> {
    let device = store.device();
    let device = device.as_str();
    if let Some(team) = store.team()? {
        return Err(OpError::TeamExists(team.name));
    }
    let team_name = validate::required("the team name", team_name)?;
    let agent_name = validate::required("the agent name", agent_name)?;
    let now = ctx.now;
    let (agent, member) = new_agent(
        store,
        agent_name,
        device,
        device_name,
        Role::Supervisor,
        now,
    );
    let campaign = Campaign {
        id: store.new_id(),
        name: "General".into(),
        channel: ChannelKind::Phone,
        strategy: Strategy::RingAll,
        members: vec![agent.id],
        capacity: 0,
        auto_accept: false,
        offer_timeout_seconds: Campaign::DEFAULT_OFFER_TIMEOUT_SECONDS,
        dispositions: DEFAULT_DISPOSITIONS.iter().map(|s| s.to_string()).collect(),
        fields: vec![],
        sla_seconds: 0,
        wrapup_seconds: 0,
        hours: None,
    };
    let team = Team {
        id: store.new_id(),
        name: team_name,
        created_at: now,
        members: BTreeMap::from([(device.to_string(), member)]),
        campaigns: BTreeMap::from([(campaign.id, campaign)]),
        break_reasons: DEFAULT_BREAK_REASONS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        invites: BTreeMap::new(),
        canned: BTreeMap::new(),
        keys: Default::default(),
        mailboxes: Default::default(),
    };
    let identity = LocalIdentity {
        team: team.id,
        agent: agent.id,
        device: device.to_string(),
    };
    let (team_doc, agent_doc) = (DocId::Team(team.id), DocId::Agent(agent.id));
    let team_id = team.id;
    let changes = store.write_many(vec![
        DocEdit::new(team_doc, true, move |d| doc::team::create(d, &team)),
        DocEdit::new(agent_doc, true, move |d| doc::agent::create(d, &agent)),
    ])?;
    store.set_identity(&identity)?;
    done(
        Reply::Created {
            id: team_id.to_string(),
        },
        changes,
    )
}

/// A new agent, offline, and its device's roster entry.
fn new_agent(
    store: &Store,
    name: String,
    device: &str,
    device_name: &str,
    role: Role,
    now: Millis,
) -> (Agent, Member) {
    let agent = Agent {
        id: store.new_id(),
        name,
        status: AgentStatus::Offline,
        status_since: now,
        capacity: 0,
        status_history: vec![],
    };
    let member = Member {
        device: device.to_string(),
        agent: agent.id,
        role,
        device_name: device_name.to_string(),
        joined_at: now,
        revoked: false,
        revoked_at: None,
    };
    (agent, member)
}

/// Admits a device to the team with a fresh agent (the member side of a join).
/// Checks the invite: known, unexpired, not used up, not already used by this device.
pub fn admit_device(
    store: &mut Store,
    now: Millis,
    token_hash: &str,
    device: &str,
    agent_name: &str,
    device_name: &str,
) -> OpResult<(AgentId, Vec<DocChange>)> {
    let team = store.team()?.ok_or(OpError::NoTeam)?;
    let invite = team.invites.get(token_hash).ok_or(InviteRefusal::Unknown)?;
    if now >= invite.expires_at {
        return Err(InviteRefusal::Expired.into());
    }
    if invite.used_by.len() >= invite.max_uses as usize {
        return Err(InviteRefusal::UsedUp.into());
    }
    if invite.issuer != store.device() {
        return Err(InviteRefusal::IssuedElsewhere.into());
    }
    if team.members.get(device).is_some_and(|m| m.revoked) {
        return Err(InviteRefusal::DeviceRevoked.into());
    }
    let agent_name = validate::required("the agent name", agent_name)?;
    let (agent, member) = new_agent(store, agent_name, device, device_name, Role::Agent, now);
    // New agents join the campaigns the invite names (those still there),
    // else the team's oldest, so work can reach them at once.
    let mut joins: Vec<CampaignId> = invite
        .campaigns
        .iter()
        .copied()
        .filter(|c| team.campaigns.contains_key(c))
        .collect();
    if joins.is_empty() {
        joins.extend(team.campaigns.values().map(|c| c.id).min());
    }
    let agent_id = agent.id;
    let (hash, dev) = (token_hash.to_string(), device.to_string());
    let changes = store.write_many(vec![
        DocEdit::new(DocId::Agent(agent.id), true, move |d| {
            doc::agent::create(d, &agent)
        }),
        DocEdit::new(DocId::Team(team.id), false, move |d| {
            doc::team::use_invite(d, &hash, &dev)?;
            doc::team::add_member(d, &member)?;
            for c in joins {
                doc::team::add_campaign_member(d, c, agent_id)?;
            }
            Ok(())
        }),
    ])?;
    Ok((agent_id, changes))
}

impl Executor<'_, '_> {
    /// Refuses what only a supervisor may do (every peer refuses it from
    /// anyone else, so writing it here would only split this store off).
    pub(super) fn require_supervisor(&self, action: &'static str) -> OpResult<()> {
        match self.team.role_of(self.me.agent) {
            Some(Role::Supervisor) => Ok(()),
            _ => Err(OpError::NotSupervisor(action)),
        }
    }

    pub(super) fn show_team(&self) -> OpResult<Outcome> {
        let agents = self.store.agents()?.into_values().collect();
        let overview = TeamOverview {
            team: self.team.clone(),
            agents,
            me: self.me.clone(),
        };
        done(Reply::Team(Box::new(overview)), vec![])
    }

    pub(super) fn list_campaigns(&self) -> OpResult<Outcome> {
        done(
            Reply::Campaigns(self.team.campaigns.values().cloned().collect()),
            vec![],
        )
    }

    pub(super) fn show_campaign(&self, name: &str) -> OpResult<Outcome> {
        let c = self.campaign(name)?.clone();
        done(Reply::Campaign(Box::new(c)), vec![])
    }

    pub(super) fn set_status(&mut self, status: AgentStatus) -> OpResult<Outcome> {
        let status = match status {
            AgentStatus::Break { reason } => AgentStatus::Break {
                reason: reason.trim().to_string(),
            },
            other => other,
        };
        let at = self.ctx.now;
        let change = self
            .store
            .write_doc(&DocId::Agent(self.me.agent), false, move |d| {
                doc::agent::set_status(d, &status, at)
            })?;
        let agent = self.my_agent()?;
        done(Reply::Status(Box::new(agent)), vec![change])
    }

    pub(super) fn show_status(&self) -> OpResult<Outcome> {
        let agent = self.my_agent()?;
        done(Reply::Status(Box::new(agent)), vec![])
    }

    pub(super) fn my_agent(&self) -> OpResult<Agent> {
        self.store.agent(self.me.agent)?.ok_or(OpError::UnknownId {
            what: "agent",
            id: self.me.agent.to_string(),
        })
    }

    pub(super) fn agent_names(&self) -> OpResult<BTreeMap<AgentId, String>> {
        Ok(self
            .store
            .agents()?
            .into_iter()
            .map(|(id, a)| (id, a.name))
            .collect())
    }

    pub(super) fn agent_by_name(&self, name: &str) -> OpResult<Agent> {
        if let Ok(id) = name.trim().parse::<AgentId>()
            && let Some(agent) = self.store.agent(id)?
        {
            return Ok(agent);
        }
        self.store
            .agent_by_name(name)?
            .ok_or_else(|| OpError::UnknownAgent(name.to_string()))
    }

    pub(super) fn campaign(&self, name: &str) -> OpResult<&Campaign> {
        if let Ok(id) = name.trim().parse::<CampaignId>()
            && let Some(c) = self.team.campaigns.get(&id)
        {
            return Ok(c);
        }
        self.team
            .campaign_by_name(name)
            .ok_or_else(|| OpError::UnknownCampaign(name.to_string()))
    }

    /// Presence as the node reports it; without a node, only this device is live.
    pub(super) fn presence(&self, agents: &BTreeMap<AgentId, Agent>) -> PresenceView {
        if let Some(p) = &self.ctx.presence {
            return p.clone();
        }
        agents
            .get(&self.me.agent)
            .map(|a| {
                let entry = PresenceEntry {
                    live: true,
                    status: a.status.clone(),
                    since: a.status_since,
                };
                BTreeMap::from([(a.id, entry)])
            })
            .unwrap_or_default()
    }

    /// Agent names as ids, in the order given, each once.
    fn member_ids(&self, names: &[String]) -> OpResult<Vec<AgentId>> {
        let mut members = Vec::new();
        for m in names {
            let id = self.agent_by_name(m)?.id;
            if !members.contains(&id) {
                members.push(id);
            }
        }
        Ok(members)
    }

    /// Business hours as given: checked, or none for an empty week.
    fn checked_hours(given: Option<BusinessHours>) -> OpResult<Option<BusinessHours>> {
        match given {
            Some(h) if h.week.trim().is_empty() => Ok(None),
            Some(h) => {
                h.schedule()?;
                Ok(Some(BusinessHours {
                    zone: h.zone.trim().to_string(),
                    week: h.week.trim().to_string(),
                    closed_message: h.closed_message.trim().to_string(),
                }))
            }
            None => Ok(None),
        }
    }

    fn checked_dispositions(given: &[String]) -> OpResult<Vec<String>> {
        let mut dispositions: Vec<String> = Vec::new();
        for d in given {
            let d = validate::required("a disposition", d)?;
            if !dispositions.iter().any(|x| x.eq_ignore_ascii_case(&d)) {
                dispositions.push(d);
            }
        }
        Ok(dispositions)
    }

    pub(super) fn add_campaign(&mut self, spec: CampaignSpec) -> OpResult<Outcome> {
        self.require_supervisor("add campaigns")?;
        let name = validate::required("the campaign name", &spec.name)?;
        if self.team.campaign_by_name(&name).is_some() {
            return Err(OpError::DuplicateCampaign(name));
        }
        let mut members = self.member_ids(&spec.members)?;
        if members.is_empty() {
            members.push(self.me.agent);
        }
        let mut dispositions = Self::checked_dispositions(&spec.dispositions)?;
        if dispositions.is_empty() {
            dispositions = DEFAULT_DISPOSITIONS.iter().map(|s| s.to_string()).collect();
        }
        for f in &spec.fields {
            validate::required("a field name", &f.name)?;
        }
        let campaign = Campaign {
            id: self.store.new_id(),
            name,
            channel: spec.channel,
            strategy: spec.strategy,
            members,
            capacity: spec.capacity,
            auto_accept: spec.auto_accept,
            offer_timeout_seconds: spec
                .offer_timeout_seconds
                .unwrap_or(Campaign::DEFAULT_OFFER_TIMEOUT_SECONDS),
            dispositions,
            fields: spec.fields,
            sla_seconds: spec.sla_seconds,
            wrapup_seconds: spec.wrapup_seconds,
            hours: Self::checked_hours(spec.hours)?,
        };
        let id = campaign.id;
        self.write_team(Reply::Created { id: id.to_string() }, move |d| {
            doc::team::add_campaign(d, &campaign)
        })
    }

    /// Writes one edit to the team document; `reply` answers the request.
    /// Changes a campaign's settings (supervisors): what the edit names,
    /// checked as `campaign add` checks it; the rest stays.
    pub(super) fn edit_campaign(
        &mut self,
        campaign: &str,
        edit: CampaignEdit,
    ) -> OpResult<Outcome> {
        self.require_supervisor("edit campaigns")?;
        let mut c = self.campaign(campaign)?.clone();
        if let Some(name) = &edit.name {
            let name = validate::required("the campaign name", name)?;
            if self
                .team
                .campaign_by_name(&name)
                .is_some_and(|other| other.id != c.id)
            {
                return Err(OpError::DuplicateCampaign(name));
            }
            c.name = name;
        }
        if let Some(names) = &edit.members {
            c.members = self.member_ids(names)?;
            if c.members.is_empty() {
                return Err(OpError::CampaignNeeds("member"));
            }
        }
        if let Some(given) = &edit.dispositions {
            c.dispositions = Self::checked_dispositions(given)?;
            if c.dispositions.is_empty() {
                return Err(OpError::CampaignNeeds("disposition"));
            }
        }
        if let Some(fields) = edit.fields {
            for f in &fields {
                validate::required("a field name", &f.name)?;
            }
            c.fields = fields;
        }
        if edit.hours.is_some() {
            c.hours = Self::checked_hours(edit.hours)?;
        }
        c.strategy = edit.strategy.unwrap_or(c.strategy);
        c.capacity = edit.capacity.unwrap_or(c.capacity);
        c.auto_accept = edit.auto_accept.unwrap_or(c.auto_accept);
        c.sla_seconds = edit.sla_seconds.unwrap_or(c.sla_seconds);
        c.wrapup_seconds = edit.wrapup_seconds.unwrap_or(c.wrapup_seconds);
        c.offer_timeout_seconds = edit
            .offer_timeout_seconds
            .unwrap_or(c.offer_timeout_seconds);
        let reply = Reply::Campaign(Box::new(c.clone()));
        self.write_team(reply, move |d| doc::team::update_campaign(d, &c))
    }

    /// Changes a teammate (supervisors): the role of each of its devices,
    /// its own capacity, the campaigns it is in. Checked whole before
    /// anything is written: a campaign left with no one, or a team left with
    /// no supervisor, is refused.
    pub(super) fn edit_agent(&mut self, agent: &str, edit: AgentEdit) -> OpResult<Outcome> {
        self.require_supervisor("edit agents")?;
        let agent = self.agent_by_name(agent)?;
        let id = agent.id;
        let devices: Vec<String> = self
            .team
            .members
            .values()
            .filter(|m| m.agent == id && !m.revoked)
            .filter(|m| edit.role.is_some_and(|r| r != m.role))
            .map(|m| m.device.clone())
            .collect();
        if edit.role == Some(Role::Agent) && self.team.role_of(id) == Some(Role::Supervisor) {
            let others = self
                .team
                .members
                .values()
                .any(|m| m.agent != id && !m.revoked && m.role == Role::Supervisor);
            if !others {
                return Err(OpError::LastSupervisor(agent.name));
            }
        }
        let mut campaigns: Vec<Campaign> = Vec::new();
        if let Some(names) = &edit.campaigns {
            let mut wanted = Vec::new();
            for n in names {
                wanted.push(self.campaign(n)?.id);
            }
            for c in self.team.campaigns.values() {
                let mut c = c.clone();
                match (wanted.contains(&c.id), c.has_member(id)) {
                    (true, false) => c.members.push(id),
                    (false, true) => c.members.retain(|m| *m != id),
                    _ => continue,
                }
                if c.members.is_empty() {
                    return Err(OpError::CampaignLeftEmpty(c.name));
                }
                campaigns.push(c);
            }
        }
        let mut edits = Vec::new();
        if let Some(capacity) = edit.capacity.filter(|c| *c != agent.capacity) {
            edits.push(DocEdit::new(DocId::Agent(id), false, move |d| {
                doc::agent::set_capacity(d, capacity)
            }));
        }
        if !devices.is_empty() || !campaigns.is_empty() {
            let role = edit.role;
            edits.push(DocEdit::new(DocId::Team(self.team.id), false, move |d| {
                if let Some(role) = role {
                    for device in &devices {
                        doc::team::set_role(d, device, role)?;
                    }
                }
                for c in &campaigns {
                    doc::team::update_campaign(d, c)?;
                }
                Ok(())
            }));
        }
        let changes = if edits.is_empty() {
            Vec::new()
        } else {
            self.store.write_many(edits)?
        };
        let agent = self.agent_by_name(&id.to_string())?;
        done(Reply::Status(Box::new(agent)), changes)
    }

    /// Cancels an open invite (supervisors): it leaves the team document,
    /// so the issuing device refuses the code from then on.
    pub(super) fn cancel_invite(&mut self, given: &str) -> OpResult<Outcome> {
        self.require_supervisor("cancel invites")?;
        let given = given.trim();
        let matching: Vec<&String> = if given.len() < 8 {
            Vec::new()
        } else {
            self.team
                .invites
                .keys()
                .filter(|h| h.starts_with(given))
                .collect()
        };
        let hash = match matching.as_slice() {
            [one] => (*one).clone(),
            [] => return Err(OpError::UnknownInvite(given.to_string())),
            _ => return Err(OpError::AmbiguousInvite(given.to_string())),
        };
        self.write_team(Reply::Done, move |d| doc::team::remove_invite(d, &hash))
    }

    /// Sets a teammate Offline (supervisors): their machine is gone and
    /// routing should stop offering them work. They set themselves
    /// available again when they are back.
    pub(super) fn force_offline(&mut self, agent: &str) -> OpResult<Outcome> {
        self.require_supervisor("set a teammate offline")?;
        let id = self.agent_by_name(agent)?.id;
        let at = self.ctx.now;
        let change = self.store.write_doc(&DocId::Agent(id), false, move |d| {
            doc::agent::set_status(d, &AgentStatus::Offline, at)
        })?;
        let agent = self.agent_by_name(&id.to_string())?;
        done(Reply::Status(Box::new(agent)), vec![change])
    }

    /// Adds a break reason agents can pick (supervisors).
    pub(super) fn add_break_reason(&mut self, name: &str) -> OpResult<Outcome> {
        self.require_supervisor("add break reasons")?;
        let name = validate::required("the break reason", name)?;
        let mut reasons = self.team.break_reasons.clone();
        if reasons.iter().any(|r| r.eq_ignore_ascii_case(&name)) {
            return Err(OpError::DuplicateBreakReason(name));
        }
        if reasons.len() >= MAX_BREAK_REASONS {
            return Err(OpError::TooMany {
                what: "break reasons",
                max: MAX_BREAK_REASONS,
            });
        }
        reasons.push(name);
        self.write_team(Reply::Done, move |d| {
            doc::team::set_break_reasons(d, &reasons)
        })
    }

    /// Removes a break reason (supervisors); past breaks keep their reason.
    pub(super) fn remove_break_reason(&mut self, name: &str) -> OpResult<Outcome> {
        self.require_supervisor("remove break reasons")?;
        let mut reasons = self.team.break_reasons.clone();
        let before = reasons.len();
        reasons.retain(|r| !r.eq_ignore_ascii_case(name.trim()));
        if reasons.len() == before {
            return Err(OpError::UnknownBreakReason(name.trim().to_string()));
        }
        self.write_team(Reply::Done, move |d| {
            doc::team::set_break_reasons(d, &reasons)
        })
    }

    pub(super) fn write_team(
        &mut self,
        reply: Reply,
        edit: impl FnOnce(&mut automerge::AutoCommit) -> Result<(), doc::DocError>,
    ) -> OpResult<Outcome> {
        let change = self
            .store
            .write_doc(&DocId::Team(self.team.id), false, edit)?;
        done(reply, vec![change])
    }
}
