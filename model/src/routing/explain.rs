//! `meshdesk route explain`: why each queued interaction went where it did.
//!
//! [`explain`] replays the same pass as [`super::route`] (capacity and
//! round-robin state carry from one interaction to the next, so an
//! explanation is only right in the context of the whole queue) and, for each
//! queued interaction asked about, ranks every campaign member in the
//! strategy's order as the pass saw them at that moment.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::types::*;

use super::engine::{
    Directed, Engine, Gate, Key, declined_at, interaction_hash, key_for, weighted_key,
};
use super::{Offer, RoutingInput};

/// Why an agent was or was not offered an interaction.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Offered it (ring-all: one of everyone offered).
    Chosen,
    /// Could take it, but someone ranked higher got it (see the candidate's rank).
    NotChosen,
    /// Not (or no longer) on the team roster.
    NotOnTeam,
    /// Not live: no presence from their node.
    Offline,
    /// Live but not Available.
    NotAvailable {
        status: String,
    },
    InWrapUp {
        until: Millis,
    },
    AtAgentCapacity {
        open: u32,
        capacity: u32,
    },
    AtCampaignCapacity {
        open: u32,
        capacity: u32,
    },
    /// Declined (or let time out) this round's offer.
    Declined {
        at: Millis,
    },
    /// A transfer directed to another agent.
    DirectedElsewhere {
        to: AgentId,
    },
}

/// One agent's line in an explanation.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Candidate {
    pub agent: AgentId,
    /// The agent's display name (empty if their document is unknown).
    pub name: String,
    /// Place among the agents in the running, in the strategy's order (1 = first).
    pub rank: Option<u32>,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Why one queued interaction was offered to whom.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Explanation {
    /// Place in the whole queue (1 = routed first).
    pub position: u32,
    pub interaction: InteractionId,
    pub campaign: CampaignId,
    /// `None` when the team has no such campaign.
    pub campaign_name: Option<String>,
    pub strategy: Option<Strategy>,
    pub priority: i32,
    pub enqueued_at: Millis,
    pub directed_to: Option<AgentId>,
    /// Every eligible member had declined, so the round started again.
    pub round_again: bool,
    pub offer: Offer,
    /// Campaign members (a directed transfer's target first) in the strategy's order.
    pub candidates: Vec<Candidate>,
}

fn time(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| at.to_string())
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Chosen => f.write_str("chosen"),
            Verdict::NotChosen => f.write_str("eligible but not chosen"),
            Verdict::NotOnTeam => f.write_str("not on the team"),
            Verdict::Offline => f.write_str("offline (not live)"),
            Verdict::NotAvailable { status } => write!(f, "not available ({status})"),
            Verdict::InWrapUp { until } => write!(f, "in wrap-up until {}", time(*until)),
            Verdict::AtAgentCapacity { open, capacity } => {
                write!(f, "at agent capacity ({open} of {capacity})")
            }
            Verdict::AtCampaignCapacity { open, capacity } => {
                write!(f, "at campaign capacity ({open} of {capacity})")
            }
            Verdict::Declined { at } => write!(f, "declined this round at {}", time(*at)),
            Verdict::DirectedElsewhere { to } => {
                write!(f, "not offered: transferred to agent {to}")
            }
        }
    }
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.name.is_empty() {
            self.agent.to_string()
        } else {
            self.name.clone()
        };
        match (&self.verdict, self.rank) {
            (Verdict::NotChosen, Some(rank)) => {
                write!(f, "{name}: eligible but not chosen (ranked {rank})")
            }
            (Verdict::Chosen, Some(rank)) => write!(f, "{name}: chosen (ranked {rank})"),
            (verdict, _) => write!(f, "{name}: {verdict}"),
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let campaign = self
            .campaign_name
            .as_deref()
            .unwrap_or("(unknown campaign)");
        let strategy = self.strategy.map_or("-", Strategy::as_str);
        writeln!(
            f,
            "#{} {} in {campaign} ({strategy}), priority {}, queued {}",
            self.position,
            self.interaction,
            self.priority,
            time(self.enqueued_at)
        )?;
        if let Some(to) = self.directed_to {
            writeln!(f, "  transferred to agent {to}")?;
        }
        if self.round_again {
            writeln!(
                f,
                "  every eligible member declined: the round started again"
            )?;
        }
        if self.offer.agents.is_empty() {
            writeln!(f, "  offered to nobody")?;
        } else if let Some(expires) = self.offer.expires_at {
            writeln!(
                f,
                "  offered since {}, expires {}",
                time(self.offer.offered_since),
                time(expires)
            )?;
        }
        for candidate in &self.candidates {
            writeln!(f, "  - {candidate}")?;
        }
        Ok(())
    }
}

fn gate_verdict(gate: Gate<'_>) -> Option<Verdict> {
    match gate {
        Gate::Open => None,
        Gate::NotOnTeam => Some(Verdict::NotOnTeam),
        Gate::Offline => Some(Verdict::Offline),
        Gate::NotAvailable(status) => Some(Verdict::NotAvailable {
            status: status.label(),
        }),
        Gate::WrapUp(until) => Some(Verdict::InWrapUp { until }),
    }
}

/// One member as the pass saw them just before routing the interaction.
struct Seen {
    index: u32,
    key: Key,
    blocked: Option<Verdict>,
    declined_at: Option<Millis>,
    running: bool,
}

/// For each queued interaction (of `campaign`, if given), every campaign
/// member in the strategy's order and why they were chosen or skipped.
pub fn explain(input: &RoutingInput<'_>, campaign: Option<CampaignId>) -> Vec<Explanation> {
    let mut engine = Engine::new(*input, Default::default());
    let queue = std::mem::take(&mut engine.queue);
    let mut out = Vec::new();
    let mut declined = Vec::new();
    for (position, queued) in queue.iter().enumerate() {
        let Some(summary) = input.open.get(queued.index()) else {
            continue;
        };
        if campaign.is_some_and(|c| c != summary.campaign) {
            engine.route_one(queued);
            continue;
        }
        engine.advance(queued);
        engine.declines_of(summary, &mut declined);
        let directed = engine.directed(summary.directed_to, &declined);
        let ci = engine.campaign_index(summary.campaign);
        let slot = ci.map(|ci| &engine.campaigns[ci as usize]);
        let meta = slot.map(|c| (c.campaign.name.clone(), c.strategy()));

        // Before routing: who was blocked, who was in the running, in what order.
        let mut seen: Vec<Seen> = Vec::new();
        if let Some(c) = slot {
            let strategy = c.strategy();
            let hash = (strategy == Strategy::WeightedRandom).then(|| interaction_hash(summary.id));
            for (s, member) in c.members.iter().enumerate() {
                let agent = &engine.agents[member.agent as usize];
                let blocked = gate_verdict(agent.gate).or_else(|| {
                    if !agent.has_room() {
                        Some(Verdict::AtAgentCapacity {
                            open: agent.load,
                            capacity: agent.cap,
                        })
                    } else if !c.member_has_room(member) {
                        let capacity = c.campaign.capacity;
                        Some(Verdict::AtCampaignCapacity {
                            open: member.load,
                            capacity,
                        })
                    } else {
                        None
                    }
                });
                let key = match hash {
                    Some(h) => {
                        let agent_hash = agent
                            .hash
                            .unwrap_or_else(|| super::engine::agent_hash(agent.id));
                        weighted_key(h, agent_hash, member.agent)
                    }
                    None => key_for(
                        strategy,
                        agent,
                        member.agent,
                        u32::try_from(s).unwrap_or(u32::MAX),
                    ),
                };
                let declined_at = declined_at(&declined, member.agent);
                seen.push(Seen {
                    index: member.agent,
                    key,
                    blocked,
                    declined_at,
                    running: false,
                });
            }
            seen.sort_by_key(|s| s.key);
        }
        let eligible = || seen.iter().filter(|s| s.blocked.is_none());
        let fresh = eligible().any(|s| s.declined_at.is_none());
        let latest = eligible().filter_map(|s| s.declined_at).max();
        let older = eligible().any(|s| s.declined_at.is_some_and(|at| Some(at) < latest));
        for s in &mut seen {
            s.running = s.blocked.is_none()
                && match s.declined_at {
                    None => true,
                    Some(_) if fresh => false,
                    Some(at) => !older || Some(at) < latest,
                };
        }

        let routed = engine.route_one(queued);
        let name = |index: u32| engine.agents[index as usize].name.to_string();
        let id = |index: u32| engine.agents[index as usize].id;
        let mut candidates = Vec::with_capacity(seen.len() + 1);
        match directed {
            Directed::To {
                target,
                index,
                offered,
            } => {
                let verdict = if offered {
                    Verdict::Chosen
                } else {
                    gate_verdict(engine.agents[index as usize].gate).unwrap_or(Verdict::NotChosen)
                };
                candidates.push(Candidate {
                    agent: target,
                    name: name(index),
                    rank: None,
                    verdict,
                });
                for s in seen.iter().filter(|s| s.index != index) {
                    let verdict = Verdict::DirectedElsewhere { to: target };
                    candidates.push(Candidate {
                        agent: id(s.index),
                        name: name(s.index),
                        rank: None,
                        verdict,
                    });
                }
            }
            Directed::Fallback {
                target,
                declined_at,
            } => {
                let member = engine
                    .agent_index(target)
                    .is_some_and(|i| seen.iter().any(|s| s.index == i));
                if !member {
                    let verdict = match declined_at {
                        Some(at) => Verdict::Declined { at },
                        None => Verdict::NotOnTeam,
                    };
                    let name = engine.agent_index(target).map(name).unwrap_or_default();
                    candidates.push(Candidate {
                        agent: target,
                        name,
                        rank: None,
                        verdict,
                    });
                }
            }
            Directed::No => {}
        }
        if !matches!(directed, Directed::To { .. }) {
            let mut rank = 0u32;
            for s in &seen {
                let agent = id(s.index);
                let rank = s.running.then(|| {
                    rank += 1;
                    rank
                });
                let verdict = if routed.offer.agents.contains(&agent) {
                    Verdict::Chosen
                } else if let Some(blocked) = &s.blocked {
                    blocked.clone()
                } else if !s.running {
                    Verdict::Declined {
                        at: s.declined_at.unwrap_or(i64::MIN),
                    }
                } else {
                    Verdict::NotChosen
                };
                candidates.push(Candidate {
                    agent,
                    name: name(s.index),
                    rank,
                    verdict,
                });
            }
        }

        out.push(Explanation {
            position: u32::try_from(position + 1).unwrap_or(u32::MAX),
            interaction: summary.id,
            campaign: summary.campaign,
            strategy: meta.as_ref().map(|m| m.1),
            campaign_name: meta.map(|m| m.0),
            priority: summary.priority,
            enqueued_at: summary.enqueued_at,
            directed_to: summary.directed_to,
            round_again: routed.round_again,
            offer: routed.offer,
            candidates,
        });
    }
    out
}
