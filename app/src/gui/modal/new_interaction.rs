//! New interaction (`+`): 1. a channel this agent works on, 2. a campaign on
//! that channel, 3. the campaign's fields (a phonebook contact or a typed
//! address, a subject, the campaign's own fields), 4. Start: it opens in
//! Active. Start stays disabled until every required field is filled, and
//! says what is still needed.

use std::collections::BTreeMap;

use iced::widget::{Space, button, column, container, row, scrollable, text, text_input};
use iced::{Alignment, Length, Task, widget};
use meshdesk_model::ops::Request;
use meshdesk_model::{CampaignId, ChannelKind, Contact, InteractionId, validate};

use super::{Event, dialog_button, frame};
use crate::gui::backend::{Backend, Error};
use crate::gui::screen::call;
use crate::gui::session::{Session, channel_label};
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, error_box, field, muted};

/// What `update` gives back: work to run, and maybe an event for the parent.
type Update = (Task<Message>, Option<Event>);

pub const QUERY_ID: &str = "new-contact-search";
pub const ADDRESS_ID: &str = "new-address";
pub const SUBJECT_ID: &str = "new-subject";
pub const MESSAGE_ID: &str = "new-message";

/// The id of a campaign field's input.
pub fn field_id(name: &str) -> widget::Id {
    widget::Id::from(format!("new-field-{name}"))
}

/// Contacts offered while searching the phonebook.
const MATCHES: usize = 5;

#[derive(Debug, Default)]
pub struct NewInteraction {
    channel: Option<ChannelKind>,
    campaign: Option<CampaignId>,
    contact: Option<Box<Contact>>,
    query: String,
    matches: Vec<Contact>,
    seq: u64,
    address: String,
    subject: String,
    fields: BTreeMap<String, String>,
    message: String,
    tried: bool,
    busy: bool,
    error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Message {
    Channel(ChannelKind),
    Campaign(CampaignId),
    Back,
    Query(String),
    Found(u64, Result<Vec<Contact>, Error>),
    Pick(Box<Contact>),
    Unpick,
    Address(String),
    Subject(String),
    Field(String, String),
    Text(String),
    Start,
    Started(Result<InteractionId, Error>),
    Cancel,
}

impl NewInteraction {
    pub fn new() -> NewInteraction {
        NewInteraction::default()
    }

    /// Started from a phonebook contact: the contact is filled in.
    pub fn with_contact(contact: Contact) -> NewInteraction {
        NewInteraction {
            contact: Some(Box::new(contact)),
            ..NewInteraction::default()
        }
    }

    /// What is still needed before Start, in words.
    fn missing(&self, session: &Session) -> Vec<String> {
        let mut missing = Vec::new();
        if let Some(c) = self.campaign.and_then(|id| session.campaign(id)) {
            for f in c.fields.iter().filter(|f| f.required) {
                if self.fields.get(&f.name).is_none_or(|v| v.trim().is_empty()) {
                    missing.push(f.name.clone());
                }
            }
        }
        if self.contact.is_none() && self.address.trim().is_empty() {
            missing.push("a contact or an address".into());
        }
        missing
    }

    /// Whether the typed address fits the channel.
    fn address_problem(&self) -> Option<String> {
        let a = self.address.trim();
        if a.is_empty() || self.contact.is_some() {
            return None;
        }
        match self.channel {
            Some(ChannelKind::Phone) => validate::phone(a)
                .err()
                .map(|_| format!("“{a}” is not a phone number (5 to 15 digits).")),
            Some(ChannelKind::Email) => validate::email(a)
                .err()
                .map(|_| format!("“{a}” is not an email address.")),
            _ => None,
        }
    }

    fn ready(&self, session: &Session) -> bool {
        self.campaign.is_some()
            && self.missing(session).is_empty()
            && self.address_problem().is_none()
            && !self.busy
    }

    pub fn update(&mut self, message: Message, backend: &Backend, session: &Session) -> Update {
        match message {
            Message::Channel(c) => {
                self.channel = Some(c);
                self.campaign = None;
                // One campaign on the channel: no need to ask.
                let campaigns = campaigns_on(session, c);
                if let [only] = campaigns.as_slice() {
                    self.campaign = Some(*only);
                    return (self.focus_form(), None);
                }
                (Task::none(), None)
            }
            Message::Campaign(c) => {
                self.campaign = Some(c);
                self.fields.clear();
                self.tried = false;
                (self.focus_form(), None)
            }
            Message::Back => {
                if self.campaign.is_some()
                    && self
                        .channel
                        .is_some_and(|c| campaigns_on(session, c).len() > 1)
                {
                    self.campaign = None;
                } else {
                    self.campaign = None;
                    self.channel = None;
                }
                self.error = None;
                (Task::none(), None)
            }
            Message::Query(q) => {
                self.query = q;
                self.seq += 1;
                let seq = self.seq;
                let q = self.query.trim();
                if q.is_empty() {
                    self.matches.clear();
                    return (Task::none(), None);
                }
                let request = Request::ListContacts {
                    search: Some(q.to_string()),
                    limit: Some(MATCHES),
                };
                (
                    call(backend, request, move |r| Message::Found(seq, r)),
                    None,
                )
            }
            Message::Found(seq, result) => {
                if seq == self.seq
                    && let Ok(found) = result
                {
                    self.matches = found;
                }
                (Task::none(), None)
            }
            Message::Pick(c) => {
                self.contact = Some(c);
                self.query.clear();
                self.matches.clear();
                (iced::widget::operation::focus(SUBJECT_ID), None)
            }
            Message::Unpick => {
                self.contact = None;
                (iced::widget::operation::focus(QUERY_ID), None)
            }
            Message::Address(a) => {
                self.address = a;
                (Task::none(), None)
            }
            Message::Subject(s) => {
                self.subject = s;
                (Task::none(), None)
            }
            Message::Field(name, value) => {
                self.fields.insert(name, value);
                (Task::none(), None)
            }
            Message::Text(t) => {
                self.message = t;
                (Task::none(), None)
            }
            Message::Start => {
                self.tried = true;
                self.error = None;
                let (Some(channel), Some(campaign)) = (self.channel, self.campaign) else {
                    return (Task::none(), None);
                };
                if !self.ready(session) {
                    return (Task::none(), None);
                }
                self.busy = true;
                let mut fields: BTreeMap<String, String> = self
                    .fields
                    .iter()
                    .filter(|(_, v)| !v.trim().is_empty())
                    .map(|(k, v)| (k.clone(), v.trim().to_string()))
                    .collect();
                let subject = self.subject.trim();
                let declares_subject = session.campaign(campaign).is_some_and(|c| {
                    c.fields
                        .iter()
                        .any(|f| f.name.eq_ignore_ascii_case("subject"))
                });
                if !subject.is_empty() && !declares_subject {
                    fields.insert("Subject".into(), subject.to_string());
                }
                let address = self.address.trim();
                let text = self.message.trim();
                let request = Request::NewInteraction {
                    channel,
                    campaign: campaign.to_string(),
                    contact: self.contact.as_ref().map(|c| c.id),
                    to: (self.contact.is_none() && !address.is_empty())
                        .then(|| address.to_string()),
                    fields,
                    message: (!text.is_empty()).then(|| text.to_string()),
                };
                (call(backend, request, Message::Started), None)
            }
            Message::Started(result) => {
                self.busy = false;
                match result {
                    Ok(id) => {
                        let who = self
                            .contact
                            .as_ref()
                            .map(|c| c.name.clone())
                            .unwrap_or_else(|| self.address.trim().to_string());
                        (
                            Task::none(),
                            Some(Event::Done {
                                toast: format!("Started with {who}."),
                                open: Some(id),
                            }),
                        )
                    }
                    Err(e) => {
                        self.error = Some(e.to_string());
                        (Task::none(), None)
                    }
                }
            }
            Message::Cancel => (Task::none(), Some(Event::Close)),
        }
    }

    fn focus_form(&self) -> Task<Message> {
        if self.contact.is_some() {
            iced::widget::operation::focus(SUBJECT_ID)
        } else {
            iced::widget::operation::focus(QUERY_ID)
        }
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        let heading = match &self.contact {
            Some(c) => format!("New interaction with {}", c.name),
            None => "New interaction".to_string(),
        };
        let body: Element<'a, Message> = match (self.channel, self.campaign) {
            (None, _) => self.channels_view(session),
            (Some(channel), None) => self.campaigns_view(session, channel),
            (Some(channel), Some(campaign)) => self.form_view(session, channel, campaign),
        };
        frame(column![text(heading).size(18), body].spacing(14), 500.0)
    }

    fn channels_view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        let channels = session.my_channels();
        let mut col = column![muted("1. Channel")].spacing(6);
        if channels.is_empty() {
            col = col.push(error_box(
                "You are not a member of any campaign, so there is no channel to start on. A supervisor can add you to one.",
            ));
        }
        for c in channels {
            let n = campaigns_on(session, c).len();
            col = col.push(
                button(
                    row![
                        text(channel_label(c)).size(TEXT).width(Length::Fill),
                        muted(if n == 1 {
                            "1 campaign".to_string()
                        } else {
                            format!("{n} campaigns")
                        })
                    ]
                    .align_y(Alignment::Center),
                )
                .on_press(Message::Channel(c))
                .width(Length::Fill)
                .padding([8, 12])
                .style(theme::buttons::choice(false)),
            );
        }
        column![col, self.buttons(false)].spacing(14).into()
    }

    fn campaigns_view<'a>(
        &'a self,
        session: &'a Session,
        channel: ChannelKind,
    ) -> Element<'a, Message> {
        let mut col =
            column![muted(format!("2. Campaign on {}", channel_label(channel)))].spacing(6);
        for id in campaigns_on(session, channel) {
            let Some(c) = session.campaign(id) else {
                continue;
            };
            let required = c.fields.iter().filter(|f| f.required).count();
            let sub = if required == 0 {
                c.strategy.as_str().to_string()
            } else {
                format!("{} · {required} required field(s)", c.strategy.as_str())
            };
            col = col.push(
                button(
                    row![
                        text(c.name.as_str()).size(TEXT).width(Length::Fill),
                        muted(sub)
                    ]
                    .align_y(Alignment::Center),
                )
                .on_press(Message::Campaign(id))
                .width(Length::Fill)
                .padding([8, 12])
                .style(theme::buttons::choice(false)),
            );
        }
        column![col, self.buttons(true)].spacing(14).into()
    }

    fn form_view<'a>(
        &'a self,
        session: &'a Session,
        channel: ChannelKind,
        campaign: CampaignId,
    ) -> Element<'a, Message> {
        let Some(c) = session.campaign(campaign) else {
            return error_box("That campaign is gone.");
        };
        let mut col = column![muted(format!(
            "3. Details · {} · {}",
            channel_label(channel),
            c.name
        ))]
        .spacing(12);

        // The contact: picked from the phonebook, or an address typed.
        let contact: Element<'a, Message> = match &self.contact {
            Some(picked) => {
                let reach: Vec<&str> = picked
                    .phones
                    .iter()
                    .chain(picked.emails.iter())
                    .map(String::as_str)
                    .take(2)
                    .collect();
                container(
                    row![
                        column![
                            text(picked.name.as_str()).size(TEXT),
                            muted(reach.join(" · "))
                        ]
                        .spacing(2)
                        .width(Length::Fill),
                        button(text("Change").size(SMALL))
                            .on_press(Message::Unpick)
                            .padding([4, 10])
                            .style(theme::buttons::secondary),
                    ]
                    .align_y(Alignment::Center),
                )
                .padding(10)
                .style(theme::boxes::card)
                .into()
            }
            None => {
                let mut found = column![].spacing(2);
                for m in &self.matches {
                    let reach = m
                        .phones
                        .first()
                        .or(m.emails.first())
                        .cloned()
                        .unwrap_or_default();
                    found = found.push(
                        button(
                            row![
                                text(m.name.as_str()).size(TEXT).width(Length::Fill),
                                muted(reach)
                            ]
                            .align_y(Alignment::Center),
                        )
                        .on_press(Message::Pick(Box::new(m.clone())))
                        .width(Length::Fill)
                        .padding([6, 10])
                        .style(theme::buttons::ghost),
                    );
                }
                if !self.query.trim().is_empty() && self.matches.is_empty() {
                    found = found.push(muted("No contact matches; type an address below."));
                }
                let problem = self.address_problem();
                let placeholder = match channel {
                    ChannelKind::Phone => "+34 600 100 200",
                    ChannelKind::Email => "name@example.com",
                    _ => "Address or handle",
                };
                column![
                    field(
                        "Contact",
                        text_input("Search the phonebook", &self.query)
                            .id(QUERY_ID)
                            .on_input(Message::Query)
                            .padding(8)
                            .size(TEXT)
                            .style(theme::inputs::field),
                        None
                    ),
                    found,
                    field(
                        "Or a new address",
                        text_input(placeholder, &self.address)
                            .id(ADDRESS_ID)
                            .on_input(Message::Address)
                            .on_submit(Message::Start)
                            .padding(8)
                            .size(TEXT)
                            .style(if problem.is_some() {
                                theme::inputs::invalid
                            } else {
                                theme::inputs::field
                            }),
                        problem.as_deref()
                    ),
                ]
                .spacing(8)
                .into()
            }
        };
        col = col.push(contact);

        let declares_subject = c
            .fields
            .iter()
            .any(|f| f.name.eq_ignore_ascii_case("subject"));
        if !declares_subject {
            col = col.push(field(
                "Subject",
                text_input("What it is about", &self.subject)
                    .id(SUBJECT_ID)
                    .on_input(Message::Subject)
                    .on_submit(Message::Start)
                    .padding(8)
                    .size(TEXT)
                    .style(theme::inputs::field),
                None,
            ));
        }
        for f in &c.fields {
            let value = self.fields.get(&f.name).map(String::as_str).unwrap_or("");
            let empty_required = f.required && value.trim().is_empty();
            let label = if f.required {
                format!("{} (required)", f.name)
            } else {
                f.name.clone()
            };
            let name = f.name.clone();
            let input = text_input("", value)
                .id(field_id(&f.name))
                .on_input(move |v| Message::Field(name.clone(), v))
                .on_submit(Message::Start)
                .padding(8)
                .size(TEXT)
                .style(if self.tried && empty_required {
                    theme::inputs::invalid
                } else {
                    theme::inputs::field
                });
            let mut one = column![muted(label), input].spacing(4);
            if self.tried && empty_required {
                one = one.push(
                    text(format!("{} is required.", f.name))
                        .size(SMALL)
                        .style(theme::texts::danger),
                );
            }
            col = col.push(one);
        }
        col = col.push(field(
            "First message (optional)",
            text_input("", &self.message)
                .id(MESSAGE_ID)
                .on_input(Message::Text)
                .on_submit(Message::Start)
                .padding(8)
                .size(TEXT)
                .style(theme::inputs::field),
            None,
        ));
        let missing = self.missing(session);
        if !missing.is_empty() {
            let hint = text(format!("Still needed: {}.", missing.join(", "))).size(SMALL);
            col = col.push(if self.tried {
                hint.style(theme::texts::danger)
            } else {
                hint.style(theme::texts::muted)
            });
        }
        if let Some(e) = &self.error {
            col = col.push(error_box(e));
        }
        column![
            container(
                scrollable(col)
                    .height(Length::Shrink)
                    .style(theme::inputs::scroll)
            )
            .max_height(480),
            self.start_buttons(session)
        ]
        .spacing(14)
        .into()
    }

    fn buttons<'a>(&'a self, back: bool) -> Element<'a, Message> {
        let mut r = row![Space::new().width(Length::Fill)].spacing(8);
        if back {
            r = r.push(dialog_button("Back", Some(Message::Back), false));
        }
        r.push(dialog_button("Cancel", Some(Message::Cancel), false))
            .into()
    }

    fn start_buttons<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        row![
            dialog_button("Back", Some(Message::Back), false),
            Space::new().width(Length::Fill),
            dialog_button("Cancel", Some(Message::Cancel), false),
            dialog_button(
                if self.busy { "Starting…" } else { "Start" },
                self.ready(session).then_some(Message::Start),
                true
            ),
        ]
        .spacing(8)
        .into()
    }
}

/// The campaigns on a channel this agent is a member of.
fn campaigns_on(session: &Session, channel: ChannelKind) -> Vec<CampaignId> {
    session
        .my_campaigns()
        .into_iter()
        .filter(|c| c.channel == channel)
        .map(|c| c.id)
        .collect()
}
