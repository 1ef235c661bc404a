//! The routing pass: per-agent and per-campaign state built once, then one
//! decision per queued interaction in queue order.
//!
//! Push strategies keep, per campaign, the eligible members sorted by the
//! strategy's key in a deque ([`Ranked`]). Within a pass keys only grow (an
//! offer adds load and makes the agent the most recently assigned), so the
//! order is kept lazily: the front entry is checked when it is needed, moved
//! back to its place if the agent's key grew since (an offer in this or
//! another campaign), or dropped for good if the agent is now at capacity. An
//! agent who just got an offer usually goes to the back (round-robin,
//! least-busy) or stays in front (top-down, longest-idle once busy), so each
//! decision costs O(1) moves in practice, where a binary heap paid a full
//! sift-down with unpredictable branches. Weighted-random keeps a flat pool
//! of eligible members and scans it; ring-all keeps one shared list per
//! campaign.
//!
//! Round-robin order (`rr`, also the tie-break of least-busy and
//! fewest-handled) is the order of the agents' latest assignments on the
//! queue's own timeline: each assignment sits at its interaction's rotation
//! key, `(round_started_at, id)`, whether it is a claim already seen or an
//! offer made in this pass. Every finished assignment (the history) and every
//! claim of an interaction ahead of the first queued one is ranked before the
//! pass starts; claims of interactions further back in the queue (`later`)
//! are applied only when the pass reaches their place ([`Engine::advance`]),
//! so a node that has seen a teammate's claim and a node that has not make
//! the same offers for every interaction before it.
//!
//! The open interactions are read once, in input order, into 32-byte records
//! and 16-byte (packed priority and enqueue time, index) sort keys; the keys
//! are radix-sorted. The summaries themselves (~450 bytes each) are read again
//! only for the few queued interactions with declines or a directed transfer.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::ids::*;
use crate::projection::InteractionSummary;
use crate::types::*;

use super::{Offer, OfferKind, OfferedTo, PresenceEntry, RoutingInput};

/// A strategy's ordering key: smaller is preferred. The low 32 bits are the
/// agent's index, and indices follow agent ids, so ties break on agent id.
pub(super) type Key = u128;

/// No campaign (an index that matches nothing).
const NONE: u32 = u32::MAX;

const HAS_DECLINES: u32 = 1 << 30;
const HAS_DIRECTED: u32 = 1 << 31;
const INDEX_MASK: u32 = (1 << 30) - 1;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Entry {
    key: Key,
    slot: u32,
}

/// Members sorted by key, smallest in front.
#[derive(Debug, Default)]
struct Ranked {
    entries: VecDeque<Entry>,
}

impl Ranked {
    fn new(mut entries: Vec<Entry>) -> Self {
        entries.sort_unstable();
        Ranked {
            entries: entries.into(),
        }
    }

    #[inline]
    fn front(&self) -> Option<Entry> {
        self.entries.front().copied()
    }

    #[inline]
    fn pop_front(&mut self) {
        self.entries.pop_front();
    }

    /// Puts back entries taken from the front, in reverse order of taking.
    #[inline]
    fn push_front(&mut self, entry: Entry) {
        self.entries.push_front(entry);
    }

    #[inline]
    fn insert(&mut self, entry: Entry) {
        match self.entries.back() {
            Some(last) if last.key > entry.key => {
                let at = self.entries.partition_point(|e| e.key < entry.key);
                self.entries.insert(at, entry);
            }
            _ => self.entries.push_back(entry),
        }
    }
}

/// One queued interaction as routing reads it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Queued {
    pub id: InteractionId,
    pub round_started_at: Millis,
    /// Campaign index, or [`NONE`].
    pub campaign: u32,
    /// The index into `RoutingInput::open` (low 30 bits) and the `HAS_*` flags.
    packed: u32,
}

impl Queued {
    /// Its index in `RoutingInput::open`.
    pub fn index(&self) -> usize {
        (self.packed & INDEX_MASK) as usize
    }
}

/// Buffers a pass needs, kept between passes by a [`super::Router`].
#[derive(Debug, Default)]
pub(super) struct Scratch {
    records: Vec<Queued>,
    order: Vec<(u64, u32)>,
    spare: Vec<(u64, u32)>,
    queue: Vec<Queued>,
    /// Claims of active interactions: (rotation key, owner's index).
    claims: Vec<((Millis, u128), u32)>,
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
    /// Least recently assigned first: 0 for never, else the place of the
    /// agent's latest assignment on the queue's timeline (see the module docs).
    rr: u64,
    /// `last_finished_at`, never first.
    last_finished: u64,
    last_finished_at: Millis,
    finished_today: u32,
    pub hash: Option<u64>,
    memberships: (u32, u32),
}

impl AgentSlot<'_> {
    #[inline]
    pub fn open(&self) -> bool {
        matches!(self.gate, Gate::Open)
    }

    #[inline]
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
    ranked: Ranked,
    /// Weighted-random: (agent hash, agent index, member slot) of every member who can take one now.
    pool: Vec<(u64, u32, u32)>,
    /// Ring-all: every member who can take one now, built on demand.
    ring: Option<OfferedTo>,
}

impl CampaignSlot<'_> {
    pub fn strategy(&self) -> Strategy {
        self.campaign.strategy
    }

    #[inline]
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
    open: &'a [InteractionSummary],
    agent_ids: IdIndex,
    campaign_ids: IdIndex,
    pub agents: Vec<AgentSlot<'a>>,
    pub campaigns: Vec<CampaignSlot<'a>>,
    /// (campaign index, member slot) for each agent, grouped by agent.
    memberships: Vec<(u32, u32)>,
    /// The queued interactions, in queue order.
    pub queue: Vec<Queued>,
    /// The last place handed out on the round-robin timeline.
    seq: u64,
    /// Claims of interactions behind the first queued one, in rotation-key
    /// order; those before `next_later` have been applied.
    later: Vec<((Millis, u128), u32)>,
    next_later: usize,
    declined: Vec<(u32, Millis)>,
    aside: Vec<Entry>,
    /// The buffers to give back (`queue` is the field above).
    buffers: Scratch,
}

/// A time as a key part: `None` first, then by time. Times are clamped to
/// [0, 2^62), far beyond any real millisecond timestamp.
fn time_key(at: Option<Millis>) -> u64 {
    at.map_or(0, |t| t.clamp(0, (1 << 62) - 1) as u64 + 1)
}

/// A 64×64→128-bit multiply folded to 64 bits (the wyhash mixer).
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// A 64-bit hash of a 128-bit id: fixed arithmetic, the same on every node
/// and every platform, and a few nanoseconds where blake3 costs ~100 ns per
/// id — which was a third of a weighted-random pass over 10k interactions.
fn id_hash(id: u128) -> u64 {
    let h = fold(
        (id as u64) ^ 0x2d35_8dcc_aa6c_78a5,
        ((id >> 64) as u64) ^ 0x8bb8_4b93_962e_acc9,
    );
    fold(h ^ 0x4b33_a62e_d433_d4a3, 0x4d5a_2da5_1de1_aa47)
}

pub(super) fn interaction_hash(id: InteractionId) -> u64 {
    id_hash(id.0.0)
}

pub(super) fn agent_hash(id: AgentId) -> u64 {
    id_hash(id.0.0)
}

/// The rendezvous score of an (interaction, agent) pair: a 64×64→128-bit
/// multiply of the two hashes (each offset by a constant), folded to 64 bits.
#[inline]
pub(super) fn score(interaction: u64, agent: u64) -> u64 {
    fold(
        interaction ^ 0xa076_1d64_78bd_642f,
        agent ^ 0xe703_7ed1_a0b4_28db,
    )
}

/// The key of a strategy (ring-all and top-down: member order).
#[inline]
pub(super) fn key_for(strategy: Strategy, agent: &AgentSlot<'_>, index: u32, slot: u32) -> Key {
    let index = u128::from(index);
    let load = u128::from(agent.load);
    match strategy {
        Strategy::RoundRobin => u128::from(agent.rr) << 64 | index,
        Strategy::LongestIdle => {
            u128::from(agent.load > 0) << 127 | u128::from(agent.last_finished) << 64 | index
        }
        Strategy::LeastBusy => load << 96 | u128::from(agent.rr) << 32 | index,
        Strategy::FewestHandled => {
            let handled = agent.finished_today.saturating_add(agent.load);
            u128::from(handled) << 96 | u128::from(agent.rr) << 32 | index
        }
        Strategy::TopDown | Strategy::RingAll => u128::from(slot) << 64 | index,
        // Per interaction: see `weighted_key`.
        Strategy::WeightedRandom => index,
    }
}

/// The key of a weighted-random member for one interaction: highest score first.
pub(super) fn weighted_key(interaction: u64, agent_hash: u64, index: u32) -> Key {
    u128::from(!score(interaction, agent_hash)) << 64 | u128::from(index)
}

/// A small open-addressing map from a ULID to a dense index: two or three
/// cache-friendly probes instead of a binary search over 16-byte ids.
#[derive(Debug)]
struct IdIndex {
    shift: u32,
    slots: Vec<(u128, u32)>,
}

impl IdIndex {
    fn new(ids: impl ExactSizeIterator<Item = u128>) -> Self {
        let capacity = (ids.len() * 2).next_power_of_two().max(8);
        let mut index = IdIndex {
            shift: 64 - capacity.trailing_zeros(),
            slots: vec![(0, NONE); capacity],
        };
        let mask = capacity - 1;
        for (i, id) in ids.enumerate() {
            let mut slot = index.home(id);
            while index.slots[slot].1 != NONE {
                slot = (slot + 1) & mask;
            }
            index.slots[slot] = (id, to_u32(i));
        }
        index
    }

    #[inline]
    fn home(&self, id: u128) -> usize {
        let folded = (id as u64) ^ ((id >> 64) as u64);
        (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    #[inline]
    fn get(&self, id: u128) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut slot = self.home(id);
        loop {
            let (key, value) = self.slots[slot];
            if value == NONE {
                return None;
            }
            if key == id {
                return Some(value);
            }
            slot = (slot + 1) & mask;
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'a> Engine<'a> {
    /// Builds the pass's state, reusing `scratch`'s buffers.
    pub fn new(input: RoutingInput<'a>, scratch: Scratch) -> Self {
        let Scratch {
            records: mut queue,
            mut order,
            mut spare,
            queue: mut sorted,
            mut claims,
        } = scratch;
        claims.clear();
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

        // The maps are in id order too: walk them alongside instead of looking up.
        let mut histories = input.history.iter().peekable();
        let mut docs = input.agents.iter().peekable();
        let mut presences = input.presence.iter().peekable();
        let mut agents: Vec<AgentSlot<'a>> = ids
            .iter()
            .map(|&(id, on_team)| {
                let history = entry_for(&mut histories, id).copied().unwrap_or_default();
                let doc = entry_for(&mut docs, id);
                AgentSlot {
                    id,
                    name: doc.map_or("", |a| a.name.as_str()),
                    on_team,
                    presence: entry_for(&mut presences, id),
                    gate: Gate::Open,
                    eligible_since: i64::MIN,
                    wrapup_until: history.wrapup_until.unwrap_or(i64::MIN),
                    load: 0,
                    cap: doc.map_or(0, |a| a.capacity),
                    rr: 0,
                    last_finished: time_key(history.last_finished_at),
                    last_finished_at: history.last_finished_at.unwrap_or(i64::MIN),
                    finished_today: history.finished_today,
                    hash: None,
                    memberships: (0, 0),
                }
            })
            .collect();
        let agent_ids = IdIndex::new(ids.iter().map(|a| a.0.0.0));
        let find = |id: AgentId| agent_ids.get(id.0.0).map(|i| i as usize);

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
                ranked: Ranked::default(),
                pool: Vec::new(),
                ring: None,
            });
        }
        triples.sort_by_key(|t| t.0);
        let mut memberships = Vec::with_capacity(triples.len());
        let mut start = 0usize;
        for (index, agent) in agents.iter_mut().enumerate() {
            let first = memberships.len();
            while start < triples.len() && triples[start].0 as usize == index {
                memberships.push((triples[start].1, triples[start].2));
                start += 1;
            }
            agent.memberships = (to_u32(first), to_u32(memberships.len()));
        }

        let campaign_ids = IdIndex::new(team.campaigns.keys().map(|c| c.0.0));
        let mut engine = Engine {
            open: input.open,
            agent_ids,
            campaign_ids,
            agents,
            campaigns,
            memberships,
            queue: Vec::new(),
            seq: 0,
            later: Vec::new(),
            next_later: 0,
            declined: Vec::new(),
            aside: Vec::new(),
            buffers: Scratch::default(),
        };

        // Loads, wrap-ups and the queue from the open interactions.
        queue.clear();
        queue.reserve(input.open.len());
        let mut cached: (Option<CampaignId>, u32) = (None, NONE);
        order.clear();
        let mut packable = true;
        for (i, summary) in input.open.iter().enumerate() {
            if summary.finalized.is_none() && cached.0 != Some(summary.campaign) {
                let ci = engine.campaign_index(summary.campaign).unwrap_or(NONE);
                cached = (Some(summary.campaign), ci);
            }
            let ci = cached.1;
            match (&summary.finalized, summary.owner) {
                (Some(finalized), _) => {
                    if let Some(index) = engine.agent_index(finalized.agent).map(|i| i as usize) {
                        let agent = &mut engine.agents[index];
                        agent.wrapup_until = agent.wrapup_until.max(finalized.wrapup_until);
                    }
                }
                (None, Some(owner)) => {
                    let Some(index) = engine.agent_index(owner).map(|i| i as usize) else {
                        continue;
                    };
                    engine.agents[index].load += 1;
                    claims.push(((summary.round_started_at, summary.id.0.0), to_u32(index)));
                    if let Some(slot) = engine.slot_of(to_u32(index), ci) {
                        engine.campaigns[ci as usize].members[slot as usize].load += 1;
                    }
                }
                (None, None) => {
                    let mut packed = to_u32(i) & INDEX_MASK;
                    if !summary.declined.is_empty() {
                        packed |= HAS_DECLINES;
                    }
                    if summary.directed_to.is_some() {
                        packed |= HAS_DIRECTED;
                    }
                    match packed_key(summary.priority, summary.enqueued_at) {
                        Some(key) if packable => order.push((key, to_u32(queue.len()))),
                        _ => packable = false,
                    }
                    queue.push(Queued {
                        id: summary.id,
                        round_started_at: summary.round_started_at,
                        campaign: ci,
                        packed,
                    });
                }
            }
        }
        if packable {
            sort_packed(&queue, &mut order, &mut spare, &mut sorted);
        } else {
            sort_by_summaries(&mut queue, input.open, &mut sorted);
        }
        engine.queue = sorted;
        engine.rank_assignments(input, &claims);
        engine.buffers = Scratch {
            records: queue,
            order,
            spare,
            queue: Vec::new(),
            claims,
        };

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
            agent.eligible_since = since.max(agent.last_finished_at).max(agent.wrapup_until);
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
                    let entries: Vec<Entry> = campaign
                        .members
                        .iter()
                        .enumerate()
                        .filter_map(|(slot, member)| {
                            let agent = &engine.agents[member.agent as usize];
                            let ok = agent.open()
                                && agent.has_room()
                                && campaign.member_has_room(member);
                            let slot = to_u32(slot);
                            ok.then(|| Entry {
                                key: key_for(strategy, agent, member.agent, slot),
                                slot,
                            })
                        })
                        .collect();
                    engine.campaigns[ci].ranked = Ranked::new(entries);
                }
            }
        }
        engine
    }

    pub fn campaign_index(&self, id: CampaignId) -> Option<u32> {
        self.campaign_ids.get(id.0.0)
    }

    pub fn agent_index(&self, id: AgentId) -> Option<u32> {
        self.agent_ids.get(id.0.0)
    }

    fn slot_of(&self, index: u32, ci: u32) -> Option<u32> {
        let (start, end) = self.agents[index as usize].memberships;
        let memberships = &self.memberships[start as usize..end as usize];
        memberships.iter().find(|m| m.0 == ci).map(|m| m.1)
    }

    /// Ranks every agent's latest assignment before the pass (finished work
    /// from the history, and claims of interactions ahead of the first queued
    /// one) and keeps the claims behind it for [`Engine::advance`].
    fn rank_assignments(&mut self, input: RoutingInput<'_>, claims: &[((Millis, u128), u32)]) {
        let first = self.queue.first().map(rotation_key);
        let mut latest: Vec<Option<(Millis, u128)>> = vec![None; self.agents.len()];
        for (agent, history) in input.history {
            if let (Some(index), Some(at)) = (self.agent_index(*agent), history.last_assigned_at) {
                latest[index as usize] = Some((at, 0));
            }
        }
        self.later.clear();
        for &(key, index) in claims.iter() {
            if first.is_some_and(|first| key > first) {
                self.later.push((key, index));
            } else {
                let slot = &mut latest[index as usize];
                *slot = (*slot).max(Some(key));
            }
        }
        self.later.sort_unstable();
        let mut ranked: Vec<((Millis, u128), u32)> = latest
            .iter()
            .enumerate()
            .filter_map(|(index, at)| at.map(|at| (at, to_u32(index))))
            .collect();
        ranked.sort_unstable();
        for (_, index) in ranked {
            self.seq += 1;
            self.agents[index as usize].rr = self.seq;
        }
    }

    /// Applies the claims of interactions ahead of `queued` in rotation order:
    /// from here on they count as their owners' latest assignments, exactly
    /// as offers the pass made for them would have. The place only moves
    /// forward. [`Engine::route_one`] calls it; `explain` calls it before
    /// reading the keys.
    pub fn advance(&mut self, queued: &Queued) {
        let key = rotation_key(queued);
        while let Some(&(at, index)) = self.later.get(self.next_later) {
            if at > key {
                break;
            }
            self.next_later += 1;
            self.seq += 1;
            self.agents[index as usize].rr = self.seq;
        }
    }

    /// Gives the pass's buffers back for the next pass.
    pub fn into_scratch(self) -> Scratch {
        Scratch {
            queue: self.queue,
            ..self.buffers
        }
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

    /// How a transfer directed to `target` (if any) is handled.
    pub fn directed(&self, target: Option<AgentId>, declined: &[(u32, Millis)]) -> Directed {
        let Some(target) = target else {
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
    pub fn route_one(&mut self, queued: &Queued) -> Routed {
        self.advance(queued);
        let summary = self.open.get(queued.index());
        let mut declined = std::mem::take(&mut self.declined);
        declined.clear();
        let mut round_since = queued.round_started_at;
        let mut directed = Directed::No;
        if let Some(summary) =
            summary.filter(|_| queued.packed & (HAS_DECLINES | HAS_DIRECTED) != 0)
        {
            round_since = round_since.max(self.declines_of(summary, &mut declined));
            directed = self.directed(summary.directed_to, &declined);
        }
        let campaign = match self.campaigns.get(queued.campaign as usize) {
            Some(c) => c.id,
            None => summary.map_or(CampaignId(ulid::Ulid(0)), |s| s.campaign),
        };
        let mut offer = Offer {
            interaction: queued.id,
            campaign,
            kind: OfferKind::UnknownCampaign,
            agents: OfferedTo::Nobody,
            offered_since: round_since,
            expires_at: None,
        };
        let round_again = self.decide(&mut offer, queued.campaign, directed, &declined);
        self.declined = declined;
        Routed { offer, round_again }
    }

    fn decide(
        &mut self,
        offer: &mut Offer,
        ci: u32,
        directed: Directed,
        declined: &[(u32, Millis)],
    ) -> bool {
        if let Directed::To {
            target, offered, ..
        } = directed
        {
            offer.kind = OfferKind::Directed;
            if offered {
                offer.agents = OfferedTo::One(target);
            }
            return false;
        }
        let Some(campaign) = self.campaigns.get(ci as usize).map(|c| c.campaign) else {
            return false;
        };
        let (picked, round_again) = match campaign.strategy {
            Strategy::RingAll => {
                offer.kind = OfferKind::RingAll;
                let (agents, round_again) = self.ring(ci, declined);
                offer.agents = agents;
                return round_again;
            }
            Strategy::WeightedRandom => {
                let (slot, again) = self.pick_weighted(ci, offer.interaction, declined);
                (slot.map(|s| (s, false)), again)
            }
            _ => self.pick_ranked(ci, declined),
        };
        offer.kind = OfferKind::Push;
        if let Some((slot, at_top)) = picked {
            let index = self.campaigns[ci as usize].members[slot as usize].agent;
            let agent = &self.agents[index as usize];
            offer.agents = OfferedTo::One(agent.id);
            offer.offered_since = offer.offered_since.max(agent.eligible_since);
            if campaign.offer_timeout_seconds > 0 {
                let timeout = i64::from(campaign.offer_timeout_seconds) * 1000;
                offer.expires_at = Some(offer.offered_since.saturating_add(timeout));
            }
            self.assign(ci, slot, at_top);
        }
        round_again
    }

    /// Ring-all: every member who can take one now and has not declined (or,
    /// when all of them declined, the round-again rule).
    fn ring(&mut self, ci: u32, declined: &[(u32, Millis)]) -> (OfferedTo, bool) {
        let campaign = &self.campaigns[ci as usize];
        let eligible = |member: &&MemberSlot| {
            let agent = &self.agents[member.agent as usize];
            agent.open() && agent.has_room() && campaign.member_has_room(member)
        };
        let id = |member: &MemberSlot| self.agents[member.agent as usize].id;
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
            let ids: Arc<[AgentId]> = campaign.members.iter().filter(eligible).map(id).collect();
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
            .map(id)
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
            .map(id)
            .collect();
        if again.is_empty() {
            again = campaign.members.iter().filter(eligible).map(id).collect();
        }
        (OfferedTo::Many(again.into()), true)
    }

    /// The best member of a ranked strategy who can take it:
    /// `(Some((slot, still in front)), round_again)`.
    fn pick_ranked(&mut self, ci: u32, declined: &[(u32, Millis)]) -> (Option<(u32, bool)>, bool) {
        let campaign = &mut self.campaigns[ci as usize];
        let strategy = campaign.campaign.strategy;
        let capacity = campaign.campaign.capacity;
        self.aside.clear();
        let mut chosen = None;
        while let Some(front) = campaign.ranked.front() {
            let member = campaign.members[front.slot as usize];
            let agent = &self.agents[member.agent as usize];
            if !(agent.open() && agent.has_room() && (capacity == 0 || member.load < capacity)) {
                campaign.ranked.pop_front(); // loads only grow during a pass: gone for good
                continue;
            }
            let key = key_for(strategy, agent, member.agent, front.slot);
            if key != front.key {
                campaign.ranked.pop_front();
                campaign.ranked.insert(Entry {
                    key,
                    slot: front.slot,
                });
                continue;
            }
            if declined_at(declined, member.agent).is_some() {
                campaign.ranked.pop_front();
                self.aside.push(front);
                continue;
            }
            chosen = Some(front);
            break;
        }
        if self.aside.is_empty() {
            return (chosen.map(|e| (e.slot, true)), false);
        }
        let mut round_again = false;
        if chosen.is_some() {
            campaign.ranked.pop_front();
        } else {
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
        for entry in self.aside.drain(..).rev() {
            campaign.ranked.push_front(entry);
        }
        (chosen.map(|e| (e.slot, false)), round_again)
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
        // (key, slot): the smallest key wins, as in `weighted_key`.
        let key = |agent_hash: u64, index: u32| weighted_key(hash, agent_hash, index);
        let mut best = (Key::MAX, NONE);
        if declined.is_empty() {
            for &(agent_hash, index, slot) in pool {
                let k = key(agent_hash, index);
                if k < best.0 {
                    best = (k, slot);
                }
            }
            return (Some(best.1).filter(|s| *s != NONE), false);
        }
        let mut latest = i64::MIN;
        for &(agent_hash, index, slot) in pool {
            if let Some(at) = declined_at(declined, index) {
                latest = latest.max(at);
                continue;
            }
            let k = key(agent_hash, index);
            if k < best.0 {
                best = (k, slot);
            }
        }
        if best.1 != NONE || latest == i64::MIN {
            return (Some(best.1).filter(|s| *s != NONE), false);
        }
        // Everyone in the pool declined: all but the latest decliner(s), or everyone.
        for only_older in [true, false] {
            for &(agent_hash, index, slot) in pool {
                let at = declined_at(declined, index).unwrap_or(i64::MIN);
                if only_older && at >= latest {
                    continue;
                }
                let k = key(agent_hash, index);
                if k < best.0 {
                    best = (k, slot);
                }
            }
            if best.1 != NONE {
                break;
            }
        }
        (Some(best.1).filter(|s| *s != NONE), true)
    }

    /// Counts a push offer against the agent for the rest of the pass.
    fn assign(&mut self, ci: u32, slot: u32, at_top: bool) {
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
        agent.rr = self.seq;
        let agent_full = !agent.has_room();
        let campaign_full = capacity != 0 && member.load >= capacity;
        if strategy != Strategy::WeightedRandom {
            let key = key_for(strategy, &self.agents[index as usize], index, slot);
            let ranked = &mut self.campaigns[ci as usize].ranked;
            let room = !(agent_full || campaign_full);
            if at_top {
                if room && ranked.front().is_some_and(|front| front.key == key) {
                    return; // top-down, or longest-idle once busy: stays in front
                }
                ranked.pop_front();
            }
            if room {
                ranked.insert(Entry { key, slot });
            }
        }
        if agent_full {
            let (start, end) = self.agents[index as usize].memberships;
            for m in start..end {
                let (c, s) = self.memberships[m as usize];
                self.member_full(c, s);
            }
        } else if campaign_full {
            self.member_full(ci, slot);
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

/// The queue-order key of a priority and an enqueue time packed in 64 bits,
/// when the priority fits in 16 bits and the time in [0, 2^48) ms (up to the
/// year 10889): always, in practice.
fn packed_key(priority: i32, enqueued_at: Millis) -> Option<u64> {
    let priority = i16::try_from(priority).ok()?;
    let at = u64::try_from(enqueued_at).ok().filter(|at| *at < 1 << 48)?;
    Some(((i32::from(priority) - i32::from(i16::MIN)) as u64) << 48 | at)
}

/// Sorts the queue by priority, then `enqueued_at`, then id, from packed keys
/// (`order`: key and index into `queue`): a radix sort of 16-byte pairs,
/// then equal keys by id, then the records gathered in that order.
fn sort_packed(
    queue: &[Queued],
    order: &mut Vec<(u64, u32)>,
    spare: &mut Vec<(u64, u32)>,
    out: &mut Vec<Queued>,
) {
    radix_sort(order, spare);
    let mut start = 0;
    while start < order.len() {
        let key = order[start].0;
        let end = start + order[start..].iter().take_while(|o| o.0 == key).count();
        if end - start > 1 {
            order[start..end].sort_unstable_by_key(|o| queue[o.1 as usize].id);
        }
        start = end;
    }
    out.clear();
    out.extend(order.iter().map(|o| queue[o.1 as usize]));
}

/// Sorts the queue by priority, then `enqueued_at`, then id, reading the
/// summaries: for priorities or times [`packed_key`] cannot pack.
fn sort_by_summaries(queue: &mut [Queued], open: &[InteractionSummary], out: &mut Vec<Queued>) {
    let key = |q: &Queued| open.get(q.index()).map(|s| (s.priority, s.enqueued_at));
    queue.sort_unstable_by_key(|q| (key(q), q.id));
    out.clear();
    out.extend_from_slice(queue);
}

/// Sorts by key, stably: a least-significant-byte radix sort that skips the
/// bytes every key shares (usually five of eight: priorities are few and a
/// queue's enqueue times span less than 2^24 ms), so three or four linear
/// passes instead of a comparison sort's ~14 unpredictable branches per item.
fn radix_sort(items: &mut Vec<(u64, u32)>, spare: &mut Vec<(u64, u32)>) {
    let (all, any) = items
        .iter()
        .fold((u64::MAX, 0), |(all, any), i| (all & i.0, any | i.0));
    let varying = all ^ any;
    for byte in 0..8 {
        let shift = byte * 8;
        if (varying >> shift) & 0xff == 0 {
            continue;
        }
        let mut counts = [0usize; 256];
        for item in items.iter() {
            counts[((item.0 >> shift) & 0xff) as usize] += 1;
        }
        let mut offsets = [0usize; 256];
        let mut total = 0;
        for (offset, count) in offsets.iter_mut().zip(counts) {
            *offset = total;
            total += count;
        }
        spare.clear();
        spare.resize(items.len(), (0, 0));
        for item in items.iter() {
            let bucket = &mut offsets[((item.0 >> shift) & 0xff) as usize];
            spare[*bucket] = *item;
            *bucket += 1;
        }
        std::mem::swap(items, spare);
    }
}

/// The value for `id` in a map being walked in id order, for ids asked in increasing order.
fn entry_for<'m, V>(
    walk: &mut std::iter::Peekable<std::collections::btree_map::Iter<'m, AgentId, V>>,
    id: AgentId,
) -> Option<&'m V> {
    while walk.next_if(|(key, _)| **key < id).is_some() {}
    walk.next_if(|(key, _)| **key == id).map(|(_, value)| value)
}

/// Where an interaction sits on the round-robin timeline: when its round
/// began, then its id.
fn rotation_key(queued: &Queued) -> (Millis, u128) {
    (queued.round_started_at, queued.id.0.0)
}

/// When `agent` (an index) declined this round, if they did.
#[inline]
pub(super) fn declined_at(declined: &[(u32, Millis)], agent: u32) -> Option<Millis> {
    declined.iter().find(|d| d.0 == agent).map(|d| d.1)
}
