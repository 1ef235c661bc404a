//! The write rules (DESIGN §6) as a node sees them: a teammate's store
//! (a real redb file, signing with its own device key) writes what a
//! compromised laptop would, the changes travel the real sync path, and the
//! honest supervisor's store refuses them and stays as it was, while honest
//! changes keep flowing.

use automerge::ReadDoc;
use automerge::transaction::Transactable;
use meshdesk_model::authorship::{DeviceKey, Sealed};
use meshdesk_model::doc::{self, DocId};
use meshdesk_model::ops::{self, Context, CustomerSpec, Reply, Request};
use meshdesk_model::store::Replication;
use meshdesk_model::store::{LocalIdentity, Store};
use meshdesk_model::*;

struct Desk {
    _dir: tempfile::TempDir,
    name: &'static str,
    key: DeviceKey,
    store: Store,
    agent: AgentId,
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

fn open(key: DeviceKey) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("s.redb"), key).expect("open");
    (dir, store)
}

/// Ana's desk: she created the team (its supervisor).
fn supervisor() -> Desk {
    let key = DeviceKey::generate();
    let (dir, mut store) = open(key.clone());
    run(
        &mut store,
        Request::CreateTeam {
            team_name: "Support".into(),
            agent_name: "Ana".into(),
            device_name: "ana-desk".into(),
        },
    );
    let agent = store.identity().expect("identity").expect("a team").agent;
    Desk {
        _dir: dir,
        key,
        name: "ana",
        store,
        agent,
    }
}

fn team_doc(desk: &Desk) -> DocId {
    DocId::Team(desk.store.identity().expect("identity").expect("team").team)
}

/// A device whose store holds every document `from` holds, as a first sync leaves it.
fn device_copying(from: &Desk, key: DeviceKey, name: &'static str, agent: AgentId) -> Desk {
    let (dir, mut store) = open(key.clone());
    let team = from.store.identity().expect("identity").expect("team").team;
    store
        .set_identity(&LocalIdentity {
            team,
            agent,
            device: key.device(),
        })
        .expect("identity");
    let ids = from.store.doc_ids().expect("ids");
    let raw = from.store.raw_doc_bytes(&ids, usize::MAX).expect("raw");
    let imported = store
        .import_docs(
            from.name,
            raw.into_iter().map(|d| (d.doc_id, d.bytes)).collect(),
        )
        .expect("import");
    assert!(imported.refused.is_empty(), "{:?}", imported.refused);
    Desk {
        _dir: dir,
        key,
        name,
        store,
        agent,
    }
}

/// Admits a new device as an agent (what the invite's issuer writes at a join).
fn admit(sup: &mut Desk, name: &'static str) -> Desk {
    let key = DeviceKey::generate();
    let agent = AgentId::new();
    let now = now_ms();
    let member = Member {
        device: key.device(),
        agent,
        role: Role::Agent,
        device_name: format!("{name}-laptop"),
        joined_at: now,
        revoked: false,
        revoked_at: None,
    };
    let campaign = *sup
        .store
        .team()
        .expect("team")
        .expect("team")
        .campaigns
        .keys()
        .next()
        .expect("a campaign");
    let profile = Agent {
        id: agent,
        name: name.into(),
        status: AgentStatus::Offline,
        status_since: now,
        capacity: 0,
        status_history: vec![],
    };
    let team = team_doc(sup);
    sup.store
        .write_many(vec![
            meshdesk_model::store::DocEdit::new(DocId::Agent(agent), true, move |d| {
                doc::agent::create(d, &profile)
            }),
            meshdesk_model::store::DocEdit::new(team, false, move |d| {
                doc::team::add_member(d, &member)?;
                doc::team::add_campaign_member(d, campaign, agent)
            }),
        ])
        .expect("admit");
    device_copying(sup, key, name, agent)
}

/// Runs the sync exchange of every document between two desks until it is
/// quiet; the refusals each side reported.
fn sync(a: &mut Desk, b: &mut Desk) -> Vec<(String, String)> {
    let mut ids = a.store.doc_ids().expect("ids");
    ids.extend(b.store.doc_ids().expect("ids"));
    ids.sort();
    ids.dedup();
    let mut refused = Vec::new();
    for doc in ids {
        for _ in 0..8 {
            let mut quiet = true;
            if let Some(m) = a.store.generate_sync_message(b.name, &doc).expect("gen") {
                quiet = false;
                let got = b
                    .store
                    .receive_sync_messages(a.name, &[(doc.clone(), m)])
                    .expect("receive");
                refused.extend(got.refused);
            }
            if let Some(m) = b.store.generate_sync_message(a.name, &doc).expect("gen") {
                quiet = false;
                let got = a
                    .store
                    .receive_sync_messages(b.name, &[(doc.clone(), m)])
                    .expect("receive");
                refused.extend(got.refused);
            }
            if quiet {
                break;
            }
        }
    }
    refused
}

fn refused_doc(refused: &[(String, String)], doc: &DocId) -> String {
    refused
        .iter()
        .find(|(d, _)| *d == doc.to_string())
        .map(|(_, reason)| reason.clone())
        .unwrap_or_else(|| panic!("{doc} was not refused: {refused:?}"))
}

/// A queued customer interaction on Ana's desk, synced to `to`.
fn queued_interaction(ana: &mut Desk, to: &mut Desk) -> InteractionId {
    let reply = run(
        &mut ana.store,
        Request::Intake {
            campaign: "General".into(),
            customer: CustomerSpec {
                id: None,
                name: Some("Marta".into()),
                email: None,
                phone: Some("+34 600 100 200".into()),
                unverified: false,
            },
            message: "Hello, my order is late".into(),
            priority: 0,
        },
    );
    let Reply::Created { id } = reply else {
        panic!("expected an id, got {reply:?}");
    };
    assert!(sync(ana, to).is_empty());
    id.parse().expect("interaction id")
}

fn interaction(desk: &mut Desk, id: InteractionId) -> Interaction {
    desk.store
        .with_doc(&DocId::Interaction(id), |d| {
            doc::interaction::read(d).expect("read")
        })
        .expect("stored")
}

/// An honest change after a refusal still syncs: the link is not poisoned.
fn honest_contact_still_syncs(from: &mut Desk, to: &mut Desk) {
    let reply = run(
        &mut from.store,
        Request::AddContact(ops::ContactSpec {
            name: Some("Lucía".into()),
            ..Default::default()
        }),
    );
    let Reply::Created { id } = reply else {
        panic!("expected an id, got {reply:?}");
    };
    let refused = sync(from, to);
    let contact = DocId::Contact(id.parse().expect("contact id"));
    assert!(
        !refused.iter().any(|(d, _)| *d == contact.to_string()),
        "{refused:?}"
    );
    assert!(to.store.has_doc(&contact.to_string()).expect("has"));
}

#[test]
fn a_second_team_document_is_refused_and_the_roster_stays() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    let roster = ana.store.team().expect("team").expect("team");
    let fake = Team {
        id: TeamId::new(),
        name: "Eve's team".into(),
        created_at: 1,
        members: roster.members.clone(),
        campaigns: Default::default(),
        break_reasons: vec![],
        invites: Default::default(),
        canned: Default::default(),
        keys: Default::default(),
        mailboxes: Default::default(),
    };
    let fake_doc = DocId::Team(fake.id);
    eve.store
        .write_doc(&fake_doc, true, move |d| doc::team::create(d, &fake))
        .expect("eve writes");
    let refused = sync(&mut eve, &mut ana);
    assert!(
        refused_doc(&refused, &fake_doc).contains("not this device's team"),
        "{refused:?}"
    );
    assert!(!ana.store.has_doc(&fake_doc.to_string()).expect("has"));
    assert_eq!(ana.store.team().expect("team"), Some(roster));
    honest_contact_still_syncs(&mut eve, &mut ana);
}

#[test]
fn an_agent_cannot_make_itself_supervisor_or_undo_its_revocation() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    let team = team_doc(&ana);
    let device = eve.store.device();
    let promote = device.clone();
    eve.store
        .write_doc(&team, false, move |d| {
            doc::team::set_role(d, &promote, Role::Supervisor)
        })
        .expect("eve writes");
    let refused = sync(&mut eve, &mut ana);
    assert!(
        refused_doc(&refused, &team).contains("may only change its own device name"),
        "{refused:?}"
    );
    let roster = ana.store.team().expect("team").expect("team");
    assert_eq!(roster.members[&device].role, Role::Agent);

    // Revoked, Eve (her store as Ana's after the revocation) writes herself back in.
    let mut ana = supervisor_after_revoking(ana, &device);
    let mut eve = device_copying(&ana, eve.key.clone(), "eve", eve.agent);
    eve.store
        .write_doc(&team, false, {
            let device = device.clone();
            move |d| {
                let obj = match d.get(automerge::ROOT, "members")? {
                    Some((_, id)) => id,
                    None => return Err(doc::DocError::Missing("members".into())),
                };
                let me = match d.get(&obj, device.as_str())? {
                    Some((_, id)) => id,
                    None => return Err(doc::DocError::Missing(device.clone())),
                };
                d.put(&me, "revoked", false)?;
                Ok(())
            }
        })
        .expect("eve writes");
    let refused = sync(&mut eve, &mut ana);
    assert!(
        refused_doc(&refused, &team).contains("revoked"),
        "{refused:?}"
    );
    let roster = ana.store.team().expect("team").expect("team");
    assert!(roster.members[&device].revoked);
}

/// Ana revokes a device.
fn supervisor_after_revoking(mut ana: Desk, device: &str) -> Desk {
    let team = team_doc(&ana);
    let device = device.to_string();
    ana.store
        .write_doc(&team, false, move |d| {
            doc::team::revoke_member(d, &device, 1)
        })
        .expect("revoke");
    ana
}

#[test]
fn claims_only_under_ones_own_agent_and_never_before_the_round_began() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");

    // A claim in Ana's name.
    let id = queued_interaction(&mut ana, &mut eve);
    let before = interaction(&mut ana, id);
    let as_ana = Claim {
        agent: ana.agent,
        claimed_at: now_ms(),
        epoch: 0,
    };
    eve.store
        .write_doc(&DocId::Interaction(id), false, move |d| {
            doc::interaction::add_claim(d, &as_ana)
        })
        .expect("eve writes");
    let refused = sync(&mut eve, &mut ana);
    assert!(
        refused_doc(&refused, &DocId::Interaction(id)).contains("may only add its own entry"),
        "{refused:?}"
    );
    assert_eq!(interaction(&mut ana, id), before);

    // Her own claim, dated long before the customer arrived.
    let id = queued_interaction(&mut ana, &mut eve);
    let enqueued_at = interaction(&mut ana, id).enqueued_at;
    let ancient = Claim {
        agent: eve.agent,
        claimed_at: enqueued_at - 3_600_000,
        epoch: 0,
    };
    eve.store
        .write_doc(&DocId::Interaction(id), false, move |d| {
            doc::interaction::add_claim(d, &ancient)
        })
        .expect("eve writes");
    let refused = sync(&mut eve, &mut ana);
    assert!(
        refused_doc(&refused, &DocId::Interaction(id)).contains("earlier than its round began"),
        "{refused:?}"
    );
    assert_eq!(interaction(&mut ana, id).owner(), None);

    // Accepting honestly works.
    let id = queued_interaction(&mut ana, &mut eve);
    run(&mut eve.store, Request::Accept { id });
    assert!(sync(&mut eve, &mut ana).is_empty());
    assert_eq!(
        interaction(&mut ana, id).owner().map(|c| c.agent),
        Some(eve.agent)
    );
}

#[test]
fn a_message_in_another_agents_name_is_refused_and_ones_own_goes_through() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    let id = queued_interaction(&mut ana, &mut eve);
    let before = interaction(&mut ana, id);
    let forged = Message {
        attachments: Vec::new(),
        id: MessageId::new(),
        author: Author::Agent(ana.agent),
        at: now_ms(),
        body: "Your refund is approved".into(),
    };
    eve.store
        .write_doc(&DocId::Interaction(id), false, move |d| {
            doc::interaction::append_message(d, &forged)
        })
        .expect("eve writes");
    let refused = sync(&mut eve, &mut ana);
    assert!(
        refused_doc(&refused, &DocId::Interaction(id)).contains("names the author"),
        "{refused:?}"
    );
    assert_eq!(interaction(&mut ana, id), before);

    let id = queued_interaction(&mut ana, &mut eve);
    let own = Message {
        attachments: Vec::new(),
        id: MessageId::new(),
        author: Author::Agent(eve.agent),
        at: now_ms(),
        body: "I am looking into it".into(),
    };
    eve.store
        .write_doc(&DocId::Interaction(id), false, move |d| {
            doc::interaction::append_message(d, &own)
        })
        .expect("eve writes");
    assert!(sync(&mut eve, &mut ana).is_empty());
    assert_eq!(interaction(&mut ana, id).messages.len(), 2);
}

#[test]
fn a_forged_seal_or_an_unknown_device_is_refused() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    let reply = run(
        &mut eve.store,
        Request::AddContact(ops::ContactSpec {
            name: Some("Marta".into()),
            ..Default::default()
        }),
    );
    let Reply::Created { id } = reply else {
        panic!("expected an id, got {reply:?}");
    };
    let contact = DocId::Contact(id.parse().expect("contact id"));
    let message = eve
        .store
        .generate_sync_message(ana.name, &contact.to_string())
        .expect("gen")
        .expect("a message");
    // Ana answers the opening (she lacks the document), then Eve sends the change.
    let answer = ana
        .store
        .receive_sync_messages(eve.name, &[(contact.to_string(), message)])
        .expect("receive");
    assert!(answer.refused.is_empty());
    let reply = ana
        .store
        .generate_sync_message(eve.name, &contact.to_string())
        .expect("gen")
        .expect("a reply");
    eve.store
        .receive_sync_messages(ana.name, &[(contact.to_string(), reply)])
        .expect("receive");
    let change = eve
        .store
        .generate_sync_message(ana.name, &contact.to_string())
        .expect("gen")
        .expect("the change");
    let mut sealed = Sealed::decode(&change).expect("sealed");
    assert_eq!(sealed.seals.len(), 1);
    sealed.seals[0].signature[0] ^= 1;
    let got = ana
        .store
        .receive_sync_messages(eve.name, &[(contact.to_string(), sealed.encode())])
        .expect("receive");
    assert!(
        refused_doc(&got.refused, &contact).contains("does not verify"),
        "{:?}",
        got.refused
    );
    assert!(!ana.store.has_doc(&contact.to_string()).expect("has"));

    // A device that was never admitted, holding copies of every document.
    let mut mallory = device_copying(&ana, DeviceKey::generate(), "mallory", AgentId::new());
    let reply = run(
        &mut mallory.store,
        Request::AddContact(ops::ContactSpec {
            name: Some("Spam".into()),
            ..Default::default()
        }),
    );
    let Reply::Created { id } = reply else {
        panic!("expected an id, got {reply:?}");
    };
    let spam = DocId::Contact(id.parse().expect("id"));
    let refused = sync(&mut mallory, &mut ana);
    assert!(
        refused_doc(&refused, &spam).contains("not on the roster"),
        "{refused:?}"
    );
    assert!(!ana.store.has_doc(&spam.to_string()).expect("has"));
}

#[test]
fn documents_stored_before_the_rules_are_quarantined_on_rebuild() {
    let mut ana = supervisor();
    run(
        &mut ana.store,
        Request::AddContact(ops::ContactSpec {
            name: Some("Marta".into()),
            ..Default::default()
        }),
    );
    assert_eq!(ana.store.count_contacts().expect("count"), 1);
    // No seals, as in a store written before documents were sealed.
    let path = ana.store.path().to_path_buf();
    let key = DeviceKey::generate();
    drop(std::mem::replace(&mut ana.store, open(key.clone()).1));
    {
        let db = redb::Database::open(&path).expect("redb");
        let txn = db.begin_write().expect("txn");
        txn.open_table(meshdesk_model::store::tables::DOC_SEALS)
            .expect("seals")
            .retain(|_, _| false)
            .expect("forget seals");
        txn.commit().expect("commit");
    }
    ana.store = Store::open(&path, key).expect("reopen");
    ana.store.rebuild_projections().expect("rebuild");
    assert_eq!(ana.store.count_contacts().expect("count"), 0);
    let quarantined = ana.store.malformed().expect("malformed");
    assert!(
        quarantined
            .iter()
            .any(|(_, reason)| reason.starts_with("quarantined")),
        "{quarantined:?}"
    );
    // The roster never goes: the team stays readable.
    assert!(ana.store.team().expect("team").is_some());
}

#[test]
fn a_revoked_devices_changes_count_up_to_its_revocation_and_not_after() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    let add_contact = |desk: &mut Desk, name: &str| -> DocId {
        let reply = run(
            &mut desk.store,
            Request::AddContact(ops::ContactSpec {
                name: Some(name.into()),
                ..Default::default()
            }),
        );
        let Reply::Created { id } = reply else {
            panic!("expected an id, got {reply:?}");
        };
        DocId::Contact(id.parse().expect("contact id"))
    };
    // Eve, offline, adds a contact; Ana then revokes her as of the end of
    // that second (changes carry their time in seconds).
    let before = add_contact(&mut eve, "Before");
    let second = chrono::Utc::now().timestamp();
    let team = team_doc(&ana);
    let device = eve.store.device();
    ana.store
        .write_doc(&team, false, move |d| {
            doc::team::revoke_member(d, &device, second * 1000 + 999)
        })
        .expect("revoke");
    while chrono::Utc::now().timestamp() <= second {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let after = add_contact(&mut eve, "After");
    let refused = sync(&mut eve, &mut ana);
    assert!(
        ana.store.has_doc(&before.to_string()).expect("has"),
        "what Eve wrote before her revocation is kept: {refused:?}"
    );
    assert!(
        refused_doc(&refused, &after).contains("revoked before this change"),
        "{refused:?}"
    );
    assert!(!ana.store.has_doc(&after.to_string()).expect("has"));
}

#[test]
fn text_a_member_writes_around_the_forms_is_held_to_the_same_bounds() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    // A contact made through the forms, then renamed around them.
    let write_contact = |eve: &mut Desk, name: String| -> DocId {
        let reply = run(
            &mut eve.store,
            Request::AddContact(ops::ContactSpec {
                name: Some("Placeholder".into()),
                ..Default::default()
            }),
        );
        let Reply::Created { id } = reply else {
            panic!("expected an id, got {reply:?}");
        };
        let id = DocId::Contact(id.parse().expect("contact id"));
        eve.store
            .write_doc(&id, false, move |d| {
                d.put(automerge::ROOT, "name", name.as_str())?;
                Ok(())
            })
            .expect("eve writes");
        id
    };
    // A terminal escape sequence in a name, and a name of 30,000 characters.
    let escape = write_contact(&mut eve, "Marta\u{1b}[2J\u{1b}[31m".into());
    let long = write_contact(&mut eve, "x".repeat(30_000));
    let fine = write_contact(&mut eve, "Line one\nLine two\twith a tab".into());
    let refused = sync(&mut eve, &mut ana);
    assert!(
        refused_doc(&refused, &escape).contains("control character U+001B"),
        "{refused:?}"
    );
    assert!(
        refused_doc(&refused, &long).contains("more than 20000 characters"),
        "{refused:?}"
    );
    assert!(!ana.store.has_doc(&escape.to_string()).expect("has"));
    assert!(!ana.store.has_doc(&long.to_string()).expect("has"));
    assert!(
        !refused.iter().any(|(d, _)| *d == fine.to_string()),
        "{refused:?}"
    );
}

#[test]
fn an_unverified_contact_link_syncs_and_cannot_be_cleared_later() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    run(
        &mut ana.store,
        Request::AddContact(ops::ContactSpec {
            name: Some("Marta Ortiz".into()),
            emails: Some(vec!["marta@example.com".into()]),
            ..Default::default()
        }),
    );
    let reply = run(
        &mut ana.store,
        Request::Intake {
            campaign: "General".into(),
            customer: CustomerSpec {
                name: Some("Someone".into()),
                email: Some("marta@example.com".into()),
                unverified: true,
                ..Default::default()
            },
            message: "it's me, Marta".into(),
            priority: 0,
        },
    );
    let Reply::Created { id } = reply else {
        panic!("expected an id, got {reply:?}");
    };
    let id: InteractionId = id.parse().expect("interaction id");
    // Set in the creator's first change: the rules take it.
    assert!(sync(&mut ana, &mut eve).is_empty());
    assert!(interaction(&mut eve, id).contact_unverified);

    // Nobody can mark it verified afterwards by rewriting the field.
    refused_at_root(
        (&mut eve, &mut ana),
        (&DocId::Interaction(id), false),
        ("contact_unverified", false.into()),
        "only when it is created",
    );
    assert!(interaction(&mut ana, id).contact_unverified);
}

/// `from` writes `key` at a document's root (making the document when
/// `create`) around the ops, as a compromised laptop would; `to` refuses
/// it, saying `why`.
fn refused_at_root(
    (from, to): (&mut Desk, &mut Desk),
    (doc, create): (&DocId, bool),
    (key, value): (&'static str, automerge::ScalarValue),
    why: &str,
) {
    from.store
        .write_doc(doc, create, move |d| {
            d.put(automerge::ROOT, key, value)?;
            Ok(())
        })
        .expect("writes");
    let refused = sync(from, to);
    assert!(refused_doc(&refused, doc).contains(why), "{refused:?}");
}

/// A transfer entry written straight into the document, around the ops'
/// checks, as a compromised laptop would.
fn write_transfer(desk: &mut Desk, id: InteractionId, kind: TransferKind, reason: String) {
    let campaign = interaction(desk, id).campaign();
    let t = Transfer {
        from: desk.agent,
        to: TransferTarget::Campaign(campaign),
        at: now_ms(),
        note: String::new(),
        kind,
        reason,
    };
    desk.store
        .write_doc(&DocId::Interaction(id), false, move |d| {
            doc::interaction::add_transfer(d, &t)
        })
        .expect("writes");
}

#[test]
fn only_supervisors_pull_back_or_hand_over_and_agents_return_only_their_own() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    let mut bruno = admit(&mut ana, "Bruno");
    assert!(sync(&mut ana, &mut eve).is_empty());
    let reason = || "left for the day".to_string();

    // Eve owns it.
    let id = queued_interaction(&mut ana, &mut eve);
    run(&mut eve.store, Request::Accept { id });
    assert!(sync(&mut eve, &mut ana).is_empty());
    assert!(sync(&mut ana, &mut bruno).is_empty());
    let owned = interaction(&mut ana, id);
    assert_eq!(owned.owner().map(|c| c.agent), Some(eve.agent));

    // Bruno, neither owner nor supervisor, pulls it back around the ops.
    write_transfer(&mut bruno, id, TransferKind::PullBack, reason());
    let refused = sync(&mut bruno, &mut ana);
    assert!(
        refused_doc(&refused, &DocId::Interaction(id)).contains("does not own the interaction"),
        "{refused:?}"
    );
    // …or "returns" it for her (from a fresh copy: his store still holds
    // the refused change, which anything he writes next would build on).
    let mut bruno = device_copying(&ana, bruno.key.clone(), "bruno-copy", bruno.agent);
    write_transfer(&mut bruno, id, TransferKind::Return, reason());
    let refused = sync(&mut bruno, &mut ana);
    assert!(
        refused_doc(&refused, &DocId::Interaction(id)).contains("does not own the interaction"),
        "{refused:?}"
    );
    // Eve owns it but is no supervisor: a pull-back or a hand-over in her
    // name is refused all the same (only a return is hers to write).
    for kind in [TransferKind::PullBack, TransferKind::Hand] {
        let mut eve_copy = device_copying(&ana, eve.key.clone(), "eve-copy", eve.agent);
        write_transfer(&mut eve_copy, id, kind, reason());
        let refused = sync(&mut eve_copy, &mut ana);
        assert!(
            refused_doc(&refused, &DocId::Interaction(id)).contains("is not a supervisor"),
            "{kind:?}: {refused:?}"
        );
    }
    assert_eq!(interaction(&mut ana, id), owned);

    // A reason past the bound, even from the owner returning her own.
    let mut eve_copy = device_copying(&ana, eve.key.clone(), "eve-copy", eve.agent);
    write_transfer(&mut eve_copy, id, TransferKind::Return, "x".repeat(501));
    let refused = sync(&mut eve_copy, &mut ana);
    assert!(
        refused_doc(&refused, &DocId::Interaction(id)).contains("more than 500 characters"),
        "{refused:?}"
    );
    assert_eq!(interaction(&mut ana, id), owned);

    // The supervisor's pull-back goes through and reaches Eve with its reason.
    run(
        &mut ana.store,
        Request::PullBack {
            id,
            reason: reason(),
        },
    );
    assert!(sync(&mut ana, &mut eve).is_empty());
    let pulled = interaction(&mut eve, id);
    assert_eq!(pulled.owner(), None);
    let last = pulled.transfers.last().expect("the pull-back");
    assert_eq!(
        (last.kind, last.from, last.reason.as_str()),
        (TransferKind::PullBack, ana.agent, "left for the day")
    );
    assert_eq!(pulled.taken_from(0), Some(eve.agent));

    // Eve returns one she owns: accepted everywhere.
    let id = queued_interaction(&mut ana, &mut eve);
    run(&mut eve.store, Request::Accept { id });
    run(
        &mut eve.store,
        Request::ReturnToQueue {
            id,
            reason: "wrong language".into(),
        },
    );
    assert!(sync(&mut eve, &mut ana).is_empty());
    let returned = interaction(&mut ana, id);
    assert_eq!(returned.owner(), None);
    assert_eq!(
        returned.transfers.last().map(|t| t.kind),
        Some(TransferKind::Return)
    );
    honest_contact_still_syncs(&mut eve, &mut ana);
}

fn refusal(store: &mut Store, request: Request) -> ops::OpError {
    let before = store.doc_ids().expect("ids").len();
    match ops::execute(store, &ctx(), request.clone()) {
        Ok(outcome) => panic!("{request:?} went through: {:?}", outcome.reply),
        Err(e) => {
            assert_eq!(store.doc_ids().expect("ids").len(), before);
            e
        }
    }
}

#[test]
fn take_backs_are_refused_with_a_typed_reason_before_anything_is_written() {
    use ops::OpError;
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    let _bruno = admit(&mut ana, "Bruno");
    assert!(sync(&mut ana, &mut eve).is_empty());
    let reason = || "customer asked for a manager".to_string();

    let id = queued_interaction(&mut ana, &mut eve);
    // Nobody has it yet: nothing to take back, nothing to return.
    assert!(matches!(
        refusal(
            &mut ana.store,
            Request::PullBack {
                id,
                reason: reason()
            }
        ),
        OpError::NotTaken(_)
    ));
    assert!(matches!(
        refusal(
            &mut eve.store,
            Request::ReturnToQueue {
                id,
                reason: reason()
            }
        ),
        OpError::WrongState { .. }
    ));

    run(&mut eve.store, Request::Accept { id });
    assert!(sync(&mut eve, &mut ana).is_empty());
    let before = interaction(&mut ana, id);
    // An agent may not take back; a supervisor may not return what is not hers.
    assert!(matches!(
        refusal(
            &mut eve.store,
            Request::PullBack {
                id,
                reason: reason()
            }
        ),
        OpError::NotSupervisor(_)
    ));
    assert!(matches!(
        refusal(
            &mut eve.store,
            Request::HandOver {
                id,
                to: "Bruno".into(),
                reason: reason()
            }
        ),
        OpError::NotSupervisor(_)
    ));
    assert!(matches!(
        refusal(
            &mut ana.store,
            Request::ReturnToQueue {
                id,
                reason: reason()
            }
        ),
        OpError::NotOwner(..)
    ));
    // The reason is required and short.
    for (text, words) in [("  ", "must not be empty"), (&*"x".repeat(501), "too long")] {
        let e = refusal(
            &mut ana.store,
            Request::PullBack {
                id,
                reason: text.to_string(),
            },
        );
        assert!(e.to_string().contains(words), "{e}");
    }
    // Handing it to the agent who has it, or to nobody known.
    assert!(matches!(
        refusal(
            &mut ana.store,
            Request::HandOver {
                id,
                to: "Eve".into(),
                reason: reason()
            }
        ),
        OpError::AlreadyTheirs(..)
    ));
    assert!(matches!(
        refusal(
            &mut ana.store,
            Request::HandOver {
                id,
                to: "Zoe".into(),
                reason: reason()
            }
        ),
        OpError::UnknownAgent(_)
    ));
    assert_eq!(interaction(&mut ana, id), before);

    // Handed to Bruno: a directed offer to him, recorded with who and why.
    run(
        &mut ana.store,
        Request::HandOver {
            id,
            to: "Bruno".into(),
            reason: reason(),
        },
    );
    let handed = interaction(&mut ana, id);
    let bruno = ana
        .store
        .agent_by_name("Bruno")
        .expect("read")
        .expect("Bruno")
        .id;
    assert_eq!(handed.owner(), None);
    assert_eq!(handed.directed_to(), Some(bruno));
    let last = handed.transfers.last().expect("the hand-over");
    assert_eq!(
        (last.kind, last.from, last.reason.as_str()),
        (
            TransferKind::Hand,
            ana.agent,
            "customer asked for a manager"
        )
    );

    // Her own: a supervisor returns it like anyone; finalized: nobody takes it.
    let own = queued_interaction(&mut ana, &mut eve);
    run(&mut ana.store, Request::Accept { id: own });
    assert!(matches!(
        refusal(
            &mut ana.store,
            Request::PullBack {
                id: own,
                reason: reason()
            }
        ),
        OpError::YoursToReturn(_)
    ));
    let disposition = ops::DEFAULT_DISPOSITIONS[0].to_string();
    run(
        &mut ana.store,
        Request::Finalize {
            id: own,
            disposition,
            note: None,
        },
    );
    assert!(matches!(
        refusal(
            &mut ana.store,
            Request::ReturnToQueue {
                id: own,
                reason: reason()
            }
        ),
        OpError::AlreadyFinalized { .. }
    ));
}

#[test]
fn tags_written_around_the_forms_are_one_line_labels_holding_true() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    type Write =
        fn(&mut automerge::AutoCommit, &automerge::ObjId) -> Result<(), automerge::AutomergeError>;
    let writes: [Write; 5] = [
        |d, tags| d.put(tags, "vip\n\u{1b}[2J", true),
        |d, tags| d.put(tags, "vip", "a whole paragraph"),
        |d, tags| {
            d.put_object(tags, "vip", automerge::ObjType::Map)
                .map(|_| ())
        },
        |d, tags| d.put(tags, "x".repeat(501).as_str(), true),
        |d, tags| d.put(tags, "vip", true),
    ];
    // Every interaction reaches Eve before she writes anything.
    let ids: Vec<InteractionId> = writes
        .iter()
        .map(|_| queued_interaction(&mut ana, &mut eve))
        .collect();
    for (id, write) in ids.iter().zip(writes) {
        eve.store
            .write_doc(&DocId::Interaction(*id), false, move |d| {
                let tags = match d.get(automerge::ROOT, "tags") {
                    Ok(Some((_, obj))) => obj,
                    other => panic!("no tags map: {other:?}"),
                };
                write(d, &tags)?;
                Ok(())
            })
            .expect("eve writes");
    }
    let refused = sync(&mut eve, &mut ana);
    let reason = |n: usize| refused_doc(&refused, &DocId::Interaction(ids[n]));
    assert!(
        reason(0).contains("control character U+000A"),
        "{refused:?}"
    );
    assert!(reason(1).contains("must hold true"), "{refused:?}");
    assert!(reason(2).contains("not an object"), "{refused:?}");
    assert!(
        reason(3).contains("more than 500 characters"),
        "{refused:?}"
    );
    assert!(
        !refused
            .iter()
            .any(|(d, _)| *d == DocId::Interaction(ids[4]).to_string()),
        "{refused:?}"
    );
    assert!(interaction(&mut ana, ids[4]).tags.contains("vip"));
}

/// A snooze written straight into the document in `desk`'s name, around
/// the ops' checks, as a compromised laptop would.
fn write_snooze(desk: &mut Desk, id: InteractionId, agent: AgentId, note: String) {
    let epoch = interaction(desk, id).epoch();
    let s = Snooze {
        agent,
        epoch,
        at: now_ms(),
        until: now_ms() + 3_600_000,
        kind: SnoozeKind::Snooze,
        note,
    };
    desk.store
        .write_doc(&DocId::Interaction(id), false, move |d| {
            doc::interaction::snooze(d, Some(&s))
        })
        .expect("writes");
}

#[test]
fn only_the_owner_snoozes_an_interaction_and_a_forged_snooze_is_refused_on_receive() {
    use ops::OpError;
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    let mut bruno = admit(&mut ana, "Bruno");
    assert!(sync(&mut ana, &mut eve).is_empty());
    let id = queued_interaction(&mut ana, &mut eve);
    run(&mut eve.store, Request::Accept { id });
    assert!(sync(&mut eve, &mut ana).is_empty());
    assert!(sync(&mut ana, &mut bruno).is_empty());
    let owned = interaction(&mut ana, id);

    // Through the ops, a teammate (even the supervisor) is told it is not theirs.
    let in_an_hour = now_ms() + 3_600_000;
    for desk in [&mut ana, &mut bruno] {
        let e = refusal(
            &mut desk.store,
            Request::Snooze {
                id,
                until: in_an_hour,
                kind: SnoozeKind::Snooze,
                note: None,
            },
        );
        assert!(matches!(e, OpError::NotOwner(..)), "{e}");
    }
    // Around them, Bruno snoozes Eve's interaction in his own name, or in hers.
    for agent in [bruno.agent, eve.agent] {
        let mut forger = device_copying(&ana, bruno.key.clone(), "bruno-copy", bruno.agent);
        write_snooze(&mut forger, id, agent, String::new());
        let refused = sync(&mut forger, &mut ana);
        assert!(
            refused_doc(&refused, &DocId::Interaction(id))
                .contains("snoozes an interaction it does not own"),
            "{refused:?}"
        );
    }
    // Eve's own device, but in another agent's name or with a note past the bound.
    for (agent, note) in [(bruno.agent, String::new()), (eve.agent, "x".repeat(501))] {
        let mut eve_copy = device_copying(&ana, eve.key.clone(), "eve-copy", eve.agent);
        write_snooze(&mut eve_copy, id, agent, note);
        let refused = sync(&mut eve_copy, &mut ana);
        assert!(
            refused_doc(&refused, &DocId::Interaction(id)).contains("does not fit its snooze"),
            "{refused:?}"
        );
    }
    assert_eq!(interaction(&mut ana, id), owned);

    // Eve's own snooze goes through and reaches Ana; Eve clears it again.
    run(
        &mut eve.store,
        Request::Snooze {
            id,
            until: in_an_hour,
            kind: SnoozeKind::Callback,
            note: Some("after 3pm".into()),
        },
    );
    assert!(sync(&mut eve, &mut ana).is_empty());
    let snoozed = interaction(&mut ana, id);
    let z = snoozed.snoozed().expect("snoozed on Ana's node");
    assert_eq!(
        (z.agent, z.until, z.kind, z.note.as_str()),
        (eve.agent, in_an_hour, SnoozeKind::Callback, "after 3pm")
    );
    run(&mut eve.store, Request::Unsnooze { id });
    assert!(sync(&mut eve, &mut ana).is_empty());
    assert_eq!(interaction(&mut ana, id).snoozed(), None);
    honest_contact_still_syncs(&mut eve, &mut ana);
}

/// A contact's merge written straight into the document, around the ops'
/// checks: `merged_into` (`None`: leave it out) and `merged_by` as given.
fn write_merge(desk: &mut Desk, id: ContactId, into: Option<String>, by: Option<String>) {
    desk.store
        .write_doc(&DocId::Contact(id), false, move |d| {
            if let Some(into) = into {
                d.put(automerge::ROOT, "merged_into", into)?;
            }
            d.put(automerge::ROOT, "merged_at", now_ms())?;
            if let Some(by) = by {
                d.put(automerge::ROOT, "merged_by", by)?;
            }
            Ok(())
        })
        .expect("writes");
}

fn new_contact(desk: &mut Desk, name: &str) -> ContactId {
    match run(
        &mut desk.store,
        Request::AddContact(ops::ContactSpec {
            name: Some(name.into()),
            ..Default::default()
        }),
    ) {
        Reply::Created { id } => id.parse().expect("contact id"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_merge_is_written_in_the_writers_own_name_into_another_contact() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    let mut bruno = admit(&mut ana, "Bruno");
    let a = new_contact(&mut ana, "Marta");
    let b = new_contact(&mut ana, "Marta R.");
    assert!(sync(&mut ana, &mut bruno).is_empty());
    assert!(sync(&mut ana, &mut eve).is_empty());
    let own = |desk: &Desk| Some(desk.agent.to_string());
    let forgeries = [
        // In Eve's name.
        (
            Some(b.to_string()),
            Some(eve.agent.to_string()),
            "does not fit a contact's merge",
        ),
        // Into itself.
        (
            Some(a.to_string()),
            own(&bruno),
            "does not fit a contact's merge",
        ),
        // Into something that is not a contact id.
        (
            Some("nobody".into()),
            own(&bruno),
            "does not fit a contact's merge",
        ),
        // Naming nobody.
        (Some(b.to_string()), None, "without naming itself"),
    ];
    for (into, by, why) in forgeries {
        let mut forger = device_copying(&bruno, bruno.key.clone(), "bruno", bruno.agent);
        write_merge(&mut forger, a, into, by);
        let refused = sync(&mut forger, &mut ana);
        assert!(
            refused_doc(&refused, &DocId::Contact(a)).contains(why),
            "{refused:?}"
        );
        assert_eq!(
            ana.store
                .contact(a)
                .expect("read")
                .expect("kept")
                .merged_into,
            None
        );
    }
    // Bruno's own merge, through the ops, goes through and reaches Ana and Eve.
    run(
        &mut bruno.store,
        Request::MergeContacts {
            survivor: b,
            absorbed: a,
        },
    );
    assert!(sync(&mut bruno, &mut ana).is_empty());
    assert!(sync(&mut ana, &mut eve).is_empty());
    let merged = eve.store.contact(a).expect("read").expect("kept");
    assert_eq!(
        (merged.merged_into, merged.merged_by),
        (Some(b), Some(bruno.agent))
    );
    assert_eq!(eve.store.count_contacts().expect("count"), 1);
}

#[test]
fn opposite_merges_made_apart_converge_on_the_smallest_id_everywhere() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    let a = new_contact(&mut ana, "Marta");
    let b = new_contact(&mut ana, "Marta R.");
    assert!(sync(&mut ana, &mut eve).is_empty());
    // Apart, each merges the other way.
    run(
        &mut ana.store,
        Request::MergeContacts {
            survivor: a,
            absorbed: b,
        },
    );
    run(
        &mut eve.store,
        Request::MergeContacts {
            survivor: b,
            absorbed: a,
        },
    );
    assert!(sync(&mut ana, &mut eve).is_empty());
    let smallest = a.min(b);
    for desk in [&mut ana, &mut eve] {
        let merges = desk.store.contact_merges().expect("merges");
        assert_eq!(merges.survivor(a), smallest);
        assert_eq!(merges.survivor(b), smallest);
        let page = desk.store.contacts_page(0, 10).expect("page");
        assert_eq!(page.total, 1);
        assert_eq!(
            page.rows.iter().map(|c| c.id).collect::<Vec<_>>(),
            [smallest]
        );
    }
    // Unmerging the other one's mark on either side leaves one merge: both agree again.
    let other = a.max(b);
    run(&mut eve.store, Request::UnmergeContact { id: other });
    assert!(sync(&mut eve, &mut ana).is_empty());
    for desk in [&mut ana, &mut eve] {
        let merges = desk.store.contact_merges().expect("merges");
        assert_eq!(merges.survivor(smallest), other);
        assert_eq!(desk.store.count_contacts().expect("count"), 1);
    }
}

#[test]
fn an_agents_status_log_past_its_bound_is_refused_and_a_trimmed_one_syncs() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    assert!(sync(&mut ana, &mut eve).is_empty());
    let doc_id = DocId::Agent(eve.agent);
    let read = |desk: &mut Desk| {
        desk.store
            .with_doc(&doc_id, |d| doc::agent::read(d).expect("read"))
            .expect("stored")
    };
    let before = read(&mut ana);

    // Eve's own device, writing around the ops: a log that only grows.
    let mut eve_copy = device_copying(&ana, eve.key.clone(), "eve-copy", eve.agent);
    eve_copy
        .store
        .write_doc(&doc_id, false, |d| {
            let log = match d.get(automerge::ROOT, "status_history") {
                Ok(Some((_, log))) => log,
                _ => panic!("no status log"),
            };
            let start = d.length(&log);
            for n in 0..=bounds::MAX_STATUS_LOG {
                let entry = d.insert_object(&log, start + n, automerge::ObjType::Map)?;
                d.put(&entry, "at", 1_000 + n as i64)?;
                d.put(&entry, "status", "available")?;
                d.put(&entry, "reason", "")?;
            }
            Ok(())
        })
        .expect("writes");
    let refused = sync(&mut eve_copy, &mut ana);
    assert!(
        refused_doc(&refused, &doc_id).contains("more than 1000"),
        "{refused:?}"
    );
    assert_eq!(read(&mut ana), before);

    // Her own node trims the oldest as it writes: the log stays at the
    // bound and reaches Ana.
    eve.store
        .write_doc(&doc_id, false, |d| {
            for n in 0..bounds::MAX_STATUS_LOG as i64 + 100 {
                doc::agent::set_status(d, &AgentStatus::Available, 2_000 + n)?;
            }
            Ok(())
        })
        .expect("writes");
    assert!(sync(&mut eve, &mut ana).is_empty());
    let log = read(&mut ana).status_history;
    assert_eq!(log.len(), bounds::MAX_STATUS_LOG);
    assert_eq!(log[0].at, 2_100);
    honest_contact_still_syncs(&mut eve, &mut ana);
}

fn file(hash: &str, size: u64, name: &str) -> blobs::Attachment {
    blobs::Attachment {
        hash: hash.parse().unwrap_or(blobs::BlobHash([7; 32])),
        size,
        mime: "image/png".into(),
        name: name.into(),
    }
}

/// Eve appends, in her own name, a message carrying `files` (written as the
/// document writer does, around the ops' checks), syncs it to Ana and says
/// what Ana refused.
fn eve_sends_files(
    ana: &mut Desk,
    eve: &mut Desk,
    files: Vec<blobs::Attachment>,
    patch: impl FnOnce(&mut automerge::AutoCommit) + Send + 'static,
) -> (InteractionId, Vec<(String, String)>) {
    let id = queued_interaction(ana, eve);
    let message = Message {
        attachments: files,
        id: MessageId::new(),
        author: Author::Agent(eve.agent),
        at: now_ms(),
        body: "see attached".into(),
    };
    eve.store
        .write_doc(&DocId::Interaction(id), false, move |d| {
            doc::interaction::append_message(d, &message)?;
            patch(d);
            Ok(())
        })
        .expect("eve writes");
    (id, sync(eve, ana))
}

#[test]
fn a_message_with_well_formed_files_syncs_and_reads_back() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    let hash = blobs::BlobHash::of(b"png bytes").to_hex();
    let files = vec![file(&hash, 9, "receipt.png"), file(&hash, 9, "copy.png")];
    let (id, refused) = eve_sends_files(&mut ana, &mut eve, files.clone(), |_| {});
    assert!(refused.is_empty(), "{refused:?}");
    let got = interaction(&mut ana, id);
    assert_eq!(
        got.messages.last().map(|m| m.attachments.clone()),
        Some(files)
    );
}

#[test]
fn malformed_or_too_many_files_in_a_message_are_refused() {
    let good = blobs::BlobHash::of(b"x").to_hex();
    let cases: Vec<(&str, Vec<blobs::Attachment>)> = vec![
        ("more than 10 files", vec![file(&good, 1, "a.png"); 11]),
        (
            "over the ceiling",
            vec![file(&good, bounds::MAX_FILE_BYTES + 1, "big.png")],
        ),
        (
            "a name with a folder",
            vec![file(&good, 1, "../etc/passwd")],
        ),
        ("an empty size", vec![file(&good, 0, "a.png")]),
    ];
    for (what, files) in cases {
        let mut ana = supervisor();
        let mut eve = admit(&mut ana, "Eve");
        let (id, refused) = eve_sends_files(&mut ana, &mut eve, files, |_| {});
        let reason = refused_doc(&refused, &DocId::Interaction(id));
        assert!(
            reason.contains("files") || reason.contains("file's record"),
            "{what}: {reason}"
        );
        assert_eq!(interaction(&mut ana, id).messages.len(), 1, "{what}");
    }
}

#[test]
fn a_hash_spelled_otherwise_or_a_file_added_later_is_refused() {
    let mut ana = supervisor();
    let mut eve = admit(&mut ana, "Eve");
    let good = blobs::BlobHash::of(b"x").to_hex();
    // The same hash in capitals: one file must have one name everywhere.
    let (id, refused) = eve_sends_files(&mut ana, &mut eve, vec![file(&good, 1, "a.png")], {
        let upper = good.to_uppercase();
        move |d| {
            let list = d
                .get(automerge::ROOT, "messages")
                .ok()
                .flatten()
                .map(|(_, o)| o);
            let Some(list) = list else { return };
            let last = d.length(&list) - 1;
            let Some((_, msg)) = d.get(&list, last).ok().flatten() else {
                return;
            };
            let Some((_, files)) = d.get(&msg, "attachments").ok().flatten() else {
                return;
            };
            let Some((_, one)) = d.get(&files, 0).ok().flatten() else {
                return;
            };
            let _ = d.put(&one, "hash", upper);
        }
    });
    assert!(
        refused_doc(&refused, &DocId::Interaction(id)).contains("file's record"),
        "{refused:?}"
    );

    // A file slipped into a message sent earlier.
    let (id, refused) = eve_sends_files(&mut ana, &mut eve, vec![file(&good, 1, "a.png")], |_| {});
    assert!(refused.is_empty(), "{refused:?}");
    eve.store
        .write_doc(&DocId::Interaction(id), false, move |d| {
            let list = doc_obj(d, automerge::ROOT, "messages");
            let last = d.length(&list) - 1;
            let msg = d
                .get(&list, last)
                .ok()
                .flatten()
                .map(|(_, o)| o)
                .expect("message");
            let files = doc_obj(d, msg, "attachments");
            let extra = d.insert_object(&files, 1, automerge::ObjType::Map)?;
            d.put(&extra, "hash", good.as_str())?;
            Ok(())
        })
        .expect("eve writes");
    let refused = sync(&mut eve, &mut ana);
    assert!(
        refused_doc(&refused, &DocId::Interaction(id)).contains("written only with its message"),
        "{refused:?}"
    );
    let files = interaction(&mut ana, id)
        .messages
        .last()
        .map(|m| m.attachments.len());
    assert_eq!(files, Some(1));
}

fn doc_obj(
    d: &automerge::AutoCommit,
    at: impl AsRef<automerge::ObjId>,
    key: &str,
) -> automerge::ObjId {
    d.get(at, key)
        .ok()
        .flatten()
        .map(|(_, o)| o)
        .expect("object")
}

fn mailbox(host: &str) -> Mailbox {
    let server = |port| MailServer {
        host: host.into(),
        port,
        tls: MailTls::Tls,
        user: "support@example.com".into(),
    };
    Mailbox {
        address: "support@example.com".into(),
        imap: server(993),
        smtp: server(465),
        fetchers: Default::default(),
    }
}

/// Ana's desk with a campaign on the email channel, Mail.
fn supervisor_with_mail_campaign() -> Desk {
    let mut ana = supervisor();
    run(
        &mut ana.store,
        Request::AddCampaign(ops::CampaignSpec::new(
            "Mail",
            ChannelKind::Email,
            Strategy::RingAll,
        )),
    );
    ana
}

#[test]
fn only_supervisors_set_a_mailbox_and_its_fields_keep_their_schema() {
    let mut ana = supervisor_with_mail_campaign();
    let mut eve = admit(&mut ana, "Eve");
    let team = team_doc(&ana);
    let campaign = ana
        .store
        .team()
        .expect("team")
        .expect("team")
        .campaign_by_name("Mail")
        .expect("Mail")
        .id;
    // The ops refuse an agent before writing.
    let refused = ops::execute(
        &mut eve.store,
        &ctx(),
        Request::SetMailbox {
            campaign: "Mail".into(),
            mailbox: Some(mailbox("imap.example.com")),
        },
    );
    assert!(matches!(refused, Err(ops::OpError::NotSupervisor(_))));
    // Written around the ops, every node refuses it on receive.
    let forged = mailbox("imap.evil.example");
    eve.store
        .write_doc(&team, false, move |d| {
            doc::team::set_mailbox(d, campaign, Some(&forged))
        })
        .expect("eve writes");
    let refused = sync(&mut eve, &mut ana);
    assert!(
        refused_doc(&refused, &team).contains("may only change its own device name"),
        "{refused:?}"
    );
    assert!(
        ana.store
            .team()
            .expect("team")
            .expect("team")
            .mailboxes
            .is_empty()
    );

    // Ana's mailbox reaches a new teammate's copy of the team.
    run(
        &mut ana.store,
        Request::SetMailbox {
            campaign: "Mail".into(),
            mailbox: Some(mailbox("imap.example.com")),
        },
    );
    let mut bo = admit(&mut ana, "Bo");
    let refused = sync(&mut ana, &mut bo);
    assert!(refused.is_empty(), "{refused:?}");
    let seen = bo.store.team().expect("team").expect("team");
    assert_eq!(seen.mailboxes[&campaign].imap.host, "imap.example.com");

    // Even a supervisor's port must be a port, and no other mail_ key goes.
    for (key, value) in [
        ("mail_imap_port", automerge::ScalarValue::Int(70_000)),
        ("mail_smtp_tls", automerge::ScalarValue::Str("ssl3".into())),
        (
            "mail_password",
            automerge::ScalarValue::Str("hunter2".into()),
        ),
    ] {
        let mut ana_copy = device_copying(&bo, ana.key.clone(), "ana", ana.agent);
        ana_copy
            .store
            .write_doc(&team, false, move |d| {
                let campaigns = match d.get(automerge::ROOT, "campaigns")? {
                    Some((_, id)) => id,
                    None => return Err(doc::DocError::Missing("campaigns".into())),
                };
                let c = match d.get(&campaigns, campaign.to_string())? {
                    Some((_, id)) => id,
                    None => return Err(doc::DocError::Missing("campaign".into())),
                };
                d.put(&c, key, value)?;
                Ok(())
            })
            .expect("ana writes");
        let refused = sync(&mut ana_copy, &mut bo);
        assert!(
            refused_doc(&refused, &team).contains("outside a mailbox's schema"),
            "{key}: {refused:?}"
        );
    }
    let seen = bo.store.team().expect("team").expect("team");
    assert_eq!(seen.mailboxes[&campaign].imap.port, 993);
}

/// A mail from a new sender, as a fetcher hands it to its node.
fn mail_from(sender: &str, mail_id: &str) -> Request {
    Request::MailIntake(Box::new(mail::InboundMail {
        campaign: "Mail".into(),
        mail_id: mail_id.into(),
        replies_to: Vec::new(),
        subject: "Help".into(),
        from_address: sender.into(),
        from_name: Some("Carla".into()),
        text: "hello".into(),
        files: Vec::new(),
        uid: None,
    }))
}

#[test]
fn contacts_two_fetchers_make_apart_for_one_sender_sync_and_stand_for_one() {
    let mut ana = supervisor_with_mail_campaign();
    let mut eve = admit(&mut ana, "Eve");
    assert!(sync(&mut ana, &mut eve).is_empty());
    // Apart, each takes the same new sender's mail in (the address spelled
    // otherwise on one side) and makes a contact for it.
    run(
        &mut ana.store,
        mail_from("carla@example.com", "<m1@example.com>"),
    );
    run(
        &mut eve.store,
        mail_from("Carla@Example.com", "<m1@example.com>"),
    );
    let made = |desk: &Desk| desk.store.contacts(0, 10).expect("contacts")[0].id;
    let (on_ana, on_eve) = (made(&ana), made(&eve));
    assert_ne!(on_ana, on_eve);
    let refused = sync(&mut ana, &mut eve);
    assert!(refused.is_empty(), "{refused:?}");
    let smallest = on_ana.min(on_eve);
    for desk in [&ana, &eve] {
        let page = desk.store.contacts_page(0, 10).expect("page");
        assert_eq!(page.total, 1, "{}", desk.name);
        assert_eq!(page.rows[0].id, smallest, "{}", desk.name);
        let merges = desk.store.contact_merges().expect("merges");
        assert_eq!(merges.survivor(on_ana.max(on_eve)), smallest);
    }
    // A later mail from the sender links to the one that stands.
    let Reply::Created { id } = run(
        &mut eve.store,
        mail_from("carla@example.com", "<m2@example.com>"),
    ) else {
        panic!("expected an id");
    };
    let later = interaction(&mut eve, id.parse().expect("interaction id"));
    assert_eq!(later.contact, Some(smallest));
    // Unmerging the other one by hand parts it, on every node.
    let other = on_ana.max(on_eve);
    run(&mut eve.store, Request::UnmergeContact { id: other });
    assert!(sync(&mut eve, &mut ana).is_empty());
    for desk in [&ana, &eve] {
        assert_eq!(desk.store.count_contacts().expect("count"), 2);
    }

    // The sender is written only when the contact is made: a later write,
    // which would pull another entry into the sender's twins, is refused.
    let lucia = new_contact(&mut eve, "Lucía");
    assert!(sync(&mut eve, &mut ana).is_empty());
    refused_at_root(
        (&mut eve, &mut ana),
        (&DocId::Contact(lucia), false),
        ("mail_sender", "carla@example.com".into()),
        "only when it is created",
    );
    assert_eq!(ana.store.count_contacts().expect("count"), 3);
    // Nor is a sender that is not a lowercase address, even at creation.
    refused_at_root(
        (&mut eve, &mut ana),
        (&DocId::Contact(ContactId::new()), true),
        ("mail_sender", "Carla@Example.com".into()),
        "not a lowercase address",
    );
    honest_contact_still_syncs(&mut eve, &mut ana);
}
