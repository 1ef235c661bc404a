//! The store end to end: every entity through a real redb file, reopened.

use meshdesk_model::store::Replication;
use std::collections::BTreeMap;

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use meshdesk_model::doc::DocId;
use meshdesk_model::ops::{
    self, CampaignSpec, CannedChanges, CannedSpec, ChatTarget, ContactSpec, Context, OpError,
    Reply, Request, Tab, TransferTo,
};
use meshdesk_model::projection::BaseState;
use meshdesk_model::store::{SearchScope, Store};
use meshdesk_model::*;

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Store,
}

fn ctx() -> Context {
    Context::now()
}

fn run(store: &mut Store, request: Request) -> Reply {
    match ops::execute(store, &ctx(), request.clone()) {
        Ok(outcome) => outcome.reply,
        Err(e) => panic!("{request:?} failed: {e}"),
    }
}

fn created(reply: Reply) -> String {
    match reply {
        Reply::Created { id } => id,
        other => panic!("expected an id, got {other:?}"),
    }
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.redb");
    let mut store =
        Store::open(&path, meshdesk_model::authorship::DeviceKey::generate()).expect("open");
    run(
        &mut store,
        Request::CreateTeam {
            team_name: "Support".into(),
            agent_name: "Ana".into(),
            device_name: "desk".into(),
        },
    );
    Fixture {
        _dir: dir,
        path,
        store,
    }
}

fn contact_spec(name: &str, email: &str) -> ContactSpec {
    ContactSpec {
        name: Some(name.into()),
        phones: Some(vec!["+34 600 100 200".into()]),
        emails: Some(vec![email.into()]),
        company: Some("Acme".into()),
        tags: Some(vec!["vip".into()]),
        notes: Some("Prefers mornings".into()),
    }
}

#[test]
fn every_entity_survives_the_store_being_dropped_and_reopened() {
    let mut f = fixture();
    let contact = created(run(
        &mut f.store,
        Request::AddContact(contact_spec("Marta Ruiz", "marta@example.com")),
    ));
    let campaign = created(run(
        &mut f.store,
        Request::AddCampaign(CampaignSpec {
            name: "Sales".into(),
            channel: ChannelKind::Webchat,
            strategy: Strategy::RoundRobin,
            members: vec![],
            dispositions: vec!["Sold".into(), "Lost".into()],
            fields: vec![FormField {
                name: "Order".into(),
                required: true,
            }],
            capacity: 2,
            auto_accept: true,
            sla_seconds: 60,
            wrapup_seconds: 30,
            hours: None,
            offer_timeout_seconds: Some(20),
        }),
    ));
    let outbound = created(run(
        &mut f.store,
        Request::NewInteraction {
            channel: ChannelKind::Phone,
            campaign: "General".into(),
            contact: Some(contact.parse().expect("an id")),
            to: None,
            fields: BTreeMap::new(),
            message: Some("Calling about your order".into()),
        },
    ));
    run(
        &mut f.store,
        Request::Send {
            id: outbound.parse().expect("an id"),
            text: "Line two".into(),
        },
    );
    run(
        &mut f.store,
        Request::AddNote {
            id: outbound.parse().expect("an id"),
            text: "Customer is happy".into(),
        },
    );
    run(
        &mut f.store,
        Request::AddTag {
            id: outbound.parse().expect("an id"),
            tag: "router".into(),
        },
    );
    run(
        &mut f.store,
        Request::Finalize {
            id: outbound.parse().expect("an id"),
            disposition: "Resolved".into(),
            note: Some("done".into()),
        },
    );
    let queued = created(run(
        &mut f.store,
        Request::Enqueue {
            campaign: "General".into(),
            contact: None,
            from: Some("+1 555 0100".into()),
            name: None,
            message: Some("Please call me back".into()),
            priority: 1,
        },
    ));
    run(
        &mut f.store,
        Request::ChatSend {
            to: ChatTarget::Campaign("General".into()),
            text: "Lunch at 1?".into(),
        },
    );
    run(
        &mut f.store,
        Request::SetStatus {
            status: AgentStatus::Break {
                reason: "Lunch".into(),
            },
        },
    );

    let before_team = f.store.team().expect("team");
    let before_dump = f.store.projection_dump().expect("dump");
    let outbound_doc = f
        .store
        .interaction(outbound.parse().expect("id"))
        .expect("interaction");
    drop(f.store);

    let mut store =
        Store::open(&f.path, meshdesk_model::authorship::DeviceKey::generate()).expect("reopen");
    assert_eq!(store.team().expect("team"), before_team);
    assert_eq!(store.projection_dump().expect("dump"), before_dump);
    let team = store.team().expect("team").expect("a team");
    let sales = team.campaign_by_name("Sales").expect("Sales campaign");
    assert_eq!(sales.id.to_string(), campaign);
    assert_eq!(sales.wrapup_seconds, 30);
    assert!(sales.auto_accept);

    let reread = store
        .interaction(outbound.parse().expect("id"))
        .expect("interaction");
    assert_eq!(reread, outbound_doc);
    assert_eq!(reread.messages.len(), 2);
    assert_eq!(reread.notes[0].text, "Customer is happy");
    assert_eq!(
        reread.finalization.as_ref().map(|f| f.disposition.as_str()),
        Some("Resolved")
    );

    let history = store
        .list_interactions(BaseState::Finalized, 0, 10)
        .expect("history");
    assert_eq!(
        history.iter().map(|s| s.id.to_string()).collect::<Vec<_>>(),
        vec![outbound.clone()]
    );
    let queue = store
        .list_interactions(BaseState::Queued, 0, 10)
        .expect("queue");
    assert_eq!(
        queue.iter().map(|s| s.id.to_string()).collect::<Vec<_>>(),
        vec![queued]
    );
    let contacts = store.contacts(0, 10).expect("contacts");
    assert_eq!(contacts[0].name, "Marta Ruiz");
    assert_eq!(
        store
            .contact_interactions(contacts[0].id)
            .expect("history")
            .len(),
        1
    );
    let me = store.identity().expect("identity").expect("me");
    assert_eq!(
        store.agent(me.agent).expect("agent").map(|a| a.status),
        Some(AgentStatus::Break {
            reason: "Lunch".into()
        })
    );
    let rooms = store.rooms().expect("rooms");
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].last_message_preview, "Lunch at 1?");
}

#[test]
fn search_is_scoped_to_the_tab() {
    let mut f = fixture();
    let active = created(run(
        &mut f.store,
        phone_call("+1 555 0199", Some("router blinking red")),
    ));
    let closed = created(run(
        &mut f.store,
        Request::NewInteraction {
            channel: ChannelKind::Phone,
            campaign: "General".into(),
            contact: None,
            to: Some("+1 555 0100".into()),
            fields: BTreeMap::new(),
            message: Some("router replaced".into()),
        },
    ));
    run(
        &mut f.store,
        Request::Finalize {
            id: closed.parse().expect("an id"),
            disposition: "Resolved".into(),
            note: None,
        },
    );
    created(run(
        &mut f.store,
        Request::AddContact(contact_spec("Router Guy", "router@example.com")),
    ));

    let ids = |scope| f.store.search(scope, "ROUTER", 10).expect("search");
    assert_eq!(ids(SearchScope::Active), vec![active.clone()]);
    assert_eq!(ids(SearchScope::History), vec![closed.clone()]);
    assert_eq!(ids(SearchScope::Pending), Vec::<String>::new());
    assert_eq!(ids(SearchScope::Contacts).len(), 1);
    // Phone digits match whatever spacing the agent types.
    assert_eq!(
        f.store
            .search(SearchScope::Contacts, "600100200", 10)
            .expect("search")
            .len(),
        1
    );

    // The in-memory index follows every commit: finalizing moves a row from Active to History.
    run(
        &mut f.store,
        Request::Finalize {
            id: active.parse().expect("an id"),
            disposition: "Resolved".into(),
            note: None,
        },
    );
    assert_eq!(
        f.store
            .search(SearchScope::Active, "router", 10)
            .expect("search"),
        Vec::<String>::new()
    );
    let mut history = f
        .store
        .search(SearchScope::History, "router", 10)
        .expect("search");
    history.sort();
    let mut expected = vec![active.clone(), closed.clone()];
    expected.sort();
    assert_eq!(history, expected);
    let reopened = Store::open(&f.path, meshdesk_model::authorship::DeviceKey::generate());
    assert!(reopened.is_err(), "one process at a time");
}

#[test]
fn search_text_lists_rows_for_a_tab() {
    let mut f = fixture();
    let active = created(run(
        &mut f.store,
        phone_call("+1 555 0199", Some("router blinking red")),
    ));
    let rows = match run(
        &mut f.store,
        Request::ListInteractions {
            tab: Tab::Active,
            search: Some("blinking".into()),
            limit: None,
            history: Default::default(),
        },
    ) {
        Reply::Interactions(rows) => rows,
        other => panic!("{other:?}"),
    };
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].summary.id.to_string(), active);
}

#[test]
fn refused_requests_write_nothing() {
    let mut f = fixture();
    created(run(
        &mut f.store,
        Request::AddCampaign(CampaignSpec {
            fields: vec![FormField {
                name: "Order".into(),
                required: true,
            }],
            ..CampaignSpec::new("Orders", ChannelKind::Phone, Strategy::TopDown)
        }),
    ));
    let id = created(run(
        &mut f.store,
        Request::NewInteraction {
            channel: ChannelKind::Phone,
            campaign: "Orders".into(),
            contact: None,
            to: Some("+1 555 0100".into()),
            fields: BTreeMap::from([("order".to_string(), "A-1".to_string())]),
            message: None,
        },
    ));
    let before = f.store.projection_dump().expect("dump");
    let bad = [
        Request::NewInteraction {
            channel: ChannelKind::Phone,
            campaign: "Orders".into(),
            contact: None,
            to: Some("+1 555 0100".into()),
            fields: BTreeMap::new(),
            message: None,
        },
        Request::NewInteraction {
            channel: ChannelKind::Phone,
            campaign: "Nope".into(),
            contact: None,
            to: Some("+1 555 0100".into()),
            fields: BTreeMap::new(),
            message: None,
        },
        Request::AddContact(ContactSpec {
            name: Some("X".into()),
            emails: Some(vec!["not-an-email".into()]),
            ..Default::default()
        }),
        Request::AddContact(ContactSpec {
            name: Some("X".into()),
            phones: Some(vec!["call me".into()]),
            ..Default::default()
        }),
        Request::Finalize {
            id: id.parse().expect("an id"),
            disposition: "Sold".into(),
            note: None,
        },
        Request::Send {
            id: "01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().expect("an id"),
            text: "hi".into(),
        },
        Request::Send {
            id: id.parse().expect("an id"),
            text: "   ".into(),
        },
        Request::Transfer {
            id: id.parse().expect("an id"),
            to: TransferTo::Agent("Nobody".into()),
            note: None,
        },
    ];
    for request in bad {
        let err = ops::execute(&mut f.store, &ctx(), request.clone()).expect_err("refused");
        assert!(err.is_user_error(), "{request:?}: {err}");
        assert_eq!(
            f.store.projection_dump().expect("dump"),
            before,
            "{request:?} wrote something"
        );
    }
    let missing = ops::execute(
        &mut f.store,
        &ctx(),
        Request::NewInteraction {
            channel: ChannelKind::Phone,
            campaign: "Orders".into(),
            contact: None,
            to: Some("+1 555 0100".into()),
            fields: BTreeMap::new(),
            message: None,
        },
    )
    .expect_err("refused");
    assert!(matches!(missing, OpError::MissingField { .. }), "{missing}");
    assert_eq!(
        missing.to_string(),
        "missing required field `Order` for campaign `Orders`"
    );
}

#[test]
fn a_malformed_document_from_a_peer_is_reported_and_left_out() {
    let mut f = fixture();
    created(run(
        &mut f.store,
        Request::AddContact(contact_spec("Marta", "marta@example.com")),
    ));
    let count_before = f.store.count_contacts().expect("count");

    // A teammate's buggy or hostile device sends a "contact" whose name is a number.
    let key = enrol(&mut f.store);
    let id = ContactId::new();
    let mut evil = automerge::AutoCommit::new().with_actor(key.actor());
    evil.put(automerge::ROOT, "kind", "contact").expect("put");
    evil.put(automerge::ROOT, "id", id.to_string())
        .expect("put");
    evil.put(automerge::ROOT, "name", 42).expect("put");
    let mut state = automerge::sync::State::new();
    let mut messages = Vec::new();
    let mut receiver_state = automerge::sync::State::new();
    let mut empty = automerge::AutoCommit::new();
    // Run the real sync handshake between the hostile doc and an empty one.
    for _ in 0..4 {
        if let Some(m) = evil.sync().generate_sync_message(&mut state) {
            messages.push(m.clone().encode());
            empty
                .sync()
                .receive_sync_message(&mut receiver_state, m)
                .expect("receive");
        }
        if let Some(m) = empty.sync().generate_sync_message(&mut receiver_state) {
            evil.sync()
                .receive_sync_message(&mut state, m)
                .expect("receive");
        }
    }
    let doc_id = DocId::Contact(id).to_string();
    let seal = key.seal(&doc_id, &evil.get_heads()[0]);
    let unsealed = meshdesk_model::authorship::Sealed {
        seals: vec![],
        bytes: messages[1].clone(),
    };
    let got = f
        .store
        .receive_sync_messages("evil-peer", &[(doc_id.clone(), unsealed.encode())])
        .expect("refused, not an error");
    assert_eq!(got.refused.len(), 1, "an unsealed change is never stored");
    for m in messages {
        let sealed = meshdesk_model::authorship::Sealed {
            seals: vec![seal.clone()],
            bytes: m,
        };
        let got = f
            .store
            .receive_sync_messages("evil-peer", &[(doc_id.clone(), sealed.encode())])
            .expect("stored, not applied to projections");
        assert!(got.refused.is_empty(), "{:?}", got.refused);
    }
    assert_eq!(f.store.count_contacts().expect("count"), count_before);
    let malformed = f.store.malformed().expect("malformed");
    assert_eq!(malformed.len(), 1);
    assert!(malformed[0].1.contains("name"), "{malformed:?}");

    // Garbage bytes are an error, and nothing changes.
    let err = f
        .store
        .receive_sync_messages("evil-peer", &[(doc_id, vec![0xff, 0x00, 0x13])])
        .expect_err("garbage");
    assert!(err.to_string().contains("malformed sync message"), "{err}");
    let err = f
        .store
        .receive_sync_messages("evil-peer", &[("no-such-kind:1".into(), vec![])])
        .expect_err("bad id");
    assert!(err.to_string().contains("not a document id"), "{err}");
}

#[test]
fn compaction_keeps_every_message() {
    let mut f = fixture();
    let id = created(run(
        &mut f.store,
        Request::NewInteraction {
            channel: ChannelKind::Phone,
            campaign: "General".into(),
            contact: None,
            to: Some("+1 555 0100".into()),
            fields: BTreeMap::new(),
            message: None,
        },
    ));
    for n in 0..200 {
        run(
            &mut f.store,
            Request::Send {
                id: id.parse().expect("an id"),
                text: format!("message number {n} with some words in it"),
            },
        );
    }
    drop(f.store);
    let mut store =
        Store::open(&f.path, meshdesk_model::authorship::DeviceKey::generate()).expect("reopen");
    let i = store
        .interaction(id.parse().expect("id"))
        .expect("interaction");
    assert_eq!(i.messages.len(), 200);
    assert_eq!(
        i.messages_in_order().last().map(|m| m.body.as_str()),
        Some("message number 199 with some words in it")
    );
}

/// A new outbound phone interaction in the General campaign.
/// Puts a new device (an agent) on the fixture's roster; its key.
fn enrol(store: &mut Store) -> meshdesk_model::authorship::DeviceKey {
    let key = meshdesk_model::authorship::DeviceKey::generate();
    let team = store.team().expect("team").expect("a team");
    let member = Member {
        device: key.device(),
        agent: AgentId::new(),
        role: Role::Agent,
        device_name: "teammate".into(),
        joined_at: now_ms(),
        revoked: false,
        revoked_at: None,
    };
    store
        .write_doc(&DocId::Team(team.id), false, move |d| {
            doc::team::add_member(d, &member)
        })
        .expect("enrol");
    key
}

fn phone_call(to: &str, message: Option<&str>) -> Request {
    Request::NewInteraction {
        channel: ChannelKind::Phone,
        campaign: "General".into(),
        contact: None,
        to: Some(to.into()),
        fields: BTreeMap::new(),
        message: message.map(Into::into),
    }
}

fn raw_pairs(raw: &[meshdesk_model::store::RawDoc]) -> Vec<(String, Vec<u8>)> {
    raw.iter()
        .map(|d| (d.doc_id.clone(), d.bytes.clone()))
        .collect()
}

fn message(body: &str) -> Message {
    Message {
        attachments: Vec::new(),
        id: MessageId::new(),
        author: Author::Contact,
        at: now_ms(),
        body: body.into(),
    }
}

fn changes_in(bytes: &[u8]) -> usize {
    let sealed = meshdesk_model::authorship::Sealed::decode(bytes).expect("sealed");
    automerge::sync::Message::decode(&sealed.bytes)
        .expect("a sync message")
        .changes
        .len()
}

#[test]
fn documents_sent_whole_match_the_sender_and_later_edits_sync_incrementally() {
    let mut a = fixture();
    let id = created(run(&mut a.store, phone_call("+1 555 0100", Some("hello"))));
    created(run(
        &mut a.store,
        Request::AddContact(contact_spec("Marta", "marta@example.com")),
    ));
    let b_key = enrol(&mut a.store);
    let ids = a.store.doc_ids().expect("ids");
    let raw = a.store.raw_doc_bytes(&ids, usize::MAX).expect("raw");
    assert_eq!(raw.len(), ids.len());

    let dir = tempfile::tempdir().expect("tempdir");
    let b_path = dir.path().join("b.redb");
    let mut b = Store::open(&b_path, b_key.clone()).expect("open");
    let imported = b.import_docs("peer-a", raw_pairs(&raw)).expect("import");
    assert_eq!(imported.changes.len(), ids.len());
    assert!(imported.refused.is_empty(), "{:?}", imported.refused);
    assert_eq!(
        b.catalog_digests().expect("digests"),
        a.store.catalog_digests().expect("digests")
    );
    assert_eq!(
        b.projection_dump().expect("dump"),
        a.store.projection_dump().expect("dump")
    );
    let delivered: Vec<_> = raw
        .iter()
        .map(|d| (d.doc_id.clone(), d.heads.clone()))
        .collect();
    a.store
        .mark_delivered("peer-b", &delivered)
        .expect("mark delivered");

    // Both sides know they share the heads: nothing to say, before and after a restart.
    let doc = format!("interaction:{id}");
    assert!(
        a.store
            .generate_sync_message("peer-b", &doc)
            .expect("generate")
            .is_none()
    );
    assert!(
        b.generate_sync_message("peer-a", &doc)
            .expect("generate")
            .is_none()
    );
    drop(b);
    let mut b = Store::open(&b_path, b_key).expect("reopen");
    let heads = &raw
        .iter()
        .find(|d| d.doc_id == doc)
        .expect("the interaction")
        .heads;
    let opening = b
        .generate_sync_message("peer-a", &doc)
        .expect("generate")
        .expect("a message");
    let opening = meshdesk_model::authorship::Sealed::decode(&opening).expect("sealed");
    let opening = automerge::sync::Message::decode(&opening.bytes).expect("decode");
    assert_eq!(
        &opening.have[0].last_sync, heads,
        "starts from the shared heads"
    );
    b.forget_peer("peer-a");

    // Edits on both sides: each side's next message carries its one new change.
    let doc_id: DocId = doc.parse().expect("doc id");
    a.store
        .write_doc(&doc_id, false, |d| {
            doc::interaction::append_message(d, &message("from a"))
        })
        .expect("edit a");
    b.write_doc(&doc_id, false, |d| {
        doc::interaction::append_message(d, &message("from b"))
    })
    .expect("edit b");
    let to_b = a
        .store
        .generate_sync_message("peer-b", &doc)
        .expect("generate")
        .expect("a message");
    assert_eq!(changes_in(&to_b), 1, "only the new change");
    b.receive_sync_messages("peer-a", &[(doc.clone(), to_b)])
        .expect("receive");
    for _ in 0..6 {
        if let Some(m) = b.generate_sync_message("peer-a", &doc).expect("generate") {
            a.store
                .receive_sync_messages("peer-b", &[(doc.clone(), m)])
                .expect("receive");
        }
        if let Some(m) = a
            .store
            .generate_sync_message("peer-b", &doc)
            .expect("generate")
        {
            b.receive_sync_messages("peer-a", &[(doc.clone(), m)])
                .expect("receive");
        }
    }
    assert_eq!(
        b.catalog_digests().expect("digests"),
        a.store.catalog_digests().expect("digests")
    );
    let count = |s: &mut Store| {
        s.with_doc(&doc_id, |d| {
            doc::interaction::read(d).expect("read").messages.len()
        })
        .expect("doc")
    };
    assert_eq!(count(&mut a.store), 3);
    assert_eq!(count(&mut b), 3);
}

#[test]
fn malformed_whole_documents_are_refused_and_write_nothing() {
    let mut a = fixture();
    let contact = created(run(
        &mut a.store,
        Request::AddContact(contact_spec("Marta", "marta@example.com")),
    ));
    let ids = a.store.doc_ids().expect("ids");
    let raw = a.store.raw_doc_bytes(&ids, usize::MAX).expect("raw");
    let good = raw_pairs(&raw);
    let contact_bytes = raw
        .iter()
        .find(|d| d.doc_id == format!("contact:{contact}"))
        .expect("the contact")
        .bytes
        .clone();
    let other = DocId::Contact(ContactId::new()).to_string();
    type Batch = Vec<(String, Vec<u8>)>;
    let bad_batches: Vec<(&str, Batch)> = vec![
        (
            "garbage",
            vec![(other.clone(), vec![0x85, 0x6f, 0x4a, 0x83, 1])],
        ),
        (
            "another document's content",
            vec![(other.clone(), contact_bytes)],
        ),
        (
            "an empty document",
            vec![(other.clone(), automerge::AutoCommit::new().save())],
        ),
        ("not a document id", vec![("nope:1".into(), vec![1])]),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = Store::open(
        dir.path().join("b.redb"),
        meshdesk_model::authorship::DeviceKey::generate(),
    )
    .expect("open");
    for (what, bad) in bad_batches {
        // Good documents in the same batch are not written either.
        let mut batch = good.clone();
        batch.extend(bad);
        let err = b.import_docs("peer-a", batch).expect_err(what);
        assert!(
            matches!(
                err,
                meshdesk_model::store::StoreError::BadDocData { .. }
                    | meshdesk_model::store::StoreError::BadDocId(_)
            ),
            "{what}: {err}"
        );
        assert!(
            b.doc_ids().expect("ids").is_empty(),
            "{what} wrote something"
        );
    }
    // The store is unharmed: the good documents import afterwards.
    b.import_docs("peer-a", good).expect("import");
    assert_eq!(b.doc_ids().expect("ids"), ids);
    // A malformed document is not sent whole.
    let evil = DocId::Contact(ContactId::new());
    a.store
        .write_doc(&evil, true, |d| {
            d.put(automerge::ROOT, "kind", "contact")?;
            d.put(automerge::ROOT, "id", evil_id(&evil))?;
            d.put(automerge::ROOT, "name", 42)?;
            Ok(())
        })
        .expect("write");
    assert_eq!(a.store.malformed().expect("malformed").len(), 1);
    let asked = vec![evil.to_string()];
    assert!(
        a.store
            .raw_doc_bytes(&asked, usize::MAX)
            .expect("raw")
            .is_empty()
    );
}

fn evil_id(doc_id: &DocId) -> String {
    match doc_id {
        DocId::Contact(id) => id.to_string(),
        other => other.to_string(),
    }
}

#[test]
fn a_document_naming_its_id_in_lowercase_is_its_own_when_sent_whole() {
    let mut a = fixture();
    let contact: ContactId = created(run(
        &mut a.store,
        Request::AddContact(contact_spec("Marta", "marta@example.com")),
    ))
    .parse()
    .expect("contact id");
    let doc_id = DocId::Contact(contact);
    // The id as another writer may have stored it: parsed, it is the same.
    a.store
        .write_doc(&doc_id, false, |d| {
            d.put(automerge::ROOT, "id", contact.to_string().to_lowercase())?;
            Ok(())
        })
        .expect("write");
    assert!(a.store.malformed().expect("malformed").is_empty());
    let team = DocId::Team(a.store.identity().expect("identity").expect("a team").team);
    let raw = a
        .store
        .raw_doc_bytes(&[team.to_string(), doc_id.to_string()], usize::MAX)
        .expect("raw");
    assert_eq!(raw.len(), 2, "a well-formed document is sent whole");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = Store::open(
        dir.path().join("b.redb"),
        meshdesk_model::authorship::DeviceKey::generate(),
    )
    .expect("open");
    let imported = b
        .import_docs("peer-a", raw_pairs(&raw))
        .expect("the receiver takes it as the sender does");
    assert!(imported.refused.is_empty(), "{:?}", imported.refused);
    assert!(b.has_doc(&doc_id.to_string()).expect("has"));
}

#[test]
fn a_gateway_customer_is_matched_by_email_or_phone_or_added_with_the_interaction() {
    let mut f = fixture();
    let marta = created(run(
        &mut f.store,
        Request::AddContact(contact_spec("Marta Ruiz", "marta@example.com")),
    ));
    let intake = |customer: ops::CustomerSpec, message: &str| Request::Intake {
        campaign: "General".into(),
        customer,
        message: message.into(),
        priority: 0,
    };
    let contact_of = |store: &mut Store, id: String| match run(
        store,
        Request::ShowInteraction {
            id: id.parse().expect("an id"),
        },
    ) {
        Reply::Interaction(d) => (
            d.interaction.contact.map(|c| c.to_string()),
            d.interaction.contact_name,
            d.interaction.messages.len(),
        ),
        other => panic!("not an interaction: {other:?}"),
    };

    // The phonebook's entry, by email (any case) or by phone (any spacing).
    let by_email = created(run(
        &mut f.store,
        intake(
            ops::CustomerSpec {
                name: Some("M.".into()),
                email: Some("MARTA@example.com".into()),
                ..Default::default()
            },
            "Where is my order?",
        ),
    ));
    assert_eq!(
        contact_of(&mut f.store, by_email),
        (Some(marta.clone()), "Marta Ruiz".to_string(), 1)
    );
    let by_phone = created(run(
        &mut f.store,
        intake(
            ops::CustomerSpec {
                phone: Some("+34600100200".into()),
                ..Default::default()
            },
            "Hello",
        ),
    ));
    assert_eq!(contact_of(&mut f.store, by_phone).0, Some(marta));
    assert_eq!(f.store.count_contacts().expect("count"), 1);

    // Someone new: the contact and the interaction in one commit.
    let outcome = ops::execute(
        &mut f.store,
        &ctx(),
        intake(
            ops::CustomerSpec {
                name: Some("Noa Ortega".into()),
                email: Some("noa@example.com".into()),
                ..Default::default()
            },
            "Is there an outage?",
        ),
    )
    .expect("intake");
    let kinds: Vec<_> = outcome.changes.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        vec![
            meshdesk_model::doc::DocKind::Contact,
            meshdesk_model::doc::DocKind::Interaction
        ]
    );
    let (noa, name, _) = contact_of(&mut f.store, created(outcome.reply));
    assert_eq!(name, "Noa Ortega");
    assert_eq!(f.store.count_contacts().expect("count"), 2);
    // Her next chat finds her.
    let again = created(run(
        &mut f.store,
        intake(
            ops::CustomerSpec {
                email: Some("noa@example.com".into()),
                ..Default::default()
            },
            "Me again",
        ),
    ));
    assert_eq!(contact_of(&mut f.store, again).0, noa);
    assert_eq!(f.store.count_contacts().expect("count"), 2);

    // Nothing to know the customer by, or no message: refused, nothing written.
    let before = f
        .store
        .count_interactions(BaseState::Queued)
        .expect("count");
    for (customer, message) in [
        (ops::CustomerSpec::default(), "Hi"),
        (
            ops::CustomerSpec {
                name: Some("Ivan".into()),
                ..Default::default()
            },
            "  ",
        ),
    ] {
        assert!(ops::execute(&mut f.store, &ctx(), intake(customer, message)).is_err());
    }
    assert_eq!(f.store.count_contacts().expect("count"), 2);
    assert_eq!(
        f.store
            .count_interactions(BaseState::Queued)
            .expect("count"),
        before
    );
}

#[test]
fn agent_history_follows_claims_finalizes_and_the_day() {
    let mut f = fixture();
    let me = f.store.identity().expect("identity").expect("a team").agent;
    let id = created(run(
        &mut f.store,
        Request::Enqueue {
            campaign: "General".into(),
            contact: None,
            from: Some("+1 555 0100".into()),
            name: None,
            message: Some("Hello".into()),
            priority: 0,
        },
    ));
    let now = now_ms();
    let mine = |store: &Store, at: Millis| {
        store
            .agent_history(at)
            .expect("history")
            .get(&me)
            .copied()
            .unwrap_or_default()
    };
    // Asked twice with nothing between: the same answer.
    assert_eq!(mine(&f.store, now).last_assigned_at, None);
    assert_eq!(mine(&f.store, now).last_assigned_at, None);

    run(
        &mut f.store,
        Request::Accept {
            id: id.parse().expect("an id"),
        },
    );
    // Work held now is routing's from the open interactions, at its place in
    // the queue; the history keeps finished work only.
    assert_eq!(mine(&f.store, now).last_assigned_at, None);
    let held = f.store.open_interactions().expect("open");
    assert!(
        held.iter()
            .any(|s| s.id.to_string() == id && s.owner == Some(me)),
        "the claim shows among the open interactions"
    );
    // A message changes nothing routing reads; the answer stays right.
    run(
        &mut f.store,
        Request::Send {
            id: id.parse().expect("an id"),
            text: "On it".into(),
        },
    );
    assert_eq!(mine(&f.store, now).last_assigned_at, None);
    assert_eq!(mine(&f.store, now).finished_today, 0);
    let enqueued_at = held
        .iter()
        .find(|s| s.id.to_string() == id)
        .map(|s| s.round_started_at);

    run(
        &mut f.store,
        Request::Finalize {
            id: id.parse().expect("an id"),
            disposition: "Resolved".into(),
            note: None,
        },
    );
    let today = mine(&f.store, now);
    assert_eq!(today.finished_today, 1, "the finalize shows");
    assert!(today.last_finished_at.is_some());
    assert_eq!(
        today.last_assigned_at, enqueued_at,
        "finished work counts where its round began, not when it was claimed"
    );
    // The next day counts afresh.
    let tomorrow = mine(&f.store, now + 86_400_000);
    assert_eq!(tomorrow.finished_today, 0);
    assert_eq!(tomorrow.last_finished_at, today.last_finished_at);

    // Reopened, the store answers the same.
    drop(f.store);
    let store =
        Store::open(&f.path, meshdesk_model::authorship::DeviceKey::generate()).expect("reopen");
    assert_eq!(mine(&store, now), today);
}

#[test]
fn only_a_supervisor_writes_campaigns_and_canned_responses() {
    let mut f = fixture();
    run(
        &mut f.store,
        Request::AddCanned(CannedSpec {
            code: "thanks".into(),
            body: "Thanks, {contact.name}".into(),
            campaign: None,
        }),
    );
    // The same store as an agent's device would see it.
    let me = f.store.identity().expect("identity").expect("an identity");
    let key = enrol(&mut f.store);
    let team = f.store.team().expect("team").expect("a team");
    let agent = team.members[&key.device()].agent;
    f.store
        .set_identity(&meshdesk_model::store::LocalIdentity { agent, ..me })
        .expect("identity");
    let before = f.store.team().expect("team");
    for request in [
        Request::AddCanned(CannedSpec {
            code: "bye".into(),
            body: "Bye".into(),
            campaign: None,
        }),
        Request::EditCanned {
            canned: "thanks".into(),
            changes: CannedChanges {
                body: Some("Hi".into()),
                ..CannedChanges::default()
            },
        },
        Request::RemoveCanned {
            canned: "thanks".into(),
        },
        Request::AddCampaign(CampaignSpec::new(
            "Mine",
            ChannelKind::Phone,
            Strategy::RingAll,
        )),
    ] {
        match ops::execute(&mut f.store, &ctx(), request.clone()) {
            Err(OpError::NotSupervisor(_)) => {}
            other => panic!("{request:?} by an agent: {other:?}"),
        }
    }
    assert_eq!(f.store.team().expect("team"), before);
    // Agents read and fill them all the same.
    match run(&mut f.store, Request::ListCanned { campaign: None }) {
        Reply::Canned(list) => assert_eq!(list.len(), 1),
        other => panic!("{other:?}"),
    }
}
