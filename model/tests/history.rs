//! History as an agent meets it: their own closed interactions by default,
//! the team's on request, narrowed by campaign, channel, disposition, tag and
//! closing dates, each combinable with the others and with the search words.

use std::collections::BTreeMap;

use meshdesk_model::doc::{self, DocId};
use meshdesk_model::ops::{
    self, CampaignSpec, Context, HistoryFilter, OpError, Reply, Request, Tab, Whose,
};
use meshdesk_model::store::{LocalIdentity, Store};
use meshdesk_model::*;

const HOUR: Millis = 3_600_000;
/// 2026-12-01T00:00:00Z.
const DAY: Millis = 1_796_083_200_000;

struct Desk {
    _dir: tempfile::TempDir,
    store: Store,
    now: Millis,
    ana: LocalIdentity,
    bruno: LocalIdentity,
}

impl Desk {
    /// Ana (supervisor) and Bruno (agent) in campaigns General (phone),
    /// Billing (phone, dispositions Paid and Refund) and Chat (webchat).
    fn new() -> Desk {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(
            dir.path().join("s.redb"),
            meshdesk_model::authorship::DeviceKey::generate(),
        )
        .expect("open");
        let ctx = Context {
            now: DAY,
            presence: None,
        };
        ops::execute(
            &mut store,
            &ctx,
            Request::CreateTeam {
                team_name: "Support".into(),
                agent_name: "Ana".into(),
                device_name: "desk".into(),
            },
        )
        .expect("team");
        let ana = store.identity().expect("identity").expect("an identity");
        let team = store.team().expect("team").expect("a team");
        let invite = Invite {
            token_hash: "hash".into(),
            created_by: ana.agent,
            issuer: store.device(),
            created_at: DAY,
            expires_at: DAY + 24 * HOUR,
            max_uses: 1,
            used_by: Default::default(),
            campaigns: Vec::new(),
        };
        store
            .write_doc(&DocId::Team(team.id), false, move |d| {
                doc::team::add_invite(d, &invite)
            })
            .expect("invite");
        let (bruno, _) =
            ops::admit_device(&mut store, DAY, "hash", "bruno-device", "Bruno", "laptop")
                .expect("admit");
        let bruno = LocalIdentity {
            agent: bruno,
            ..ana.clone()
        };
        let mut desk = Desk {
            _dir: dir,
            store,
            now: DAY,
            ana,
            bruno,
        };
        let mut billing = CampaignSpec::new("Billing", ChannelKind::Phone, Strategy::RingAll);
        billing.members = vec!["Ana".into(), "Bruno".into()];
        billing.dispositions = vec!["Paid".into(), "Refund".into()];
        desk.run(Request::AddCampaign(billing));
        let mut chat = CampaignSpec::new("Chat", ChannelKind::Webchat, Strategy::RingAll);
        chat.members = vec!["Ana".into(), "Bruno".into()];
        desk.run(Request::AddCampaign(chat));
        desk
    }

    fn try_run(&mut self, request: Request) -> Result<Reply, OpError> {
        let ctx = Context {
            now: self.now,
            presence: None,
        };
        ops::execute(&mut self.store, &ctx, request).map(|o| o.reply)
    }

    fn run(&mut self, request: Request) -> Reply {
        match self.try_run(request.clone()) {
            Ok(reply) => reply,
            Err(e) => panic!("{request:?} failed: {e}"),
        }
    }

    fn act_as(&mut self, who: &LocalIdentity) {
        self.store.set_identity(who).expect("identity");
    }

    /// An interaction started by whoever acts now and closed at `closed_at`.
    fn closed(
        &mut self,
        campaign: &str,
        channel: ChannelKind,
        words: &str,
        tags: &[&str],
        disposition: &str,
        closed_at: Millis,
    ) -> String {
        self.now = closed_at - HOUR;
        let id = match self.run(Request::NewInteraction {
            channel,
            campaign: campaign.into(),
            contact: None,
            to: Some(if channel == ChannelKind::Phone {
                "+1 555 0100".into()
            } else {
                "visitor".into()
            }),
            fields: BTreeMap::new(),
            message: Some(words.into()),
        }) {
            Reply::Created { id } => id,
            other => panic!("{other:?}"),
        };
        for tag in tags {
            self.run(Request::AddTag {
                id: id.parse().expect("an id"),
                tag: (*tag).into(),
            });
        }
        self.now = closed_at;
        self.run(Request::Finalize {
            id: id.parse().expect("an id"),
            disposition: disposition.into(),
            note: None,
        });
        id
    }

    fn history(&mut self, search: Option<&str>, filter: HistoryFilter) -> (Vec<String>, usize) {
        self.history_page(search, filter, 0, 100)
    }

    fn history_page(
        &mut self,
        search: Option<&str>,
        filter: HistoryFilter,
        offset: usize,
        limit: usize,
    ) -> (Vec<String>, usize) {
        match self.run(Request::PageInteractions {
            tab: Tab::History,
            search: search.map(String::from),
            offset,
            limit,
            history: filter,
        }) {
            Reply::InteractionPage(page) => (
                page.rows.iter().map(|r| r.summary.id.to_string()).collect(),
                page.total,
            ),
            other => panic!("{other:?}"),
        }
    }
}

fn team() -> HistoryFilter {
    HistoryFilter::team()
}

/// Ana's three closed interactions, Bruno's one, and Ana's open one.
struct Seeded {
    desk: Desk,
    /// General, phone, "vip", Resolved, first day 10:00.
    a1: String,
    /// Billing, phone, Refund, second day 10:00.
    a2: String,
    /// Chat, webchat, Resolved, third day 10:00.
    a3: String,
    /// Bruno's: General, phone, "vip", Resolved, second day 12:00.
    b1: String,
}

fn seeded() -> Seeded {
    let mut desk = Desk::new();
    let a1 = desk.closed(
        "General",
        ChannelKind::Phone,
        "router blinking red",
        &["VIP"],
        "Resolved",
        DAY + 10 * HOUR,
    );
    let a2 = desk.closed(
        "Billing",
        ChannelKind::Phone,
        "refund for the router",
        &[],
        "Refund",
        DAY + 34 * HOUR,
    );
    let a3 = desk.closed(
        "Chat",
        ChannelKind::Webchat,
        "router lights off",
        &["new customer"],
        "Resolved",
        DAY + 58 * HOUR,
    );
    let bruno = desk.bruno.clone();
    desk.act_as(&bruno);
    let b1 = desk.closed(
        "General",
        ChannelKind::Phone,
        "router again",
        &["vip"],
        "Resolved",
        DAY + 36 * HOUR,
    );
    let ana = desk.ana.clone();
    desk.act_as(&ana);
    // Open work is never in History.
    desk.now = DAY + 60 * HOUR;
    desk.run(Request::NewInteraction {
        channel: ChannelKind::Phone,
        campaign: "General".into(),
        contact: None,
        to: Some("+1 555 0199".into()),
        fields: BTreeMap::new(),
        message: Some("router still open".into()),
    });
    Seeded {
        desk,
        a1,
        a2,
        a3,
        b1,
    }
}

#[test]
fn history_is_my_closed_work_by_default_and_the_teams_on_request() {
    let Seeded {
        mut desk,
        a1,
        a2,
        a3,
        b1,
    } = seeded();
    assert_eq!(
        desk.history(None, HistoryFilter::default()),
        (vec![a3.clone(), a2.clone(), a1.clone()], 3),
        "mine, newest closed first"
    );
    assert_eq!(
        desk.history(None, team()),
        (vec![a3.clone(), b1.clone(), a2.clone(), a1.clone()], 4)
    );
    // Paged, with the total of the whole list.
    assert_eq!(
        desk.history_page(None, HistoryFilter::default(), 1, 1),
        (vec![a2.clone()], 3)
    );
    assert_eq!(
        desk.history_page(None, team(), 2, 5),
        (vec![a2.clone(), a1.clone()], 4)
    );
    // Bruno's own History is his one.
    let bruno = desk.bruno.clone();
    desk.act_as(&bruno);
    assert_eq!(desk.history(None, HistoryFilter::default()), (vec![b1], 1));
    // A request without the field (an older client) still means "mine".
    let json = serde_json::json!({
        "request": "page-interactions", "tab": "history", "search": null, "offset": 0, "limit": 10
    });
    let parsed: Request = serde_json::from_value(json).expect("parses");
    assert!(matches!(
        parsed,
        Request::PageInteractions { ref history, .. } if *history == HistoryFilter::default()
    ));
}

#[test]
fn each_filter_narrows_alone_and_with_the_others() {
    let Seeded {
        mut desk,
        a1,
        a2,
        a3,
        b1,
    } = seeded();
    let with = |f: fn(&mut HistoryFilter)| {
        let mut filter = HistoryFilter::default();
        f(&mut filter);
        filter
    };
    let team_with = |f: fn(&mut HistoryFilter)| {
        let mut filter = team();
        f(&mut filter);
        filter
    };
    // Campaign, by name in any case.
    assert_eq!(
        desk.history(None, with(|f| f.campaign = Some("billing".into()))),
        (vec![a2.clone()], 1)
    );
    assert_eq!(
        desk.history(None, team_with(|f| f.campaign = Some("General".into()))),
        (vec![b1.clone(), a1.clone()], 2)
    );
    // Channel.
    assert_eq!(
        desk.history(None, with(|f| f.channel = Some(ChannelKind::Webchat))),
        (vec![a3.clone()], 1)
    );
    assert_eq!(
        desk.history(None, team_with(|f| f.channel = Some(ChannelKind::Email))),
        (vec![], 0)
    );
    // Disposition, in any case.
    assert_eq!(
        desk.history(None, with(|f| f.disposition = Some(" resolved ".into()))),
        (vec![a3.clone(), a1.clone()], 2)
    );
    // Tag, the whole tag in any case (one with a space too).
    assert_eq!(
        desk.history(None, team_with(|f| f.tag = Some("vip".into()))),
        (vec![b1.clone(), a1.clone()], 2)
    );
    assert_eq!(
        desk.history(None, with(|f| f.tag = Some("New Customer".into()))),
        (vec![a3.clone()], 1)
    );
    assert_eq!(
        desk.history(None, with(|f| f.tag = Some("new".into()))),
        (vec![], 0),
        "a tag matches whole"
    );
    // Dates: since keeps from that instant, until before it.
    assert_eq!(
        desk.history(None, with(|f| f.since = Some(DAY + 24 * HOUR))),
        (vec![a3.clone(), a2.clone()], 2)
    );
    assert_eq!(
        desk.history(None, with(|f| f.until = Some(DAY + 34 * HOUR))),
        (vec![a1.clone()], 1),
        "until excludes its own instant"
    );
    assert_eq!(
        desk.history(
            None,
            team_with(|f| {
                f.since = Some(DAY + 24 * HOUR);
                f.until = Some(DAY + 48 * HOUR);
            })
        ),
        (vec![b1.clone(), a2.clone()], 2)
    );
    // Combined: the team's phone calls resolved before the third day.
    assert_eq!(
        desk.history(
            None,
            team_with(|f| {
                f.channel = Some(ChannelKind::Phone);
                f.disposition = Some("Resolved".into());
                f.until = Some(DAY + 48 * HOUR);
            })
        ),
        (vec![b1.clone(), a1.clone()], 2)
    );
    assert_eq!(
        desk.history_page(
            None,
            team_with(|f| f.disposition = Some("Resolved".into())),
            1,
            1
        ),
        (vec![b1.clone()], 3)
    );
}

#[test]
fn filters_combine_with_the_search_words() {
    let Seeded {
        mut desk,
        a1,
        a2,
        a3,
        b1,
    } = seeded();
    assert_eq!(
        desk.history(Some("router"), HistoryFilter::default()),
        (vec![a3.clone(), a2.clone(), a1.clone()], 3)
    );
    assert_eq!(
        desk.history(Some("router"), team()),
        (vec![a3.clone(), b1.clone(), a2.clone(), a1.clone()], 4)
    );
    let mut phone = team();
    phone.channel = Some(ChannelKind::Phone);
    phone.tag = Some("VIP".into());
    assert_eq!(
        desk.history(Some("rout"), phone.clone()),
        (vec![b1.clone(), a1.clone()], 2)
    );
    assert_eq!(desk.history(Some("blinking"), phone), (vec![a1.clone()], 1));
    let since = HistoryFilter {
        since: Some(DAY + 24 * HOUR),
        ..HistoryFilter::default()
    };
    assert_eq!(
        desk.history(Some("refund"), since.clone()),
        (vec![a2.clone()], 1)
    );
    assert_eq!(desk.history(Some("blinking"), since), (vec![], 0));
    // The search's own campaign words still work beside the filters.
    let chat = HistoryFilter {
        whose: Whose::Mine,
        disposition: Some("Resolved".into()),
        ..HistoryFilter::default()
    };
    assert_eq!(desk.history(Some("chat"), chat), (vec![a3], 1));
}

#[test]
fn filters_follow_what_changes_after_the_list_was_read() {
    let Seeded {
        mut desk, a1, a2, ..
    } = seeded();
    let tagged = HistoryFilter {
        tag: Some("followup".into()),
        ..HistoryFilter::default()
    };
    assert_eq!(desk.history(None, tagged.clone()), (vec![], 0));
    // A tag added after closing, and a newly closed one, are found at once.
    desk.now = DAY + 70 * HOUR;
    desk.run(Request::AddTag {
        id: a2.parse().expect("an id"),
        tag: "followup".into(),
    });
    let a5 = desk.closed(
        "Billing",
        ChannelKind::Phone,
        "paid at last",
        &["followup"],
        "Paid",
        DAY + 80 * HOUR,
    );
    assert_eq!(desk.history(None, tagged), (vec![a5.clone(), a2], 2));
    let paid = HistoryFilter {
        disposition: Some("paid".into()),
        ..HistoryFilter::default()
    };
    assert_eq!(desk.history(Some("paid"), paid), (vec![a5], 1));
    let old = HistoryFilter {
        until: Some(DAY + 24 * HOUR),
        ..HistoryFilter::default()
    };
    assert_eq!(desk.history(None, old.clone()), (vec![a1.clone()], 1));
    // A reopened store answers the same from its projections.
    let path = desk._dir.path().join("s.redb");
    let placeholder = tempfile::tempdir().expect("tempdir");
    let other = Store::open(
        placeholder.path().join("s.redb"),
        meshdesk_model::authorship::DeviceKey::generate(),
    )
    .expect("open");
    drop(std::mem::replace(&mut desk.store, other));
    desk.store =
        Store::open(&path, meshdesk_model::authorship::DeviceKey::generate()).expect("reopen");
    assert_eq!(desk.history(None, old), (vec![a1], 1));
}

#[test]
fn bad_filters_are_refused_by_name() {
    let Seeded { mut desk, .. } = seeded();
    let unknown = HistoryFilter {
        campaign: Some("Sales".into()),
        ..HistoryFilter::default()
    };
    let refused = |desk: &mut Desk, tab, filter| {
        desk.try_run(Request::PageInteractions {
            tab,
            search: None,
            offset: 0,
            limit: 10,
            history: filter,
        })
        .err()
        .map(|e| e.to_string())
    };
    assert_eq!(
        refused(&mut desk, Tab::History, unknown).as_deref(),
        Some("unknown campaign `Sales`")
    );
    let backwards = HistoryFilter {
        since: Some(DAY + 24 * HOUR),
        until: Some(DAY),
        ..HistoryFilter::default()
    };
    assert_eq!(
        refused(&mut desk, Tab::History, backwards).as_deref(),
        Some("the date range is empty: it must end after it starts")
    );
    let blank = HistoryFilter {
        tag: Some("  ".into()),
        ..HistoryFilter::default()
    };
    assert_eq!(
        refused(&mut desk, Tab::History, blank).as_deref(),
        Some("the tag must not be empty")
    );
    let on_active = HistoryFilter {
        channel: Some(ChannelKind::Phone),
        ..HistoryFilter::default()
    };
    assert!(
        refused(&mut desk, Tab::Active, on_active)
            .is_some_and(|e| e.contains("apply to the history tab only"))
    );
    // Whose History it is means nothing elsewhere and is not refused.
    assert!(refused(&mut desk, Tab::Active, team()).is_none());
}
