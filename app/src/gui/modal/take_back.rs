//! Taking work back. The owner returns an interaction to its campaign's
//! queue; a supervisor takes someone else's back to the queue or hands it
//! to another teammate. Either way a reason is asked for: the agent who
//! loses the interaction is told it, and the history keeps it.

use iced::widget::{button, column, container, row, scrollable, text};
use iced::{Alignment, Length, Task};
use meshdesk_model::ops::Request;
use meshdesk_model::{AgentId, InteractionId};

use super::{Event, actions, frame};
use crate::gui::backend::{Backend, Error};
use crate::gui::screen::call;
use crate::gui::session::{Session, status_label, status_tone};
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, dialog_input, dot, error_box, field, muted};

/// What `update` gives back: work to run, and maybe an event for the parent.
type Update = (Task<Message>, Option<Event>);

pub const REASON_ID: &str = "take-back-reason";

/// Whose interaction it is, which decides what the dialog offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The agent's own: back to the queue.
    Return,
    /// A supervisor's look at a teammate's (`owner`): back to the queue or
    /// to another teammate.
    Supervise { owner: AgentId },
}

#[derive(Debug)]
pub struct TakeBack {
    id: InteractionId,
    who: String,
    mode: Mode,
    /// A teammate to hand it to; none: back to the queue.
    to: Option<AgentId>,
    reason: String,
    tried: bool,
    busy: bool,
    error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Message {
    /// Back to the queue (`None`) or to this teammate.
    Pick(Option<AgentId>),
    Reason(String),
    Confirm,
    Cancel,
    Done(Result<(), Error>),
}

impl TakeBack {
    pub fn new(id: InteractionId, who: String, mode: Mode) -> TakeBack {
        TakeBack {
            id,
            who,
            mode,
            to: None,
            reason: String::new(),
            tried: false,
            busy: false,
            error: None,
        }
    }

    /// Opening the dialog puts the cursor in the reason.
    pub fn focus() -> Task<Message> {
        iced::widget::operation::focus(REASON_ID)
    }

    pub fn update(&mut self, message: Message, backend: &Backend, session: &Session) -> Update {
        match message {
            Message::Pick(to) => {
                self.to = to;
                self.error = None;
                (Self::focus(), None)
            }
            Message::Reason(r) => {
                self.reason = r;
                (Task::none(), None)
            }
            Message::Confirm => {
                self.tried = true;
                let reason = self.reason.trim().to_string();
                if reason.is_empty() || self.busy {
                    return (Task::none(), None);
                }
                self.busy = true;
                self.error = None;
                let id = self.id;
                let request = match (self.mode, self.to) {
                    (Mode::Return, _) => Request::ReturnToQueue { id, reason },
                    (Mode::Supervise { .. }, None) => Request::PullBack { id, reason },
                    (Mode::Supervise { .. }, Some(to)) => Request::HandOver {
                        id,
                        to: to.to_string(),
                        reason,
                    },
                };
                (call(backend, request, Message::Done), None)
            }
            Message::Cancel => (Task::none(), Some(Event::Close)),
            Message::Done(result) => {
                self.busy = false;
                match result {
                    Ok(()) => {
                        let toast = match (self.mode, self.to) {
                            (Mode::Return, _) => {
                                format!("Returned {} to the queue.", self.who)
                            }
                            (Mode::Supervise { owner }, None) => format!(
                                "Took {} back from {} to the queue.",
                                self.who,
                                session.agent_name(owner)
                            ),
                            (Mode::Supervise { owner }, Some(to)) => format!(
                                "Handed {} from {} to {}.",
                                self.who,
                                session.agent_name(owner),
                                session.agent_name(to)
                            ),
                        };
                        (Task::none(), Some(Event::Done { toast, open: None }))
                    }
                    Err(e) => {
                        self.error = Some(e.to_string());
                        (Task::none(), None)
                    }
                }
            }
        }
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        let (title, hint) = match self.mode {
            Mode::Return => (
                format!("Return {} to the queue", self.who),
                "It goes back to its campaign's queue and is offered to your teammates."
                    .to_string(),
            ),
            Mode::Supervise { owner } => (
                format!("Take {} back", self.who),
                format!(
                    "{} has it now. They are told it left, and why.",
                    session.agent_name(owner)
                ),
            ),
        };
        let mut col = column![text(title).size(18), muted(hint)].spacing(14);
        if let Mode::Supervise { owner } = self.mode {
            let choice = |label: String, to: Option<AgentId>| {
                button(text(label).size(TEXT).width(Length::Fill))
                    .on_press(Message::Pick(to))
                    .width(Length::Fill)
                    .padding([7, 10])
                    .style(theme::buttons::choice(self.to == to))
            };
            let mut targets = column![
                muted("Where it goes"),
                choice("Back to the queue".into(), None)
            ]
            .spacing(4);
            for a in session.teammates().into_iter().filter(|a| a.id != owner) {
                let status = session.status_of(a.id);
                let picked = self.to == Some(a.id);
                targets = targets.push(
                    button(
                        row![
                            dot(status_tone(&status)),
                            text(format!("Hand to {}", a.name))
                                .size(TEXT)
                                .width(Length::Fill),
                            muted(status_label(&status)),
                        ]
                        .spacing(10)
                        .align_y(Alignment::Center),
                    )
                    .on_press(Message::Pick(Some(a.id)))
                    .width(Length::Fill)
                    .padding([7, 10])
                    .style(theme::buttons::choice(picked)),
                );
            }
            col = col.push(
                container(
                    scrollable(targets)
                        .height(Length::Shrink)
                        .style(theme::inputs::scroll),
                )
                .max_height(260),
            );
        }
        col = col.push(field(
            "Reason (required)",
            dialog_input(
                REASON_ID,
                "Customer asked for a manager",
                &self.reason,
                Message::Reason,
                Message::Confirm,
            ),
            None,
        ));
        if self.tried && self.reason.trim().is_empty() {
            col = col.push(
                text("Say why: the agent who loses it is told.")
                    .size(SMALL)
                    .style(theme::texts::danger),
            );
        }
        if let Some(e) = &self.error {
            col = col.push(error_box(e));
        }
        let label = match (self.mode, self.to) {
            (Mode::Supervise { .. }, Some(to)) => format!("Hand to {}", session.agent_name(to)),
            _ => "Return to queue".to_string(),
        };
        col = col.push(actions(
            Message::Cancel,
            label,
            (!self.busy).then_some(Message::Confirm),
        ));
        frame(col, 460.0)
    }
}
