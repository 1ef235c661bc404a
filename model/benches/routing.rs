//! One routing pass over 10k queued interactions and 500 agents in 20 campaigns
//! (DESIGN §11: budget < 5 ms, aim < 1 ms).
//!
//! Run with `cargo bench -p meshdesk-model --bench routing`. Each case runs
//! twice: timed by the wall clock, and (for the `Router` cases) by the bench
//! thread's CPU time, which leaves out time the thread was not running on a
//! busy machine. `route()` allocates its buffers afresh; a `Router` (what a
//! node keeps) reuses them. There is no incremental API: after one change a
//! node routes again in full, and the "one accept" case measures that.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use meshdesk_model::projection::{AgentHistory, InteractionSummary};
use meshdesk_model::routing::{PresenceEntry, PresenceView, Router, RoutingInput, explain, route};
use meshdesk_model::*;
use ulid::Ulid;

const NOW: Millis = 1_700_000_000_000;
const AGENTS: u128 = 500;
const CAMPAIGNS: u128 = 20;
const QUEUED: u128 = 10_000;
const ACTIVE: u128 = 1_000;

/// A small deterministic generator.
struct Gen(u64);

impl Gen {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

fn aid(n: u128) -> AgentId {
    AgentId(Ulid::from_parts(1_600_000_000_000, n))
}

fn cid(n: u128) -> CampaignId {
    CampaignId(Ulid::from_parts(1_600_000_000_000, 1 << 60 | n))
}

fn iid(n: u128) -> InteractionId {
    InteractionId(Ulid::from_parts(1_690_000_000_000 + n as u64, 1 << 70 | n))
}

struct State {
    team: Team,
    agents: BTreeMap<AgentId, Agent>,
    open: Vec<InteractionSummary>,
    history: BTreeMap<AgentId, AgentHistory>,
    presence: PresenceView,
}

impl State {
    fn input(&self) -> RoutingInput<'_> {
        RoutingInput {
            team: &self.team,
            agents: &self.agents,
            open: &self.open,
            history: &self.history,
            presence: &self.presence,
            now: NOW,
        }
    }
}

fn summary(n: u128, campaign: CampaignId, enqueued_at: Millis) -> InteractionSummary {
    InteractionSummary {
        id: iid(n),
        direction: Direction::Inbound,
        channel: ChannelKind::Webchat,
        campaign,
        contact: None,
        contact_name: format!("Customer {n}"),
        address: String::new(),
        subject: String::new(),
        priority: 0,
        enqueued_at,
        created_at: enqueued_at,
        last_activity: enqueued_at,
        epoch: 0,
        round_started_at: enqueued_at,
        owner: None,
        claimed_at: None,
        lost_claims: vec![],
        declined: vec![],
        directed_to: None,
        transfer_note: String::new(),
        finalized: None,
        message_count: 1,
        last_message_preview: String::new(),
        last_message_at: None,
        snooze: None,
        first_mail: None,
        tags: vec![],
    }
}

/// 500 agents, each a member of two of the 20 campaigns (~50 members each);
/// 10% on break, 4% not live, 5% in wrap-up; 1k active and 10k queued
/// interactions, 5% of them declined by someone, 1% transferred to an agent.
fn state(strategies: &[Strategy], agent_capacity: u32, campaign_capacity: u32) -> State {
    let mut g = Gen(42);
    let mut team = Team {
        id: TeamId(Ulid::from_parts(1_600_000_000_000, 7)),
        name: "Bench".into(),
        created_at: 0,
        members: BTreeMap::new(),
        campaigns: BTreeMap::new(),
        break_reasons: vec!["lunch".into()],
        invites: BTreeMap::new(),
        canned: Default::default(),
        keys: Default::default(),
        mailboxes: Default::default(),
    };
    let mut agents = BTreeMap::new();
    let mut history = BTreeMap::new();
    let mut presence = BTreeMap::new();
    for n in 0..AGENTS {
        let id = aid(n);
        team.members.insert(
            format!("peer-{n}"),
            Member {
                device: format!("peer-{n}"),
                agent: id,
                role: Role::Agent,
                device_name: String::new(),
                joined_at: 0,
                revoked: false,
                revoked_at: None,
            },
        );
        agents.insert(
            id,
            Agent {
                id,
                name: format!("Agent {n}"),
                status: AgentStatus::Available,
                status_since: 0,
                capacity: agent_capacity,
                status_history: vec![],
            },
        );
        let status = if g.below(10) == 0 {
            AgentStatus::Break {
                reason: "lunch".into(),
            }
        } else {
            AgentStatus::Available
        };
        let live = g.below(25) != 0;
        presence.insert(
            id,
            PresenceEntry {
                live,
                status,
                since: NOW - g.below(3_600_000) as i64,
            },
        );
        history.insert(
            id,
            AgentHistory {
                last_assigned_at: (g.below(10) != 0).then(|| NOW - g.below(3_600_000) as i64),
                last_finished_at: (g.below(10) != 0).then(|| NOW - g.below(3_600_000) as i64),
                finished_today: g.below(40) as u32,
                wrapup_until: (g.below(20) == 0).then_some(NOW + 10_000),
            },
        );
    }
    for c in 0..CAMPAIGNS {
        let members: Vec<AgentId> = (0..AGENTS)
            .filter(|a| a % CAMPAIGNS == c || (a * 7 + 3) % CAMPAIGNS == c)
            .map(aid)
            .collect();
        team.campaigns.insert(
            cid(c),
            Campaign {
                id: cid(c),
                name: format!("Campaign {c}"),
                channel: ChannelKind::Webchat,
                strategy: strategies[c as usize % strategies.len()],
                members,
                capacity: campaign_capacity,
                auto_accept: false,
                offer_timeout_seconds: 30,
                dispositions: vec![],
                fields: vec![],
                sla_seconds: 60,
                wrapup_seconds: 30,
                hours: None,
            },
        );
    }
    let mut open = Vec::with_capacity((ACTIVE + QUEUED) as usize);
    for n in 0..ACTIVE {
        let mut s = summary(n, cid(n % CAMPAIGNS), NOW - 3_600_000);
        s.owner = Some(aid(g.below(AGENTS as u64) as u128));
        s.claimed_at = Some(NOW - 1_800_000);
        open.push(s);
    }
    for n in ACTIVE..ACTIVE + QUEUED {
        let mut s = summary(
            n,
            cid(g.below(CAMPAIGNS as u64) as u128),
            NOW - g.below(600_000) as i64,
        );
        s.priority = g.below(3) as i32;
        if g.below(20) == 0 {
            for _ in 0..1 + g.below(2) {
                s.declined
                    .push((aid(g.below(AGENTS as u64) as u128), s.enqueued_at + 1_000));
            }
        }
        if g.below(100) == 0 {
            s.directed_to = Some(aid(g.below(AGENTS as u64) as u128));
        }
        open.push(s);
    }
    State {
        team,
        agents,
        open,
        history,
        presence,
    }
}

/// The state after the first offered interaction is accepted.
fn accept_first(state: &mut State) {
    let routing = route(&state.input());
    let Some(offer) = routing.offers.iter().find(|o| !o.agents.is_empty()) else {
        return;
    };
    let agent = offer.agents[0];
    if let Some(s) = state.open.iter_mut().find(|s| s.id == offer.interaction) {
        s.owner = Some(agent);
        s.claimed_at = Some(NOW);
    }
    state.history.entry(agent).or_default().last_assigned_at = Some(NOW);
}

const PUSH: &[Strategy] = &[
    Strategy::RoundRobin,
    Strategy::LongestIdle,
    Strategy::LeastBusy,
    Strategy::FewestHandled,
    Strategy::TopDown,
    Strategy::WeightedRandom,
];

/// This thread's CPU time (Linux: `/proc/thread-self/schedstat`, 1 ms
/// granularity, well below a sample's length), or `None` where unavailable.
/// The reference machine has two cores shared with builds: CPU time leaves out
/// the time the benchmark thread was not running.
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

type Run = Box<dyn FnMut()>;
/// Builds a case's state only when criterion runs that case.
type Case = (String, Box<dyn Fn() -> Run>);

/// A fresh `route()` (allocating its buffers) on `state`.
fn fresh(state: State) -> Run {
    Box::new(move || {
        black_box(route(black_box(&state.input())));
    })
}

/// A long-lived `Router` (buffers reused between passes) on `state`.
fn reused(state: State) -> Run {
    let mut router = Router::new();
    Box::new(move || {
        black_box(router.route(black_box(&state.input())));
    })
}

fn cases() -> Vec<Case> {
    fn case(name: impl Into<String>, make: impl Fn() -> Run + 'static) -> Case {
        (name.into(), Box::new(make))
    }
    let mut cases = vec![
        case("push mix, no capacity limit: route()", || {
            fresh(state(PUSH, 0, 0))
        }),
        case("push mix, no capacity limit: Router", || {
            reused(state(PUSH, 0, 0))
        }),
        case("push mix, capacity 3 / 2: route()", || {
            fresh(state(PUSH, 3, 2))
        }),
        case("push mix, capacity 3 / 2: Router", || {
            reused(state(PUSH, 3, 2))
        }),
    ];
    for strategy in PUSH {
        cases.push(case(
            format!("{strategy} only, no capacity limit: Router"),
            move || reused(state(&[*strategy], 0, 0)),
        ));
    }
    cases.push(case("ring-all, capacity 3 / 2: route()", || {
        fresh(state(&[Strategy::RingAll], 3, 2))
    }));
    cases.push(case("ring-all, capacity 3 / 2: Router", || {
        reused(state(&[Strategy::RingAll], 3, 2))
    }));
    // There is no incremental API: after a change the node routes again in
    // full. Measured here: the pass right after one accept, alternating the
    // states before and after it so no pass sees the state of the last one.
    cases.push(case(
        "one accept, then a full pass (push mix, capacity 3 / 2): Router",
        || {
            let before = state(PUSH, 3, 2);
            let mut after = state(PUSH, 3, 2);
            accept_first(&mut after);
            let mut router = Router::new();
            let mut flip = false;
            Box::new(move || {
                flip = !flip;
                let state = if flip { &after } else { &before };
                black_box(router.route(black_box(&state.input())));
            })
        },
    ));
    // The floor: only reading, in input order, the fields of the 11k
    // summaries that routing needs (every pass must read them once).
    cases.push(case(
        "floor: read the routing fields of 11k summaries",
        || {
            let state = state(PUSH, 3, 2);
            Box::new(move || {
                let mut sum = 0i64;
                for s in black_box(&state.open) {
                    sum = sum
                        .wrapping_add(s.id.0.0 as i64)
                        .wrapping_add(s.campaign.0.0 as i64)
                        .wrapping_add(s.owner.map_or(0, |o| o.0.0 as i64))
                        .wrapping_add(i64::from(s.finalized.is_some()))
                        .wrapping_add(s.declined.len() as i64)
                        .wrapping_add(s.directed_to.map_or(0, |o| o.0.0 as i64))
                        .wrapping_add(i64::from(s.priority))
                        .wrapping_add(s.enqueued_at)
                        .wrapping_add(s.round_started_at);
                }
                black_box(sum);
            })
        },
    ));
    cases.push(case(
        "explain one campaign (~500 of the 10k queued)",
        || {
            let state = state(PUSH, 3, 2);
            Box::new(move || {
                black_box(explain(black_box(&state.input()), Some(cid(5))));
            })
        },
    ));
    cases
}

fn bench_routing(c: &mut Criterion) {
    let cases = cases();
    let mut wall = c.benchmark_group("routing 10k x 500 x 20 (wall clock)");
    wall.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, make) in &cases {
        wall.bench_function(name.as_str(), |b| {
            let mut run = make();
            b.iter(&mut run)
        });
    }
    wall.finish();

    let mut cpu = c.benchmark_group("routing 10k x 500 x 20 (thread CPU time)");
    cpu.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    // CPU time ticks in 1 ms steps: only the passes (~1 ms each) through a Router.
    for (name, make) in cases.iter().filter(|(name, _)| name.ends_with("Router")) {
        cpu.bench_function(name.as_str(), |b| {
            let mut run = make();
            b.iter_custom(|iterations| {
                let (cpu, wall) = (thread_cpu_time(), Instant::now());
                for _ in 0..iterations {
                    run();
                }
                match (cpu, thread_cpu_time()) {
                    (Some(start), Some(end)) => end.saturating_sub(start),
                    _ => wall.elapsed(),
                }
            })
        });
    }
    cpu.finish();
}

criterion_group!(benches, bench_routing);
criterion_main!(benches);
