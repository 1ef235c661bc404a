//! Projections kept up to date change by change equal projections rebuilt
//! from the documents alone, whatever sequence of operations came first; so
//! does the in-memory search index kept current after every commit equal one
//! loaded afresh from the rebuilt projections.

use std::collections::BTreeMap;

use meshdesk_model::ops::{self, ChatTarget, ContactSpec, Context, Reply, Request, TransferTo};
use meshdesk_model::store::{SearchScope, Store};
use meshdesk_model::{AgentStatus, ChannelKind};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Action {
    AddContact(u8),
    EditContact(u8, u8),
    DeleteContact(u8),
    NewInteraction(u8),
    Enqueue(u8, i8),
    Send(u8),
    Note(u8),
    Accept(u8),
    Decline(u8),
    Transfer(u8),
    Finalize(u8),
    Tag(u8),
    Chat(u8),
    Status(u8),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        any::<u8>().prop_map(Action::AddContact),
        (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Action::EditContact(a, b)),
        any::<u8>().prop_map(Action::DeleteContact),
        any::<u8>().prop_map(Action::NewInteraction),
        (any::<u8>(), any::<i8>()).prop_map(|(a, p)| Action::Enqueue(a, p)),
        any::<u8>().prop_map(Action::Send),
        any::<u8>().prop_map(Action::Note),
        any::<u8>().prop_map(Action::Accept),
        any::<u8>().prop_map(Action::Decline),
        any::<u8>().prop_map(Action::Transfer),
        any::<u8>().prop_map(Action::Finalize),
        any::<u8>().prop_map(Action::Tag),
        any::<u8>().prop_map(Action::Chat),
        any::<u8>().prop_map(Action::Status),
    ]
}

const SCOPES: [SearchScope; 4] = [
    SearchScope::Active,
    SearchScope::Pending,
    SearchScope::History,
    SearchScope::Contacts,
];

/// Loads every scope's search index (a search loads the scope it looks in).
fn search_everywhere(store: &Store) {
    for scope in SCOPES {
        store.search(scope, "e", 1).expect("search");
    }
}

fn pick(ids: &[String], n: u8) -> Option<String> {
    (!ids.is_empty()).then(|| ids[usize::from(n) % ids.len()].clone())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn projections_equal_a_rebuild_from_documents(actions in proptest::collection::vec(action(), 1..40)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path().join("s.redb"), meshdesk_model::authorship::DeviceKey::generate()).expect("open");
        let ctx = Context::now();
        let exec = |store: &mut Store, r: Request| ops::execute(store, &ctx, r).ok().map(|o| o.reply);
        exec(&mut store, Request::CreateTeam {
            team_name: "T".into(), agent_name: "Ana".into(), device_name: "d".into(),
        });
        search_everywhere(&store);
        let mut contacts: Vec<String> = Vec::new();
        let mut interactions: Vec<String> = Vec::new();
        for a in actions {
            match a {
                Action::AddContact(n) => {
                    let spec = ContactSpec {
                        name: Some(format!("Contact {n}")),
                        phones: Some(vec![format!("+1 555 01{n:02}")]),
                        emails: Some(vec![format!("c{n}@example.com")]),
                        tags: Some(vec![format!("t{}", n % 3)]),
                        ..Default::default()
                    };
                    if let Some(Reply::Created { id }) = exec(&mut store, Request::AddContact(spec)) {
                        contacts.push(id);
                    }
                }
                Action::EditContact(n, m) => if let Some(id) = pick(&contacts, n) {
                    let changes = ContactSpec { name: Some(format!("Renamed {m}")), ..Default::default() };
                    exec(&mut store, Request::EditContact { id: id.parse().expect("an id"), changes });
                },
                Action::DeleteContact(n) => if let Some(id) = pick(&contacts, n) {
                    exec(&mut store, Request::DeleteContact { id: id.parse().expect("an id") });
                },
                Action::NewInteraction(n) => {
                    let r = Request::NewInteraction {
                        channel: ChannelKind::Phone,
                        campaign: "General".into(),
                        contact: pick(&contacts, n).map(|c| c.parse().expect("an id")),
                        to: Some(format!("+1 555 02{n:02}")),
                        fields: BTreeMap::new(),
                        message: Some(format!("hello {n}")),
                    };
                    if let Some(Reply::Created { id }) = exec(&mut store, r) {
                        interactions.push(id);
                    }
                }
                Action::Enqueue(n, p) => {
                    let r = Request::Enqueue {
                        campaign: "General".into(),
                        contact: None,
                        from: Some(format!("c{n}@example.com")),
                        name: None,
                        message: Some(format!("help {n}")),
                        priority: i32::from(p),
                    };
                    if let Some(Reply::Created { id }) = exec(&mut store, r) {
                        interactions.push(id);
                    }
                }
                Action::Send(n) => if let Some(id) = pick(&interactions, n) {
                    exec(&mut store, Request::Send { id: id.parse().expect("an id"), text: format!("reply {n}") });
                    exec(&mut store, Request::CustomerMessage { id: id.parse().expect("an id"), text: format!("thanks {}", n % 5) });
                },
                Action::Note(n) => if let Some(id) = pick(&interactions, n) {
                    exec(&mut store, Request::AddNote { id: id.parse().expect("an id"), text: format!("note {n}") });
                },
                Action::Accept(n) => if let Some(id) = pick(&interactions, n) {
                    exec(&mut store, Request::Accept { id: id.parse().expect("an id") });
                },
                Action::Decline(n) => if let Some(id) = pick(&interactions, n) {
                    exec(&mut store, Request::Decline { id: id.parse().expect("an id") });
                },
                Action::Transfer(n) => if let Some(id) = pick(&interactions, n) {
                    exec(&mut store, Request::Transfer { id: id.parse().expect("an id"), to: TransferTo::Campaign("General".into()), note: None });
                },
                Action::Finalize(n) => if let Some(id) = pick(&interactions, n) {
                    exec(&mut store, Request::Finalize { id: id.parse().expect("an id"), disposition: "Resolved".into(), note: None });
                },
                Action::Tag(n) => if let Some(id) = pick(&interactions, n) {
                    exec(&mut store, Request::AddTag { id: id.parse().expect("an id"), tag: format!("tag{}", n % 4) });
                },
                Action::Chat(n) => {
                    exec(&mut store, Request::ChatSend { to: ChatTarget::Campaign("General".into()), text: format!("chat {n}") });
                }
                Action::Status(n) => {
                    let status = match n % 3 {
                        0 => AgentStatus::Available,
                        1 => AgentStatus::Break { reason: "Lunch".into() },
                        _ => AgentStatus::Offline,
                    };
                    exec(&mut store, Request::SetStatus { status });
                }
            }
        }
        let incremental = store.projection_dump().expect("dump");
        let kept_current = store.search_index_snapshot();
        let answers = |store: &Store| -> Vec<(usize, Vec<String>)> {
            let mut out = Vec::new();
            for scope in SCOPES {
                for q in ["e", "reply 1", "thanks", "note", "general", "555", "zz"] {
                    let page = store.search_page(scope, q, None, 1, 3).expect("search");
                    out.push((page.total, page.rows));
                }
            }
            out
        };
        let kept_answers = answers(&store);
        store.rebuild_projections().expect("rebuild");
        let rebuilt = store.projection_dump().expect("dump");
        prop_assert_eq!(incremental, rebuilt);
        search_everywhere(&store);
        prop_assert_eq!(kept_current, store.search_index_snapshot());
        prop_assert_eq!(kept_answers, answers(&store));
    }
}
