//! `Request::Report` on a real store: the rows and status logs its
//! projections keep as documents are written give the figures, and an
//! agent sees only their own row.

use meshdesk_model::ops::{self, Context, Reply, Request};
use meshdesk_model::report::{Grouping, Report};
use meshdesk_model::store::Store;
use meshdesk_model::*;

const NOV1: Millis = 1_793_491_200_000; // 2026-11-01T00:00:00Z
const MIN: Millis = 60_000;

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

fn report(store: &mut Store, by: Grouping) -> Report {
    let request = Request::Report {
        from: NOV1,
        to: NOV1 + 30 * 24 * 60 * MIN,
        by,
    };
    match run(store, NOV1 + 40 * 24 * 60 * MIN, request) {
        Reply::Report(r) => *r,
        other => panic!("expected a report, got {other:?}"),
    }
}

/// A fresh store of a team made at `now` by Ana, its supervisor.
fn support_team(now: Millis) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store =
        Store::open(dir.path().join("s.redb"), authorship::DeviceKey::generate()).expect("open");
    run(
        &mut store,
        now,
        Request::CreateTeam {
            team_name: "Support".into(),
            agent_name: "Ana".into(),
            device_name: "desk".into(),
        },
    );
    (dir, store)
}

#[test]
fn a_report_reads_what_the_documents_say() {
    let t0 = NOV1 + 9 * 60 * MIN;
    let (_dir, mut store) = support_team(t0 - 60 * MIN);
    run(
        &mut store,
        t0 - 30 * MIN,
        Request::SetStatus {
            status: AgentStatus::Available,
        },
    );
    let campaign = run(&mut store, t0, Request::ListCampaigns);
    let Reply::Campaigns(campaigns) = campaign else {
        panic!("campaigns");
    };
    let general = campaigns[0].name.clone();
    let disposition = campaigns[0].dispositions[0].clone();
    let Reply::Created { id } = run(
        &mut store,
        t0,
        Request::Enqueue {
            campaign: general.clone(),
            contact: None,
            from: Some("+34 600 000 001".into()),
            name: Some("Marta".into()),
            message: Some("Hello".into()),
            priority: 0,
        },
    ) else {
        panic!("created");
    };
    let id: InteractionId = id.parse().expect("id");
    run(&mut store, t0 + 45_000, Request::Accept { id });
    run(
        &mut store,
        t0 + 5 * MIN,
        Request::Finalize {
            id,
            disposition: disposition.clone(),
            note: None,
        },
    );
    run(
        &mut store,
        t0 + 6 * MIN,
        Request::SetStatus {
            status: AgentStatus::Break {
                reason: "Lunch".into(),
            },
        },
    );
    run(
        &mut store,
        t0 + 66 * MIN,
        Request::SetStatus {
            status: AgentStatus::Offline,
        },
    );

    let r = report(&mut store, Grouping::Campaign);
    let g = r
        .groups
        .iter()
        .find(|g| g.name == general)
        .expect("the campaign");
    let f = &g.figures;
    assert_eq!((f.offered, f.answered, f.handled), (1, 1, 1));
    assert_eq!(f.wait.avg_ms, Some(45_000));
    assert_eq!(f.handle.avg_ms, Some(5 * MIN - 45_000));
    assert_eq!(f.dispositions.get(&disposition), Some(&1));
    assert_eq!(f.per_hour[9], 1);

    let r = report(&mut store, Grouping::Agent);
    let ana = &r.groups[0].figures;
    assert_eq!(r.groups[0].name, "Ana");
    assert_eq!(ana.handled, 1);
    // Available from before the range's first event until the break, on
    // break for an hour, then offline until the newest recorded change.
    assert_eq!(ana.status_ms.get("available"), Some(&(36 * MIN)));
    assert_eq!(ana.break_ms.get("Lunch"), Some(&(60 * MIN)));
    assert_eq!(r.status_until, t0 + 66 * MIN);
    assert_eq!(ana.status_ms.get("offline"), None);

    // The projection is derived again from the documents alone: the same report.
    let csv = r.to_csv().expect("csv");
    store.rebuild_projections().expect("rebuild");
    let again = report(&mut store, Grouping::Agent);
    assert_eq!(again.to_csv().expect("csv"), csv);

    let refused = ops::execute(
        &mut store,
        &at(t0),
        Request::Report {
            from: NOV1,
            to: NOV1,
            by: Grouping::Agent,
        },
    );
    assert!(matches!(refused, Err(ops::OpError::EmptyRange)));
}

/// Two fetchers apart each took in the same first mail: the board and the
/// reports count the customer once, as routing and Pending do, and the
/// copy stays out once the other is taken.
#[test]
fn a_mail_taken_in_on_both_sides_of_a_partition_counts_once_on_the_board_and_in_reports() {
    use meshdesk_model::ops::CampaignSpec;
    use meshdesk_model::store::DocEdit;
    use meshdesk_model::{doc, doc::DocId, mail::InboundMail};
    let t0 = NOV1 + 9 * 60 * MIN;
    let (_dir, mut store) = support_team(t0);
    run(
        &mut store,
        t0,
        Request::AddCampaign(CampaignSpec::new(
            "Mail",
            ChannelKind::Email,
            Strategy::RingAll,
        )),
    );
    let mail = InboundMail {
        campaign: "Mail".into(),
        mail_id: "<order-17@customer.example>".into(),
        replies_to: vec![],
        subject: "My order".into(),
        from_address: "marta@customer.example".into(),
        from_name: Some("Marta".into()),
        text: "Where is it?".into(),
        files: vec![],
        uid: None,
    };
    let Reply::Created { id } = run(&mut store, t0, Request::MailIntake(Box::new(mail))) else {
        panic!("created");
    };
    let first: InteractionId = id.parse().expect("an id");
    // What the other side's fetcher wrote, as the merge brings it in: the
    // same mail, in an interaction of its own.
    let mut copy = store.interaction(first).expect("the first");
    copy.id = InteractionId::new();
    let message = copy.messages[0].id;
    store
        .write_many(vec![DocEdit::new(
            DocId::Interaction(copy.id),
            true,
            move |d| {
                doc::interaction::create(d, &copy)?;
                doc::interaction::mark_mail(d, message, "<order-17@customer.example>", None, None)
            },
        )])
        .expect("the copy");
    // (waiting, offered today) of the mail campaign on the board.
    let figures = |store: &mut Store| match run(store, t0 + MIN, Request::Board) {
        Reply::Board(b) => {
            let mail = b
                .campaigns
                .iter()
                .find(|c| c.name == "Mail")
                .expect("the mail campaign");
            (mail.waiting, mail.offered_today)
        }
        other => panic!("expected the board, got {other:?}"),
    };
    assert_eq!(
        figures(&mut store),
        (1, 1),
        "one customer waits, offered once"
    );
    run(&mut store, t0 + MIN, Request::Accept { id: first });
    assert_eq!(
        figures(&mut store),
        (0, 1),
        "the copy does not wait once the mail is taken"
    );
    let Reply::Report(report) = run(
        &mut store,
        t0 + MIN,
        Request::Report {
            from: NOV1,
            to: NOV1 + 24 * 60 * MIN,
            by: Grouping::Campaign,
        },
    ) else {
        panic!("a report");
    };
    let mail = report
        .groups
        .iter()
        .find(|g| g.name == "Mail")
        .expect("the mail campaign's row");
    assert_eq!(
        (mail.figures.offered, mail.figures.answered),
        (1, 1),
        "{mail:?}"
    );
}
