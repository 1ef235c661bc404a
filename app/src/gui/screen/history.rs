//! History: closed interactions of every channel, newest first; opening one
//! shows its full messages, the disposition, notes and transfers.

use iced::keyboard;
use iced::widget::{column, container, row};
use iced::{Length, Task};
use meshdesk_model::InteractionId;
use meshdesk_model::ops::{InteractionDetail, InteractionRow, Tab};

use super::conversation;
use super::list::{self, Cells, List};
use crate::gui::backend::Backend;
use crate::gui::clock;
use crate::gui::session::Session;
use crate::gui::widget::{self, Element, muted};

const LIST_ID: &str = "history-list";
const MESSAGES_ID: &str = "history-messages";

const TEXTS: list::Texts = list::Texts {
    counted: "closed",
    empty: "No closed interactions yet.",
    no_match: "No closed interaction matches.",
    nothing_open: "Open a closed interaction to read it.",
};

#[derive(Debug)]
pub struct History {
    pub list: List<()>,
}

#[derive(Debug, Clone)]
pub enum Message {
    List(list::Message),
}

impl Default for History {
    fn default() -> Self {
        History::new()
    }
}

impl History {
    pub fn new() -> History {
        History {
            list: List::new(Tab::History, LIST_ID, TEXTS),
        }
    }

    pub fn reload(&mut self, backend: &Backend) -> Task<Message> {
        self.list.reload(backend).map(Message::List)
    }

    pub fn search(&mut self, query: String, backend: &Backend) -> Task<Message> {
        self.list.search(query, backend).map(Message::List)
    }

    /// Opens a closed interaction (from the list or from a contact's profile).
    pub fn open(&mut self, id: InteractionId, backend: &Backend) -> Task<Message> {
        self.list.open(id, backend).map(Message::List)
    }

    pub fn key(&mut self, key: &keyboard::Key, backend: &Backend) -> Task<Message> {
        let (task, _opened) = self.list.key(key, backend);
        task.map(Message::List)
    }

    pub fn update(&mut self, message: Message, backend: &Backend) -> Task<Message> {
        match message {
            Message::List(msg) => {
                let (task, _event) = self.list.update(msg, backend);
                task.map(Message::List)
            }
        }
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        self.list.view(
            move |r| cells(r, session),
            move |_, detail| detail_view(detail, session),
            Message::List,
        )
    }
}

fn detail_view<'a>(detail: &'a InteractionDetail, session: &'a Session) -> Element<'a, Message> {
    let state = muted(conversation::state_label(detail.state));
    let head = conversation::head(detail, [state.into()]);
    column![
        head,
        widget::hrule(),
        row![
            container(conversation::messages(detail, session, MESSAGES_ID)).width(Length::Fill),
            column![
                conversation::record(detail, session),
                conversation::facts(detail, session)
            ]
            .spacing(10)
            .width(Length::Fixed(290.0))
            .padding(conversation::SIDE_PADDING),
        ]
    ]
    .into()
}

/// When it closed; its disposition and campaign.
fn cells<'a>(r: &'a InteractionRow, session: &'a Session) -> Cells<'a> {
    let s = &r.summary;
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
    Cells {
        aside: muted(when).into(),
        below: list::caption(&format!("{disposition} · {}", r.campaign_name)),
    }
}
