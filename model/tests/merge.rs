//! Merging contacts through a real store: the absorbed entry leaves the
//! phonebook, its interactions, phones, emails and tags show under the
//! survivor, a gateway's customer who matches it lands on the survivor,
//! the refusals are typed and write nothing, an unmerge gives everything
//! back, and a rebuild derives the same rows.

use meshdesk_model::bounds::{MAX_MERGE_CHAIN, MAX_MERGED_CONTACTS};
use meshdesk_model::ops::{
    self, ContactProfile, ContactSpec, Context, CustomerSpec, FromReply, OpError, Reply, Request,
};
use meshdesk_model::store::{Page, Store};
use meshdesk_model::*;

fn run(store: &mut Store, request: Request) -> Reply {
    match ops::execute(store, &Context::now(), request.clone()) {
        Ok(outcome) => outcome.reply,
        Err(e) => panic!("{request:?} failed: {e}"),
    }
}

fn ask<T: FromReply>(store: &mut Store, request: Request) -> T {
    T::from_reply(run(store, request)).expect("the reply the request gives")
}

fn refusal(store: &mut Store, request: Request) -> OpError {
    match ops::execute(store, &Context::now(), request.clone()) {
        Ok(outcome) => panic!("{request:?} was taken: {:?}", outcome.reply),
        Err(e) => e,
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(
        dir.path().join("store.redb"),
        meshdesk_model::authorship::DeviceKey::generate(),
    )
    .expect("open");
    run(
        &mut store,
        Request::CreateTeam {
            team_name: "Support".into(),
            agent_name: "Ana".into(),
            device_name: "desk".into(),
        },
    );
    (dir, store)
}

fn contact(store: &mut Store, name: &str, phone: &str, email: &str, tag: &str) -> ContactId {
    match run(
        store,
        Request::AddContact(ContactSpec {
            name: Some(name.into()),
            phones: Some(vec![phone.into()]),
            emails: Some(vec![email.into()]),
            company: Some(format!("{name} Ltd")),
            tags: Some(vec![tag.into()]),
            notes: None,
        }),
    ) {
        Reply::Created { id } => id.parse().expect("a contact id"),
        other => panic!("{other:?}"),
    }
}

fn call_with(store: &mut Store, contact: ContactId) -> InteractionId {
    match run(
        store,
        Request::NewInteraction {
            channel: ChannelKind::Phone,
            campaign: "General".into(),
            contact: Some(contact),
            to: None,
            fields: Default::default(),
            message: None,
        },
    ) {
        Reply::Created { id } => id.parse().expect("an interaction id"),
        other => panic!("{other:?}"),
    }
}

fn phonebook(store: &mut Store, search: Option<&str>) -> (Vec<String>, usize) {
    let page: Page<Contact> = ask(
        store,
        Request::PageContacts {
            search: search.map(str::to_string),
            offset: 0,
            limit: 50,
        },
    );
    (page.rows.into_iter().map(|c| c.name).collect(), page.total)
}

fn profile(store: &mut Store, id: ContactId) -> ContactProfile {
    ask(store, Request::ShowContact { id })
}

fn merge(store: &mut Store, survivor: ContactId, absorbed: ContactId) {
    run(store, Request::MergeContacts { survivor, absorbed });
}

#[test]
fn a_merged_contact_shows_under_its_survivor_and_an_unmerge_gives_it_back() {
    let (_dir, mut store) = store();
    let marta = contact(
        &mut store,
        "Marta Ruiz",
        "+34 600 100 200",
        "marta@example.com",
        "vip",
    );
    let twin = contact(
        &mut store,
        "M. Ruiz",
        "+34 600 999 000",
        "mruiz@work.example",
        "spanish",
    );
    let bruno = contact(
        &mut store,
        "Bruno",
        "+34 611 000 000",
        "bruno@example.com",
        "new",
    );
    let first = call_with(&mut store, marta);
    let second = call_with(&mut store, twin);
    assert_eq!(phonebook(&mut store, None).1, 3);

    merge(&mut store, marta, twin);

    // The phonebook lists the survivor once, and the absorbed one's words find it.
    assert_eq!(
        phonebook(&mut store, None),
        (vec!["Bruno".into(), "Marta Ruiz".into()], 2)
    );
    assert_eq!(
        phonebook(&mut store, Some("600 999")),
        (vec!["Marta Ruiz".into()], 1)
    );
    assert_eq!(
        phonebook(&mut store, Some("ruiz")),
        (vec!["Marta Ruiz".into()], 1)
    );
    // Its profile holds both contacts' interactions, phones, emails and
    // tags; its own name and company win. The absorbed id opens the same.
    let p = profile(&mut store, marta);
    assert_eq!(p.absorbed.iter().map(|c| c.id).collect::<Vec<_>>(), [twin]);
    let mut calls: Vec<InteractionId> = p.interactions.iter().map(|s| s.id).collect();
    calls.sort();
    assert_eq!(calls, [first, second]);
    let shown = p.combined();
    assert_eq!(
        (shown.name.as_str(), shown.company.as_str()),
        ("Marta Ruiz", "Marta Ruiz Ltd")
    );
    assert_eq!(shown.phones, ["+34 600 100 200", "+34 600 999 000"]);
    assert_eq!(shown.emails, ["marta@example.com", "mruiz@work.example"]);
    assert_eq!(
        shown.tags.iter().map(String::as_str).collect::<Vec<_>>(),
        ["spanish", "vip"]
    );
    assert_eq!(profile(&mut store, twin), p);
    let merged = store.contact(twin).expect("read").expect("kept");
    assert_eq!(merged.merged_into, Some(marta));
    // An interaction of the absorbed contact names the survivor as its customer.
    let detail: ops::InteractionDetail = ask(&mut store, Request::ShowInteraction { id: second });
    assert_eq!(detail.contact.map(|c| c.id), Some(marta));

    // A customer arriving with the absorbed contact's email or phone (a
    // gateway's intake) is the survivor, with nothing new in the phonebook.
    for customer in [
        CustomerSpec {
            email: Some("MRUIZ@work.example".into()),
            ..CustomerSpec::default()
        },
        CustomerSpec {
            phone: Some("+34600999000".into()),
            ..CustomerSpec::default()
        },
        CustomerSpec {
            id: Some(twin),
            ..CustomerSpec::default()
        },
    ] {
        let Reply::Created { id } = run(
            &mut store,
            Request::Intake {
                campaign: "General".into(),
                customer,
                message: "hello again".into(),
                priority: 0,
            },
        ) else {
            panic!("no interaction");
        };
        let id: InteractionId = id.parse().expect("id");
        let detail: ops::InteractionDetail = ask(&mut store, Request::ShowInteraction { id });
        assert_eq!(detail.interaction.contact, Some(marta));
    }
    assert_eq!(phonebook(&mut store, None).1, 2);
    assert_eq!(profile(&mut store, marta).interactions.len(), 5);

    // The same rows after a rebuild from the documents alone.
    let kept = store.projection_dump().expect("dump");
    store.rebuild_projections().expect("rebuild");
    assert_eq!(store.projection_dump().expect("dump"), kept);

    // Unmerge: both are listed again, each with its own.
    run(&mut store, Request::UnmergeContact { id: twin });
    assert_eq!(phonebook(&mut store, None).1, 3);
    let p = profile(&mut store, twin);
    assert_eq!(p.contact.name, "M. Ruiz");
    assert!(p.absorbed.is_empty());
    assert_eq!(
        p.interactions.iter().map(|s| s.id).collect::<Vec<_>>(),
        [second]
    );
    assert_eq!(profile(&mut store, marta).interactions.len(), 4);
    let _ = bruno;
}

#[test]
fn merges_are_refused_with_a_reason_and_write_nothing() {
    let (_dir, mut store) = store();
    let ids: Vec<ContactId> = (0..4)
        .map(|n| {
            contact(
                &mut store,
                &format!("C{n}"),
                &format!("+34 600 000 00{n}"),
                &format!("c{n}@example.com"),
                "t",
            )
        })
        .collect();
    let (a, b, c, d) = (ids[0], ids[1], ids[2], ids[3]);
    let before = store.projection_dump().expect("dump");
    assert!(matches!(
        refusal(
            &mut store,
            Request::MergeContacts {
                survivor: a,
                absorbed: a
            }
        ),
        OpError::MergeIntoItself
    ));
    assert!(matches!(
        refusal(&mut store, Request::UnmergeContact { id: a }),
        OpError::NotMerged(_)
    ));
    let unknown = ContactId::new();
    assert!(matches!(
        refusal(
            &mut store,
            Request::MergeContacts {
                survivor: unknown,
                absorbed: a
            }
        ),
        OpError::UnknownId {
            what: "contact",
            ..
        }
    ));
    assert_eq!(store.projection_dump().expect("dump"), before);

    merge(&mut store, a, b);
    // Into an absorbed contact, or an absorbed one again: named, refused.
    let e = refusal(
        &mut store,
        Request::MergeContacts {
            survivor: b,
            absorbed: c,
        },
    );
    assert!(
        matches!(e, OpError::AlreadyMerged { into, .. } if into == a),
        "{e}"
    );
    let e = refusal(
        &mut store,
        Request::MergeContacts {
            survivor: c,
            absorbed: b,
        },
    );
    assert!(matches!(e, OpError::AlreadyMerged { .. }), "{e}");
    // Into a deleted contact.
    run(&mut store, Request::DeleteContact { id: d });
    assert!(matches!(
        refusal(
            &mut store,
            Request::MergeContacts {
                survivor: d,
                absorbed: c
            }
        ),
        OpError::UnknownId { .. }
    ));
    // A survivor merged on carries what it absorbed: a chain.
    merge(&mut store, c, a);
    let p = profile(&mut store, b);
    assert_eq!(p.contact.id, c);
    assert_eq!(p.absorbed.len(), 2);
    // Deleting the survivor brings back what it absorbed.
    run(&mut store, Request::DeleteContact { id: c });
    assert_eq!(profile(&mut store, b).contact.id, a);
}

#[test]
fn chains_and_survivors_are_bounded() {
    let (_dir, mut store) = store();
    let make = |store: &mut Store, n: usize| {
        contact(
            store,
            &format!("C{n}"),
            &format!("+34 600 {n:06}"),
            &format!("c{n}@example.com"),
            "t",
        )
    };
    // A chain of MAX_MERGE_CHAIN merges is taken; one more is refused.
    let chain: Vec<ContactId> = (0..=MAX_MERGE_CHAIN + 1)
        .map(|n| make(&mut store, n))
        .collect();
    for n in 0..MAX_MERGE_CHAIN {
        merge(&mut store, chain[n + 1], chain[n]);
    }
    let end = chain[MAX_MERGE_CHAIN];
    assert_eq!(profile(&mut store, chain[0]).contact.id, end);
    let e = refusal(
        &mut store,
        Request::MergeContacts {
            survivor: chain[MAX_MERGE_CHAIN + 1],
            absorbed: end,
        },
    );
    assert!(matches!(e, OpError::MergeTooDeep { .. }), "{e}");

    // At most MAX_MERGED_CONTACTS into one.
    let hub = make(&mut store, 100);
    for n in 0..MAX_MERGED_CONTACTS {
        let c = make(&mut store, 200 + n);
        merge(&mut store, hub, c);
    }
    let extra = make(&mut store, 999);
    let e = refusal(
        &mut store,
        Request::MergeContacts {
            survivor: hub,
            absorbed: extra,
        },
    );
    assert!(matches!(e, OpError::MergeTooMany { .. }), "{e}");
    assert_eq!(profile(&mut store, hub).absorbed.len(), MAX_MERGED_CONTACTS);
}
