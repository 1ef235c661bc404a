//! The phonebook with merged contacts: every phonebook read resolves the
//! merges in force (one read of `contact_merges`), so this measures a
//! phonebook of 5,000 contacts with 500 of them merged (chains of up to
//! three), against the same phonebook without merges: the first page, a
//! search keystroke, and a survivor's profile.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use meshdesk_model::ContactId;
use meshdesk_model::authorship::DeviceKey;
use meshdesk_model::ops::{self, ContactSpec, Context, Reply, Request};
use meshdesk_model::store::Store;

const CONTACTS: usize = 5_000;
const MERGED: usize = 500;

fn run(store: &mut Store, request: Request) -> Reply {
    match ops::execute(store, &Context::now(), request) {
        Ok(outcome) => outcome.reply,
        Err(e) => panic!("{e}"),
    }
}

/// A store with the phonebook, and `merged` of its contacts merged in
/// chains of three (a into b into c); the first chain's survivor.
fn phonebook(merged: usize) -> (tempfile::TempDir, Store, ContactId) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path().join("s.redb"), DeviceKey::generate()).expect("open");
    run(
        &mut store,
        Request::CreateTeam {
            team_name: "Support".into(),
            agent_name: "Ana".into(),
            device_name: "desk".into(),
        },
    );
    let ids: Vec<ContactId> = (0..CONTACTS)
        .map(|n| {
            let Reply::Created { id } = run(
                &mut store,
                Request::AddContact(ContactSpec {
                    name: Some(format!("Customer {n} Ortega")),
                    phones: Some(vec![format!("+34 600 {n:06}")]),
                    emails: Some(vec![format!("c{n}@example.com")]),
                    ..ContactSpec::default()
                }),
            ) else {
                panic!("no id");
            };
            id.parse().expect("id")
        })
        .collect();
    // Chains: ids[3k] into ids[3k+1], then ids[3k+1] into ids[3k+2].
    let mut done = 0;
    let mut k = 0;
    while done < merged {
        let (a, b, c) = (ids[3 * k], ids[3 * k + 1], ids[3 * k + 2]);
        run(
            &mut store,
            Request::MergeContacts {
                survivor: b,
                absorbed: a,
            },
        );
        run(
            &mut store,
            Request::MergeContacts {
                survivor: c,
                absorbed: b,
            },
        );
        done += 2;
        k += 1;
    }
    (dir, store, ids[2])
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("phonebook_5k");
    group.sample_size(30);
    for merged in [0, MERGED] {
        let (_dir, mut store, survivor) = phonebook(merged);
        group.bench_function(format!("first_page_{merged}_merged"), |b| {
            b.iter(|| black_box(store.contacts_page(0, 50).expect("page")))
        });
        // Load the scope's index once, as the first search does.
        store.search_contacts_page("ortega", 0, 50).expect("search");
        group.bench_function(format!("search_keystroke_{merged}_merged"), |b| {
            b.iter(|| {
                black_box(
                    store
                        .search_contacts_page("ortega 41", 0, 50)
                        .expect("search"),
                )
            })
        });
        group.bench_function(format!("profile_{merged}_merged"), |b| {
            b.iter(|| black_box(run(&mut store, Request::ShowContact { id: survivor })))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
