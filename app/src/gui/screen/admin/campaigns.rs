//! Campaigns: the list, and a form to add one or change one's settings —
//! members in routing order, strategy, capacity per agent, auto-accept,
//! offer timeout, SLA, wrap-up, dispositions and form fields. An edit sends
//! only what the supervisor changed in the form, so a setting a teammate
//! changed meanwhile is not written back.

use iced::widget::{Space, button, checkbox, column, container, row, scrollable, text, text_input};
use iced::{Alignment, Length, Task};
use meshdesk_model::hours::BusinessHours;
use meshdesk_model::ops::{CampaignEdit, CampaignSpec, Request, TeamOverview};
use meshdesk_model::{AgentId, Campaign, CampaignId, ChannelKind, FormField, Strategy};

use super::{
    SectionUpdate, choices, head, list_and_form, list_item, matches, number, primary, secondary,
    settle,
};
use crate::gui::backend::{Backend, Error};
use crate::gui::screen::{Toast, call};
use crate::gui::session::channel_label;
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, field};

pub const NAME_ID: &str = "campaign-name";
pub const CAPACITY_ID: &str = "campaign-capacity";
pub const OFFER_TIMEOUT_ID: &str = "campaign-offer-timeout";
pub const SLA_ID: &str = "campaign-sla";
pub const WRAPUP_ID: &str = "campaign-wrapup";
pub const DISPOSITIONS_ID: &str = "campaign-dispositions";
pub const FIELDS_ID: &str = "campaign-fields";
pub const HOURS_ID: &str = "campaign-hours";
pub const ZONE_ID: &str = "campaign-zone";
pub const CLOSED_ID: &str = "campaign-closed-message";

#[derive(Debug, Default)]
pub struct Campaigns {
    /// The campaign the form edits; `None` with the form open: a new one.
    editing: Option<CampaignId>,
    open: bool,
    draft: Draft,
    /// The form as it was filled from the campaign: an edit sends what differs.
    origin: Draft,
    busy: bool,
    error: Option<String>,
}

/// The form's fields, as typed.
#[derive(Debug, Clone, Default, PartialEq)]
struct Draft {
    name: String,
    channel: Option<ChannelKind>,
    strategy: Option<Strategy>,
    /// In routing order.
    members: Vec<AgentId>,
    capacity: String,
    auto_accept: bool,
    offer_timeout: String,
    sla: String,
    wrapup: String,
    /// Comma-separated.
    dispositions: String,
    /// Comma-separated, each `Name` or `Name:required`.
    fields: String,
    /// Business hours' week; empty: always open.
    hours: String,
    zone: String,
    closed_message: String,
}

impl Draft {
    fn of(c: &Campaign) -> Draft {
        Draft {
            name: c.name.clone(),
            channel: Some(c.channel),
            strategy: Some(c.strategy),
            members: c.members.clone(),
            capacity: c.capacity.to_string(),
            auto_accept: c.auto_accept,
            offer_timeout: c.offer_timeout_seconds.to_string(),
            sla: c.sla_seconds.to_string(),
            wrapup: c.wrapup_seconds.to_string(),
            dispositions: c.dispositions.join(", "),
            fields: c
                .fields
                .iter()
                .map(|f| {
                    if f.required {
                        format!("{}:required", f.name)
                    } else {
                        f.name.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
            hours: c.hours.as_ref().map(|h| h.week.clone()).unwrap_or_default(),
            zone: c
                .hours
                .as_ref()
                .map(|h| h.zone.clone())
                .unwrap_or_else(|| "UTC".into()),
            closed_message: c
                .hours
                .as_ref()
                .map(|h| h.closed_message.clone())
                .unwrap_or_default(),
        }
    }

    fn blank(me: AgentId) -> Draft {
        Draft {
            strategy: Some(Strategy::RingAll),
            members: vec![me],
            capacity: "0".into(),
            offer_timeout: Campaign::DEFAULT_OFFER_TIMEOUT_SECONDS.to_string(),
            sla: "0".into(),
            wrapup: "0".into(),
            zone: "UTC".into(),
            ..Draft::default()
        }
    }

    /// The hours as the request carries them: none when the week is empty
    /// (a new campaign), or an empty week to clear them (an edit).
    fn business_hours(&self) -> BusinessHours {
        BusinessHours {
            zone: self.zone.clone(),
            week: self.hours.clone(),
            closed_message: self.closed_message.clone(),
        }
    }

    fn hours_changed(&self, from: &Draft) -> bool {
        self.hours.trim() != from.hours.trim()
            || (!self.hours.trim().is_empty()
                && (self.zone.trim() != from.zone.trim()
                    || self.closed_message.trim() != from.closed_message.trim()))
    }

    fn dispositions(&self) -> Vec<String> {
        split_list(&self.dispositions)
    }

    fn form_fields(&self) -> Vec<FormField> {
        split_list(&self.fields)
            .iter()
            .filter_map(|f| f.parse().ok())
            .collect()
    }

    fn member_names(&self) -> Vec<String> {
        self.members.iter().map(|m| m.to_string()).collect()
    }
}

/// The non-blank items of a comma-separated list.
fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The numbers of the form, checked before anything is sent.
struct Numbers {
    capacity: u32,
    offer_timeout: u32,
    sla: u32,
    wrapup: u32,
}

impl Numbers {
    fn of(d: &Draft) -> Result<Numbers, String> {
        Ok(Numbers {
            capacity: number(&d.capacity, "The capacity")?,
            offer_timeout: number(&d.offer_timeout, "The offer timeout")?,
            sla: number(&d.sla, "The SLA")?,
            wrapup: number(&d.wrapup, "The wrap-up time")?,
        })
    }
}

#[derive(Debug, Clone)]
pub enum Message {
    Pick(CampaignId),
    New,
    Name(String),
    Channel(ChannelKind),
    Strategy(Strategy),
    Member(AgentId, bool),
    /// One place earlier in the routing order.
    Up(AgentId),
    Capacity(String),
    AutoAccept(bool),
    OfferTimeout(String),
    Sla(String),
    Wrapup(String),
    Dispositions(String),
    Fields(String),
    Hours(String),
    Zone(String),
    ClosedMessage(String),
    Save,
    Created(Result<CampaignId, Error>),
    Edited(Result<Campaign, Error>),
}

impl Campaigns {
    pub fn update(
        &mut self,
        message: Message,
        backend: &Backend,
        team: &TeamOverview,
    ) -> SectionUpdate<Message> {
        let d = &mut self.draft;
        match message {
            Message::Pick(id) => {
                if let Some(c) = team.team.campaigns.get(&id) {
                    self.editing = Some(id);
                    self.open = true;
                    self.draft = Draft::of(c);
                    self.origin = self.draft.clone();
                    self.error = None;
                }
            }
            Message::New => {
                self.editing = None;
                self.open = true;
                self.draft = Draft::blank(team.me.agent);
                self.origin = self.draft.clone();
                self.error = None;
            }
            Message::Name(v) => d.name = v,
            Message::Channel(v) => d.channel = Some(v),
            Message::Strategy(v) => d.strategy = Some(v),
            Message::Member(agent, true) => {
                if !d.members.contains(&agent) {
                    d.members.push(agent);
                }
            }
            Message::Member(agent, false) => d.members.retain(|m| *m != agent),
            Message::Up(agent) => {
                if let Some(i) = d.members.iter().position(|m| *m == agent)
                    && i > 0
                {
                    d.members.swap(i - 1, i);
                }
            }
            Message::Capacity(v) => d.capacity = v,
            Message::AutoAccept(v) => d.auto_accept = v,
            Message::OfferTimeout(v) => d.offer_timeout = v,
            Message::Sla(v) => d.sla = v,
            Message::Wrapup(v) => d.wrapup = v,
            Message::Dispositions(v) => d.dispositions = v,
            Message::Fields(v) => d.fields = v,
            Message::Hours(v) => d.hours = v,
            Message::Zone(v) => d.zone = v,
            Message::ClosedMessage(v) => d.closed_message = v,
            Message::Save => return (self.save(backend), None),
            Message::Created(result) => {
                if let Some(id) = settle(&mut self.busy, &mut self.error, result) {
                    self.editing = Some(id);
                    self.origin = self.draft.clone();
                    let toast = format!("Added campaign {}.", self.draft.name.trim());
                    return (Task::none(), Some(Toast::Info(toast)));
                }
            }
            Message::Edited(result) => {
                if let Some(c) = settle(&mut self.busy, &mut self.error, result) {
                    self.draft = Draft::of(&c);
                    self.origin = self.draft.clone();
                    let toast = format!("Saved campaign {}.", c.name);
                    return (Task::none(), Some(Toast::Info(toast)));
                }
            }
        }
        (Task::none(), None)
    }

    fn save(&mut self, backend: &Backend) -> Task<Message> {
        let d = &self.draft;
        let numbers = match Numbers::of(d) {
            Ok(n) => n,
            Err(e) => {
                self.error = Some(e);
                return Task::none();
            }
        };
        let request = match self.editing {
            None => {
                let Some(channel) = d.channel else {
                    self.error = Some("Pick the campaign's channel.".into());
                    return Task::none();
                };
                Request::AddCampaign(CampaignSpec {
                    name: d.name.clone(),
                    channel,
                    strategy: d.strategy.unwrap_or(Strategy::RingAll),
                    members: d.member_names(),
                    dispositions: d.dispositions(),
                    fields: d.form_fields(),
                    capacity: numbers.capacity,
                    auto_accept: d.auto_accept,
                    sla_seconds: numbers.sla,
                    wrapup_seconds: numbers.wrapup,
                    offer_timeout_seconds: Some(numbers.offer_timeout),
                    hours: (!d.hours.trim().is_empty()).then(|| d.business_hours()),
                })
            }
            Some(id) => {
                let o = &self.origin;
                let was = match Numbers::of(o) {
                    Ok(n) => n,
                    Err(e) => {
                        self.error = Some(e);
                        return Task::none();
                    }
                };
                let changed = |now: u32, then: u32| (now != then).then_some(now);
                let edit = CampaignEdit {
                    name: (d.name != o.name).then(|| d.name.clone()),
                    strategy: d.strategy.filter(|s| Some(*s) != o.strategy),
                    members: (d.members != o.members).then(|| d.member_names()),
                    dispositions: (d.dispositions() != o.dispositions()).then(|| d.dispositions()),
                    fields: (d.form_fields() != o.form_fields()).then(|| d.form_fields()),
                    capacity: changed(numbers.capacity, was.capacity),
                    auto_accept: (d.auto_accept != o.auto_accept).then_some(d.auto_accept),
                    sla_seconds: changed(numbers.sla, was.sla),
                    wrapup_seconds: changed(numbers.wrapup, was.wrapup),
                    offer_timeout_seconds: changed(numbers.offer_timeout, was.offer_timeout),
                    hours: d.hours_changed(o).then(|| d.business_hours()),
                };
                if edit == CampaignEdit::default() {
                    self.error = Some("Nothing changed.".into());
                    return Task::none();
                }
                self.busy = true;
                self.error = None;
                return call(
                    backend,
                    Request::EditCampaign {
                        campaign: id.to_string(),
                        edit,
                    },
                    Message::Edited,
                );
            }
        };
        self.busy = true;
        self.error = None;
        call(backend, request, Message::Created)
    }

    pub fn view<'a>(&'a self, team: &'a TeamOverview, query: &str) -> Element<'a, Message> {
        let mut campaigns: Vec<&Campaign> = team
            .team
            .campaigns
            .values()
            .filter(|c| matches(query, &c.name))
            .collect();
        campaigns.sort_by_key(|c| c.name.to_lowercase());
        let mut list = column![container_pad(secondary("New campaign…", Message::New)),].spacing(2);
        for c in campaigns {
            let selected = self.open && self.editing == Some(c.id);
            let members = match c.members.len() {
                1 => "1 member".to_string(),
                n => format!("{n} members"),
            };
            let about = format!(
                "{} · {} · {members}",
                channel_label(c.channel),
                strategy_label(c.strategy)
            );
            list = list.push(list_item(
                c.name.clone(),
                about,
                selected,
                Message::Pick(c.id),
            ));
        }
        list_and_form(
            list,
            self.open.then(|| self.form(team)),
            "Pick a campaign to change it, or add a new one.",
        )
    }

    fn form<'a>(&'a self, team: &'a TeamOverview) -> Element<'a, Message> {
        let d = &self.draft;
        let input = |id: &'static str, hint: &str, value: &str, on: fn(String) -> Message| {
            text_input(hint, value)
                .id(id)
                .on_input(on)
                .on_submit(Message::Save)
                .padding(8)
                .size(TEXT)
                .style(theme::inputs::field)
        };
        let title = if self.editing.is_some() {
            "Campaign"
        } else {
            "New campaign"
        };
        // A campaign keeps its channel: its interactions and gateways hang on it.
        let channel: Element<'a, Message> = match (self.editing, d.channel) {
            (Some(_), Some(c)) => text(channel_label(c)).size(TEXT).into(),
            _ => choices(
                ChannelKind::ALL
                    .iter()
                    .filter(|c| **c != ChannelKind::Internal)
                    .map(|c| (*c, channel_label(*c))),
                d.channel,
                Message::Channel,
            ),
        };
        let strategy = choices(
            Strategy::ALL.iter().map(|s| (*s, strategy_label(*s))),
            d.strategy,
            Message::Strategy,
        );
        let save = if self.editing.is_some() {
            "Save campaign"
        } else {
            "Add campaign"
        };
        let form = column![
            head(
                text(title).size(18).into(),
                vec![primary(save, Message::Save, self.busy)],
                self.error.as_deref()
            ),
            field(
                "Name",
                input(NAME_ID, "Orders", &d.name, Message::Name),
                None
            ),
            field("Channel", channel, None),
            field("Routing strategy", strategy, None),
            field("Members, in routing order", self.members(team), None),
            row![
                field(
                    "Open per agent (0: any)",
                    input(CAPACITY_ID, "0", &d.capacity, Message::Capacity),
                    None
                ),
                field(
                    "Offer timeout (s)",
                    input(
                        OFFER_TIMEOUT_ID,
                        "30",
                        &d.offer_timeout,
                        Message::OfferTimeout
                    ),
                    None
                ),
                field(
                    "SLA target (s, 0: none)",
                    input(SLA_ID, "0", &d.sla, Message::Sla),
                    None
                ),
                field(
                    "Wrap-up (s)",
                    input(WRAPUP_ID, "0", &d.wrapup, Message::Wrapup),
                    None
                ),
            ]
            .spacing(12),
            checkbox(d.auto_accept)
                .label("Offers are accepted at once (no answer needed)")
                .on_toggle(Message::AutoAccept)
                .text_size(TEXT),
            row![
                field(
                    "Dispositions (commas between)",
                    input(
                        DISPOSITIONS_ID,
                        "Resolved, Callback, No answer",
                        &d.dispositions,
                        Message::Dispositions
                    ),
                    None
                ),
                field(
                    "Form fields (Name or Name:required)",
                    input(
                        FIELDS_ID,
                        "Order:required, Notes",
                        &d.fields,
                        Message::Fields
                    ),
                    None
                ),
            ]
            .spacing(12),
            row![
                container(field(
                    "Business hours (empty: always open)",
                    input(
                        HOURS_ID,
                        "mon-fri 09:00-18:00; sat 10:00-14:00",
                        &d.hours,
                        Message::Hours
                    ),
                    None
                ))
                .width(Length::FillPortion(3)),
                container(field(
                    "Time zone",
                    input(ZONE_ID, "Europe/Madrid", &d.zone, Message::Zone),
                    None
                ))
                .width(Length::FillPortion(2)),
                container(field(
                    "Closed message (webchat)",
                    input(
                        CLOSED_ID,
                        "Closed now: we answer from 9.",
                        &d.closed_message,
                        Message::ClosedMessage
                    ),
                    None
                ))
                .width(Length::FillPortion(3)),
            ]
            .spacing(12),
        ]
        .spacing(12)
        .padding(20)
        .max_width(760);
        scrollable(form).height(Length::Fill).into()
    }

    /// Members first in their routing order (each can move up), then the
    /// other agents to add.
    fn members<'a>(&'a self, team: &'a TeamOverview) -> Element<'a, Message> {
        let name = |id: AgentId| {
            team.agents
                .iter()
                .find(|a| a.id == id)
                .map(|a| a.name.clone())
                .unwrap_or_else(|| id.to_string())
        };
        let mut col = column![].spacing(4);
        for (i, &id) in self.draft.members.iter().enumerate() {
            let up = button(text("↑").size(SMALL))
                .on_press_maybe((i > 0).then_some(Message::Up(id)))
                .style(theme::buttons::ghost)
                .padding([2, 8]);
            col = col.push(
                row![
                    text(format!("{}.", i + 1))
                        .size(TEXT)
                        .width(Length::Fixed(24.0)),
                    checkbox(true)
                        .label(name(id))
                        .on_toggle(move |on| Message::Member(id, on))
                        .text_size(TEXT),
                    Space::new().width(Length::Fixed(8.0)),
                    up,
                ]
                .align_y(Alignment::Center),
            );
        }
        let mut others: Vec<_> = team
            .agents
            .iter()
            .filter(|a| !self.draft.members.contains(&a.id))
            .collect();
        others.sort_by_key(|a| a.name.to_lowercase());
        for a in others {
            let id = a.id;
            col = col.push(
                row![
                    Space::new().width(Length::Fixed(24.0)),
                    checkbox(false)
                        .label(a.name.as_str())
                        .on_toggle(move |on| Message::Member(id, on))
                        .text_size(TEXT),
                ]
                .align_y(Alignment::Center),
            );
        }
        col.into()
    }
}

fn container_pad<'a, M: 'a>(content: Element<'a, M>) -> Element<'a, M> {
    iced::widget::container(content).padding([8, 16]).into()
}

/// A routing strategy's name as the form shows it.
fn strategy_label(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::RingAll => "Ring all",
        Strategy::RoundRobin => "Round robin",
        Strategy::LongestIdle => "Longest idle",
        Strategy::LeastBusy => "Least busy",
        Strategy::FewestHandled => "Fewest handled",
        Strategy::TopDown => "Top down",
        Strategy::WeightedRandom => "Weighted random",
    }
}
