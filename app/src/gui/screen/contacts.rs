//! Contacts & chat: teammates with their presence, and a room per campaign;
//! direct messages between agents and a group chat per campaign, with
//! "typing…" from the node's ephemeral presence. The Mentions entry at the
//! top of the list opens [`super::mentions`].

use std::collections::BTreeMap;

use iced::keyboard::{self, key};
use iced::widget::{Space, button, column, container, row, scrollable, text, text_input};
use iced::{Alignment, Length, Task};
use meshdesk_model::doc::DocId;
use meshdesk_model::ops::{ChatTarget, ChatView, Request, RoomRow};
use meshdesk_model::{AgentId, CampaignId, InteractionId, MessageId, Millis, Role, RoomKey};

use super::mentions;
use super::{Toast, call};
use crate::gui::backend::{Backend, Error};
use crate::gui::clock;
use crate::gui::session::{Session, status_label, status_tone};
use crate::gui::theme;
use crate::gui::widget::{
    self, Element, SMALL, TEXT, badge, dot, empty, error_box, line, muted, split, title,
};

/// What `update` gives back: work to run, and maybe an event for the parent.
type Update = (Task<Message>, Option<Event>);

pub const DRAFT_ID: &str = "chat-draft";
const MESSAGES_ID: &str = "chat-messages";
/// How long a "typing" announcement shows.
const TYPING_SHOWN_MS: Millis = 5_000;
/// How often this agent announces typing while typing.
const TYPING_EVERY_MS: Millis = 3_000;

/// Who a chat is with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Agent(AgentId),
    Campaign(CampaignId),
}

impl Target {
    fn room(self, me: AgentId) -> RoomKey {
        match self {
            Target::Agent(a) => RoomKey::direct(me, a),
            Target::Campaign(c) => RoomKey::Campaign { campaign: c },
        }
    }

    fn chat(self) -> ChatTarget {
        match self {
            Target::Agent(a) => ChatTarget::Agent(a.to_string()),
            Target::Campaign(c) => ChatTarget::Campaign(c.to_string()),
        }
    }
}

#[derive(Debug, Default)]
pub struct Contacts {
    query: String,
    rooms: BTreeMap<String, RoomRow>,
    rooms_seq: u64,
    selected: Option<Target>,
    chat: Option<Box<ChatView>>,
    chat_seq: u64,
    draft: String,
    sending: bool,
    error: Option<String>,
    /// When each agent last said they were typing, by room key.
    typing: BTreeMap<(String, AgentId), Millis>,
    last_typing_sent: Millis,
    cursor: Option<usize>,
    invite: Option<Result<String, Error>>,
    /// Whether the window has the focus: only then is what arrives in the
    /// open room read.
    focused: bool,
    /// The agent picked the open room: its next load is read whatever the focus.
    picked: bool,
    mentions: mentions::Mentions,
    /// The Mentions entry is open instead of a room.
    showing_mentions: bool,
    /// This agent's mentions not yet seen on this device (the entry's badge).
    unseen_mentions: usize,
}

#[derive(Debug, Clone)]
pub enum Message {
    RoomsLoaded(u64, Result<Vec<RoomRow>, Error>),
    Select(Target),
    ChatLoaded(u64, Result<Box<ChatView>, Error>),
    Draft(String),
    Send,
    Sent(String, Result<MessageId, Error>),
    Invite,
    Invited(Result<String, Error>),
    Copy,
    /// The open room was marked read.
    Read(Result<(), Error>),
    OpenMentions,
    Mentions(mentions::Message),
    Ignore,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Toast(Toast),
    /// A room was read: the rail's chat badge is stale.
    Read,
    /// A mention's jump to its interaction.
    OpenInteraction(InteractionId),
    /// Mentions were marked seen: the badges are stale.
    MentionsSeen,
}

impl Contacts {
    /// The room whose chat is open.
    pub fn open_room(&self, me: AgentId) -> Option<RoomKey> {
        self.selected.map(|t| t.room(me))
    }

    pub fn reload(&mut self, backend: &Backend) -> Task<Message> {
        let mentions = if self.showing_mentions {
            self.mentions.reload(backend).map(Message::Mentions)
        } else {
            Task::none()
        };
        Task::batch([self.load_rooms(backend), self.load_chat(backend), mentions])
    }

    /// How many of this agent's mentions are unseen (the shell reads them).
    pub fn set_unseen_mentions(&mut self, unseen: usize) {
        self.unseen_mentions = unseen;
    }

    /// New mentions arrived: the open Mentions view reads them (and so sees them).
    pub fn mentions_arrived(&mut self, backend: &Backend) -> Task<Message> {
        if self.showing_mentions {
            self.mentions.reload(backend).map(Message::Mentions)
        } else {
            Task::none()
        }
    }

    fn load_rooms(&mut self, backend: &Backend) -> Task<Message> {
        self.rooms_seq += 1;
        let seq = self.rooms_seq;
        call(backend, Request::ListRooms, move |r| {
            Message::RoomsLoaded(seq, r)
        })
    }

    /// The window gained or lost the focus; gaining it reads the open room.
    pub fn set_focused(
        &mut self,
        focused: bool,
        session: &Session,
        backend: &Backend,
    ) -> Task<Message> {
        self.focused = focused;
        if focused {
            self.read_open_room(session, backend)
        } else {
            Task::none()
        }
    }

    /// Marks the open room read if its row says it has unread messages.
    fn read_open_room(&self, session: &Session, backend: &Backend) -> Task<Message> {
        let (Some(target), Some(me)) = (self.selected, session.me()) else {
            return Task::none();
        };
        let unread = self
            .rooms
            .get(&target.room(me).key())
            .is_some_and(|r| r.unread > 0);
        if !unread {
            return Task::none();
        }
        call(
            backend,
            Request::MarkRoomRead {
                with: target.chat(),
            },
            Message::Read,
        )
    }

    /// The search narrows the teammates and rooms by name.
    pub fn search(&mut self, query: String) -> Task<Message> {
        self.query = query;
        self.cursor = None;
        Task::none()
    }

    pub fn query(&self) -> &str {
        &self.query
    }

    fn load_chat(&mut self, backend: &Backend) -> Task<Message> {
        let Some(target) = self.selected else {
            return Task::none();
        };
        self.chat_seq += 1;
        let seq = self.chat_seq;
        call(
            backend,
            Request::ChatShow {
                with: target.chat(),
            },
            move |r| Message::ChatLoaded(seq, r),
        )
    }

    /// A teammate is typing in a room.
    pub fn typing(&mut self, agent: AgentId, room: String, now: Millis) {
        self.typing.insert((room, agent), now);
    }

    /// The items of the list, as the search leaves them.
    fn items(&self, session: &Session) -> Vec<(Target, String)> {
        let q = self.query.trim().to_lowercase();
        let keep = |name: &str| q.is_empty() || name.to_lowercase().contains(&q);
        let mut items: Vec<(Target, String)> = session
            .teammates()
            .into_iter()
            .filter(|a| keep(&a.name))
            .map(|a| (Target::Agent(a.id), a.name.clone()))
            .collect();
        items.extend(
            session
                .my_campaigns()
                .into_iter()
                .filter(|c| keep(&c.name))
                .map(|c| (Target::Campaign(c.id), format!("#{}", c.name))),
        );
        items
    }

    pub fn key(
        &mut self,
        key: &keyboard::Key,
        session: &Session,
        backend: &Backend,
    ) -> Task<Message> {
        let items = self.items(session);
        // The cursor's first place is the Mentions entry, then the items.
        let len = items.len() + 1;
        match key.as_ref() {
            keyboard::Key::Named(key::Named::ArrowUp)
            | keyboard::Key::Named(key::Named::ArrowDown) => {
                let down = matches!(key.as_ref(), keyboard::Key::Named(key::Named::ArrowDown));
                let next = match (self.cursor, down) {
                    (None, true) => 0,
                    (None, false) => len - 1,
                    (Some(c), true) => (c + 1).min(len - 1),
                    (Some(c), false) => c.saturating_sub(1),
                };
                self.cursor = Some(next);
                Task::none()
            }
            keyboard::Key::Named(key::Named::Enter) => match self.cursor {
                Some(0) => self.update(Message::OpenMentions, session, backend).0,
                Some(c) => match items.get(c - 1) {
                    Some((target, _)) => {
                        let target = *target;
                        self.update(Message::Select(target), session, backend).0
                    }
                    None => Task::none(),
                },
                None => Task::none(),
            },
            _ => Task::none(),
        }
    }

    pub fn update(&mut self, message: Message, session: &Session, backend: &Backend) -> Update {
        match message {
            Message::RoomsLoaded(seq, result) => {
                if seq == self.rooms_seq
                    && let Ok(rooms) = result
                {
                    self.rooms = rooms
                        .into_iter()
                        .map(|r| (r.summary.room.key(), r))
                        .collect();
                    // What arrives in the open room is read, if the agent is looking.
                    if self.focused {
                        return (self.read_open_room(session, backend), None);
                    }
                }
                (Task::none(), None)
            }
            Message::Read(Ok(())) => (self.load_rooms(backend), Some(Event::Read)),
            Message::Read(Err(e)) => {
                tracing::debug!("cannot mark the room read: {e}");
                (Task::none(), None)
            }
            Message::OpenMentions => {
                self.showing_mentions = true;
                self.selected = None;
                self.chat = None;
                self.invite = None;
                (self.mentions.reload(backend).map(Message::Mentions), None)
            }
            Message::Mentions(msg) => {
                let (task, event) = self.mentions.update(msg, backend);
                let task = task.map(Message::Mentions);
                match event {
                    None => (task, None),
                    Some(mentions::Event::Seen) => (task, Some(Event::MentionsSeen)),
                    Some(mentions::Event::OpenInteraction(id)) => {
                        (task, Some(Event::OpenInteraction(id)))
                    }
                    Some(mentions::Event::OpenRoom(room)) => {
                        let target = match (room, session.me()) {
                            (RoomKey::Campaign { campaign }, _) => Target::Campaign(campaign),
                            (RoomKey::Direct { a, b }, Some(me)) => {
                                Target::Agent(if a == me { b } else { a })
                            }
                            (RoomKey::Direct { .. }, None) => return (task, None),
                        };
                        let (open, event) = self.update(Message::Select(target), session, backend);
                        (Task::batch([task, open]), event)
                    }
                }
            }
            Message::Select(target) => {
                self.picked = true;
                self.showing_mentions = false;
                if self.selected != Some(target) {
                    self.selected = Some(target);
                    self.chat = None;
                    self.draft.clear();
                    self.error = None;
                }
                (
                    Task::batch([
                        self.load_chat(backend),
                        iced::widget::operation::focus(DRAFT_ID),
                    ]),
                    None,
                )
            }
            Message::ChatLoaded(seq, result) => {
                if seq == self.chat_seq {
                    match result {
                        Ok(chat) => {
                            self.chat = Some(chat);
                            self.error = None;
                            if std::mem::take(&mut self.picked) || self.focused {
                                return (self.read_open_room(session, backend), None);
                            }
                        }
                        Err(e) => self.error = Some(e.to_string()),
                    }
                }
                (Task::none(), None)
            }
            Message::Draft(draft) => {
                self.draft = draft;
                let (Some(target), Some(me)) = (self.selected, session.me()) else {
                    return (Task::none(), None);
                };
                if session.node && session.now - self.last_typing_sent > TYPING_EVERY_MS {
                    self.last_typing_sent = session.now;
                    let doc = DocId::room_at(target.room(me), session.now).to_string();
                    let backend = backend.clone();
                    return (
                        Task::perform(async move { backend.typing(doc).await }, |_| {
                            Message::Ignore
                        }),
                        None,
                    );
                }
                (Task::none(), None)
            }
            Message::Send => {
                let Some(target) = self.selected else {
                    return (Task::none(), None);
                };
                let text = self.draft.trim().to_string();
                if text.is_empty() || self.sending {
                    return (Task::none(), None);
                }
                self.sending = true;
                self.draft.clear();
                let request = Request::ChatSend {
                    to: target.chat(),
                    text: text.clone(),
                };
                (
                    call(backend, request, move |r| Message::Sent(text, r)),
                    None,
                )
            }
            Message::Sent(text, result) => {
                self.sending = false;
                match result {
                    Ok(_) => (self.load_chat(backend), None),
                    Err(e) => {
                        if self.draft.is_empty() {
                            self.draft = text;
                        }
                        self.error = Some(e.to_string());
                        (
                            Task::none(),
                            Some(Event::Toast(Toast::Error(e.to_string()))),
                        )
                    }
                }
            }
            Message::Invite => {
                let backend = backend.clone();
                (
                    Task::perform(
                        async move {
                            let ttl = meshdesk_sync::team::DEFAULT_INVITE_TTL_MS;
                            backend.invite(ttl, 1, Vec::new()).await
                        },
                        Message::Invited,
                    ),
                    None,
                )
            }
            Message::Invited(result) => {
                self.invite = Some(result);
                (Task::none(), None)
            }
            Message::Copy => match &self.invite {
                Some(Ok(code)) => (
                    iced::clipboard::write(code.clone()),
                    Some(Event::Toast(Toast::Info("Invite code copied.".into()))),
                ),
                _ => (Task::none(), None),
            },
            Message::Ignore => (Task::none(), None),
        }
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        let detail = if self.showing_mentions {
            self.mentions.view(session).map(Message::Mentions)
        } else {
            self.chat_view(session)
        };
        split(self.list_view(session), detail)
    }

    /// The Mentions entry at the top of the list, with its unseen count.
    fn mentions_entry<'a>(&self) -> Element<'a, Message> {
        let selected = self.showing_mentions || self.cursor == Some(0);
        let sub = match self.unseen_mentions {
            0 => "Where teammates wrote @ your name".to_string(),
            1 => "1 new mention".to_string(),
            n => format!("{n} new mentions"),
        };
        button(
            row![
                text("@").size(TEXT).style(theme::texts::primary),
                column![
                    text("Mentions").size(TEXT),
                    row![
                        line(&sub, 38)
                            .size(SMALL)
                            .style(theme::texts::muted)
                            .width(Length::Fill),
                    ]
                    .push(
                        (self.unseen_mentions > 0 && !selected)
                            .then(|| badge(self.unseen_mentions, true)),
                    )
                    .align_y(Alignment::Center),
                ]
                .spacing(2)
            ]
            .spacing(10)
            .align_y(Alignment::Center),
        )
        .on_press(Message::OpenMentions)
        .width(Length::Fill)
        .padding([8, 10])
        .style(theme::buttons::item(selected))
        .into()
    }

    fn list_view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        let items = self.items(session);
        let mut col = column![self.mentions_entry()].spacing(2).padding([6, 6]);
        let mut heading_done = (false, false);
        for (i, (target, name)) in items.into_iter().enumerate() {
            let selected = self.selected == Some(target) || self.cursor == Some(i + 1);
            match target {
                Target::Agent(_) if !heading_done.0 => {
                    heading_done.0 = true;
                    col = col.push(container(muted("Teammates")).padding([6, 8]));
                }
                Target::Campaign(_) if !heading_done.1 => {
                    heading_done.1 = true;
                    col = col.push(container(muted("Campaign rooms")).padding([10, 8]));
                }
                _ => {}
            }
            col = col.push(self.item(target, name, selected, session));
        }
        if !heading_done.0 && !heading_done.1 {
            col = col.push(
                container(muted(if self.query.trim().is_empty() {
                    "No teammates yet. Invite one to chat."
                } else {
                    "No teammate or room matches."
                }))
                .padding(10),
            );
        }
        let mut pane = column![
            scrollable(col)
                .height(Length::Fill)
                .style(theme::inputs::scroll)
        ];
        let supervisor = session
            .team
            .as_ref()
            .is_some_and(|t| t.team.role_of(t.me.agent) == Some(Role::Supervisor));
        if supervisor && session.node {
            pane = pane.push(widget::hrule());
            pane = pane.push(
                container(
                    button(text("Invite a teammate…").size(TEXT))
                        .on_press(Message::Invite)
                        .width(Length::Fill)
                        .style(theme::buttons::secondary),
                )
                .padding(10),
            );
        }
        pane.into()
    }

    fn item<'a>(
        &'a self,
        target: Target,
        name: String,
        selected: bool,
        session: &'a Session,
    ) -> Element<'a, Message> {
        let me = session.me();
        let room = me.and_then(|me| self.rooms.get(&target.room(me).key()));
        let unread = room.map_or(0, |r| r.unread);
        let preview = room
            .map(|r| &r.summary)
            .filter(|r| !r.last_message_preview.is_empty());
        let (lead, sub): (Element<'a, Message>, String) = match target {
            Target::Agent(a) => {
                let status = session.status_of(a);
                let tone = status_tone(&status);
                let sub = match preview {
                    Some(p) => p.last_message_preview.clone(),
                    None => status_label(&status),
                };
                (dot(tone), sub)
            }
            Target::Campaign(_) => (
                Space::new().width(Length::Fixed(9.0)).into(),
                preview
                    .map(|p| p.last_message_preview.clone())
                    .unwrap_or_else(|| "No messages yet".into()),
            ),
        };
        let when = preview
            .and_then(|p| p.last_message_at)
            .map(|at| clock::ago(session.now, at, session.zone))
            .unwrap_or_default();
        button(
            row![
                lead,
                column![
                    row![line(&name, 26).size(TEXT).width(Length::Fill), muted(when)],
                    row![
                        line(&sub, 38)
                            .size(SMALL)
                            .style(theme::texts::muted)
                            .width(Length::Fill),
                    ]
                    .push((unread > 0 && !selected).then(|| badge(unread as usize, true)))
                    .align_y(Alignment::Center),
                ]
                .spacing(2)
            ]
            .spacing(10)
            .align_y(Alignment::Center),
        )
        .on_press(Message::Select(target))
        .width(Length::Fill)
        .padding([8, 10])
        .style(theme::buttons::item(selected))
        .into()
    }

    fn chat_view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        if let Some(invite) = &self.invite {
            let body: Element<'a, Message> = match invite {
                Ok(code) => column![
                    text("Invite code").size(TEXT),
                    muted("Valid for 24 hours, for one device. The new teammate pastes it in their welcome screen."),
                    container(
                        text(code.as_str())
                            .size(SMALL)
                            .wrapping(iced::widget::text::Wrapping::Glyph)
                    )
                    .padding(8)
                    .style(theme::boxes::card),
                    button(text("Copy").size(TEXT))
                        .on_press(Message::Copy)
                        .style(theme::buttons::primary)
                        .padding([6, 14]),
                ]
                .spacing(8)
                .into(),
                Err(e) => error_box(&e.to_string()),
            };
            if self.selected.is_none() {
                return container(body).padding(20).into();
            }
        }
        let (Some(target), Some(me)) = (self.selected, session.me()) else {
            return empty("Pick a teammate or a campaign room to chat.");
        };
        let (name, sub) = match target {
            Target::Agent(a) => (session.agent_name(a), status_label(&session.status_of(a))),
            Target::Campaign(c) => (
                format!(
                    "#{}",
                    session
                        .campaign(c)
                        .map(|c| c.name.as_str())
                        .unwrap_or("room")
                ),
                "Everyone in the campaign".to_string(),
            ),
        };
        let room = target.room(me).key();
        let typing: Vec<String> = self
            .typing
            .iter()
            .filter(|((r, a), at)| *r == room && *a != me && session.now - **at < TYPING_SHOWN_MS)
            .map(|((_, a), _)| session.agent_name(*a))
            .collect();
        let mut head = column![title(name), muted(sub)].spacing(2);
        if !typing.is_empty() {
            head = head.push(
                text(format!("{} typing…", typing.join(", ")))
                    .size(SMALL)
                    .style(theme::texts::primary),
            );
        }
        let messages: Element<'a, Message> = match &self.chat {
            None => empty("Loading…"),
            Some(chat) if chat.messages.is_empty() => empty("No messages yet. Say hello."),
            Some(chat) => {
                let mut col = column![].spacing(10).padding([8, 16]);
                for m in &chat.messages {
                    let mine = m.author == me;
                    let who = if mine {
                        "You".to_string()
                    } else {
                        chat.agent_names
                            .get(&m.author)
                            .cloned()
                            .unwrap_or_else(|| session.agent_name(m.author))
                    };
                    let bubble = container(
                        column![
                            muted(format!(
                                "{who} · {}",
                                clock::stamp(session.now, m.at, session.zone)
                            )),
                            text(m.body.as_str()).size(TEXT)
                        ]
                        .spacing(3),
                    )
                    .padding([8, 12])
                    .max_width(520)
                    .style(if mine {
                        theme::boxes::bubble_mine
                    } else {
                        theme::boxes::bubble_theirs
                    });
                    col = col.push(if mine {
                        row![Space::new().width(Length::Fill), bubble]
                    } else {
                        row![bubble, Space::new().width(Length::Fill)]
                    });
                }
                scrollable(col)
                    .id(iced::widget::Id::new(MESSAGES_ID))
                    .anchor_bottom()
                    .height(Length::Fill)
                    .style(theme::inputs::scroll)
                    .into()
            }
        };
        let draft = text_input("Message", &self.draft)
            .id(DRAFT_ID)
            .on_input(Message::Draft)
            .on_submit(Message::Send)
            .padding(8)
            .size(TEXT)
            .style(theme::inputs::field);
        let send = button(text("Send").size(TEXT))
            .on_press_maybe(
                (!self.draft.trim().is_empty() && !self.sending).then_some(Message::Send),
            )
            .padding([8, 16])
            .style(theme::buttons::primary);
        let mut col = column![
            container(head).padding([12, 16]),
            widget::hrule(),
            container(messages).height(Length::Fill)
        ];
        if let Some(e) = &self.error {
            col = col.push(container(error_box(e)).padding([4, 16]));
        }
        col.push(
            container(row![draft, send].spacing(8).align_y(Alignment::Center)).padding([10, 16]),
        )
        .into()
    }
}
