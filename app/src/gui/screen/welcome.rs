//! The first run: no team on this data dir yet. Create a team (its name and
//! yours), or join one with an invite code from a teammate.

use iced::widget::{Space, button, column, container, progress_bar, row, text, text_input};
use iced::{Alignment, Length};
use meshdesk_sync::invite::InviteCode;
use meshdesk_sync::join::JoinProgress;

use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, error_box, field, muted};

pub const TEAM_NAME_ID: &str = "welcome-team";
pub const MY_NAME_ID: &str = "welcome-name";
pub const CODE_ID: &str = "welcome-code";
pub const JOIN_NAME_ID: &str = "welcome-join-name";

#[derive(Debug, Default)]
pub struct Welcome {
    team_name: String,
    my_name: String,
    code: String,
    join_name: String,
    busy: Option<Which>,
    /// How far a join has come (admitted, then the first sync).
    join_progress: Option<JoinProgress>,
    create_error: Option<String>,
    join_error: Option<String>,
    /// Problems shown beside fields once the agent tried.
    create_checked: bool,
    join_checked: bool,
}

/// Which of the two forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Create,
    Join,
}

#[derive(Debug, Clone)]
pub enum Message {
    TeamName(String),
    MyName(String),
    Code(String),
    JoinName(String),
    Create,
    Join,
}

/// What the shell does: the node's work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Create { team: String, name: String },
    Join { code: String, name: String },
}

fn required(value: &str, what: &str) -> Option<String> {
    value
        .trim()
        .is_empty()
        .then(|| format!("{what} is required."))
}

impl Welcome {
    /// The node's work failed: show why beside the form.
    pub fn failed(&mut self, which: Which, error: String) {
        self.busy = None;
        self.join_progress = None;
        match which {
            Which::Create => self.create_error = Some(error),
            Which::Join => self.join_error = Some(error),
        }
    }

    /// The join moved on: admitted, or more of the team's data arrived.
    pub fn joining(&mut self, progress: JoinProgress) {
        if self.busy == Some(Which::Join) {
            self.join_progress = Some(progress);
        }
    }

    /// What a join in progress says under its button.
    fn join_status(&self) -> Option<Element<'_, Message>> {
        if self.busy != Some(Which::Join) {
            return None;
        }
        let status: Element<'_, Message> = match &self.join_progress {
            None => muted("Connecting to the team…").size(SMALL).into(),
            Some(JoinProgress::Admitted { .. }) => muted("Admitted. Syncing the team's data…")
                .size(SMALL)
                .into(),
            Some(JoinProgress::Syncing(sync)) => column![
                text("Syncing the team's data").size(SMALL),
                progress_bar(0.0..=sync.total_docs.max(1) as f32, sync.done_docs as f32).girth(6.0),
                muted(sync.to_string()).size(SMALL),
            ]
            .spacing(6)
            .into(),
        };
        Some(status)
    }

    /// A malformed invite code, in words (`None` when it parses or is empty).
    fn code_problem(&self) -> Option<String> {
        if self.code.trim().is_empty() {
            return self
                .join_checked
                .then(|| "Paste the invite code a teammate gave you.".to_string());
        }
        InviteCode::parse(&self.code).err().map(|e| e.to_string())
    }

    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::TeamName(v) => self.team_name = v,
            Message::MyName(v) => self.my_name = v,
            Message::Code(v) => {
                self.code = v;
                self.join_error = None;
            }
            Message::JoinName(v) => self.join_name = v,
            Message::Create => {
                self.create_checked = true;
                self.create_error = None;
                if self.busy.is_some()
                    || required(&self.team_name, "The team name").is_some()
                    || required(&self.my_name, "Your name").is_some()
                {
                    return None;
                }
                self.busy = Some(Which::Create);
                return Some(Event::Create {
                    team: self.team_name.trim().to_string(),
                    name: self.my_name.trim().to_string(),
                });
            }
            Message::Join => {
                self.join_checked = true;
                self.join_error = None;
                if self.busy.is_some()
                    || self.code_problem().is_some()
                    || required(&self.join_name, "Your name").is_some()
                {
                    return None;
                }
                self.busy = Some(Which::Join);
                return Some(Event::Join {
                    code: self.code.trim().to_string(),
                    name: self.join_name.trim().to_string(),
                });
            }
        }
        None
    }

    pub fn view(&self) -> Element<'_, Message> {
        let check = |on: bool, p: Option<String>| if on { p } else { None };
        let team_problem = check(
            self.create_checked,
            required(&self.team_name, "The team name"),
        );
        let name_problem = check(self.create_checked, required(&self.my_name, "Your name"));
        let code_problem = self.code_problem();
        let join_name_problem = check(self.join_checked, required(&self.join_name, "Your name"));
        let style = |bad: bool| {
            if bad {
                theme::inputs::invalid
            } else {
                theme::inputs::field
            }
        };
        let busy = self.busy.is_some();

        let mut create = column![
            text("Create a team").size(18),
            muted("Start a new team on this computer. You become its supervisor and can invite teammates."),
            field(
                "Team name",
                text_input("Support", &self.team_name)
                    .id(TEAM_NAME_ID)
                    .on_input(Message::TeamName)
                    .on_submit(Message::Create)
                    .padding(8)
                    .size(TEXT)
                    .style(style(team_problem.is_some())),
                team_problem.as_deref()
            ),
            field(
                "Your name",
                text_input("Ana", &self.my_name)
                    .id(MY_NAME_ID)
                    .on_input(Message::MyName)
                    .on_submit(Message::Create)
                    .padding(8)
                    .size(TEXT)
                    .style(style(name_problem.is_some())),
                name_problem.as_deref()
            ),
        ]
        .spacing(12);
        if let Some(e) = &self.create_error {
            create = create.push(error_box(e));
        }
        create = create.push(
            button(
                text(if self.busy == Some(Which::Create) {
                    "Creating…"
                } else {
                    "Create team"
                })
                .size(TEXT),
            )
            .on_press_maybe((!busy).then_some(Message::Create))
            .padding([8, 16])
            .style(theme::buttons::primary),
        );

        let mut join = column![
            text("Join a team").size(18),
            muted("A teammate makes an invite code in Contacts & chat. Their computer must be reachable."),
            field(
                "Invite code",
                text_input("MD1-…", &self.code)
                    .id(CODE_ID)
                    .on_input(Message::Code)
                    .on_submit(Message::Join)
                    .padding(8)
                    .size(TEXT)
                    .style(style(code_problem.is_some())),
                code_problem.as_deref()
            ),
            field(
                "Your name",
                text_input("Bruno", &self.join_name)
                    .id(JOIN_NAME_ID)
                    .on_input(Message::JoinName)
                    .on_submit(Message::Join)
                    .padding(8)
                    .size(TEXT)
                    .style(style(join_name_problem.is_some())),
                join_name_problem.as_deref()
            ),
        ]
        .spacing(12);
        if let Some(e) = &self.join_error {
            join = join.push(error_box(e));
        }
        join = join.push(
            button(
                text(if self.busy == Some(Which::Join) {
                    "Joining…"
                } else {
                    "Join team"
                })
                .size(TEXT),
            )
            .on_press_maybe((!busy).then_some(Message::Join))
            .padding([8, 16])
            .style(theme::buttons::primary),
        );
        if let Some(status) = self.join_status() {
            join = join.push(status);
        }

        let cards = row![
            container(create.padding(20))
                .width(Length::Fixed(380.0))
                .style(theme::boxes::card),
            container(join.padding(20))
                .width(Length::Fixed(380.0))
                .style(theme::boxes::card),
        ]
        .spacing(20)
        .align_y(Alignment::Start);
        container(
            column![
                text("Welcome to meshdesk").size(26),
                muted("A contact-center inbox with no server: your team's computers keep everything in sync.")
                    .size(TEXT),
                Space::new().height(Length::Fixed(12.0)),
                cards,
                Space::new().height(Length::Fixed(8.0)),
                muted("Data stays on this computer and your teammates'.").size(SMALL),
            ]
            .spacing(8)
            .align_x(Alignment::Center),
        )
        .center(Length::Fill)
        .style(theme::boxes::chrome)
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_code_is_refused_with_a_reason_and_nothing_starts() {
        let mut w = Welcome::default();
        let _ = w.update(Message::Code("hello".into()));
        let _ = w.update(Message::JoinName("Bruno".into()));
        assert_eq!(w.update(Message::Join), None);
        let problem = w.code_problem().unwrap_or_default();
        assert!(problem.contains("not a meshdesk invite"), "{problem}");
    }

    #[test]
    fn create_needs_both_names() {
        let mut w = Welcome::default();
        let _ = w.update(Message::TeamName("Support".into()));
        assert_eq!(w.update(Message::Create), None);
        let _ = w.update(Message::MyName("Ana".into()));
        assert_eq!(
            w.update(Message::Create),
            Some(Event::Create {
                team: "Support".into(),
                name: "Ana".into()
            })
        );
    }
}
