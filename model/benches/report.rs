//! A month's report at contact-center scale: 100k interactions in the
//! month (some transferred, some declined first, some closed from the
//! queue) across 4 campaigns and 200 agents, each with a month of status
//! changes. Measures `Request::Report` by agent and by campaign (the
//! projections' read and the figures) and the CSV.
//!
//! The store is built once into `target/bench-data/` and reused by later runs.

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group};
use meshdesk_model::doc::{self, DocId};
use meshdesk_model::ops::{self, CampaignSpec, Context, Reply, Request};
use meshdesk_model::report::Grouping;
use meshdesk_model::store::{DocEdit, Store};
use meshdesk_model::*;

const INTERACTIONS: usize = 100_000;
const AGENTS: usize = 200;
const STATUS_CHANGES: usize = 300;
const BATCH: usize = 2_000;
const NOV1: Millis = 1_793_491_200_000; // 2026-11-01T00:00:00Z
const MONTH: Millis = 30 * 24 * 3_600_000;

/// Named for the projection it was built under: a store from an older
/// one would be derived again under the write rules, which the bench's
/// shortcut writes (claims in other agents' names) do not pass.
fn data_dir() -> PathBuf {
    let projection = meshdesk_model::store::PROJECTION_VERSION;
    meshdesk_model::bench_data_dir().join(format!("report-{INTERACTIONS}-{AGENTS}-p{projection}"))
}

fn ctx(now: Millis) -> Context {
    Context {
        now,
        presence: None,
    }
}

/// Builds the store unless a complete one is already there.
fn build(path: &Path) {
    let done = path.with_extension("complete");
    if done.exists() {
        return;
    }
    let _ = std::fs::remove_file(path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("bench dir");
    }
    let mut store =
        Store::open(path, meshdesk_model::authorship::DeviceKey::generate()).expect("open");
    ops::execute(
        &mut store,
        &ctx(NOV1 - MONTH),
        Request::CreateTeam {
            team_name: "Bench".into(),
            agent_name: "Ana".into(),
            device_name: "bench".into(),
        },
    )
    .expect("team");
    for (name, sla) in [("Sales", 30), ("Billing", 60), ("Tech", 120)] {
        let mut spec = CampaignSpec::new(name, ChannelKind::Phone, Strategy::RingAll);
        spec.sla_seconds = sla;
        ops::execute(&mut store, &ctx(NOV1 - MONTH), Request::AddCampaign(spec)).expect("campaign");
    }
    let team = store.team().expect("team").expect("team");
    let campaigns: Vec<CampaignId> = team.campaigns.keys().copied().collect();
    let dispositions = ["Resolved", "Callback", "Escalated", "Spam"];

    let mut agents = Vec::with_capacity(AGENTS);
    let mut edits = Vec::new();
    for n in 0..AGENTS {
        let id = AgentId::new();
        agents.push(id);
        let status_history = (0..STATUS_CHANGES)
            .map(|k| StatusChange {
                at: NOV1 + (k as i64) * (MONTH / STATUS_CHANGES as i64) + n as i64 * 1000,
                status: match k % 3 {
                    0 => AgentStatus::Available,
                    1 => AgentStatus::Break {
                        reason: ["Lunch", "Training", "Meeting"][k % 9 / 3].into(),
                    },
                    _ => AgentStatus::Offline,
                },
            })
            .collect();
        let agent = Agent {
            id,
            name: format!("Agent {n:03}"),
            status: AgentStatus::Offline,
            status_since: NOV1,
            capacity: 0,
            status_history,
        };
        edits.push(DocEdit::new(DocId::Agent(id), true, move |d| {
            doc::agent::create(d, &agent)
        }));
    }
    store
        .write_many(std::mem::take(&mut edits))
        .expect("agents");

    let step = MONTH / INTERACTIONS as Millis;
    for n in 0..INTERACTIONS {
        let at = NOV1 + n as Millis * step;
        let agent = agents[n % AGENTS];
        let other = agents[(n * 7 + 1) % AGENTS];
        let mut claims = vec![];
        let mut declines = vec![];
        let mut transfers = vec![];
        let wait = (n % 180) as Millis * 1000;
        let closed_from_queue = n % 50 == 0;
        if !closed_from_queue {
            if n % 5 == 0 {
                declines.push(Decline {
                    agent: other,
                    at: at + 1000,
                    epoch: 0,
                });
            }
            claims.push(Claim {
                agent,
                claimed_at: at + wait,
                epoch: 0,
            });
            if n % 10 == 0 {
                transfers.push(Transfer {
                    from: agent,
                    to: TransferTarget::Agent(other),
                    at: at + wait + 60_000,
                    note: String::new(),
                    kind: TransferKind::Transfer,
                    reason: String::new(),
                });
                claims.push(Claim {
                    agent: other,
                    claimed_at: at + wait + 70_000,
                    epoch: 1,
                });
            }
        }
        let finalizer = claims.last().map(|c| c.agent).unwrap_or(agents[0]);
        let finalization = (n % 100 != 1).then(|| Finalization {
            agent: finalizer,
            at: at + wait + 300_000 + (n % 600) as Millis * 1000,
            disposition: dispositions[n % dispositions.len()].into(),
            note: String::new(),
            wrapup_until: at + wait + 300_000,
        });
        let interaction = Interaction {
            id: InteractionId::new(),
            direction: Direction::Inbound,
            channel: ChannelKind::Phone,
            origin_campaign: campaigns[n % campaigns.len()],
            contact: None,
            address: format!("+34 600 {n:06}"),
            contact_name: format!("Customer {n}"),
            contact_unverified: false,
            snooze: None,
            subject: String::new(),
            fields: BTreeMap::new(),
            priority: 0,
            enqueued_at: at,
            created_at: at,
            created_by: None,
            messages: vec![Message {
                attachments: Vec::new(),
                id: MessageId::new(),
                author: Author::Contact,
                at,
                body: "Hello, a question about my bill".into(),
            }],
            claims,
            declines,
            transfers,
            finalization,
            notes: vec![],
            tags: BTreeSet::new(),
        };
        edits.push(DocEdit::new(
            DocId::Interaction(interaction.id),
            true,
            move |d| doc::interaction::create(d, &interaction),
        ));
        if edits.len() == BATCH {
            store
                .write_many(std::mem::take(&mut edits))
                .expect("interactions");
        }
    }
    store
        .write_many(std::mem::take(&mut edits))
        .expect("interactions");
    drop(store);
    std::fs::write(done, b"").expect("mark complete");
}

fn month_report(store: &mut Store, by: Grouping) -> Box<meshdesk_model::report::Report> {
    let request = Request::Report {
        from: NOV1,
        to: NOV1 + MONTH,
        by,
    };
    match ops::execute(store, &ctx(NOV1 + MONTH), request) {
        Ok(ops::Outcome {
            reply: Reply::Report(r),
            ..
        }) => r,
        other => panic!("expected a report, got {other:?}"),
    }
}

fn bench_report(c: &mut Criterion) {
    let path = data_dir();
    build(&path);
    let mut store =
        Store::open(&path, meshdesk_model::authorship::DeviceKey::generate()).expect("open");
    let by_agent = month_report(&mut store, Grouping::Agent);
    assert_eq!(by_agent.groups.len(), AGENTS + 1);
    let handled: u64 = by_agent.groups.iter().map(|g| g.figures.handled).sum();
    assert!(handled > INTERACTIONS as u64 * 9 / 10, "{handled}");

    let mut group = c.benchmark_group("report");
    group.sample_size(20);
    group.bench_function("a month by agent, 100k interactions, 200 agents", |b| {
        b.iter(|| black_box(month_report(&mut store, Grouping::Agent)))
    });
    group.bench_function("a month by campaign, 100k interactions", |b| {
        b.iter(|| black_box(month_report(&mut store, Grouping::Campaign)))
    });
    let range = meshdesk_model::report::Range {
        from: NOV1,
        to: NOV1 + MONTH,
    };
    group.bench_function("read the month's rows and status logs", |b| {
        b.iter(|| black_box(store.report_data(range).expect("rows")))
    });
    let data = store.report_data(range).expect("rows");
    let team = store.team().expect("team").expect("team");
    let campaigns: Vec<Campaign> = team.campaigns.values().cloned().collect();
    let agents: Vec<(AgentId, String)> = store
        .agents()
        .expect("agents")
        .into_values()
        .map(|a| (a.id, a.name))
        .collect();
    group.bench_function("the figures by agent from the rows read", |b| {
        b.iter(|| {
            black_box(meshdesk_model::report::build(
                &meshdesk_model::report::ReportInput {
                    range,
                    by: Grouping::Agent,
                    campaigns: &campaigns,
                    agents: &agents,
                    rows: &data.rows,
                    status_logs: &data.status_logs,
                    data_until: data.data_until,
                },
            ))
        })
    });
    group.bench_function("the month by agent as CSV", |b| {
        b.iter(|| black_box(by_agent.to_csv().expect("csv")))
    });
    // The board as the window reads it again after a change: today's
    // figures both ways, the open interactions and the 200 agents, on the
    // month's last day.
    let noon = NOV1 + MONTH - 12 * 3_600_000;
    let board = |store: &mut Store| match ops::execute(store, &ctx(noon), Request::Board) {
        Ok(ops::Outcome {
            reply: Reply::Board(board),
            ..
        }) => board,
        other => panic!("expected the board, got {other:?}"),
    };
    let today = board(&mut store);
    assert_eq!(today.agents.len(), AGENTS + 1);
    assert!(
        today.campaigns.iter().any(|c| c.offered_today > 0),
        "{today:?}"
    );
    group.bench_function("the board at noon of a day of the month", |b| {
        b.iter(|| black_box(board(&mut store)))
    });
    group.finish();
}

criterion_group!(benches, bench_report);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
