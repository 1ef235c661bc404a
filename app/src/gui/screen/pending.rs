//! Pending: what routing shows this agent. With a ring-all campaign the
//! whole queue, to pick from; with a push strategy what is offered to this
//! agent (until the offer expires); transfers directed to this agent. Accept
//! or Decline; waiting times tick.

use iced::keyboard;
use iced::widget::{button, column, container, row, text};
use iced::{Alignment, Length, Task};
use meshdesk_model::blobs::{Attachment, BlobHash};
use meshdesk_model::ops::{InteractionDetail, InteractionRow, Request, Tab};
use meshdesk_model::routing::OfferKind;
use meshdesk_model::{InteractionId, InteractionState};

use super::list::{self, Cells, List};
use super::{Toast, call, conversation};
use crate::gui::backend::{Backend, Error};
use crate::gui::clock;
use crate::gui::session::Session;
use crate::gui::theme;
use crate::gui::widget::{self, Element, SMALL, TEXT, error_box, muted};

const LIST_ID: &str = "pending-list";
const MESSAGES_ID: &str = "pending-messages";

const TEXTS: list::Texts = list::Texts {
    counted: "waiting",
    empty: "Nothing waiting for you.",
    no_match: "No pending interaction matches.",
    nothing_open: "Pick an interaction to see it before accepting.",
};

/// What `update` gives back: work to run, and maybe an event for the parent.
type Update = (Task<Message>, Option<Event>);

#[derive(Debug)]
pub struct Pending {
    pub list: List<Offer>,
    /// The open interaction's pictures, fetched through the node.
    files: conversation::Files,
}

/// Beside the open interaction: whether the agent's answer is under way.
#[derive(Debug, Default)]
pub struct Offer {
    answering: bool,
}

/// The agent's answer to what is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Decline,
}

#[derive(Debug, Clone)]
pub enum Message {
    List(list::Message),
    Answer(InteractionId, Answer),
    Answered(InteractionId, Answer, Result<(), Error>),
    FileLoaded(BlobHash, Result<Vec<u8>, Error>),
    SaveFile(Attachment),
    FileSaved(Result<std::path::PathBuf, Error>),
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
            list: List::new(Tab::Pending, LIST_ID, TEXTS),
            files: conversation::Files::default(),
        }
    }

    /// Re-reads the list and the interaction open beside it.
    pub fn reload(&mut self, backend: &Backend) -> Task<Message> {
        let list = self.list.reload(backend);
        Task::batch([list, self.list.load_detail(backend)]).map(Message::List)
    }

    pub fn search(&mut self, query: String, backend: &Backend) -> Task<Message> {
        self.list.search(query, backend).map(Message::List)
    }

    pub fn key(&mut self, key: &keyboard::Key, backend: &Backend) -> Task<Message> {
        let (task, _opened) = self.list.key(key, backend);
        task.map(Message::List)
    }

    pub fn update(&mut self, message: Message, backend: &Backend) -> Update {
        match message {
            Message::List(msg) => {
                let (task, _event) = self.list.update(msg, backend);
                let files = match self.list.open_ref().and_then(|o| o.detail.as_deref()) {
                    Some(detail) => self.files.fetch(detail, backend, Message::FileLoaded),
                    None => Task::none(),
                };
                (Task::batch([task.map(Message::List), files]), None)
            }
            Message::FileLoaded(hash, result) => {
                self.files.loaded(hash, result.map_err(|e| e.to_string()));
                (Task::none(), None)
            }
            Message::SaveFile(file) => (
                conversation::save_file(backend, file, Message::FileSaved),
                None,
            ),
            Message::FileSaved(result) => (
                Task::none(),
                Some(Event::Toast(conversation::saved_toast(result))),
            ),
            Message::Answer(id, answer) => {
                if let Some(open) = self.list.selected_mut(id) {
                    open.extra.answering = true;
                    open.error = None;
                }
                let request = match answer {
                    Answer::Accept => Request::Accept { id },
                    Answer::Decline => Request::Decline { id },
                };
                let task = call(backend, request, move |r| Message::Answered(id, answer, r));
                (task, None)
            }
            Message::Answered(id, answer, result) => {
                if let Some(open) = self.list.selected_mut(id) {
                    open.extra.answering = false;
                }
                match result {
                    Ok(()) => {
                        self.list.close(id);
                        let event = match answer {
                            Answer::Accept => Event::Accepted(id),
                            Answer::Decline => Event::Toast(Toast::Info("Declined.".into())),
                        };
                        (Task::none(), Some(event))
                    }
                    Err(e) => {
                        if let Some(open) = self.list.selected_mut(id) {
                            open.error = Some(e.to_string());
                        }
                        (
                            self.reload(backend),
                            Some(Event::Toast(Toast::Error(e.to_string()))),
                        )
                    }
                }
            }
        }
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        self.list.view(
            move |r| cells(r, session),
            move |open, detail| self.detail_view(open, detail, session),
            Message::List,
        )
    }

    fn detail_view<'a>(
        &'a self,
        open: &'a list::Open<Offer>,
        detail: &'a InteractionDetail,
        session: &'a Session,
    ) -> Element<'a, Message> {
        let id = open.id;
        let queued = detail.state == InteractionState::Queued;
        let answerable = queued && !open.extra.answering;
        let actions = row![
            button(text("Decline").size(TEXT))
                .on_press_maybe(answerable.then_some(Message::Answer(id, Answer::Decline)))
                .padding([8, 16])
                .style(theme::buttons::secondary),
            button(text("Accept").size(TEXT))
                .on_press_maybe(answerable.then_some(Message::Answer(id, Answer::Accept)))
                .padding([8, 16])
                .style(theme::buttons::primary),
        ]
        .spacing(8);
        let row = self.list.rows.rows.iter().find(|r| r.summary.id == id);
        let mut info = column![muted(format!(
            "Waiting {}",
            clock::elapsed(session.now, detail.interaction.enqueued_at)
        ))]
        .spacing(2)
        .align_x(Alignment::End);
        if let Some(r) = row {
            info = info.push(muted(offer_label(r, session.now)));
        }
        let head = conversation::head(detail, [info.into(), actions.into()]);
        let mut main = column![head];
        let last = detail.interaction.transfers.len().checked_sub(1);
        let taken = last.and_then(|n| {
            detail
                .interaction
                .take_back_line(n, |a| session.agent_name(a))
        });
        if let Some(line) = taken {
            // Whoever takes it next reads why it came back.
            main = main.push(conversation::banner(line));
        } else if let Some(t) = detail.interaction.transfers.last() {
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
            container(conversation::messages(
                detail,
                session,
                MESSAGES_ID,
                &self.files,
                Some(Message::SaveFile),
            ))
            .width(Length::Fill),
            conversation::facts_pane(detail, session),
        ])
        .into()
    }
}

/// How long it has waited; its campaign and how it is offered.
fn cells<'a>(r: &'a InteractionRow, session: &'a Session) -> Cells<'a> {
    let waited = text(clock::elapsed(session.now, r.summary.enqueued_at))
        .size(SMALL)
        .style(theme::texts::warning);
    let label = format!("{} · {}", r.campaign_name, offer_label(r, session.now));
    Cells {
        aside: waited.into(),
        below: list::caption(&label),
    }
}
