//! The open conversation's tags, under its header: a chip with a remove
//! button (×) for each, and a field that adds one. While the field holds
//! text it offers the team's tags in use that contain it (most used
//! first): ↑/↓ highlight one, Tab puts it in the field, Enter adds the
//! highlighted one (or what was typed), Esc clears the field.

use std::collections::BTreeSet;

use iced::widget::{Row, button, column, container, row, text, text_input};
use iced::{Alignment, Length, Task};
use meshdesk_model::InteractionId;
use meshdesk_model::ops::Request;
use meshdesk_model::store::TagUse;

use super::{Toast, call};
use crate::gui::backend::{Backend, Error};
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, line};

/// What `update` gives back: work to run, and maybe an event for the parent.
pub type Update = (Task<Message>, Option<Event>);

/// The most completions offered at once.
const OFFERED: usize = 6;

/// The add-a-tag field's id, for focus and tests.
pub const INPUT_ID: &str = "tag-input";

/// The tag field and what it completes from.
#[derive(Debug, Default)]
pub struct Tags {
    input: String,
    /// The team's tags in use, most used first, read when a conversation
    /// opens and after each change made here.
    uses: Vec<TagUse>,
    /// The highlighted completion.
    picked: Option<usize>,
}

/// A key the window passes on while the field holds text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    /// Tab: the highlighted (or first) completion into the field.
    Complete,
    /// Esc: clears the field.
    Cancel,
}

#[derive(Debug, Clone)]
pub enum Message {
    Input(String),
    /// Enter in the field.
    Submit,
    /// A completion was clicked.
    Pick(String),
    Remove(String),
    Key(Key),
    Uses(Result<Vec<TagUse>, Error>),
    Written(Result<(), Error>),
}

/// What the screen passes on to the shell.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Toast(Toast),
}

impl Tags {
    /// Whether keys belong to the field: it holds text.
    pub fn completing(&self) -> bool {
        !self.input.trim().is_empty()
    }

    /// Reads the tags in use (for completion).
    pub fn load(backend: &Backend) -> Task<Message> {
        call(backend, Request::ListTags, Message::Uses)
    }

    /// The tags in use that complete what is typed, leaving out those the
    /// interaction carries: those starting with it first, then those
    /// containing it, each most used first.
    pub fn offered<'a>(&'a self, carried: &BTreeSet<String>) -> Vec<&'a TagUse> {
        let typed = self.input.trim().to_lowercase();
        if typed.is_empty() {
            return Vec::new();
        }
        let fits = |u: &&TagUse| !carried.contains(&u.tag);
        let lower = |u: &TagUse| u.tag.to_lowercase();
        let starting = self
            .uses
            .iter()
            .filter(fits)
            .filter(|u| lower(u).starts_with(&typed));
        let inside = self.uses.iter().filter(fits).filter(|u| {
            let l = lower(u);
            !l.starts_with(&typed) && l.contains(&typed)
        });
        starting.chain(inside).take(OFFERED).collect()
    }

    pub fn update(
        &mut self,
        message: Message,
        id: InteractionId,
        carried: &BTreeSet<String>,
        backend: &Backend,
    ) -> Update {
        match message {
            Message::Input(text) => {
                self.input = text;
                self.picked = None;
                (Task::none(), None)
            }
            Message::Submit => {
                let tag = match self
                    .picked
                    .and_then(|n| self.offered(carried).get(n).copied())
                {
                    Some(u) => u.tag.clone(),
                    None => self.input.trim().to_string(),
                };
                self.add(id, tag, carried, backend)
            }
            Message::Pick(tag) => self.add(id, tag, carried, backend),
            Message::Remove(tag) => (
                call(backend, Request::RemoveTag { id, tag }, Message::Written),
                None,
            ),
            Message::Key(key) => {
                let shown = self.offered(carried).len();
                match key {
                    Key::Up => self.picked = self.picked.and_then(|n| n.checked_sub(1)),
                    Key::Down if shown > 0 => {
                        self.picked = Some(self.picked.map_or(0, |n| (n + 1).min(shown - 1)));
                    }
                    Key::Down => {}
                    Key::Complete => {
                        let n = self.picked.unwrap_or(0);
                        if let Some(u) = self.offered(carried).get(n) {
                            self.input = u.tag.clone();
                            self.picked = Some(0);
                        }
                    }
                    Key::Cancel => {
                        self.input.clear();
                        self.picked = None;
                    }
                }
                (Task::none(), None)
            }
            Message::Uses(Ok(uses)) => {
                self.uses = uses;
                self.picked = None;
                (Task::none(), None)
            }
            Message::Uses(Err(e)) => {
                // Completion is a help: the field still adds what is typed.
                tracing::debug!("cannot read the tags in use: {e}");
                (Task::none(), None)
            }
            Message::Written(Ok(())) => (Tags::load(backend), None),
            Message::Written(Err(e)) => (
                Task::none(),
                Some(Event::Toast(Toast::Error(e.to_string()))),
            ),
        }
    }

    fn add(
        &mut self,
        id: InteractionId,
        tag: String,
        carried: &BTreeSet<String>,
        backend: &Backend,
    ) -> Update {
        self.input.clear();
        self.picked = None;
        if tag.trim().is_empty() || carried.contains(tag.trim()) {
            return (Task::none(), None);
        }
        (
            call(backend, Request::AddTag { id, tag }, Message::Written),
            None,
        )
    }

    /// The chips, the field, and the completions while it holds text.
    pub fn view<'a>(&'a self, carried: &'a BTreeSet<String>) -> Element<'a, Message> {
        let mut chips = Row::new().spacing(6).align_y(Alignment::Center);
        for tag in carried {
            let remove = button(text("×").size(SMALL))
                .on_press(Message::Remove(tag.clone()))
                .padding([0, 4])
                .style(theme::buttons::ghost);
            chips = chips.push(
                container(
                    row![line(tag, 40).size(SMALL), remove]
                        .spacing(2)
                        .align_y(Alignment::Center),
                )
                .padding([0, 2])
                .style(theme::boxes::chip),
            );
        }
        let field = text_input("Add a tag…", &self.input)
            .id(INPUT_ID)
            .on_input(Message::Input)
            .on_submit(Message::Submit)
            .size(SMALL)
            .padding([3, 8])
            .width(Length::Fixed(160.0))
            .style(theme::inputs::field);
        let chips = chips
            .push(field)
            .width(Length::Fill)
            .wrap()
            .vertical_spacing(6);
        let offered = self.offered(carried);
        let mut col = column![chips].spacing(6);
        if !offered.is_empty() {
            let mut list = Row::new().spacing(4).align_y(Alignment::Center);
            for (n, u) in offered.into_iter().enumerate() {
                let uses = u.interactions + u.contacts;
                list = list.push(
                    button(line(&format!("{} · {uses}", u.tag), 40).size(SMALL))
                        .on_press(Message::Pick(u.tag.clone()))
                        .padding([2, 8])
                        .style(theme::buttons::item(self.picked == Some(n))),
                );
            }
            // Boxed like the composer's picker, so it reads as a choice.
            col = col.push(
                container(list.wrap().vertical_spacing(4))
                    .padding(4)
                    .style(theme::boxes::dialog),
            );
        }
        container(col)
            .padding(iced::Padding {
                top: 0.0,
                right: 16.0,
                bottom: 10.0,
                left: 16.0,
            })
            .width(Length::Fill)
            .into()
    }
}
