//! Finalize: close the interaction with a disposition from its campaign's
//! list (required) and an optional note; the agent then has the campaign's
//! wrap-up time before new work is routed to them.

use iced::widget::{button, column, text};
use iced::{Length, Task};
use meshdesk_model::ops::Request;
use meshdesk_model::{CampaignId, InteractionId};

use super::{Event, actions, frame};
use crate::gui::backend::{Backend, Error};
use crate::gui::screen::call;
use crate::gui::session::Session;
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, dialog_input, error_box, field, muted};

/// What `update` gives back: work to run, and maybe an event for the parent.
type Update = (Task<Message>, Option<Event>);

pub const NOTE_ID: &str = "finalize-note";

#[derive(Debug)]
pub struct Finalize {
    id: InteractionId,
    who: String,
    campaign: CampaignId,
    disposition: Option<String>,
    note: String,
    tried: bool,
    busy: bool,
    error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Message {
    Pick(String),
    Note(String),
    Confirm,
    Cancel,
    Done(Result<(), Error>),
}

impl Finalize {
    pub fn new(id: InteractionId, who: String, campaign: CampaignId) -> Finalize {
        Finalize {
            id,
            who,
            campaign,
            disposition: None,
            note: String::new(),
            tried: false,
            busy: false,
            error: None,
        }
    }

    pub fn update(&mut self, message: Message, backend: &Backend, session: &Session) -> Update {
        match message {
            Message::Pick(d) => {
                self.disposition = Some(d);
                self.error = None;
                (iced::widget::operation::focus(NOTE_ID), None)
            }
            Message::Note(n) => {
                self.note = n;
                (Task::none(), None)
            }
            Message::Confirm => {
                self.tried = true;
                let Some(disposition) = self.disposition.clone() else {
                    return (Task::none(), None);
                };
                if self.busy {
                    return (Task::none(), None);
                }
                self.busy = true;
                self.error = None;
                let note = self.note.trim();
                let request = Request::Finalize {
                    id: self.id,
                    disposition,
                    note: (!note.is_empty()).then(|| note.to_string()),
                };
                (call(backend, request, Message::Done), None)
            }
            Message::Cancel => (Task::none(), Some(Event::Close)),
            Message::Done(result) => {
                self.busy = false;
                match result {
                    Ok(()) => {
                        let wrapup = session
                            .campaign(self.campaign)
                            .map(|c| c.wrapup_seconds)
                            .unwrap_or(0);
                        let toast = if wrapup > 0 {
                            format!(
                                "Finalized {}. Wrap-up: {} s before new work.",
                                self.who, wrapup
                            )
                        } else {
                            format!("Finalized {}.", self.who)
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
        let campaign = session.campaign(self.campaign);
        let mut choices = column![muted("Disposition (required)")].spacing(4);
        match campaign {
            Some(c) if !c.dispositions.is_empty() => {
                for d in &c.dispositions {
                    let picked = self.disposition.as_deref() == Some(d.as_str());
                    choices = choices.push(
                        button(text(d.as_str()).size(TEXT))
                            .on_press(Message::Pick(d.clone()))
                            .width(Length::Fill)
                            .padding([7, 10])
                            .style(theme::buttons::choice(picked)),
                    );
                }
            }
            _ => {
                choices = choices.push(error_box(
                    "This campaign is not known on this computer yet; wait for the team to sync.",
                ));
            }
        }
        let mut col = column![
            text(format!("Finalize {}", self.who)).size(18),
            choices,
            field(
                "Note (optional)",
                dialog_input(
                    NOTE_ID,
                    "What was agreed",
                    &self.note,
                    Message::Note,
                    Message::Confirm
                ),
                None,
            ),
        ]
        .spacing(14);
        if self.tried && self.disposition.is_none() {
            col = col.push(
                text("Choose a disposition to finalize.")
                    .size(SMALL)
                    .style(theme::texts::danger),
            );
        }
        if let Some(e) = &self.error {
            col = col.push(error_box(e));
        }
        col = col.push(actions(
            Message::Cancel,
            "Finalize",
            (self.disposition.is_some() && !self.busy).then_some(Message::Confirm),
        ));
        frame(col, 420.0)
    }
}
