//! History: closed interactions of every channel, newest first; opening one
//! shows its full messages, the disposition, notes and transfers.

use iced::keyboard::{self, key};
use iced::widget::{Space, button, column, container, row};
use iced::{Alignment, Length, Task};
use meshdesk_model::InteractionId;
use meshdesk_model::ops::{InteractionDetail, InteractionRow, Reply, Request, Tab};

use super::{Rows, call, conversation, count_line};
use crate::gui::backend::Backend;
use crate::gui::clock;
use crate::gui::session::Session;
use crate::gui::theme;
use crate::gui::widget::{
    self, Element, SMALL, TEXT, empty, error_box, line, muted, split, virtual_list,
};

const LIST_ID: &str = "history-list";
const MESSAGES_ID: &str = "history-messages";

#[derive(Debug)]
pub struct History {
    pub rows: Rows,
    open: Option<Open>,
}

#[derive(Debug)]
struct Open {
    id: InteractionId,
    detail: Option<Box<InteractionDetail>>,
    seq: u64,
    error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Message {
    Loaded(u64, Result<Reply, String>),
    Scrolled(f32, f32),
    Open(InteractionId),
    DetailLoaded(InteractionId, u64, Result<Reply, String>),
}

impl Default for History {
    fn default() -> Self {
        History::new()
    }
}

impl History {
    pub fn new() -> History {
        History {
            rows: Rows::new(Tab::History, LIST_ID),
            open: None,
        }
    }

    pub fn reload(&mut self, backend: &Backend) -> Task<Message> {
        self.rows.reload(backend, Message::Loaded)
    }

    pub fn search(&mut self, query: String, backend: &Backend) -> Task<Message> {
        self.rows.search(query, backend, Message::Loaded)
    }

    /// Opens a closed interaction (from the list or from a contact's profile).
    pub fn open(&mut self, id: InteractionId, backend: &Backend) -> Task<Message> {
        if self.open.as_ref().map(|o| o.id) != Some(id) {
            self.open = Some(Open {
                id,
                detail: None,
                seq: 0,
                error: None,
            });
        }
        if let Some(i) = self.rows.position(id) {
            self.rows.list.cursor = Some(i);
        }
        let Some(open) = &mut self.open else {
            return Task::none();
        };
        open.seq += 1;
        let seq = open.seq;
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

    pub fn update(&mut self, message: Message, backend: &Backend) -> Task<Message> {
        match message {
            Message::Loaded(seq, result) => {
                self.rows.answered(seq, result, backend, Message::Loaded)
            }
            Message::Scrolled(offset, viewport) => {
                self.rows
                    .scrolled(offset, viewport, backend, Message::Loaded)
            }
            Message::Open(id) => self.open(id, backend),
            Message::DetailLoaded(id, seq, result) => {
                if let Some(open) = self.open.as_mut().filter(|o| o.id == id && o.seq == seq) {
                    match result {
                        Ok(Reply::Interaction(d)) => open.detail = Some(d),
                        Ok(_) => {}
                        Err(e) => open.error = Some(e),
                    }
                }
                Task::none()
            }
        }
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        split(self.list_view(session), self.detail_view(session))
    }

    fn list_view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        let rows = &self.rows;
        let header = container(muted(count_line(rows, "closed"))).padding([10, 14]);
        let body: Element<'a, Message> = if let Some(e) = &rows.error {
            container(error_box(e)).padding(12).into()
        } else if rows.loaded && rows.rows.is_empty() {
            if rows.query.trim().is_empty() {
                empty("No closed interactions yet.")
            } else {
                empty("No closed interaction matches.")
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
            return empty("Open a closed interaction to read it.");
        };
        let Some(detail) = open.detail.as_deref() else {
            return match &open.error {
                Some(e) => container(error_box(e)).padding(16).into(),
                None => empty("Loading…"),
            };
        };
        let state = muted(conversation::state_label(detail.state));
        let head = row![
            container(conversation::header(detail)).width(Length::Fill),
            state
        ]
        .spacing(16)
        .align_y(Alignment::Center);
        column![
            container(head).padding([12, 16]),
            widget::hrule(),
            row![
                container(conversation::messages(detail, session, MESSAGES_ID)).width(Length::Fill),
                column![
                    conversation::record(detail, session),
                    conversation::facts(detail, session)
                ]
                .spacing(10)
                .width(Length::Fixed(290.0))
                .padding(iced::Padding {
                    top: 10.0,
                    right: 12.0,
                    bottom: 12.0,
                    left: 0.0
                }),
            ]
        ]
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
    let when = s
        .finalized
        .as_ref()
        .map(|f| clock::ago(session.now, f.at, session.zone))
        .unwrap_or_default();
    let disposition = s
        .finalized
        .as_ref()
        .map(|f| f.disposition.as_str())
        .unwrap_or("");
    let label = format!("{disposition} · {}", r.campaign_name);
    button(
        column![
            row![line(name, 30).size(TEXT).width(Length::Fill), muted(when)]
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
