//! The inbox window over a store of 200k interactions: 100k active (this
//! agent's) and 100k closed, one message each. Reports:
//!
//! - `view()` of the Active and History tabs with all 100k rows loaded
//!   (only the visible rows are built), at the top and scrolled halfway;
//! - view plus layout (what a frame costs before drawing);
//! - one search keystroke on each tab, end to end: `update` with the new
//!   query, the store's search through the backend, the answer applied, and
//!   the next `view()`.
//!
//! The store is built once into `target/bench-data/` and reused.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use iced::futures::StreamExt;
use iced::{Font, Size, Task};
use iced_test::core::renderer::Headless;
use iced_test::runtime::{Action, UserInterface, user_interface};
use meshdesk::data_dir::DataDir;
use meshdesk::gui::backend;
use meshdesk::gui::clock::Zone;
use meshdesk::gui::screen::{active, history, list};
use meshdesk::gui::settings::Settings;
use meshdesk::gui::widget::ROW_HEIGHT;
use meshdesk::gui::{App, Message, TabId, inbox};
use meshdesk_model::doc::{self, DocId};
use meshdesk_model::ops::{self, Context, Request};
use meshdesk_model::store::{DocEdit, Store};
use meshdesk_model::*;
use meshdesk_sync::home::OpenOptions;

const PER_STATE: usize = 100_000;
const BATCH: usize = 2_000;
const SIZE: Size = Size::new(1280.0, 800.0);

const FIRST: [&str; 12] = [
    "Marta", "Bruno", "Ines", "Tomas", "Lucia", "Pablo", "Sofia", "Hugo", "Elena", "Mateo",
    "Julia", "Dario",
];
const LAST: [&str; 10] = [
    "Ruiz", "Diaz", "Lopez", "Garcia", "Navarro", "Romero", "Torres", "Vidal", "Molina", "Ortega",
];
const TOPICS: [&str; 8] = [
    "router", "invoice", "delivery", "password", "refund", "upgrade", "outage", "contract",
];

/// The customer's name of the n-th interaction.
fn name_of(n: usize) -> String {
    format!(
        "{} {} {n}",
        FIRST[n % FIRST.len()],
        LAST[(n / 7) % LAST.len()]
    )
}

fn data_dir() -> PathBuf {
    meshdesk_model::bench_data_dir().join(format!("gui-{PER_STATE}-active-{PER_STATE}-closed-v3"))
}

/// Builds the store unless a complete one is there. Bulk-written through
/// the store's batch API (100k requests one by one would take an hour).
fn build(path: &Path) {
    let done = path.with_extension("complete");
    if done.exists() {
        return;
    }
    let _ = std::fs::remove_file(path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("bench dir");
    }
    eprintln!("building the bench store (once) at {}", path.display());
    // The store signs as the data dir's device, so a node can own it.
    let dir = path.parent().expect("the bench data dir");
    let key = meshdesk_sync::identity::load_device_key(dir).expect("device key");
    let mut store = Store::open(path, key).expect("open");
    let now = now_ms();
    ops::execute(
        &mut store,
        &Context {
            now,
            presence: None,
        },
        Request::CreateTeam {
            team_name: "Bench".into(),
            agent_name: "Ana".into(),
            device_name: "bench".into(),
        },
    )
    .expect("team");
    let me = store.identity().expect("identity").expect("me");
    let team = store.team().expect("team").expect("team");
    let campaign = team.campaigns.keys().next().copied().expect("campaign");
    let mut edits = Vec::new();
    for n in 0..2 * PER_STATE {
        let closed = n >= PER_STATE;
        let at = now - ((2 * PER_STATE - n) as i64) * 30_000;
        let topic = TOPICS[n % TOPICS.len()];
        let name = name_of(n);
        let interaction = Interaction {
            id: InteractionId::new(),
            direction: Direction::Inbound,
            channel: ChannelKind::Phone,
            origin_campaign: campaign,
            contact: None,
            address: format!("+34 600 {n:06}"),
            contact_name: name.clone(),
            contact_unverified: false,
            snooze: None,
            subject: format!("{topic} question"),
            fields: BTreeMap::new(),
            priority: 0,
            enqueued_at: at,
            created_at: at,
            created_by: None,
            messages: vec![meshdesk_model::Message {
                attachments: Vec::new(),
                id: MessageId::new(),
                author: Author::Contact,
                at,
                body: format!("About the {topic}: {name} asked a question."),
            }],
            claims: vec![Claim {
                agent: me.agent,
                claimed_at: at + 500,
                epoch: 0,
            }],
            declines: vec![],
            transfers: vec![],
            finalization: closed.then(|| Finalization {
                agent: me.agent,
                at: at + 20_000,
                disposition: "Resolved".into(),
                note: String::new(),
                wrapup_until: at + 20_000,
            }),
            notes: vec![],
            tags: BTreeSet::from([topic.to_string()]),
        };
        edits.push(DocEdit::new(
            DocId::Interaction(interaction.id),
            true,
            move |d| doc::interaction::create(d, &interaction),
        ));
        if edits.len() == BATCH {
            store
                .write_many(std::mem::take(&mut edits))
                .expect("interactions");
        }
    }
    store
        .write_many(std::mem::take(&mut edits))
        .expect("interactions");
    drop(store);
    std::fs::write(&done, b"ok").expect("marker");
}

/// Runs tasks to completion, feeding their outputs back into the app.
fn run(rt: &tokio::runtime::Runtime, app: &mut App, task: Task<Message>) {
    let mut queue = VecDeque::from([task]);
    while let Some(task) = queue.pop_front() {
        let Some(mut stream) = iced_test::runtime::task::into_stream(task) else {
            continue;
        };
        while let Some(action) = rt.block_on(stream.next()) {
            if let Action::Output(message) = action {
                queue.push_back(app.update(message));
            }
        }
    }
}

fn open(rt: &tokio::runtime::Runtime, path: &Path, tab: TabId, page: Option<usize>) -> App {
    let dir = path.parent().expect("the bench data dir");
    let data_dir = DataDir::resolve(Some(dir.to_path_buf())).expect("data dir");
    // The previous app's node may still be closing the file.
    let mut tries = 0;
    let backend = loop {
        match rt.block_on(backend::open_node(&data_dir, OpenOptions::offline())) {
            Ok(backend) => break backend,
            Err(e) if tries < 100 => {
                tries += 1;
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("cannot open the bench store: {e}"),
        }
    };
    let settings = Settings {
        last_tab: tab,
        ..Settings::default()
    };
    let (mut app, task) =
        App::with_backend(backend, backend::system_clock(), Zone::utc(), settings);
    run(rt, &mut app, task);
    if let Some(page) = page {
        app.set_page_size(page);
        let task = app.update(Message::Inbox(inbox::Message::Tab(tab)));
        run(rt, &mut app, task);
    }
    app
}

fn renderer() -> iced::Renderer {
    iced_test::futures::futures::executor::block_on(<iced::Renderer as Headless>::new(
        Font::with_name("Fira Sans"),
        14.into(),
        Some("tiny-skia"),
    ))
    .expect("a headless renderer")
}

fn scroll(tab: TabId, offset: f32) -> Message {
    let scrolled = list::Message::Scrolled(offset, 660.0);
    match tab {
        TabId::History => Message::Inbox(inbox::Message::History(history::Message::List(scrolled))),
        _ => Message::Inbox(inbox::Message::Active(active::Message::List(scrolled))),
    }
}

fn bench_view(c: &mut Criterion) {
    let path = data_dir().join("meshdesk.redb");
    build(&path);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut renderer = renderer();

    let mut group = c.benchmark_group("gui_100k");
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(5));
    for (tab, name) in [(TabId::Active, "active"), (TabId::History, "history")] {
        let mut app = open(&rt, &path, tab, Some(PER_STATE));
        let loaded = app.loaded_rows();
        eprintln!("{name}: {loaded} rows loaded");
        assert!(loaded >= PER_STATE, "{name} holds {loaded} rows");

        group.bench_function(format!("view_{name}_top"), |b| {
            b.iter(|| black_box(app.view()))
        });
        group.bench_function(format!("view_and_layout_{name}_top"), |b| {
            b.iter(|| {
                let ui = UserInterface::build(
                    app.view(),
                    SIZE,
                    user_interface::Cache::default(),
                    &mut renderer,
                );
                black_box(ui.into_cache())
            })
        });
        let halfway = (PER_STATE / 2) as f32 * ROW_HEIGHT;
        let task = app.update(scroll(tab, halfway));
        run(&rt, &mut app, task);
        group.bench_function(format!("view_{name}_scrolled_halfway"), |b| {
            b.iter(|| black_box(app.view()))
        });
        group.bench_function(format!("view_and_layout_{name}_scrolled_halfway"), |b| {
            b.iter(|| {
                let ui = UserInterface::build(
                    app.view(),
                    SIZE,
                    user_interface::Cache::default(),
                    &mut renderer,
                );
                black_box(ui.into_cache())
            })
        });
    }
    group.finish();

    // One keystroke of search, end to end, at the app's page size.
    let mut group = c.benchmark_group("gui_search_keystroke_100k");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    for (tab, name) in [(TabId::Active, "active"), (TabId::History, "history")] {
        let mut app = open(&rt, &path, tab, None);
        // A common word (matches thousands: the first page fills at once),
        // and a name that matches one row (the whole tab is scanned).
        let n = if tab == TabId::Active {
            53_123
        } else {
            PER_STATE + 53_123
        };
        let one = name_of(n);
        let mut shorter = one.clone();
        shorter.pop();
        for (what, queries) in [
            ("common_word", ["refun".to_string(), "refund".to_string()]),
            ("one_row", [shorter, one]),
        ] {
            let mut flip = 0;
            group.bench_function(format!("{name}_{what}"), |b| {
                b.iter(|| {
                    flip ^= 1;
                    let task = app.update(Message::Inbox(inbox::Message::Search(
                        queries[flip].clone(),
                    )));
                    run(&rt, &mut app, task);
                    black_box(app.view());
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_view);
criterion_main!(benches);
