//! Team (supervisors): the team's administration in the window. Campaigns,
//! agents and their devices, break reasons, canned responses and invites,
//! each a section with its own form. Every change is one request the node
//! checks as it checks the CLI's, so a refused value shows its reason by
//! the form and writes nothing. The sections draw from the session's team,
//! which the inbox reads again whenever the team or an agent changes, here
//! or on a teammate's node.

pub mod agents;
pub mod breaks;
pub mod campaigns;
pub mod canned;
pub mod invites;

use iced::widget::{button, column, row, scrollable, text};
use iced::{Length, Task};

use super::Toast;
use crate::gui::backend::Backend;
use crate::gui::session::Session;
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, empty, hrule, muted, split};

/// What `update` gives back: work to run, and maybe a toast for the shell.
pub type Update = (Task<Message>, Option<Toast>);

/// A section's update: work to run, and maybe a toast.
pub type SectionUpdate<M> = (Task<M>, Option<Toast>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Section {
    #[default]
    Campaigns,
    Agents,
    BreakReasons,
    Canned,
    Invites,
}

impl Section {
    const ALL: [Section; 5] = [
        Section::Campaigns,
        Section::Agents,
        Section::BreakReasons,
        Section::Canned,
        Section::Invites,
    ];

    fn label(self) -> &'static str {
        match self {
            Section::Campaigns => "Campaigns",
            Section::Agents => "Agents",
            Section::BreakReasons => "Break reasons",
            Section::Canned => "Canned responses",
            Section::Invites => "Invites",
        }
    }
}

#[derive(Debug, Default)]
pub struct Admin {
    section: Section,
    /// The search box: list rows whose name holds it.
    query: String,
    campaigns: campaigns::Campaigns,
    agents: agents::Agents,
    breaks: breaks::Breaks,
    canned: canned::Canned,
    invites: invites::Invites,
}

#[derive(Debug, Clone)]
pub enum Message {
    Section(Section),
    Campaigns(campaigns::Message),
    Agents(agents::Message),
    Breaks(breaks::Message),
    Canned(canned::Message),
    Invites(invites::Message),
}

impl Admin {
    pub fn query(&self) -> &str {
        &self.query
    }

    pub fn search(&mut self, query: String) -> Task<Message> {
        self.query = query;
        Task::none()
    }

    pub fn section(&self) -> Section {
        self.section
    }

    pub fn update(&mut self, message: Message, backend: &Backend, session: &Session) -> Update {
        let Some(team) = session.team.as_ref() else {
            return (Task::none(), None);
        };
        match message {
            Message::Section(section) => {
                self.section = section;
                (Task::none(), None)
            }
            Message::Campaigns(m) => {
                let (task, toast) = self.campaigns.update(m, backend, team);
                (task.map(Message::Campaigns), toast)
            }
            Message::Agents(m) => {
                let (task, toast) = self.agents.update(m, backend, team);
                (task.map(Message::Agents), toast)
            }
            Message::Breaks(m) => {
                let (task, toast) = self.breaks.update(m, backend);
                (task.map(Message::Breaks), toast)
            }
            Message::Canned(m) => {
                let (task, toast) = self.canned.update(m, backend, team);
                (task.map(Message::Canned), toast)
            }
            Message::Invites(m) => {
                let (task, toast) = self.invites.update(m, backend);
                (task.map(Message::Invites), toast)
            }
        }
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        let Some(team) = session.team.as_ref() else {
            return empty("Reading the team…");
        };
        let mut tabs = row![].spacing(6).padding([10, 16]);
        for s in Section::ALL {
            tabs = tabs.push(
                button(text(s.label()).size(TEXT))
                    .on_press(Message::Section(s))
                    .style(theme::buttons::choice(s == self.section))
                    .padding([6, 12]),
            );
        }
        let query = self.query.trim().to_lowercase();
        let body = match self.section {
            Section::Campaigns => self.campaigns.view(team, &query).map(Message::Campaigns),
            Section::Agents => self.agents.view(session, team, &query).map(Message::Agents),
            Section::BreakReasons => self.breaks.view(team).map(Message::Breaks),
            Section::Canned => self.canned.view(team, &query).map(Message::Canned),
            Section::Invites => self.invites.view(team, session.now).map(Message::Invites),
        };
        column![tabs, hrule(), body].height(Length::Fill).into()
    }
}

/// Whether `name` matches the search box's (lowercased) text.
fn matches(query: &str, name: &str) -> bool {
    query.is_empty() || name.to_lowercase().contains(query)
}

/// A whole number from a form field; `what` names it in the refusal.
fn number(raw: &str, what: &str) -> Result<u32, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(0);
    }
    raw.parse()
        .map_err(|_| format!("{what} must be a whole number, not “{raw}”."))
}

/// Settles the answer to a section's request: the form is no longer busy,
/// a refusal shows on it, a success clears an earlier one and is returned.
fn settle<T, E: std::fmt::Display>(
    busy: &mut bool,
    error: &mut Option<String>,
    result: Result<T, E>,
) -> Option<T> {
    *busy = false;
    match result {
        Ok(value) => {
            *error = None;
            Some(value)
        }
        Err(e) => {
            *error = Some(e.to_string());
            None
        }
    }
}

/// A primary (filled) button that does nothing while `busy`.
fn primary<'a, M: Clone + 'a>(label: &'a str, message: M, busy: bool) -> Element<'a, M> {
    button(text(label).size(TEXT))
        .on_press_maybe((!busy).then_some(message))
        .style(theme::buttons::primary)
        .padding([6, 14])
        .into()
}

/// A form's head: its title, then its buttons on the right, and the
/// refusal under them, where the eye is after a click.
fn head<'a, M: 'a>(
    title: Element<'a, M>,
    actions: Vec<Element<'a, M>>,
    error: Option<&str>,
) -> Element<'a, M> {
    let mut line = row![title, iced::widget::Space::new().width(Length::Fill)]
        .spacing(8)
        .align_y(iced::Alignment::Center);
    for a in actions {
        line = line.push(a);
    }
    let mut col = column![line].spacing(8);
    if let Some(e) = error {
        col = col.push(crate::gui::widget::error_box(e));
    }
    col.into()
}

/// One button per choice, the chosen one marked: every option in sight,
/// each one click away.
fn choices<'a, T: Copy + PartialEq + 'a, M: Clone + 'a>(
    options: impl IntoIterator<Item = (T, &'a str)>,
    chosen: Option<T>,
    on: impl Fn(T) -> M,
) -> Element<'a, M> {
    let mut line = row![].spacing(6);
    for (value, label) in options {
        line = line.push(
            button(text(label).size(TEXT))
                .on_press(on(value))
                .style(theme::buttons::choice(chosen == Some(value)))
                .padding([6, 12]),
        );
    }
    line.wrap().vertical_spacing(6).into()
}

/// One row of a section's list: a name and a line about it.
fn list_item<'a, M: Clone + 'a>(
    name: String,
    about: String,
    selected: bool,
    on_press: M,
) -> Element<'a, M> {
    button(column![text(name).size(TEXT), muted(about).size(SMALL)].spacing(2))
        .on_press(on_press)
        .style(theme::buttons::item(selected))
        .padding([8, 16])
        .width(Length::Fill)
        .into()
}

/// A section's list beside the open form, or beside a hint when none is open.
fn list_and_form<'a, M: 'a>(
    list: iced::widget::Column<'a, M, iced::Theme, iced::Renderer>,
    form: Option<Element<'a, M>>,
    hint: &'a str,
) -> Element<'a, M> {
    split(
        scrollable(list).height(Length::Fill).into(),
        form.unwrap_or_else(|| empty(hint)),
    )
}

/// A quiet button.
fn secondary<'a, M: Clone + 'a>(label: &'a str, message: M) -> Element<'a, M> {
    button(text(label).size(TEXT))
        .on_press(message)
        .style(theme::buttons::secondary)
        .padding([6, 14])
        .into()
}
