//! The application: the window's one state machine. It opens the data
//! dir's team (or shows the welcome screen), then hosts the [`Inbox`]; it
//! owns what outlives a screen: the window's settings, the toasts, the
//! desktop notifications, the webchat-and-API gateways, the clock.

use std::path::PathBuf;
use std::time::Duration;

use iced::event::{self, Event as IcedEvent};
use iced::keyboard;
use iced::theme::Mode;
use iced::widget::{button, column, container, row, stack, text};
use iced::{Alignment, Length, Size, Subscription, Task, Theme, window};
use meshdesk_model::Millis;
use meshdesk_sync::join::JoinProgress;

use super::backend::{self, Backend, Clock, NodeOptions, Opened, StartError};
use super::clock::Zone;
use super::inbox::{self, GatewaysSwitch, Inbox, Switch, Switches};
use super::keys;
use super::nav::{Shortcut, TabId, shortcut};
use super::notify::{Notice, Notifier};
use super::screen::Toast;
use super::screen::welcome::{self, Welcome};
use super::settings::Settings;
use super::theme;
use super::widget::{self, Element, TEXT, muted};
use crate::data_dir::DataDir;

/// How long a toast stays.
const TOAST_INFO_MS: Millis = 5_000;
const TOAST_ERROR_MS: Millis = 10_000;
/// The most toasts shown at once.
const TOASTS_SHOWN: usize = 4;
/// The toasts' distance from the window's bottom: clear of the composer.
const TOASTS_ABOVE: f32 = 110.0;
/// How many fired notices the app keeps.
const NOTICES_KEPT: usize = 50;
/// Peers and counts are re-read at least this often (in ticks), whatever
/// the events say.
const POLL_EVERY_TICKS: u64 = 5;

#[derive(Debug, Clone)]
pub enum Message {
    Opened(Result<Opened, StartError>),
    TeamReady(welcome::Which, Result<Backend, StartError>),
    /// Joining a team: admitted, then the first sync's progress.
    Joining(JoinProgress),
    Welcome(welcome::Message),
    Tick,
    Mode(Mode),
    Resized(Size),
    /// The window gained (true) or lost the keyboard focus.
    Focused(bool),
    CloseRequested,
    Shortcut(Shortcut),
    Backend(backend::Event),
    GatewaysStarted(Result<backend::Gateways, StartError>),
    DismissToast(u64),
    SettingsSaved(Result<(), String>),
    Inbox(inbox::Message),
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

#[derive(Debug, Clone, PartialEq)]
struct ToastItem {
    id: u64,
    toast: Toast,
    at: Millis,
}

enum State {
    Loading,
    Failed(String),
    Welcome(Welcome),
    Inbox(Box<Inbox>),
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

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl App {
    /// An app in the given state, with no data dir, in light mode, firing
    /// no desktop notifications; the constructors below say what differs.
    fn bare(state: State, settings: Settings, clock: Clock, zone: Zone) -> App {
        App {
            data_dir: None,
            settings,
            settings_dirty: false,
            clock,
            zone,
            mode: Mode::Light,
            options: NodeOptions::default(),
            state,
            toasts: Vec::new(),
            next_toast: 1,
            ticks: 0,
            notifier: None,
            notices: Vec::new(),
            focused: false,
            gateways: None,
        }
    }

    /// The desktop app: opens the data dir's team (or the welcome screen).
    pub fn new(data_dir: DataDir, options: NodeOptions) -> (App, Task<Message>) {
        let settings = Settings::load(&data_dir.settings_path());
        let app = App {
            data_dir: Some(data_dir.clone()),
            mode: Mode::None,
            options: options.clone(),
            notifier: Notifier::desktop(),
            ..App::bare(
                State::Loading,
                settings,
                backend::system_clock(),
                Zone::local(),
            )
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
        let mut app = App::bare(State::Loading, settings, clock, zone);
        let task = app.open_inbox(backend);
        (app, task)
    }

    /// The welcome screen, with no data dir behind it (tests).
    pub fn welcome() -> App {
        App::bare(
            State::Welcome(Welcome::default()),
            Settings::default(),
            backend::system_clock(),
            Zone::utc(),
        )
    }

    /// Light or dark, as the system says (tests set it).
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    pub fn theme(&self) -> Theme {
        theme::for_mode(self.mode)
    }

    pub fn title(&self) -> String {
        match self.inbox().and_then(|inbox| inbox.team_name()) {
            Some(team) => format!("meshdesk · {team}"),
            None => "meshdesk".into(),
        }
    }

    /// The inbox, once a team is open.
    fn inbox(&self) -> Option<&Inbox> {
        match &self.state {
            State::Inbox(inbox) => Some(inbox),
            State::Loading | State::Failed(_) | State::Welcome(_) => None,
        }
    }

    /// The tab shown (when a team is open).
    pub fn tab(&self) -> Option<TabId> {
        self.inbox().map(Inbox::tab)
    }

    /// Whether a dialog is open over the inbox.
    pub fn has_dialog(&self) -> bool {
        self.inbox().is_some_and(Inbox::has_dialog)
    }

    /// The settings as they would be saved.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Rows fetched per page of every list (benchmarks load 100k at once).
    pub fn set_page_size(&mut self, page: usize) {
        if let State::Inbox(inbox) = &mut self.state {
            inbox.set_page_size(page);
        }
    }

    /// How many rows the current interaction tab holds (tests, benchmarks).
    pub fn loaded_rows(&self) -> usize {
        self.inbox().map_or(0, Inbox::loaded_rows)
    }

    pub fn subscription(&self) -> Subscription<Message> {
        let mut subs = vec![
            iced::time::every(Duration::from_secs(1)).map(|_| Message::Tick),
            event::listen_with(on_event),
            iced::system::theme_changes().map(Message::Mode),
        ];
        if let Some(inbox) = self.inbox() {
            subs.push(
                Subscription::run_with(inbox.backend().clone(), |b: &Backend| b.events())
                    .map(Message::Backend),
            );
        }
        Subscription::batch(subs)
    }

    fn open_inbox(&mut self, backend: Backend) -> Task<Message> {
        let now = (self.clock)();
        let (inbox, task) = Inbox::new(backend, now, self.zone, self.settings.last_tab);
        self.state = State::Inbox(Box::new(inbox));
        let task = task.map(Message::Inbox);
        if self.settings.gateways {
            return Task::batch([task, self.start_gateways()]);
        }
        task
    }

    /// Serves the gateways through the inbox's node, if there is one.
    fn start_gateways(&self) -> Task<Message> {
        let Some(inbox) = self.inbox() else {
            return Task::none();
        };
        if self.gateways.is_some() || !inbox.backend().is_networked() {
            return Task::none();
        }
        let backend = inbox.backend().clone();
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
        let on_screen = match self.inbox() {
            Some(inbox) if self.focused => inbox.on_screen(),
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
                self.state = State::Failed(e.to_string());
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
                    welcome::Event::Join { code, name } => Task::run(
                        backend::join_team(dir, code, name, options),
                        |step| match step {
                            backend::Joining::Progress(p) => Message::Joining(p),
                            backend::Joining::Done(r) => {
                                Message::TeamReady(welcome::Which::Join, r)
                            }
                        },
                    ),
                }
            }
            Message::Joining(progress) => {
                if let State::Welcome(w) = &mut self.state {
                    w.joining(progress);
                }
                Task::none()
            }
            Message::TeamReady(which, result) => match result {
                Ok(backend) => self.open_inbox(backend),
                Err(e) => {
                    if let State::Welcome(w) = &mut self.state {
                        w.failed(which, e.to_string());
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
                let poll = self.ticks.is_multiple_of(POLL_EVERY_TICKS);
                let poll = match &mut self.state {
                    State::Inbox(inbox) => inbox.tick(now, poll).map(Message::Inbox),
                    State::Loading | State::Failed(_) | State::Welcome(_) => Task::none(),
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
                    State::Inbox(inbox) => inbox.set_focused(focused).map(Message::Inbox),
                    State::Loading | State::Failed(_) | State::Welcome(_) => Task::none(),
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
                let stop = match self.inbox() {
                    Some(inbox) => {
                        let backend = inbox.backend().clone();
                        Task::future(async move { backend.shutdown().await }).discard()
                    }
                    None => Task::none(),
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
                self.toast(Toast::Error(e.to_string()));
                self.save_settings()
            }
            Message::Shortcut(s) => self.update_inbox(inbox::Message::Shortcut(s)),
            Message::Backend(event) => self.update_inbox(inbox::Message::Backend(event)),
            Message::Inbox(msg) => self.update_inbox(msg),
        }
    }

    /// Hands a message to the inbox (if a team is open) and does what its
    /// events ask.
    fn update_inbox(&mut self, message: inbox::Message) -> Task<Message> {
        let State::Inbox(inbox) = &mut self.state else {
            return Task::none();
        };
        let (task, events) = inbox.update(message);
        let mut tasks = vec![task.map(Message::Inbox)];
        for event in events {
            match event {
                inbox::Event::Toast(t) => self.toast(t),
                inbox::Event::TabChanged(tab) => {
                    if self.settings.last_tab != tab {
                        self.settings.last_tab = tab;
                        self.settings_dirty = true;
                    }
                }
                inbox::Event::Notify(notices) => self.notify(notices),
                inbox::Event::Switch(switch) => tasks.push(self.switch(switch)),
            }
        }
        Task::batch(tasks)
    }

    /// One of the rail's switches moved.
    fn switch(&mut self, switch: Switch) -> Task<Message> {
        match switch {
            Switch::Notifications(on) => {
                self.settings.notifications = on;
                self.save_settings()
            }
            Switch::Gateways(true) => {
                self.settings.gateways = true;
                Task::batch([self.save_settings(), self.start_gateways()])
            }
            Switch::Gateways(false) => {
                self.settings.gateways = false;
                let stop = match self.gateways.take() {
                    Some(g) => Task::future(g.stop()).discard(),
                    None => Task::none(),
                };
                Task::batch([self.save_settings(), stop])
            }
            Switch::GatewaysAddr(addr) => {
                if self.gateways.is_none() {
                    self.settings.gateways_addr = addr;
                    self.settings_dirty = true;
                }
                Task::none()
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
            State::Inbox(inbox) => inbox
                .view(Switches {
                    notifications: self.settings.notifications,
                    gateways: inbox.backend().is_networked().then(|| GatewaysSwitch {
                        on: self.settings.gateways,
                        addr: &self.settings.gateways_addr,
                        url: self.gateways.as_ref().map(|g| g.url()),
                    }),
                })
                .map(Message::Inbox),
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
