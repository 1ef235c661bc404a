//! Active: this agent's open interactions, newest activity first; the open
//! one's conversation with a composer (Enter sends, Shift+Enter a new line;
//! the Reply/Note switch or Ctrl+Shift+Enter writes an internal note instead),
//! the customer's card beside it, wait and SLA timers, and the `…` menu with
//! Transfer, Return to queue, Snooze, Schedule callback and Finalize (and,
//! for a supervisor looking at a teammate's interaction, Take back). Snoozed
//! interactions are out of the list until due; a "Snoozed (N)" line above
//! it shows them instead. Typing `/` in an empty composer opens the canned
//! responses picker (↑/↓, Enter inserts with the placeholders filled, Esc
//! closes).

use iced::keyboard::{self, key};
use iced::widget::{Space, button, column, container, row, text, text_editor, text_input};
use iced::{Alignment, Length, Task};
use meshdesk_model::blobs::{Attachment, BlobHash};
use meshdesk_model::canned::{self, Placeholders};
use meshdesk_model::ops::{InteractionDetail, InteractionRow, Request, Tab};
use meshdesk_model::{
    Author, CampaignId, CannedId, CannedResponse, InteractionId, InteractionState, Millis,
    SnoozeKind,
};

use super::list::{self, Cells, List};
use super::{Toast, call, conversation, tags};
use crate::gui::backend::{Backend, Error};
use crate::gui::clock;
use crate::gui::modal::take_back;
use crate::gui::session::Session;
use crate::gui::theme;
use crate::gui::widget::{self, Element, SMALL, TEXT, badge, error_box, line, muted};

/// What `update` gives back: work to run, and maybe an event for the parent.
type Update = (Task<Message>, Option<Event>);

const LIST_ID: &str = "active-list";
const MESSAGES_ID: &str = "active-messages";
pub const COMPOSER_ID: &str = "active-composer";
/// The attach row's path field.
pub const ATTACH_ID: &str = "active-attach-path";

const TEXTS: list::Texts = list::Texts {
    counted: "active",
    empty: "Nothing active. Accept one from Pending, or start one with +.",
    no_match: "No active interaction matches.",
    nothing_open: "Open an interaction to see the conversation.",
};

const SNOOZED_TEXTS: list::Texts = list::Texts {
    counted: "snoozed",
    empty: "Nothing snoozed.",
    no_match: "No snoozed interaction matches.",
    nothing_open: "Open an interaction to see the conversation.",
};

#[derive(Debug)]
pub struct Active {
    pub list: List<Draft>,
    /// Whether the window has the focus.
    focused: bool,
    /// How many of the agent's interactions are snoozed now.
    snoozed: usize,
}

/// Beside the open interaction: the reply being written and the `…` menu.
#[derive(Debug, Default)]
pub struct Draft {
    composer: text_editor::Content,
    sending: bool,
    menu: bool,
    /// Whether the composer writes an internal note rather than a reply.
    note: bool,
    /// The highlighted row of the canned responses picker.
    picked: usize,
    /// The composer text the picker was closed on with Esc: it stays
    /// closed until the text changes.
    picker_closed_on: Option<String>,
    /// The header's tags and the field that adds one.
    tags: tags::Tags,
    /// The path typed in the attach row (`None`: the row is closed).
    attach: Option<String>,
    /// The conversation's pictures, once fetched.
    files: conversation::Files,
}

/// The most canned responses the picker lists at once.
const PICKER_ROWS: usize = 8;

/// A key the composer passes to the open picker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerKey {
    Up,
    Down,
    Insert,
    Close,
}

type Open = list::Open<Draft>;

#[derive(Debug, Clone)]
pub enum Message {
    List(list::Message),
    Edit(text_editor::Action),
    Picker(PickerKey),
    /// A picker row was clicked.
    Pick(CannedId),
    /// Reply or Note: what the composer writes.
    NoteMode(bool),
    Send,
    /// Adds what the composer holds as an internal note, whatever the switch says.
    SendNote,
    Sent(InteractionId, String, Result<(), Error>),
    Menu,
    Transfer,
    Finalize,
    /// Return to the queue (one's own) or take back (a supervisor, another's).
    TakeBack,
    /// The open interaction's tags.
    Tags(tags::Message),
    /// Open the Snooze or Schedule callback dialog.
    Snooze(SnoozeKind),
    /// Bring the open (snoozed) interaction back now.
    Unsnooze,
    Unsnoozed(Result<(), Error>),
    /// Show the snoozed interactions (true) or the active ones.
    ShowSnoozed(bool),
    /// The open interaction's messages were marked read.
    Read(Result<(), Error>),
    /// Attach…: opens (or closes) the row where a file's path is typed.
    Attach,
    AttachPath(String),
    /// Sends the file whose path the attach row holds.
    SendFile,
    FileSent(InteractionId, Result<(), Error>),
    /// A picture's bytes, for its thumbnail.
    FileLoaded(InteractionId, BlobHash, Result<Vec<u8>, Error>),
    /// Saves a file of the conversation into the Downloads folder.
    SaveFile(Attachment),
    FileSaved(Result<std::path::PathBuf, Error>),
    Ignore,
}

/// What the shell does for the Active screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Toast(Toast),
    /// Open the Transfer dialog for this interaction.
    Transfer {
        id: InteractionId,
        who: String,
    },
    /// Open the Finalize dialog for this interaction.
    Finalize {
        id: InteractionId,
        who: String,
        campaign: CampaignId,
    },
    /// Open the Take back dialog for this interaction.
    TakeBack {
        id: InteractionId,
        who: String,
        mode: take_back::Mode,
    },
    /// Open the Snooze (or Schedule callback) dialog for this interaction.
    Snooze {
        id: InteractionId,
        who: String,
        kind: SnoozeKind,
    },
    /// Unread counts fell: the rail's badge is stale.
    Read,
}

impl Default for Active {
    fn default() -> Self {
        Active::new()
    }
}

impl Active {
    pub fn new() -> Active {
        Active {
            list: List::new(Tab::Active, LIST_ID, TEXTS),
            focused: false,
            snoozed: 0,
        }
    }

    /// How many interactions are snoozed (the line above the list). With
    /// none left, the list shows the active ones again.
    pub fn set_snoozed(&mut self, count: usize, backend: &Backend) -> Task<Message> {
        self.snoozed = count;
        if count == 0 && self.showing_snoozed() {
            return self
                .list
                .switch(Tab::Active, TEXTS, backend)
                .map(Message::List);
        }
        Task::none()
    }

    /// Whether the list shows the snoozed interactions.
    pub fn showing_snoozed(&self) -> bool {
        self.list.rows.tab == Tab::Snoozed
    }

    /// The interaction open in the detail pane.
    pub fn open_id(&self) -> Option<InteractionId> {
        self.list.open_id()
    }

    pub fn reload(&mut self, backend: &Backend) -> Task<Message> {
        self.list.reload(backend).map(Message::List)
    }

    pub fn search(&mut self, query: String, backend: &Backend) -> Task<Message> {
        self.list.search(query, backend).map(Message::List)
    }

    /// Documents changed: re-read the list, and the open conversation if it was touched.
    pub fn changed(
        &mut self,
        interactions: &[InteractionId],
        contacts_changed: bool,
        backend: &Backend,
    ) -> Task<Message> {
        // A picture that could not be had may be had now (a teammate came
        // online): asked again once the conversation is re-read.
        if let Some(open) = self.list.any_selected_mut() {
            open.extra.files.retry_failed();
        }
        let list = self.list.reload(backend);
        let detail = match self.open_id() {
            Some(id) if contacts_changed || interactions.contains(&id) => {
                self.list.load_detail(backend)
            }
            _ => Task::none(),
        };
        Task::batch([list, detail]).map(Message::List)
    }

    /// Opens an interaction (from the list, or after it was started or accepted).
    pub fn open(&mut self, id: InteractionId, backend: &Backend) -> Task<Message> {
        let detail = self.list.open(id, backend).map(Message::List);
        Task::batch([detail, opened(id, backend)])
    }

    /// The window gained or lost the focus: while it has it, what arrives
    /// in the open conversation is read (the agent sees it).
    pub fn set_focused(&mut self, focused: bool, backend: &Backend) -> Task<Message> {
        self.focused = focused;
        match (focused, self.open_id()) {
            (true, Some(id)) => mark_read(id, backend),
            _ => Task::none(),
        }
    }

    /// ↑/↓ move through the list, Enter opens.
    pub fn key(&mut self, key: &keyboard::Key, backend: &Backend) -> Task<Message> {
        let (task, event) = self.list.key(key, backend);
        self.after_list(task, event, backend)
    }

    /// What follows a list's message: an opened conversation is read and
    /// takes the focus; fresh rows may say there is more to read in it.
    fn after_list(
        &mut self,
        task: Task<list::Message>,
        event: Option<list::Event>,
        backend: &Backend,
    ) -> Task<Message> {
        let task = Task::batch([task.map(Message::List), self.load_files(backend)]);
        match event {
            None => task,
            Some(list::Event::Opened(id)) => Task::batch([task, opened(id, backend)]),
            // What arrives in the conversation on screen is read, if the
            // agent is looking (its row says what there is to read).
            Some(list::Event::Loaded) => match self.open_id() {
                Some(id)
                    if self.focused
                        && self
                            .list
                            .rows
                            .rows
                            .iter()
                            .any(|r| r.summary.id == id && r.unread > 0) =>
                {
                    Task::batch([task, mark_read(id, backend)])
                }
                _ => task,
            },
        }
    }

    /// Asks the node for the pictures of the open conversation not yet
    /// shown (each once).
    fn load_files(&mut self, backend: &Backend) -> Task<Message> {
        let Some(open) = self.list.any_selected_mut() else {
            return Task::none();
        };
        let Some(detail) = open.detail.as_deref() else {
            return Task::none();
        };
        let id = open.id;
        open.extra.files.fetch(detail, backend, move |hash, r| {
            Message::FileLoaded(id, hash, r)
        })
    }

    /// Whether the tag field holds text: ↑/↓, Tab and Esc are its.
    pub fn tag_completing(&self) -> bool {
        self.list
            .open_ref()
            .is_some_and(|o| o.extra.tags.completing())
    }

    /// Closes the `…` menu (Esc); returns whether it was open.
    pub fn close_menu(&mut self) -> bool {
        match self.list.any_selected_mut() {
            Some(o) if o.extra.menu => {
                o.extra.menu = false;
                true
            }
            _ => false,
        }
    }

    pub fn update(&mut self, message: Message, backend: &Backend, session: &Session) -> Update {
        match message {
            Message::List(msg) => {
                let (task, event) = self.list.update(msg, backend);
                (self.after_list(task, event, backend), None)
            }
            Message::Edit(action) => {
                if let Some(open) = self.list.any_selected_mut() {
                    let edits = action.is_edit();
                    open.extra.composer.perform(action);
                    if edits {
                        open.extra.picked = 0;
                    }
                }
                (Task::none(), None)
            }
            Message::Picker(key) => {
                let Some(open) = self.list.any_selected_mut() else {
                    return (Task::none(), None);
                };
                // The rows shown, read once: ids, so the borrow ends here.
                let shown: Vec<CannedId> =
                    picker_rows(open, session).iter().map(|c| c.id).collect();
                match key {
                    PickerKey::Up => open.extra.picked = open.extra.picked.saturating_sub(1),
                    PickerKey::Down => {
                        open.extra.picked =
                            (open.extra.picked + 1).min(shown.len().saturating_sub(1));
                    }
                    PickerKey::Close => {
                        open.extra.picker_closed_on = Some(open.extra.composer.text())
                    }
                    PickerKey::Insert => {
                        if let Some(&id) = shown.get(open.extra.picked) {
                            insert_canned(open, id, session);
                        }
                    }
                }
                (Task::none(), None)
            }
            Message::Pick(id) => {
                if let Some(open) = self.list.any_selected_mut() {
                    insert_canned(open, id, session);
                }
                (Task::none(), None)
            }
            Message::NoteMode(note) => {
                if let Some(open) = self.list.any_selected_mut() {
                    open.extra.note = note;
                }
                (Task::none(), None)
            }
            Message::Send | Message::SendNote => {
                let Some(open) = self.list.any_selected_mut() else {
                    return (Task::none(), None);
                };
                let as_note = open.extra.note || matches!(message, Message::SendNote);
                let body = open.extra.composer.text();
                let body = body.trim_end_matches('\n').to_string();
                if body.trim().is_empty() || open.extra.sending || !can_write(open, session) {
                    return (Task::none(), None);
                }
                open.extra.sending = true;
                open.error = None;
                open.extra.composer = text_editor::Content::new();
                let id = open.id;
                let request = if as_note {
                    Request::AddNote {
                        id,
                        text: body.clone(),
                    }
                } else {
                    Request::Send {
                        id,
                        text: body.clone(),
                    }
                };
                (
                    call(backend, request, move |r| Message::Sent(id, body, r)),
                    None,
                )
            }
            Message::Sent(id, body, result) => {
                if let Some(open) = self.list.selected_mut(id) {
                    open.extra.sending = false;
                    if let Err(e) = &result {
                        // Nothing is lost: the text comes back to the composer.
                        if open.extra.composer.text().trim().is_empty() {
                            open.extra.composer = text_editor::Content::with_text(&body);
                        }
                        open.error = Some(e.to_string());
                    }
                }
                match result {
                    Ok(()) => (Task::none(), None),
                    Err(e) => (
                        Task::none(),
                        Some(Event::Toast(Toast::Error(e.to_string()))),
                    ),
                }
            }
            Message::Menu => {
                if let Some(open) = self.list.any_selected_mut() {
                    open.extra.menu = !open.extra.menu;
                }
                (Task::none(), None)
            }
            Message::Transfer => {
                let Some(open) = self.list.any_selected_mut() else {
                    return (Task::none(), None);
                };
                open.extra.menu = false;
                let who = open
                    .detail
                    .as_deref()
                    .map(conversation::who)
                    .unwrap_or_default();
                (Task::none(), Some(Event::Transfer { id: open.id, who }))
            }
            Message::Finalize => {
                let Some(open) = self.list.any_selected_mut() else {
                    return (Task::none(), None);
                };
                open.extra.menu = false;
                let Some(detail) = open.detail.as_deref() else {
                    return (Task::none(), None);
                };
                (
                    Task::none(),
                    Some(Event::Finalize {
                        id: open.id,
                        who: conversation::who(detail),
                        campaign: detail.interaction.campaign(),
                    }),
                )
            }
            Message::TakeBack => {
                let Some(open) = self.list.any_selected_mut() else {
                    return (Task::none(), None);
                };
                open.extra.menu = false;
                let Some(detail) = open.detail.as_deref() else {
                    return (Task::none(), None);
                };
                let Some(mode) = take_back_mode(detail, session) else {
                    return (Task::none(), None);
                };
                (
                    Task::none(),
                    Some(Event::TakeBack {
                        id: open.id,
                        who: conversation::who(detail),
                        mode,
                    }),
                )
            }
            Message::Tags(msg) => {
                let Some(open) = self.list.any_selected_mut() else {
                    return (Task::none(), None);
                };
                let carried = open
                    .detail
                    .as_deref()
                    .map(|d| d.interaction.tags.clone())
                    .unwrap_or_default();
                let (task, event) = open.extra.tags.update(msg, open.id, &carried, backend);
                let event = event.map(|tags::Event::Toast(t)| Event::Toast(t));
                (task.map(Message::Tags), event)
            }
            Message::Snooze(kind) => {
                let Some(open) = self.list.any_selected_mut() else {
                    return (Task::none(), None);
                };
                open.extra.menu = false;
                let Some(detail) = open.detail.as_deref() else {
                    return (Task::none(), None);
                };
                (
                    Task::none(),
                    Some(Event::Snooze {
                        id: open.id,
                        who: conversation::who(detail),
                        kind,
                    }),
                )
            }
            Message::Unsnooze => match self.open_id() {
                Some(id) => (
                    call(backend, Request::Unsnooze { id }, Message::Unsnoozed),
                    None,
                ),
                None => (Task::none(), None),
            },
            Message::Unsnoozed(result) => match result {
                Ok(()) => (
                    Task::none(),
                    Some(Event::Toast(Toast::Info("Back in Active.".into()))),
                ),
                Err(e) => (
                    Task::none(),
                    Some(Event::Toast(Toast::Error(e.to_string()))),
                ),
            },
            Message::ShowSnoozed(show) => {
                let (tab, texts) = if show {
                    (Tab::Snoozed, SNOOZED_TEXTS)
                } else {
                    (Tab::Active, TEXTS)
                };
                (
                    self.list.switch(tab, texts, backend).map(Message::List),
                    None,
                )
            }
            Message::Attach => {
                if let Some(open) = self.list.any_selected_mut() {
                    open.extra.attach = match open.extra.attach {
                        Some(_) => None,
                        None => Some(String::new()),
                    };
                }
                let focus = iced::widget::operation::focus(ATTACH_ID);
                (focus, None)
            }
            Message::AttachPath(path) => {
                if let Some(open) = self.list.any_selected_mut() {
                    open.extra.attach = Some(path);
                }
                (Task::none(), None)
            }
            Message::SendFile => {
                let Some(open) = self.list.any_selected_mut() else {
                    return (Task::none(), None);
                };
                let path = open.extra.attach.clone().unwrap_or_default();
                let path = path.trim();
                if path.is_empty() || open.extra.sending || !can_write(open, session) {
                    return (Task::none(), None);
                }
                open.extra.sending = true;
                open.error = None;
                let id = open.id;
                let path = std::path::PathBuf::from(path);
                let backend = backend.clone();
                (
                    Task::perform(async move { backend.send_file(id, path).await }, move |r| {
                        Message::FileSent(id, r)
                    }),
                    None,
                )
            }
            Message::FileSent(id, result) => {
                if let Some(open) = self.list.selected_mut(id) {
                    open.extra.sending = false;
                    match &result {
                        Ok(()) => open.extra.attach = None,
                        Err(e) => open.error = Some(e.to_string()),
                    }
                }
                match result {
                    Ok(()) => (Task::none(), None),
                    Err(e) => (
                        Task::none(),
                        Some(Event::Toast(Toast::Error(e.to_string()))),
                    ),
                }
            }
            Message::FileLoaded(id, hash, result) => {
                if let Some(open) = self.list.selected_mut(id) {
                    open.extra
                        .files
                        .loaded(hash, result.map_err(|e| e.to_string()));
                }
                (Task::none(), None)
            }
            Message::SaveFile(file) => (
                conversation::save_file(backend, file, Message::FileSaved),
                None,
            ),
            Message::FileSaved(result) => {
                let toast = conversation::saved_toast(result);
                (Task::none(), Some(Event::Toast(toast)))
            }
            Message::Read(Ok(())) => (self.reload(backend), Some(Event::Read)),
            Message::Read(Err(e)) => {
                tracing::debug!("cannot mark the conversation read: {e}");
                (Task::none(), None)
            }
            Message::Ignore => (Task::none(), None),
        }
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        // The line shows only while there is something snoozed (or it is open).
        let head = (self.snoozed > 0 || self.showing_snoozed()).then(|| {
            let (label, show) = if self.showing_snoozed() {
                ("← Back to Active".to_string(), false)
            } else {
                (format!("Snoozed ({})", self.snoozed), true)
            };
            container(
                button(text(label).size(SMALL))
                    .on_press(Message::ShowSnoozed(show))
                    .width(Length::Fill)
                    .padding([6, 10])
                    .style(theme::buttons::ghost),
            )
            .padding(iced::Padding {
                top: 6.0,
                right: 8.0,
                bottom: 0.0,
                left: 8.0,
            })
            .into()
        });
        self.list.view_headed(
            head,
            move |r| cells(r, session),
            move |open, detail| detail_view(open, detail, session),
            Message::List,
        )
    }
}

fn detail_view<'a>(
    open: &'a Open,
    detail: &'a InteractionDetail,
    session: &'a Session,
) -> Element<'a, Message> {
    let writable = can_write(open, session);
    let take_back = take_back_mode(detail, session);
    let timers = timers(detail, session);
    let more = button(text("…").size(16))
        .on_press(Message::Menu)
        .padding([2, 12])
        .style(theme::buttons::secondary);
    let head = conversation::head(detail, [timers, more.into()]);
    let mut main = column![
        head,
        open.extra
            .tags
            .view(&detail.interaction.tags)
            .map(Message::Tags)
    ];
    if open.extra.menu {
        let menu = container(
            column![
                button(text("Transfer…").size(TEXT))
                    .on_press_maybe(writable.then_some(Message::Transfer))
                    .width(Length::Fill)
                    .style(theme::buttons::ghost),
                button(text("Return to queue…").size(TEXT))
                    .on_press_maybe(
                        (take_back == Some(take_back::Mode::Return)).then_some(Message::TakeBack)
                    )
                    .width(Length::Fill)
                    .style(theme::buttons::ghost),
                button(text("Snooze…").size(TEXT))
                    .on_press_maybe(writable.then_some(Message::Snooze(SnoozeKind::Snooze)))
                    .width(Length::Fill)
                    .style(theme::buttons::ghost),
                button(text("Schedule callback…").size(TEXT))
                    .on_press_maybe(writable.then_some(Message::Snooze(SnoozeKind::Callback)))
                    .width(Length::Fill)
                    .style(theme::buttons::ghost),
                button(text("Finalize…").size(TEXT))
                    .on_press_maybe(writable.then_some(Message::Finalize))
                    .width(Length::Fill)
                    .style(theme::buttons::ghost),
            ]
            .spacing(2)
            .padding(4)
            .width(Length::Fixed(180.0)),
        )
        .style(theme::boxes::dialog);
        main = main.push(
            row![Space::new().width(Length::Fill), menu].padding(iced::Padding {
                right: 16.0,
                ..iced::Padding::ZERO
            }),
        );
    }
    let said = banner(detail, session);
    // A supervisor reading a teammate's conversation can take it back.
    if let Some(take_back::Mode::Supervise { owner }) = take_back {
        let said = said.unwrap_or_else(|| format!("Now handled by {}.", session.agent_name(owner)));
        main = main.push(conversation::banner_with_action(
            said,
            "Take back…",
            Message::TakeBack,
        ));
    } else if let Some(said) = said {
        main = main.push(conversation::banner(said));
    } else if let Some(z) = detail
        .interaction
        .snoozed()
        .filter(|z| z.pending_at(session.now))
    {
        // Set aside: when it is back, and a way to bring it back now.
        let mut said = snooze_label(z.kind, z.until, session);
        if !z.note.is_empty() {
            said = format!("{said}: {}", z.note);
        }
        main = main.push(conversation::banner_with_action(
            said,
            "Unsnooze",
            Message::Unsnooze,
        ));
    }
    main = main.push(widget::hrule());
    // Matched only while the composer asks for it: view() runs on every event.
    let picker = (writable && picker_open(open)).then(|| picker_rows(open, session));
    let picker_keys = picker.is_some();
    let composer = text_editor(&open.extra.composer)
        .id(COMPOSER_ID)
        .placeholder(if !writable {
            "This conversation is read-only."
        } else if open.extra.note {
            "Write an internal note: only your team sees it. Enter adds it."
        } else {
            "Write a reply. Enter sends, Shift+Enter starts a new line, / inserts a canned response."
        })
        .on_action(Message::Edit)
        .key_binding(move |press| composer_keys(press, picker_keys))
        .height(Length::Fixed(72.0))
        .padding(8)
        .style(theme::inputs::editor);
    let can_send = writable && !open.extra.sending && !open.extra.composer.text().trim().is_empty();
    let send = button(text(if open.extra.note { "Add note" } else { "Send" }).size(TEXT))
        .on_press_maybe(can_send.then_some(Message::Send))
        .padding([8, 16])
        .style(theme::buttons::primary);
    let mut conversation_col = column![conversation::messages(
        detail,
        session,
        MESSAGES_ID,
        &open.extra.files,
        Some(Message::SaveFile),
    )];
    if let Some(e) = &open.error {
        conversation_col = conversation_col.push(container(error_box(e)).padding([4, 16]));
    }
    if let Some(rows) = picker {
        conversation_col = conversation_col.push(picker_view(&rows, open.extra.picked));
    }
    let mode = |label, note| {
        button(text(label).size(SMALL))
            .on_press_maybe(writable.then_some(Message::NoteMode(note)))
            .padding([3, 10])
            .style(theme::buttons::choice(open.extra.note == note))
    };
    conversation_col = conversation_col.push(
        container(row![mode("Reply", false), mode("Note", true)].spacing(4)).padding(
            iced::Padding {
                top: 8.0,
                right: 16.0,
                bottom: 0.0,
                left: 16.0,
            },
        ),
    );
    if let Some(path) = &open.extra.attach {
        let can_attach = writable && !open.extra.sending && !path.trim().is_empty();
        conversation_col = conversation_col.push(
            container(
                row![
                    text_input("Path of the file to send, e.g. /home/ana/photo.png", path)
                        .id(ATTACH_ID)
                        .on_input(Message::AttachPath)
                        .on_submit_maybe(can_attach.then_some(Message::SendFile))
                        .padding(6)
                        .size(TEXT)
                        .style(theme::inputs::field),
                    button(text("Send file").size(TEXT))
                        .on_press_maybe(can_attach.then_some(Message::SendFile))
                        .padding([6, 12])
                        .style(theme::buttons::primary),
                ]
                .spacing(8)
                .align_y(Alignment::Center),
            )
            .padding(iced::Padding {
                top: 8.0,
                right: 16.0,
                bottom: 0.0,
                left: 16.0,
            }),
        );
    }
    let attach = button(text("Attach…").size(TEXT))
        .on_press_maybe(writable.then_some(Message::Attach))
        .padding([8, 10])
        .style(theme::buttons::secondary);
    conversation_col = conversation_col.push(
        container(
            row![attach, composer, send]
                .spacing(8)
                .align_y(Alignment::End)
                .width(Length::Fill),
        )
        .width(Length::Fill)
        .padding([10, 16]),
    );
    let body = row![
        conversation_col.width(Length::Fill),
        conversation::facts_pane(detail, session),
    ];
    main.push(body).into()
}

/// Enter sends; Shift+Enter (and everything else) edits as usual. While
/// the picker is open, ↑/↓, Enter and Esc are its.
fn composer_keys(
    press: text_editor::KeyPress,
    picker_open: bool,
) -> Option<text_editor::Binding<Message>> {
    let focused = matches!(press.status, text_editor::Status::Focused { .. });
    if focused && picker_open {
        let key = match press.key.as_ref() {
            keyboard::Key::Named(key::Named::ArrowUp) => Some(PickerKey::Up),
            keyboard::Key::Named(key::Named::ArrowDown) => Some(PickerKey::Down),
            keyboard::Key::Named(key::Named::Enter) => Some(PickerKey::Insert),
            keyboard::Key::Named(key::Named::Escape) => Some(PickerKey::Close),
            _ => None,
        };
        if let Some(key) = key {
            return Some(text_editor::Binding::Custom(Message::Picker(key)));
        }
    }
    let enter = matches!(press.key.as_ref(), keyboard::Key::Named(key::Named::Enter));
    if focused && enter && press.modifiers.shift() && press.modifiers.command() {
        return Some(text_editor::Binding::Custom(Message::SendNote));
    }
    if focused && enter && !press.modifiers.shift() {
        return Some(text_editor::Binding::Custom(Message::Send));
    }
    text_editor::Binding::from_key_press(press)
}

/// Whether the composer asks for a canned response: `/` and a code, no
/// space yet, and not closed with Esc on this text.
fn picker_open(open: &Open) -> bool {
    let text = open.extra.composer.text();
    let typed = text.trim_end_matches('\n');
    typed.starts_with('/')
        && !typed.contains(char::is_whitespace)
        && open.extra.picker_closed_on.as_deref() != Some(text.as_str())
}

/// The canned responses the picker lists for what follows the `/`.
fn picker_rows<'s>(open: &Open, session: &'s Session) -> Vec<&'s CannedResponse> {
    let (Some(team), Some(detail)) = (session.team.as_ref(), open.detail.as_deref()) else {
        return Vec::new();
    };
    let text = open.extra.composer.text();
    let typed = text.trim_end_matches('\n').trim_start_matches('/');
    let mut rows = canned::matching(
        team.team.canned.values(),
        Some(detail.interaction.campaign()),
        typed,
    );
    rows.truncate(PICKER_ROWS);
    rows
}

/// Replaces the `/code` typed with the response, its placeholders filled
/// from the conversation.
fn insert_canned(open: &mut Open, id: CannedId, session: &Session) {
    let Some(detail) = open.detail.as_deref() else {
        return;
    };
    let Some(response) = session.team.as_ref().and_then(|t| t.team.canned.get(&id)) else {
        return;
    };
    let with = Placeholders {
        contact_name: Some(conversation::who(detail)),
        agent_name: session.me().map(|me| session.agent_name(me)),
        fields: detail.interaction.fields.clone(),
    };
    let mut composer = text_editor::Content::with_text(&canned::fill(&response.body, &with));
    composer.perform(text_editor::Action::Move(text_editor::Motion::DocumentEnd));
    open.extra.composer = composer;
    open.extra.picked = 0;
}

fn picker_view<'a>(rows: &[&'a CannedResponse], picked: usize) -> Element<'a, Message> {
    let mut list = column![].spacing(2);
    if rows.is_empty() {
        list =
            list.push(container(muted("No canned response matches.").size(SMALL)).padding([6, 10]));
    }
    for (i, c) in rows.iter().enumerate() {
        let label = row![
            text(format!("/{}", c.code))
                .size(TEXT)
                .width(Length::Fixed(100.0)),
            // Clipped: a long body never runs past the picker.
            container(line(&c.body, 60).size(SMALL))
                .width(Length::Fill)
                .clip(true),
        ]
        .spacing(8)
        .align_y(Alignment::Center);
        list = list.push(
            button(label)
                .on_press(Message::Pick(c.id))
                .width(Length::Fill)
                .padding([6, 10])
                .style(theme::buttons::item(i == picked)),
        );
    }
    container(
        container(list.padding(4))
            .width(Length::Fill)
            .style(theme::boxes::dialog),
    )
    .padding(iced::Padding {
        top: 4.0,
        right: 16.0,
        bottom: 0.0,
        left: 16.0,
    })
    .into()
}

/// Whether this agent owns the interaction and it is still open.
fn can_write(open: &Open, session: &Session) -> bool {
    open.detail.as_deref().is_some_and(|d| {
        d.state == InteractionState::Active && d.owner.is_some() && d.owner == session.me()
    })
}

/// What taking this interaction back means for this agent: returning their
/// own active one, or (a supervisor) taking a teammate's; `None` when
/// neither is open to them.
fn take_back_mode(detail: &InteractionDetail, session: &Session) -> Option<take_back::Mode> {
    let me = session.me()?;
    let owner = detail.owner?;
    if detail.state != InteractionState::Active {
        return None;
    }
    if owner == me {
        Some(take_back::Mode::Return)
    } else if session.is_supervisor() {
        Some(take_back::Mode::Supervise { owner })
    } else {
        None
    }
}

/// Why the conversation is read-only, if it is.
fn banner(detail: &InteractionDetail, session: &Session) -> Option<String> {
    let me = session.me()?;
    let name = |a| {
        detail
            .agent_names
            .get(&a)
            .cloned()
            .unwrap_or_else(|| session.agent_name(a))
    };
    let taken = detail
        .interaction
        .transfers
        .len()
        .checked_sub(1)
        .and_then(|n| detail.interaction.take_back_line(n, name));
    match detail.state {
        InteractionState::Active if detail.owner == Some(me) => None,
        InteractionState::Active => match detail.owner {
            Some(owner) if detail.lost_claims.contains(&me) => Some(format!(
                "{} claimed it first; you can read it, {} answers it.",
                name(owner),
                name(owner)
            )),
            Some(owner) => Some(format!("Now handled by {}.", name(owner))),
            None => None,
        },
        // Taken back: who did it and why, as the history says it.
        InteractionState::Queued if taken.is_some() => taken,
        InteractionState::Queued => Some(match detail.interaction.transfers.last().map(|t| t.to) {
            Some(meshdesk_model::TransferTarget::Agent(a)) => {
                format!("Transferred to {}: it waits for them to accept.", name(a))
            }
            Some(meshdesk_model::TransferTarget::Campaign(c)) => format!(
                "Transferred to the {} queue.",
                session
                    .campaign(c)
                    .map(|c| c.name.as_str())
                    .unwrap_or("campaign's")
            ),
            None => "Back in the queue.".into(),
        }),
        InteractionState::WrapUp | InteractionState::Closed => {
            let disposition = detail
                .interaction
                .finalization
                .as_ref()
                .map(|f| format!(" as {}", f.disposition))
                .unwrap_or_default();
            Some(format!("Finalized{disposition}: it is now in History."))
        }
    }
}

/// Open for, customer waiting, and the SLA.
fn timers<'a>(detail: &'a InteractionDetail, session: &'a Session) -> Element<'a, Message> {
    let now = session.now;
    let i = &detail.interaction;
    let mut col = column![].spacing(2).align_x(Alignment::End);
    if let Some(claim) = i.owner() {
        col = col.push(muted(format!(
            "Open {}",
            clock::elapsed(now, claim.claimed_at)
        )));
    }
    let last = i.messages_in_order().last().copied();
    let sla = detail.campaign.as_ref().map(|c| c.sla_seconds).unwrap_or(0);
    if let Some(m) = last.filter(|m| m.author == Author::Contact)
        && detail.state == InteractionState::Active
    {
        col = col.push(waiting(now, m.at, sla));
    } else if sla > 0 {
        col = col.push(muted(format!("SLA {}", clock::duration(i64::from(sla)))));
    }
    col.into()
}

/// "Waiting 1:05", red once past the SLA.
fn waiting<'a, M: 'a>(now: Millis, since: Millis, sla_seconds: u32) -> Element<'a, M> {
    let secs = (now - since).max(0) / 1000;
    let over = sla_seconds > 0 && secs > i64::from(sla_seconds);
    let label = if sla_seconds > 0 {
        format!(
            "Waiting {} / SLA {}",
            clock::duration(secs),
            clock::duration(i64::from(sla_seconds))
        )
    } else {
        format!("Waiting {}", clock::duration(secs))
    };
    let t = text(label).size(SMALL);
    if over {
        t.style(theme::texts::danger).into()
    } else {
        t.style(theme::texts::warning).into()
    }
}

/// "Snoozed until 14:30", "Callback at 2 Mar 09:00".
fn snooze_label(kind: SnoozeKind, until: Millis, session: &Session) -> String {
    let at = clock::stamp(session.now, until, session.zone);
    match kind {
        SnoozeKind::Snooze => format!("Snoozed until {at}"),
        SnoozeKind::Callback => format!("Callback at {at}"),
    }
}

/// The customer's wait (or the last activity), or when a snoozed one is
/// back; the campaign, the latest message and the unread count.
fn cells<'a>(r: &'a InteractionRow, session: &'a Session) -> Cells<'a> {
    let s = &r.summary;
    if let Some(z) = s.snooze.as_ref().filter(|z| z.pending_at(session.now)) {
        let below = match z.note.as_str() {
            "" => r.campaign_name.clone(),
            note => format!("{} · {note}", r.campaign_name),
        };
        return Cells {
            aside: text(snooze_label(z.kind, z.until, session))
                .size(SMALL)
                .style(theme::texts::warning)
                .into(),
            below: list::caption(&below),
        };
    }
    let sla = session
        .campaign(s.campaign)
        .map(|c| c.sla_seconds)
        .unwrap_or(0);
    let aside: Element<'a, list::Message> = match s.last_message_at.filter(|_| r.unread > 0) {
        Some(at) => waiting(session.now, at, sla),
        None => muted(clock::ago(session.now, s.last_activity, session.zone)).into(),
    };
    let preview = if s.last_message_preview.is_empty() {
        r.campaign_name.clone()
    } else {
        format!("{} · {}", r.campaign_name, s.last_message_preview)
    };
    let mut below = row![
        line(&preview, 42)
            .size(SMALL)
            .style(theme::texts::muted)
            .width(Length::Fill)
    ]
    .spacing(6)
    .align_y(Alignment::Center);
    if r.unread > 0 {
        below = below.push(badge(r.unread as usize, true));
    }
    Cells {
        aside,
        below: below.into(),
    }
}

/// An interaction was opened: its messages are read, the tags in use are
/// read for the tag field, and the composer takes the focus.
fn opened(id: InteractionId, backend: &Backend) -> Task<Message> {
    Task::batch([
        mark_read(id, backend),
        tags::Tags::load(backend).map(Message::Tags),
        iced::widget::operation::focus(COMPOSER_ID),
    ])
}

/// Marks every message of the interaction read.
fn mark_read(id: InteractionId, backend: &Backend) -> Task<Message> {
    call(backend, Request::MarkRead { id }, Message::Read)
}
