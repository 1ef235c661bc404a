//! Merge…: two phonebook entries of one customer become one. The agent
//! finds the other entry by typing (its name, a phone, an email), sees what
//! will combine, and confirms. The other entry leaves the phonebook; its
//! interactions, phones, emails and tags show under this one. Nothing is
//! deleted: the profile's Unmerge gives it back.

use iced::widget::{button, column, container, row, text};
use iced::{Length, Task};
use meshdesk_model::ops::{ContactProfile, Request};
use meshdesk_model::store::Page;
use meshdesk_model::{Contact, ContactId};

use super::{Event, actions, frame};
use crate::gui::backend::{Backend, Error};
use crate::gui::screen::call;
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, dialog_input, error_box, fact, line, muted};

/// What `update` gives back: work to run, and maybe an event for the parent.
type Update = (Task<Message>, Option<Event>);

pub const SEARCH_ID: &str = "merge-search";

/// How many matching entries the dialog offers.
const MATCHES: usize = 6;

#[derive(Debug)]
pub struct Merge {
    /// The entry that stays, as its profile shows it.
    survivor: ContactProfile,
    query: String,
    seq: u64,
    found: Vec<Contact>,
    /// The entry picked to merge in, once its profile is read.
    picked: Option<ContactProfile>,
    busy: bool,
    error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Message {
    Query(String),
    Found(u64, Result<Page<Contact>, Error>),
    Pick(ContactId),
    Picked(ContactId, Result<Box<ContactProfile>, Error>),
    Confirm,
    Cancel,
    Done(Result<(), Error>),
}

impl Merge {
    pub fn new(survivor: ContactProfile) -> Merge {
        Merge {
            survivor,
            query: String::new(),
            seq: 0,
            found: Vec::new(),
            picked: None,
            busy: false,
            error: None,
        }
    }

    /// Opening the dialog puts the cursor in the search.
    pub fn focus() -> Task<Message> {
        iced::widget::operation::focus(SEARCH_ID)
    }

    pub fn update(&mut self, message: Message, backend: &Backend) -> Update {
        match message {
            Message::Query(q) => {
                self.query = q;
                self.seq += 1;
                let seq = self.seq;
                let q = self.query.trim();
                if q.is_empty() {
                    self.found.clear();
                    return (Task::none(), None);
                }
                let request = Request::PageContacts {
                    search: Some(q.to_string()),
                    offset: 0,
                    // One more: the survivor itself may match.
                    limit: MATCHES + 1,
                };
                (
                    call(backend, request, move |r| Message::Found(seq, r)),
                    None,
                )
            }
            Message::Found(seq, result) => {
                if seq == self.seq {
                    match result {
                        Ok(page) => {
                            let me = self.survivor.contact.id;
                            self.found = page.rows.into_iter().filter(|c| c.id != me).collect();
                            self.found.truncate(MATCHES);
                            self.error = None;
                        }
                        Err(e) => self.error = Some(e.to_string()),
                    }
                }
                (Task::none(), None)
            }
            Message::Pick(id) => (
                call(backend, Request::ShowContact { id }, move |r| {
                    Message::Picked(id, r)
                }),
                None,
            ),
            Message::Picked(_, result) => {
                match result {
                    Ok(profile) => {
                        self.picked = Some(*profile);
                        self.error = None;
                    }
                    Err(e) => self.error = Some(e.to_string()),
                }
                (Task::none(), None)
            }
            Message::Confirm => {
                let Some(picked) = &self.picked else {
                    self.error = Some("Pick the entry to merge in first.".into());
                    return (Task::none(), None);
                };
                if self.busy {
                    return (Task::none(), None);
                }
                self.busy = true;
                self.error = None;
                let request = Request::MergeContacts {
                    survivor: self.survivor.contact.id,
                    absorbed: picked.contact.id,
                };
                (call(backend, request, Message::Done), None)
            }
            Message::Cancel => (Task::none(), Some(Event::Close)),
            Message::Done(result) => {
                self.busy = false;
                match result {
                    Ok(()) => {
                        let absorbed = self
                            .picked
                            .as_ref()
                            .map(|p| p.contact.name.clone())
                            .unwrap_or_default();
                        let toast =
                            format!("Merged {absorbed} into {}.", self.survivor.contact.name);
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

    pub fn view(&self) -> Element<'_, Message> {
        let name = &self.survivor.contact.name;
        let mut col = column![
            text(format!("Merge into {name}")).size(18),
            muted(
                "The other entry leaves the phonebook; its interactions, phones, emails and \
                 tags show here. Nothing is deleted: Unmerge gives it back."
            ),
            dialog_input(
                SEARCH_ID,
                "Find the other entry: a name, a phone, an email",
                &self.query,
                Message::Query,
                Message::Confirm,
            ),
        ]
        .spacing(12);
        if !self.query.trim().is_empty() && self.found.is_empty() {
            col = col.push(muted("No other entry matches."));
        }
        let mut list = column![].spacing(2);
        for c in &self.found {
            let picked = self.picked.as_ref().is_some_and(|p| p.contact.id == c.id);
            let reach: Vec<&str> = c
                .phones
                .iter()
                .chain(c.emails.iter())
                .map(String::as_str)
                .take(2)
                .collect();
            list = list.push(
                button(
                    row![
                        line(&c.name, 28).size(TEXT).width(Length::Fill),
                        line(&reach.join(" · "), 36)
                            .size(SMALL)
                            .style(theme::texts::muted),
                    ]
                    .spacing(8),
                )
                .on_press(Message::Pick(c.id))
                .width(Length::Fill)
                .padding([6, 8])
                .style(theme::buttons::item(picked)),
            );
        }
        col = col.push(list);
        if let Some(picked) = &self.picked {
            col = col.push(preview(&self.survivor, picked));
        }
        if let Some(e) = &self.error {
            col = col.push(error_box(e));
        }
        col = col.push(actions(
            Message::Cancel,
            "Merge",
            (!self.busy && self.picked.is_some()).then_some(Message::Confirm),
        ));
        frame(col, 520.0)
    }
}

/// What the merged entry will show: the survivor's name and company, both
/// entries' phones, emails and tags, and their interactions together.
fn preview<'a>(survivor: &ContactProfile, picked: &ContactProfile) -> Element<'a, Message> {
    let mut all = survivor.absorbed.clone();
    all.push(picked.contact.clone());
    all.extend(picked.absorbed.iter().cloned());
    let combined = survivor.contact.combined(&all);
    let none = |list: &[String]| {
        if list.is_empty() {
            "none".to_string()
        } else {
            list.join(", ")
        }
    };
    let calls = survivor.interactions.len() + picked.interactions.len();
    let mut facts = column![
        text(format!(
            "{} will show as {}",
            picked.contact.name, combined.name
        ))
        .size(TEXT),
        fact("Phone", none(&combined.phones)),
        fact("Email", none(&combined.emails)),
    ]
    .spacing(6);
    if !combined.tags.is_empty() {
        let tags: Vec<String> = combined.tags.iter().cloned().collect();
        facts = facts.push(fact("Tags", tags.join(", ")));
    }
    facts = facts.push(fact(
        "History",
        format!("{calls} interaction{}", if calls == 1 { "" } else { "s" }),
    ));
    container(facts.padding(12))
        .style(theme::boxes::card)
        .width(Length::Fill)
        .into()
}
