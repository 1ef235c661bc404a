//! Break reasons: the reasons agents pick when they take a break. Removing
//! one leaves the breaks already taken with their reason.

use iced::widget::{column, container, row, scrollable, text, text_input};
use iced::{Alignment, Length, Task};
use meshdesk_model::ops::{Request, TeamOverview};

use super::{SectionUpdate, primary, secondary, settle};
use crate::gui::backend::{Backend, Error};
use crate::gui::screen::{Toast, call};
use crate::gui::theme;
use crate::gui::widget::{Element, TEXT, error_box, muted};

pub const NEW_ID: &str = "break-reason-new";

#[derive(Debug, Default)]
pub struct Breaks {
    new: String,
    busy: bool,
    error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Message {
    New(String),
    Add,
    Remove(String),
    Added(Result<(), Error>),
    Removed(String, Result<(), Error>),
}

impl Breaks {
    pub fn update(&mut self, message: Message, backend: &Backend) -> SectionUpdate<Message> {
        match message {
            Message::New(v) => self.new = v,
            Message::Add => {
                self.busy = true;
                self.error = None;
                let name = self.new.clone();
                return (
                    call(backend, Request::AddBreakReason { name }, Message::Added),
                    None,
                );
            }
            Message::Remove(name) => {
                self.busy = true;
                self.error = None;
                let request = Request::RemoveBreakReason { name: name.clone() };
                let done = move |r| Message::Removed(name, r);
                return (call(backend, request, done), None);
            }
            Message::Added(result) => {
                if let Some(()) = settle(&mut self.busy, &mut self.error, result) {
                    let toast = format!("Added the break reason {}.", self.new.trim());
                    self.new.clear();
                    return (Task::none(), Some(Toast::Info(toast)));
                }
            }
            Message::Removed(name, result) => {
                if let Some(()) = settle(&mut self.busy, &mut self.error, result) {
                    let toast = format!("Removed the break reason {name}.");
                    return (Task::none(), Some(Toast::Info(toast)));
                }
            }
        }
        (Task::none(), None)
    }

    pub fn view<'a>(&'a self, team: &'a TeamOverview) -> Element<'a, Message> {
        let mut col = column![
            text("Break reasons").size(18),
            muted("Agents pick one of these when they take a break."),
        ]
        .spacing(10)
        .padding(20)
        .max_width(560);
        if team.team.break_reasons.is_empty() {
            col = col.push(muted("No break reasons: agents take plain breaks."));
        }
        for reason in &team.team.break_reasons {
            col = col.push(
                container(
                    row![
                        text(reason.as_str()).size(TEXT).width(Length::Fill),
                        secondary("Remove", Message::Remove(reason.clone())),
                    ]
                    .align_y(Alignment::Center),
                )
                .padding([6, 10])
                .style(theme::boxes::card),
            );
        }
        col = col.push(
            row![
                text_input("A new reason, e.g. Coaching", &self.new)
                    .id(NEW_ID)
                    .on_input(Message::New)
                    .on_submit(Message::Add)
                    .padding(8)
                    .size(TEXT)
                    .style(theme::inputs::field),
                primary("Add reason", Message::Add, self.busy),
            ]
            .spacing(8)
            .align_y(Alignment::Center),
        );
        if let Some(e) = &self.error {
            col = col.push(error_box(e));
        }
        scrollable(col).height(Length::Fill).into()
    }
}
