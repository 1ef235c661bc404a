//! The store at contact-center scale: 100k interactions with 10 messages each
//! (1M messages) and 50k contacts. Reports opening to each tab's first page,
//! resident memory after opening, a scoped search, and one durable user write.
//!
//! The store is built once into `target/bench-data/` and reused by later runs.

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group};
use meshdesk_model::doc::{self, DocId};
use meshdesk_model::ops::{self, Context, Request};
use meshdesk_model::projection::BaseState;
use meshdesk_model::store::{DocEdit, HistoryNarrow, SearchScope, Store};
use meshdesk_model::*;

const INTERACTIONS: usize = 100_000;
const MESSAGES: usize = 10;
const CONTACTS: usize = 50_000;
const PAGE: usize = 50;
const BATCH: usize = 2_000;

const FIRST: [&str; 12] = [
    "Marta", "Bruno", "Ines", "Tomas", "Lucia", "Pablo", "Sofia", "Hugo", "Elena", "Mateo",
    "Julia", "Dario",
];
const LAST: [&str; 10] = [
    "Ruiz", "Diaz", "Lopez", "Garcia", "Navarro", "Romero", "Torres", "Vidal", "Molina", "Ortega",
];
const TOPICS: [&str; 8] = [
    "router", "invoice", "delivery", "password", "refund", "upgrade", "outage", "contract",
];

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn data_dir() -> PathBuf {
    meshdesk_model::bench_data_dir().join(format!("store-{INTERACTIONS}-{MESSAGES}-{CONTACTS}-v2"))
}

/// Builds the large store unless a complete one is already there.
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
    let now = now_ms();
    let ctx = Context {
        now,
        presence: None,
    };
    ops::execute(
        &mut store,
        &ctx,
        Request::CreateTeam {
            team_name: "Bench".into(),
            agent_name: "Ana".into(),
            device_name: "bench".into(),
        },
    )
    .expect("team");
    let me = store.identity().expect("identity").expect("me");
    let team = store.team().expect("team").expect("team");
    let campaign = team.campaigns.keys().next().copied().expect("campaign");

    let mut contact_ids = Vec::with_capacity(CONTACTS);
    let mut edits = Vec::new();
    for n in 0..CONTACTS {
        let name = format!(
            "{} {} {n}",
            FIRST[n % FIRST.len()],
            LAST[(n / 7) % LAST.len()]
        );
        let contact = Contact {
            id: ContactId::new(),
            name: name.clone(),
            phones: vec![format!(
                "+34 6{:02} {:03} {:03}",
                n % 100,
                (n / 100) % 1000,
                n % 1000
            )],
            emails: vec![format!(
                "{}.{n}@example.com",
                name.split(' ').next().unwrap_or("c").to_lowercase()
            )],
            company: format!("Company {}", n % 500),
            notes: String::new(),
            tags: BTreeSet::from([format!("segment-{}", n % 5)]),
            custom: BTreeMap::new(),
            created_at: now,
            updated_at: now,
            deleted: false,
            merged_into: None,
            merged_at: 0,
            merged_by: None,
            mail_sender: None,
        };
        contact_ids.push((contact.id, name));
        edits.push(DocEdit::new(DocId::Contact(contact.id), true, move |d| {
            doc::contact::create(d, &contact)
        }));
        if edits.len() == BATCH {
            store
                .write_many(std::mem::take(&mut edits))
                .expect("contacts");
        }
    }
    store
        .write_many(std::mem::take(&mut edits))
        .expect("contacts");

    for n in 0..INTERACTIONS {
        let (contact, name) = contact_ids[n % CONTACTS].clone();
        let at = now - ((INTERACTIONS - n) as i64) * 60_000;
        let topic = TOPICS[n % TOPICS.len()];
        let messages = (0..MESSAGES)
            .map(|k| Message {
                attachments: Vec::new(),
                id: MessageId::new(),
                author: if k % 2 == 0 {
                    Author::Contact
                } else {
                    Author::Agent(me.agent)
                },
                at: at + k as i64 * 1000,
                body: format!(
                    "Message {k} about the {topic}: customer {name} asked a question, we answered."
                ),
            })
            .collect();
        // 2% queued, 1% active, the rest closed.
        let (claims, finalization) = match n % 100 {
            0 | 1 => (vec![], None),
            2 => (
                vec![Claim {
                    agent: me.agent,
                    claimed_at: at + 500,
                    epoch: 0,
                }],
                None,
            ),
            _ => (
                vec![Claim {
                    agent: me.agent,
                    claimed_at: at + 500,
                    epoch: 0,
                }],
                Some(Finalization {
                    agent: me.agent,
                    at: at + 20_000,
                    disposition: "Resolved".into(),
                    note: String::new(),
                    wrapup_until: at + 20_000,
                }),
            ),
        };
        let interaction = Interaction {
            id: InteractionId::new(),
            direction: Direction::Inbound,
            channel: ChannelKind::Phone,
            origin_campaign: campaign,
            contact: Some(contact),
            address: format!("+34 600 {n:06}"),
            contact_name: name,
            contact_unverified: false,
            snooze: None,
            subject: format!("{topic} question"),
            fields: BTreeMap::new(),
            priority: 0,
            enqueued_at: at,
            created_at: at,
            created_by: None,
            messages,
            claims,
            declines: vec![],
            transfers: vec![],
            finalization,
            notes: vec![],
            tags: BTreeSet::from([topic.to_string()]),
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
    std::fs::write(&done, b"ok").expect("marker");
}

fn first_pages(store: &Store) -> usize {
    let mut rows = 0;
    rows += store
        .list_interactions(BaseState::Active, 0, PAGE)
        .expect("active")
        .len();
    rows += store
        .list_interactions(BaseState::Queued, 0, PAGE)
        .expect("pending")
        .len();
    rows += store
        .list_interactions(BaseState::Finalized, 0, PAGE)
        .expect("history")
        .len();
    rows += store.contacts(0, PAGE).expect("phonebook").len();
    rows
}

const RSS_ENV: &str = "MESHDESK_BENCH_RSS_ONLY";

/// Resident memory of a process that only opens the store and reads the
/// first pages: measured in a fresh process, since building the store here
/// already grew this one.
fn report_rss_in_fresh_process(path: &Path) {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    match std::process::Command::new(exe).env(RSS_ENV, path).output() {
        Ok(out) => eprint!("{}", String::from_utf8_lossy(&out.stdout)),
        Err(e) => eprintln!("could not measure resident memory: {e}"),
    }
}

fn rss_only(path: &str) {
    let before = rss_kib();
    let store = Store::open(path, meshdesk_model::authorship::DeviceKey::generate()).expect("open");
    let rows = first_pages(&store);
    let after = rss_kib();
    println!(
        "resident memory after open and first pages: {after} KiB ({before} KiB before open; {rows} rows)"
    );
}

fn bench_store(c: &mut Criterion) {
    let path = data_dir().join("meshdesk.redb");
    build(&path);

    report_rss_in_fresh_process(&path);

    let mut group = c.benchmark_group("store_100k");
    group.sample_size(20);
    group.bench_function("open_and_first_page_of_every_tab", |b| {
        b.iter(|| {
            let store = Store::open(&path, meshdesk_model::authorship::DeviceKey::generate())
                .expect("open");
            black_box(first_pages(&store))
        })
    });
    let store =
        Store::open(&path, meshdesk_model::authorship::DeviceKey::generate()).expect("open");
    group.bench_function("first_page_active", |b| {
        b.iter(|| {
            black_box(
                store
                    .list_interactions(BaseState::Active, 0, PAGE)
                    .expect("page"),
            )
        })
    });
    group.bench_function("first_page_history", |b| {
        b.iter(|| {
            black_box(
                store
                    .list_interactions(BaseState::Finalized, 0, PAGE)
                    .expect("page"),
            )
        })
    });
    // What every routing pass asks: kept between claims and finalizes…
    let now = meshdesk_model::now_ms();
    group.bench_function("agent_history_kept", |b| {
        b.iter(|| black_box(store.agent_history(now).expect("history")))
    });
    // …and read afresh (each iteration asks for another day).
    let mut day = 0;
    group.bench_function("agent_history_read", |b| {
        b.iter(|| {
            day += 1;
            black_box(
                store
                    .agent_history(now + day * 86_400_000)
                    .expect("history"),
            )
        })
    });
    group.bench_function("first_page_phonebook", |b| {
        b.iter(|| black_box(store.contacts(0, PAGE).expect("page")))
    });
    group.bench_function("search_history_keystroke", |b| {
        b.iter(|| {
            black_box(
                store
                    .search(SearchScope::History, "lucia ortega 9", PAGE)
                    .expect("search"),
            )
        })
    });
    group.bench_function("search_phonebook_keystroke", |b| {
        b.iter(|| {
            black_box(
                store
                    .search(SearchScope::Contacts, "ortega 41", PAGE)
                    .expect("search"),
            )
        })
    });
    group.bench_function("search_active_keystroke", |b| {
        b.iter(|| {
            black_box(
                store
                    .search(SearchScope::Active, "router", PAGE)
                    .expect("search"),
            )
        })
    });
    let me = store.identity().expect("identity").expect("me").agent;
    // A page of rows with the total, as the inbox asks: Active narrowed to
    // this agent's own in the index, History in newest-closed order.
    for (name, scope, query, owner) in [
        (
            "search_active_mine_page_with_total",
            SearchScope::Active,
            "router",
            Some(me),
        ),
        (
            "search_history_page_with_total",
            SearchScope::History,
            "refund",
            None,
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    store
                        .search_page(scope, query, owner, 0, PAGE)
                        .and_then(|ids| store.page_summaries(ids))
                        .expect("search"),
                )
            })
        });
    }
    // History as the agent opens it (Mine: the per-owner order index, no
    // search index), between dates, and narrowed by the search index's
    // filter sets with words.
    let dated = HistoryNarrow {
        owner: Some(me),
        since: Some(meshdesk_model::now_ms() - 7 * 86_400_000),
        until: Some(meshdesk_model::now_ms()),
        ..HistoryNarrow::default()
    };
    let filtered = HistoryNarrow {
        channel: Some(ChannelKind::Phone),
        disposition: Some("Resolved".into()),
        ..HistoryNarrow::default()
    };
    for (name, query, narrow) in [
        (
            "history_mine_first_page",
            None,
            HistoryNarrow {
                owner: Some(me),
                ..HistoryNarrow::default()
            },
        ),
        ("history_mine_last_week_page", None, dated),
        (
            "history_team_phone_resolved_refund_page",
            Some("refund"),
            filtered,
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    store
                        .history_page(query, &narrow, 0, PAGE)
                        .expect("history"),
                )
            })
        });
    }
    group.bench_function("search_history_no_match", |b| {
        b.iter(|| {
            black_box(
                store
                    .search(SearchScope::History, "zzqx", PAGE)
                    .expect("search"),
            )
        })
    });
    drop(store);

    // One durable user write: a message sent in an active interaction,
    // spread over the 1k active ones as agents do (each gets a few more).
    let mut store =
        Store::open(&path, meshdesk_model::authorship::DeviceKey::generate()).expect("open");
    let active: Vec<String> = store
        .list_interactions(BaseState::Active, 0, 1_000)
        .expect("active")
        .iter()
        .map(|s| s.id.to_string())
        .collect();
    assert!(
        !active.is_empty(),
        "the bench store has active interactions"
    );
    let ctx = Context::now();
    let mut next = 0;
    group.bench_function("durable_send_message", |b| {
        b.iter(|| {
            next = (next + 1) % active.len();
            let id = active[next].clone();
            ops::execute(
                &mut store,
                &ctx,
                Request::Send {
                    id: id.parse().expect("an id"),
                    text: "On my way".into(),
                },
            )
            .expect("send")
        })
    });
    group.finish();
}

criterion_group!(benches, bench_store);

fn main() {
    if let Ok(path) = std::env::var(RSS_ENV) {
        rss_only(&path);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
