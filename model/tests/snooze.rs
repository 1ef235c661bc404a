//! Snoozes and callbacks through a real store: a snoozed interaction is out
//! of its owner's Active until due, comes back by the clock alone (nobody
//! writes at the due time), and is announced once per device.

use meshdesk_model::doc::{self, DocId};
use meshdesk_model::ops::{
    self, Context, HistoryFilter, InteractionRow, OpError, Reply, Request, Tab,
};
use meshdesk_model::store::Store;
use meshdesk_model::*;

const HOUR: Millis = 3_600_000;

fn at(now: Millis) -> Context {
    Context {
        now,
        presence: None,
    }
}

fn run(store: &mut Store, now: Millis, request: Request) -> Reply {
    match ops::execute(store, &at(now), request.clone()) {
        Ok(outcome) => outcome.reply,
        Err(e) => panic!("{request:?} failed: {e}"),
    }
}

fn refusal(store: &mut Store, now: Millis, request: Request) -> OpError {
    match ops::execute(store, &at(now), request.clone()) {
        Ok(outcome) => panic!("{request:?} went through: {:?}", outcome.reply),
        Err(e) => e,
    }
}

fn ids(reply: Reply) -> Vec<InteractionId> {
    match reply {
        Reply::Interactions(rows) => rows.iter().map(|r: &InteractionRow| r.summary.id).collect(),
        other => panic!("expected rows, got {other:?}"),
    }
}

fn tab(store: &mut Store, now: Millis, tab: Tab) -> Vec<InteractionId> {
    ids(run(
        store,
        now,
        Request::ListInteractions {
            tab,
            search: None,
            limit: None,
            history: HistoryFilter::default(),
        },
    ))
}

/// Ana's store with two active interactions of hers (outbound calls).
fn desk() -> (tempfile::TempDir, Store, Millis, [InteractionId; 2]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(
        dir.path().join("store.redb"),
        meshdesk_model::authorship::DeviceKey::generate(),
    )
    .expect("open");
    let now = now_ms();
    run(
        &mut store,
        now,
        Request::CreateTeam {
            team_name: "Support".into(),
            agent_name: "Ana".into(),
            device_name: "ana-desk".into(),
        },
    );
    let mut call = |to: &str| {
        let reply = run(
            &mut store,
            now,
            Request::NewInteraction {
                channel: ChannelKind::Phone,
                campaign: "General".into(),
                contact: None,
                to: Some(to.into()),
                fields: Default::default(),
                message: None,
            },
        );
        let Reply::Created { id } = reply else {
            panic!("expected an id, got {reply:?}");
        };
        id.parse::<InteractionId>().expect("an interaction id")
    };
    let ids = [call("+34600100200"), call("+34600100300")];
    (dir, store, now, ids)
}

fn snooze(id: InteractionId, until: Millis, kind: SnoozeKind, note: &str) -> Request {
    Request::Snooze {
        id,
        until,
        kind,
        note: Some(note.into()),
    }
}

#[test]
fn a_snoozed_interaction_leaves_active_until_due_then_comes_back_by_the_clock() {
    let (_dir, mut store, now, [a, b]) = desk();
    let due = now + 2 * HOUR;
    run(
        &mut store,
        now,
        snooze(a, due, SnoozeKind::Callback, "call after lunch"),
    );
    // Out of Active, in Snoozed, with what was set.
    assert_eq!(tab(&mut store, now, Tab::Active), vec![b]);
    let Reply::Interactions(rows) = run(
        &mut store,
        now,
        Request::ListInteractions {
            tab: Tab::Snoozed,
            search: None,
            limit: None,
            history: HistoryFilter::default(),
        },
    ) else {
        panic!("rows");
    };
    assert_eq!(rows.len(), 1);
    let z = rows[0].summary.snooze.clone().expect("the snooze");
    assert_eq!(
        (rows[0].summary.id, z.until, z.kind, z.note.as_str()),
        (a, due, SnoozeKind::Callback, "call after lunch")
    );
    // A search in Active does not find it either.
    let found = ids(run(
        &mut store,
        now,
        Request::ListInteractions {
            tab: Tab::Active,
            search: Some("34600100200".into()),
            limit: None,
            history: HistoryFilter::default(),
        },
    ));
    assert!(found.is_empty(), "{found:?}");
    // Nothing is written at the due time: the same store, a later clock.
    assert_eq!(tab(&mut store, due - 1, Tab::Active), vec![b]);
    let back = tab(&mut store, due, Tab::Active);
    assert!(back.contains(&a) && back.contains(&b), "{back:?}");
    assert!(tab(&mut store, due, Tab::Snoozed).is_empty());
}

#[test]
fn a_due_snooze_is_announced_once_per_device_and_due_time() {
    let (_dir, mut store, now, [a, b]) = desk();
    run(
        &mut store,
        now,
        snooze(a, now + HOUR, SnoozeKind::Snooze, ""),
    );
    run(
        &mut store,
        now,
        snooze(b, now + 3 * HOUR, SnoozeKind::Snooze, ""),
    );
    // Nothing due yet.
    assert!(ids(run(&mut store, now, Request::TakeDueSnoozes)).is_empty());
    // Past both: each once, soonest first; asking again gives nothing.
    let later = now + 4 * HOUR;
    assert_eq!(
        ids(run(&mut store, later, Request::TakeDueSnoozes)),
        vec![a, b]
    );
    assert!(ids(run(&mut store, later, Request::TakeDueSnoozes)).is_empty());
    // A new snooze of the same interaction is a new due time: announced again.
    run(
        &mut store,
        later,
        snooze(a, later + HOUR, SnoozeKind::Snooze, ""),
    );
    assert!(ids(run(&mut store, later, Request::TakeDueSnoozes)).is_empty());
    assert_eq!(
        ids(run(&mut store, later + HOUR, Request::TakeDueSnoozes)),
        vec![a]
    );
}

#[test]
fn unsnoozing_brings_it_back_now_and_a_transfer_or_a_finalize_ends_a_snooze() {
    let (_dir, mut store, now, [a, b]) = desk();
    run(
        &mut store,
        now,
        snooze(a, now + HOUR, SnoozeKind::Snooze, ""),
    );
    run(&mut store, now, Request::Unsnooze { id: a });
    assert_eq!(tab(&mut store, now, Tab::Active).len(), 2);
    assert!(matches!(
        refusal(&mut store, now, Request::Unsnooze { id: a }),
        OpError::NotSnoozed(_)
    ));
    // Finalized while snoozed: it goes to History, nothing comes due.
    run(
        &mut store,
        now,
        snooze(b, now + HOUR, SnoozeKind::Snooze, ""),
    );
    run(
        &mut store,
        now,
        Request::Finalize {
            id: b,
            disposition: "Resolved".into(),
            note: None,
        },
    );
    assert!(tab(&mut store, now, Tab::Snoozed).is_empty());
    assert!(ids(run(&mut store, now + 2 * HOUR, Request::TakeDueSnoozes)).is_empty());
    let stored = store
        .with_doc(&DocId::Interaction(b), |d| {
            doc::interaction::read(d).expect("read")
        })
        .expect("stored");
    assert!(stored.snooze.is_some() && stored.snoozed().is_none());
}

#[test]
fn snoozes_are_refused_with_a_typed_reason_before_anything_is_written() {
    let (_dir, mut store, now, [a, _]) = desk();
    let before = store
        .with_doc(&DocId::Interaction(a), |d| {
            doc::interaction::read(d).expect("read")
        })
        .expect("stored");
    assert!(matches!(
        refusal(&mut store, now, snooze(a, now, SnoozeKind::Snooze, "")),
        OpError::SnoozeNotAhead
    ));
    assert!(matches!(
        refusal(
            &mut store,
            now,
            snooze(a, now + 200 * 24 * HOUR, SnoozeKind::Snooze, "")
        ),
        OpError::SnoozeTooFar { days: 92 }
    ));
    let e = refusal(
        &mut store,
        now,
        snooze(a, now + HOUR, SnoozeKind::Snooze, &"x".repeat(501)),
    );
    assert!(e.to_string().contains("too long"), "{e}");
    assert!(matches!(
        refusal(&mut store, now, Request::Unsnooze { id: a }),
        OpError::NotSnoozed(_)
    ));
    let after = store
        .with_doc(&DocId::Interaction(a), |d| {
            doc::interaction::read(d).expect("read")
        })
        .expect("stored");
    assert_eq!(before, after);
}
