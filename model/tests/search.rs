//! Search and paging as an agent meets them: scoped to the tab, over every
//! message of a conversation, in the order the list shows, only the agent's
//! own work in Active, with totals for paging.

use std::collections::{BTreeMap, BTreeSet};

use meshdesk_model::doc::{self, DocId};
use meshdesk_model::ops::{self, ContactSpec, Context, Reply, Request, Tab, TransferTo};
use meshdesk_model::projection::BaseState;
use meshdesk_model::store::{DocEdit, Page, SearchScope, Store};
use meshdesk_model::*;

struct Desk {
    _dir: tempfile::TempDir,
    store: Store,
    /// The clock: every request runs a millisecond after the previous one.
    now: Millis,
}

impl Desk {
    fn new() -> Desk {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(
            dir.path().join("s.redb"),
            meshdesk_model::authorship::DeviceKey::generate(),
        )
        .expect("open");
        let mut desk = Desk {
            _dir: dir,
            store,
            now: now_ms(),
        };
        desk.run(Request::CreateTeam {
            team_name: "Support".into(),
            agent_name: "Ana".into(),
            device_name: "desk".into(),
        });
        desk
    }

    fn run(&mut self, request: Request) -> Reply {
        self.now += 1;
        let ctx = Context {
            now: self.now,
            presence: None,
        };
        match ops::execute(&mut self.store, &ctx, request.clone()) {
            Ok(outcome) => outcome.reply,
            Err(e) => panic!("{request:?} failed: {e}"),
        }
    }

    fn new_interaction(&mut self, to: &str, first: &str) -> String {
        match self.run(Request::NewInteraction {
            channel: ChannelKind::Phone,
            campaign: "General".into(),
            contact: None,
            to: Some(to.into()),
            fields: BTreeMap::new(),
            message: Some(first.into()),
        }) {
            Reply::Created { id } => id,
            other => panic!("{other:?}"),
        }
    }

    fn finalize(&mut self, id: &str) {
        self.run(Request::Finalize {
            id: id.parse().expect("an id"),
            disposition: "Resolved".into(),
            note: None,
        });
    }

    fn page(
        &mut self,
        tab: Tab,
        search: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Page<String> {
        match self.run(Request::PageInteractions {
            tab,
            search: search.map(String::from),
            offset,
            limit,
            history: Default::default(),
        }) {
            Reply::InteractionPage(page) => Page {
                rows: page.rows.iter().map(|r| r.summary.id.to_string()).collect(),
                offset: page.offset,
                total: page.total,
            },
            other => panic!("{other:?}"),
        }
    }

    fn ids(&self, scope: SearchScope, query: &str) -> Vec<String> {
        self.store.search(scope, query, 100).expect("search")
    }
}

/// A conversation longer than what a list row shows, with `word` said only
/// in its second message.
fn long_conversation(desk: &mut Desk, to: &str, word: &str, customer: bool) -> String {
    let id = desk.new_interaction(to, "hello, I need help");
    for n in 0..12 {
        let text = if n == 0 {
            format!("my account number is {word} by the way")
        } else {
            format!("update number {n}")
        };
        let request = if customer {
            Request::CustomerMessage {
                id: id.parse().expect("an id"),
                text,
            }
        } else {
            Request::Send {
                id: id.parse().expect("an id"),
                text,
            }
        };
        desk.run(request);
    }
    id
}

#[test]
fn every_tab_finds_a_word_said_early_in_the_conversation() {
    let mut desk = Desk::new();
    // Searched before the writes too, so the kept-current index is exercised.
    for scope in [
        SearchScope::Active,
        SearchScope::Pending,
        SearchScope::History,
    ] {
        assert!(desk.ids(scope, "zebra").is_empty());
    }
    let active = long_conversation(&mut desk, "+1 555 0101", "zebra-41", false);
    let closed = long_conversation(&mut desk, "+1 555 0102", "quokka-77", false);
    desk.finalize(&closed);
    let queued = long_conversation(&mut desk, "+1 555 0103", "walrus-93", false);
    desk.run(Request::Transfer {
        id: queued.parse().expect("an id"),
        to: TransferTo::Campaign("General".into()),
        note: Some("needs billing".into()),
    });

    assert_eq!(
        desk.ids(SearchScope::Active, "zebra-4"),
        std::slice::from_ref(&active)
    );
    assert_eq!(
        desk.ids(SearchScope::History, "QUOKKA"),
        std::slice::from_ref(&closed)
    );
    assert_eq!(
        desk.ids(SearchScope::Pending, "walrus"),
        std::slice::from_ref(&queued)
    );
    // Each only in its own tab.
    assert!(desk.ids(SearchScope::History, "zebra").is_empty());
    assert!(desk.ids(SearchScope::Active, "walrus").is_empty());
    // The transfer note, the disposition and the campaign's name are searched too.
    assert_eq!(
        desk.ids(SearchScope::Pending, "billing"),
        std::slice::from_ref(&queued)
    );
    assert_eq!(
        desk.ids(SearchScope::History, "resolv"),
        std::slice::from_ref(&closed)
    );
    assert_eq!(desk.ids(SearchScope::History, "general quokka"), [closed]);
    // Through the request the GUI and CLI send.
    let page = desk.page(Tab::Active, Some("zebra"), 0, 10);
    assert_eq!((page.rows, page.total), (vec![active], 1));
}

#[test]
fn history_search_with_a_limit_gives_the_newest_closed_first() {
    let mut desk = Desk::new();
    let ids: Vec<String> = (0..5)
        .map(|n| desk.new_interaction(&format!("+1 555 02{n:02}"), "refund please"))
        .collect();
    // Closed in another order than opened.
    for n in [2, 0, 4, 1, 3] {
        desk.finalize(&ids[n]);
    }
    let newest_first: Vec<String> = [3, 1, 4, 0, 2].iter().map(|n| ids[*n].clone()).collect();
    assert_eq!(
        desk.store
            .search(SearchScope::History, "refund", 2)
            .expect("search"),
        newest_first[..2]
    );
    let page = desk.page(Tab::History, Some("refund"), 2, 2);
    assert_eq!(page.rows, newest_first[2..4]);
    assert_eq!((page.offset, page.total), (2, 5));
    // The same order as the list without a search.
    assert_eq!(desk.page(Tab::History, None, 0, 10).rows, newest_first);
}

/// Active interactions owned by another agent, written as a peer's node would.
fn others_active(desk: &mut Desk, n: usize, body: &str) {
    let team = desk.store.team().expect("team").expect("a team");
    let campaign = *team.campaigns.keys().next().expect("a campaign");
    let other = AgentId::new();
    let edits = (0..n)
        .map(|k| {
            let at = desk.now + k as i64;
            let i = Interaction {
                id: InteractionId::new(),
                direction: Direction::Inbound,
                channel: ChannelKind::Phone,
                origin_campaign: campaign,
                contact: None,
                address: format!("+1 555 9{k:03}"),
                contact_name: format!("Customer {k}"),
                contact_unverified: false,
                snooze: None,
                subject: String::new(),
                fields: BTreeMap::new(),
                priority: 0,
                enqueued_at: at,
                created_at: at,
                created_by: None,
                messages: vec![Message {
                    attachments: Vec::new(),
                    id: MessageId::new(),
                    author: Author::Contact,
                    at,
                    body: body.into(),
                }],
                claims: vec![Claim {
                    agent: other,
                    claimed_at: at,
                    epoch: 0,
                }],
                declines: vec![],
                transfers: vec![],
                finalization: None,
                notes: vec![],
                tags: BTreeSet::new(),
            };
            DocEdit::new(DocId::Interaction(i.id), true, move |d| {
                doc::interaction::create(d, &i)
            })
        })
        .collect();
    desk.store.write_many(edits).expect("write");
}

#[test]
fn active_search_returns_only_my_interactions_when_many_others_match() {
    let mut desk = Desk::new();
    assert!(desk.ids(SearchScope::Active, "refund").is_empty());
    let mine: Vec<String> = (0..3)
        .map(|n| desk.new_interaction(&format!("+1 555 03{n:02}"), "refund for order"))
        .collect();
    others_active(&mut desk, 300, "refund for order");
    // The store's scope holds everyone's; the tab holds mine, newest first.
    assert_eq!(
        desk.store
            .search_page(SearchScope::Active, "refund", None, 0, 10)
            .expect("search")
            .total,
        303
    );
    let page = desk.page(Tab::Active, Some("refund"), 0, 2);
    assert_eq!(page.rows, [mine[2].clone(), mine[1].clone()]);
    assert_eq!(page.total, 3);
    let rest = desk.page(Tab::Active, Some("refund"), 2, 2);
    assert_eq!((rest.rows, rest.total), (vec![mine[0].clone()], 3));
    // Without a search, from the per-owner index.
    let all = desk.page(Tab::Active, None, 0, 10);
    assert_eq!(
        all.rows,
        [mine[2].clone(), mine[1].clone(), mine[0].clone()]
    );
    assert_eq!(all.total, 3);
    // Activity reorders the list and the search alike.
    desk.run(Request::Send {
        id: mine[0].parse().expect("an id"),
        text: "on it".into(),
    });
    assert_eq!(
        desk.page(Tab::Active, Some("refund"), 0, 1).rows,
        [mine[0].clone()]
    );
    assert_eq!(desk.page(Tab::Active, None, 0, 1).rows, [mine[0].clone()]);
}

#[test]
fn pages_and_totals_cover_each_list_exactly_once() {
    let mut desk = Desk::new();
    let ids: Vec<String> = (0..7)
        .map(|n| desk.new_interaction(&format!("+1 555 04{n:02}"), "router down"))
        .collect();
    for id in &ids[..5] {
        desk.finalize(id);
    }
    for (tab, query, expected) in [
        (Tab::History, None, 5),
        (Tab::History, Some("router"), 5),
        (Tab::Active, None, 2),
        (Tab::Active, Some("down"), 2),
    ] {
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let page = desk.page(tab, query, offset, 2);
            assert_eq!(
                (page.offset, page.total),
                (offset, expected),
                "{tab:?} {query:?}"
            );
            if page.rows.is_empty() {
                break;
            }
            offset += page.rows.len();
            seen.extend(page.rows);
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(
            (seen.len(), unique.len()),
            (expected, expected),
            "{tab:?} {query:?}"
        );
    }
    assert_eq!(
        desk.store
            .count_interactions(BaseState::Finalized)
            .expect("count"),
        5
    );

    for n in 0..5 {
        desk.run(Request::AddContact(ContactSpec {
            name: Some(format!("Contact {}", 5 - n)),
            emails: Some(vec![format!("c{n}@example.com")]),
            ..ContactSpec::default()
        }));
    }
    let page = match desk.run(Request::PageContacts {
        search: Some("contact".into()),
        offset: 1,
        limit: 2,
    }) {
        Reply::ContactPage(page) => page,
        other => panic!("{other:?}"),
    };
    let names: Vec<&str> = page.rows.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Contact 2", "Contact 3"]);
    assert_eq!(page.total, 5);
}

#[test]
fn an_old_store_gets_its_projections_rebuilt_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.redb");
    let id = {
        let mut desk = Desk::new();
        let id = long_conversation(&mut desk, "+1 555 0500", "narwhal", false);
        let Desk {
            _dir: old, store, ..
        } = desk;
        drop(store);
        std::fs::copy(old.path().join("s.redb"), &path).expect("copy");
        id
    };
    {
        // What projection version 1 left: no version mark, no search rows.
        let db = redb::Database::create(&path).expect("db");
        let txn = db.begin_write().expect("txn");
        txn.open_table(redb::TableDefinition::<&str, &[u8]>::new("local"))
            .expect("local")
            .remove("projection_version")
            .expect("remove");
        txn.delete_table(
            redb::TableDefinition::<(u8, &str), (&str, &str, &str)>::new("search_rows"),
        )
        .expect("delete");
        txn.commit().expect("commit");
    }
    let store =
        Store::open(&path, meshdesk_model::authorship::DeviceKey::generate()).expect("open");
    assert_eq!(
        store
            .search(SearchScope::Active, "narwhal", 10)
            .expect("search"),
        [id]
    );
}

#[test]
fn a_pasted_link_longer_than_an_indexed_word_is_found_whole() {
    let mut desk = Desk::new();
    let link =
        "https://shop.example.com/orders/2025/11/ORD-7f3a9c21-4b6e-4d0a-9e1f-3c5b7a9d2e4f/receipt";
    let id = long_conversation(&mut desk, "+34 600 000 001", link, true);
    desk.new_interaction("+34 600 000 002", "nothing to see");
    assert_eq!(desk.ids(SearchScope::Active, link), vec![id.clone()]);
    assert_eq!(
        desk.ids(SearchScope::Active, &link.to_uppercase()),
        vec![id],
        "case does not matter"
    );
    assert!(!desk.ids(SearchScope::Active, "nothing").is_empty());
    assert_eq!(desk.page(Tab::Active, Some(link), 0, 10).total, 1);
}
