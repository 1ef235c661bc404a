//! Bundles (issue 15): exporting and importing a team of 10k interactions
//! (5 messages each) and 1k contacts. Export: the store's documents read,
//! sealed with the team key and written durably. Import: the file read,
//! authenticated and opened, and every document judged (seals, roster,
//! write rules, bounds) and stored into an empty store of the same team.

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use meshdesk_model::authorship::DeviceKey;
use meshdesk_model::bundle::{self, BundleHeader};
use meshdesk_model::doc::{self, DocId};
use meshdesk_model::ops::{self, Context, Request};
use meshdesk_model::store::{DocEdit, LocalIdentity, Store};
use meshdesk_model::*;

const INTERACTIONS: usize = 10_000;
const MESSAGES: usize = 5;
const CONTACTS: usize = 1_000;
const BATCH: usize = 1_000;
const TEAM_KEY: [u8; 32] = [42; 32];

/// The exporting store, and the identity an importing device of its team has.
fn build(path: &Path) -> (Store, LocalIdentity) {
    let mut store = Store::open(path, DeviceKey::generate()).expect("open");
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
    let mut edits = Vec::new();
    let mut contacts = Vec::new();
    for n in 0..CONTACTS {
        let contact = Contact {
            id: ContactId::new(),
            name: format!("Customer {n}"),
            phones: vec![format!("+34 600 {n:06}")],
            emails: vec![format!("customer.{n}@example.com")],
            company: String::new(),
            notes: String::new(),
            tags: BTreeSet::new(),
            custom: BTreeMap::new(),
            created_at: now,
            updated_at: now,
            deleted: false,
            merged_into: None,
            merged_at: 0,
            merged_by: None,
            mail_sender: None,
        };
        contacts.push((contact.id, contact.name.clone()));
        edits.push(DocEdit::new(DocId::Contact(contact.id), true, move |d| {
            doc::contact::create(d, &contact)
        }));
    }
    store
        .write_many(std::mem::take(&mut edits))
        .expect("contacts");
    for n in 0..INTERACTIONS {
        let (contact, name) = contacts[n % CONTACTS].clone();
        let at = now - ((INTERACTIONS - n) as i64) * 60_000;
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
                body: format!("Message {k}: customer {name} asked, we answered."),
            })
            .collect();
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
            subject: "question".into(),
            fields: BTreeMap::new(),
            priority: 0,
            enqueued_at: at,
            created_at: at,
            created_by: None,
            messages,
            claims: vec![Claim {
                agent: me.agent,
                claimed_at: at + 500,
                epoch: 0,
            }],
            declines: vec![],
            transfers: vec![],
            finalization: None,
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
    let importer = LocalIdentity {
        team: me.team,
        agent: me.agent,
        device: DeviceKey::generate().device(),
    };
    (store, importer)
}

fn export(store: &Store, identity: &LocalIdentity, file: &Path) -> usize {
    let contents = store.bundle_contents(None).expect("contents");
    let header = BundleHeader {
        team: identity.team,
        device: "bench".into(),
        created_at: 0,
        key: String::new(),
        since_device: None,
        documents: 0,
        salt: String::new(),
    };
    let bytes = bundle::seal(header, &contents.docs, &TEAM_KEY).expect("seal");
    bundle::write_file(file, &bytes).expect("write");
    contents.docs.len()
}

fn bench_bundle(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, importer) = build(&dir.path().join("source.redb"));
    let file = dir.path().join("team.mdbundle");
    let documents = export(&store, &importer, &file);
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    eprintln!("bundle: {documents} documents, {size} bytes");

    let mut group = c.benchmark_group("bundle");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.bench_function("export 10k interactions", |b| {
        b.iter(|| black_box(export(&store, &importer, &file)))
    });
    let mut n = 0;
    group.bench_function("import 10k interactions into an empty store", |b| {
        b.iter_batched(
            || {
                n += 1;
                let path = dir.path().join(format!("import-{n}.redb"));
                let mut target = Store::open(&path, DeviceKey::generate()).expect("open");
                target.set_identity(&importer).expect("identity");
                (target, path)
            },
            |(mut target, path)| {
                let bytes = bundle::read_file(&file).expect("read");
                let (_, docs) = bundle::open(&bytes, importer.team, &[TEAM_KEY]).expect("open");
                let imported = target.import_bundle(docs).expect("import");
                assert_eq!(imported.new, documents);
                drop(target);
                let _ = std::fs::remove_file(path);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_bundle);
criterion_main!(benches);
