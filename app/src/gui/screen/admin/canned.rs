//! Canned responses: replies written once for the team, which agents insert
//! with `/code` in the composer. Each is offered in every campaign or in one.

use std::fmt;

use iced::widget::{column, pick_list, scrollable, text, text_editor, text_input};
use iced::{Length, Task};
use meshdesk_model::ops::{CannedChanges, CannedSpec, Request, TeamOverview};
use meshdesk_model::{CampaignId, CannedId, CannedResponse};

use super::{SectionUpdate, head, list_and_form, list_item, matches, primary, secondary, settle};
use crate::gui::backend::{Backend, Error};
use crate::gui::screen::{Toast, call};
use crate::gui::theme;
use crate::gui::widget::{Element, TEXT, ellipsize, field};

pub const CODE_ID: &str = "canned-code";
pub const BODY_ID: &str = "canned-body";

#[derive(Debug, Default)]
pub struct Canned {
    /// The response the form edits; `None` with the form open: a new one.
    editing: Option<CannedId>,
    open: bool,
    code: String,
    body: text_editor::Content,
    campaign: Option<CampaignId>,
    busy: bool,
    error: Option<String>,
}

/// Where a response is offered, as the picker shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    campaign: Option<CampaignId>,
    name: String,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[derive(Debug, Clone)]
pub enum Message {
    Pick(CannedId),
    New,
    Code(String),
    Body(text_editor::Action),
    Scope(Scope),
    Save,
    Saved(Result<(), Error>),
    Created(Result<CannedId, Error>),
    Remove,
    Removed(Result<(), Error>),
}

impl Canned {
    pub fn update(
        &mut self,
        message: Message,
        backend: &Backend,
        team: &TeamOverview,
    ) -> SectionUpdate<Message> {
        match message {
            Message::Pick(id) => {
                if let Some(c) = team.team.canned.get(&id) {
                    self.editing = Some(id);
                    self.open = true;
                    self.code = c.code.clone();
                    self.body = text_editor::Content::with_text(&c.body);
                    self.campaign = c.campaign;
                    self.error = None;
                }
            }
            Message::New => {
                *self = Canned {
                    open: true,
                    ..Canned::default()
                };
            }
            Message::Code(v) => self.code = v,
            Message::Body(action) => self.body.perform(action),
            Message::Scope(scope) => self.campaign = scope.campaign,
            Message::Save => return (self.save(backend, team), None),
            Message::Created(result) => {
                if let Some(id) = settle(&mut self.busy, &mut self.error, result) {
                    self.editing = Some(id);
                    let toast = format!("Added /{}.", self.code.trim());
                    return (Task::none(), Some(Toast::Info(toast)));
                }
            }
            Message::Saved(result) => {
                if let Some(()) = settle(&mut self.busy, &mut self.error, result) {
                    let toast = format!("Saved /{}.", self.code.trim());
                    return (Task::none(), Some(Toast::Info(toast)));
                }
            }
            Message::Removed(result) => {
                if let Some(()) = settle(&mut self.busy, &mut self.error, result) {
                    let toast = format!("Removed /{}.", self.code.trim());
                    *self = Canned::default();
                    return (Task::none(), Some(Toast::Info(toast)));
                }
            }
            Message::Remove => {
                if let Some(id) = self.editing {
                    self.busy = true;
                    let request = Request::RemoveCanned {
                        canned: id.to_string(),
                    };
                    return (call(backend, request, Message::Removed), None);
                }
            }
        }
        (Task::none(), None)
    }

    fn save(&mut self, backend: &Backend, team: &TeamOverview) -> Task<Message> {
        let body = self.body.text().trim_end().to_string();
        let campaign = self.campaign.map(|c| c.to_string());
        self.error = None;
        match self.editing.and_then(|id| team.team.canned.get(&id)) {
            None => {
                self.busy = true;
                let spec = CannedSpec {
                    code: self.code.clone(),
                    body,
                    campaign,
                };
                call(backend, Request::AddCanned(spec), Message::Created)
            }
            Some(old) => {
                let changes = CannedChanges {
                    code: (self.code.trim() != old.code).then(|| self.code.clone()),
                    body: (body != old.body).then_some(body),
                    campaign: (self.campaign != old.campaign).then(|| campaign.unwrap_or_default()),
                };
                if changes == CannedChanges::default() {
                    self.error = Some("Nothing changed.".into());
                    return Task::none();
                }
                self.busy = true;
                let request = Request::EditCanned {
                    canned: old.id.to_string(),
                    changes,
                };
                call(backend, request, Message::Saved)
            }
        }
    }

    pub fn view<'a>(&'a self, team: &'a TeamOverview, query: &str) -> Element<'a, Message> {
        let mut all: Vec<&CannedResponse> = team
            .team
            .canned
            .values()
            .filter(|c| matches(query, &c.code) || matches(query, &c.body))
            .collect();
        all.sort_by_key(|c| c.code.clone());
        let mut list = column![
            iced::widget::container(secondary("New canned response…", Message::New))
                .padding([8, 16])
        ]
        .spacing(2);
        for c in all {
            let selected = self.open && self.editing == Some(c.id);
            list = list.push(list_item(
                format!("/{}", c.code),
                ellipsize(&c.body, 48),
                selected,
                Message::Pick(c.id),
            ));
        }
        list_and_form(
            list,
            self.open.then(|| self.form(team)),
            "Pick a canned response to change it, or write a new one.",
        )
    }

    fn form<'a>(&'a self, team: &'a TeamOverview) -> Element<'a, Message> {
        let mut scopes = vec![Scope {
            campaign: None,
            name: "Every campaign".into(),
        }];
        let mut campaigns: Vec<_> = team.team.campaigns.values().collect();
        campaigns.sort_by_key(|c| c.name.to_lowercase());
        scopes.extend(campaigns.into_iter().map(|c| Scope {
            campaign: Some(c.id),
            name: c.name.clone(),
        }));
        let chosen = scopes.iter().find(|s| s.campaign == self.campaign).cloned();
        let mut actions = vec![primary(
            if self.editing.is_some() {
                "Save response"
            } else {
                "Add response"
            },
            Message::Save,
            self.busy,
        )];
        if self.editing.is_some() {
            actions.push(secondary("Remove", Message::Remove));
        }
        let title = if self.editing.is_some() {
            "Canned response"
        } else {
            "New canned response"
        };
        let form = column![
            head(text(title).size(18).into(), actions, self.error.as_deref()),
            field(
                "Code (agents type /code): lowercase letters, digits, - and _",
                text_input("thanks", &self.code)
                    .id(CODE_ID)
                    .on_input(Message::Code)
                    .padding(8)
                    .size(TEXT)
                    .style(theme::inputs::field),
                None
            ),
            field(
                "Offered in",
                pick_list(scopes, chosen, Message::Scope)
                    .text_size(TEXT)
                    .padding([7, 10])
                    .style(theme::inputs::pick),
                None
            ),
            field(
                "Text ({contact.name}, {agent.name} and {field.NAME} are filled in)",
                text_editor(&self.body)
                    .id(BODY_ID)
                    .on_action(Message::Body)
                    .height(Length::Fixed(140.0))
                    .padding(8)
                    .size(TEXT)
                    .style(theme::inputs::editor),
                None
            ),
        ]
        .spacing(14)
        .padding(20)
        .max_width(720);
        scrollable(form).height(Length::Fill).into()
    }
}
