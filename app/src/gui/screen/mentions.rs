//! Mentions: where teammates wrote `@` this agent's name, in an internal
//! note or a team chat message, newest first, each with a way to its
//! conversation. Shown in the Contacts & chat tab; opening it marks them
//! seen on this device (the ones that were new keep their "New" mark until
//! the list is read again, so the agent sees which they were).

use iced::widget::{button, column, container, row, scrollable, text};
use iced::{Alignment, Length, Task};
use meshdesk_model::mentions::MentionPlace;
use meshdesk_model::ops::{MentionRow, Request};
use meshdesk_model::{InteractionId, RoomKey};

use super::call;
use crate::gui::backend::{Backend, Error};
use crate::gui::clock;
use crate::gui::session::Session;
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, empty, error_box, muted, title};

#[derive(Debug, Default)]
pub struct Mentions {
    rows: Vec<MentionRow>,
    seq: u64,
    loaded: bool,
    error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Message {
    Loaded(u64, Result<Vec<MentionRow>, Error>),
    /// Go to the conversation of the mention at this index.
    Open(usize),
    Seen(Result<(), Error>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    OpenInteraction(InteractionId),
    OpenRoom(RoomKey),
    /// Mentions were marked seen: the badges are stale.
    Seen,
}

impl Mentions {
    /// Reads the list; what it shows is then marked seen.
    pub fn reload(&mut self, backend: &Backend) -> Task<Message> {
        self.seq += 1;
        let seq = self.seq;
        call(backend, Request::ListMentions { unseen: false }, move |r| {
            Message::Loaded(seq, r)
        })
    }

    pub fn update(
        &mut self,
        message: Message,
        backend: &Backend,
    ) -> (Task<Message>, Option<Event>) {
        match message {
            Message::Loaded(seq, result) => {
                if seq != self.seq {
                    return (Task::none(), None);
                }
                match result {
                    Ok(rows) => {
                        self.loaded = true;
                        self.error = None;
                        let unseen: Vec<String> = rows
                            .iter()
                            .filter(|m| !m.seen)
                            .map(|m| m.id.clone())
                            .collect();
                        self.rows = rows;
                        if unseen.is_empty() {
                            return (Task::none(), None);
                        }
                        (
                            call(
                                backend,
                                Request::MarkMentionsSeen { ids: unseen },
                                Message::Seen,
                            ),
                            None,
                        )
                    }
                    Err(e) => {
                        self.error = Some(e.to_string());
                        (Task::none(), None)
                    }
                }
            }
            Message::Seen(Ok(())) => (Task::none(), Some(Event::Seen)),
            Message::Seen(Err(e)) => {
                tracing::debug!("cannot mark mentions seen: {e}");
                (Task::none(), None)
            }
            Message::Open(i) => {
                let event = self.rows.get(i).map(|m| match m.place {
                    MentionPlace::Note { interaction } => Event::OpenInteraction(interaction),
                    MentionPlace::Chat { room } => Event::OpenRoom(room),
                });
                (Task::none(), event)
            }
        }
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        let head = container(
            column![
                title("Mentions"),
                muted("Where teammates wrote @ your name in a note or a chat")
            ]
            .spacing(2),
        )
        .padding([12, 16]);
        let body: Element<'a, Message> = if let Some(e) = &self.error {
            container(error_box(e)).padding(16).into()
        } else if !self.loaded {
            empty("Loading…")
        } else if self.rows.is_empty() {
            empty("No mentions yet. When a teammate writes @ your name, it shows here.")
        } else {
            let mut col = column![].spacing(10).padding([8, 16]);
            for (i, m) in self.rows.iter().enumerate() {
                col = col.push(card(i, m, session));
            }
            scrollable(col)
                .height(Length::Fill)
                .style(theme::inputs::scroll)
                .into()
        };
        column![head, crate::gui::widget::hrule(), body].into()
    }
}

fn card<'a>(i: usize, m: &'a MentionRow, session: &'a Session) -> Element<'a, Message> {
    let (place, open) = match m.place {
        MentionPlace::Note { .. } => (format!("Note in {}", m.title), "Open conversation"),
        MentionPlace::Chat { room } => (
            match room {
                RoomKey::Direct { .. } => format!("Chat with {}", m.title),
                RoomKey::Campaign { .. } => format!("Chat in {}", m.title),
            },
            "Open chat",
        ),
    };
    let mut top = row![
        text(m.author_name.as_str()).size(TEXT),
        muted(place),
        iced::widget::Space::new().width(Length::Fill),
        muted(clock::ago(session.now, m.at, session.zone)),
    ]
    .spacing(8)
    .align_y(Alignment::Center);
    if !m.seen {
        top = top.push(
            container(text("New").size(SMALL).style(theme::texts::primary))
                .padding([1, 6])
                .style(theme::boxes::card),
        );
    }
    container(
        column![
            top,
            text(m.text.as_str()).size(TEXT),
            button(text(open).size(SMALL))
                .on_press(Message::Open(i))
                .padding([4, 10])
                .style(theme::buttons::secondary),
        ]
        .spacing(6),
    )
    .padding([10, 12])
    .width(Length::Fill)
    .style(theme::boxes::card)
    .into()
}
