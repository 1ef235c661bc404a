//! Bursts of customers on one node while claims are in flight: the
//! simulation's real stores and sessions, with every node routing after each
//! change it sees and auto-accepting for its own agent, as the node does.
//! Frames wait on the wires (a chance per step that nothing is delivered),
//! so nodes route again and again before their teammates' claims arrive.

use std::collections::BTreeMap;

use meshdesk_model::ops::{self, CampaignSpec, Context, Request, RoutingFacts};
use meshdesk_model::routing::{self, PresenceEntry, PresenceView};
use meshdesk_model::{AgentId, AgentStatus, ChannelKind, InteractionId, Strategy};
use rand::Rng;

use super::{Sim, SimConfig, SimResult};

/// How a burst runs.
#[derive(Clone, Copy, Debug)]
pub struct Burst {
    pub customers: usize,
    /// Chance per step that a new customer arrives on node 0 (while some are left).
    pub arrival: f64,
    /// Chance per step that no frame moves: the message delay.
    pub delay: f64,
}

impl Sim {
    /// Every node's agent, live and Available: what the nodes' presence says.
    fn everyone_available(&self) -> PresenceView {
        self.nodes
            .iter()
            .filter_map(|n| n.local.agent)
            .map(|agent| {
                let entry = PresenceEntry {
                    live: true,
                    status: AgentStatus::Available,
                    since: self.now - 60_000,
                };
                (agent, entry)
            })
            .collect()
    }

    fn execute(&mut self, x: usize, request: Request) -> SimResult<()> {
        let ctx = Context {
            now: self.now,
            presence: None,
        };
        let outcome = ops::execute(&mut self.nodes[x].store, &ctx, request)
            .map_err(|e| format!("node {x}: {e}"))?;
        self.spread(x, None, &outcome.changes)
    }

    /// Node `x` routes what it holds and claims every auto-accepted offer to
    /// its own agent; how many it claimed.
    fn route_on(&mut self, x: usize, presence: &PresenceView) -> SimResult<usize> {
        let Some(me) = self.nodes[x].local.agent else {
            return Ok(0);
        };
        let store = &self.nodes[x].store;
        let err = |e: meshdesk_model::store::StoreError| format!("node {x}: {e}");
        let Some(team) = store.team().map_err(err)? else {
            return Ok(0);
        };
        let facts = RoutingFacts::read(store, team, self.now).map_err(err)?;
        let routing = routing::route(&facts.input(presence, self.now));
        let team = &facts.team;
        let mine: Vec<InteractionId> = routing::auto_accepts(&routing, team)
            .into_iter()
            .filter(|(_, agent)| *agent == me)
            .map(|(interaction, _)| interaction)
            .collect();
        for &id in &mine {
            self.execute(x, Request::Accept { id })?;
        }
        Ok(mine.len())
    }

    /// Three nodes meet, node 0 adds an auto-accept campaign with
    /// `strategy` and every agent, then `burst.customers` customers arrive on
    /// node 0 while frames are delayed. Returns, as node 0 finally sees it,
    /// how many each agent owns and how many claims lost to another.
    pub fn run_burst(
        &mut self,
        strategy: Strategy,
        burst: Burst,
    ) -> SimResult<(BTreeMap<AgentId, usize>, usize)> {
        self.faults = false;
        self.settle(30_000)?;
        let n = self.nodes.len();
        for a in 0..n {
            for b in a + 1..n {
                self.connect(a, b)?;
            }
        }
        self.settle(30_000)?;
        let members: Vec<String> = (0..n).map(|i| format!("agent-{i}")).collect();
        self.execute(
            0,
            Request::AddCampaign(CampaignSpec {
                members,
                auto_accept: true,
                ..CampaignSpec::new("Sales", ChannelKind::Phone, strategy)
            }),
        )?;
        self.settle(30_000)?;
        let presence = self.everyone_available();
        if presence.len() != n {
            return Err(format!("only {} of {n} agents joined", presence.len()));
        }

        let mut arrived = 0;
        loop {
            let step = self.rng.random_range(0..3);
            self.advance(step);
            let busy = self.busy_wires();
            if arrived < burst.customers && (busy.is_empty() || self.rng.random_bool(burst.arrival))
            {
                arrived += 1;
                let request = Request::Enqueue {
                    campaign: "Sales".into(),
                    contact: None,
                    from: Some(format!("+1 555 {:04}", arrived)),
                    name: None,
                    message: Some(format!("customer {arrived}")),
                    priority: 0,
                };
                self.execute(0, request)?;
                self.route_on(0, &presence)?;
            } else if busy.is_empty() {
                break;
            } else if !self.rng.random_bool(burst.delay) {
                let (from, to) = busy[self.rng.random_range(0..busy.len())];
                self.deliver(from, to)?;
                self.route_on(to, &presence)?;
            }
        }
        // Quiet: every node routes once more on everything (anti-entropy
        // included) until nobody claims anything new.
        for _ in 0..10 {
            self.settle(30_000)?;
            let mut claimed = 0;
            for x in 0..n {
                claimed += self.route_on(x, &presence)?;
            }
            if claimed == 0 {
                break;
            }
        }
        self.settle(30_000)?;

        let open = self.nodes[0]
            .store
            .open_interactions()
            .map_err(|e| e.to_string())?;
        let mut owned: BTreeMap<AgentId, usize> = BTreeMap::new();
        let mut lost = 0;
        for s in &open {
            if let Some(owner) = s.owner {
                *owned.entry(owner).or_default() += 1;
            }
            lost += s.lost_claims.len();
        }
        let queued = open.iter().filter(|s| s.owner.is_none()).count();
        if queued > 0 {
            return Err(format!("{queued} customers were never claimed"));
        }
        Ok((owned, lost))
    }
}

fn quiet_network(nodes: usize) -> SimConfig {
    SimConfig {
        nodes,
        drop: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        partition: 0.0,
        op: 0.0,
        ..SimConfig::default()
    }
}

/// Runs one burst and checks the split: every customer owned, nobody's
/// claim lost to another's, and each agent within one of an equal share.
fn fair_burst(strategy: Strategy, burst: Burst, seed: u64) -> SimResult<()> {
    let mut sim = Sim::new(quiet_network(3), seed)?;
    let (owned, lost) = sim.run_burst(strategy, burst)?;
    sim.check_converged()?;
    let split: Vec<usize> = owned.values().copied().collect();
    let fair = burst.customers / 3;
    if owned.len() != 3 || split.iter().any(|k| k.abs_diff(fair) > 1) || lost > 0 {
        return Err(format!(
            "{strategy:?} seed {seed}: split {split:?}, {lost} claims lost"
        ));
    }
    Ok(())
}

const BURST: Burst = Burst {
    customers: 30,
    arrival: 0.5,
    delay: 0.6,
};

#[test]
fn a_burst_with_delayed_messages_is_shared_round_robin_within_one() -> SimResult<()> {
    for seed in 0..5 {
        fair_burst(Strategy::RoundRobin, BURST, seed)?;
    }
    Ok(())
}

#[test]
fn a_burst_is_shared_within_one_by_least_busy_and_fewest_handled() -> SimResult<()> {
    fair_burst(Strategy::LeastBusy, BURST, 1)?;
    fair_burst(Strategy::FewestHandled, BURST, 2)?;
    Ok(())
}
