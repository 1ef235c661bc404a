//! A harness that drives the real GUI headlessly: the app's `update` and
//! `view`, iced_test's simulator for clicks and typing, and a real store
//! owned by a real node (networking off), written through real requests. Tasks run to
//! completion between steps, and the backend's events are fed back in, so
//! each step ends with the window as the agent would see it.

#![allow(dead_code)]

use meshdesk_model::store::Replication;
use std::collections::{BTreeMap, VecDeque};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use iced::futures::StreamExt;
use iced::keyboard::{self, Key, Modifiers, key};
use iced::{Size, Task, Theme};
use iced_test::Simulator;
use iced_test::runtime::Action;
use iced_test::selector::Candidate;
use meshdesk::gui::backend::{Backend, Clock, Listener};
use meshdesk::gui::clock::Zone;
use meshdesk::gui::settings::Settings;
use meshdesk::gui::{App, Message, Shortcut, TabId};
use meshdesk_model::ops::{
    self, CampaignSpec, ChatTarget, Client, ContactSpec, Context, FromReply, Reply, Request,
};
use meshdesk_model::store::Store;
use meshdesk_model::{ChannelKind, Millis, Strategy};

/// 2025-03-03 09:00:00 UTC: every test starts its clock here.
pub const T0: Millis = 1_740_992_400_000;
pub const MINUTE: Millis = 60_000;
/// The window size of every test (logical pixels).
pub const SIZE: Size = Size::new(1180.0, 720.0);

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A clock that moves only when a test moves it; the node's store reads it too.
#[derive(Clone)]
pub struct ManualClock(meshdesk_model::clock::ManualClock);

impl ManualClock {
    pub fn new(at: Millis) -> ManualClock {
        ManualClock(meshdesk_model::clock::ManualClock::new(at))
    }

    pub fn now(&self) -> Millis {
        self.0.now()
    }

    pub fn advance(&self, ms: Millis) {
        self.0.set(self.0.now() + ms);
    }

    pub fn clock(&self) -> Clock {
        let c = self.0.clone();
        Arc::new(move || c.now())
    }

    /// The same clock, for the node's store.
    pub fn store_clock(&self) -> meshdesk_model::clock::Clock {
        meshdesk_model::clock::Clock::Manual(self.0.clone())
    }
}

/// A loopback address no one listens on yet.
pub fn free_loopback() -> Result<libp2p::Multiaddr, Box<dyn std::error::Error>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    Ok(format!("/ip4/127.0.0.1/tcp/{port}").parse()?)
}

/// A team member's node on the loopback only (no mDNS), on the clock `clock`.
pub fn loopback(
    clock: &ManualClock,
    listen: libp2p::Multiaddr,
    peers: Vec<libp2p::Multiaddr>,
) -> meshdesk_sync::home::OpenOptions {
    meshdesk_sync::home::OpenOptions {
        mdns: false,
        listen: vec![listen],
        peers,
        clock: clock.store_clock(),
        ..meshdesk_sync::home::OpenOptions::member()
    }
}

/// Starts the node of `dir` as `options` say, in `rt`.
pub fn node_in(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    options: meshdesk_sync::home::OpenOptions,
) -> Result<Backend, Box<dyn std::error::Error>> {
    let data_dir = meshdesk::data_dir::DataDir::resolve(Some(dir.to_path_buf()))?;
    Ok(rt.block_on(meshdesk::gui::backend::open_node(&data_dir, options))?)
}

/// A teammate's data dir that syncs with the seed's: its own device key
/// (on the seed's roster once admitted) and the team's key.
pub fn teammate_dir(seed: &Seed) -> Result<tempfile::TempDir, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let key_file = meshdesk_sync::team::TEAM_KEY_FILE;
    std::fs::copy(seed.dir.path().join(key_file), dir.path().join(key_file))?;
    Ok(dir)
}

/// Starts the node of `dir` with networking off, on the clock `clock`, in `rt`.
pub fn offline_node(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    clock: &ManualClock,
) -> Result<Backend, Box<dyn std::error::Error>> {
    let options = meshdesk_sync::home::OpenOptions {
        clock: clock.store_clock(),
        ..meshdesk_sync::home::OpenOptions::offline()
    };
    node_in(rt, dir, options)
}

/// A campaign's settings, as `campaign add` takes them.
pub use meshdesk::gui::demo::campaign;

/// Runs requests on a store before the GUI opens it, as the CLI would.
pub struct Seed {
    pub store: Store,
    pub clock: ManualClock,
    pub dir: tempfile::TempDir,
}

impl Seed {
    /// A team "Support" with this device's agent Ana (a supervisor).
    pub fn new() -> Result<Seed, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(
            dir.path().join("meshdesk.redb"),
            meshdesk_sync::identity::load_device_key(dir.path())?,
        )?;
        let mut seed = Seed {
            store,
            clock: ManualClock::new(T0),
            dir,
        };
        seed.run(Request::CreateTeam {
            team_name: "Support".into(),
            agent_name: "Ana".into(),
            device_name: "ana-laptop".into(),
        })?;
        // What `team create` makes beside the store.
        meshdesk_sync::team::create_team_key(seed.dir.path())?;
        Ok(seed)
    }

    /// Runs one request at the seed's clock, then moves the clock a minute on.
    pub fn run(&mut self, request: Request) -> Result<Reply, Box<dyn std::error::Error>> {
        let ctx = Context {
            now: self.clock.now(),
            presence: None,
        };
        let outcome = ops::execute(&mut self.store, &ctx, request)?;
        self.clock.advance(MINUTE);
        Ok(outcome.reply)
    }

    /// Runs a request that creates something; its id.
    pub fn create(&mut self, request: Request) -> Result<String, Box<dyn std::error::Error>> {
        match self.run(request)? {
            Reply::Created { id } => Ok(id),
            other => Err(format!("expected an id, got {other:?}").into()),
        }
    }

    /// Admits a teammate's device (the member side of `team join`).
    pub fn teammate(&mut self, name: &str) -> Result<String, Box<dyn std::error::Error>> {
        let device = format!("{}-device", name.to_lowercase());
        self.admit(name, &device)
    }

    /// A teammate's computer: its data dir (with the team's key and its
    /// own device key), admitted to the roster; also the teammate's agent id.
    pub fn teammate_computer(
        &mut self,
        name: &str,
    ) -> Result<(tempfile::TempDir, String), Box<dyn std::error::Error>> {
        let dir = teammate_dir(self)?;
        let key = meshdesk_sync::identity::load_device_key(dir.path())?;
        let agent = self.teammate_with_key(name, &key)?;
        Ok((dir, agent))
    }

    /// The store of a teammate's computer, synced with this one now and
    /// signed in as the teammate.
    pub fn teammate_store(
        &mut self,
        dir: &Path,
        agent: &str,
    ) -> Result<Store, Box<dyn std::error::Error>> {
        let key = meshdesk_sync::identity::load_device_key(dir)?;
        let mut store = Store::open(dir.join("meshdesk.redb"), key.clone())?;
        sync_stores(&mut self.store, "ana-device", &mut store, "teammate-device")?;
        let team = self.store.team()?.ok_or("no team")?.id;
        store.set_identity(&meshdesk_model::store::LocalIdentity {
            team,
            agent: agent.parse()?,
            device: key.device(),
        })?;
        Ok(store)
    }

    /// Runs one request on a teammate's store at the seed's clock.
    pub fn run_on(
        &self,
        store: &mut Store,
        request: Request,
    ) -> Result<Reply, Box<dyn std::error::Error>> {
        let ctx = Context {
            now: self.clock.now(),
            presence: None,
        };
        Ok(ops::execute(store, &ctx, request)?.reply)
    }

    /// Admits a teammate's device with a real key, for a store that syncs
    /// with this one (its changes must come from a roster device); its agent id.
    pub fn teammate_with_key(
        &mut self,
        name: &str,
        key: &meshdesk_model::authorship::DeviceKey,
    ) -> Result<String, Box<dyn std::error::Error>> {
        self.admit(name, &key.device())
    }

    fn admit(&mut self, name: &str, device: &str) -> Result<String, Box<dyn std::error::Error>> {
        let now = self.clock.now();
        let (code, _) = meshdesk_sync::team::create_invite(
            &mut self.store,
            [7; 32],
            now,
            meshdesk_sync::team::DEFAULT_INVITE_TTL_MS,
            1,
            &[],
            vec![],
        )?;
        let (agent, _) = ops::admit_device(
            &mut self.store,
            now,
            &code.token_hash(),
            device,
            name,
            &format!("{}-laptop", name.to_lowercase()),
        )?;
        self.clock.advance(MINUTE);
        Ok(agent.to_string())
    }

    pub fn campaign(&mut self, spec: CampaignSpec) -> Result<String, Box<dyn std::error::Error>> {
        self.create(Request::AddCampaign(spec))
    }

    pub fn contact(
        &mut self,
        name: &str,
        phone: Option<&str>,
        email: Option<&str>,
        company: &str,
    ) -> Result<String, Box<dyn std::error::Error>> {
        self.create(Request::AddContact(ContactSpec {
            name: Some(name.into()),
            phones: Some(phone.map(|p| vec![p.to_string()]).unwrap_or_default()),
            emails: Some(email.map(|e| vec![e.to_string()]).unwrap_or_default()),
            company: Some(company.into()),
            tags: None,
            notes: None,
        }))
    }

    /// A customer writes in: queued in a campaign.
    pub fn enqueue(
        &mut self,
        campaign: &str,
        from: &str,
        name: &str,
        message: &str,
    ) -> Result<String, Box<dyn std::error::Error>> {
        self.create(Request::Enqueue {
            campaign: campaign.into(),
            contact: None,
            from: Some(from.into()),
            name: Some(name.into()),
            message: Some(message.into()),
            priority: 0,
        })
    }

    /// An interaction Ana started with a phonebook contact.
    pub fn outbound(
        &mut self,
        campaign: &str,
        contact: &str,
        message: &str,
    ) -> Result<String, Box<dyn std::error::Error>> {
        self.create(Request::NewInteraction {
            channel: ChannelKind::Phone,
            campaign: campaign.into(),
            contact: Some(contact.parse().expect("an id")),
            to: None,
            fields: BTreeMap::new(),
            message: Some(message.into()),
        })
    }

    pub fn chat(&mut self, to: ChatTarget, text: &str) -> Result<(), Box<dyn std::error::Error>> {
        self.run(Request::ChatSend {
            to,
            text: text.into(),
        })?;
        Ok(())
    }
}

/// The standard team: campaigns on two channels, teammates, contacts, and
/// interactions in every state.
pub struct Demo {
    pub seed: Seed,
    pub marta: String,
    pub bruno_contact: String,
    /// Active (Ana's), with an unread customer message.
    pub active_lucia: String,
    /// Active (Ana's), started by Ana.
    pub active_marta: String,
    pub pending_tomas: String,
    pub pending_elena: String,
    pub closed_hugo: String,
    pub closed_sofia: String,
}

impl Demo {
    pub fn new() -> Result<Demo, Box<dyn std::error::Error>> {
        let mut s = Seed::new()?;
        s.teammate("Bruno")?;
        s.teammate("Carla")?;
        s.campaign(campaign(
            "Orders",
            ChannelKind::Webchat,
            Strategy::RingAll,
            &["Ana", "Bruno"],
            &["Sold", "Lost", "Follow-up"],
            &[("Order", true), ("Product", false)],
            120,
        ))?;
        let marta = s.contact(
            "Marta Ruiz",
            Some("+34 600 100 200"),
            Some("marta@example.com"),
            "Acme",
        )?;
        let bruno_contact = s.contact("Bruno Diaz", Some("+34 611 222 333"), None, "Globex")?;
        s.contact("Ines Lopez", None, Some("ines@example.com"), "Initech")?;

        // History: two closed.
        let closed_hugo = s.enqueue(
            "General",
            "+34 633 444 555",
            "Hugo Navarro",
            "My invoice is wrong",
        )?;
        s.run(Request::Accept {
            id: closed_hugo.parse().expect("an id"),
        })?;
        s.run(Request::Send {
            id: closed_hugo.parse().expect("an id"),
            text: "Fixed, you will get a new invoice today.".into(),
        })?;
        s.run(Request::Finalize {
            id: closed_hugo.parse().expect("an id"),
            disposition: "Resolved".into(),
            note: Some("Credit note issued".into()),
        })?;
        let closed_sofia = s.enqueue(
            "General",
            "+34 644 555 666",
            "Sofia Torres",
            "Delivery never arrived",
        )?;
        s.run(Request::Accept {
            id: closed_sofia.parse().expect("an id"),
        })?;
        s.run(Request::Finalize {
            id: closed_sofia.parse().expect("an id"),
            disposition: "Callback".into(),
            note: None,
        })?;

        // Active: one accepted with an unread customer message, one started by Ana.
        let active_lucia = s.enqueue(
            "General",
            "+34 622 000 111",
            "Lucia Romero",
            "Hi, my router keeps rebooting",
        )?;
        s.run(Request::Accept {
            id: active_lucia.parse().expect("an id"),
        })?;
        s.run(Request::Send {
            id: active_lucia.parse().expect("an id"),
            text: "Hello Lucia, let us check it together.".into(),
        })?;
        s.run(Request::CustomerMessage {
            id: active_lucia.parse().expect("an id"),
            text: "It blinks red <b>every</b> minute".into(),
        })?;
        let active_marta = s.outbound("General", &marta, "Calling about your order")?;

        // Pending: two waiting.
        let pending_tomas = s.enqueue(
            "General",
            "+34 655 777 888",
            "Tomas Vidal",
            "Can I upgrade my plan?",
        )?;
        let pending_elena = s.enqueue(
            "Orders",
            "elena@example.com",
            "Elena Molina",
            "Where is order 4471?",
        )?;

        s.chat(
            ChatTarget::Agent("Bruno".into()),
            "Can you take the 11:00 call?",
        )?;
        s.chat(
            ChatTarget::Campaign("General".into()),
            "Standup in 5 minutes",
        )?;
        Ok(Demo {
            seed: s,
            marta,
            bruno_contact,
            active_lucia,
            active_marta,
            pending_tomas,
            pending_elena,
            closed_hugo,
            closed_sofia,
        })
    }
}

/// The GUI, driven.
pub struct Ui {
    pub app: App,
    pub backend: Backend,
    pub clock: ManualClock,
    pub rt: tokio::runtime::Runtime,
    listener: Option<Listener>,
    /// Keeps the data dir alive.
    _dir: Option<tempfile::TempDir>,
}

/// The tests' runtime: two workers, so a node's actor runs in the background.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// The app's own renderer settings (font, text size).
pub fn settings() -> iced::Settings {
    meshdesk::gui::iced_settings()
}

impl Ui {
    /// Opens the inbox on a seeded store.
    pub fn open(seed: Seed) -> Result<Ui, Box<dyn std::error::Error>> {
        Ui::open_with(seed, Settings::default())
    }

    pub fn open_with(seed: Seed, settings: Settings) -> Result<Ui, Box<dyn std::error::Error>> {
        let Seed { store, clock, dir } = seed;
        // The node owns the store from here on.
        drop(store);
        let rt = runtime()?;
        let backend = offline_node(&rt, dir.path(), &clock)?;
        Ui::over_in(rt, backend, clock, settings, Some(dir))
    }

    /// Opens the inbox of `dir` on a node that syncs on the loopback (no one
    /// there yet); also the address it listens on.
    pub fn networked(
        dir: tempfile::TempDir,
        clock: ManualClock,
    ) -> Result<(Ui, libp2p::Multiaddr), Box<dyn std::error::Error>> {
        let addr = free_loopback()?;
        let rt = runtime()?;
        let node = node_in(&rt, dir.path(), loopback(&clock, addr.clone(), vec![]))?;
        let ui = Ui::over_in(rt, node, clock, Settings::default(), Some(dir))?;
        Ok((ui, addr))
    }

    /// Starts a teammate's node on `dir` that dials `peer` (the two computers meet).
    pub fn teammate_node(
        &self,
        dir: &Path,
        peer: libp2p::Multiaddr,
    ) -> Result<Backend, Box<dyn std::error::Error>> {
        node_in(
            &self.rt,
            dir,
            loopback(&self.clock, free_loopback()?, vec![peer]),
        )
    }

    /// Opens the inbox over a node started elsewhere.
    pub fn over(
        backend: Backend,
        clock: ManualClock,
        settings: Settings,
        dir: Option<tempfile::TempDir>,
    ) -> Result<Ui, Box<dyn std::error::Error>> {
        Ui::over_in(runtime()?, backend, clock, settings, dir)
    }

    /// Opens the inbox over a node running in `rt`.
    pub fn over_in(
        rt: tokio::runtime::Runtime,
        backend: Backend,
        clock: ManualClock,
        settings: Settings,
        dir: Option<tempfile::TempDir>,
    ) -> Result<Ui, Box<dyn std::error::Error>> {
        let listener = backend.listen();
        let (app, task) = App::with_backend(backend.clone(), clock.clock(), Zone::utc(), settings);
        let mut ui = Ui {
            app,
            backend,
            clock,
            rt,
            listener: Some(listener),
            _dir: dir,
        };
        ui.run(task);
        Ok(ui)
    }

    /// Lets background work (a node's actor) run for a while, then takes in its events.
    pub fn settle(&mut self, ms: u64) {
        self.rt.block_on(async move {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        });
        self.run(Task::none());
    }

    /// Lets the node work until the window shows `text`, for at most `ms`.
    pub fn settle_until(&mut self, text: &str, ms: u64) {
        let mut waited = 0;
        while !self.sees(text) {
            assert!(waited < ms, "{text:?} did not show within {ms} ms");
            self.settle(100);
            waited += 100;
        }
    }

    /// Drives an app that has no inbox yet (the welcome screen); `backend`
    /// is a placeholder nothing talks to.
    pub fn without_inbox(app: App) -> Result<Ui, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let clock = ManualClock::new(T0);
        let rt = runtime()?;
        let backend = offline_node(&rt, dir.path(), &clock)?;
        Ok(Ui {
            app,
            backend,
            clock,
            rt,
            listener: None,
            _dir: Some(dir),
        })
    }

    /// Runs tasks to completion, feeding their messages back, then the backend's events.
    pub fn run(&mut self, task: Task<Message>) {
        let mut queue = VecDeque::from([task]);
        loop {
            while let Some(task) = queue.pop_front() {
                let Some(mut stream) = iced_test::runtime::task::into_stream(task) else {
                    continue;
                };
                // Outputs go back to the app. Other actions (focus, scroll,
                // window, system queries) have no window to act on here;
                // dropping them at once also drops any answer channel, so a
                // task waiting on one ends instead of waiting forever.
                while let Some(action) = self.rt.block_on(stream.next()) {
                    if let Action::Output(message) = action {
                        queue.push_back(self.app.update(message));
                    }
                }
            }
            let Some(event) = self.listener.as_mut().and_then(Listener::try_next) else {
                break;
            };
            queue.push_back(self.app.update(Message::Backend(event)));
        }
    }

    /// Runs a task as [`Ui::run`] does, calling `watch` with each of its
    /// own messages once the app took it in (to see a screen mid-way).
    pub fn run_watching(&mut self, task: Task<Message>, mut watch: impl FnMut(&mut Ui, &Message)) {
        let Some(mut stream) = iced_test::runtime::task::into_stream(task) else {
            return;
        };
        while let Some(action) = self.rt.block_on(stream.next()) {
            if let Action::Output(message) = action {
                let follow = self.app.update(message.clone());
                watch(self, &message);
                self.run(follow);
            }
        }
        self.run(Task::none());
    }

    /// Runs a task as [`Ui::run`] does, but before each of its own messages
    /// takes in the backend's events (what the window showed while the task
    /// ran) and calls `watch`.
    pub fn run_events_first(&mut self, task: Task<Message>, mut watch: impl FnMut(&mut Ui)) {
        let Some(mut stream) = iced_test::runtime::task::into_stream(task) else {
            return;
        };
        while let Some(action) = self.rt.block_on(stream.next()) {
            if let Action::Output(message) = action {
                self.run(Task::none());
                watch(self);
                let follow = self.app.update(message);
                self.run(follow);
            }
        }
        self.run(Task::none());
    }

    /// Sends a message as if the window produced it.
    pub fn send(&mut self, message: Message) {
        let task = self.app.update(message);
        self.run(task);
    }

    pub fn shortcut(&mut self, s: Shortcut) {
        self.send(Message::Shortcut(s));
    }

    /// One second passes (the window's tick).
    pub fn tick(&mut self, seconds: i64) {
        for _ in 0..seconds {
            self.clock.advance(1_000);
            self.send(Message::Tick);
        }
    }

    pub fn simulator(&self) -> Simulator<'_, Message> {
        Simulator::with_size(settings(), SIZE, self.app.view())
    }

    fn apply(&mut self, messages: Vec<Message>) {
        for m in messages {
            let task = self.app.update(m);
            self.run(task);
        }
    }

    /// Clicks the widget showing exactly this text. With a dialog open, the
    /// dialog's (the topmost) match is clicked, not one under the veil.
    pub fn click(&mut self, label: &str) {
        let topmost = self.app.has_dialog();
        let messages: Vec<Message> = {
            let mut sim = self.simulator();
            let mut spots = Vec::new();
            let _ = sim.find(|c: Candidate<'_>| {
                if let Candidate::Text {
                    content,
                    visible_bounds: Some(bounds),
                    ..
                } = c
                    && content == label
                {
                    spots.push(bounds.center());
                }
                None::<()>
            });
            let spot = if topmost { spots.last() } else { spots.first() };
            let Some(spot) = spot.copied() else {
                panic!("nothing shows {label:?}; visible: {:#?}", self.texts());
            };
            sim.point_at(spot);
            let _ = sim.simulate(iced_test::simulator::click());
            sim.into_messages().collect()
        };
        self.apply(messages);
    }

    /// Clicks the widget with this id.
    pub fn click_id(&mut self, id: impl Into<iced::widget::Id>) {
        let id = id.into();
        let messages: Vec<Message> = {
            let mut sim = self.simulator();
            if let Err(e) = sim.click(id.clone()) {
                panic!("cannot click {id:?}: {e}");
            }
            sim.into_messages().collect()
        };
        self.apply(messages);
    }

    /// Clicks into the input with this id and types, as a person would.
    pub fn type_into(&mut self, id: impl Into<iced::widget::Id>, text: &str) {
        let id = id.into();
        let messages: Vec<Message> = {
            let mut sim = self.simulator();
            if let Err(e) = sim.click(id.clone()) {
                panic!("cannot click {id:?}: {e}");
            }
            // To the end of what is there, then the new text.
            let _ = sim.simulate(iced_test::simulator::tap_key(
                Key::Named(key::Named::End),
                None,
            ));
            let _ = sim.typewrite(text);
            sim.into_messages().collect()
        };
        self.apply(messages);
    }

    /// Types into the input with this id, then presses Enter in it.
    pub fn type_and_enter(&mut self, id: &'static str, text: &str) {
        self.type_into(id, text);
        self.press_in(id, Key::Named(key::Named::Enter), Modifiers::empty());
    }

    /// Clears the input with this id (select all, delete).
    pub fn clear(&mut self, id: impl Into<iced::widget::Id>) {
        let id = id.into();
        let messages: Vec<Message> = {
            let mut sim = self.simulator();
            if let Err(e) = sim.click(id.clone()) {
                panic!("cannot click {id:?}: {e}");
            }
            let ctrl = keyboard::Event::ModifiersChanged(Modifiers::CTRL);
            let _ = sim.simulate([iced::Event::Keyboard(ctrl)]);
            let _ = sim.simulate(iced_test::simulator::tap_key(
                Key::Character("a".into()),
                None,
            ));
            let none = keyboard::Event::ModifiersChanged(Modifiers::empty());
            let _ = sim.simulate([iced::Event::Keyboard(none)]);
            let _ = sim.simulate(iced_test::simulator::tap_key(
                Key::Named(key::Named::Backspace),
                None,
            ));
            sim.into_messages().collect()
        };
        self.apply(messages);
    }

    /// Focuses the widget with this id and presses a key (with modifiers).
    /// A character key carries its text even with Ctrl held, as the desktop
    /// sends it (Ctrl+1 comes with the text "1").
    pub fn press_in(&mut self, id: impl Into<iced::widget::Id>, key: Key, modifiers: Modifiers) {
        let id = id.into();
        let messages: Vec<Message> = {
            let mut sim = self.simulator();
            if let Err(e) = sim.click(id.clone()) {
                panic!("cannot click {id:?}: {e}");
            }
            let _ = sim.simulate([iced::Event::Keyboard(keyboard::Event::ModifiersChanged(
                modifiers,
            ))]);
            let press = keyboard::Event::KeyPressed {
                key: key.clone(),
                modified_key: key.clone(),
                physical_key: keyboard::key::Physical::Unidentified(
                    keyboard::key::NativeCode::Unidentified,
                ),
                location: keyboard::Location::Standard,
                modifiers,
                repeat: false,
                text: match &key {
                    Key::Character(c) => Some(c.clone()),
                    _ => None,
                },
            };
            let _ = sim.simulate([iced::Event::Keyboard(press)]);
            sim.into_messages().collect()
        };
        self.apply(messages);
    }

    /// Every text on screen (labels, inputs' values or placeholders), in tree order.
    pub fn texts(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut sim = self.simulator();
        let _ = sim.find(|c: Candidate<'_>| {
            match c {
                Candidate::Text { content, .. } => found.push(content.to_string()),
                Candidate::TextInput { state, .. } => found.push(state.text().to_string()),
                _ => {}
            }
            None::<()>
        });
        found
    }

    /// Whether some text on screen contains `needle`.
    pub fn sees(&self, needle: &str) -> bool {
        self.texts().iter().any(|t| t.contains(needle))
    }

    #[track_caller]
    pub fn assert_sees(&self, needle: &str) {
        let texts = self.texts();
        assert!(
            texts.iter().any(|t| t.contains(needle)),
            "expected to see {needle:?} on screen; visible: {texts:#?}"
        );
    }

    #[track_caller]
    pub fn assert_not_sees(&self, needle: &str) {
        let texts = self.texts();
        assert!(
            !texts.iter().any(|t| t.contains(needle)),
            "expected not to see {needle:?}; visible: {texts:#?}"
        );
    }

    pub fn tab(&mut self, tab: TabId) {
        self.click(tab.label());
        assert_eq!(self.app.tab(), Some(tab));
    }

    /// Runs a request on the backend, as another part of the app would.
    pub fn call(&mut self, request: Request) -> Result<Reply, String> {
        let backend = self.backend.clone();
        let reply = self.rt.block_on(async move { backend.call(request).await });
        self.run(Task::none());
        reply.map_err(|e| e.to_string())
    }

    /// Runs a request whose reply holds a `T`, and gives the `T`.
    pub fn ask<T: FromReply>(&mut self, request: Request) -> Result<T, String> {
        T::from_reply(self.call(request)?).map_err(|e| e.to_string())
    }

    /// Compares the window with its reference PNG in `tests/snapshots/`
    /// (made on first run). Only the tiny-skia renderer's images are kept:
    /// another renderer (a GPU) draws slightly differently, so its images are
    /// only written to a temp dir to look at.
    pub fn snapshot(&self, name: &str, theme: &Theme) -> Result<(), Box<dyn std::error::Error>> {
        let mut sim = self.simulator();
        let shot = sim.snapshot(theme)?;
        let probe = tempfile::tempdir()?;
        let _ = shot.matches_hash(probe.path().join("probe"))?;
        let renderer = renderer_of(probe.path());
        let dir = if renderer.as_deref() == Some("tiny-skia") {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
        } else {
            eprintln!("renderer {renderer:?} is not tiny-skia: {name} is not compared");
            std::env::temp_dir().join("meshdesk-snapshots")
        };
        let path: PathBuf = dir.join(name);
        if std::env::var_os("MESHDESK_UPDATE_SNAPSHOTS").is_some() {
            let _ = std::fs::remove_file(dir.join(format!(
                "{name}-{}.png",
                renderer.as_deref().unwrap_or("unknown")
            )));
        }
        if !shot.matches_image(&path)? {
            return Err(format!(
                "{name} differs from tests/snapshots/{name}-tiny-skia.png; look at both, then rerun with MESHDESK_UPDATE_SNAPSHOTS=1 if the change is meant"
            )
            .into());
        }
        Ok(())
    }
}

fn renderer_of(dir: &Path) -> Option<String> {
    std::fs::read_dir(dir).ok()?.find_map(|e| {
        let name = e.ok()?.file_name().to_string_lossy().to_string();
        name.strip_prefix("probe-")?
            .strip_suffix(".sha256")
            .map(str::to_string)
    })
}

/// Exchanges Automerge sync messages between two stores until neither has
/// anything to say; returns the documents that changed in `a` and in `b`.
pub fn sync_stores(
    a: &mut Store,
    a_name: &str,
    b: &mut Store,
    b_name: &str,
) -> Result<
    (
        Vec<meshdesk_model::store::DocChange>,
        Vec<meshdesk_model::store::DocChange>,
    ),
    meshdesk_model::store::StoreError,
> {
    let ids: BTreeSet<String> = a.doc_ids()?.into_iter().chain(b.doc_ids()?).collect();
    let (mut changed_a, mut changed_b) = (Vec::new(), Vec::new());
    // Each document settles in a few round trips; the bound only guards
    // against a pair that never agrees.
    for _ in 0..32 {
        let mut to_b = Vec::new();
        for id in &ids {
            if let Some(m) = a.generate_sync_message(b_name, id)? {
                to_b.push((id.clone(), m));
            }
        }
        let mut to_a = Vec::new();
        for id in &ids {
            if let Some(m) = b.generate_sync_message(a_name, id)? {
                to_a.push((id.clone(), m));
            }
        }
        if to_a.is_empty() && to_b.is_empty() {
            break;
        }
        if !to_b.is_empty() {
            changed_b.extend(b.receive_sync_messages(a_name, &to_b)?.changes);
        }
        if !to_a.is_empty() {
            changed_a.extend(a.receive_sync_messages(b_name, &to_a)?.changes);
        }
    }
    dedup(&mut changed_a);
    dedup(&mut changed_b);
    Ok((changed_a, changed_b))
}

fn dedup(changes: &mut Vec<meshdesk_model::store::DocChange>) {
    let mut seen = HashSet::new();
    changes.retain(|c| seen.insert(c.doc_id.clone()));
}
