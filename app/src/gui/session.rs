//! What every screen may read while it draws: the team, the clock, who is live.

use std::collections::BTreeMap;

use meshdesk_model::ops::TeamOverview;
use meshdesk_model::routing::PresenceEntry;
use meshdesk_model::{Agent, AgentId, AgentStatus, Campaign, CampaignId, ChannelKind, Millis};

use super::clock::Zone;
use super::theme::Tone;

#[derive(Debug, Clone)]
pub struct Session {
    /// The team, its campaigns and agents, and who this device is (`None` until loaded).
    pub team: Option<TeamOverview>,
    pub now: Millis,
    pub zone: Zone,
    /// Presence the node reported, by agent.
    pub presence: BTreeMap<AgentId, PresenceEntry>,
    /// Whether a node runs (else only this device is live).
    pub node: bool,
}

impl Session {
    pub fn new(now: Millis, zone: Zone, node: bool) -> Session {
        Session {
            team: None,
            now,
            zone,
            presence: BTreeMap::new(),
            node,
        }
    }

    pub fn me(&self) -> Option<AgentId> {
        self.team.as_ref().map(|t| t.me.agent)
    }

    /// Whether this agent is a supervisor (who may take work back from others).
    pub fn is_supervisor(&self) -> bool {
        self.team
            .as_ref()
            .is_some_and(|t| t.team.role_of(t.me.agent) == Some(meshdesk_model::Role::Supervisor))
    }

    pub fn agent(&self, id: AgentId) -> Option<&Agent> {
        self.team.as_ref()?.agents.iter().find(|a| a.id == id)
    }

    pub fn agent_name(&self, id: AgentId) -> String {
        self.agent(id)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| "an agent".into())
    }

    /// Teammates (everyone but me), by name.
    pub fn teammates(&self) -> Vec<&Agent> {
        let me = self.me();
        let mut agents: Vec<&Agent> = self
            .team
            .iter()
            .flat_map(|t| t.agents.iter())
            .filter(|a| Some(a.id) != me)
            .collect();
        agents.sort_by_key(|a| a.name.to_lowercase());
        agents
    }

    pub fn campaign(&self, id: CampaignId) -> Option<&Campaign> {
        self.team.as_ref()?.team.campaigns.get(&id)
    }

    /// The campaigns this agent is a member of, by name.
    pub fn my_campaigns(&self) -> Vec<&Campaign> {
        let (Some(team), Some(me)) = (self.team.as_ref(), self.me()) else {
            return vec![];
        };
        let mut campaigns: Vec<&Campaign> = team.team.campaigns_of(me).collect();
        campaigns.sort_by_key(|c| c.name.to_lowercase());
        campaigns
    }

    /// The channels this agent may start interactions on.
    pub fn my_channels(&self) -> Vec<ChannelKind> {
        match (self.team.as_ref(), self.me()) {
            (Some(team), Some(me)) => team.team.channels_of(me).into_iter().collect(),
            _ => vec![],
        }
    }

    pub fn break_reasons(&self) -> Vec<String> {
        self.team
            .as_ref()
            .map(|t| t.team.break_reasons.clone())
            .unwrap_or_default()
    }

    /// Whether an agent's node is connected (this device always is).
    pub fn is_live(&self, agent: AgentId) -> bool {
        Some(agent) == self.me() || self.presence.get(&agent).is_some_and(|p| p.live)
    }

    /// An agent's status as teammates should see it: offline unless live.
    pub fn status_of(&self, agent: AgentId) -> AgentStatus {
        if !self.is_live(agent) {
            return AgentStatus::Offline;
        }
        if let Some(p) = self.presence.get(&agent) {
            return p.status.clone();
        }
        self.agent(agent)
            .map(|a| a.status.clone())
            .unwrap_or(AgentStatus::Offline)
    }
}

/// The colour of a presence dot.
pub fn status_tone(status: &AgentStatus) -> Tone {
    match status {
        AgentStatus::Available => Tone::Success,
        AgentStatus::Break { .. } => Tone::Warning,
        AgentStatus::Offline => Tone::Muted,
    }
}

/// How a status reads in the GUI.
pub fn status_label(status: &AgentStatus) -> String {
    match status {
        AgentStatus::Available => "Available".into(),
        AgentStatus::Break { reason } if reason.is_empty() => "On a break".into(),
        AgentStatus::Break { reason } => format!("Break · {reason}"),
        AgentStatus::Offline => "Offline".into(),
    }
}

/// A channel's name as shown.
pub fn channel_label(channel: ChannelKind) -> &'static str {
    match channel {
        ChannelKind::Phone => "Phone",
        ChannelKind::Webchat => "Web chat",
        ChannelKind::Api => "API",
        ChannelKind::Email => "Email",
        ChannelKind::Internal => "Internal",
    }
}
