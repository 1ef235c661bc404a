//! The Board (supervisors): each campaign's queue and today's figures, each
//! agent's status and load, read again whenever an interaction, an agent or
//! the team changes (locally or from a peer), so it moves without a click.
//! The search box narrows the tables by name. From it a supervisor sets a
//! teammate Offline whose machine is gone, and takes an interaction back
//! from its agent (to the queue or to another teammate, through the same
//! dialog as in Active). ↑ and ↓ pick a row of those, Enter or Ctrl+R
//! takes it back.

use iced::widget::{button, column, container, row, scrollable, text};
use iced::{Alignment, Length, Task};
use meshdesk_model::board::{AgentNow, Board, CampaignNow, WorkNow};
use meshdesk_model::ops::Request;
use meshdesk_model::report::percent_text;
use meshdesk_model::{Agent, AgentId, AgentStatus, InteractionId, Millis};

use super::{Toast, call};
use crate::dates;
use crate::gui::backend::{Backend, Error};
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, error_box, muted};

#[derive(Debug, Default)]
pub struct BoardScreen {
    board: Option<Box<Board>>,
    /// The row of "With agents now" the keys move over.
    selected: Option<InteractionId>,
    error: Option<String>,
    query: String,
}

#[derive(Debug, Clone)]
pub enum Message {
    Loaded(Result<Box<Board>, Error>),
    Select(InteractionId),
    SetOffline(AgentId),
    WentOffline(Result<Agent, Error>),
    /// Take this interaction back from its owner (opens the dialog).
    TakeBack {
        id: InteractionId,
        owner: AgentId,
        who: String,
    },
}

/// What the board passes on to the shell.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Toast(Toast),
    /// Open the take-back dialog for a teammate's interaction.
    TakeBack {
        id: InteractionId,
        owner: AgentId,
        who: String,
    },
}

impl BoardScreen {
    pub fn query(&self) -> &str {
        &self.query
    }

    pub fn search(&mut self, query: String) -> Task<Message> {
        self.query = query;
        Task::none()
    }

    /// Reads the board again.
    pub fn reload(&self, backend: &Backend) -> Task<Message> {
        call(backend, Request::Board, Message::Loaded)
    }

    pub fn update(
        &mut self,
        message: Message,
        backend: &Backend,
    ) -> (Task<Message>, Option<Event>) {
        match message {
            Message::Loaded(Ok(board)) => {
                self.board = Some(board);
                self.error = None;
            }
            Message::Loaded(Err(e)) => self.error = Some(e.to_string()),
            Message::Select(id) => self.selected = Some(id),
            Message::SetOffline(agent) => {
                let request = Request::ForceOffline {
                    agent: agent.to_string(),
                };
                return (call(backend, request, Message::WentOffline), None);
            }
            Message::WentOffline(Ok(agent)) => {
                let toast = Toast::Info(format!("{} is Offline now.", agent.name));
                return (Task::none(), Some(Event::Toast(toast)));
            }
            Message::WentOffline(Err(e)) => {
                return (
                    Task::none(),
                    Some(Event::Toast(Toast::Error(e.to_string()))),
                );
            }
            Message::TakeBack { id, owner, who } => {
                return (Task::none(), Some(Event::TakeBack { id, owner, who }));
            }
        }
        (Task::none(), None)
    }

    /// The rows of "With agents now" the search box leaves.
    fn working(&self) -> Vec<&WorkNow> {
        let Some(board) = &self.board else {
            return Vec::new();
        };
        board
            .working
            .iter()
            .filter(|w| self.matches(&owner_name(board, w.owner)) || self.matches(&w.customer))
            .collect()
    }

    /// ↑ and ↓ move over the rows with an agent; Enter asks to take the
    /// picked one back (as Ctrl+R does).
    pub fn key(&mut self, key: &iced::keyboard::Key) -> Option<Message> {
        use iced::keyboard::{Key, key::Named};
        let rows: Vec<InteractionId> = self.working().iter().map(|w| w.id).collect();
        let at = self
            .selected
            .and_then(|s| rows.iter().position(|r| *r == s));
        let next = match key {
            Key::Named(Named::ArrowDown) => {
                at.map_or(0, |i| (i + 1).min(rows.len().saturating_sub(1)))
            }
            Key::Named(Named::ArrowUp) => at.map_or(0, |i| i.saturating_sub(1)),
            Key::Named(Named::Enter) => return self.take_back_selected(),
            _ => return None,
        };
        rows.get(next).map(|id| Message::Select(*id))
    }

    /// Taking the picked row back (Enter, Ctrl+R).
    pub fn take_back_selected(&self) -> Option<Message> {
        let w = self
            .working()
            .into_iter()
            .find(|w| Some(w.id) == self.selected)?;
        Some(Message::TakeBack {
            id: w.id,
            owner: w.owner,
            who: w.customer.clone(),
        })
    }

    fn matches(&self, name: &str) -> bool {
        let needle = self.query.trim().to_lowercase();
        needle.is_empty() || name.to_lowercase().contains(&needle)
    }

    /// `now` moves the times on between reads; `me` gets no Set offline.
    pub fn view(&self, now: Millis, me: Option<AgentId>) -> Element<'_, Message> {
        let mut body = column![].spacing(16).padding(16);
        if let Some(e) = &self.error {
            body = body.push(error_box(e));
        }
        let Some(board) = &self.board else {
            return body.push(muted("Reading the board…")).into();
        };
        let since = (now - board.at).max(0);
        let campaigns: Vec<&CampaignNow> = board
            .campaigns
            .iter()
            .filter(|c| self.matches(&c.name))
            .collect();
        let agents: Vec<&AgentNow> = board
            .agents
            .iter()
            .filter(|a| self.matches(&a.name))
            .collect();
        body = body
            .push(text("Campaigns, today (UTC)").size(16))
            .push(campaign_table(&campaigns, since))
            .push(text("Agents now").size(16))
            .push(agent_table(&agents, since, me))
            .push(text("With agents now  (↑ ↓ to pick, Enter to take back)").size(16))
            .push(work_table(board, &self.working(), self.selected, since));
        scrollable(body).height(Length::Fill).into()
    }
}

fn header<'a>(
    labels: &[&'a str],
    first: u16,
) -> iced::widget::Row<'a, Message, iced::Theme, iced::Renderer> {
    let mut head = row![].spacing(8);
    for (i, h) in labels.iter().enumerate() {
        head = head.push(
            text(*h)
                .size(SMALL)
                .style(theme::texts::muted)
                .width(Length::FillPortion(if i == 0 { first } else { 2 })),
        );
    }
    head
}

fn cell<'a>(s: String, portion: u16) -> iced::widget::Text<'a> {
    text(s).size(TEXT).width(Length::FillPortion(portion))
}

fn card<'a>(rows: iced::widget::Column<'a, Message>) -> Element<'a, Message> {
    container(rows)
        .padding(12)
        .width(Length::Fill)
        .style(theme::boxes::card)
        .into()
}

fn campaign_table<'a>(campaigns: &[&CampaignNow], since: Millis) -> Element<'a, Message> {
    let mut rows = column![header(
        &[
            "Campaign",
            "Waiting",
            "Longest wait",
            "Offered",
            "Answered",
            "Abandoned",
            "Service level",
            "Logged in",
        ],
        3,
    )]
    .spacing(6);
    if campaigns.is_empty() {
        rows = rows.push(muted("No campaigns."));
    }
    for c in campaigns {
        let sl = match (c.service_level_permille, c.sla_seconds) {
            (Some(p), sla) => format!("{}% of {sla} s", percent_text(p)),
            (None, 0) => "no target".into(),
            (None, sla) => format!("— of {sla} s"),
        };
        let longest = c
            .longest_wait_ms
            .map(|w| dates::clock(w + since))
            .unwrap_or_else(|| "—".into());
        let waiting = cell(c.waiting.to_string(), 2);
        let waiting = if c.waiting > 0 {
            waiting.style(theme::texts::warning)
        } else {
            waiting
        };
        rows = rows.push(
            row![
                cell(c.name.clone(), 3),
                waiting,
                cell(longest, 2),
                cell(c.offered_today.to_string(), 2),
                cell(c.answered_today.to_string(), 2),
                cell(c.abandoned_today.to_string(), 2),
                cell(sl, 2),
                cell(c.agents_logged_in.to_string(), 2),
            ]
            .spacing(8),
        );
    }
    card(rows)
}

fn agent_table<'a>(
    agents: &[&AgentNow],
    since: Millis,
    me: Option<AgentId>,
) -> Element<'a, Message> {
    let mut rows = column![header(
        &[
            "Agent",
            "Status",
            "For",
            "Active",
            "Handled today",
            "Handle avg",
            ""
        ],
        3,
    )]
    .spacing(6);
    if agents.is_empty() {
        rows = rows.push(muted("No agents."));
    }
    for a in agents {
        let status = match &a.status {
            AgentStatus::Available => "Available".to_string(),
            AgentStatus::Break { reason } if reason.is_empty() => "On a break".into(),
            AgentStatus::Break { reason } => format!("Break: {reason}"),
            AgentStatus::Offline => "Offline".into(),
        };
        let load = match a.capacity {
            0 => a.active.to_string(),
            cap => format!("{} of {cap}", a.active),
        };
        rows = rows.push(
            row![
                cell(a.name.clone(), 3),
                cell(status, 2),
                cell(dates::clock(a.status_for_ms + since), 2),
                cell(load, 2),
                cell(a.handled_today.to_string(), 2),
                cell(
                    a.handle_avg_ms
                        .map(dates::clock)
                        .unwrap_or_else(|| "—".into()),
                    2
                ),
                container(action(
                    "Set offline",
                    (a.status != AgentStatus::Offline && Some(a.id) != me)
                        .then_some(Message::SetOffline(a.id)),
                ))
                .width(Length::FillPortion(2)),
            ]
            .spacing(8)
            .align_y(Alignment::Center),
        );
    }
    card(rows)
}

/// A small button in a table row; none when there is nothing to do.
fn action<'a>(label: &'a str, message: Option<Message>) -> Element<'a, Message> {
    match message {
        Some(m) => button(text(label).size(SMALL))
            .on_press(m)
            .style(theme::buttons::secondary)
            .padding([3, 10])
            .into(),
        None => text("").into(),
    }
}

/// The name of an agent on the board.
fn owner_name(board: &Board, owner: AgentId) -> String {
    board
        .agents
        .iter()
        .find(|a| a.id == owner)
        .map(|a| a.name.clone())
        .unwrap_or_else(|| "an agent".into())
}

/// The interactions with an agent now, each one a click from the take-back
/// dialog; a click on a row picks it for the keys.
fn work_table<'a>(
    board: &'a Board,
    rows_shown: &[&WorkNow],
    selected: Option<InteractionId>,
    since: Millis,
) -> Element<'a, Message> {
    let mut rows = column![header(&["Agent", "Customer", "Campaign", "For", ""], 3)].spacing(2);
    let campaign_of = |w: &WorkNow| {
        board
            .campaigns
            .iter()
            .find(|c| c.id == w.campaign)
            .map(|c| c.name.clone())
            .unwrap_or_default()
    };
    for w in rows_shown {
        let take_back = Message::TakeBack {
            id: w.id,
            owner: w.owner,
            who: w.customer.clone(),
        };
        let line = row![
            cell(owner_name(board, w.owner), 3),
            cell(w.customer.clone(), 2),
            cell(campaign_of(w), 2),
            cell(dates::clock(w.held_for_ms + since), 2),
            container(action("Take back…", Some(take_back))).width(Length::FillPortion(2)),
        ]
        .spacing(8)
        .align_y(Alignment::Center);
        rows = rows.push(
            button(line)
                .on_press(Message::Select(w.id))
                .style(theme::buttons::item(selected == Some(w.id)))
                .padding([2, 0])
                .width(Length::Fill),
        );
    }
    if rows_shown.is_empty() {
        rows = rows.push(muted("No interaction is with an agent."));
    }
    card(rows)
}
