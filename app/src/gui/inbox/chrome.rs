//! The inbox's frame around the screen: the left rail (tabs with their
//! counts, the switches, who is signed in) and the top bar (the scoped
//! search, `+`, the status selector, the peers indicator).

use iced::widget::{Space, button, column, container, pick_list, row, text, text_input, toggler};
use iced::{Alignment, Length};
use meshdesk_model::AgentStatus;

use super::{
    GATEWAYS_ADDR_ID, GATEWAYS_ID, Inbox, Message, NOTIFICATIONS_ID, SEARCH_ID, Switch, TeamAction,
};
use crate::gui::nav::TabId;
use crate::gui::session::{status_label, status_tone};
use crate::gui::settings;
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, badge, dot, muted};

/// The rail's Team menu (Export bundle…, Import bundle…).
pub const TEAM_MENU_ID: &str = "team-menu";

/// A choice of the status selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChoice(pub AgentStatus);

impl std::fmt::Display for StatusChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&status_label(&self.0))
    }
}

/// The rail's switches, which live in the window's settings.
pub struct Switches<'a> {
    pub notifications: bool,
    /// Shown only over a node (the gateways talk to it).
    pub gateways: Option<GatewaysSwitch<'a>>,
}

pub struct GatewaysSwitch<'a> {
    pub on: bool,
    pub addr: &'a str,
    /// Where they are served, once they are.
    pub url: Option<String>,
}

/// A labelled on/off switch at the foot of the rail.
fn rail_switch<'a>(on: bool, label: &'a str, message: fn(bool) -> Message) -> Element<'a, Message> {
    toggler(on)
        .label(label)
        .on_toggle(message)
        .size(16)
        .text_size(SMALL)
        .spacing(8)
        .width(Length::Fill)
        .into()
}

/// The webchat-and-API switch: the address while off, where they are while on.
fn gateways_switch(g: GatewaysSwitch<'_>) -> Element<'_, Message> {
    let status: Element<'_, Message> = match (g.on, g.url) {
        (true, Some(url)) => muted(url).into(),
        (true, None) => muted("Starting…").into(),
        (false, _) => text_input(settings::GATEWAYS_ADDR, g.addr)
            .id(GATEWAYS_ADDR_ID)
            .on_input(|addr| Message::Switch(Switch::GatewaysAddr(addr)))
            .size(SMALL)
            .padding([4, 6])
            .into(),
    };
    container(
        column![
            container(rail_switch(g.on, "Webchat & API", |on| {
                Message::Switch(Switch::Gateways(on))
            }))
            .id(GATEWAYS_ID),
            status,
        ]
        .spacing(6),
    )
    .padding(iced::Padding {
        top: 0.0,
        right: 12.0,
        bottom: 8.0,
        left: 12.0,
    })
    .into()
}

impl Inbox {
    pub(super) fn rail<'a>(&'a self, switches: Switches<'a>) -> Element<'a, Message> {
        let s = &self.session;
        let team = s
            .team
            .as_ref()
            .map(|t| t.team.name.clone())
            .unwrap_or_default();
        let mut col = column![
            container(column![text("meshdesk").size(20), muted(team)].spacing(2)).padding([14, 12]),
        ]
        .spacing(2)
        .padding([0, 8]);
        for tab in TabId::ALL {
            if tab.supervisors_only() && !self.session.is_supervisor() {
                continue;
            }
            let count: Option<Element<'_, Message>> = match tab {
                TabId::Active if self.counts.unread > 0 => {
                    Some(badge(self.counts.unread as usize, true))
                }
                TabId::Active if self.counts.active > 0 => Some(badge(self.counts.active, false)),
                TabId::Pending if self.counts.pending > 0 => Some(badge(self.counts.pending, true)),
                // Rooms with unread messages and unseen mentions.
                TabId::Contacts if self.counts.chat + self.counts.mentions > 0 => {
                    Some(badge(self.counts.chat + self.counts.mentions, true))
                }
                _ => None,
            };
            let mut label = row![text(tab.label()).size(TEXT).width(Length::Fill)]
                .align_y(Alignment::Center)
                .spacing(6);
            if let Some(c) = count {
                label = label.push(c);
            }
            col = col.push(
                button(label)
                    .on_press(Message::Tab(tab))
                    .width(Length::Fill)
                    .padding([8, 10])
                    .style(theme::buttons::item(self.tab == tab)),
            );
        }
        col = col.push(Space::new().height(Length::Fill));
        // The team's actions that are not a tab: a menu, so the rail stays short.
        col = col.push(
            container(
                pick_list(
                    if self.session.is_supervisor() {
                        &TeamAction::SUPERVISOR[..]
                    } else {
                        &TeamAction::ALL[..]
                    },
                    None::<TeamAction>,
                    Message::TeamMenu,
                )
                .placeholder("Team")
                .text_size(SMALL)
                .padding([6, 10])
                .width(Length::Fill)
                .style(theme::inputs::pick),
            )
            .id(TEAM_MENU_ID)
            .padding(iced::Padding {
                top: 0.0,
                right: 4.0,
                bottom: 8.0,
                left: 4.0,
            }),
        );
        if let Some(g) = switches.gateways {
            col = col.push(gateways_switch(g));
        }
        col = col.push(
            container(rail_switch(switches.notifications, "Notifications", |on| {
                Message::Switch(Switch::Notifications(on))
            }))
            .id(NOTIFICATIONS_ID)
            .padding([0, 12]),
        );
        if let (Some(me), Some(team)) = (s.me(), &s.team) {
            let name = team
                .agents
                .iter()
                .find(|a| a.id == me)
                .map(|a| a.name.clone())
                .unwrap_or_default();
            let status = s.status_of(me);
            col = col.push(
                container(
                    row![
                        dot(status_tone(&status)),
                        column![text(name).size(TEXT), muted(status_label(&status))].spacing(1)
                    ]
                    .spacing(10)
                    .align_y(Alignment::Center),
                )
                .padding([14, 12]),
            );
        }
        container(col)
            .width(Length::Fixed(200.0))
            .height(Length::Fill)
            .style(theme::boxes::chrome)
            .into()
    }

    pub(super) fn top_bar(&self) -> Element<'_, Message> {
        let s = &self.session;
        let search = text_input(self.tab.placeholder(), self.query())
            .id(SEARCH_ID)
            .on_input(Message::Search)
            .padding([7, 10])
            .size(TEXT)
            .width(Length::Fill)
            .style(theme::inputs::field);
        let new = button(text("+ New").size(TEXT))
            .on_press(Message::New)
            .padding([7, 14])
            .style(theme::buttons::primary);
        let mut choices = vec![StatusChoice(AgentStatus::Available)];
        let reasons = s.break_reasons();
        if reasons.is_empty() {
            choices.push(StatusChoice(AgentStatus::Break {
                reason: String::new(),
            }));
        }
        for reason in reasons {
            choices.push(StatusChoice(AgentStatus::Break { reason }));
        }
        choices.push(StatusChoice(AgentStatus::Offline));
        let mine = s
            .me()
            .and_then(|me| s.agent(me))
            .map(|a| StatusChoice(a.status.clone()));
        let status = pick_list(choices, mine, Message::Status)
            .placeholder("Status")
            .text_size(TEXT)
            .padding([7, 10])
            .width(Length::Fixed(190.0))
            .style(theme::inputs::pick);
        container(
            row![
                container(search).max_width(560).width(Length::Fill),
                new,
                Space::new().width(Length::Fill),
                status,
                self.peers_indicator(),
            ]
            .spacing(12)
            .align_y(Alignment::Center),
        )
        .padding([10, 16])
        .width(Length::Fill)
        .style(theme::boxes::chrome)
        .into()
    }

    fn peers_indicator(&self) -> Element<'_, Message> {
        let connected = self.peers.len();
        let syncing: usize = self.peers.values().map(|p| p.pending_docs).sum();
        let (tone, label) = if !self.backend.is_networked() {
            (theme::Tone::Muted, "Local only".to_string())
        } else if connected == 0 {
            (theme::Tone::Muted, "No teammates connected".to_string())
        } else if syncing > 0 {
            (
                theme::Tone::Warning,
                format!("{connected} connected · syncing {syncing}",),
            )
        } else {
            let who = if connected == 1 {
                "teammate"
            } else {
                "teammates"
            };
            (theme::Tone::Success, format!("{connected} {who} · in sync"))
        };
        row![dot(tone), text(label).size(SMALL)]
            .spacing(6)
            .align_y(Alignment::Center)
            .into()
    }
}
