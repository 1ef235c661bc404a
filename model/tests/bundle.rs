//! Bundles through real stores: what goes into one (everything, or what a
//! device lacks by the sync state kept with it), and importing one with
//! the checks whole-document sync makes.

use meshdesk_model::authorship::DeviceKey;
use meshdesk_model::ops::{self, ContactSpec, Context, Reply, Request};
use meshdesk_model::store::{LocalIdentity, Replication, Store};

fn run(store: &mut Store, request: Request) -> Reply {
    match ops::execute(store, &Context::now(), request.clone()) {
        Ok(outcome) => outcome.reply,
        Err(e) => panic!("{request:?} failed: {e}"),
    }
}

fn add_contact(store: &mut Store, name: &str) {
    run(
        store,
        Request::AddContact(ContactSpec {
            name: Some(name.into()),
            ..Default::default()
        }),
    );
}

/// A store with a team and a contact, and an empty store of the same team
/// on another device.
fn two_devices(dir: &std::path::Path) -> (Store, Store) {
    let mut a = Store::open(dir.join("a.redb"), DeviceKey::generate()).expect("open");
    run(
        &mut a,
        Request::CreateTeam {
            team_name: "Support".into(),
            agent_name: "Ana".into(),
            device_name: "desk".into(),
        },
    );
    add_contact(&mut a, "Carmen Field");
    let me = a.identity().expect("identity").expect("a team");
    let key = DeviceKey::generate();
    let mut b = Store::open(dir.join("b.redb"), key.clone()).expect("open");
    b.set_identity(&LocalIdentity {
        team: me.team,
        agent: me.agent,
        device: key.device(),
    })
    .expect("identity");
    (a, b)
}

#[test]
fn an_imported_bundle_brings_every_document_once_and_again_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, mut b) = two_devices(dir.path());
    let contents = a.bundle_contents(None).expect("contents");
    assert!(contents.docs[0].id.starts_with("team:"), "the team's first");
    let n = contents.docs.len();
    let first = b.import_bundle(contents.docs.clone()).expect("import");
    assert_eq!((first.new, first.updated, first.refused.len()), (n, 0, 0));
    let again = b.import_bundle(contents.docs).expect("import");
    assert_eq!((again.new, again.updated, again.unchanged), (0, 0, n));
    assert!(again.changes.is_empty());
    assert_eq!(
        b.team().expect("team").map(|t| t.name),
        Some("Support".into())
    );
}

#[test]
fn a_since_export_leaves_out_what_the_device_is_known_to_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut a, _b) = two_devices(dir.path());
    let all = a.bundle_contents(None).expect("contents").docs;
    // Never synced with that device: everything goes.
    let since = a.bundle_contents(Some("peer-b")).expect("contents");
    assert_eq!((since.docs.len(), since.already_there), (all.len(), 0));
    // Sent it whole: it holds them all at these heads.
    let delivered: Vec<_> = all
        .iter()
        .map(|d| {
            (
                d.id.clone(),
                d.heads.iter().map(|h| automerge::ChangeHash(*h)).collect(),
            )
        })
        .collect();
    a.mark_delivered("peer-b", &delivered).expect("delivered");
    let since = a.bundle_contents(Some("peer-b")).expect("contents");
    assert_eq!((since.docs.len(), since.already_there), (0, all.len()));
    // A new contact since: only it goes.
    add_contact(&mut a, "Dana Remote");
    let since = a.bundle_contents(Some("peer-b")).expect("contents");
    assert_eq!(since.docs.len(), 1);
    assert!(since.docs[0].id.starts_with("contact:"));
}

#[test]
fn a_since_export_leaves_out_buckets_the_device_last_showed_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut a, _b) = two_devices(dir.path());
    let all = a.bundle_contents(None).expect("contents").docs.len();
    // The device's catalog, as it sent it when they met: the same as A's.
    let digests = a.catalog_digests().expect("digests");
    a.remember_peer_catalog("peer-c", &digests)
        .expect("remembered");
    let since = a.bundle_contents(Some("peer-c")).expect("contents");
    assert_eq!((since.docs.len(), since.already_there), (0, all));
    // A change since: its bucket differs now, so that document goes (and
    // any other of its bucket, which the device may well hold: more, never less).
    add_contact(&mut a, "Dana Remote");
    let since = a.bundle_contents(Some("peer-c")).expect("contents");
    assert!(since.docs.iter().any(|d| d.id.starts_with("contact:")));
    assert!(
        since.docs.len() < all + 1,
        "{} of {}",
        since.docs.len(),
        all + 1
    );
}
