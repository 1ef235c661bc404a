//! Deterministic, leaderless routing (DESIGN §7).
//!
//! [`route`] is a pure function from the team document, the agent documents,
//! the interaction projections, the agents' routing history, the (ephemeral)
//! presence view and `now` to one [`Offer`] for every queued interaction. It
//! reads no clock and no randomness, and every collection it is given is
//! either a `BTreeMap` or a slice it reorders itself, so every node holding the
//! same state computes the same offers, whatever order that state arrived in.
//!
//! # Eligibility
//!
//! An agent may be offered an interaction of a campaign when they are:
//!
//! 1. on the team roster (at least one non-revoked device) and a member of the campaign;
//! 2. live (a presence entry with `live`; no entry counts as offline);
//! 3. [`AgentStatus::Available`] in the presence view (presence is what the
//!    agent's node broadcasts now; the agent document may lag behind it);
//! 4. not in wrap-up: `AgentHistory::wrapup_until` (or the `wrapup_until` of a
//!    finalized summary of theirs in `open`) is not after `now`;
//! 5. below the agent's capacity (`Agent::capacity`: every active interaction
//!    they own, in any campaign) and the campaign's capacity (`Campaign::capacity`:
//!    their active interactions in that campaign); 0 means no limit, and a
//!    missing agent document means no agent-level limit;
//! 6. not in the interaction's `declined` list for the current round, unless
//!    the round starts again (below).
//!
//! # One pass
//!
//! Queued interactions (no owner, not finalized) are routed in queue order:
//! priority (lower first), then `enqueued_at`, then id. Push strategies count
//! each offer against the chosen agent's load (and, for round-robin and its
//! tie-breaks, as their most recent assignment) for the rest of the pass, which
//! is exactly what accepting it would do, so a single pass never offers more
//! than anyone's capacity and offers do not shuffle when they are accepted.
//! Ring-all offers count nothing (each accept does), but an agent whom push
//! offers earlier in the pass filled to their agent capacity is not rung either.
//!
//! # Strategies (ties always break on agent id)
//!
//! | strategy | who is chosen |
//! |---|---|
//! | ring-all | every eligible member, in member order |
//! | round-robin | least recently assigned on the queue's timeline (below): never first, then whose latest assignment sits earliest; an offer in this pass counts as the newest assignment |
//! | longest-idle | agents holding nothing open first, then oldest `last_finished_at` (never first) |
//! | least-busy | fewest open interactions (all campaigns, offers in this pass included), then least recently assigned |
//! | fewest-handled | fewest `finished_today` + open now (so a pass spreads work instead of filling one agent), then least recently assigned |
//! | top-down | first eligible member in member order |
//! | weighted-random | rendezvous hashing: the highest `score(interaction, agent)` |
//!
//! # Round-robin on the queue's timeline
//!
//! "Least recently assigned" is not read from when claims were written: a
//! node offers and auto-accepts before its teammates' claims reach it, and
//! ordering on claims it has not seen gave the node where a burst arrives
//! more than its share. Instead every assignment sits where its interaction
//! sits in the queue: at its *rotation key*, `(round_started_at, id)` (the
//! enqueue, or the transfer that began the round, then the id; ids made by
//! one node grow in the order they were made, so a burst on one node is in
//! creation order everywhere). The pass keeps one timeline:
//!
//! - before the first queued interaction: every agent's finished work
//!   (`AgentHistory::last_assigned_at`, the rotation time of their latest
//!   finalized assignment) and their claims on active interactions whose
//!   key is before the first queued one, each agent at their latest;
//! - then, interaction by interaction in queue order, the claims on active
//!   interactions whose key comes before it (in key order), then its own
//!   offer: each makes that agent the most recently assigned.
//!
//! A claim is therefore applied exactly where the pass would have made the
//! offer it confirms, so whichever of the claims a node has seen, it makes
//! the same offers for the interactions still queued, and a claim behind an
//! interaction in the queue never changes who gets that interaction. Every
//! node that holds the same interactions computes the same assignee for the
//! n-th of them before any claim arrives (a proptest, and bursts across
//! nodes with delayed claims in `tests.rs`, the sync simulation and
//! `tests/tests/fairness.rs`). Eligibility and capacity are unchanged: an
//! agent who is busy, full or offline is skipped and the rotation goes on
//! with the next; capacity counts every claim at once.
//!
//! Least-busy and fewest-handled break ties on the same order. Limits: a
//! finished assignment whose key is behind a still-queued interaction counts
//! before it (the history keeps only the latest); priorities and transfers
//! route interactions out of key order, so there the place only moves
//! forward (a later interaction routed first applies the claims before it).
//!
//! Longest-idle and fewest-handled deliberately count what an agent holds now
//! (an agent busy with a chat is not idle, and what they hold will be handled
//! today): ranking on the finish time or count alone would send the whole queue
//! to one agent up to their capacity, and, with no capacity, all of it.
//!
//! Weighted-random scores are `fold(h(interaction) ⊕ k₁, h(agent) ⊕ k₂)`, where
//! `fold` is a 64×64→128-bit multiply folded to 64 bits (the wyhash mixer) and
//! `h` folds an id's 128 bits through it twice: fixed integer arithmetic, so
//! identical on every node and platform, and ~2 ns per id. Blake3 of every
//! (interaction, agent) pair would cost ~100 ns × 10k × members (≈ 50 ms), and
//! blake3 once per id still doubled a weighted-random pass; over 10k
//! interactions and 10 agents each gets its share ± 10 % (a test), and
//! rendezvous hashing keeps assignments stable: an agent leaving or joining
//! only moves the interactions that agent loses or now wins.
//!
//! # Declines and the round starting again
//!
//! An agent who declined (or let time out) the current round's offer is
//! skipped. When *every* eligible member has declined this round, the round
//! starts again: declines older than the latest one among those eligible
//! members are ignored, so everyone eligible except the most recent
//! decliner(s) is in the running again, in the strategy's order. If that
//! leaves nobody (a single eligible agent, or all declined at the same
//! instant) everyone eligible is in the running. An interaction is therefore
//! never left unoffered while someone eligible could take it, and the person
//! who just said no is the last to see it again. The same rule applies to
//! ring-all. Declines by agents who are not eligible at the moment do not count
//! for "every eligible member has declined".
//!
//! # Directed transfers
//!
//! An interaction whose last transfer names an agent is offered to that agent
//! only (campaign membership, capacity and the campaign's strategy do not
//! apply) and never expires or is auto-accepted. It is offered while the target
//! is live, Available and not in wrap-up, the same states in which nobody is
//! ever offered anything; meanwhile its offer names nobody but it still shows
//! in the target's Pending tab ([`Routing::pending_for`]). When the target
//! declines it (or is no longer on the team) it falls back to its campaign's
//! routing, with the target's decline counting there too.
//!
//! # When an offer starts and expires
//!
//! `offered_since` must be the same on every node, so it is derived from state:
//! for a push offer it is the latest of the round's start
//! (`round_started_at`), the latest decline in the round, and the moment the
//! chosen agent last became eligible — their presence `since`, their last
//! finish (`last_finished_at`, which may have freed capacity) and the end of
//! their last wrap-up. `expires_at` is `offered_since + offer_timeout_seconds`
//! (no expiry when the timeout is 0). Ring-all and directed offers start at the
//! round's start or latest decline and never expire.
//!
//! A known limit of deriving time from state: if an offer moves to another
//! agent because a *third* agent's load changed (say the chosen agent accepted
//! something else), the new agent's `offered_since` may lie in the past and
//! the offer can expire sooner than the full timeout. The agent's node should
//! record a timeout only for an offer it has shown for the whole timeout.

mod engine;
mod explain;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::*;
use crate::projection::{AgentHistory, InteractionSummary};
use crate::types::*;

pub use explain::{Candidate, Explanation, Verdict, explain};

/// What the sync layer knows of an agent right now (never stored).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PresenceEntry {
    /// The agent's node is connected (or is this node).
    pub live: bool,
    pub status: AgentStatus,
    /// When `status` began.
    pub since: Millis,
}

/// Presence of every agent the node has heard from; a missing agent is offline.
pub type PresenceView = BTreeMap<AgentId, PresenceEntry>;

/// Everything routing reads. All of it is replicated state except `presence`
/// (ephemeral, shared by the sync layer) and `now`.
#[derive(Clone, Copy, Debug)]
pub struct RoutingInput<'a> {
    pub team: &'a Team,
    /// Agent documents, for per-agent capacity and names.
    pub agents: &'a BTreeMap<AgentId, Agent>,
    /// Every queued and active interaction (finalized ones may be included:
    /// they only extend their agent's wrap-up). One summary per interaction.
    pub open: &'a [InteractionSummary],
    pub history: &'a BTreeMap<AgentId, AgentHistory>,
    pub presence: &'a PresenceView,
    pub now: Millis,
}

/// How an interaction is being offered.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OfferKind {
    /// Shown to every eligible member of a ring-all campaign; the first to accept owns it.
    RingAll,
    /// Offered to one agent chosen by a push strategy, until it expires.
    Push,
    /// A transfer to a named agent; never expires.
    Directed,
    /// Queued in a campaign the team document does not have: offered to nobody.
    UnknownCampaign,
}

/// The agents an offer goes to. Dereferences to a slice of agent ids.
///
/// Ring-all offers of one campaign share one list, so a pass over 10k queued
/// interactions does not copy the member list 10k times.
#[derive(Clone, Default)]
pub enum OfferedTo {
    #[default]
    Nobody,
    One(AgentId),
    Many(Arc<[AgentId]>),
}

impl Deref for OfferedTo {
    type Target = [AgentId];
    fn deref(&self) -> &[AgentId] {
        match self {
            OfferedTo::Nobody => &[],
            OfferedTo::One(agent) => std::slice::from_ref(agent),
            OfferedTo::Many(agents) => agents,
        }
    }
}

impl PartialEq for OfferedTo {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for OfferedTo {}

impl fmt::Debug for OfferedTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'de> Deserialize<'de> for OfferedTo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let agents = Vec::<AgentId>::deserialize(deserializer)?;
        Ok(match agents.as_slice() {
            [] => OfferedTo::Nobody,
            [one] => OfferedTo::One(*one),
            _ => OfferedTo::Many(agents.into()),
        })
    }
}

impl Serialize for OfferedTo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// The routing decision for one queued interaction.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Offer {
    pub interaction: InteractionId,
    /// The campaign it is queued in.
    pub campaign: CampaignId,
    pub kind: OfferKind,
    /// Ring-all: every eligible member; push: the chosen agent; directed: the
    /// target while they can take it. Empty when nobody can take it now.
    pub agents: OfferedTo,
    /// When this offer began (the same on every node; see the module docs).
    pub offered_since: Millis,
    /// Push offers only: when an unanswered offer counts as declined.
    pub expires_at: Option<Millis>,
}

/// The result of a routing pass: one offer per queued interaction, in queue order.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
pub struct Routing {
    pub offers: Vec<Offer>,
}

impl Routing {
    /// The offer made for an interaction, if it is queued.
    pub fn offer_for(&self, interaction: InteractionId) -> Option<&Offer> {
        self.offers.iter().find(|o| o.interaction == interaction)
    }

    /// Offers that name `agent`, in queue order.
    pub fn offers_to(&self, agent: AgentId) -> impl Iterator<Item = &Offer> {
        self.offers
            .iter()
            .filter(move |o| o.agents.contains(&agent))
    }

    /// The agent's Pending tab, in queue order: everything offered to them;
    /// every queued interaction of their ring-all campaigns that they have not
    /// declined this round (whether or not they can take it right now); and
    /// transfers directed to them that they have not declined. Interactions
    /// of push campaigns show only while offered to them.
    pub fn pending_for<'o>(
        &self,
        agent: AgentId,
        team: &Team,
        open: &'o [InteractionSummary],
    ) -> Vec<&'o InteractionSummary> {
        let by_id: HashMap<InteractionId, &'o InteractionSummary> = open
            .iter()
            .filter(|s| s.owner.is_none() && s.finalized.is_none())
            .map(|s| (s.id, s))
            .collect();
        let ring_all_member = |campaign: CampaignId| {
            team.campaigns
                .get(&campaign)
                .is_some_and(|c| c.strategy == Strategy::RingAll && c.has_member(agent))
        };
        self.offers
            .iter()
            .filter_map(|offer| {
                let summary = *by_id.get(&offer.interaction)?;
                let declined = summary.declined.iter().any(|(a, _)| *a == agent);
                let shown = offer.agents.contains(&agent)
                    || (!declined && summary.directed_to == Some(agent))
                    || (!declined
                        && offer.kind == OfferKind::RingAll
                        && ring_all_member(offer.campaign));
                shown.then_some(summary)
            })
            .collect()
    }
}

/// Routes every queued interaction (see the module docs for the rules).
///
/// Runs in O(Q log Q + Q · M) for Q queued interactions and M members per
/// campaign, and in practice O(1) per interaction for every strategy but
/// ring-all and weighted-random (O(M)). A node that routes again after every
/// change should keep a [`Router`], which reuses its buffers.
pub fn route(input: &RoutingInput<'_>) -> Routing {
    let mut router = Router::default();
    router.route(input);
    router.routing
}

/// Routes again and again with the same buffers: the same answers as
/// [`route`], without allocating ~2 MB afresh for every pass of a 10k queue.
#[derive(Debug, Default)]
pub struct Router {
    scratch: engine::Scratch,
    routing: Routing,
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes every queued interaction; the result stays until the next call.
    pub fn route(&mut self, input: &RoutingInput<'_>) -> &Routing {
        let mut engine = engine::Engine::new(*input, std::mem::take(&mut self.scratch));
        let queue = std::mem::take(&mut engine.queue);
        let offers = &mut self.routing.offers;
        offers.clear();
        offers.reserve(queue.len());
        for queued in &queue {
            offers.push(engine.route_one(queued).offer);
        }
        engine.queue = queue;
        self.scratch = engine.into_scratch();
        &self.routing
    }

    /// The result of the last pass.
    pub fn routing(&self) -> &Routing {
        &self.routing
    }
}

/// Push offers whose time is up at `now`: each pair is a decline the agent's
/// own node records for its own agent (and only that node: a node never
/// writes for another agent).
pub fn timed_out_offers(routing: &Routing, now: Millis) -> Vec<(InteractionId, AgentId)> {
    routing
        .offers
        .iter()
        .filter(|o| o.expires_at.is_some_and(|at| at <= now))
        .flat_map(|o| o.agents.iter().map(move |a| (o.interaction, *a)))
        .collect()
}

/// Push offers in auto-accept campaigns: the chosen agent's node claims each
/// at once. Ring-all offers are never auto-accepted (there is no single chosen
/// agent: everyone would claim and all but one would lose), nor are directed
/// transfers (the target accepts or declines them).
pub fn auto_accepts(routing: &Routing, team: &Team) -> Vec<(InteractionId, AgentId)> {
    routing
        .offers
        .iter()
        .filter(|o| o.kind == OfferKind::Push)
        .filter(|o| {
            team.campaigns
                .get(&o.campaign)
                .is_some_and(|c| c.auto_accept)
        })
        .flat_map(|o| o.agents.iter().map(move |a| (o.interaction, *a)))
        .collect()
}
