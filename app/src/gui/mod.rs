//! The desktop window: one iced application.
//!
//! The shell ([`App`]) holds the left rail of tabs, the top bar (scoped
//! search, `+`, status, peers), the current screen and any dialog, and the
//! toasts. Screens ([`screen`]) and dialogs ([`modal`]) are modules with
//! their own `Message`, an `update` that returns a `Task` and maybe an upward
//! `Event`, and a `view`; the shell maps them.
//!
//! Data comes only through the [`backend::Backend`]: every request runs as a
//! `Task` and answers as a `Message`, and the backend's events (one
//! subscription keyed on the backend) say when to re-read what is shown.
//! Nothing in `update` blocks.

pub mod backend;
pub mod clock;
pub mod demo;
pub mod keys;
pub mod modal;
pub mod notify;
pub mod screen;
pub mod session;
pub mod settings;
pub mod theme;
pub mod widget;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use iced::event::{self, Event as IcedEvent};
use iced::keyboard::{self, Key, Modifiers, key};
use iced::theme::Mode;
use iced::widget::{
    Space, button, column, container, pick_list, row, stack, text, text_input, toggler,
};
use iced::{Alignment, Font, Length, Size, Subscription, Task, Theme, window};
use meshdesk_model::doc::{DocId, DocKind};
use meshdesk_model::ops::{Reply, Request, Tab};
use meshdesk_model::{AgentStatus, InteractionId, InteractionState, Millis};
use serde::{Deserialize, Serialize};

use crate::data_dir::DataDir;
use backend::{Backend, Clock, NodeOptions, Opened, Peer};
use clock::Zone;
use modal::Modal;
use notify::{Notice, Notifier, Subject, Watch};
use screen::welcome::{self, Welcome};
use screen::{Toast, active, contacts, history, pending, phonebook};
use session::{Session, status_label, status_tone};
use settings::Settings;
use widget::{Element, SMALL, TEXT, badge, dot, muted};

/// The search box's id (Ctrl+K focuses it).
pub const SEARCH_ID: &str = "search";
/// The notifications switch's id.
pub const NOTIFICATIONS_ID: &str = "notifications";
/// The webchat-and-API switch in the rail, and its address field.
pub const GATEWAYS_ID: &str = "gateways";
pub const GATEWAYS_ADDR_ID: &str = "gateways-addr";
/// How long a toast stays.
const TOAST_INFO_MS: Millis = 5_000;
const TOAST_ERROR_MS: Millis = 10_000;
/// The most toasts shown at once.
const TOASTS_SHOWN: usize = 4;
/// Refreshes triggered by changes are at most this frequent.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Peers and counts are re-read at least this often, whatever the events say.
const POLL_EVERY_TICKS: u64 = 5;

/// The rail's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TabId {
    #[default]
    Active,
    Pending,
    History,
    Contacts,
    Phonebook,
}

impl TabId {
    pub const ALL: [TabId; 5] = [
        TabId::Active,
        TabId::Pending,
        TabId::History,
        TabId::Contacts,
        TabId::Phonebook,
    ];

    pub fn label(self) -> &'static str {
        match self {
            TabId::Active => "Active",
            TabId::Pending => "Pending",
            TabId::History => "History",
            TabId::Contacts => "Contacts & chat",
            TabId::Phonebook => "Phonebook",
        }
    }

    fn placeholder(self) -> &'static str {
        match self {
            TabId::Active => "Search active interactions  (Ctrl+K)",
            TabId::Pending => "Search pending interactions  (Ctrl+K)",
            TabId::History => "Search history  (Ctrl+K)",
            TabId::Contacts => "Search teammates and rooms  (Ctrl+K)",
            TabId::Phonebook => "Search the phonebook  (Ctrl+K)",
        }
    }
}

/// A keyboard shortcut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortcut {
    Search,
    New,
    Tab(TabId),
    Escape,
    Enter,
    Up,
    Down,
}

/// The shortcut a key press means, if any. Ctrl (Cmd on macOS) combinations
/// and Esc work everywhere; arrows and Enter only when no widget took them.
pub fn shortcut(key: &Key, modifiers: Modifiers, captured: bool) -> Option<Shortcut> {
    if modifiers.command() {
        return match key.as_ref() {
            Key::Character("k") => Some(Shortcut::Search),
            Key::Character("n") => Some(Shortcut::New),
            Key::Character("1") => Some(Shortcut::Tab(TabId::Active)),
            Key::Character("2") => Some(Shortcut::Tab(TabId::Pending)),
            Key::Character("3") => Some(Shortcut::Tab(TabId::History)),
            Key::Character("4") => Some(Shortcut::Tab(TabId::Contacts)),
            Key::Character("5") => Some(Shortcut::Tab(TabId::Phonebook)),
            _ => None,
        };
    }
    match key.as_ref() {
        Key::Named(key::Named::Escape) => Some(Shortcut::Escape),
        _ if captured || modifiers.shift() || modifiers.alt() => None,
        Key::Named(key::Named::Enter) => Some(Shortcut::Enter),
        Key::Named(key::Named::ArrowUp) => Some(Shortcut::Up),
        Key::Named(key::Named::ArrowDown) => Some(Shortcut::Down),
        _ => None,
    }
}

fn on_event(event: IcedEvent, status: event::Status, _window: window::Id) -> Option<Message> {
    match event {
        // Ctrl shortcuts are taken earlier, by `keys::capture` around the window.
        IcedEvent::Keyboard(keyboard::Event::KeyPressed { key, modifiers, .. })
            if !modifiers.command() =>
        {
            shortcut(&key, modifiers, status == event::Status::Captured).map(Message::Shortcut)
        }
        IcedEvent::Window(window::Event::Resized(size)) => Some(Message::Resized(size)),
        IcedEvent::Window(window::Event::CloseRequested) => Some(Message::CloseRequested),
        IcedEvent::Window(window::Event::Focused) => Some(Message::Focused(true)),
        IcedEvent::Window(window::Event::Unfocused) => Some(Message::Focused(false)),
        _ => None,
    }
}

/// A choice of the status selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChoice(pub AgentStatus);

impl std::fmt::Display for StatusChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&status_label(&self.0))
    }
}

#[derive(Debug, Clone, PartialEq)]
struct ToastItem {
    id: u64,
    toast: Toast,
    at: Millis,
}

#[derive(Debug, Clone)]
pub enum Message {
    Opened(Result<Opened, String>),
    TeamReady(welcome::Which, Result<Backend, String>),
    Welcome(welcome::Message),
    Tick,
    Mode(Mode),
    Resized(Size),
    /// The window gained (true) or lost the keyboard focus.
    Focused(bool),
    CloseRequested,
    Shortcut(Shortcut),
    Backend(backend::Event),
    Flush,
    /// A lost claim's interaction, to name it in the toast.
    ClaimLost(Result<Reply, String>),
    TeamLoaded(Result<Reply, String>),
    CountsLoaded(u64, Tab, Result<Reply, String>),
    /// The chat rooms, read to tell teammates' new messages.
    RoomsLoaded(Result<Reply, String>),
    /// The desktop-notifications switch.
    Notifications(bool),
    /// The switch that serves the webchat and the API from this window.
    Gateways(bool),
    /// Where to serve them (edited while they are off).
    GatewaysAddr(String),
    GatewaysStarted(Result<backend::Gateways, String>),
    PeersLoaded(Result<Vec<Peer>, String>),
    Tab(TabId),
    Search(String),
    New,
    Status(StatusChoice),
    StatusSet(Result<Reply, String>),
    Active(active::Message),
    Pending(pending::Message),
    History(history::Message),
    Contacts(contacts::Message),
    Phonebook(phonebook::Message),
    Modal(modal::Message),
    CloseModal,
    DismissToast(u64),
    SettingsSaved(Result<(), String>),
}

enum State {
    Loading,
    Failed(String),
    Welcome(Welcome),
    Inbox(Box<Inbox>),
}

/// What changed since the last refresh.
#[derive(Debug, Default)]
struct Dirty {
    interactions: BTreeSet<InteractionId>,
    contacts: bool,
    rooms: bool,
    team: bool,
}

impl Dirty {
    fn add(&mut self, kind: DocKind, doc_id: &DocId) {
        match kind {
            DocKind::Interaction => {
                if let DocId::Interaction(id) = doc_id {
                    self.interactions.insert(*id);
                }
            }
            DocKind::Contact => self.contacts = true,
            DocKind::Room => self.rooms = true,
            DocKind::Team | DocKind::Agent => self.team = true,
        }
    }

    fn everything() -> Dirty {
        Dirty {
            interactions: BTreeSet::new(),
            contacts: true,
            rooms: true,
            team: true,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    active: usize,
    unread: u32,
    pending: usize,
    /// Chat rooms with teammates' messages not yet read.
    chat: usize,
}

/// The inbox: everything shown once a team is open.
pub struct Inbox {
    backend: Backend,
    session: Session,
    tab: TabId,
    active: active::Active,
    pending: pending::Pending,
    history: history::History,
    contacts: contacts::Contacts,
    phonebook: phonebook::Phonebook,
    modal: Option<Modal>,
    counts: Counts,
    counts_seq: u64,
    peers: BTreeMap<String, Peer>,
    dirty: Dirty,
    flush_scheduled: bool,
    last_flush: Option<Instant>,
    /// What the last reads held, to tell what arrived since.
    watch: Watch,
}

/// The application.
pub struct App {
    data_dir: Option<DataDir>,
    settings: Settings,
    settings_dirty: bool,
    clock: Clock,
    zone: Zone,
    mode: Mode,
    options: NodeOptions,
    state: State,
    toasts: Vec<ToastItem>,
    next_toast: u64,
    ticks: u64,
    /// Shows desktop notifications (none in tests and benchmarks).
    notifier: Option<Notifier>,
    /// The latest notices fired, newest last (tests read them).
    notices: Vec<Notice>,
    /// Whether the window has the keyboard focus (the agent is looking).
    focused: bool,
    /// The webchat and API gateways, while the window serves them.
    gateways: Option<backend::Gateways>,
}

/// The toasts' distance from the window's bottom: clear of the composer.
const TOASTS_ABOVE: f32 = 110.0;
/// How many fired notices the app keeps.
const NOTICES_KEPT: usize = 50;

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

/// Whether a display to open a window on is there (Linux and BSDs: X11 or
/// Wayland); winit would otherwise panic while creating its event loop.
fn display_available() -> bool {
    if cfg!(all(unix, not(target_os = "macos"))) {
        ["WAYLAND_DISPLAY", "WAYLAND_SOCKET", "DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
    } else {
        true
    }
}

/// Fails with a clear message when there is no display for the window.
pub fn check_display() -> Result<(), String> {
    if !display_available() {
        return Err(
            "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); \
             use a sub-command (see --help), or `meshdesk node` to run headless"
                .into(),
        );
    }
    Ok(())
}

/// The window's renderer settings: the embedded font and the text size
/// (the headless tests render with the same). One struct, because iced's
/// `.settings()` replaces them whole: a `.default_font()` before it is lost.
pub fn iced_settings() -> iced::Settings {
    iced::Settings {
        default_font: Font::with_name("Fira Sans"),
        default_text_size: TEXT.into(),
        ..iced::Settings::default()
    }
}

/// Opens the window on a data dir (no sub-command given); returns when it closes.
pub fn run(data_dir: DataDir, options: NodeOptions) -> Result<(), String> {
    check_display()?;
    let settings = Settings::load(&data_dir.settings_path());
    let size = Size::new(settings.width, settings.height);
    let boot = move || App::new(data_dir.clone(), options.clone());
    iced::application(boot, App::update, App::view)
        .title(App::title)
        .subscription(App::subscription)
        .theme(App::theme)
        .settings(iced_settings())
        .window(window::Settings {
            size,
            min_size: Some(Size::new(settings::MIN_SIZE.0, settings::MIN_SIZE.1)),
            exit_on_close_request: false,
            ..window::Settings::default()
        })
        .run()
        .map_err(|e| format!("the window could not open: {e}"))
}

impl App {
    /// The desktop app: opens the data dir's team (or the welcome screen).
    pub fn new(data_dir: DataDir, options: NodeOptions) -> (App, Task<Message>) {
        let settings = Settings::load(&data_dir.settings_path());
        let app = App {
            data_dir: Some(data_dir.clone()),
            settings,
            settings_dirty: false,
            clock: backend::system_clock(),
            zone: Zone::local(),
            mode: Mode::None,
            options: options.clone(),
            state: State::Loading,
            toasts: Vec::new(),
            next_toast: 1,
            ticks: 0,
            notifier: Notifier::desktop(),
            notices: Vec::new(),
            focused: false,
            gateways: None,
        };
        let open = Task::perform(backend::open(data_dir, options), Message::Opened);
        (
            app,
            Task::batch([open, iced::system::theme().map(Message::Mode)]),
        )
    }

    /// An inbox over a given backend, with its own clock and zone, saving no
    /// settings (tests and benchmarks).
    pub fn with_backend(
        backend: Backend,
        clock: Clock,
        zone: Zone,
        settings: Settings,
    ) -> (App, Task<Message>) {
        let mut app = App {
            data_dir: None,
            settings,
            settings_dirty: false,
            clock,
            zone,
            mode: Mode::Light,
            options: NodeOptions::default(),
            state: State::Loading,
            toasts: Vec::new(),
            next_toast: 1,
            ticks: 0,
            notifier: None,
            notices: Vec::new(),
            focused: false,
            gateways: None,
        };
        let task = app.open_inbox(backend);
        (app, task)
    }

    /// The welcome screen, with no data dir behind it (tests).
    pub fn welcome() -> App {
        App {
            data_dir: None,
            settings: Settings::default(),
            settings_dirty: false,
            clock: backend::system_clock(),
            zone: Zone::utc(),
            mode: Mode::Light,
            options: NodeOptions::default(),
            state: State::Welcome(Welcome::default()),
            toasts: Vec::new(),
            next_toast: 1,
            ticks: 0,
            notifier: None,
            notices: Vec::new(),
            focused: false,
            gateways: None,
        }
    }

    /// Light or dark, as the system says (tests set it).
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    pub fn theme(&self) -> Theme {
        theme::for_mode(self.mode)
    }

    pub fn title(&self) -> String {
        match &self.state {
            State::Inbox(inbox) => match &inbox.session.team {
                Some(t) => format!("meshdesk · {}", t.team.name),
                None => "meshdesk".into(),
            },
            _ => "meshdesk".into(),
        }
    }

    /// The tab shown (when a team is open).
    pub fn tab(&self) -> Option<TabId> {
        match &self.state {
            State::Inbox(inbox) => Some(inbox.tab),
            _ => None,
        }
    }

    /// Whether a dialog is open over the inbox.
    pub fn has_dialog(&self) -> bool {
        matches!(&self.state, State::Inbox(inbox) if inbox.modal.is_some())
    }

    /// The settings as they would be saved.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Rows fetched per page of every list (benchmarks load 100k at once).
    pub fn set_page_size(&mut self, page: usize) {
        if let State::Inbox(inbox) = &mut self.state {
            for rows in [
                &mut inbox.active.rows,
                &mut inbox.pending.rows,
                &mut inbox.history.rows,
            ] {
                rows.page = page;
                rows.limit = page;
            }
        }
    }

    /// How many rows the current interaction tab holds (tests, benchmarks).
    pub fn loaded_rows(&self) -> usize {
        match &self.state {
            State::Inbox(inbox) => match inbox.tab {
                TabId::Active => inbox.active.rows.rows.len(),
                TabId::Pending => inbox.pending.rows.rows.len(),
                TabId::History => inbox.history.rows.rows.len(),
                _ => 0,
            },
            _ => 0,
        }
    }

    pub fn subscription(&self) -> Subscription<Message> {
        let mut subs = vec![
            iced::time::every(Duration::from_secs(1)).map(|_| Message::Tick),
            event::listen_with(on_event),
            iced::system::theme_changes().map(Message::Mode),
        ];
        if let State::Inbox(inbox) = &self.state {
            subs.push(
                Subscription::run_with(inbox.backend.clone(), |b: &Backend| b.events())
                    .map(Message::Backend),
            );
        }
        Subscription::batch(subs)
    }

    fn open_inbox(&mut self, backend: Backend) -> Task<Message> {
        let now = (self.clock)();
        let session = Session::new(now, self.zone, backend.is_node());
        let mut inbox = Box::new(Inbox {
            backend,
            session,
            tab: self.settings.last_tab,
            active: active::Active::new(),
            pending: pending::Pending::new(),
            history: history::History::new(),
            contacts: contacts::Contacts::default(),
            phonebook: phonebook::Phonebook::new(),
            modal: None,
            counts: Counts::default(),
            counts_seq: 0,
            peers: BTreeMap::new(),
            dirty: Dirty::default(),
            flush_scheduled: false,
            last_flush: None,
            watch: Watch::default(),
        });
        let task = Task::batch([
            inbox.load_team(),
            inbox.load_counts(),
            inbox.load_rooms(),
            inbox.load_peers(),
            inbox.reload_tab(),
        ]);
        self.state = State::Inbox(inbox);
        if self.settings.gateways {
            return Task::batch([task, self.start_gateways()]);
        }
        task
    }

    /// Serves the gateways through the inbox's node, if there is one.
    fn start_gateways(&self) -> Task<Message> {
        let State::Inbox(inbox) = &self.state else {
            return Task::none();
        };
        if self.gateways.is_some() || !inbox.backend.is_node() {
            return Task::none();
        }
        let backend = inbox.backend.clone();
        let addr = self.settings.gateways_addr.clone();
        Task::perform(
            async move { backend.serve_gateways(addr).await },
            Message::GatewaysStarted,
        )
    }

    fn toast(&mut self, toast: Toast) {
        let id = self.next_toast;
        self.next_toast += 1;
        self.toasts.push(ToastItem {
            id,
            toast,
            at: (self.clock)(),
        });
        let excess = self.toasts.len().saturating_sub(TOASTS_SHOWN);
        self.toasts.drain(..excess);
    }

    /// The desktop notifications fired so far (the latest few), oldest
    /// first; with the switch off, none are (tests read them).
    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }

    fn notify(&mut self, notices: Vec<Notice>) {
        if !self.settings.notifications {
            return;
        }
        let on_screen = match (&self.state, self.focused) {
            (State::Inbox(inbox), true) => inbox.on_screen(),
            _ => None,
        };
        for notice in notices {
            if notice.about.is_some() && notice.about == on_screen {
                continue;
            }
            if let Some(n) = &self.notifier {
                n.send(notice.clone());
            }
            self.notices.push(notice);
        }
        let excess = self.notices.len().saturating_sub(NOTICES_KEPT);
        self.notices.drain(..excess);
    }

    /// The toasts on screen, oldest first (tests read them).
    pub fn toasts(&self) -> Vec<String> {
        self.toasts
            .iter()
            .map(|t| match &t.toast {
                Toast::Info(s) | Toast::Error(s) => s.clone(),
            })
            .collect()
    }

    fn save_settings(&mut self) -> Task<Message> {
        self.settings_dirty = false;
        let Some(dir) = &self.data_dir else {
            return Task::none();
        };
        let path: PathBuf = dir.settings_path();
        let settings = self.settings.clone();
        Task::perform(
            async move {
                tokio::task::spawn_blocking(move || settings.save(&path).map_err(|e| e.to_string()))
                    .await
                    .map_err(|e| e.to_string())?
            },
            Message::SettingsSaved,
        )
    }

    pub fn update(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::Opened(Ok(Opened::Ready(backend))) => self.open_inbox(backend),
            Message::Opened(Ok(Opened::NoTeam)) => {
                self.state = State::Welcome(Welcome::default());
                iced::widget::operation::focus(welcome::TEAM_NAME_ID)
            }
            Message::Opened(Err(e)) => {
                self.state = State::Failed(e);
                Task::none()
            }
            Message::Welcome(msg) => {
                let State::Welcome(w) = &mut self.state else {
                    return Task::none();
                };
                let Some(event) = w.update(msg) else {
                    return Task::none();
                };
                let Some(dir) = self.data_dir.clone() else {
                    w.failed(
                        match event {
                            welcome::Event::Create { .. } => welcome::Which::Create,
                            welcome::Event::Join { .. } => welcome::Which::Join,
                        },
                        "no data directory to keep the team in".into(),
                    );
                    return Task::none();
                };
                let options = self.options.clone();
                match event {
                    welcome::Event::Create { team, name } => {
                        Task::perform(backend::create_team(dir, team, name, options), |r| {
                            Message::TeamReady(welcome::Which::Create, r)
                        })
                    }
                    welcome::Event::Join { code, name } => {
                        Task::perform(backend::join_team(dir, code, name, options), |r| {
                            Message::TeamReady(welcome::Which::Join, r)
                        })
                    }
                }
            }
            Message::TeamReady(which, result) => match result {
                Ok(backend) => self.open_inbox(backend),
                Err(e) => {
                    if let State::Welcome(w) = &mut self.state {
                        w.failed(which, e);
                    }
                    Task::none()
                }
            },
            Message::Tick => {
                let now = (self.clock)();
                self.ticks += 1;
                self.toasts.retain(|t| {
                    let ttl = match t.toast {
                        Toast::Info(_) => TOAST_INFO_MS,
                        Toast::Error(_) => TOAST_ERROR_MS,
                    };
                    now - t.at < ttl
                });
                let save = if self.settings_dirty {
                    self.save_settings()
                } else {
                    Task::none()
                };
                let poll = match &mut self.state {
                    State::Inbox(inbox) => {
                        inbox.session.now = now;
                        if self.ticks.is_multiple_of(POLL_EVERY_TICKS) {
                            Task::batch([inbox.load_peers(), inbox.load_counts()])
                        } else {
                            Task::none()
                        }
                    }
                    _ => Task::none(),
                };
                Task::batch([save, poll])
            }
            Message::Mode(mode) => {
                self.mode = mode;
                Task::none()
            }
            Message::Focused(focused) => {
                self.focused = focused;
                match &mut self.state {
                    State::Inbox(inbox) => {
                        let backend = inbox.backend.clone();
                        let active = inbox.active.set_focused(focused, &backend);
                        let contacts =
                            inbox
                                .contacts
                                .set_focused(focused, &inbox.session, &backend);
                        Task::batch([active.map(Message::Active), contacts.map(Message::Contacts)])
                    }
                    _ => Task::none(),
                }
            }
            Message::Resized(size) => {
                if (size.width, size.height) != (self.settings.width, self.settings.height) {
                    self.settings.width = size.width;
                    self.settings.height = size.height;
                    self.settings_dirty = true;
                }
                Task::none()
            }
            Message::CloseRequested => {
                let save = self.save_settings();
                let stop = match &self.state {
                    State::Inbox(inbox) => {
                        let backend = inbox.backend.clone();
                        Task::future(async move { backend.shutdown().await }).discard()
                    }
                    _ => Task::none(),
                };
                save.chain(stop).chain(iced::exit())
            }
            Message::SettingsSaved(result) => {
                if let Err(e) = result {
                    tracing::warn!("cannot save the window settings: {e}");
                }
                Task::none()
            }
            Message::DismissToast(id) => {
                self.toasts.retain(|t| t.id != id);
                Task::none()
            }
            Message::Notifications(on) => {
                self.settings.notifications = on;
                self.save_settings()
            }
            Message::Gateways(true) => {
                self.settings.gateways = true;
                Task::batch([self.save_settings(), self.start_gateways()])
            }
            Message::Gateways(false) => {
                self.settings.gateways = false;
                let stop = match self.gateways.take() {
                    Some(g) => Task::future(g.stop()).discard(),
                    None => Task::none(),
                };
                Task::batch([self.save_settings(), stop])
            }
            Message::GatewaysAddr(addr) => {
                if self.gateways.is_none() {
                    self.settings.gateways_addr = addr;
                    self.settings_dirty = true;
                }
                Task::none()
            }
            Message::GatewaysStarted(Ok(gateways)) => {
                if !self.settings.gateways {
                    // Switched off while starting.
                    return Task::future(gateways.stop()).discard();
                }
                self.toast(Toast::Info(format!(
                    "Serving the webchat and the API at {}",
                    gateways.url()
                )));
                self.gateways = Some(gateways);
                Task::none()
            }
            Message::GatewaysStarted(Err(e)) => {
                self.settings.gateways = false;
                self.toast(Toast::Error(e));
                self.save_settings()
            }
            other => {
                let State::Inbox(inbox) = &mut self.state else {
                    return Task::none();
                };
                let (task, effects) = inbox.update(other);
                for effect in effects {
                    match effect {
                        Effect::Toast(t) => self.toast(t),
                        Effect::TabChanged(tab) => {
                            if self.settings.last_tab != tab {
                                self.settings.last_tab = tab;
                                self.settings_dirty = true;
                            }
                        }
                        Effect::Notify(notices) => self.notify(notices),
                    }
                }
                task
            }
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let base: Element<'_, Message> = match &self.state {
            State::Loading => container(muted("Opening…").size(TEXT))
                .center(Length::Fill)
                .style(theme::boxes::chrome)
                .into(),
            State::Failed(e) => container(
                column![
                    widget::title("meshdesk could not open its data"),
                    container(widget::error_box(e)).max_width(640),
                ]
                .spacing(12)
                .align_x(Alignment::Center),
            )
            .center(Length::Fill)
            .style(theme::boxes::chrome)
            .into(),
            State::Welcome(w) => w.view().map(Message::Welcome),
            State::Inbox(inbox) => inbox.view(Switches {
                notifications: self.settings.notifications,
                gateways: inbox.backend.is_node().then(|| GatewaysSwitch {
                    on: self.settings.gateways,
                    addr: &self.settings.gateways_addr,
                    url: self.gateways.as_ref().map(|g| g.url()),
                }),
            }),
        };
        let base = keys::capture(base, Message::Shortcut);
        if self.toasts.is_empty() {
            return base;
        }
        let mut toasts = column![].spacing(8).align_x(Alignment::End);
        for t in &self.toasts {
            let (label, style): (&str, fn(&Theme) -> iced::widget::container::Style) =
                match &t.toast {
                    Toast::Info(s) => (s, theme::boxes::toast_info),
                    Toast::Error(s) => (s, theme::boxes::toast_error),
                };
            toasts = toasts.push(
                container(
                    row![
                        text(label.to_string()).size(TEXT).width(Length::Fill),
                        button(text("×").size(16))
                            .on_press(Message::DismissToast(t.id))
                            .padding([0, 6])
                            .style(theme::buttons::on_toast),
                    ]
                    .spacing(8)
                    .align_y(Alignment::Center),
                )
                .padding([10, 14])
                .width(Length::Fixed(380.0))
                .style(style),
            );
        }
        stack![
            base,
            // Above the composer's row, so a toast never covers Send.
            container(toasts)
                .align_right(Length::Fill)
                .align_bottom(Length::Fill)
                .padding(iced::Padding {
                    top: 20.0,
                    right: 20.0,
                    bottom: TOASTS_ABOVE,
                    left: 20.0,
                })
        ]
        .into()
    }
}

/// The rail's switches, which live in the window's settings.
struct Switches<'a> {
    notifications: bool,
    /// Shown only over a node (the gateways talk to it).
    gateways: Option<GatewaysSwitch<'a>>,
}

struct GatewaysSwitch<'a> {
    on: bool,
    addr: &'a str,
    /// Where they are served, once they are.
    url: Option<String>,
}

/// A labelled on/off switch at the foot of the rail.
fn rail_switch<'a>(on: bool, label: &'a str, message: fn(bool) -> Message) -> Element<'a, Message> {
    toggler(on)
        .label(label)
        .on_toggle(message)
        .size(16)
        .text_size(SMALL)
        .spacing(8)
        .width(Length::Fill)
        .into()
}

/// The webchat-and-API switch: the address while off, where they are while on.
fn gateways_switch(g: GatewaysSwitch<'_>) -> Element<'_, Message> {
    let status: Element<'_, Message> = match (g.on, g.url) {
        (true, Some(url)) => muted(url).into(),
        (true, None) => muted("Starting…").into(),
        (false, _) => text_input(settings::GATEWAYS_ADDR, g.addr)
            .id(GATEWAYS_ADDR_ID)
            .on_input(Message::GatewaysAddr)
            .size(SMALL)
            .padding([4, 6])
            .into(),
    };
    container(
        column![
            container(rail_switch(g.on, "Webchat & API", Message::Gateways)).id(GATEWAYS_ID),
            status,
        ]
        .spacing(6),
    )
    .padding(iced::Padding {
        top: 0.0,
        right: 12.0,
        bottom: 8.0,
        left: 12.0,
    })
    .into()
}

/// What a screen's event means for the shell.
enum Effect {
    Toast(Toast),
    TabChanged(TabId),
    /// Desktop notifications, shown if the agent has them on.
    Notify(Vec<Notice>),
}

impl Inbox {
    fn load_team(&self) -> Task<Message> {
        screen::call(&self.backend, Request::ShowTeam, Message::TeamLoaded)
    }

    fn load_counts(&mut self) -> Task<Message> {
        self.counts_seq += 1;
        let seq = self.counts_seq;
        let list = |tab| Request::PageInteractions {
            tab,
            search: None,
            offset: 0,
            limit: 1000,
        };
        Task::batch([
            screen::call(&self.backend, list(Tab::Active), move |r| {
                Message::CountsLoaded(seq, Tab::Active, r)
            }),
            screen::call(&self.backend, list(Tab::Pending), move |r| {
                Message::CountsLoaded(seq, Tab::Pending, r)
            }),
        ])
    }

    fn load_rooms(&self) -> Task<Message> {
        screen::call(&self.backend, Request::ListRooms, Message::RoomsLoaded)
    }

    fn load_peers(&self) -> Task<Message> {
        if !self.backend.is_node() {
            return Task::none();
        }
        let backend = self.backend.clone();
        Task::perform(async move { backend.peers().await }, Message::PeersLoaded)
    }

    /// Re-reads the tab on screen.
    fn reload_tab(&mut self) -> Task<Message> {
        let b = &self.backend;
        match self.tab {
            TabId::Active => self.active.reload(b).map(Message::Active),
            TabId::Pending => self.pending.reload(b).map(Message::Pending),
            TabId::History => self.history.reload(b).map(Message::History),
            TabId::Contacts => self.contacts.reload(b).map(Message::Contacts),
            TabId::Phonebook => self.phonebook.reload(b).map(Message::Phonebook),
        }
    }

    fn select_tab(&mut self, tab: TabId, effects: &mut Vec<Effect>) -> Task<Message> {
        self.tab = tab;
        effects.push(Effect::TabChanged(tab));
        self.reload_tab()
    }

    /// Shows an interaction in the tab that holds it.
    fn show_interaction(
        &mut self,
        id: InteractionId,
        state: InteractionState,
        effects: &mut Vec<Effect>,
    ) -> Task<Message> {
        let b = self.backend.clone();
        match state {
            InteractionState::Active => {
                let reload = self.select_tab(TabId::Active, effects);
                Task::batch([reload, self.active.open(id, &b).map(Message::Active)])
            }
            InteractionState::Queued => self.select_tab(TabId::Pending, effects),
            InteractionState::WrapUp | InteractionState::Closed => {
                let reload = self.select_tab(TabId::History, effects);
                Task::batch([reload, self.history.open(id, &b).map(Message::History)])
            }
        }
    }

    /// The conversation open on screen, if any.
    fn on_screen(&self) -> Option<Subject> {
        match self.tab {
            TabId::Active => self.active.open_id().map(Subject::Interaction),
            TabId::Contacts => self
                .session
                .me()
                .and_then(|me| self.contacts.open_room(me))
                .map(Subject::Room),
            _ => None,
        }
    }

    fn query(&self) -> &str {
        match self.tab {
            TabId::Active => &self.active.rows.query,
            TabId::Pending => &self.pending.rows.query,
            TabId::History => &self.history.rows.query,
            TabId::Contacts => self.contacts.query(),
            TabId::Phonebook => self.phonebook.query(),
        }
    }

    fn schedule_flush(&mut self) -> Task<Message> {
        if self.flush_scheduled {
            return Task::none();
        }
        self.flush_scheduled = true;
        match self.last_flush.map(|t| t.elapsed()) {
            Some(since) if since < FLUSH_EVERY => {
                let wait = FLUSH_EVERY - since;
                Task::perform(async move { tokio::time::sleep(wait).await }, |_| {
                    Message::Flush
                })
            }
            _ => Task::done(Message::Flush),
        }
    }

    /// Re-reads what the changes since the last flush touched, on screen.
    fn flush(&mut self) -> Task<Message> {
        self.flush_scheduled = false;
        self.last_flush = Some(Instant::now());
        let dirty = std::mem::take(&mut self.dirty);
        let ids: Vec<InteractionId> = dirty.interactions.iter().copied().collect();
        let mut tasks = Vec::new();
        if dirty.team {
            tasks.push(self.load_team());
        }
        let interactions = !ids.is_empty() || dirty.team;
        if interactions || dirty.contacts {
            tasks.push(self.load_counts());
        }
        if dirty.rooms {
            tasks.push(self.load_rooms());
        }
        let b = self.backend.clone();
        match self.tab {
            TabId::Active if interactions || dirty.contacts => tasks.push(
                self.active
                    .changed(&ids, dirty.contacts || dirty.team, &b)
                    .map(Message::Active),
            ),
            TabId::Pending if interactions || dirty.contacts => {
                tasks.push(self.pending.reload(&b).map(Message::Pending))
            }
            TabId::History if interactions || dirty.contacts => {
                tasks.push(self.history.reload(&b).map(Message::History))
            }
            TabId::Contacts if dirty.rooms || dirty.team => {
                tasks.push(self.contacts.reload(&b).map(Message::Contacts))
            }
            TabId::Phonebook if dirty.contacts || interactions => {
                tasks.push(self.phonebook.reload(&b).map(Message::Phonebook))
            }
            _ => {}
        }
        Task::batch(tasks)
    }

    fn on_backend(&mut self, event: backend::Event, effects: &mut Vec<Effect>) -> Task<Message> {
        use backend::Event as E;
        match event {
            E::Changed(changes) => {
                for c in changes.iter() {
                    self.dirty.add(c.kind, &c.doc_id);
                }
                self.schedule_flush()
            }
            E::Lagged => {
                self.dirty = Dirty::everything();
                Task::batch([self.schedule_flush(), self.reload_tab()])
            }
            E::PeerConnected { peer, agent } => {
                self.peers.insert(
                    peer.clone(),
                    Peer {
                        peer,
                        agent,
                        pending_docs: 0,
                    },
                );
                Task::none()
            }
            E::PeerDisconnected { peer } => {
                self.peers.remove(&peer);
                Task::none()
            }
            E::Syncing { peer, pending_docs } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.pending_docs = pending_docs;
                }
                Task::none()
            }
            E::CaughtUp { peer } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.pending_docs = 0;
                }
                Task::none()
            }
            E::Presence { agent, entry } => {
                self.session.presence.insert(agent, entry);
                Task::none()
            }
            E::Typing { agent, room } => {
                self.contacts.typing(agent, room, self.session.now);
                Task::none()
            }
            E::Offer { interaction, .. } => {
                let _ = interaction;
                effects.push(Effect::Toast(Toast::Info(
                    "A new interaction is waiting for you in Pending.".into(),
                )));
                let pending = if self.tab == TabId::Pending {
                    self.pending.reload(&self.backend).map(Message::Pending)
                } else {
                    Task::none()
                };
                Task::batch([self.load_counts(), pending])
            }
            E::ClaimLost { interaction } => {
                // Named from the store: the lists may already have dropped it.
                self.dirty.interactions.insert(interaction);
                let lookup = screen::call(
                    &self.backend,
                    Request::ShowInteraction {
                        id: interaction.to_string(),
                    },
                    Message::ClaimLost,
                );
                Task::batch([lookup, self.schedule_flush()])
            }
            E::Error(message) => {
                effects.push(Effect::Toast(Toast::Error(message)));
                Task::none()
            }
            E::Stopped => {
                effects.push(Effect::Toast(Toast::Error(
                    "The node stopped: changes are no longer saved or shared. Restart meshdesk."
                        .into(),
                )));
                Task::none()
            }
        }
    }

    fn escape(&mut self) -> Task<Message> {
        if self.modal.take().is_some() {
            return Task::none();
        }
        if self.tab == TabId::Active && self.active.close_menu() {
            return Task::none();
        }
        if self.tab == TabId::Phonebook {
            let (done, task) = self.phonebook.escape(&self.backend);
            if done {
                return task.map(Message::Phonebook);
            }
        }
        Task::none()
    }

    fn on_shortcut(&mut self, s: Shortcut, effects: &mut Vec<Effect>) -> Task<Message> {
        let b = self.backend.clone();
        match s {
            Shortcut::Search => Task::batch([
                iced::widget::operation::focus(SEARCH_ID),
                iced::widget::operation::select_all(SEARCH_ID),
            ]),
            Shortcut::New => {
                self.modal = Some(Modal::New(Box::default()));
                Task::none()
            }
            Shortcut::Tab(tab) => {
                if self.modal.is_some() {
                    return Task::none();
                }
                self.select_tab(tab, effects)
            }
            Shortcut::Escape => self.escape(),
            Shortcut::Enter if self.modal.is_some() => {
                let Some(modal) = &mut self.modal else {
                    return Task::none();
                };
                let (task, event) = modal.confirm(&b, &self.session);
                let task = task.map(Message::Modal);
                Task::batch([task, self.on_modal_event(event, effects)])
            }
            Shortcut::Enter | Shortcut::Up | Shortcut::Down => {
                if self.modal.is_some() {
                    return Task::none();
                }
                let key = match s {
                    Shortcut::Up => Key::Named(key::Named::ArrowUp),
                    Shortcut::Down => Key::Named(key::Named::ArrowDown),
                    _ => Key::Named(key::Named::Enter),
                };
                match self.tab {
                    TabId::Active => self.active.key(&key, &b).map(Message::Active),
                    TabId::Pending => self.pending.key(&key, &b).map(Message::Pending),
                    TabId::History => self.history.key(&key, &b).map(Message::History),
                    TabId::Contacts => self
                        .contacts
                        .key(&key, &self.session, &b)
                        .map(Message::Contacts),
                    TabId::Phonebook => self.phonebook.key(&key, &b).map(Message::Phonebook),
                }
            }
        }
    }

    fn on_modal_event(
        &mut self,
        event: Option<modal::Event>,
        effects: &mut Vec<Effect>,
    ) -> Task<Message> {
        match event {
            None => Task::none(),
            Some(modal::Event::Close) => {
                self.modal = None;
                Task::none()
            }
            Some(modal::Event::Done { toast, open }) => {
                self.modal = None;
                effects.push(Effect::Toast(Toast::Info(toast)));
                let counts = self.load_counts();
                match open {
                    Some(id) => Task::batch([
                        counts,
                        self.show_interaction(id, InteractionState::Active, effects),
                    ]),
                    None => Task::batch([counts, self.reload_tab()]),
                }
            }
        }
    }

    fn update(&mut self, message: Message) -> (Task<Message>, Vec<Effect>) {
        let mut effects = Vec::new();
        let b = self.backend.clone();
        let task = match message {
            Message::Backend(event) => self.on_backend(event, &mut effects),
            Message::Flush => self.flush(),
            Message::ClaimLost(result) => {
                let (who, winner) = match &result {
                    Ok(Reply::Interaction(d)) => (
                        screen::conversation::who(d),
                        d.owner.map(|o| {
                            d.agent_names
                                .get(&o)
                                .cloned()
                                .unwrap_or_else(|| self.session.agent_name(o))
                        }),
                    ),
                    _ => ("an interaction".to_string(), None),
                };
                let winner = winner.unwrap_or_else(|| "Another agent".into());
                effects.push(Effect::Toast(Toast::Error(format!(
                    "{winner} claimed {who} first. You can still read it; {winner} answers it."
                ))));
                Task::none()
            }
            Message::TeamLoaded(result) => {
                match result {
                    Ok(Reply::Team(team)) => self.session.team = Some(*team),
                    Ok(_) => {}
                    Err(e) => effects.push(Effect::Toast(Toast::Error(e))),
                }
                Task::none()
            }
            Message::CountsLoaded(seq, tab, result) => {
                if seq == self.counts_seq
                    && let Ok(Reply::InteractionPage(page)) = result
                {
                    let notices = match tab {
                        Tab::Active => {
                            self.counts.active = page.total;
                            self.counts.unread = page.rows.iter().map(|r| r.unread.min(1)).sum();
                            self.watch.active(&page.rows)
                        }
                        Tab::Pending => {
                            self.counts.pending = page.total;
                            self.watch.pending(&page.rows)
                        }
                        Tab::History => vec![],
                    };
                    effects.push(Effect::Notify(notices));
                }
                Task::none()
            }
            Message::RoomsLoaded(result) => {
                let Ok(Reply::Rooms(rows)) = result else {
                    return (Task::none(), effects);
                };
                self.counts.chat = rows.iter().filter(|r| r.unread > 0).count();
                if let Some(me) = self.session.me() {
                    let rooms: Vec<_> = rows.into_iter().map(|r| r.summary).collect();
                    let s = &self.session;
                    let notices = self.watch.rooms(&rooms, me, |r| {
                        let who = r.last_author.map(|a| s.agent_name(a)).unwrap_or_default();
                        match &r.room {
                            meshdesk_model::RoomKey::Direct { .. } => who,
                            meshdesk_model::RoomKey::Campaign { campaign } => {
                                let room = s.campaign(*campaign).map(|c| c.name.as_str());
                                format!("{who} in #{}", room.unwrap_or("a campaign"))
                            }
                        }
                    });
                    effects.push(Effect::Notify(notices));
                }
                Task::none()
            }
            Message::PeersLoaded(result) => {
                if let Ok(peers) = result {
                    self.peers = peers.into_iter().map(|p| (p.peer.clone(), p)).collect();
                }
                Task::none()
            }
            Message::Tab(tab) => self.select_tab(tab, &mut effects),
            Message::Search(query) => match self.tab {
                TabId::Active => self.active.search(query, &b).map(Message::Active),
                TabId::Pending => self.pending.search(query, &b).map(Message::Pending),
                TabId::History => self.history.search(query, &b).map(Message::History),
                TabId::Contacts => self.contacts.search(query).map(Message::Contacts),
                TabId::Phonebook => self.phonebook.search(query, &b).map(Message::Phonebook),
            },
            Message::New => {
                self.modal = Some(Modal::New(Box::default()));
                Task::none()
            }
            Message::Shortcut(s) => self.on_shortcut(s, &mut effects),
            Message::Status(StatusChoice(status)) => {
                let backend = b.clone();
                Task::perform(
                    async move { backend.set_status(status).await },
                    Message::StatusSet,
                )
            }
            Message::StatusSet(result) => match result {
                Ok(_) => Task::batch([self.load_team(), self.load_counts()]),
                Err(e) => {
                    effects.push(Effect::Toast(Toast::Error(e)));
                    Task::none()
                }
            },
            Message::Active(msg) => {
                let (task, event) = self.active.update(msg, &b, &self.session);
                let task = task.map(Message::Active);
                let more = match event {
                    None => Task::none(),
                    Some(active::Event::Toast(t)) => {
                        effects.push(Effect::Toast(t));
                        Task::none()
                    }
                    Some(active::Event::Transfer { id, who }) => {
                        self.modal = Some(Modal::Transfer(modal::transfer::Transfer::new(id, who)));
                        Task::none()
                    }
                    Some(active::Event::Finalize { id, who, campaign }) => {
                        self.modal = Some(Modal::Finalize(modal::finalize::Finalize::new(
                            id, who, campaign,
                        )));
                        Task::none()
                    }
                    Some(active::Event::Read) => self.load_counts(),
                };
                Task::batch([task, more])
            }
            Message::Pending(msg) => {
                let (task, event) = self.pending.update(msg, &b);
                let task = task.map(Message::Pending);
                let more = match event {
                    None => Task::none(),
                    Some(pending::Event::Toast(t)) => {
                        effects.push(Effect::Toast(t));
                        self.load_counts()
                    }
                    Some(pending::Event::Accepted(id)) => Task::batch([
                        self.load_counts(),
                        self.show_interaction(id, InteractionState::Active, &mut effects),
                    ]),
                };
                Task::batch([task, more])
            }
            Message::History(msg) => self.history.update(msg, &b).map(Message::History),
            Message::Contacts(msg) => {
                let (task, event) = self.contacts.update(msg, &self.session, &b);
                let more = match event {
                    Some(contacts::Event::Toast(t)) => {
                        effects.push(Effect::Toast(t));
                        Task::none()
                    }
                    Some(contacts::Event::Read) => self.load_rooms(),
                    None => Task::none(),
                };
                Task::batch([task.map(Message::Contacts), more])
            }
            Message::Phonebook(msg) => {
                let (task, event) = self.phonebook.update(msg, &b);
                let task = task.map(Message::Phonebook);
                let more = match event {
                    None => Task::none(),
                    Some(phonebook::Event::Toast(t)) => {
                        effects.push(Effect::Toast(t));
                        Task::none()
                    }
                    Some(phonebook::Event::Start(contact)) => {
                        self.modal = Some(Modal::New(Box::new(
                            modal::new_interaction::NewInteraction::with_contact(*contact),
                        )));
                        Task::none()
                    }
                    Some(phonebook::Event::OpenInteraction(id, state)) => {
                        self.show_interaction(id, state, &mut effects)
                    }
                };
                Task::batch([task, more])
            }
            Message::Modal(msg) => {
                let Some(modal) = &mut self.modal else {
                    return (Task::none(), effects);
                };
                let (task, event) = modal.update(msg, &b, &self.session);
                let task = task.map(Message::Modal);
                Task::batch([task, self.on_modal_event(event, &mut effects)])
            }
            Message::CloseModal => {
                self.modal = None;
                Task::none()
            }
            _ => Task::none(),
        };
        (task, effects)
    }

    fn view<'a>(&'a self, switches: Switches<'a>) -> Element<'a, Message> {
        let s = &self.session;
        let content: Element<'_, Message> = match self.tab {
            TabId::Active => self.active.view(s).map(Message::Active),
            TabId::Pending => self.pending.view(s).map(Message::Pending),
            TabId::History => self.history.view(s).map(Message::History),
            TabId::Contacts => self.contacts.view(s).map(Message::Contacts),
            TabId::Phonebook => self.phonebook.view(s).map(Message::Phonebook),
        };
        let shell: Element<'_, Message> = row![
            self.rail(switches),
            widget::vrule(),
            column![self.top_bar(), widget::hrule(), content].width(Length::Fill)
        ]
        .into();
        match &self.modal {
            Some(m) => modal::overlay(shell, m.view(s).map(Message::Modal), Message::CloseModal),
            None => shell,
        }
    }

    fn rail<'a>(&'a self, switches: Switches<'a>) -> Element<'a, Message> {
        let s = &self.session;
        let team = s
            .team
            .as_ref()
            .map(|t| t.team.name.clone())
            .unwrap_or_default();
        let mut col = column![
            container(column![text("meshdesk").size(20), muted(team)].spacing(2)).padding([14, 12]),
        ]
        .spacing(2)
        .padding([0, 8]);
        for tab in TabId::ALL {
            let count: Option<Element<'_, Message>> = match tab {
                TabId::Active if self.counts.unread > 0 => {
                    Some(badge(self.counts.unread as usize, true))
                }
                TabId::Active if self.counts.active > 0 => Some(badge(self.counts.active, false)),
                TabId::Pending if self.counts.pending > 0 => Some(badge(self.counts.pending, true)),
                TabId::Contacts if self.counts.chat > 0 => Some(badge(self.counts.chat, true)),
                _ => None,
            };
            let mut label = row![text(tab.label()).size(TEXT).width(Length::Fill)]
                .align_y(Alignment::Center)
                .spacing(6);
            if let Some(c) = count {
                label = label.push(c);
            }
            col = col.push(
                button(label)
                    .on_press(Message::Tab(tab))
                    .width(Length::Fill)
                    .padding([8, 10])
                    .style(theme::buttons::item(self.tab == tab)),
            );
        }
        col = col.push(Space::new().height(Length::Fill));
        if let Some(g) = switches.gateways {
            col = col.push(gateways_switch(g));
        }
        col = col.push(
            container(rail_switch(
                switches.notifications,
                "Notifications",
                Message::Notifications,
            ))
            .id(NOTIFICATIONS_ID)
            .padding([0, 12]),
        );
        if let (Some(me), Some(team)) = (s.me(), &s.team) {
            let name = team
                .agents
                .iter()
                .find(|a| a.id == me)
                .map(|a| a.name.clone())
                .unwrap_or_default();
            let status = s.status_of(me);
            col = col.push(
                container(
                    row![
                        dot(status_tone(&status)),
                        column![text(name).size(TEXT), muted(status_label(&status))].spacing(1)
                    ]
                    .spacing(10)
                    .align_y(Alignment::Center),
                )
                .padding([14, 12]),
            );
        }
        container(col)
            .width(Length::Fixed(200.0))
            .height(Length::Fill)
            .style(theme::boxes::chrome)
            .into()
    }

    fn top_bar(&self) -> Element<'_, Message> {
        let s = &self.session;
        let search = text_input(self.tab.placeholder(), self.query())
            .id(SEARCH_ID)
            .on_input(Message::Search)
            .padding([7, 10])
            .size(TEXT)
            .width(Length::Fill)
            .style(theme::inputs::field);
        let new = button(text("+ New").size(TEXT))
            .on_press(Message::New)
            .padding([7, 14])
            .style(theme::buttons::primary);
        let mut choices = vec![StatusChoice(AgentStatus::Available)];
        let reasons = s.break_reasons();
        if reasons.is_empty() {
            choices.push(StatusChoice(AgentStatus::Break {
                reason: String::new(),
            }));
        }
        for reason in reasons {
            choices.push(StatusChoice(AgentStatus::Break { reason }));
        }
        choices.push(StatusChoice(AgentStatus::Offline));
        let mine = s
            .me()
            .and_then(|me| s.agent(me))
            .map(|a| StatusChoice(a.status.clone()));
        let status = pick_list(choices, mine, Message::Status)
            .placeholder("Status")
            .text_size(TEXT)
            .padding([7, 10])
            .width(Length::Fixed(190.0))
            .style(theme::inputs::pick);
        container(
            row![
                container(search).max_width(560).width(Length::Fill),
                new,
                Space::new().width(Length::Fill),
                status,
                self.peers_indicator(),
            ]
            .spacing(12)
            .align_y(Alignment::Center),
        )
        .padding([10, 16])
        .width(Length::Fill)
        .style(theme::boxes::chrome)
        .into()
    }

    fn peers_indicator(&self) -> Element<'_, Message> {
        let connected = self.peers.len();
        let syncing: usize = self.peers.values().map(|p| p.pending_docs).sum();
        let (tone, label) = if !self.backend.is_node() {
            (theme::Tone::Muted, "Local only".to_string())
        } else if connected == 0 {
            (theme::Tone::Muted, "No teammates connected".to_string())
        } else if syncing > 0 {
            (
                theme::Tone::Warning,
                format!("{connected} connected · syncing {syncing}",),
            )
        } else {
            let who = if connected == 1 {
                "teammate"
            } else {
                "teammates"
            };
            (theme::Tone::Success, format!("{connected} {who} · in sync"))
        };
        row![dot(tone), text(label).size(SMALL)]
            .spacing(6)
            .align_y(Alignment::Center)
            .into()
    }
}
