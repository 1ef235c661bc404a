//! Pending: what routing shows this agent. With a ring-all campaign the
//! whole queue, to pick from; with a push strategy what is offered to this
//! agent (until the offer expires); transfers directed to this agent. Accept
//! or Decline; waiting times tick.

use iced::keyboard::{self, key};
use iced::widget::{Space, button, column, container, row, text};
use iced::{Alignment, Length, Task};
use meshdesk_model::ops::{InteractionDetail, InteractionRow, Reply, Request, Tab};
use meshdesk_model::routing::OfferKind;
use meshdesk_model::{InteractionId, InteractionState};

use super::{Rows, Toast, call, conversation, count_line};
use crate::gui::backend::Backend;
use crate::gui::clock;
use crate::gui::session::Session;
use crate::gui::theme;
use crate::gui::widget::{
    self, Element, SMALL, TEXT, empty, error_box, line, muted, split, virtual_list,
};

const LIST_ID: &str = "pending-list";
const MESSAGES_ID: &str = "pending-messages";

#[derive(Debug)]
pub struct Pending {
    pub rows: Rows,
    open: Option<Open>,
}

#[derive(Debug)]
struct Open {
    id: InteractionId,
    detail: Option<Box<InteractionDetail>>,
    seq: u64,
    busy: bool,
    error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Message {
    Loaded(u64, Result<Reply, String>),
    Scrolled(f32, f32),
    Open(InteractionId),
    DetailLoaded(InteractionId, u64, Result<Reply, String>),
    Accept(InteractionId),
    Accepted(InteractionId, Result<Reply, String>),
    Decline(InteractionId),
    Declined(InteractionId, Result<Reply, String>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Toast(Toast),
    /// This agent now owns it: show it in Active.
    Accepted(InteractionId),
}

impl Default for Pending {
    fn default() -> Self {
        Pending::new()
    }
}

/// How an offer reads.
pub fn offer_label(row: &InteractionRow, now: i64) -> String {
    match row.offer {
        Some(OfferKind::RingAll) => "Ring-all: first to accept takes it".into(),
        Some(OfferKind::Push) => match row.offer_expires_at {
            Some(at) => format!(
                "Offered to you · {} left",
                clock::duration((at - now).max(0) / 1000)
            ),
            None => "Offered to you".into(),
        },
        Some(OfferKind::Directed) => "Transferred to you".into(),
        Some(OfferKind::UnknownCampaign) => "In a campaign this device does not know yet".into(),
        None => "Queued".into(),
    }
}

impl Pending {
    pub fn new() -> Pending {
        Pending {
            rows: Rows::new(Tab::Pending, LIST_ID),
            open: None,
        }
    }

    pub fn reload(&mut self, backend: &Backend) -> Task<Message> {
        let list = self.rows.reload(backend, Message::Loaded);
        Task::batch([list, self.load_detail(backend)])
    }

    pub fn search(&mut self, query: String, backend: &Backend) -> Task<Message> {
        self.rows.search(query, backend, Message::Loaded)
    }

    fn open(&mut self, id: InteractionId, backend: &Backend) -> Task<Message> {
        if self.open.as_ref().map(|o| o.id) != Some(id) {
            self.open = Some(Open {
                id,
                detail: None,
                seq: 0,
                busy: false,
                error: None,
            });
        }
        if let Some(i) = self.rows.position(id) {
            self.rows.list.cursor = Some(i);
        }
        self.load_detail(backend)
    }

    fn load_detail(&mut self, backend: &Backend) -> Task<Message> {
        let Some(open) = &mut self.open else {
            return Task::none();
        };
        open.seq += 1;
        let (id, seq) = (open.id, open.seq);
        call(
            backend,
            Request::ShowInteraction { id: id.to_string() },
            move |r| Message::DetailLoaded(id, seq, r),
        )
    }

    pub fn key(&mut self, key: &keyboard::Key, backend: &Backend) -> Task<Message> {
        match key.as_ref() {
            keyboard::Key::Named(key::Named::ArrowUp) => {
                self.rows.list.move_cursor(-1, self.rows.rows.len())
            }
            keyboard::Key::Named(key::Named::ArrowDown) => {
                self.rows.list.move_cursor(1, self.rows.rows.len())
            }
            keyboard::Key::Named(key::Named::Enter) => match self.rows.cursor_row() {
                Some(r) => {
                    let id = r.summary.id;
                    self.open(id, backend)
                }
                None => Task::none(),
            },
            _ => Task::none(),
        }
    }

    pub fn update(
        &mut self,
        message: Message,
        backend: &Backend,
    ) -> (Task<Message>, Option<Event>) {
        match message {
            Message::Loaded(seq, result) => {
                let task = self.rows.answered(seq, result, backend, Message::Loaded);
                (task, None)
            }
            Message::Scrolled(offset, viewport) => (
                self.rows
                    .scrolled(offset, viewport, backend, Message::Loaded),
                None,
            ),
            Message::Open(id) => (self.open(id, backend), None),
            Message::DetailLoaded(id, seq, result) => {
                if let Some(open) = self.open.as_mut().filter(|o| o.id == id && o.seq == seq) {
                    match result {
                        Ok(Reply::Interaction(d)) => open.detail = Some(d),
                        Ok(_) => {}
                        Err(e) => open.error = Some(e),
                    }
                }
                (Task::none(), None)
            }
            Message::Accept(id) => {
                if let Some(open) = self.open.as_mut().filter(|o| o.id == id) {
                    open.busy = true;
                    open.error = None;
                }
                (
                    call(backend, Request::Accept { id: id.to_string() }, move |r| {
                        Message::Accepted(id, r)
                    }),
                    None,
                )
            }
            Message::Accepted(id, result) => {
                if let Some(open) = self.open.as_mut().filter(|o| o.id == id) {
                    open.busy = false;
                }
                match result {
                    Ok(_) => {
                        if self.open.as_ref().is_some_and(|o| o.id == id) {
                            self.open = None;
                        }
                        (Task::none(), Some(Event::Accepted(id)))
                    }
                    Err(e) => {
                        if let Some(open) = self.open.as_mut().filter(|o| o.id == id) {
                            open.error = Some(e.clone());
                        }
                        (self.reload(backend), Some(Event::Toast(Toast::Error(e))))
                    }
                }
            }
            Message::Decline(id) => {
                if let Some(open) = self.open.as_mut().filter(|o| o.id == id) {
                    open.busy = true;
                    open.error = None;
                }
                (
                    call(backend, Request::Decline { id: id.to_string() }, move |r| {
                        Message::Declined(id, r)
                    }),
                    None,
                )
            }
            Message::Declined(id, result) => {
                if let Some(open) = self.open.as_mut().filter(|o| o.id == id) {
                    open.busy = false;
                }
                match result {
                    Ok(_) => {
                        if self.open.as_ref().is_some_and(|o| o.id == id) {
                            self.open = None;
                        }
                        (
                            Task::none(),
                            Some(Event::Toast(Toast::Info("Declined.".into()))),
                        )
                    }
                    Err(e) => {
                        if let Some(open) = self.open.as_mut().filter(|o| o.id == id) {
                            open.error = Some(e.clone());
                        }
                        (self.reload(backend), Some(Event::Toast(Toast::Error(e))))
                    }
                }
            }
        }
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        split(self.list_view(session), self.detail_view(session))
    }

    fn list_view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        let rows = &self.rows;
        let header = container(muted(count_line(rows, "waiting"))).padding([10, 14]);
        let body: Element<'a, Message> = if let Some(e) = &rows.error {
            container(error_box(e)).padding(12).into()
        } else if rows.loaded && rows.rows.is_empty() {
            if rows.query.trim().is_empty() {
                empty("Nothing waiting for you.")
            } else {
                empty("No pending interaction matches.")
            }
        } else {
            let open = self.open.as_ref().map(|o| o.id);
            virtual_list(&rows.list, rows.rows.len(), Message::Scrolled, move |i| {
                let r = &rows.rows[i];
                row_view(
                    r,
                    open == Some(r.summary.id) || rows.list.cursor == Some(i),
                    session,
                )
            })
        };
        column![header, body].into()
    }

    fn detail_view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        let Some(open) = &self.open else {
            return empty("Pick an interaction to see it before accepting.");
        };
        let Some(detail) = open.detail.as_deref() else {
            return match &open.error {
                Some(e) => container(error_box(e)).padding(16).into(),
                None => empty("Loading…"),
            };
        };
        let id = open.id;
        let queued = detail.state == InteractionState::Queued;
        let actions = row![
            button(text("Decline").size(TEXT))
                .on_press_maybe((queued && !open.busy).then_some(Message::Decline(id)))
                .padding([8, 16])
                .style(theme::buttons::secondary),
            button(text("Accept").size(TEXT))
                .on_press_maybe((queued && !open.busy).then_some(Message::Accept(id)))
                .padding([8, 16])
                .style(theme::buttons::primary),
        ]
        .spacing(8);
        let row = self.rows.rows.iter().find(|r| r.summary.id == id);
        let mut info = column![muted(format!(
            "Waiting {}",
            clock::elapsed(session.now, detail.interaction.enqueued_at)
        ))]
        .spacing(2)
        .align_x(Alignment::End);
        if let Some(r) = row {
            info = info.push(muted(offer_label(r, session.now)));
        }
        let head = row![
            container(conversation::header(detail)).width(Length::Fill),
            info,
            actions
        ]
        .spacing(16)
        .align_y(Alignment::Center);
        let mut main = column![container(head).padding([12, 16])];
        if let Some(t) = detail.interaction.transfers.last() {
            let from = session.agent_name(t.from);
            let note = if t.note.is_empty() {
                String::new()
            } else {
                format!(": “{}”", t.note)
            };
            main = main.push(conversation::banner(format!("Transferred by {from}{note}")));
        }
        if !queued {
            main = main.push(conversation::banner(format!(
                "No longer waiting: {}.",
                conversation::state_label(detail.state).to_lowercase()
            )));
        }
        if let Some(e) = &open.error {
            main = main.push(container(error_box(e)).padding([4, 16]));
        }
        main = main.push(widget::hrule());
        main.push(row![
            container(conversation::messages(detail, session, MESSAGES_ID)).width(Length::Fill),
            container(conversation::facts(detail, session))
                .width(Length::Fixed(270.0))
                .padding(iced::Padding {
                    top: 10.0,
                    right: 12.0,
                    bottom: 12.0,
                    left: 0.0
                }),
        ])
        .into()
    }
}

fn row_view<'a>(
    r: &'a InteractionRow,
    selected: bool,
    session: &'a Session,
) -> Element<'a, Message> {
    let s = &r.summary;
    let name = if s.contact_name.is_empty() {
        s.address.as_str()
    } else {
        s.contact_name.as_str()
    };
    let waited = text(clock::elapsed(session.now, s.enqueued_at))
        .size(SMALL)
        .style(theme::texts::warning);
    let label = format!("{} · {}", r.campaign_name, offer_label(r, session.now));
    button(
        column![
            row![line(name, 30).size(TEXT).width(Length::Fill), waited]
                .spacing(6)
                .align_y(Alignment::Center),
            row![
                line(&label, 44).size(SMALL).style(theme::texts::muted),
                Space::new().width(Length::Fill)
            ],
        ]
        .spacing(4),
    )
    .on_press(Message::Open(s.id))
    .width(Length::Fill)
    .height(Length::Fill)
    .padding([8, 10])
    .style(theme::buttons::item(selected))
    .into()
}
