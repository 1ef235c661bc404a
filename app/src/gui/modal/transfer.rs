//! Transfer: hand the interaction to a teammate (a directed offer) or back
//! to a campaign's queue (keeping its place), with a note for whoever takes it.

use iced::widget::{button, column, container, row, scrollable, text};
use iced::{Alignment, Length, Task};
use meshdesk_model::ops::{Request, TransferTo};
use meshdesk_model::{AgentId, AgentStatus, CampaignId, InteractionId};

use super::{Event, actions, frame};
use crate::gui::backend::{Backend, Error};
use crate::gui::screen::call;
use crate::gui::session::{Session, status_label, status_tone};
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, dialog_input, dot, error_box, field, muted};

/// What `update` gives back: work to run, and maybe an event for the parent.
type Update = (Task<Message>, Option<Event>);

pub const NOTE_ID: &str = "transfer-note";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Agent(AgentId),
    Campaign(CampaignId),
}

#[derive(Debug)]
pub struct Transfer {
    id: InteractionId,
    who: String,
    target: Option<Target>,
    note: String,
    tried: bool,
    busy: bool,
    error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Message {
    Pick(Target),
    Note(String),
    Confirm,
    Cancel,
    Done(String, Result<(), Error>),
}

impl Transfer {
    pub fn new(id: InteractionId, who: String) -> Transfer {
        Transfer {
            id,
            who,
            target: None,
            note: String::new(),
            tried: false,
            busy: false,
            error: None,
        }
    }

    fn target_name(&self, session: &Session) -> String {
        match self.target {
            Some(Target::Agent(a)) => session.agent_name(a),
            Some(Target::Campaign(c)) => session
                .campaign(c)
                .map(|c| c.name.clone())
                .unwrap_or_else(|| "the campaign".into()),
            None => String::new(),
        }
    }

    pub fn update(&mut self, message: Message, backend: &Backend) -> Update {
        match message {
            Message::Pick(t) => {
                self.target = Some(t);
                self.error = None;
                (iced::widget::operation::focus(NOTE_ID), None)
            }
            Message::Note(n) => {
                self.note = n;
                (Task::none(), None)
            }
            Message::Confirm => {
                self.tried = true;
                let Some(target) = self.target else {
                    return (Task::none(), None);
                };
                if self.busy {
                    return (Task::none(), None);
                }
                self.busy = true;
                self.error = None;
                let to = match target {
                    Target::Agent(a) => TransferTo::Agent(a.to_string()),
                    Target::Campaign(c) => TransferTo::Campaign(c.to_string()),
                };
                let note = self.note.trim();
                let request = Request::Transfer {
                    id: self.id,
                    to,
                    note: (!note.is_empty()).then(|| note.to_string()),
                };
                let label = match target {
                    Target::Agent(_) => "agent",
                    Target::Campaign(_) => "campaign",
                };
                (
                    call(backend, request, move |r| Message::Done(label.into(), r)),
                    None,
                )
            }
            Message::Cancel => (Task::none(), Some(Event::Close)),
            Message::Done(_, result) => {
                self.busy = false;
                match result {
                    Ok(()) => (
                        Task::none(),
                        Some(Event::Done {
                            toast: format!("Transferred {}.", self.who),
                            open: None,
                        }),
                    ),
                    Err(e) => {
                        self.error = Some(e.to_string());
                        (Task::none(), None)
                    }
                }
            }
        }
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        let mut agents = column![muted("To a teammate")].spacing(4);
        let mates = session.teammates();
        if mates.is_empty() {
            agents = agents.push(text("No teammates yet.").size(TEXT));
        }
        for a in mates {
            let status = session.status_of(a.id);
            let picked = self.target == Some(Target::Agent(a.id));
            agents = agents.push(
                button(
                    row![
                        dot(status_tone(&status)),
                        text(a.name.as_str()).size(TEXT).width(Length::Fill),
                        muted(status_label(&status)),
                    ]
                    .spacing(10)
                    .align_y(Alignment::Center),
                )
                .on_press(Message::Pick(Target::Agent(a.id)))
                .width(Length::Fill)
                .padding([7, 10])
                .style(theme::buttons::choice(picked)),
            );
        }
        let mut campaigns = column![muted("Back to a campaign's queue")].spacing(4);
        for c in session.team.iter().flat_map(|t| t.team.campaigns.values()) {
            let picked = self.target == Some(Target::Campaign(c.id));
            campaigns = campaigns.push(
                button(
                    row![
                        text(c.name.as_str()).size(TEXT).width(Length::Fill),
                        muted(c.strategy.as_str()),
                    ]
                    .spacing(10),
                )
                .on_press(Message::Pick(Target::Campaign(c.id)))
                .width(Length::Fill)
                .padding([7, 10])
                .style(theme::buttons::choice(picked)),
            );
        }
        let mut col = column![
            text(format!("Transfer {}", self.who)).size(18),
            container(
                scrollable(column![agents, campaigns].spacing(14))
                    .height(Length::Shrink)
                    .style(theme::inputs::scroll)
            )
            .max_height(360),
            field(
                "Note for whoever takes it (optional)",
                dialog_input(
                    NOTE_ID,
                    "Wants to upgrade; already verified",
                    &self.note,
                    Message::Note,
                    Message::Confirm
                ),
                None,
            ),
        ]
        .spacing(14);
        if let Some(Target::Agent(a)) = self.target
            && session.status_of(a) == AgentStatus::Offline
        {
            col = col.push(
                text(format!(
                    "{} is offline: the transfer waits until they are back.",
                    session.agent_name(a)
                ))
                .size(SMALL)
                .style(theme::texts::warning),
            );
        }
        if self.tried && self.target.is_none() {
            col = col.push(
                text("Choose a teammate or a campaign.")
                    .size(SMALL)
                    .style(theme::texts::danger),
            );
        }
        if let Some(e) = &self.error {
            col = col.push(error_box(e));
        }
        let label = match self.target {
            Some(_) => format!("Transfer to {}", self.target_name(session)),
            None => "Transfer".to_string(),
        };
        col = col.push(actions(
            Message::Cancel,
            label,
            (self.target.is_some() && !self.busy).then_some(Message::Confirm),
        ));
        frame(col, 460.0)
    }
}
