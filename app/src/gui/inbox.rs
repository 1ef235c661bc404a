//! The inbox: everything shown once a team is open. The left rail of tabs,
//! the top bar (scoped search, `+`, status, peers), the screen of the current
//! tab and any dialog over it.
//!
//! Screens ([`screen`]) and dialogs ([`modal`]) are modules
//! with their own `Message`, an `update` that returns a `Task` and maybe an
//! upward `Event`, and a `view`; the inbox maps them, and hands the
//! [`App`](super::app::App) what it owns (toasts, the remembered tab, the
//! notifications, the rail's switches) as [`Event`]s.
//!
//! Data comes only through the [`Backend`]: every request runs as a `Task`
//! and answers as a `Message`, and the backend's events say what to re-read.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use iced::keyboard::{Key, key};
use iced::widget::{column, row};
use iced::{Length, Task};
use meshdesk_model::doc::{DocId, DocKind};
use meshdesk_model::ops::{
    Client, InteractionDetail, InteractionRow, MentionRow, Reply, Request, RoomRow, Tab,
    TeamOverview,
};
use meshdesk_model::store::Page;
use meshdesk_model::{InteractionId, InteractionState, Millis};

use super::backend::{self, Backend, Error, Peer};
use super::clock::Zone;
use super::modal::{self, Modal};
use super::nav::{Shortcut, TabId};
use super::notify::{self, Notice, Subject, Watch};
use super::screen::{
    self, Toast, active, admin, board, contacts, history, pending, phonebook, reports, tags,
};
use super::session::Session;
use super::widget::{self, Element};

mod chrome;

pub use chrome::{GatewaysSwitch, StatusChoice, Switches, TEAM_MENU_ID};

/// The search box's id (Ctrl+K focuses it).
pub const SEARCH_ID: &str = "search";
/// The notifications switch's id.
pub const NOTIFICATIONS_ID: &str = "notifications";
/// The webchat-and-API switch in the rail, and its address field.
pub const GATEWAYS_ID: &str = "gateways";
pub const GATEWAYS_ADDR_ID: &str = "gateways-addr";
/// Refreshes triggered by changes are at most this frequent.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub enum Message {
    /// What the backend's events say (the app listens and passes them on).
    Backend(backend::Event),
    /// A keyboard shortcut (the app hears the keys and passes them on).
    Shortcut(Shortcut),
    Flush,
    /// A lost claim's interaction, to name it in the toast.
    ClaimLost(Result<Box<InteractionDetail>, Error>),
    /// An interaction that left this agent's Active, read to tell whether
    /// a supervisor took it (and why).
    LeftActive(Result<Box<InteractionDetail>, Error>),
    TeamLoaded(Result<Box<TeamOverview>, Error>),
    CountsLoaded(u64, Tab, Result<Page<InteractionRow>, Error>),
    /// The chat rooms, read to tell teammates' new messages.
    RoomsLoaded(Result<Vec<RoomRow>, Error>),
    /// This agent's unseen mentions, read to tell new ones and for the badges.
    MentionsLoaded(Result<Vec<MentionRow>, Error>),
    /// A mention's interaction, read to open it in the tab that holds it.
    MentionOpened(Result<Box<InteractionDetail>, Error>),
    /// This agent's snoozes that came due and were not announced here yet.
    DueLoaded(Result<Vec<InteractionRow>, Error>),
    PeersLoaded(Result<Vec<Peer>, Error>),
    Tab(TabId),
    Search(String),
    New,
    Status(StatusChoice),
    StatusSet(Result<Reply, Error>),
    Active(active::Message),
    Pending(pending::Message),
    History(history::Message),
    Contacts(contacts::Message),
    Phonebook(phonebook::Message),
    Board(board::Message),
    Reports(reports::Message),
    Admin(admin::Message),
    Modal(modal::Message),
    CloseModal,
    /// The rail's Team menu.
    TeamMenu(TeamAction),
    /// One of the rail's switches, which the app keeps in its settings.
    Switch(Switch),
}

/// The rail's Team menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamAction {
    ExportBundle,
    ImportBundle,
    /// A campaign's mailbox (supervisors).
    Mailbox,
}

impl TeamAction {
    pub const ALL: [TeamAction; 2] = [TeamAction::ExportBundle, TeamAction::ImportBundle];
    /// A supervisor's menu.
    pub const SUPERVISOR: [TeamAction; 3] = [
        TeamAction::ExportBundle,
        TeamAction::ImportBundle,
        TeamAction::Mailbox,
    ];
}

impl std::fmt::Display for TeamAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TeamAction::ExportBundle => "Export bundle…",
            TeamAction::ImportBundle => "Import bundle…",
            TeamAction::Mailbox => "Mailbox…",
        })
    }
}

/// The rail's switches.
#[derive(Debug, Clone)]
pub enum Switch {
    /// The desktop-notifications switch.
    Notifications(bool),
    /// The switch that serves the webchat and the API from this window.
    Gateways(bool),
    /// Where to serve them (edited while they are off).
    GatewaysAddr(String),
}

/// What the inbox asks of the app.
#[derive(Debug)]
pub enum Event {
    Toast(Toast),
    TabChanged(TabId),
    /// Desktop notifications, shown if the agent has them on.
    Notify(Vec<Notice>),
    Switch(Switch),
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
    /// Mentions of this agent not yet seen on this device.
    mentions: usize,
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
    board: board::BoardScreen,
    reports: reports::Reports,
    admin: admin::Admin,
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

impl Inbox {
    /// The inbox over an open backend, on the given tab; the task reads
    /// what it shows.
    pub fn new(backend: Backend, now: Millis, zone: Zone, tab: TabId) -> (Inbox, Task<Message>) {
        let session = Session::new(now, zone, backend.is_networked());
        let mut inbox = Inbox {
            backend,
            session,
            tab,
            active: active::Active::new(),
            pending: pending::Pending::new(),
            history: history::History::new(),
            contacts: contacts::Contacts::default(),
            phonebook: phonebook::Phonebook::new(),
            board: board::BoardScreen::default(),
            reports: reports::Reports::new(now),
            admin: admin::Admin::default(),
            modal: None,
            counts: Counts::default(),
            counts_seq: 0,
            peers: BTreeMap::new(),
            dirty: Dirty::default(),
            flush_scheduled: false,
            last_flush: None,
            watch: Watch::default(),
        };
        let task = Task::batch([
            inbox.load_team(),
            inbox.load_counts(),
            inbox.load_rooms(),
            inbox.load_mentions(),
            inbox.load_due(),
            inbox.load_peers(),
            inbox.reload_tab(),
        ]);
        (inbox, task)
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The team's name, once its document is read.
    pub fn team_name(&self) -> Option<&str> {
        self.session.team.as_ref().map(|t| t.team.name.as_str())
    }

    /// The tab shown.
    pub fn tab(&self) -> TabId {
        self.tab
    }

    /// Whether a dialog is open over the inbox.
    pub fn has_dialog(&self) -> bool {
        self.modal.is_some()
    }

    /// Rows fetched per page of every list (benchmarks load 100k at once).
    pub fn set_page_size(&mut self, page: usize) {
        for rows in [
            &mut self.active.list.rows,
            &mut self.pending.list.rows,
            &mut self.history.list.rows,
        ] {
            rows.page = page;
            rows.limit = page;
        }
    }

    /// How many rows the current interaction tab holds.
    pub fn loaded_rows(&self) -> usize {
        match self.tab {
            TabId::Active => self.active.list.rows.rows.len(),
            TabId::Pending => self.pending.list.rows.rows.len(),
            TabId::History => self.history.list.rows.rows.len(),
            TabId::Contacts | TabId::Phonebook | TabId::Board | TabId::Reports | TabId::Team => 0,
        }
    }

    /// A second passed: timers move on; `poll` re-reads peers and counts.
    pub fn tick(&mut self, now: Millis, poll: bool) -> Task<Message> {
        self.session.now = now;
        if poll {
            Task::batch([self.load_peers(), self.load_counts()])
        } else {
            Task::none()
        }
    }

    /// The window gained or lost the keyboard focus.
    pub fn set_focused(&mut self, focused: bool) -> Task<Message> {
        let backend = self.backend.clone();
        let active = self.active.set_focused(focused, &backend);
        let contacts = self.contacts.set_focused(focused, &self.session, &backend);
        Task::batch([active.map(Message::Active), contacts.map(Message::Contacts)])
    }

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
            history: Default::default(),
        };
        Task::batch([
            screen::call(&self.backend, list(Tab::Active), move |r| {
                Message::CountsLoaded(seq, Tab::Active, r)
            }),
            screen::call(&self.backend, list(Tab::Pending), move |r| {
                Message::CountsLoaded(seq, Tab::Pending, r)
            }),
            screen::call(&self.backend, list(Tab::Snoozed), move |r| {
                Message::CountsLoaded(seq, Tab::Snoozed, r)
            }),
        ])
    }

    fn load_rooms(&self) -> Task<Message> {
        screen::call(&self.backend, Request::ListRooms, Message::RoomsLoaded)
    }

    fn load_mentions(&self) -> Task<Message> {
        screen::call(
            &self.backend,
            Request::ListMentions { unseen: true },
            Message::MentionsLoaded,
        )
    }

    /// Snoozes that came due: the node reports the moment as a change of
    /// the interaction, and at start those that came due while the app was
    /// closed are read; the store marks each announced once on this device.
    fn load_due(&self) -> Task<Message> {
        screen::call(&self.backend, Request::TakeDueSnoozes, Message::DueLoaded)
    }

    fn load_peers(&self) -> Task<Message> {
        if !self.backend.is_networked() {
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
            TabId::Board => self.board.reload(b).map(Message::Board),
            TabId::Reports => self.reports.reload(b).map(Message::Reports),
            // The team is the session's, read again on every change.
            TabId::Team => Task::none(),
        }
    }

    fn select_tab(&mut self, tab: TabId, effects: &mut Vec<Event>) -> Task<Message> {
        if tab.supervisors_only() && !self.session.is_supervisor() {
            return Task::none();
        }
        self.tab = tab;
        effects.push(Event::TabChanged(tab));
        self.reload_tab()
    }

    /// Shows an interaction in the tab that holds it.
    fn show_interaction(
        &mut self,
        id: InteractionId,
        state: InteractionState,
        effects: &mut Vec<Event>,
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
    pub fn on_screen(&self) -> Option<Subject> {
        match self.tab {
            TabId::Active => self.active.open_id().map(Subject::Interaction),
            TabId::Contacts => self
                .session
                .me()
                .and_then(|me| self.contacts.open_room(me))
                .map(Subject::Room),
            TabId::Pending
            | TabId::History
            | TabId::Phonebook
            | TabId::Board
            | TabId::Reports
            | TabId::Team => None,
        }
    }

    fn query(&self) -> &str {
        match self.tab {
            TabId::Active => &self.active.list.rows.query,
            TabId::Pending => &self.pending.list.rows.query,
            TabId::History => &self.history.list.rows.query,
            TabId::Contacts => self.contacts.query(),
            TabId::Phonebook => self.phonebook.query(),
            TabId::Board => self.board.query(),
            TabId::Reports => self.reports.query(),
            TabId::Team => self.admin.query(),
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
        // Notes live in interactions, chat in rooms, names in agents.
        if interactions || dirty.rooms {
            tasks.push(self.load_mentions());
        }
        if !ids.is_empty() {
            tasks.push(self.load_due());
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
            // Queues, statuses and today's figures move with every interaction and agent.
            TabId::Board if interactions => tasks.push(self.board.reload(&b).map(Message::Board)),
            _ => {}
        }
        Task::batch(tasks)
    }

    fn on_backend(&mut self, event: backend::Event, effects: &mut Vec<Event>) -> Task<Message> {
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
                effects.push(Event::Toast(Toast::Info(
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
                    Request::ShowInteraction { id: interaction },
                    Message::ClaimLost,
                );
                Task::batch([lookup, self.schedule_flush()])
            }
            E::BundleProgress { done, total } => {
                if let Some(Modal::Bundle(dialog)) = &mut self.modal {
                    dialog.progress(done, total);
                }
                Task::none()
            }
            E::Error(message) => {
                effects.push(Event::Toast(Toast::Error(message)));
                Task::none()
            }
            E::Stopped => {
                effects.push(Event::Toast(Toast::Error(
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
        if let Some(task) = self.tag_key(tags::Key::Cancel) {
            return task;
        }
        if self.tab == TabId::Phonebook {
            let (done, task) = self.phonebook.escape(&self.backend);
            if done {
                return task.map(Message::Phonebook);
            }
        }
        Task::none()
    }

    fn on_shortcut(&mut self, s: Shortcut, effects: &mut Vec<Event>) -> Task<Message> {
        // While the tag field holds text, ↑/↓ move through its completions
        // and Tab takes one.
        let for_tags = match s {
            Shortcut::Up => Some(tags::Key::Up),
            Shortcut::Down => Some(tags::Key::Down),
            Shortcut::NextField => Some(tags::Key::Complete),
            _ => None,
        };
        if let Some(key) = for_tags
            && let Some(task) = self.tag_key(key)
        {
            return task;
        }
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
            Shortcut::TakeBack if self.modal.is_none() && self.tab == TabId::Active => {
                let (task, more) = self.update(Message::Active(active::Message::TakeBack));
                effects.extend(more);
                task
            }
            Shortcut::TakeBack if self.modal.is_none() && self.tab == TabId::Board => {
                match self.board.take_back_selected() {
                    Some(m) => {
                        let (task, more) = self.update(Message::Board(m));
                        effects.extend(more);
                        task
                    }
                    None => Task::none(),
                }
            }
            Shortcut::TakeBack => Task::none(),
            Shortcut::Escape => self.escape(),
            Shortcut::Enter if self.modal.is_some() => {
                let Some(modal) = &mut self.modal else {
                    return Task::none();
                };
                let (task, event) = modal.confirm(&b, &self.session);
                let task = task.map(Message::Modal);
                Task::batch([task, self.on_modal_event(event, effects)])
            }
            Shortcut::Enter => self.list_key(Key::Named(key::Named::Enter)),
            Shortcut::Up => self.list_key(Key::Named(key::Named::ArrowUp)),
            Shortcut::Down => self.list_key(Key::Named(key::Named::ArrowDown)),
            // Fields behind a dialog are not the dialog's: Tab moves only on the inbox.
            Shortcut::NextField if self.modal.is_none() => iced::widget::operation::focus_next(),
            Shortcut::PreviousField if self.modal.is_none() => {
                iced::widget::operation::focus_previous()
            }
            Shortcut::NextField | Shortcut::PreviousField => Task::none(),
            Shortcut::Whose if self.modal.is_none() && self.tab == TabId::History => self
                .history
                .toggle_whose(&self.session, &b)
                .map(Message::History),
            Shortcut::Whose => Task::none(),
        }
    }

    /// A key for Active's tag field, while it holds text (and no dialog is open).
    fn tag_key(&mut self, key: tags::Key) -> Option<Task<Message>> {
        if self.modal.is_some() || self.tab != TabId::Active || !self.active.tag_completing() {
            return None;
        }
        let message = active::Message::Tags(tags::Message::Key(key));
        // A key only moves the highlight or edits the field: no event follows.
        let (task, _) = self.update(Message::Active(message));
        Some(task)
    }

    /// ↑, ↓ and Enter move through the tab's list and open a row (not
    /// while a dialog is open).
    fn list_key(&mut self, key: Key) -> Task<Message> {
        if self.modal.is_some() {
            return Task::none();
        }
        let b = self.backend.clone();
        match self.tab {
            TabId::Active => self.active.key(&key, &b).map(Message::Active),
            TabId::Pending => self.pending.key(&key, &b).map(Message::Pending),
            TabId::History => self.history.key(&key, &b).map(Message::History),
            TabId::Contacts => self
                .contacts
                .key(&key, &self.session, &b)
                .map(Message::Contacts),
            TabId::Phonebook => self.phonebook.key(&key, &b).map(Message::Phonebook),
            TabId::Board => match self.board.key(&key) {
                Some(m) => Task::done(Message::Board(m)),
                None => Task::none(),
            },
            TabId::Reports | TabId::Team => Task::none(),
        }
    }

    fn on_modal_event(
        &mut self,
        event: Option<modal::Event>,
        effects: &mut Vec<Event>,
    ) -> Task<Message> {
        match event {
            None => Task::none(),
            Some(modal::Event::Close) => {
                self.modal = None;
                Task::none()
            }
            Some(modal::Event::Done { toast, open }) => {
                self.modal = None;
                effects.push(Event::Toast(Toast::Info(toast)));
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

    pub fn update(&mut self, message: Message) -> (Task<Message>, Vec<Event>) {
        let mut effects = Vec::new();
        let b = self.backend.clone();
        let task = match message {
            Message::Backend(event) => self.on_backend(event, &mut effects),
            Message::Flush => self.flush(),
            Message::ClaimLost(result) => {
                let (who, winner) = match &result {
                    Ok(d) => (
                        screen::conversation::who(d),
                        d.owner.map(|o| {
                            d.agent_names
                                .get(&o)
                                .cloned()
                                .unwrap_or_else(|| self.session.agent_name(o))
                        }),
                    ),
                    Err(_) => ("an interaction".to_string(), None),
                };
                let winner = winner.unwrap_or_else(|| "Another agent".into());
                effects.push(Event::Toast(Toast::Error(format!(
                    "{winner} claimed {who} first. You can still read it; {winner} answers it."
                ))));
                Task::none()
            }
            Message::TeamLoaded(result) => {
                match result {
                    Ok(team) => self.session.team = Some(*team),
                    Err(e) => effects.push(Event::Toast(Toast::Error(e.to_string()))),
                }
                Task::none()
            }
            Message::CountsLoaded(seq, tab, result) => {
                if seq == self.counts_seq
                    && let Ok(page) = result
                {
                    let mut lookups = Vec::new();
                    let notices = match tab {
                        Tab::Active => {
                            self.counts.active = page.total;
                            self.counts.unread = page.rows.iter().map(|r| r.unread.min(1)).sum();
                            let notices = self.watch.active(&page.rows);
                            for id in self.watch.take_left() {
                                lookups.push(screen::call(
                                    &self.backend,
                                    Request::ShowInteraction { id },
                                    Message::LeftActive,
                                ));
                            }
                            notices
                        }
                        Tab::Pending => {
                            self.counts.pending = page.total;
                            self.watch.pending(&page.rows)
                        }
                        Tab::Snoozed => {
                            lookups.push(
                                self.active
                                    .set_snoozed(page.total, &self.backend)
                                    .map(Message::Active),
                            );
                            vec![]
                        }
                        Tab::History => vec![],
                    };
                    effects.push(Event::Notify(notices));
                    return (Task::batch(lookups), effects);
                }
                Task::none()
            }
            Message::LeftActive(result) => {
                // Unreadable (removed, or the node stopped): nothing to tell.
                if let (Ok(detail), Some(me)) = (result, self.session.me()) {
                    let who = screen::conversation::who(&detail);
                    if let Some(notice) = notify::taken_back(&detail, me, &who) {
                        effects.push(Event::Toast(Toast::Error(notice.body.clone())));
                        effects.push(Event::Notify(vec![notice]));
                    }
                }
                Task::none()
            }
            Message::RoomsLoaded(result) => {
                let Ok(rows) = result else {
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
                    effects.push(Event::Notify(notices));
                }
                Task::none()
            }
            Message::MentionsLoaded(result) => {
                let Ok(rows) = result else {
                    return (Task::none(), effects);
                };
                self.counts.mentions = rows.len();
                self.contacts.set_unseen_mentions(rows.len());
                let notices = self.watch.mentions(&rows);
                if let Some(first) = notices.first() {
                    effects.push(Event::Toast(Toast::Info(format!(
                        "{} {}",
                        first.title, first.body
                    ))));
                }
                let arrived = !notices.is_empty();
                effects.push(Event::Notify(notices));
                if arrived && self.tab == TabId::Contacts {
                    return (
                        self.contacts.mentions_arrived(&b).map(Message::Contacts),
                        effects,
                    );
                }
                Task::none()
            }
            Message::DueLoaded(result) => {
                let rows = match result {
                    Ok(rows) => rows,
                    Err(e) => {
                        tracing::debug!("cannot read the snoozes that came due: {e}");
                        return (Task::none(), effects);
                    }
                };
                let notices = notify::snoozes_due(&rows);
                if let Some(first) = notices.first() {
                    effects.push(Event::Toast(Toast::Info(format!(
                        "{}: {}",
                        first.title, first.body
                    ))));
                }
                effects.push(Event::Notify(notices));
                Task::none()
            }
            Message::MentionOpened(result) => match result {
                Ok(detail) => {
                    let id = detail.interaction.id;
                    self.show_interaction(id, detail.state, &mut effects)
                }
                Err(e) => {
                    effects.push(Event::Toast(Toast::Error(e.to_string())));
                    Task::none()
                }
            },
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
                TabId::Board => self.board.search(query).map(Message::Board),
                TabId::Reports => self.reports.search(query).map(Message::Reports),
                TabId::Team => self.admin.search(query).map(Message::Admin),
            },
            Message::New => {
                self.modal = Some(Modal::New(Box::default()));
                Task::none()
            }
            Message::Shortcut(s) => self.on_shortcut(s, &mut effects),
            Message::Status(StatusChoice(status)) => {
                let backend = b.clone();
                Task::perform(
                    async move { backend.call(Request::SetStatus { status }).await },
                    Message::StatusSet,
                )
            }
            Message::StatusSet(result) => match result {
                Ok(_) => Task::batch([self.load_team(), self.load_counts()]),
                Err(e) => {
                    effects.push(Event::Toast(Toast::Error(e.to_string())));
                    Task::none()
                }
            },
            Message::Active(msg) => {
                let (task, event) = self.active.update(msg, &b, &self.session);
                let task = task.map(Message::Active);
                let more = match event {
                    None => Task::none(),
                    Some(active::Event::Toast(t)) => {
                        effects.push(Event::Toast(t));
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
                    Some(active::Event::TakeBack { id, who, mode }) => {
                        self.modal = Some(Modal::TakeBack(modal::take_back::TakeBack::new(
                            id, who, mode,
                        )));
                        modal::take_back::TakeBack::focus()
                            .map(|m| Message::Modal(modal::Message::TakeBack(m)))
                    }
                    Some(active::Event::Snooze { id, who, kind }) => {
                        self.modal = Some(Modal::Snooze(modal::snooze::Snooze::new(id, who, kind)));
                        modal::snooze::Snooze::focus()
                            .map(|m| Message::Modal(modal::Message::Snooze(m)))
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
                        effects.push(Event::Toast(t));
                        self.load_counts()
                    }
                    Some(pending::Event::Accepted(id)) => Task::batch([
                        self.load_counts(),
                        self.show_interaction(id, InteractionState::Active, &mut effects),
                    ]),
                };
                Task::batch([task, more])
            }
            Message::History(msg) => {
                let (task, toast) = self.history.update(msg, &self.session, &b);
                if let Some(t) = toast {
                    effects.push(Event::Toast(t));
                }
                task.map(Message::History)
            }
            Message::Contacts(msg) => {
                let (task, event) = self.contacts.update(msg, &self.session, &b);
                let more = match event {
                    Some(contacts::Event::Toast(t)) => {
                        effects.push(Event::Toast(t));
                        Task::none()
                    }
                    Some(contacts::Event::Read) => self.load_rooms(),
                    Some(contacts::Event::MentionsSeen) => self.load_mentions(),
                    Some(contacts::Event::OpenInteraction(id)) => screen::call(
                        &self.backend,
                        Request::ShowInteraction { id },
                        Message::MentionOpened,
                    ),
                    None => Task::none(),
                };
                Task::batch([task.map(Message::Contacts), more])
            }
            Message::Board(msg) => {
                let (task, event) = self.board.update(msg, &b);
                let more = match event {
                    None => Task::none(),
                    Some(board::Event::Toast(t)) => {
                        effects.push(Event::Toast(t));
                        Task::none()
                    }
                    Some(board::Event::TakeBack { id, owner, who }) => {
                        // One's own goes back to the queue; a teammate's is taken.
                        let mode = if self.session.me() == Some(owner) {
                            modal::take_back::Mode::Return
                        } else {
                            modal::take_back::Mode::Supervise { owner }
                        };
                        self.modal = Some(Modal::TakeBack(modal::take_back::TakeBack::new(
                            id, who, mode,
                        )));
                        modal::take_back::TakeBack::focus()
                            .map(|m| Message::Modal(modal::Message::TakeBack(m)))
                    }
                };
                Task::batch([task.map(Message::Board), more])
            }
            Message::Admin(msg) => {
                let (task, toast) = self.admin.update(msg, &b, &self.session);
                if let Some(t) = toast {
                    effects.push(Event::Toast(t));
                }
                task.map(Message::Admin)
            }
            Message::Reports(msg) => {
                let (task, event) = self.reports.update(msg, &b);
                if let Some(reports::Event::Toast(t)) = event {
                    effects.push(Event::Toast(t));
                }
                task.map(Message::Reports)
            }
            Message::Phonebook(msg) => {
                let (task, event) = self.phonebook.update(msg, &b);
                let task = task.map(Message::Phonebook);
                let more = match event {
                    None => Task::none(),
                    Some(phonebook::Event::Toast(t)) => {
                        effects.push(Event::Toast(t));
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
                    Some(phonebook::Event::Merge(profile)) => {
                        self.modal =
                            Some(Modal::Merge(Box::new(modal::merge::Merge::new(*profile))));
                        modal::merge::Merge::focus()
                            .map(|m| Message::Modal(modal::Message::Merge(m)))
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
            Message::TeamMenu(action) => {
                let way = match action {
                    TeamAction::ExportBundle => modal::bundle::Way::Export,
                    TeamAction::ImportBundle => modal::bundle::Way::Import,
                    TeamAction::Mailbox => {
                        self.modal = Some(Modal::Mailbox(Box::new(
                            modal::mailbox::MailboxForm::new(&self.session),
                        )));
                        return (Task::none(), effects);
                    }
                };
                self.modal = Some(Modal::Bundle(modal::bundle::Bundle::new(way)));
                modal::bundle::Bundle::focus().map(|m| Message::Modal(modal::Message::Bundle(m)))
            }
            Message::Switch(switch) => {
                effects.push(Event::Switch(switch));
                Task::none()
            }
        };
        (task, effects)
    }

    pub fn view<'a>(&'a self, switches: Switches<'a>) -> Element<'a, Message> {
        let s = &self.session;
        let content: Element<'_, Message> = match self.tab {
            TabId::Active => self.active.view(s).map(Message::Active),
            TabId::Pending => self.pending.view(s).map(Message::Pending),
            TabId::History => self.history.view(s).map(Message::History),
            TabId::Contacts => self.contacts.view(s).map(Message::Contacts),
            TabId::Phonebook => self.phonebook.view(s).map(Message::Phonebook),
            TabId::Board => self.board.view(s.now, s.me()).map(Message::Board),
            TabId::Reports => self.reports.view().map(Message::Reports),
            TabId::Team => self.admin.view(s).map(Message::Admin),
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
}
