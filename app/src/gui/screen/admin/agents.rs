//! Agents: each teammate's role, own capacity and campaigns, set Offline
//! when their machine is gone, and their devices, each revocable (the team
//! key rotates and the device is cut off for good, so it asks first).

use iced::widget::{button, checkbox, column, container, row, scrollable, text, text_input};
use iced::{Alignment, Length, Task};
use meshdesk_model::ops::{AgentEdit, Request, TeamOverview};
use meshdesk_model::{Agent, AgentId, AgentStatus, CampaignId, Member, Role};

use super::{
    SectionUpdate, choices, head, list_and_form, list_item, matches, number, primary, secondary,
    settle,
};
use crate::dates;
use crate::gui::backend::{Backend, Error};
use crate::gui::screen::{Toast, call};
use crate::gui::session::{Session, status_label};
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, field, muted};

pub const CAPACITY_ID: &str = "agent-capacity";

#[derive(Debug, Default)]
pub struct Agents {
    selected: Option<AgentId>,
    draft: Draft,
    origin: Draft,
    /// The device whose revocation waits for a second click.
    confirm_revoke: Option<String>,
    busy: bool,
    error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Draft {
    role: Option<Role>,
    capacity: String,
    campaigns: Vec<CampaignId>,
}

impl Draft {
    fn of(team: &TeamOverview, agent: &Agent) -> Draft {
        let mut campaigns: Vec<CampaignId> =
            team.team.campaigns_of(agent.id).map(|c| c.id).collect();
        campaigns.sort();
        Draft {
            role: team.team.role_of(agent.id),
            capacity: agent.capacity.to_string(),
            campaigns,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Message {
    Pick(AgentId),
    Role(Role),
    Capacity(String),
    Campaign(CampaignId, bool),
    Save,
    Saved(Result<Agent, Error>),
    SetOffline,
    Revoke(String),
    ConfirmRevoke,
    KeepDevice,
    Revoked(Result<(), Error>),
}

impl Agents {
    pub fn update(
        &mut self,
        message: Message,
        backend: &Backend,
        team: &TeamOverview,
    ) -> SectionUpdate<Message> {
        match message {
            Message::Pick(id) => {
                if let Some(agent) = team.agents.iter().find(|a| a.id == id) {
                    self.selected = Some(id);
                    self.draft = Draft::of(team, agent);
                    self.origin = self.draft.clone();
                    self.confirm_revoke = None;
                    self.error = None;
                }
            }
            Message::Role(role) => self.draft.role = Some(role),
            Message::Capacity(v) => self.draft.capacity = v,
            Message::Campaign(id, true) => {
                if !self.draft.campaigns.contains(&id) {
                    self.draft.campaigns.push(id);
                }
            }
            Message::Campaign(id, false) => self.draft.campaigns.retain(|c| *c != id),
            Message::Save => return (self.save(backend, team), None),
            Message::Saved(result) => {
                if let Some(agent) = settle(&mut self.busy, &mut self.error, result) {
                    self.origin = self.draft.clone();
                    return (
                        Task::none(),
                        Some(Toast::Info(format!("Saved {}.", agent.name))),
                    );
                }
            }
            Message::SetOffline => {
                if let Some(id) = self.selected {
                    self.busy = true;
                    let request = Request::ForceOffline {
                        agent: id.to_string(),
                    };
                    return (call(backend, request, Message::Saved), None);
                }
            }
            Message::Revoke(device) => self.confirm_revoke = Some(device),
            Message::KeepDevice => self.confirm_revoke = None,
            Message::ConfirmRevoke => {
                if let Some(device) = self.confirm_revoke.take() {
                    self.busy = true;
                    let backend = backend.clone();
                    return (
                        Task::perform(
                            async move { backend.revoke(device).await },
                            Message::Revoked,
                        ),
                        None,
                    );
                }
            }
            Message::Revoked(result) => {
                if let Some(()) = settle(&mut self.busy, &mut self.error, result) {
                    let toast =
                        "Device revoked: the team key rotates, and it can no longer connect.";
                    return (Task::none(), Some(Toast::Info(toast.into())));
                }
            }
        }
        (Task::none(), None)
    }

    fn save(&mut self, backend: &Backend, team: &TeamOverview) -> Task<Message> {
        let Some(id) = self.selected else {
            return Task::none();
        };
        let (d, o) = (&self.draft, &self.origin);
        let capacity = match (number(&d.capacity, "The capacity"), number(&o.capacity, "")) {
            (Ok(now), Ok(then)) => (now != then).then_some(now),
            (Err(e), _) | (_, Err(e)) => {
                self.error = Some(e);
                return Task::none();
            }
        };
        let mut wanted = d.campaigns.clone();
        wanted.sort();
        let campaigns = (wanted != o.campaigns).then(|| {
            wanted
                .iter()
                .filter(|c| team.team.campaigns.contains_key(c))
                .map(|c| c.to_string())
                .collect()
        });
        let edit = AgentEdit {
            role: d.role.filter(|r| Some(*r) != o.role),
            capacity,
            campaigns,
        };
        if edit == AgentEdit::default() {
            self.error = Some("Nothing changed.".into());
            return Task::none();
        }
        self.busy = true;
        self.error = None;
        call(
            backend,
            Request::EditAgent {
                agent: id.to_string(),
                edit,
            },
            Message::Saved,
        )
    }

    pub fn view<'a>(
        &'a self,
        session: &'a Session,
        team: &'a TeamOverview,
        query: &str,
    ) -> Element<'a, Message> {
        let mut agents: Vec<&Agent> = team
            .agents
            .iter()
            .filter(|a| matches(query, &a.name))
            .collect();
        agents.sort_by_key(|a| a.name.to_lowercase());
        let mut list = column![].spacing(2).padding([8, 0]);
        for a in agents {
            let role = match team.team.role_of(a.id) {
                Some(Role::Supervisor) => "supervisor",
                Some(Role::Agent) => "agent",
                None => "no device left",
            };
            let about = format!("{role} · {}", status_label(&a.status));
            let selected = self.selected == Some(a.id);
            list = list.push(list_item(
                a.name.clone(),
                about,
                selected,
                Message::Pick(a.id),
            ));
        }
        let selected = self
            .selected
            .and_then(|id| team.agents.iter().find(|a| a.id == id));
        list_and_form(
            list,
            selected.map(|agent| self.form(session, team, agent)),
            "Pick an agent to change their role, capacity or campaigns.",
        )
    }

    fn form<'a>(
        &'a self,
        session: &'a Session,
        team: &'a TeamOverview,
        agent: &'a Agent,
    ) -> Element<'a, Message> {
        let d = &self.draft;
        let roles = choices(
            [(Role::Agent, "Agent"), (Role::Supervisor, "Supervisor")],
            d.role,
            Message::Role,
        );
        let mut campaigns: Vec<_> = team.team.campaigns.values().collect();
        campaigns.sort_by_key(|c| c.name.to_lowercase());
        let mut boxes = column![].spacing(4);
        for c in campaigns {
            let id = c.id;
            boxes = boxes.push(
                checkbox(d.campaigns.contains(&id))
                    .label(c.name.as_str())
                    .on_toggle(move |on| Message::Campaign(id, on))
                    .text_size(TEXT),
            );
        }
        let status = format!(
            "{} for {}",
            status_label(&agent.status),
            dates::clock((session.now - agent.status_since).max(0))
        );
        let mut actions = Vec::new();
        if agent.status != AgentStatus::Offline && Some(agent.id) != session.me() {
            actions.push(secondary("Set offline", Message::SetOffline));
        }
        actions.push(primary("Save agent", Message::Save, self.busy));
        let title = column![
            text(agent.name.as_str()).size(18),
            muted(status).size(SMALL)
        ]
        .spacing(2);
        let form = column![
            head(title.into(), actions, self.error.as_deref()),
            field("Role", roles, None),
            field(
                "Open interactions across campaigns (0: no limit)",
                text_input("0", &d.capacity)
                    .id(CAPACITY_ID)
                    .on_input(Message::Capacity)
                    .on_submit(Message::Save)
                    .padding(8)
                    .size(TEXT)
                    .width(Length::Fixed(160.0))
                    .style(theme::inputs::field),
                None
            ),
            field("Campaigns", boxes, None),
            text("Devices").size(16),
            self.devices(session, team, agent),
        ]
        .spacing(14)
        .padding(20)
        .max_width(720);
        scrollable(form).height(Length::Fill).into()
    }

    fn devices<'a>(
        &'a self,
        session: &'a Session,
        team: &'a TeamOverview,
        agent: &'a Agent,
    ) -> Element<'a, Message> {
        let mut devices: Vec<&Member> = team
            .team
            .members
            .values()
            .filter(|m| m.agent == agent.id)
            .collect();
        devices.sort_by_key(|m| m.joined_at);
        let mut col = column![].spacing(8);
        for m in devices {
            let short = m
                .device
                .get(m.device.len().saturating_sub(8)..)
                .unwrap_or("");
            let about = format!(
                "{} · …{short} · joined {}",
                m.role,
                dates::day(m.joined_at, &session.zone.0)
            );
            let mut line = row![
                column![
                    text(m.device_name.as_str()).size(TEXT),
                    muted(about).size(SMALL)
                ]
                .spacing(2)
                .width(Length::Fill),
            ]
            .spacing(8)
            .align_y(Alignment::Center);
            if m.revoked {
                line = line.push(text("Revoked").size(SMALL).style(theme::texts::danger));
            } else if m.device == team.me.device {
                line = line.push(muted("This device").size(SMALL));
            } else if self.confirm_revoke.as_deref() == Some(m.device.as_str()) {
                line = line
                    .push(muted("Cut it off for good?").size(SMALL))
                    .push(
                        button(text("Revoke").size(TEXT))
                            .on_press_maybe((!self.busy).then_some(Message::ConfirmRevoke))
                            .style(theme::buttons::danger)
                            .padding([6, 12]),
                    )
                    .push(secondary("Keep", Message::KeepDevice));
            } else {
                line = line.push(secondary("Revoke…", Message::Revoke(m.device.clone())));
            }
            col = col.push(container(line).padding(10).style(theme::boxes::card));
        }
        col.into()
    }
}
