//! History: closed interactions of every channel, newest first — the
//! agent's own (Mine) or the team's — narrowed by campaign, channel,
//! disposition, tag and closing dates together with the search box; opening
//! one shows its full messages, the disposition, notes and transfers.
//!
//! The filters are text fields, so Tab reaches each of them from the search
//! box: a campaign, channel or disposition is taken from the first letters
//! that name one choice; dates are days (YYYY-MM-DD) in the window's zone.
//! Ctrl+Shift+M switches between Mine and Team.

use iced::keyboard;
use iced::widget::{Space, button, column, container, row, text, text_input};
use iced::{Alignment, Length, Task};
use meshdesk_model::blobs::{Attachment, BlobHash};
use meshdesk_model::ops::{HistoryFilter, InteractionDetail, InteractionRow, Tab, Whose};
use meshdesk_model::{ChannelKind, InteractionId};

use super::list::{self, Cells, List};
use super::{Toast, conversation};
use crate::dates::{self, End};
use crate::gui::backend::{Backend, Error};
use crate::gui::clock;
use crate::gui::session::{Session, channel_label};
use crate::gui::theme;
use crate::gui::widget::{self, Element, SMALL, muted};

const LIST_ID: &str = "history-list";
const MESSAGES_ID: &str = "history-messages";
pub const CAMPAIGN_ID: &str = "history-campaign";
pub const CHANNEL_ID: &str = "history-channel";
pub const DISPOSITION_ID: &str = "history-disposition";
pub const TAG_ID: &str = "history-tag";
pub const SINCE_ID: &str = "history-since";
pub const UNTIL_ID: &str = "history-until";

const TEXTS: list::Texts = list::Texts {
    counted: "closed",
    empty: "No closed interactions yet.",
    no_match: "No closed interaction matches.",
    nothing_open: "Open a closed interaction to read it.",
};

#[derive(Debug)]
pub struct History {
    pub list: List<()>,
    /// Pictures shown in the open conversation, by hash.
    files: conversation::Files,
    /// The filter fields as typed; the list holds the filter last applied.
    filters: Filters,
    /// Why what is typed does not apply yet, per field.
    problems: Vec<(Field, String)>,
}

/// One of History's filter fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Campaign,
    Channel,
    Disposition,
    Tag,
    Since,
    Until,
}

impl Field {
    const ALL: [Field; 6] = [
        Field::Campaign,
        Field::Channel,
        Field::Disposition,
        Field::Tag,
        Field::Since,
        Field::Until,
    ];

    fn id(self) -> &'static str {
        match self {
            Field::Campaign => CAMPAIGN_ID,
            Field::Channel => CHANNEL_ID,
            Field::Disposition => DISPOSITION_ID,
            Field::Tag => TAG_ID,
            Field::Since => SINCE_ID,
            Field::Until => UNTIL_ID,
        }
    }

    fn placeholder(self) -> &'static str {
        match self {
            Field::Campaign => "Campaign",
            Field::Channel => "Channel",
            Field::Disposition => "Disposition",
            Field::Tag => "Tag",
            Field::Since => "From YYYY-MM-DD",
            Field::Until => "To YYYY-MM-DD",
        }
    }
}

/// What the filter fields hold, as typed.
#[derive(Debug, Default, Clone, PartialEq)]
struct Filters {
    whose: Whose,
    campaign: String,
    channel: String,
    disposition: String,
    tag: String,
    since: String,
    until: String,
}

impl Filters {
    fn get(&self, field: Field) -> &str {
        match field {
            Field::Campaign => &self.campaign,
            Field::Channel => &self.channel,
            Field::Disposition => &self.disposition,
            Field::Tag => &self.tag,
            Field::Since => &self.since,
            Field::Until => &self.until,
        }
    }

    fn set(&mut self, field: Field, value: String) {
        let slot = match field {
            Field::Campaign => &mut self.campaign,
            Field::Channel => &mut self.channel,
            Field::Disposition => &mut self.disposition,
            Field::Tag => &mut self.tag,
            Field::Since => &mut self.since,
            Field::Until => &mut self.until,
        };
        *slot = value;
    }

    fn any_typed(&self) -> bool {
        Field::ALL.iter().any(|f| !self.get(*f).trim().is_empty())
    }

    /// The filter the fields ask for, or why some field does not name one.
    fn resolve(&self, session: &Session) -> Result<HistoryFilter, Vec<(Field, String)>> {
        let mut problems = Vec::new();
        let campaigns: Vec<_> = session
            .team
            .iter()
            .flat_map(|t| t.team.campaigns.values())
            .collect();
        let campaign = pick(
            &self.campaign,
            campaigns.iter().map(|c| (c.name.clone(), *c)),
            "campaign",
        )
        .unwrap_or_else(|e| {
            problems.push((Field::Campaign, e));
            None
        });
        let channel = pick(
            &self.channel,
            // As shown ("Web chat") or as the CLI spells it ("webchat").
            ChannelKind::ALL.iter().flat_map(|c| {
                [
                    (channel_label(*c).to_string(), *c),
                    (c.as_str().to_string(), *c),
                ]
            }),
            "channel",
        )
        .unwrap_or_else(|e| {
            problems.push((Field::Channel, e));
            None
        });
        // The chosen campaign's dispositions, or every campaign's.
        let mut dispositions: Vec<String> = campaigns
            .iter()
            .filter(|c| campaign.is_none_or(|chosen| chosen.id == c.id))
            .flat_map(|c| c.dispositions.iter().cloned())
            .collect();
        dispositions.sort_by_key(|d| d.to_lowercase());
        dispositions.dedup_by_key(|d| d.to_lowercase());
        let disposition = match pick(
            &self.disposition,
            dispositions.iter().map(|d| (d.clone(), d.clone())),
            "disposition",
        ) {
            Ok(d) => d,
            // One no campaign lists any more may still be in History.
            Err(_)
                if !self.disposition.trim().is_empty()
                    && !is_prefix_of_several(&self.disposition, &dispositions) =>
            {
                Some(self.disposition.trim().to_string())
            }
            Err(e) => {
                problems.push((Field::Disposition, e));
                None
            }
        };
        let zone = session.zone.0;
        let mut date = |field, raw: &str, end| {
            if raw.trim().is_empty() {
                return None;
            }
            dates::parse(raw, end, &zone)
                .map_err(|_| problems.push((field, "Not a day: use YYYY-MM-DD".into())))
                .ok()
        };
        let since = date(Field::Since, &self.since, End::Since);
        let until = date(Field::Until, &self.until, End::Until);
        if let (Some(s), Some(u)) = (since, until)
            && u <= s
        {
            problems.push((Field::Until, "The range ends before it starts".into()));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let tag = self.tag.trim();
        Ok(HistoryFilter {
            whose: self.whose,
            campaign: campaign.map(|c| c.id.to_string()),
            channel,
            disposition,
            tag: (!tag.is_empty()).then(|| tag.to_string()),
            since,
            until,
        })
    }
}

/// What the list is narrowed to, in words ("General · Resolved · from
/// 2026-12-01"), so first letters typed show what they picked.
fn applied(filter: &HistoryFilter, session: &Session) -> Option<String> {
    if !filter.narrows() {
        return None;
    }
    let zone = session.zone.0;
    let campaign = filter.campaign.as_ref().map(|id| {
        session
            .team
            .iter()
            .flat_map(|t| t.team.campaigns.values())
            .find(|c| c.id.to_string() == *id)
            .map_or_else(|| id.clone(), |c| c.name.clone())
    });
    let parts: Vec<String> = [
        campaign,
        filter.channel.map(|c| channel_label(c).to_string()),
        filter.disposition.clone(),
        filter.tag.as_ref().map(|t| format!("tag {t}")),
        filter
            .since
            .map(|at| format!("from {}", dates::day(at, &zone))),
        // `until` is the first instant left out: the day before it is the last shown.
        filter
            .until
            .map(|at| format!("to {}", dates::day(at - 1, &zone))),
    ]
    .into_iter()
    .flatten()
    .collect();
    Some(parts.join(" · "))
}

/// The choice `typed` names: the one it spells (in any case), else the one
/// whose name starts with it (a choice may go by several names); nothing
/// when blank.
fn pick<T: PartialEq>(
    typed: &str,
    choices: impl Iterator<Item = (String, T)>,
    what: &str,
) -> Result<Option<T>, String> {
    let typed = typed.trim().to_lowercase();
    if typed.is_empty() {
        return Ok(None);
    }
    let mut starting = Vec::new();
    for (name, value) in choices {
        let lower = name.to_lowercase();
        if lower == typed {
            return Ok(Some(value));
        }
        if lower.starts_with(&typed) && !starting.iter().any(|(_, v)| *v == value) {
            starting.push((name, value));
        }
    }
    match starting.len() {
        0 => Err(format!("No {what} starts with “{typed}”")),
        1 => Ok(starting.pop().map(|(_, v)| v)),
        _ => Err(format!(
            "“{typed}” could be {}",
            starting
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn is_prefix_of_several(typed: &str, names: &[String]) -> bool {
    let typed = typed.trim().to_lowercase();
    names
        .iter()
        .filter(|n| n.to_lowercase().starts_with(&typed))
        .count()
        > 1
}

#[derive(Debug, Clone)]
pub enum Message {
    List(list::Message),
    Whose(Whose),
    Field(Field, String),
    /// Every filter off (Mine or Team stays).
    Clear,
    /// A picture's bytes, for its thumbnail.
    FileLoaded(BlobHash, Result<Vec<u8>, Error>),
    /// Saves a file of the conversation into the Downloads folder.
    SaveFile(Attachment),
    FileSaved(Result<std::path::PathBuf, Error>),
}

impl Default for History {
    fn default() -> Self {
        History::new()
    }
}

impl History {
    pub fn new() -> History {
        History {
            list: List::new(Tab::History, LIST_ID, TEXTS),
            files: conversation::Files::default(),
            filters: Filters::default(),
            problems: Vec::new(),
        }
    }

    /// Mine ↔ Team (Ctrl+Shift+M).
    pub fn toggle_whose(&mut self, session: &Session, backend: &Backend) -> Task<Message> {
        let whose = match self.filters.whose {
            Whose::Mine => Whose::Team,
            Whose::Team => Whose::Mine,
        };
        self.update(Message::Whose(whose), session, backend).0
    }

    /// Applies what the fields hold once it all names a filter; until
    /// then the list keeps the last one and the field says what is wrong.
    fn apply(&mut self, session: &Session, backend: &Backend) -> Task<Message> {
        match self.filters.resolve(session) {
            Ok(filter) => {
                self.problems.clear();
                if filter == self.list.rows.history {
                    return Task::none();
                }
                self.list.rows.narrow(filter, backend).map(Message::List)
            }
            Err(problems) => {
                self.problems = problems;
                Task::none()
            }
        }
    }

    pub fn reload(&mut self, backend: &Backend) -> Task<Message> {
        self.list.reload(backend).map(Message::List)
    }

    pub fn search(&mut self, query: String, backend: &Backend) -> Task<Message> {
        self.list.search(query, backend).map(Message::List)
    }

    /// Opens a closed interaction (from the list or from a contact's profile).
    pub fn open(&mut self, id: InteractionId, backend: &Backend) -> Task<Message> {
        self.list.open(id, backend).map(Message::List)
    }

    pub fn key(&mut self, key: &keyboard::Key, backend: &Backend) -> Task<Message> {
        let (task, _opened) = self.list.key(key, backend);
        task.map(Message::List)
    }

    /// Asks the node for the open conversation's pictures not yet shown.
    fn load_files(&mut self, backend: &Backend) -> Task<Message> {
        let Some(detail) = self.list.open_ref().and_then(|o| o.detail.as_deref()) else {
            return Task::none();
        };
        self.files.fetch(detail, backend, Message::FileLoaded)
    }

    /// What the screen did, and a toast for the shell (a file saved, or not).
    pub fn update(
        &mut self,
        message: Message,
        session: &Session,
        backend: &Backend,
    ) -> (Task<Message>, Option<Toast>) {
        let task = match message {
            Message::List(msg) => {
                let (task, _event) = self.list.update(msg, backend);
                Task::batch([task.map(Message::List), self.load_files(backend)])
            }
            Message::FileLoaded(hash, result) => {
                self.files.loaded(hash, result.map_err(|e| e.to_string()));
                Task::none()
            }
            Message::SaveFile(file) => conversation::save_file(backend, file, Message::FileSaved),
            Message::FileSaved(result) => {
                return (Task::none(), Some(conversation::saved_toast(result)));
            }
            Message::Whose(whose) => {
                self.filters.whose = whose;
                self.apply(session, backend)
            }
            Message::Field(field, value) => {
                self.filters.set(field, value);
                self.apply(session, backend)
            }
            Message::Clear => {
                self.filters = Filters {
                    whose: self.filters.whose,
                    ..Filters::default()
                };
                self.apply(session, backend)
            }
        };
        (task, None)
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        self.list.view_headed(
            Some(self.filter_bar(session)),
            move |r| cells(r, session),
            move |_, detail| detail_view(detail, session, &self.files),
            Message::List,
        )
    }

    /// Mine / Team, the filter fields and what is wrong with them.
    fn filter_bar<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        let whose = |label, value| {
            button(text(label).size(SMALL))
                .on_press(Message::Whose(value))
                .padding([4, 12])
                .style(theme::buttons::choice(self.filters.whose == value))
        };
        let mut top = row![whose("Mine", Whose::Mine), whose("Team", Whose::Team)]
            .spacing(6)
            .align_y(Alignment::Center)
            .push(Space::new().width(Length::Fill));
        if self.filters.any_typed() {
            top = top.push(
                button(text("Clear filters").size(SMALL))
                    .on_press(Message::Clear)
                    .padding([4, 8])
                    .style(theme::buttons::ghost),
            );
        }
        let field = |f: Field| -> Element<'a, Message> {
            // The dates' hint is the longest placeholder: the tag gives them room.
            let width = match f {
                Field::Tag => Length::FillPortion(2),
                Field::Since | Field::Until => Length::FillPortion(3),
                _ => Length::Fill,
            };
            let wrong = self.problems.iter().any(|(p, _)| *p == f);
            text_input(f.placeholder(), self.filters.get(f))
                .id(f.id())
                .on_input(move |v| Message::Field(f, v))
                .size(SMALL)
                .padding([4, 6])
                .width(width)
                .style(if wrong {
                    theme::inputs::invalid
                } else {
                    theme::inputs::field
                })
                .into()
        };
        let mut bar = column![
            top,
            row![
                field(Field::Campaign),
                field(Field::Channel),
                field(Field::Disposition)
            ]
            .spacing(6),
            row![field(Field::Tag), field(Field::Since), field(Field::Until)].spacing(6),
        ]
        .spacing(6)
        .padding([8, 12]);
        for (_, problem) in &self.problems {
            bar = bar.push(
                text(problem.clone())
                    .size(SMALL)
                    .style(theme::texts::danger),
            );
        }
        if let Some(applied) = applied(&self.list.rows.history, session) {
            bar = bar.push(muted(applied).size(SMALL));
        }
        bar.into()
    }
}

fn detail_view<'a>(
    detail: &'a InteractionDetail,
    session: &'a Session,
    files: &'a conversation::Files,
) -> Element<'a, Message> {
    let state = muted(conversation::state_label(detail.state));
    let head = conversation::head(detail, [state.into()]);
    column![
        head,
        widget::hrule(),
        row![
            container(conversation::messages(
                detail,
                session,
                MESSAGES_ID,
                files,
                Some(Message::SaveFile),
            ))
            .width(Length::Fill),
            column![
                conversation::record(detail, session),
                conversation::facts(detail, session)
            ]
            .spacing(10)
            .width(Length::Fixed(290.0))
            .padding(conversation::SIDE_PADDING),
        ]
    ]
    .into()
}

/// When it closed; its disposition and campaign.
fn cells<'a>(r: &'a InteractionRow, session: &'a Session) -> Cells<'a> {
    let s = &r.summary;
    let when = s
        .finalized
        .as_ref()
        .map(|f| clock::ago(session.now, f.at, session.zone))
        .unwrap_or_default();
    let disposition = s
        .finalized
        .as_ref()
        .map(|f| f.disposition.as_str())
        .unwrap_or("");
    Cells {
        aside: muted(when).into(),
        below: list::caption(&format!("{disposition} · {}", r.campaign_name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(typed: &str) -> Result<Option<ChannelKind>, String> {
        let names = ChannelKind::ALL.iter().flat_map(|c| {
            [
                (channel_label(*c).to_string(), *c),
                (c.as_str().to_string(), *c),
            ]
        });
        pick(typed, names, "channel")
    }

    #[test]
    fn a_choice_is_named_by_its_first_letters_under_any_of_its_names() {
        assert_eq!(channel("web"), Ok(Some(ChannelKind::Webchat)));
        assert_eq!(channel("WEBCHAT"), Ok(Some(ChannelKind::Webchat)));
        assert_eq!(channel("web c"), Ok(Some(ChannelKind::Webchat)));
        assert_eq!(channel("p"), Ok(Some(ChannelKind::Phone)));
        assert_eq!(channel("  "), Ok(None));
        assert_eq!(channel("fax"), Err("No channel starts with “fax”".into()));
        let campaigns = [("Billing", 1), ("Bookings", 2), ("Bill", 3)];
        let names = || campaigns.iter().map(|(n, v)| (n.to_string(), *v));
        assert_eq!(
            pick("b", names(), "campaign"),
            Err("“b” could be Billing, Bookings, Bill".into())
        );
        assert_eq!(
            pick("bill", names(), "campaign"),
            Ok(Some(3)),
            "whole name first"
        );
        assert_eq!(pick("bo", names(), "campaign"), Ok(Some(2)));
    }
}
