//! Snooze and Schedule callback: the owner sets an active interaction
//! aside until a time. It leaves Active (the "Snoozed" line lists it) and
//! comes back with a notification when due. The time is a length from now
//! (`2h`, `45m`) or a moment (`2026-12-03 09:00`, the agent's time zone);
//! the quick choices fill it in.

use chrono::{Days, NaiveTime};
use iced::Task;
use iced::widget::{button, column, row, text};
use meshdesk_model::ops::Request;
use meshdesk_model::{InteractionId, Millis, SnoozeKind};

use super::{Event, actions, frame};
use crate::dates;
use crate::gui::backend::{Backend, Error};
use crate::gui::clock::{self, Zone};
use crate::gui::screen::call;
use crate::gui::session::Session;
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, dialog_input, error_box, field, muted};

/// What `update` gives back: work to run, and maybe an event for the parent.
type Update = (Task<Message>, Option<Event>);

pub const WHEN_ID: &str = "snooze-when";
pub const NOTE_ID: &str = "snooze-note";

#[derive(Debug)]
pub struct Snooze {
    id: InteractionId,
    who: String,
    kind: SnoozeKind,
    when: String,
    note: String,
    tried: bool,
    busy: bool,
    error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Message {
    When(String),
    Note(String),
    Confirm,
    Cancel,
    /// Done, with the due time it was set to.
    Done(Millis, Result<(), Error>),
}

/// The quick choices: a label and what they put in the field.
fn presets(now: Millis, zone: Zone) -> [(&'static str, String); 3] {
    let tomorrow = chrono::DateTime::from_timestamp_millis(now)
        .map(|t| t.with_timezone(&zone.0).date_naive())
        .and_then(|d| d.checked_add_days(Days::new(1)))
        .and_then(|d| NaiveTime::from_hms_opt(9, 0, 0).map(|t| d.and_time(t)))
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    [
        ("In 1 hour", "1h".into()),
        ("In 3 hours", "3h".into()),
        ("Tomorrow 09:00", tomorrow),
    ]
}

/// What the field says, as a due time: a length from `now`, or a moment.
pub fn due_time(raw: &str, now: Millis, zone: Zone) -> Option<Millis> {
    if raw.trim().is_empty() {
        return None;
    }
    match dates::parse_duration(raw) {
        Ok(length) => now.checked_add(length),
        Err(_) => dates::parse_moment(raw, &zone.0).ok(),
    }
}

impl Snooze {
    pub fn new(id: InteractionId, who: String, kind: SnoozeKind) -> Snooze {
        Snooze {
            id,
            who,
            kind,
            when: String::new(),
            note: String::new(),
            tried: false,
            busy: false,
            error: None,
        }
    }

    /// Opening the dialog puts the cursor in the time.
    pub fn focus() -> Task<Message> {
        iced::widget::operation::focus(WHEN_ID)
    }

    pub fn update(&mut self, message: Message, backend: &Backend, session: &Session) -> Update {
        match message {
            Message::When(w) => {
                self.when = w;
                self.error = None;
                (Task::none(), None)
            }
            Message::Note(n) => {
                self.note = n;
                (Task::none(), None)
            }
            Message::Confirm => {
                self.tried = true;
                let Some(until) = due_time(&self.when, session.now, session.zone) else {
                    return (Task::none(), None);
                };
                if self.busy {
                    return (Task::none(), None);
                }
                self.busy = true;
                self.error = None;
                let note = self.note.trim();
                let request = Request::Snooze {
                    id: self.id,
                    until,
                    kind: self.kind,
                    note: (!note.is_empty()).then(|| note.to_string()),
                };
                (
                    call(backend, request, move |r| Message::Done(until, r)),
                    None,
                )
            }
            Message::Cancel => (Task::none(), Some(Event::Close)),
            Message::Done(until, result) => {
                self.busy = false;
                match result {
                    Ok(()) => {
                        let at = clock::stamp(session.now, until, session.zone);
                        let toast = match self.kind {
                            SnoozeKind::Snooze => format!("Snoozed {} until {at}.", self.who),
                            SnoozeKind::Callback => {
                                format!("Callback with {} scheduled for {at}.", self.who)
                            }
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
        let (title, hint, confirm) = match self.kind {
            SnoozeKind::Snooze => (
                format!("Snooze {}", self.who),
                "It leaves Active and comes back, with a notification, when the time comes.",
                "Snooze",
            ),
            SnoozeKind::Callback => (
                format!("Schedule a callback with {}", self.who),
                "It leaves Active until the callback is due; then it is back with a notification.",
                "Schedule callback",
            ),
        };
        let mut col = column![text(title).size(18), muted(hint)].spacing(14);
        let mut quick = row![].spacing(6);
        for (label, value) in presets(session.now, session.zone) {
            let picked = self.when.trim() == value;
            quick = quick.push(
                button(text(label).size(SMALL))
                    .on_press(Message::When(value))
                    .padding([5, 10])
                    .style(theme::buttons::choice(picked)),
            );
        }
        col = col.push(quick);
        let due = due_time(&self.when, session.now, session.zone);
        let problem = (self.tried && due.is_none())
            .then_some("Say when: a length like 2h or 45m, or a time like 2026-12-03 09:00.");
        col = col.push(field(
            "When",
            dialog_input(
                WHEN_ID,
                "2h, 45m, or 2026-12-03 09:00",
                &self.when,
                Message::When,
                Message::Confirm,
            ),
            problem,
        ));
        if let Some(until) = due {
            col = col.push(
                text(format!(
                    "Back at {}",
                    clock::stamp(session.now, until, session.zone)
                ))
                .size(SMALL)
                .style(theme::texts::muted),
            );
        }
        col = col.push(field(
            "Note (optional)",
            dialog_input(
                NOTE_ID,
                "What to do when it is back",
                &self.note,
                Message::Note,
                Message::Confirm,
            ),
            None,
        ));
        if let Some(e) = &self.error {
            col = col.push(error_box(e));
        }
        col = col.push(actions(
            Message::Cancel,
            confirm,
            (!self.busy).then_some(Message::Confirm),
        ));
        frame(col, 460.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Millis = 1_741_000_000_000; // 2025-03-03 11:06:40 UTC

    #[test]
    fn the_time_is_a_length_from_now_or_a_moment_in_the_agents_zone() {
        let z = Zone::utc();
        assert_eq!(due_time("2h", T, z), Some(T + 7_200_000));
        assert_eq!(due_time("2025-03-04 09:00", T, z), Some(1_741_078_800_000));
        assert_eq!(due_time("soon", T, z), None);
        assert_eq!(due_time("  ", T, z), None);
        assert_eq!(presets(T, z)[2].1, "2025-03-04 09:00");
    }
}
