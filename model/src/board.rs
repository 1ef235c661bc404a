//! The team lead's live board: each campaign's queue and today's figures,
//! each agent's status and load, from the replicated documents alone (the
//! open interactions, the agents, and today's report), so any node shows
//! it, with no server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::projection::InteractionSummary;
use crate::report::Report;
use crate::types::Agent;
use crate::{AgentId, AgentStatus, CampaignId, InteractionId, Millis, Team};

/// What the board reads of a queued or active interaction (the store's
/// `open_heads` projection).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OpenHead {
    pub id: InteractionId,
    pub campaign: CampaignId,
    /// The customer as the lists name them.
    pub customer: String,
    pub round_started_at: Millis,
    pub owner: Option<AgentId>,
    pub claimed_at: Option<Millis>,
    /// The `Message-ID` of its first mail, for an email interaction: the
    /// store leaves out one that only repeats another's (see
    /// `Store::open_heads`).
    pub first_mail: Option<String>,
}

impl OpenHead {
    pub fn of(s: &InteractionSummary) -> OpenHead {
        OpenHead {
            id: s.id,
            campaign: s.campaign,
            customer: if s.contact_name.is_empty() {
                s.address.clone()
            } else {
                s.contact_name.clone()
            },
            round_started_at: s.round_started_at,
            owner: s.owner,
            claimed_at: s.claimed_at,
            first_mail: s.first_mail.clone(),
        }
    }
}

/// One campaign now and today.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CampaignNow {
    pub id: CampaignId,
    pub name: String,
    /// Queued now.
    pub waiting: u32,
    /// How long the longest-waiting customer has waited (this round).
    pub longest_wait_ms: Option<Millis>,
    pub offered_today: u64,
    pub answered_today: u64,
    pub abandoned_today: u64,
    /// Answered within the SLA today, in tenths of a percent; none without one.
    pub service_level_permille: Option<u64>,
    pub sla_seconds: u32,
    /// Members not offline (available or on a break).
    pub agents_logged_in: u32,
}

/// One agent now and today.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AgentNow {
    pub id: AgentId,
    pub name: String,
    pub status: AgentStatus,
    /// How long the agent has been in that status.
    pub status_for_ms: Millis,
    /// Active interactions the agent owns.
    pub active: u32,
    /// Open interactions the agent may hold (0: no limit).
    pub capacity: u32,
    pub handled_today: u64,
    pub handle_avg_ms: Option<Millis>,
}

/// An interaction with an agent now: what a supervisor may take back.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct WorkNow {
    pub id: crate::InteractionId,
    pub owner: AgentId,
    /// The customer as the lists name them.
    pub customer: String,
    pub campaign: CampaignId,
    /// How long it has been with its owner.
    pub held_for_ms: Millis,
}

/// The board at `at`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Board {
    pub at: Millis,
    /// By name.
    pub campaigns: Vec<CampaignNow>,
    /// By name.
    pub agents: Vec<AgentNow>,
    /// Interactions with an agent, by owner's name, the longest held first.
    #[serde(default)]
    pub working: Vec<WorkNow>,
}

/// Everything the board is made of.
pub struct BoardInput<'a> {
    pub now: Millis,
    pub team: &'a Team,
    pub agents: &'a [Agent],
    /// Queued and active interactions.
    pub open: &'a [OpenHead],
    /// Today's report by campaign and by agent.
    pub today_by_campaign: &'a Report,
    pub today_by_agent: &'a Report,
}

pub fn build(input: &BoardInput<'_>) -> Board {
    let now = input.now;
    let mut waiting: BTreeMap<CampaignId, (u32, Millis)> = BTreeMap::new();
    let mut active: BTreeMap<AgentId, u32> = BTreeMap::new();
    let mut working = Vec::new();
    for i in input.open {
        match i.owner {
            None => {
                let entry = waiting.entry(i.campaign).or_insert((0, now));
                entry.0 += 1;
                entry.1 = entry.1.min(i.round_started_at);
            }
            Some(owner) => {
                *active.entry(owner).or_default() += 1;
                let held_since = i.claimed_at.unwrap_or(i.round_started_at);
                working.push(WorkNow {
                    id: i.id,
                    owner,
                    customer: i.customer.clone(),
                    campaign: i.campaign,
                    held_for_ms: (now - held_since).max(0),
                });
            }
        }
    }
    let figures_of = |report: &Report, id: String| {
        report
            .groups
            .iter()
            .find(|g| g.id == id)
            .map(|g| g.figures.clone())
            .unwrap_or_default()
    };
    let logged_in: std::collections::BTreeSet<AgentId> = input
        .agents
        .iter()
        .filter(|a| a.status != AgentStatus::Offline)
        .map(|a| a.id)
        .collect();
    let logged_in = |agent: &AgentId| logged_in.contains(agent);
    let mut campaigns: Vec<CampaignNow> = input
        .team
        .campaigns
        .values()
        .map(|c| {
            let f = figures_of(input.today_by_campaign, c.id.to_string());
            let (count, oldest) = waiting.get(&c.id).copied().unwrap_or((0, now));
            CampaignNow {
                id: c.id,
                name: c.name.clone(),
                waiting: count,
                longest_wait_ms: (count > 0).then(|| (now - oldest).max(0)),
                offered_today: f.offered,
                answered_today: f.answered,
                abandoned_today: f.abandoned,
                service_level_permille: f.service_level_permille(),
                sla_seconds: c.sla_seconds,
                agents_logged_in: c.members.iter().filter(|m| logged_in(m)).count() as u32,
            }
        })
        .collect();
    campaigns.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let mut agents: Vec<AgentNow> = input
        .agents
        .iter()
        .map(|a| {
            let f = figures_of(input.today_by_agent, a.id.to_string());
            AgentNow {
                id: a.id,
                name: a.name.clone(),
                status: a.status.clone(),
                status_for_ms: (now - a.status_since).max(0),
                active: active.get(&a.id).copied().unwrap_or(0),
                capacity: a.capacity,
                handled_today: f.handled,
                handle_avg_ms: f.handle.avg_ms,
            }
        })
        .collect();
    agents.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let rank: BTreeMap<AgentId, usize> =
        agents.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
    working.sort_by(|a, b| {
        let owner = |w: &WorkNow| rank.get(&w.owner).copied().unwrap_or(usize::MAX);
        owner(a)
            .cmp(&owner(b))
            .then(b.held_for_ms.cmp(&a.held_for_ms))
            .then(a.id.cmp(&b.id))
    });
    Board {
        at: now,
        campaigns,
        agents,
        working,
    }
}
