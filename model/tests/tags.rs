//! Tags in use (`ListTags`, what the tag field completes from) through a
//! real store: counted per interaction and per contact, kept as tags come
//! and go, the same after a rebuild, and bounded.

use meshdesk_model::ops::{self, ContactSpec, Context, OpError, Reply, Request};
use meshdesk_model::store::{Store, TagUse};
use meshdesk_model::*;

fn run(store: &mut Store, request: Request) -> Reply {
    match ops::execute(store, &Context::now(), request.clone()) {
        Ok(outcome) => outcome.reply,
        Err(e) => panic!("{request:?} failed: {e}"),
    }
}

fn refusal(store: &mut Store, request: Request) -> OpError {
    match ops::execute(store, &Context::now(), request.clone()) {
        Ok(outcome) => panic!("{request:?} was taken: {:?}", outcome.reply),
        Err(e) => e,
    }
}

fn tags(store: &mut Store) -> Vec<TagUse> {
    match run(store, Request::ListTags) {
        Reply::Tags(tags) => tags,
        other => panic!("{other:?}"),
    }
}

fn uses(tag: &str, interactions: u64, contacts: u64) -> TagUse {
    TagUse {
        tag: tag.into(),
        interactions,
        contacts,
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

fn interaction(store: &mut Store, to: &str) -> InteractionId {
    match run(
        store,
        Request::NewInteraction {
            channel: ChannelKind::Phone,
            campaign: "General".into(),
            contact: None,
            to: Some(to.into()),
            fields: Default::default(),
            message: None,
        },
    ) {
        Reply::Created { id } => id.parse().expect("an interaction id"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn tags_in_use_are_counted_most_used_first_and_leave_when_the_last_goes() {
    let (_dir, mut store) = store();
    assert!(tags(&mut store).is_empty());
    let a = interaction(&mut store, "+34 600 100 200");
    let b = interaction(&mut store, "+34 600 100 201");
    run(
        &mut store,
        Request::AddContact(ContactSpec {
            name: Some("Marta".into()),
            tags: Some(vec!["vip".into(), "spanish".into()]),
            ..Default::default()
        }),
    );
    for (id, tag) in [(a, "vip"), (b, "vip"), (b, "refund"), (b, " vip ")] {
        run(
            &mut store,
            Request::AddTag {
                id,
                tag: tag.into(),
            },
        );
    }
    // " vip " is the tag b already carries: counted once.
    assert_eq!(
        tags(&mut store),
        [
            uses("vip", 2, 1),
            uses("refund", 1, 0),
            uses("spanish", 0, 1)
        ]
    );

    run(
        &mut store,
        Request::RemoveTag {
            id: b,
            tag: "refund".into(),
        },
    );
    run(
        &mut store,
        Request::RemoveTag {
            id: a,
            tag: "vip".into(),
        },
    );
    assert_eq!(tags(&mut store), [uses("vip", 1, 1), uses("spanish", 0, 1)]);

    // What the writes kept is what the documents alone give.
    let kept = store.projection_dump().expect("dump");
    store.rebuild_projections().expect("rebuild");
    assert_eq!(store.projection_dump().expect("dump"), kept);
    assert_eq!(tags(&mut store), [uses("vip", 1, 1), uses("spanish", 0, 1)]);
}

#[test]
fn a_tag_is_one_line_and_an_interaction_carries_a_bounded_number() {
    let (_dir, mut store) = store();
    let id = interaction(&mut store, "+34 600 100 200");
    let e = refusal(
        &mut store,
        Request::AddTag {
            id,
            tag: "two\nlines".into(),
        },
    );
    assert!(e.to_string().contains("control character"), "{e}");
    let e = refusal(
        &mut store,
        Request::AddTag {
            id,
            tag: "x".repeat(bounds::MAX_TAG_CHARS + 1),
        },
    );
    assert!(e.to_string().contains("too long"), "{e}");
    for n in 0..bounds::MAX_TAGS_PER_INTERACTION {
        run(
            &mut store,
            Request::AddTag {
                id,
                tag: format!("t{n}"),
            },
        );
    }
    let e = refusal(
        &mut store,
        Request::AddTag {
            id,
            tag: "one more".into(),
        },
    );
    assert!(matches!(e, OpError::TooManyTags(..)), "{e}");
    assert_eq!(tags(&mut store).len(), bounds::MAX_TAGS_PER_INTERACTION);
}
