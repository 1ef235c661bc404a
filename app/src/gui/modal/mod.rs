//! Dialogs over the inbox: New interaction (`+`), Transfer, Finalize,
//! Take back (return to the queue, or a supervisor's pull-back and
//! hand-over), Snooze (or Schedule callback), Export or Import bundle,
//! Merge (two phonebook entries of one customer), and Mailbox (a
//! campaign's mailbox for the email channel, supervisors).
//! Esc closes them, Enter confirms; each says what is missing beside the
//! field rather than failing silently.

pub mod bundle;
pub mod finalize;
pub mod mailbox;
pub mod merge;
pub mod new_interaction;
pub mod snooze;
pub mod take_back;
pub mod transfer;

use iced::widget::{
    Button, Row, Space, button, center, container, mouse_area, opaque, row, stack, text,
};
use iced::{Length, Renderer, Task, Theme};
use meshdesk_model::InteractionId;

use super::backend::Backend;
use super::session::Session;
use super::theme;
use super::widget::Element;

/// A dialog's button: the filled look for the one that confirms; inert
/// while `on_press` is none (a form not filled yet, a request in flight).
fn dialog_button<'a, M: Clone + 'a>(
    label: impl text::IntoFragment<'a>,
    on_press: Option<M>,
    primary: bool,
) -> Button<'a, M, Theme, Renderer> {
    button(text(label).size(super::widget::TEXT))
        .on_press_maybe(on_press)
        .padding([8, 16])
        .style(if primary {
            theme::buttons::primary
        } else {
            theme::buttons::secondary
        })
}

/// A dialog's closing row, to the right: Cancel, then the confirming
/// button (inert while `confirm` is none).
fn actions<'a, M: Clone + 'a>(
    cancel: M,
    label: impl text::IntoFragment<'a>,
    confirm: Option<M>,
) -> Row<'a, M, Theme, Renderer> {
    row![
        Space::new().width(Length::Fill),
        dialog_button("Cancel", Some(cancel), false),
        dialog_button(label, confirm, true),
    ]
    .spacing(8)
}

/// What `update` gives back: work to run, and maybe an event for the parent.
type Update = (Task<Message>, Option<Event>);

#[derive(Debug)]
pub enum Modal {
    New(Box<new_interaction::NewInteraction>),
    Transfer(transfer::Transfer),
    Finalize(finalize::Finalize),
    TakeBack(take_back::TakeBack),
    Snooze(snooze::Snooze),
    Bundle(bundle::Bundle),
    Merge(Box<merge::Merge>),
    Mailbox(Box<mailbox::MailboxForm>),
}

#[derive(Debug, Clone)]
pub enum Message {
    New(new_interaction::Message),
    Transfer(transfer::Message),
    Finalize(finalize::Message),
    TakeBack(take_back::Message),
    Snooze(snooze::Message),
    Bundle(bundle::Message),
    Merge(merge::Message),
    Mailbox(mailbox::Message),
}

/// What the shell does when a dialog is done.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Close,
    /// It worked: close, say so, and open this interaction in Active if given.
    Done {
        toast: String,
        open: Option<InteractionId>,
    },
}

impl Modal {
    pub fn update(&mut self, message: Message, backend: &Backend, session: &Session) -> Update {
        match (self, message) {
            (Modal::New(m), Message::New(msg)) => {
                let (task, event) = m.update(msg, backend, session);
                (task.map(Message::New), event)
            }
            (Modal::Transfer(m), Message::Transfer(msg)) => {
                let (task, event) = m.update(msg, backend);
                (task.map(Message::Transfer), event)
            }
            (Modal::Finalize(m), Message::Finalize(msg)) => {
                let (task, event) = m.update(msg, backend, session);
                (task.map(Message::Finalize), event)
            }
            (Modal::TakeBack(m), Message::TakeBack(msg)) => {
                let (task, event) = m.update(msg, backend, session);
                (task.map(Message::TakeBack), event)
            }
            (Modal::Snooze(m), Message::Snooze(msg)) => {
                let (task, event) = m.update(msg, backend, session);
                (task.map(Message::Snooze), event)
            }
            (Modal::Bundle(m), Message::Bundle(msg)) => {
                let (task, event) = m.update(msg, backend);
                (task.map(Message::Bundle), event)
            }
            (Modal::Merge(m), Message::Merge(msg)) => {
                let (task, event) = m.update(msg, backend);
                (task.map(Message::Merge), event)
            }
            (Modal::Mailbox(m), Message::Mailbox(msg)) => {
                let (task, event) = m.update(msg, backend, session);
                (task.map(Message::Mailbox), event)
            }
            // An answer for a dialog that has been closed or replaced since.
            (_, Message::New(_))
            | (_, Message::Bundle(_))
            | (_, Message::Merge(_))
            | (_, Message::Mailbox(_))
            | (_, Message::Transfer(_))
            | (_, Message::Finalize(_))
            | (_, Message::TakeBack(_))
            | (_, Message::Snooze(_)) => (Task::none(), None),
        }
    }

    /// Enter: the dialog's main action.
    pub fn confirm(&mut self, backend: &Backend, session: &Session) -> Update {
        let message = match self {
            Modal::New(_) => Message::New(new_interaction::Message::Start),
            Modal::Transfer(_) => Message::Transfer(transfer::Message::Confirm),
            Modal::Finalize(_) => Message::Finalize(finalize::Message::Confirm),
            Modal::TakeBack(_) => Message::TakeBack(take_back::Message::Confirm),
            Modal::Snooze(_) => Message::Snooze(snooze::Message::Confirm),
            Modal::Bundle(_) => Message::Bundle(bundle::Message::Confirm),
            Modal::Merge(_) => Message::Merge(merge::Message::Confirm),
            Modal::Mailbox(_) => Message::Mailbox(mailbox::Message::Confirm),
        };
        self.update(message, backend, session)
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        match self {
            Modal::New(m) => m.view(session).map(Message::New),
            Modal::Transfer(m) => m.view(session).map(Message::Transfer),
            Modal::Finalize(m) => m.view(session).map(Message::Finalize),
            Modal::TakeBack(m) => m.view(session).map(Message::TakeBack),
            Modal::Snooze(m) => m.view(session).map(Message::Snooze),
            Modal::Bundle(m) => m.view().map(Message::Bundle),
            Modal::Merge(m) => m.view().map(Message::Merge),
            Modal::Mailbox(m) => m.view(session).map(Message::Mailbox),
        }
    }
}

/// Puts a dialog over the screen, on a veil that closes it when clicked.
pub fn overlay<'a, M: Clone + 'a>(
    base: Element<'a, M>,
    dialog: Element<'a, M>,
    dismiss: M,
) -> Element<'a, M> {
    stack![
        base,
        opaque(
            mouse_area(
                center(opaque(dialog))
                    .width(Length::Fill)
                    .height(Length::Fill)
                    .style(theme::boxes::veil)
            )
            .on_press(dismiss)
        )
    ]
    .into()
}

/// A dialog's frame.
pub fn frame<'a, M: 'a>(content: impl Into<Element<'a, M>>, width: f32) -> Element<'a, M> {
    container(content)
        .padding(20)
        .width(Length::Fixed(width))
        .style(theme::boxes::dialog)
        .into()
}
