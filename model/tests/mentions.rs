//! `@` mentions in notes and team chat, through a real store: who is
//! mentioned, what each agent's list holds, and seen marks kept per device.

use meshdesk_model::doc::{self, DocId};
use meshdesk_model::mentions::MentionPlace;
use meshdesk_model::ops::{self, ChatTarget, Context, MentionRow, Reply, Request};
use meshdesk_model::store::{LocalIdentity, Store};
use meshdesk_model::*;

fn run(store: &mut Store, request: Request) -> Reply {
    match ops::execute(store, &Context::now(), request.clone()) {
        Ok(outcome) => outcome.reply,
        Err(e) => panic!("{request:?} failed: {e}"),
    }
}

fn mentions(store: &mut Store, unseen: bool) -> Vec<MentionRow> {
    match run(store, Request::ListMentions { unseen }) {
        Reply::Mentions(rows) => rows,
        other => panic!("{other:?}"),
    }
}

/// Adds an agent with a device of its own to the team; gives its id.
fn add_agent(store: &mut Store, name: &str) -> AgentId {
    let key = meshdesk_model::authorship::DeviceKey::generate();
    let team = store.team().expect("team").expect("a team");
    let agent = Agent {
        id: AgentId::new(),
        name: name.into(),
        status: AgentStatus::Offline,
        status_since: now_ms(),
        capacity: 0,
        status_history: vec![],
    };
    let member = Member {
        device: key.device(),
        agent: agent.id,
        role: Role::Agent,
        device_name: "desk".into(),
        joined_at: now_ms(),
        revoked: false,
        revoked_at: None,
    };
    let id = agent.id;
    store
        .write_doc(&DocId::Agent(id), true, move |d| {
            doc::agent::create(d, &agent)
        })
        .expect("agent");
    store
        .write_doc(&DocId::Team(team.id), false, move |d| {
            doc::team::add_member(d, &member)
        })
        .expect("member");
    id
}

fn be(store: &mut Store, agent: AgentId) {
    let me = store.identity().expect("identity").expect("an identity");
    store
        .set_identity(&LocalIdentity { agent, ..me })
        .expect("identity");
}

struct Team {
    _dir: tempfile::TempDir,
    store: Store,
    ana: AgentId,
    bo: AgentId,
    bo_li: AgentId,
    interaction: InteractionId,
}

fn team() -> Team {
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
    let ana = store.identity().expect("identity").expect("me").agent;
    let bo = add_agent(&mut store, "Bo");
    let bo_li = add_agent(&mut store, "Bo Li");
    let interaction = match run(
        &mut store,
        Request::NewInteraction {
            channel: ChannelKind::Phone,
            campaign: "General".into(),
            contact: None,
            to: Some("+34 600 100 200".into()),
            fields: [("subject".to_string(), "Refund".to_string())].into(),
            message: None,
        },
    ) {
        Reply::Created { id } => id.parse().expect("an interaction id"),
        other => panic!("{other:?}"),
    };
    Team {
        _dir: dir,
        store,
        ana,
        bo,
        bo_li,
        interaction,
    }
}

#[test]
fn a_note_mentions_the_longest_name_and_never_an_email_address() {
    let mut t = team();
    run(
        &mut t.store,
        Request::AddNote {
            id: t.interaction,
            text: "@bo li can you call back? cc bo@example.com and @Carla".into(),
        },
    );
    be(&mut t.store, t.bo_li);
    let rows = mentions(&mut t.store, false);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(
        row.place,
        MentionPlace::Note {
            interaction: t.interaction
        }
    );
    assert_eq!(row.interaction(), Some(t.interaction));
    assert_eq!(row.author, t.ana);
    assert_eq!(row.author_name, "Ana");
    assert!(row.text.starts_with("@bo li can you"));
    assert!(!row.seen);
    // "Bo" is a prefix of "Bo Li", and bo@example.com is an address.
    be(&mut t.store, t.bo);
    assert!(mentions(&mut t.store, false).is_empty());
}

#[test]
fn a_chat_message_mentions_the_agent_it_names_with_the_room_to_open() {
    let mut t = team();
    run(
        &mut t.store,
        Request::ChatSend {
            to: ChatTarget::Agent("Bo".into()),
            text: "@Bo, the customer from yesterday is back".into(),
        },
    );
    be(&mut t.store, t.bo);
    let rows = mentions(&mut t.store, true);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].title, "Ana");
    assert_eq!(rows[0].chat, Some(ChatTarget::Agent("Ana".into())));
    // Nobody is told about their own words.
    be(&mut t.store, t.ana);
    run(
        &mut t.store,
        Request::AddNote {
            id: t.interaction,
            text: "note to self, @Ana".into(),
        },
    );
    assert!(mentions(&mut t.store, false).is_empty());
}

#[test]
fn seen_marks_are_kept_per_mention_and_survive_a_rebuild() {
    let mut t = team();
    for text in ["@Bo first", "@BO second"] {
        run(
            &mut t.store,
            Request::AddNote {
                id: t.interaction,
                text: text.into(),
            },
        );
    }
    be(&mut t.store, t.bo);
    let rows = mentions(&mut t.store, true);
    assert_eq!(rows.len(), 2);
    run(
        &mut t.store,
        Request::MarkMentionsSeen {
            ids: vec![rows[1].id.clone()],
        },
    );
    assert_eq!(mentions(&mut t.store, true).len(), 1);
    run(&mut t.store, Request::MarkMentionsSeen { ids: vec![] });
    assert!(mentions(&mut t.store, true).is_empty());
    t.store.rebuild_projections().expect("rebuild");
    let all = mentions(&mut t.store, false);
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|m| m.seen));
    // A new note is unseen again.
    be(&mut t.store, t.ana);
    run(
        &mut t.store,
        Request::AddNote {
            id: t.interaction,
            text: "@Bo third".into(),
        },
    );
    be(&mut t.store, t.bo);
    let unseen = mentions(&mut t.store, true);
    assert_eq!(unseen.len(), 1);
    assert_eq!(unseen[0].text, "@Bo third");
}

#[test]
fn a_campaign_room_mention_reaches_only_the_campaigns_members() {
    let mut t = team();
    let mut sales = ops::CampaignSpec::new("Sales", ChannelKind::Phone, Strategy::RingAll);
    sales.members = vec!["Ana".into(), "Bo".into()];
    run(&mut t.store, Request::AddCampaign(sales));
    run(
        &mut t.store,
        Request::ChatSend {
            to: ChatTarget::Campaign("Sales".into()),
            text: "@Bo and @Bo Li: standup in 5".into(),
        },
    );
    be(&mut t.store, t.bo);
    let rows = mentions(&mut t.store, true);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].title, "#Sales");
    assert_eq!(rows[0].chat, Some(ChatTarget::Campaign("Sales".into())));
    // Bo Li is named too, but cannot read the room.
    be(&mut t.store, t.bo_li);
    assert!(mentions(&mut t.store, false).is_empty());
}
