//! The routing pass: per-agent and per-campaign state built once, then one
//! decision per queued interaction in queue order.
//!
//! Push strategies keep, per campaign, a min-heap of eligible members keyed by
//! the strategy. Within a pass keys only grow (an offer adds load and makes
//! the agent the most recently assigned), so the heaps are lazy: an entry is
//! checked when it surfaces and re-pushed with its current key if the agent
//! was assigned since (in this or another campaign), or dropped for good if
//! the agent is now at capacity. Weighted-random keeps a flat pool of eligible
//! members and scans it; ring-all keeps one shared list per campaign.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use crate::ids::*;
use crate::projection::InteractionSummary;
use crate::types::*;

use super::{Offer, OfferKind, OfferedTo, PresenceEntry, RoutingInput};

/// A strategy's ordering key: smaller is preferred. The last part is the
/// agent's index, and indices follow agent ids, so ties break on agent id.
pub(super) type Key = (i64, i64, i64, u32);

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Entry {
    key: Key,
    slot: u32,
    version: u32,
}

/// Why an agent cannot take anything at all right now, whatever the campaign.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Gate<'a> {
    Open,
    NotOnTeam,
    Offline,
    NotAvailable(&'a AgentStatus),
    WrapUp(Millis),
}

#[derive(Debug)]
pub(super) struct AgentSlot<'a> {
    pub id: AgentId,
    pub name: &'a str,
    pub on_team: bool,
    pub presence: Option<&'a PresenceEntry>,
    pub gate: Gate<'a>,
    /// When the agent last became able to take work: presence since, last finish, end of wrap-up.
    pub eligible_since: Millis,
    pub wrapup_until: Millis,
    /// Active interactions owned, plus push offers made to them in this pass.
    pub load: u32,
    /// Agent capacity (0: none).
    pub cap: u32,
    /// Least-recently-assigned key: never < historical time < offers in this pass (by sequence).
    pub rr: (i64, i64),
    /// `last_finished_at`, never as `i64::MIN`.
    pub last_finished: i64,
    pub finished_today: u32,
    pub hash: Option<u64>,
    version: u32,
    memberships: (u32, u32),
}

impl AgentSlot<'_> {
    pub fn open(&self) -> bool {
        self.gate == Gate::Open
    }

    pub fn has_room(&self) -> bool {
        self.cap == 0 || self.load < self.cap
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct MemberSlot {
    pub agent: u32,
    /// Active interactions in this campaign, plus push offers in this pass.
    pub load: u32,
}

#[derive(Debug)]
pub(super) struct CampaignSlot<'a> {
    pub id: CampaignId,
    pub campaign: &'a Campaign,
    /// Members in member order, duplicates removed.
    pub members: Vec<MemberSlot>,
    heap: BinaryHeap<Reverse<Entry>>,
    /// Weighted-random: (agent hash, agent index, member slot) of every member who can take one now.
    pool: Vec<(u64, u32, u32)>,
    /// Ring-all: every member who can take one now, built on demand.
    ring: Option<OfferedTo>,
}

impl CampaignSlot<'_> {
    pub fn strategy(&self) -> Strategy {
        self.campaign.strategy
    }

    pub fn member_has_room(&self, member: &MemberSlot) -> bool {
        self.campaign.capacity == 0 || member.load < self.campaign.capacity
    }
}

/// What one interaction's routing came to.
#[derive(Debug)]
pub(super) struct Routed {
    pub offer: Offer,
    /// Every eligible member had declined: the round started again.
    pub round_again: bool,
}

/// How a directed transfer is handled.
#[derive(Clone, Copy, Debug)]
pub(super) enum Directed {
    No,
    /// Routed by the campaign instead: the target is not on the team (`None`)
    /// or declined (`Some(at)`).
    Fallback {
        target: AgentId,
        declined_at: Option<Millis>,
    },
    /// Offered to the target (if `offered`), nobody else.
    To {
        target: AgentId,
        index: u32,
        offered: bool,
    },
}

#[derive(Debug)]
pub(super) struct Engine<'a> {
    pub agents: Vec<AgentSlot<'a>>,
    pub campaigns: Vec<CampaignSlot<'a>>,
    /// (campaign index, member slot) for each agent, grouped by agent.
    memberships: Vec<(u32, u32)>,
    /// Indices into `input.open` of the queued interactions, in queue order.
    pub queue: Vec<u32>,
    seq: i64,
    declined: Vec<(u32, Millis)>,
    aside: Vec<Entry>,
}

/// Encodes an optional time so that `None` sorts first.
fn never_first(at: Option<Millis>) -> i64 {
    at.map_or(i64::MIN, |t| t.max(i64::MIN + 1))
}

fn id_hash(bytes: [u8; 16]) -> u64 {
    let hash = blake3::hash(&bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

pub(super) fn interaction_hash(id: InteractionId) -> u64 {
    id_hash(id.0.to_bytes())
}

pub(super) fn agent_hash(id: AgentId) -> u64 {
    id_hash(id.0.to_bytes())
}

/// The rendezvous score of an (interaction, agent) pair: a 64×64→128-bit
/// multiply of the two hashes (each offset by a constant), folded to 64 bits.
#[inline]
pub(super) fn score(interaction: u64, agent: u64) -> u64 {
    let product =
        u128::from(interaction ^ 0xa076_1d64_78bd_642f) * u128::from(agent ^ 0xe703_7ed1_a0b4_28db);
    (product as u64) ^ ((product >> 64) as u64)
}

/// Maps a u64 onto an i64 preserving order.
fn ordered(x: u64) -> i64 {
    (x ^ (1 << 63)) as i64
}

/// The key of a push strategy (and ring-all / top-down: member order).
pub(super) fn key_for(strategy: Strategy, agent: &AgentSlot<'_>, index: u32, slot: u32) -> Key {
    let load = i64::from(agent.load);
    match strategy {
        Strategy::RoundRobin => (agent.rr.0, agent.rr.1, 0, index),
        Strategy::LongestIdle => (i64::from(agent.load > 0), agent.last_finished, 0, index),
        Strategy::LeastBusy => (load, agent.rr.0, agent.rr.1, index),
        Strategy::FewestHandled => (i64::from(agent.finished_today) + load, 0, 0, index),
        Strategy::TopDown | Strategy::RingAll => (i64::from(slot), 0, 0, index),
        // Highest score first: order on the complement.
        Strategy::WeightedRandom => (0, 0, 0, index),
    }
}

/// The key of a weighted-random member for one interaction.
pub(super) fn weighted_key(interaction: u64, agent_hash: u64, index: u32) -> Key {
    (ordered(!score(interaction, agent_hash)), 0, 0, index)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'a> Engine<'a> {
    pub fn new(input: RoutingInput<'a>) -> Self {
        let team = input.team;

        // Every agent routing may talk about: the roster and campaign members, by id.
        let mut ids: Vec<(AgentId, bool)> = team
            .members
            .values()
            .filter(|m| !m.revoked)
            .map(|m| (m.agent, true))
            .chain(
                team.campaigns
                    .values()
                    .flat_map(|c| c.members.iter().map(|a| (*a, false))),
            )
            .collect();
        ids.sort_unstable();
        ids.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                earlier.1 |= later.1;
            }
            same
        });

        let mut agents: Vec<AgentSlot<'a>> = ids
            .iter()
            .map(|&(id, on_team)| {
                let history = input.history.get(&id).copied().unwrap_or_default();
                let doc = input.agents.get(&id);
                AgentSlot {
                    id,
                    name: doc.map_or("", |a| a.name.as_str()),
                    on_team,
                    presence: input.presence.get(&id),
                    gate: Gate::Open,
                    eligible_since: i64::MIN,
                    wrapup_until: history.wrapup_until.unwrap_or(i64::MIN),
                    load: 0,
                    cap: doc.map_or(0, |a| a.capacity),
                    rr: (never_first(history.last_assigned_at), 0),
                    last_finished: never_first(history.last_finished_at),
                    finished_today: history.finished_today,
                    hash: None,
                    version: 0,
                    memberships: (0, 0),
                }
            })
            .collect();
        let find = |id: AgentId| ids.binary_search_by(|probe| probe.0.cmp(&id)).ok();

        // Campaigns (in id order, as the team document's map is) and their members.
        let mut stamp = vec![u32::MAX; agents.len()];
        let mut triples: Vec<(u32, u32, u32)> = Vec::new();
        let mut campaigns: Vec<CampaignSlot<'a>> = Vec::with_capacity(team.campaigns.len());
        for (ci, (id, campaign)) in team.campaigns.iter().enumerate() {
            let ci = to_u32(ci);
            let mut members = Vec::with_capacity(campaign.members.len());
            for agent in &campaign.members {
                let Some(index) = find(*agent) else { continue };
                if stamp[index] == ci {
                    continue;
                }
                stamp[index] = ci;
                triples.push((to_u32(index), ci, to_u32(members.len())));
                members.push(MemberSlot {
                    agent: to_u32(index),
                    load: 0,
                });
            }
            campaigns.push(CampaignSlot {
                id: *id,
                campaign,
                members,
                heap: BinaryHeap::new(),
                pool: Vec::new(),
                ring: None,
            });
        }
        triples.sort_by_key(|t| t.0);
        let mut memberships = Vec::with_capacity(triples.len());
        let mut start = 0usize;
        for (index, agent) in agents.iter_mut().enumerate() {
            while start < triples.len() && (triples[start].0 as usize) < index {
                start += 1;
            }
            let first = memberships.len();
            while start < triples.len() && triples[start].0 as usize == index {
                memberships.push((triples[start].1, triples[start].2));
                start += 1;
            }
            agent.memberships = (to_u32(first), to_u32(memberships.len()));
        }

        let mut engine = Engine {
            agents,
            campaigns,
            memberships,
            queue: Vec::new(),
            seq: 0,
            declined: Vec::new(),
            aside: Vec::new(),
        };

        // Loads, wrap-ups and the queue from the open interactions.
        let mut queue: Vec<(i32, Millis, InteractionId, u32)> = Vec::new();
        for (i, summary) in input.open.iter().enumerate() {
            match (&summary.finalized, summary.owner) {
                (Some(finalized), _) => {
                    if let Some(index) = find(finalized.agent) {
                        let agent = &mut engine.agents[index];
                        agent.wrapup_until = agent.wrapup_until.max(finalized.wrapup_until);
                    }
                }
                (None, Some(owner)) => {
                    let Some(index) = find(owner) else { continue };
                    engine.agents[index].load += 1;
                    if let Some(ci) = engine.campaign_index(summary.campaign)
                        && let Some(slot) = engine.slot_of(to_u32(index), ci)
                    {
                        engine.campaigns[ci as usize].members[slot as usize].load += 1;
                    }
                }
                (None, None) => {
                    queue.push((summary.priority, summary.enqueued_at, summary.id, to_u32(i)));
                }
            }
        }
        queue.sort_unstable();
        engine.queue = queue.into_iter().map(|q| q.3).collect();

        // What keeps each agent from taking anything, and since when they could.
        let now = input.now;
        for agent in &mut engine.agents {
            agent.gate = match agent.presence {
                _ if !agent.on_team => Gate::NotOnTeam,
                None => Gate::Offline,
                Some(p) if !p.live => Gate::Offline,
                Some(p) => match &p.status {
                    AgentStatus::Available if agent.wrapup_until > now => {
                        Gate::WrapUp(agent.wrapup_until)
                    }
                    AgentStatus::Available => Gate::Open,
                    other => Gate::NotAvailable(other),
                },
            };
            let since = agent.presence.map_or(i64::MIN, |p| p.since);
            agent.eligible_since = since.max(agent.last_finished).max(agent.wrapup_until);
        }

        // Each campaign's structure for its strategy.
        for ci in 0..engine.campaigns.len() {
            let campaign = &engine.campaigns[ci];
            let strategy = campaign.strategy();
            match strategy {
                Strategy::RingAll => {}
                Strategy::WeightedRandom => {
                    let mut pool = Vec::with_capacity(campaign.members.len());
                    for (slot, member) in campaign.members.iter().enumerate() {
                        let agent = &mut engine.agents[member.agent as usize];
                        if agent.open() && agent.has_room() && campaign.member_has_room(member) {
                            let hash = *agent.hash.get_or_insert_with(|| agent_hash(agent.id));
                            pool.push((hash, member.agent, to_u32(slot)));
                        }
                    }
                    engine.campaigns[ci].pool = pool;
                }
                _ => {
                    let entries: Vec<Reverse<Entry>> = campaign
                        .members
                        .iter()
                        .enumerate()
                        .filter_map(|(slot, member)| {
                            let agent = &engine.agents[member.agent as usize];
                            let ok = agent.open()
                                && agent.has_room()
                                && campaign.member_has_room(member);
                            ok.then(|| {
                                let key = key_for(strategy, agent, member.agent, to_u32(slot));
                                Reverse(Entry {
                                    key,
                                    slot: to_u32(slot),
                                    version: agent.version,
                                })
                            })
                        })
                        .collect();
                    engine.campaigns[ci].heap = BinaryHeap::from(entries);
                }
            }
        }
        engine
    }

    pub fn campaign_index(&self, id: CampaignId) -> Option<u32> {
        self.campaigns
            .binary_search_by(|c| c.id.cmp(&id))
            .ok()
            .map(to_u32)
    }

    pub fn agent_index(&self, id: AgentId) -> Option<u32> {
        self.agents
            .binary_search_by(|a| a.id.cmp(&id))
            .ok()
            .map(to_u32)
    }

    fn memberships_of(&self, index: u32) -> &[(u32, u32)] {
        let (start, end) = self.agents[index as usize].memberships;
        &self.memberships[start as usize..end as usize]
    }

    fn slot_of(&self, index: u32, ci: u32) -> Option<u32> {
        self.memberships_of(index)
            .iter()
            .find(|m| m.0 == ci)
            .map(|m| m.1)
    }

    /// Fills `out` with the round's declines by known agents (latest per
    /// agent, by agent index) and returns the latest decline by anyone.
    pub fn declines_of(
        &self,
        summary: &InteractionSummary,
        out: &mut Vec<(u32, Millis)>,
    ) -> Millis {
        out.clear();
        let mut latest = i64::MIN;
        for &(agent, at) in &summary.declined {
            latest = latest.max(at);
            if let Some(index) = self.agent_index(agent) {
                out.push((index, at));
            }
        }
        if out.len() > 1 {
            out.sort_unstable();
            // Keep the latest decline per agent (the last of each run).
            out.reverse();
            out.dedup_by_key(|d| d.0);
        }
        latest
    }

    /// How a directed transfer (if any) is handled.
    pub fn directed(&self, summary: &InteractionSummary, declined: &[(u32, Millis)]) -> Directed {
        let Some(target) = summary.directed_to else {
            return Directed::No;
        };
        let Some(index) = self.agent_index(target) else {
            return Directed::Fallback {
                target,
                declined_at: None,
            };
        };
        let agent = &self.agents[index as usize];
        if !agent.on_team {
            return Directed::Fallback {
                target,
                declined_at: None,
            };
        }
        if let Some(at) = declined_at(declined, index) {
            return Directed::Fallback {
                target,
                declined_at: Some(at),
            };
        }
        Directed::To {
            target,
            index,
            offered: agent.open(),
        }
    }

    /// Routes one queued interaction, updating the pass's loads.
    pub fn route_one(&mut self, summary: &InteractionSummary) -> Routed {
        let mut declined = std::mem::take(&mut self.declined);
        let latest_decline = self.declines_of(summary, &mut declined);
        let round_since = summary.round_started_at.max(latest_decline);
        let routed = self.decide(summary, &declined, round_since);
        self.declined = declined;
        routed
    }

    fn decide(
        &mut self,
        summary: &InteractionSummary,
        declined: &[(u32, Millis)],
        round_since: Millis,
    ) -> Routed {
        let mut offer = Offer {
            interaction: summary.id,
            campaign: summary.campaign,
            kind: OfferKind::UnknownCampaign,
            agents: OfferedTo::Nobody,
            offered_since: round_since,
            expires_at: None,
        };
        if let Directed::To {
            target, offered, ..
        } = self.directed(summary, declined)
        {
            offer.kind = OfferKind::Directed;
            if offered {
                offer.agents = OfferedTo::One(target);
            }
            return Routed {
                offer,
                round_again: false,
            };
        }
        let Some(ci) = self.campaign_index(summary.campaign) else {
            return Routed {
                offer,
                round_again: false,
            };
        };
        let campaign = self.campaigns[ci as usize].campaign;
        let (picked, round_again) = match campaign.strategy {
            Strategy::RingAll => {
                offer.kind = OfferKind::RingAll;
                let (agents, round_again) = self.ring(ci, declined);
                offer.agents = agents;
                return Routed { offer, round_again };
            }
            Strategy::WeightedRandom => self.pick_weighted(ci, summary.id, declined),
            _ => self.pick_heap(ci, declined),
        };
        offer.kind = OfferKind::Push;
        if let Some(slot) = picked {
            let index = self.campaigns[ci as usize].members[slot as usize].agent;
            let agent = &self.agents[index as usize];
            offer.agents = OfferedTo::One(agent.id);
            offer.offered_since = round_since.max(agent.eligible_since);
            if campaign.offer_timeout_seconds > 0 {
                let timeout = i64::from(campaign.offer_timeout_seconds) * 1000;
                offer.expires_at = Some(offer.offered_since.saturating_add(timeout));
            }
            self.assign(ci, slot);
        }
        Routed { offer, round_again }
    }

    /// Ring-all: every member who can take one now and has not declined (or,
    /// when all of them declined, the round-again rule).
    fn ring(&mut self, ci: u32, declined: &[(u32, Millis)]) -> (OfferedTo, bool) {
        let campaign = &self.campaigns[ci as usize];
        let eligible = |member: &&MemberSlot| {
            let agent = &self.agents[member.agent as usize];
            agent.open() && agent.has_room() && campaign.member_has_room(member)
        };
        let relevant = !declined.is_empty()
            && campaign
                .members
                .iter()
                .filter(eligible)
                .any(|m| declined_at(declined, m.agent).is_some());
        if !relevant {
            if let Some(ring) = &campaign.ring {
                return (ring.clone(), false);
            }
            let ids: Arc<[AgentId]> = campaign
                .members
                .iter()
                .filter(eligible)
                .map(|m| self.agents[m.agent as usize].id)
                .collect();
            let ring = if ids.is_empty() {
                OfferedTo::Nobody
            } else {
                OfferedTo::Many(ids)
            };
            self.campaigns[ci as usize].ring = Some(ring.clone());
            return (ring, false);
        }
        let fresh: Vec<AgentId> = campaign
            .members
            .iter()
            .filter(eligible)
            .filter(|m| declined_at(declined, m.agent).is_none())
            .map(|m| self.agents[m.agent as usize].id)
            .collect();
        if !fresh.is_empty() {
            return (OfferedTo::Many(fresh.into()), false);
        }
        // Everyone eligible declined: all but the latest decliner(s), or everyone.
        let latest = campaign
            .members
            .iter()
            .filter(eligible)
            .filter_map(|m| declined_at(declined, m.agent))
            .max()
            .unwrap_or(i64::MIN);
        let mut again: Vec<AgentId> = campaign
            .members
            .iter()
            .filter(eligible)
            .filter(|m| declined_at(declined, m.agent).is_some_and(|at| at < latest))
            .map(|m| self.agents[m.agent as usize].id)
            .collect();
        if again.is_empty() {
            again = campaign
                .members
                .iter()
                .filter(eligible)
                .map(|m| self.agents[m.agent as usize].id)
                .collect();
        }
        (OfferedTo::Many(again.into()), true)
    }

    /// The best member of a heap strategy who can take it; `(slot, round_again)`.
    fn pick_heap(&mut self, ci: u32, declined: &[(u32, Millis)]) -> (Option<u32>, bool) {
        let campaign = &mut self.campaigns[ci as usize];
        let strategy = campaign.campaign.strategy;
        let capacity = campaign.campaign.capacity;
        self.aside.clear();
        let mut chosen = None;
        while let Some(Reverse(entry)) = campaign.heap.pop() {
            let member = campaign.members[entry.slot as usize];
            let agent = &self.agents[member.agent as usize];
            if !(agent.open() && agent.has_room() && (capacity == 0 || member.load < capacity)) {
                continue; // loads only grow during a pass: gone for good
            }
            if entry.version != agent.version {
                let key = key_for(strategy, agent, member.agent, entry.slot);
                campaign.heap.push(Reverse(Entry {
                    key,
                    slot: entry.slot,
                    version: agent.version,
                }));
                continue;
            }
            if declined_at(declined, member.agent).is_some() {
                self.aside.push(entry);
                continue;
            }
            chosen = Some(entry);
            break;
        }
        let mut round_again = false;
        if chosen.is_none() && !self.aside.is_empty() {
            round_again = true;
            let time = |e: &Entry| {
                declined_at(declined, campaign.members[e.slot as usize].agent).unwrap_or(i64::MIN)
            };
            let latest = self.aside.iter().map(time).max().unwrap_or(i64::MIN);
            let position = self
                .aside
                .iter()
                .position(|e| time(e) < latest)
                .unwrap_or(0);
            chosen = Some(self.aside.remove(position));
        }
        for entry in self.aside.drain(..) {
            campaign.heap.push(Reverse(entry));
        }
        (chosen.map(|e| e.slot), round_again)
    }

    /// Weighted-random: the highest score among the pool; `(slot, round_again)`.
    fn pick_weighted(
        &self,
        ci: u32,
        interaction: InteractionId,
        declined: &[(u32, Millis)],
    ) -> (Option<u32>, bool) {
        let pool = &self.campaigns[ci as usize].pool;
        if pool.is_empty() {
            return (None, false);
        }
        let hash = interaction_hash(interaction);
        let better = |best: &Option<(u64, u32, u32)>, s: u64, index: u32| match best {
            None => true,
            Some((bs, bi, _)) => s > *bs || (s == *bs && index < *bi),
        };
        let mut best: Option<(u64, u32, u32)> = None;
        if declined.is_empty() {
            for &(agent_hash, index, slot) in pool {
                let s = score(hash, agent_hash);
                if better(&best, s, index) {
                    best = Some((s, index, slot));
                }
            }
            return (best.map(|b| b.2), false);
        }
        let mut latest = i64::MIN;
        for &(agent_hash, index, slot) in pool {
            if let Some(at) = declined_at(declined, index) {
                latest = latest.max(at);
                continue;
            }
            let s = score(hash, agent_hash);
            if better(&best, s, index) {
                best = Some((s, index, slot));
            }
        }
        if best.is_some() || latest == i64::MIN {
            return (best.map(|b| b.2), false);
        }
        // Everyone in the pool declined: all but the latest decliner(s), or everyone.
        for only_older in [true, false] {
            for &(agent_hash, index, slot) in pool {
                let at = declined_at(declined, index).unwrap_or(i64::MIN);
                if only_older && at >= latest {
                    continue;
                }
                let s = score(hash, agent_hash);
                if better(&best, s, index) {
                    best = Some((s, index, slot));
                }
            }
            if best.is_some() {
                break;
            }
        }
        (best.map(|b| b.2), true)
    }

    /// Counts a push offer against the agent for the rest of the pass.
    fn assign(&mut self, ci: u32, slot: u32) {
        let campaign = &mut self.campaigns[ci as usize];
        let capacity = campaign.campaign.capacity;
        let strategy = campaign.campaign.strategy;
        let member = &mut campaign.members[slot as usize];
        member.load += 1;
        let member = *member;
        let index = member.agent;
        self.seq += 1;
        let agent = &mut self.agents[index as usize];
        agent.load += 1;
        agent.rr = (i64::MAX, self.seq);
        agent.version = agent.version.wrapping_add(1);
        let agent_full = !agent.has_room();
        let campaign_full = capacity != 0 && member.load >= capacity;
        if agent_full {
            let (start, end) = agent.memberships;
            for m in start..end {
                let (c, s) = self.memberships[m as usize];
                self.member_full(c, s);
            }
        } else if campaign_full {
            self.member_full(ci, slot);
        } else if strategy != Strategy::WeightedRandom {
            let agent = &self.agents[index as usize];
            let key = key_for(strategy, agent, index, slot);
            let entry = Entry {
                key,
                slot,
                version: agent.version,
            };
            self.campaigns[ci as usize].heap.push(Reverse(entry));
        }
    }

    /// A member can take nothing more in this campaign for the rest of the pass.
    fn member_full(&mut self, ci: u32, slot: u32) {
        let campaign = &mut self.campaigns[ci as usize];
        match campaign.campaign.strategy {
            Strategy::RingAll => campaign.ring = None,
            Strategy::WeightedRandom => {
                if let Some(p) = campaign.pool.iter().position(|e| e.2 == slot) {
                    campaign.pool.swap_remove(p);
                }
            }
            _ => {} // dropped lazily when it surfaces
        }
    }
}

/// When `agent` (an index) declined this round, if they did.
pub(super) fn declined_at(declined: &[(u32, Millis)], agent: u32) -> Option<Millis> {
    declined.iter().find(|d| d.0 == agent).map(|d| d.1)
}
