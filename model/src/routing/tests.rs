#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::{
    ProptestConfig, any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest,
};
use proptest::strategy::Strategy as _;
use ulid::Ulid;

use super::*;
use crate::projection::FinalizedSummary;

const NOW: Millis = 1_700_000_000_000;

fn aid(n: u128) -> AgentId {
    AgentId(Ulid(n))
}

fn cid(n: u128) -> CampaignId {
    CampaignId(Ulid(1 << 100 | n))
}

fn iid(n: u128) -> InteractionId {
    InteractionId(Ulid(1 << 110 | n))
}

fn summary(id: InteractionId, campaign: CampaignId, enqueued_at: Millis) -> InteractionSummary {
    InteractionSummary {
        id,
        direction: Direction::Inbound,
        channel: ChannelKind::Webchat,
        campaign,
        contact: None,
        contact_name: String::new(),
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
        message_count: 0,
        last_message_preview: String::new(),
        last_message_at: None,
        snooze: None,
        first_mail: None,
        tags: vec![],
    }
}

/// A team state to route: agents 1..=n, all on the team, live and Available
/// since `NOW - 60 s`, no capacity limits, no history.
#[derive(Clone, Debug)]
struct World {
    team: Team,
    agents: BTreeMap<AgentId, Agent>,
    open: Vec<InteractionSummary>,
    history: BTreeMap<AgentId, AgentHistory>,
    presence: PresenceView,
    now: Millis,
}

impl World {
    fn new(agents: u128) -> Self {
        let mut world = World {
            team: Team {
                id: TeamId(Ulid(7)),
                name: "Support".into(),
                created_at: 0,
                members: BTreeMap::new(),
                campaigns: BTreeMap::new(),
                break_reasons: vec!["lunch".into()],
                invites: BTreeMap::new(),
                canned: Default::default(),
                keys: Default::default(),
                mailboxes: Default::default(),
            },
            agents: BTreeMap::new(),
            open: vec![],
            history: BTreeMap::new(),
            presence: BTreeMap::new(),
            now: NOW,
        };
        for n in 1..=agents {
            world.add_agent(n);
        }
        world
    }

    fn add_agent(&mut self, n: u128) {
        let id = aid(n);
        self.team.members.insert(
            format!("peer-{n}"),
            Member {
                device: format!("peer-{n}"),
                agent: id,
                role: Role::Agent,
                device_name: format!("desk {n}"),
                joined_at: 0,
                revoked: false,
                revoked_at: None,
            },
        );
        self.agents.insert(
            id,
            Agent {
                id,
                name: format!("Agent {n}"),
                status: AgentStatus::Available,
                status_since: 0,
                capacity: 0,
                status_history: vec![],
            },
        );
        self.presence.insert(
            id,
            PresenceEntry {
                live: true,
                status: AgentStatus::Available,
                since: NOW - 60_000,
            },
        );
    }

    fn campaign(&mut self, n: u128, strategy: Strategy, members: &[u128]) -> CampaignId {
        let id = cid(n);
        self.team.campaigns.insert(
            id,
            Campaign {
                id,
                name: format!("Campaign {n}"),
                channel: ChannelKind::Webchat,
                strategy,
                members: members.iter().map(|m| aid(*m)).collect(),
                capacity: 0,
                auto_accept: false,
                offer_timeout_seconds: 30,
                dispositions: vec!["Resolved".into()],
                fields: vec![],
                sla_seconds: 60,
                wrapup_seconds: 0,
                hours: None,
            },
        );
        id
    }

    fn campaign_mut(&mut self, n: u128) -> &mut Campaign {
        self.team
            .campaigns
            .get_mut(&cid(n))
            .expect("campaign exists")
    }

    fn queue(&mut self, n: u128, campaign: u128, enqueued_at: Millis) -> &mut InteractionSummary {
        self.open.push(summary(iid(n), cid(campaign), enqueued_at));
        self.open.last_mut().expect("just pushed")
    }

    fn active(&mut self, n: u128, campaign: u128, owner: u128) {
        let s = self.queue(n, campaign, NOW - 600_000);
        s.owner = Some(aid(owner));
        s.claimed_at = Some(NOW - 500_000);
    }

    fn history(&mut self, agent: u128) -> &mut AgentHistory {
        self.history.entry(aid(agent)).or_default()
    }

    fn presence(&mut self, agent: u128) -> &mut PresenceEntry {
        self.presence
            .get_mut(&aid(agent))
            .expect("agent has presence")
    }

    fn input(&self) -> RoutingInput<'_> {
        RoutingInput {
            team: &self.team,
            agents: &self.agents,
            open: &self.open,
            history: &self.history,
            presence: &self.presence,
            now: self.now,
        }
    }

    fn route(&self) -> Routing {
        route(&self.input())
    }

    fn explain(&self) -> Vec<Explanation> {
        explain(&self.input(), None)
    }

    /// The agents interaction `n` is offered to.
    fn offered(&self, n: u128) -> Vec<AgentId> {
        self.route()
            .offer_for(iid(n))
            .expect("queued interaction has an offer")
            .agents
            .to_vec()
    }

    /// How many push offers each agent got in one pass.
    fn tally(&self) -> BTreeMap<AgentId, usize> {
        let mut tally = BTreeMap::new();
        for offer in self.route().offers {
            for agent in offer.agents.iter() {
                *tally.entry(*agent).or_insert(0) += 1;
            }
        }
        tally
    }
}

fn ids(agents: &[u128]) -> Vec<AgentId> {
    agents.iter().map(|a| aid(*a)).collect()
}

// ---------------------------------------------------------------- queue order

#[test]
fn queue_is_routed_by_priority_then_enqueue_time_then_id() {
    let mut w = World::new(1);
    w.campaign(1, Strategy::RingAll, &[1]);
    w.queue(5, 1, 300);
    w.queue(4, 1, 100).priority = 1;
    w.queue(3, 1, 300);
    w.queue(2, 1, 200);
    let order: Vec<InteractionId> = w.route().offers.iter().map(|o| o.interaction).collect();
    assert_eq!(order, vec![iid(2), iid(3), iid(5), iid(4)]);
}

#[test]
fn only_queued_interactions_are_offered_and_an_unknown_campaign_goes_to_nobody() {
    let mut w = World::new(2);
    w.campaign(1, Strategy::RingAll, &[1, 2]);
    w.active(1, 1, 1);
    w.queue(2, 1, 10).finalized = Some(FinalizedSummary {
        agent: aid(2),
        at: 5,
        disposition: "Resolved".into(),
        wrapup_until: 6,
    });
    w.queue(3, 9, 10);
    let routing = w.route();
    assert_eq!(routing.offers.len(), 1);
    assert_eq!(routing.offers[0].interaction, iid(3));
    assert_eq!(routing.offers[0].kind, OfferKind::UnknownCampaign);
    assert!(routing.offers[0].agents.is_empty());
}

// ---------------------------------------------------------------- strategies

#[test]
fn ring_all_offers_every_eligible_member_in_member_order() {
    let mut w = World::new(4);
    w.campaign(1, Strategy::RingAll, &[3, 1, 2]);
    w.presence(2).status = AgentStatus::Break {
        reason: "lunch".into(),
    };
    w.queue(1, 1, 10);
    w.queue(2, 1, 20);
    let routing = w.route();
    for offer in &routing.offers {
        assert_eq!(offer.kind, OfferKind::RingAll);
        assert_eq!(&offer.agents[..], &ids(&[3, 1])[..]);
        assert_eq!(offer.expires_at, None);
    }
}

#[test]
fn round_robin_gives_each_of_n_equal_agents_k_of_k_times_n() {
    let mut w = World::new(5);
    w.campaign(1, Strategy::RoundRobin, &[1, 2, 3, 4, 5]);
    for n in 0..20 {
        w.queue(n, 1, 10 + n as Millis);
    }
    let tally = w.tally();
    assert_eq!(tally.len(), 5);
    assert!(tally.values().all(|&k| k == 4), "{tally:?}");
    // In a single pass it goes around in order: least recently assigned first.
    assert_eq!(w.offered(0), ids(&[1]));
    assert_eq!(w.offered(4), ids(&[5]));
    assert_eq!(w.offered(5), ids(&[1]));
}

#[test]
fn round_robin_starts_with_the_least_recently_assigned() {
    let mut w = World::new(3);
    w.campaign(1, Strategy::RoundRobin, &[1, 2, 3]);
    w.history(1).last_assigned_at = Some(NOW - 1_000);
    w.history(2).last_assigned_at = Some(NOW - 9_000);
    w.history(3).last_assigned_at = None;
    for n in 0..3 {
        w.queue(n, 1, 10 + n as Millis);
    }
    assert_eq!(w.offered(0), ids(&[3]), "never assigned goes first");
    assert_eq!(w.offered(1), ids(&[2]));
    assert_eq!(w.offered(2), ids(&[1]));
}

#[test]
fn round_robin_stays_put_when_the_offer_is_accepted() {
    // Accepting changes exactly what the pass assumed, so the next offer stays where it was.
    let mut w = World::new(3);
    w.campaign(1, Strategy::RoundRobin, &[1, 2, 3]);
    w.queue(1, 1, 10);
    w.queue(2, 1, 20);
    let before = w.route();
    let first = before.offers[0].agents[0];
    let s = w
        .open
        .iter_mut()
        .find(|s| s.id == iid(1))
        .expect("interaction 1");
    s.owner = Some(first);
    w.history.entry(first).or_default().last_assigned_at = Some(NOW);
    let after = w.route();
    assert_eq!(after.offers.len(), 1);
    assert_eq!(after.offers[0], before.offers[1]);
}

#[test]
fn round_robin_skips_who_is_away_and_takes_them_back_in_turn() {
    let mut w = World::new(3);
    w.campaign(1, Strategy::RoundRobin, &[1, 2, 3]);
    w.presence(2).status = AgentStatus::Break {
        reason: "lunch".into(),
    };
    for n in 1..=6 {
        w.queue(n, 1, NOW - 1_000 + n as Millis);
    }
    let order: Vec<AgentId> = w.route().offers.iter().map(|o| o.agents[0]).collect();
    assert_eq!(order, ids(&[1, 3, 1, 3, 1, 3]), "agent 2 is skipped");
    // The first three are claimed; agent 2 is back: never assigned, so next.
    for (n, owner) in [(1, 1), (2, 3), (3, 1)] {
        let s = w.open.iter_mut().find(|s| s.id == iid(n)).unwrap();
        s.owner = Some(aid(owner));
        s.claimed_at = Some(NOW);
    }
    w.presence(2).status = AgentStatus::Available;
    let order: Vec<AgentId> = w.route().offers.iter().map(|o| o.agents[0]).collect();
    assert_eq!(order, ids(&[2, 3, 1]));
}

#[test]
fn longest_idle_picks_who_finished_longest_ago() {
    let mut w = World::new(4);
    w.campaign(1, Strategy::LongestIdle, &[1, 2, 3, 4]);
    w.history(1).last_finished_at = Some(NOW - 5_000);
    w.history(2).last_finished_at = Some(NOW - 50_000);
    w.history(3).last_finished_at = Some(NOW - 500_000);
    w.history(4).last_finished_at = Some(NOW - 900_000);
    w.active(100, 1, 4); // agent 4 is busy with a chat: not idle
    w.queue(1, 1, 10);
    assert_eq!(w.offered(1), ids(&[3]));
    w.queue(2, 1, 20);
    w.queue(3, 1, 30);
    let order: Vec<AgentId> = w.route().offers.iter().map(|o| o.agents[0]).collect();
    assert_eq!(order, ids(&[3, 2, 1]), "one each, longest idle first");
}

#[test]
fn least_busy_picks_the_fewest_open_then_least_recently_assigned() {
    let mut w = World::new(3);
    w.campaign(1, Strategy::LeastBusy, &[1, 2, 3]);
    w.campaign(2, Strategy::RingAll, &[1, 2, 3]);
    w.active(100, 1, 1);
    w.active(101, 2, 1); // open in another campaign counts too
    w.active(102, 1, 2);
    w.queue(1, 1, 10);
    assert_eq!(w.offered(1), ids(&[3]));
    w.active(103, 2, 3);
    w.history(2).last_assigned_at = Some(NOW - 1_000);
    w.history(3).last_assigned_at = Some(NOW - 2_000);
    assert_eq!(
        w.offered(1),
        ids(&[3]),
        "2 and 3 hold one each; 3 was assigned longer ago"
    );
}

#[test]
fn fewest_handled_picks_who_finished_fewest_today() {
    let mut w = World::new(3);
    w.campaign(1, Strategy::FewestHandled, &[1, 2, 3]);
    w.history(1).finished_today = 5;
    w.history(2).finished_today = 2;
    w.history(3).finished_today = 9;
    w.queue(1, 1, 10);
    assert_eq!(w.offered(1), ids(&[2]));
}

#[test]
fn top_down_picks_the_first_eligible_member_in_member_order() {
    let mut w = World::new(3);
    w.campaign(1, Strategy::TopDown, &[3, 1, 2]);
    w.queue(1, 1, 10);
    assert_eq!(w.offered(1), ids(&[3]));
    w.presence(3).status = AgentStatus::Break {
        reason: "lunch".into(),
    };
    assert_eq!(w.offered(1), ids(&[1]));
    // With a capacity, top-down fills the first member, then overflows.
    w.campaign_mut(1).capacity = 1;
    w.queue(2, 1, 20);
    assert_eq!(w.offered(2), ids(&[2]));
}

#[test]
fn weighted_random_is_fair_and_identical_on_every_run() {
    let mut w = World::new(10);
    w.campaign(
        1,
        Strategy::WeightedRandom,
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    for n in 0..10_000u128 {
        w.queue(n, 1, 10);
    }
    let first = w.route();
    let tally = w.tally();
    assert_eq!(tally.len(), 10);
    for (agent, count) in &tally {
        assert!(
            (900..=1100).contains(count),
            "{agent:?} got {count} of 10000"
        );
    }
    w.open.reverse();
    assert_eq!(w.route(), first, "same assignment whatever the input order");

    // Rendezvous: an agent going on break only moves the interactions they had.
    w.presence(4).status = AgentStatus::Break {
        reason: String::new(),
    };
    let without = w.route();
    for (a, b) in first.offers.iter().zip(&without.offers) {
        if a.agents[0] != aid(4) {
            assert_eq!(a.agents, b.agents);
        }
    }
}

#[test]
fn an_agent_in_several_campaigns_is_counted_across_them() {
    let mut w = World::new(2);
    w.campaign(1, Strategy::RoundRobin, &[1, 2]);
    w.campaign(2, Strategy::RoundRobin, &[1, 2]);
    w.agents.get_mut(&aid(1)).expect("agent 1").capacity = 1;
    w.queue(1, 1, 10);
    w.queue(2, 2, 20);
    w.queue(3, 2, 30);
    assert_eq!(w.offered(1), ids(&[1]));
    assert_eq!(w.offered(2), ids(&[2]));
    assert_eq!(
        w.offered(3),
        ids(&[2]),
        "agent 1 is full after the first offer"
    );
}

// ---------------------------------------------------------------- eligibility and capacity

#[test]
fn capacity_holds_across_a_pass() {
    let mut w = World::new(2);
    w.campaign(1, Strategy::LeastBusy, &[1, 2]);
    w.campaign(2, Strategy::RingAll, &[1, 2]);
    w.campaign_mut(1).capacity = 2;
    w.agents.get_mut(&aid(2)).expect("agent 2").capacity = 1;
    w.active(100, 2, 2); // agent 2 is full
    w.active(101, 1, 1);
    for n in 0..5 {
        w.queue(n, 1, 10 + n as Millis);
    }
    w.queue(9, 2, 100);
    let tally = w.tally();
    // Agent 1: one open in campaign 1, capacity 2 there: one push offer; then
    // the ring-all interaction is still shown to them (ring-all counts accepts).
    assert_eq!(tally.get(&aid(1)), Some(&2));
    assert_eq!(tally.get(&aid(2)), None);
    assert_eq!(w.offered(9), ids(&[1]));
    assert!(
        w.offered(1).is_empty(),
        "nobody has room left for the second"
    );
}

#[test]
fn nobody_on_break_offline_in_wrap_up_or_off_the_team_is_offered_anything() {
    let mut w = World::new(6);
    w.campaign(1, Strategy::RingAll, &[1, 2, 3, 4, 5, 6]);
    w.presence(1).status = AgentStatus::Break {
        reason: "lunch".into(),
    };
    w.presence(2).live = false;
    w.presence.remove(&aid(3));
    w.history(4).wrapup_until = Some(NOW + 1);
    w.team.members.get_mut("peer-5").expect("peer 5").revoked = true;
    w.queue(1, 1, 10);
    assert_eq!(w.offered(1), ids(&[6]));
    // Wrap-up ends exactly at wrapup_until.
    w.history(4).wrapup_until = Some(NOW);
    assert_eq!(w.offered(1), ids(&[4, 6]));
}

#[test]
fn presence_status_not_the_agent_document_decides_availability() {
    let mut w = World::new(1);
    w.campaign(1, Strategy::RoundRobin, &[1]);
    w.agents.get_mut(&aid(1)).expect("agent 1").status = AgentStatus::Offline;
    w.queue(1, 1, 10);
    assert_eq!(w.offered(1), ids(&[1]));
    w.presence(1).status = AgentStatus::Offline;
    assert!(w.offered(1).is_empty());
}

// ---------------------------------------------------------------- declines, transfers, timeouts

#[test]
fn a_decline_moves_the_offer_to_the_next_agent_and_restarts_the_clock() {
    let mut w = World::new(3);
    w.campaign(1, Strategy::TopDown, &[1, 2, 3]);
    w.queue(1, 1, NOW - 100_000).declined = vec![(aid(1), NOW - 40_000)];
    let routing = w.route();
    let offer = &routing.offers[0];
    assert_eq!(&offer.agents[..], &ids(&[2])[..]);
    assert_eq!(offer.offered_since, NOW - 40_000);
    assert_eq!(offer.expires_at, Some(NOW - 10_000));

    w.campaign(2, Strategy::RingAll, &[1, 2, 3]);
    w.queue(2, 2, 10).declined = vec![(aid(2), 20)];
    assert_eq!(w.offered(2), ids(&[1, 3]));
}

#[test]
fn when_everyone_declined_the_round_starts_again_without_the_latest_decliner() {
    let mut w = World::new(3);
    w.campaign(1, Strategy::RoundRobin, &[1, 2, 3]);
    w.history(1).last_assigned_at = Some(NOW - 3_000);
    w.history(2).last_assigned_at = Some(NOW - 9_000);
    w.history(3).last_assigned_at = Some(NOW - 1_000);
    w.queue(1, 1, NOW - 60_000).declined = vec![
        (aid(2), NOW - 30_000),
        (aid(1), NOW - 20_000),
        (aid(3), NOW - 10_000),
    ];
    let routing = w.route();
    let offer = &routing.offers[0];
    // 3 declined last; of 1 and 2, agent 2 was assigned least recently.
    assert_eq!(&offer.agents[..], &ids(&[2])[..]);
    assert_eq!(
        offer.offered_since,
        NOW - 10_000,
        "a fresh timeout from the latest decline"
    );
    assert_eq!(offer.expires_at, Some(NOW + 20_000));
    let explanation = &w.explain()[0];
    assert!(explanation.round_again);
    let verdicts: Vec<(AgentId, Verdict)> = explanation
        .candidates
        .iter()
        .map(|c| (c.agent, c.verdict.clone()))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (aid(2), Verdict::Chosen),
            (aid(1), Verdict::NotChosen),
            (aid(3), Verdict::Declined { at: NOW - 10_000 }),
        ]
    );

    // A lone agent who declined gets it again rather than nobody.
    let mut w = World::new(2);
    w.campaign(1, Strategy::WeightedRandom, &[1, 2]);
    w.presence(2).live = false;
    w.queue(1, 1, 10).declined = vec![(aid(1), 50), (aid(2), 60)];
    assert_eq!(w.offered(1), ids(&[1]));

    // Ring-all: everyone but the latest decliner sees it again.
    let mut w = World::new(3);
    w.campaign(1, Strategy::RingAll, &[1, 2, 3]);
    w.queue(1, 1, 10).declined = vec![(aid(1), 50), (aid(2), 70), (aid(3), 60)];
    assert_eq!(w.offered(1), ids(&[1, 3]));
}

#[test]
fn a_directed_transfer_goes_only_to_its_target() {
    let mut w = World::new(4);
    w.campaign(1, Strategy::RingAll, &[1, 2, 3]);
    let s = w.queue(1, 1, 10);
    s.directed_to = Some(aid(4)); // not a campaign member: allowed
    s.round_started_at = 500;
    s.transfer_note = "VIP, knows the order".into();
    let routing = w.route();
    let offer = &routing.offers[0];
    assert_eq!(offer.kind, OfferKind::Directed);
    assert_eq!(&offer.agents[..], &ids(&[4])[..]);
    assert_eq!(offer.expires_at, None, "directed offers never expire");
    assert_eq!(offer.offered_since, 500);
    assert_eq!(w.route().pending_for(aid(4), &w.team, &w.open).len(), 1);
    assert!(w.route().pending_for(aid(1), &w.team, &w.open).is_empty());

    // On break: offered to nobody, but still in the target's Pending tab.
    w.presence(4).status = AgentStatus::Break {
        reason: "lunch".into(),
    };
    assert!(w.offered(1).is_empty());
    assert_eq!(w.route().pending_for(aid(4), &w.team, &w.open).len(), 1);

    // Declined by the target: back to the campaign's routing, without them.
    w.presence(4).status = AgentStatus::Available;
    w.open[0].declined = vec![(aid(4), 900)];
    assert_eq!(w.offered(1), ids(&[1, 2, 3]));
    assert!(w.route().pending_for(aid(4), &w.team, &w.open).is_empty());
}

#[test]
fn an_interaction_taken_back_is_routed_again_but_not_to_whoever_lost_it() {
    let mut w = World::new(3);
    w.campaign(1, Strategy::TopDown, &[1, 2, 3]);
    // Agent 1 held it; then it went back to the queue.
    let mut i = interaction_with(
        vec![Claim {
            agent: aid(1),
            claimed_at: 10,
            epoch: 0,
        }],
        0,
    );
    let back = |kind, from| Transfer {
        from: aid(from),
        to: TransferTarget::Campaign(cid(1)),
        at: 500,
        note: String::new(),
        kind,
        reason: "customer went quiet".into(),
    };
    for (kind, from) in [(TransferKind::Return, 1), (TransferKind::PullBack, 3)] {
        i.transfers = vec![back(kind, from)];
        let s = InteractionSummary::from_interaction(&i);
        assert_eq!(s.owner, None, "{kind:?}: queued again");
        assert_eq!(s.declined, vec![(aid(1), 500)], "{kind:?}");
        w.open = vec![s];
        // Top-down would pick agent 1 first: it goes to the next one.
        assert_eq!(w.offered(1), ids(&[2]), "{kind:?}");
    }
    // A plain transfer back to the campaign keeps the old behaviour.
    i.transfers = vec![back(TransferKind::Transfer, 1)];
    w.open = vec![InteractionSummary::from_interaction(&i)];
    assert_eq!(w.offered(1), ids(&[1]));

    // Handed to agent 3: a directed offer to them alone.
    i.transfers = vec![Transfer {
        to: TransferTarget::Agent(aid(3)),
        ..back(TransferKind::Hand, 2)
    }];
    w.open = vec![InteractionSummary::from_interaction(&i)];
    let routing = w.route();
    assert_eq!(routing.offers[0].kind, OfferKind::Directed);
    assert_eq!(&routing.offers[0].agents[..], &ids(&[3])[..]);
}

#[test]
fn timed_out_offers_are_push_offers_whose_time_is_up() {
    let mut w = World::new(2);
    w.campaign(1, Strategy::RoundRobin, &[1, 2]);
    w.campaign(2, Strategy::RingAll, &[1, 2]);
    w.queue(1, 1, NOW - 10_000);
    w.queue(2, 2, NOW - 10_000_000);
    w.queue(3, 2, NOW - 10_000_000).directed_to = Some(aid(2));
    // Agent 1 came back from a break 5 s ago: their offer started then.
    w.presence(1).since = NOW - 5_000;
    let routing = w.route();
    let offer = routing.offer_for(iid(1)).expect("offer");
    assert_eq!(offer.offered_since, NOW - 5_000);
    assert_eq!(offer.expires_at, Some(NOW + 25_000));
    assert!(timed_out_offers(&routing, NOW + 24_999).is_empty());
    assert_eq!(
        timed_out_offers(&routing, NOW + 25_000),
        vec![(iid(1), aid(1))]
    );
    assert_eq!(
        timed_out_offers(&routing, i64::MAX).len(),
        1,
        "ring-all and directed never time out"
    );

    w.campaign_mut(1).offer_timeout_seconds = 0;
    assert!(
        timed_out_offers(&w.route(), i64::MAX).is_empty(),
        "0: no timeout"
    );
}

#[test]
fn auto_accept_campaigns_claim_push_offers_at_once() {
    let mut w = World::new(2);
    w.campaign(1, Strategy::TopDown, &[2, 1]);
    w.campaign(2, Strategy::RingAll, &[1, 2]);
    w.campaign_mut(2).auto_accept = true;
    w.queue(1, 1, 10);
    w.queue(2, 2, 10);
    assert!(auto_accepts(&w.route(), &w.team).is_empty());
    w.campaign_mut(1).auto_accept = true;
    assert_eq!(auto_accepts(&w.route(), &w.team), vec![(iid(1), aid(2))]);
}

#[test]
fn pending_tab_follows_the_strategy() {
    let mut w = World::new(3);
    w.campaign(1, Strategy::RingAll, &[1, 2]);
    w.campaign(2, Strategy::RoundRobin, &[1, 2]);
    w.queue(1, 1, 10);
    w.queue(2, 1, 20).declined = vec![(aid(1), 30)];
    w.queue(3, 2, 30);
    w.queue(4, 2, 40);
    w.queue(5, 2, 50).directed_to = Some(aid(1));
    let routing = w.route();
    let tab = |agent: u128| -> Vec<InteractionId> {
        routing
            .pending_for(aid(agent), &w.team, &w.open)
            .iter()
            .map(|s| s.id)
            .collect()
    };
    assert_eq!(tab(1), vec![iid(1), iid(3), iid(5)]);
    assert_eq!(tab(2), vec![iid(1), iid(2), iid(4)]);
    assert!(tab(3).is_empty());
    assert_eq!(routing.offers_to(aid(1)).count(), 3);

    // Ring-all shows the queue even to a member who cannot take it right now.
    w.presence(2).status = AgentStatus::Break {
        reason: "lunch".into(),
    };
    let routing = w.route();
    let shown: Vec<InteractionId> = routing
        .pending_for(aid(2), &w.team, &w.open)
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(shown, vec![iid(1), iid(2)]);
}

// ---------------------------------------------------------------- explain

#[test]
fn explain_gives_every_member_a_reason() {
    let mut w = World::new(9);
    w.campaign(1, Strategy::RoundRobin, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
    w.campaign(2, Strategy::RingAll, &[7]);
    w.campaign_mut(1).capacity = 1;
    w.team.members.get_mut("peer-1").expect("peer 1").revoked = true;
    w.presence(2).live = false;
    w.presence(3).status = AgentStatus::Break {
        reason: "lunch".into(),
    };
    w.history(4).wrapup_until = Some(NOW + 30_000);
    w.agents.get_mut(&aid(5)).expect("agent 5").capacity = 1;
    w.active(100, 2, 5);
    w.active(101, 1, 6);
    w.history(7).last_assigned_at = Some(NOW - 1_000);
    w.history(8).last_assigned_at = Some(NOW - 2_000);
    w.queue(1, 1, 10).declined = vec![(aid(9), 20)];

    let all = w.explain();
    assert_eq!(all.len(), 1);
    let e = &all[0];
    assert_eq!(e.strategy, Some(Strategy::RoundRobin));
    assert_eq!(e.offer.agents[0], aid(8));
    let lines: Vec<String> = e.candidates.iter().map(ToString::to_string).collect();
    let expect = [
        "Agent 1: not on the team",
        "Agent 2: offline (not live)",
        "Agent 3: not available (break (lunch))",
        "Agent 4: in wrap-up until",
        "Agent 5: at agent capacity (1 of 1)",
        "Agent 6: at campaign capacity (1 of 1)",
        "Agent 9: declined this round",
        "Agent 8: chosen (ranked 1)",
        "Agent 7: eligible but not chosen (ranked 2)",
    ];
    for want in expect {
        assert!(
            lines.iter().any(|l| l.starts_with(want)),
            "no `{want}` in {lines:#?}"
        );
    }
    // Strategy order: never assigned first (1..6 and 9), then 8, then 7.
    let order: Vec<AgentId> = e.candidates.iter().map(|c| c.agent).collect();
    assert_eq!(order, ids(&[1, 2, 3, 4, 5, 6, 9, 8, 7]));

    let json = serde_json::to_value(&all).expect("explanations serialize");
    assert_eq!(json[0]["candidates"][2]["verdict"], "not-available");
    assert_eq!(json[0]["candidates"][2]["status"], "break (lunch)");
    assert_eq!(json[0]["candidates"][7]["verdict"], "chosen");
    assert_eq!(json[0]["offer"]["agents"][0], aid(8).to_string());
    assert!(e.to_string().contains("Campaign 1 (round-robin)"));

    assert_eq!(explain(&w.input(), Some(cid(2))).len(), 0);
    assert_eq!(explain(&w.input(), Some(cid(1))).len(), 1);
}

#[test]
fn explain_of_a_directed_transfer_names_the_target() {
    let mut w = World::new(3);
    w.campaign(1, Strategy::TopDown, &[1, 2]);
    w.queue(1, 1, 10).directed_to = Some(aid(3));
    let e = &w.explain()[0];
    assert_eq!(e.candidates[0].agent, aid(3));
    assert_eq!(e.candidates[0].verdict, Verdict::Chosen);
    assert_eq!(
        e.candidates[1].verdict,
        Verdict::DirectedElsewhere { to: aid(3) }
    );
}

// ---------------------------------------------------------------- property tests

/// A small deterministic generator, so one `u64` seed makes one whole state.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// A random team state: breaks, offline agents, wrap-ups, capacities,
/// declines, directed transfers, unknown campaigns and revoked devices.
fn random_world(seed: u64) -> World {
    let mut g = Gen(seed);
    let agents = 1 + g.below(8) as u128;
    let mut w = World::new(agents);
    for n in 1..=agents {
        let id = aid(n);
        if g.chance(1, 10) {
            w.team
                .members
                .get_mut(&format!("peer-{n}"))
                .expect("peer")
                .revoked = true;
        }
        if g.chance(1, 10) {
            w.agents.remove(&id);
        } else if let Some(agent) = w.agents.get_mut(&id) {
            agent.capacity = g.below(4) as u32;
        }
        if g.chance(1, 10) {
            w.presence.remove(&id);
        } else {
            let p = w.presence(n);
            p.live = !g.chance(1, 8);
            p.since = NOW - g.below(100_000) as Millis;
            p.status = match g.below(10) {
                0 => AgentStatus::Break {
                    reason: "lunch".into(),
                },
                1 => AgentStatus::Offline,
                _ => AgentStatus::Available,
            };
        }
        let h = w.history(n);
        h.last_assigned_at = g.chance(2, 3).then(|| NOW - g.below(5) as Millis * 1000);
        h.last_finished_at = g.chance(2, 3).then(|| NOW - g.below(5) as Millis * 1000);
        h.finished_today = g.below(4) as u32;
        h.wrapup_until = g
            .chance(1, 4)
            .then(|| NOW - 5_000 + g.below(10) as Millis * 1000);
    }
    let campaigns = 1 + g.below(4) as u128;
    for c in 1..=campaigns {
        let strategy = Strategy::ALL[g.below(Strategy::ALL.len() as u64) as usize];
        let mut members: Vec<u128> = (1..=agents).filter(|_| g.chance(2, 3)).collect();
        g.shuffle(&mut members);
        if g.chance(1, 8) && !members.is_empty() {
            members.push(members[0]); // a duplicate from a list merge
        }
        w.campaign(c, strategy, &members);
        let campaign = w.campaign_mut(c);
        campaign.capacity = g.below(4) as u32;
        campaign.offer_timeout_seconds = g.below(3) as u32 * 30;
        campaign.auto_accept = g.chance(1, 3);
    }
    let interactions = g.below(40) as u128;
    for n in 0..interactions {
        let campaign = if g.chance(1, 20) {
            99
        } else {
            1 + g.below(campaigns as u64) as u128
        };
        let enqueued = NOW - g.below(4) as Millis * 10_000;
        let s = w.queue(n, campaign, enqueued);
        s.priority = g.below(3) as i32;
        match g.below(10) {
            0..=2 => {
                s.owner = Some(aid(1 + g.below(agents as u64) as u128));
            }
            3 => {
                s.owner = Some(aid(1 + g.below(agents as u64) as u128));
                s.finalized = Some(FinalizedSummary {
                    agent: aid(1 + g.below(agents as u64) as u128),
                    at: NOW - 10_000,
                    disposition: "Resolved".into(),
                    wrapup_until: NOW - 10_000 + g.below(20) as Millis * 1000,
                });
            }
            _ => {
                for a in 1..=agents + 1 {
                    if g.chance(1, 4) {
                        s.declined
                            .push((aid(a), enqueued + g.below(4) as Millis * 1000));
                    }
                }
                if g.chance(1, 6) {
                    s.directed_to = Some(aid(1 + g.below(agents as u64 + 1) as u128));
                }
            }
        }
    }
    w
}

/// The same state, every list and map given in another order.
fn shuffled(w: &World, seed: u64) -> World {
    let mut g = Gen(seed ^ 0x5eed);
    let mut out = w.clone();
    g.shuffle(&mut out.open);
    for s in &mut out.open {
        g.shuffle(&mut s.declined);
    }
    let mut agents: Vec<_> = w.agents.clone().into_iter().collect();
    g.shuffle(&mut agents);
    out.agents = agents.into_iter().collect();
    let mut presence: Vec<_> = w.presence.clone().into_iter().collect();
    g.shuffle(&mut presence);
    out.presence = presence.into_iter().collect();
    let mut history: Vec<_> = w.history.clone().into_iter().collect();
    g.shuffle(&mut history);
    out.history = history.into_iter().collect();
    let mut campaigns: Vec<_> = w.team.campaigns.clone().into_iter().collect();
    g.shuffle(&mut campaigns);
    out.team.campaigns = campaigns.into_iter().collect();
    let mut members: Vec<_> = w.team.members.clone().into_iter().collect();
    g.shuffle(&mut members);
    out.team.members = members.into_iter().collect();
    out
}

fn on_team(w: &World, agent: AgentId) -> bool {
    w.team
        .members
        .values()
        .any(|m| m.agent == agent && !m.revoked)
}

fn in_wrap_up(w: &World, agent: AgentId) -> bool {
    let history = w.history.get(&agent).and_then(|h| h.wrapup_until);
    let finalized = w
        .open
        .iter()
        .filter_map(|s| s.finalized.as_ref())
        .filter(|f| f.agent == agent)
        .map(|f| f.wrapup_until);
    history
        .into_iter()
        .chain(finalized)
        .any(|until| until > w.now)
}

fn active_load(w: &World, agent: AgentId, campaign: Option<CampaignId>) -> usize {
    w.open
        .iter()
        .filter(|s| s.owner == Some(agent) && s.finalized.is_none())
        .filter(|s| campaign.is_none_or(|c| s.campaign == c))
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_same_state_in_any_order_gives_the_same_offers(seed in any::<u64>(), order in any::<u64>()) {
        let w = random_world(seed);
        let other = shuffled(&w, order);
        prop_assert_eq!(w.route(), other.route());
        prop_assert_eq!(w.explain(), other.explain());
        // A long-lived router, its buffers dirty from another state, agrees.
        let mut router = Router::new();
        router.route(&random_world(order).input());
        prop_assert_eq!(router.route(&other.input()), &w.route());
    }

    #[test]
    fn offers_respect_eligibility_and_capacity(seed in any::<u64>()) {
        let w = random_world(seed);
        let routing = w.route();
        let queued = w.open.iter().filter(|s| s.owner.is_none() && s.finalized.is_none()).count();
        prop_assert_eq!(routing.offers.len(), queued);

        let mut push: BTreeMap<(AgentId, CampaignId), usize> = BTreeMap::new();
        for offer in &routing.offers {
            let campaign = w.team.campaigns.get(&offer.campaign);
            for agent in offer.agents.iter() {
                let presence = w.presence.get(agent);
                prop_assert!(on_team(&w, *agent), "{agent:?} is not on the team");
                prop_assert!(presence.is_some_and(|p| p.live), "{agent:?} is offline");
                prop_assert!(presence.is_some_and(|p| p.status == AgentStatus::Available));
                prop_assert!(!in_wrap_up(&w, *agent), "{agent:?} is in wrap-up");
                let cap = w.agents.get(agent).map_or(0, |a| a.capacity) as usize;
                match offer.kind {
                    OfferKind::Push | OfferKind::RingAll => {
                        let campaign = campaign.expect("routed by a known campaign");
                        prop_assert!(campaign.has_member(*agent));
                        let ccap = campaign.capacity as usize;
                        prop_assert!(cap == 0 || active_load(&w, *agent, None) < cap);
                        prop_assert!(ccap == 0 || active_load(&w, *agent, Some(campaign.id)) < ccap);
                        if offer.kind == OfferKind::Push {
                            *push.entry((*agent, campaign.id)).or_default() += 1;
                            prop_assert!(offer.expires_at.is_some() == (campaign.offer_timeout_seconds > 0));
                        }
                    }
                    OfferKind::Directed => {
                        prop_assert_eq!(offer.agents.len(), 1);
                        prop_assert_eq!(offer.expires_at, None);
                    }
                    OfferKind::UnknownCampaign => prop_assert!(false, "offered in an unknown campaign"),
                }
            }
        }
        // A whole pass never offers more than capacity.
        for (agent, campaign) in push.keys() {
            let in_campaign = push[&(*agent, *campaign)];
            let everywhere: usize = push.iter().filter(|(k, _)| k.0 == *agent).map(|(_, n)| n).sum();
            let cap = w.agents.get(agent).map_or(0, |a| a.capacity) as usize;
            let ccap = w.team.campaigns[campaign].capacity as usize;
            prop_assert!(cap == 0 || active_load(&w, *agent, None) + everywhere <= cap);
            prop_assert!(ccap == 0 || active_load(&w, *agent, Some(*campaign)) + in_campaign <= ccap);
        }
    }

    #[test]
    fn explain_agrees_with_route_and_nothing_is_left_unoffered(seed in any::<u64>()) {
        let w = random_world(seed);
        let routing = w.route();
        let explanations = w.explain();
        prop_assert_eq!(explanations.len(), routing.offers.len());
        for (e, offer) in explanations.iter().zip(&routing.offers) {
            prop_assert_eq!(&e.offer, offer);
            let chosen: BTreeSet<AgentId> =
                e.candidates.iter().filter(|c| c.verdict == Verdict::Chosen).map(|c| c.agent).collect();
            let offered: BTreeSet<AgentId> = offer.agents.iter().copied().collect();
            prop_assert_eq!(chosen, offered);
            if matches!(offer.kind, OfferKind::Push | OfferKind::RingAll) {
                // Exactly the agents in the running are offered (push: the first of them).
                for c in &e.candidates {
                    let offered = c.verdict == Verdict::Chosen;
                    match offer.kind {
                        OfferKind::Push => prop_assert_eq!(offered, c.rank == Some(1), "{}", e),
                        _ => prop_assert_eq!(offered, c.rank.is_some(), "{}", e),
                    }
                }
            }
            if matches!(offer.kind, OfferKind::Push | OfferKind::RingAll) && offer.agents.is_empty() {
                // Nobody was offered it, so nobody could take it: not even a decliner.
                let members = w.team.campaigns.get(&offer.campaign).map(|c| c.members.clone()).unwrap_or_default();
                let could = e.candidates.iter().filter(|c| members.contains(&c.agent))
                    .any(|c| matches!(c.verdict, Verdict::NotChosen | Verdict::Declined { .. }));
                prop_assert!(!could, "unoffered while someone could take it: {e}");
            }
            for agent in offer.agents.iter() {
                let declined = w.open.iter().find(|s| s.id == offer.interaction)
                    .is_some_and(|s| s.declined.iter().any(|d| d.0 == *agent));
                prop_assert!(!declined || e.round_again, "offered again to a decliner without the round starting again");
            }
        }
    }

    #[test]
    fn queue_order_holds_for_any_priorities_and_times(
        items in prop::collection::vec(
            (
                // Mostly ordinary values (the packed-key radix path), sometimes
                // extremes (the comparison-sort path).
                prop_oneof![
                    1 => prop::sample::select(vec![i32::MIN, -40_000, 40_000, i32::MAX]),
                    40 => -2i32..3,
                ],
                prop_oneof![
                    1 => prop::sample::select(vec![i64::MIN, (1 << 48) + 3, i64::MAX]),
                    10 => prop::sample::select(vec![-5, 0, 7, NOW, NOW + 1]),
                    30 => NOW - (1 << 40)..NOW + (1 << 40),
                    10 => 0i64..1 << 20,
                ],
                0u128..1_000_000,
            ),
            0..30,
        ),
    ) {
        let mut w = World::new(1);
        w.campaign(1, Strategy::RingAll, &[1]);
        let mut seen = BTreeSet::new();
        for (priority, enqueued_at, n) in items {
            if seen.insert(n) {
                w.queue(n, 1, enqueued_at).priority = priority;
            }
        }
        let mut expected: Vec<(i32, Millis, InteractionId)> =
            w.open.iter().map(|s| (s.priority, s.enqueued_at, s.id)).collect();
        expected.sort();
        let order: Vec<InteractionId> = w.route().offers.iter().map(|o| o.interaction).collect();
        prop_assert_eq!(order, expected.into_iter().map(|e| e.2).collect::<Vec<_>>());
    }

    #[test]
    fn round_robin_gives_everyone_k_plus_or_minus_one(agents in 1u128..10, k in 1u128..8, seed in any::<u64>()) {
        let mut g = Gen(seed);
        let mut w = World::new(agents);
        let members: Vec<u128> = (1..=agents).collect();
        w.campaign(1, Strategy::RoundRobin, &members);
        for a in 1..=agents {
            w.history(a).last_assigned_at = g.chance(1, 2).then(|| NOW - g.below(3) as Millis);
        }
        for n in 0..agents * k {
            w.queue(n, 1, g.below(100) as Millis);
        }
        let tally = w.tally();
        prop_assert_eq!(tally.len() as u128, agents);
        for count in tally.values() {
            prop_assert!((*count as u128).abs_diff(k) <= 1, "{tally:?}");
        }
    }
}

// ---------------------------------------------------------------- bursts across nodes

/// What one node tells the others: an interaction it created, or a claim it
/// wrote for its own agent.
#[derive(Clone, Debug)]
enum Fact {
    Created(Box<InteractionSummary>),
    Claimed(InteractionId, AgentId, Millis),
}

/// One node's replica: the interactions it has heard of and the claims on them.
#[derive(Default)]
struct Replica {
    interactions: BTreeMap<InteractionId, InteractionSummary>,
    claims: BTreeMap<InteractionId, Vec<(Millis, AgentId)>>,
}

impl Replica {
    fn learn(&mut self, fact: &Fact) {
        match fact {
            Fact::Created(s) => {
                self.interactions.insert(s.id, (**s).clone());
            }
            Fact::Claimed(id, agent, at) => self.claims.entry(*id).or_default().push((*at, *agent)),
        }
    }

    /// What the store projects from this replica: the owner is the smallest
    /// (claimed_at, agent) claim; nobody has finished anything, so the
    /// history is empty (it holds finished work only).
    fn open(&self) -> Vec<InteractionSummary> {
        let mut open = Vec::new();
        for (id, s) in &self.interactions {
            let mut s = s.clone();
            if let Some((at, agent)) = self.claims.get(id).and_then(|c| c.iter().min()) {
                s.owner = Some(*agent);
                s.claimed_at = Some(*at);
            }
            open.push(s);
        }
        open
    }
}

/// Three nodes, one agent each (node `k` hosts agent `k + 1`), one
/// auto-accept campaign with `strategy`; `total` customers arrive in a quick
/// burst on node 0 (several in the same millisecond). Every fact travels to
/// every other node in order on its own link, after a random delay, so a node
/// routes again and again without its teammates' latest claims. After each
/// change a node routes and claims what is offered to its own agent, as the
/// node does. Returns every claim written, per interaction.
fn burst(strategy: Strategy, total: u128, seed: u64) -> BTreeMap<InteractionId, Vec<AgentId>> {
    let mut g = Gen(seed);
    let mut w = World::new(3);
    w.campaign(1, strategy, &[1, 2, 3]);
    w.campaign_mut(1).auto_accept = true;
    let mut replicas: Vec<Replica> = (0..3).map(|_| Replica::default()).collect();
    let mut links: BTreeMap<(usize, usize), std::collections::VecDeque<Fact>> = BTreeMap::new();
    let mut written: BTreeMap<InteractionId, Vec<AgentId>> = BTreeMap::new();
    let mut now = NOW;
    let mut created = 0u128;
    loop {
        now += g.below(3) as Millis;
        let busy: Vec<(usize, usize)> = links
            .iter()
            .filter(|(_, l)| !l.is_empty())
            .map(|(k, _)| *k)
            .collect();
        let node = if created < total && (busy.is_empty() || g.chance(1, 2)) {
            let mut s = summary(iid(1000 + created), cid(1), now);
            // Ids from one node grow, in the same millisecond too (`ids`).
            s.id = InteractionId(Ulid((now as u128) << 80 | created));
            created += 1;
            let fact = Fact::Created(Box::new(s));
            replicas[0].learn(&fact);
            for to in 1..3 {
                links.entry((0, to)).or_default().push_back(fact.clone());
            }
            0
        } else if let Some(&(from, to)) = busy.get(g.below(busy.len() as u64) as usize) {
            let Some(fact) = links.get_mut(&(from, to)).and_then(|l| l.pop_front()) else {
                continue;
            };
            replicas[to].learn(&fact);
            to
        } else {
            break;
        };
        // The node routes its replica and claims for its own agent.
        let me = aid(node as u128 + 1);
        let open = replicas[node].open();
        let routing = route(&RoutingInput {
            team: &w.team,
            agents: &w.agents,
            open: &open,
            history: &BTreeMap::new(),
            presence: &w.presence,
            now,
        });
        for (interaction, agent) in auto_accepts(&routing, &w.team) {
            if agent != me {
                continue;
            }
            let fact = Fact::Claimed(interaction, agent, now);
            replicas[node].learn(&fact);
            written.entry(interaction).or_default().push(agent);
            for to in (0..3).filter(|to| *to != node) {
                links.entry((node, to)).or_default().push_back(fact.clone());
            }
        }
    }
    written
}

/// Asserts every interaction was claimed once, by one agent, and each agent
/// got `total / 3` ± 1.
fn assert_fair_burst(strategy: Strategy, total: u128, seed: u64) {
    let written = burst(strategy, total, seed);
    let mut tally: BTreeMap<AgentId, u128> = BTreeMap::new();
    for (interaction, claimants) in &written {
        assert_eq!(
            claimants.len(),
            1,
            "{strategy:?} seed {seed}: {interaction} was claimed by {claimants:?}"
        );
        *tally.entry(claimants[0]).or_default() += 1;
    }
    assert_eq!(
        written.len() as u128,
        total,
        "{strategy:?} seed {seed}: all claimed"
    );
    let fair = total / 3;
    assert!(
        tally.len() == 3 && tally.values().all(|n| n.abs_diff(fair) <= 1),
        "{strategy:?} seed {seed}: split {:?}",
        tally.values().collect::<Vec<_>>()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A claim only confirms the offer every node already computed: whichever
    /// of the offers have been claimed (and seen), the rest stay where they were.
    #[test]
    fn round_robin_offers_do_not_move_whichever_claims_have_arrived(seed in any::<u64>()) {
        let mut g = Gen(seed);
        let agents = 2 + g.below(5) as u128;
        let mut w = World::new(agents);
        let members: Vec<u128> = (1..=agents).collect();
        w.campaign(1, Strategy::RoundRobin, &members);
        for a in 1..=agents {
            // Finished work, before the burst.
            w.history(a).last_assigned_at = g.chance(1, 2).then(|| NOW - 10_000 - g.below(5) as Millis);
        }
        let customers = 1 + g.below(30) as u128;
        for n in 0..customers {
            w.queue(n, 1, NOW - 5_000 + g.below(40) as Millis);
        }
        let before = w.route();
        let mut seen = w.clone();
        let mut claimed = BTreeSet::new();
        for offer in &before.offers {
            if g.chance(1, 2) {
                let s = seen.open.iter_mut().find(|s| s.id == offer.interaction).unwrap();
                s.owner = Some(offer.agents[0]);
                s.claimed_at = Some(NOW + g.below(1_000) as Millis);
                claimed.insert(offer.interaction);
            }
        }
        let after = seen.route();
        let expected: Vec<&Offer> = before
            .offers
            .iter()
            .filter(|o| !claimed.contains(&o.interaction))
            .collect();
        prop_assert_eq!(after.offers.iter().collect::<Vec<_>>(), expected);
    }
}

#[test]
fn round_robin_stays_fair_when_claims_are_in_flight_between_nodes() {
    for seed in 0..100 {
        assert_fair_burst(Strategy::RoundRobin, 30, seed);
    }
}

#[test]
fn least_busy_and_fewest_handled_stay_fair_when_claims_are_in_flight() {
    for seed in 0..40 {
        assert_fair_burst(Strategy::LeastBusy, 30, seed);
        assert_fair_burst(Strategy::FewestHandled, 30, seed);
    }
}

// ---------------------------------------------------------------- claim resolution

fn interaction_with(claims: Vec<Claim>, epoch: u32) -> Interaction {
    let campaign = cid(1);
    Interaction {
        id: iid(1),
        direction: Direction::Inbound,
        channel: ChannelKind::Webchat,
        origin_campaign: campaign,
        contact: None,
        address: String::new(),
        contact_name: String::new(),
        contact_unverified: false,
        snooze: None,
        subject: String::new(),
        fields: BTreeMap::new(),
        priority: 0,
        enqueued_at: 0,
        created_at: 0,
        created_by: None,
        messages: vec![],
        claims,
        declines: vec![],
        transfers: (0..epoch)
            .map(|_| Transfer {
                from: aid(1),
                to: TransferTarget::Campaign(campaign),
                at: 1,
                note: String::new(),
                kind: TransferKind::Transfer,
                reason: String::new(),
            })
            .collect(),
        finalization: None,
        notes: vec![],
        tags: BTreeSet::new(),
    }
}

fn owner_of(claims: &[Claim], epoch: u32) -> Option<Claim> {
    interaction_with(claims.to_vec(), epoch).owner()
}

fn claims_strategy() -> impl proptest::strategy::Strategy<Value = Vec<Claim>> {
    prop::collection::vec(
        (1u128..6, 0i64..4, 0u32..3).prop_map(|(agent, claimed_at, epoch)| Claim {
            agent: aid(agent),
            claimed_at,
            epoch,
        }),
        0..12,
    )
}

proptest! {
    #[test]
    fn claim_resolution_is_commutative_associative_and_idempotent(
        claims in claims_strategy(),
        epoch in 0u32..3,
        split in any::<(u64, u64)>(),
        order in any::<u64>(),
    ) {
        let owner = owner_of(&claims, epoch);
        // The owner is the smallest (claimed_at, agent) of the current round.
        let expected = claims.iter().filter(|c| c.epoch == epoch).min_by_key(|c| (c.claimed_at, c.agent)).copied();
        prop_assert_eq!(owner, expected);

        // Any arrival order, with duplicates (idempotent, commutative).
        let mut g = Gen(order);
        let mut replayed = claims.clone();
        replayed.extend(claims.iter().filter(|_| g.chance(1, 2)).copied());
        g.shuffle(&mut replayed);
        prop_assert_eq!(owner_of(&replayed, epoch), owner);

        // Merging partial replicas in any grouping (associative): the owner of a
        // merge is the owner of the parts' owners.
        let cut1 = (split.0 as usize) % (claims.len() + 1);
        let cut2 = cut1 + (split.1 as usize) % (claims.len() - cut1 + 1);
        let (a, rest) = claims.split_at(cut1);
        let (b, c) = rest.split_at(cut2 - cut1);
        let merge = |x: &[Claim], y: &[Claim]| -> Vec<Claim> { x.iter().chain(y).copied().collect() };
        let left = merge(&merge(a, b), c);
        let right = merge(c, &merge(b, a));
        prop_assert_eq!(owner_of(&left, epoch), owner);
        prop_assert_eq!(owner_of(&right, epoch), owner);
        let parts: Vec<Claim> = [a, b, c].iter().filter_map(|p| owner_of(p, epoch)).collect();
        prop_assert_eq!(owner_of(&parts, epoch), owner);
    }
}
