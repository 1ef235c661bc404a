//! What authorship and the write rules cost (DESIGN §6): sealing a local
//! change, verifying a seal, and judging a whole received interaction
//! (10 messages, one change each) against the write rules.
//!
//! `cargo bench -p meshdesk-model --bench trust`

use meshdesk_model::store::Replication;
use std::hint::black_box;

use automerge::{AutoCommit, ChangeHash};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use meshdesk_model::authorship::{DeviceKey, Sealed};
use meshdesk_model::doc::{self, DocId};
use meshdesk_model::ops::{self, Context, Request};
use meshdesk_model::rules::{self, SealBook};
use meshdesk_model::store::Store;
use meshdesk_model::*;

const DOCS: usize = 200;
const MESSAGES: usize = 10;

/// A team's store holding `DOCS` interactions of `MESSAGES` messages, each message its own change.
fn sender() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path().join("a.redb"), DeviceKey::generate()).expect("open");
    ops::execute(
        &mut store,
        &Context::now(),
        Request::CreateTeam {
            team_name: "Bench".into(),
            agent_name: "Ana".into(),
            device_name: "a".into(),
        },
    )
    .expect("team");
    let team = store.team().expect("team").expect("team");
    let me = store.identity().expect("identity").expect("identity");
    let campaign = *team.campaigns.keys().next().expect("campaign");
    for n in 0..DOCS {
        let id = InteractionId::new();
        let now = now_ms();
        let interaction = Interaction {
            id,
            direction: Direction::Inbound,
            channel: ChannelKind::Webchat,
            origin_campaign: campaign,
            contact: None,
            address: format!("+1 555 {n:04}"),
            contact_name: format!("Caller {n}"),
            contact_unverified: false,
            snooze: None,
            subject: String::new(),
            fields: Default::default(),
            priority: 0,
            enqueued_at: now,
            created_at: now,
            created_by: Some(me.agent),
            messages: vec![],
            claims: vec![Claim {
                agent: me.agent,
                claimed_at: now,
                epoch: 0,
            }],
            declines: vec![],
            transfers: vec![],
            finalization: None,
            notes: vec![],
            tags: Default::default(),
        };
        let doc_id = DocId::Interaction(id);
        store
            .write_doc(&doc_id, true, move |d| {
                doc::interaction::create(d, &interaction)
            })
            .expect("create");
        for m in 0..MESSAGES {
            let author = if m % 2 == 0 {
                Author::Contact
            } else {
                Author::Agent(me.agent)
            };
            let message = Message {
                attachments: Vec::new(),
                id: MessageId::new(),
                author,
                at: now_ms(),
                body: format!("message {m} about the order {n}"),
            };
            store
                .write_doc(&doc_id, false, move |d| {
                    doc::interaction::append_message(d, &message)
                })
                .expect("message");
        }
    }
    (dir, store)
}

fn bench_trust(c: &mut Criterion) {
    let key = DeviceKey::generate();
    let hash = ChangeHash([7; 32]);
    let doc_id = "interaction:01ARZ3NDEKTSV4RRFFQ69G5FAV";
    c.bench_function("seal_a_change", |b| {
        b.iter(|| black_box(key.seal(doc_id, &hash)))
    });
    let seal = key.seal(doc_id, &hash);
    c.bench_function("verify_a_seal", |b| {
        b.iter(|| black_box(seal.verify(doc_id)).expect("valid"))
    });

    let (_dir, store) = sender();
    let team = store.team().expect("team").expect("team");
    let own = store.identity().expect("identity").map(|i| i.team);
    let ids: Vec<String> = store
        .doc_ids()
        .expect("ids")
        .into_iter()
        .filter(|id| id.starts_with("interaction:"))
        .collect();
    let raw = store.raw_doc_bytes(&ids, usize::MAX).expect("raw");
    let received: Vec<(DocId, Sealed)> = raw
        .iter()
        .map(|d| {
            (
                d.doc_id.parse().expect("id"),
                Sealed::decode(&d.bytes).expect("sealed"),
            )
        })
        .collect();
    let mut group = c.benchmark_group("judge_whole_interactions");
    group.sample_size(20);
    group.bench_function(format!("{DOCS}_docs_of_{MESSAGES}_messages"), |b| {
        b.iter_batched(
            || {
                received
                    .iter()
                    .map(|(id, s)| {
                        (
                            id.clone(),
                            AutoCommit::load(&s.bytes).expect("load"),
                            s.seals.clone(),
                        )
                    })
                    .collect::<Vec<_>>()
            },
            |mut docs| {
                for (id, doc, seals) in docs.iter_mut() {
                    let mut book = SealBook::new();
                    rules::admit(id, doc, &[], &mut book, seals, Some(&team), own)
                        .expect("admitted");
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_trust);
criterion_main!(benches);
