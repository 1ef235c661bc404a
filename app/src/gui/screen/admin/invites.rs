//! Invites: a code (and its QR code, to scan on the new machine) for new
//! devices, naming the campaigns they join, and the open invites, each of
//! which can be cancelled. A code is shown only here, once: the team
//! document keeps only its hash.

use iced::widget::{
    Space, button, checkbox, column, container, qr_code, row, scrollable, text, text_input,
};
use iced::{Alignment, Length, Task};
use meshdesk_model::ops::{Request, TeamOverview};
use meshdesk_model::{CampaignId, Millis};

use super::{SectionUpdate, primary, secondary, settle};
use crate::dates;
use crate::gui::backend::{Backend, Error};
use crate::gui::screen::{Toast, call};
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, error_box, field, muted};

pub const USES_ID: &str = "invite-uses";
pub const EXPIRES_ID: &str = "invite-expires";

#[derive(Debug)]
pub struct Invites {
    uses: String,
    expires: String,
    campaigns: Vec<CampaignId>,
    /// The code just made, with its QR code (`None` if it would not fit one).
    created: Option<(String, Option<qr_code::Data>)>,
    busy: bool,
    error: Option<String>,
}

impl Default for Invites {
    fn default() -> Invites {
        Invites {
            uses: "1".into(),
            expires: "24h".into(),
            campaigns: Vec::new(),
            created: None,
            busy: false,
            error: None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Message {
    Uses(String),
    Expires(String),
    Campaign(CampaignId, bool),
    Create,
    Created(Result<String, Error>),
    Copy,
    Cancel(String),
    Cancelled(Result<(), Error>),
}

impl Invites {
    pub fn update(&mut self, message: Message, backend: &Backend) -> SectionUpdate<Message> {
        match message {
            Message::Uses(v) => self.uses = v,
            Message::Expires(v) => self.expires = v,
            Message::Campaign(id, true) => {
                if !self.campaigns.contains(&id) {
                    self.campaigns.push(id);
                }
            }
            Message::Campaign(id, false) => self.campaigns.retain(|c| *c != id),
            Message::Create => return (self.create(backend), None),
            Message::Created(result) => {
                if let Some(code) = settle(&mut self.busy, &mut self.error, result) {
                    let qr = qr_code::Data::new(code.as_bytes()).ok();
                    self.created = Some((code, qr));
                }
            }
            Message::Copy => {
                if let Some((code, _)) = &self.created {
                    return (
                        iced::clipboard::write(code.clone()),
                        Some(Toast::Info("Invite code copied.".into())),
                    );
                }
            }
            Message::Cancel(hash) => {
                self.busy = true;
                self.error = None;
                return (
                    call(
                        backend,
                        Request::CancelInvite { invite: hash },
                        Message::Cancelled,
                    ),
                    None,
                );
            }
            Message::Cancelled(result) => {
                if let Some(()) = settle(&mut self.busy, &mut self.error, result) {
                    return (
                        Task::none(),
                        Some(Toast::Info(
                            "Invite cancelled: its code admits no one now.".into(),
                        )),
                    );
                }
            }
        }
        (Task::none(), None)
    }

    fn create(&mut self, backend: &Backend) -> Task<Message> {
        let uses = match self.uses.trim().parse::<u32>() {
            Ok(n) if n > 0 => n,
            _ => {
                self.error = Some(format!(
                    "The number of devices must be a whole number of at least 1, not “{}”.",
                    self.uses.trim()
                ));
                return Task::none();
            }
        };
        let ttl = match dates::parse_duration(&self.expires) {
            Ok(ms) if ms > 0 => ms,
            _ => {
                self.error = Some(format!(
                    "“{}” is no length of time: write it as 30m, 24h or 7d.",
                    self.expires.trim()
                ));
                return Task::none();
            }
        };
        self.busy = true;
        self.error = None;
        self.created = None;
        let campaigns = self.campaigns.iter().map(|c| c.to_string()).collect();
        let backend = backend.clone();
        Task::perform(
            async move { backend.invite(ttl, uses, campaigns).await },
            Message::Created,
        )
    }

    pub fn view<'a>(&'a self, team: &'a TeamOverview, now: Millis) -> Element<'a, Message> {
        let input = |id: &'static str, value: &str, on: fn(String) -> Message| {
            text_input("", value)
                .id(id)
                .on_input(on)
                .on_submit(Message::Create)
                .padding(8)
                .size(TEXT)
                .width(Length::Fixed(140.0))
                .style(theme::inputs::field)
        };
        let mut campaigns: Vec<_> = team.team.campaigns.values().collect();
        campaigns.sort_by_key(|c| c.name.to_lowercase());
        let mut boxes = column![].spacing(4);
        for c in &campaigns {
            let id = c.id;
            boxes = boxes.push(
                checkbox(self.campaigns.contains(&id))
                    .label(c.name.as_str())
                    .on_toggle(move |on| Message::Campaign(id, on))
                    .text_size(TEXT),
            );
        }
        let mut col = column![
            text("New invite").size(18),
            row![
                field(
                    "Devices it admits",
                    input(USES_ID, &self.uses, Message::Uses),
                    None
                ),
                field(
                    "Valid for (30m, 24h, 7d)",
                    input(EXPIRES_ID, &self.expires, Message::Expires),
                    None
                ),
            ]
            .spacing(16),
            field(
                "Campaigns the new agents join (none ticked: the oldest campaign)",
                boxes,
                None
            ),
            primary("Create invite", Message::Create, self.busy),
        ]
        .spacing(14)
        .padding(20)
        .max_width(760);
        if let Some(e) = &self.error {
            col = col.push(error_box(e));
        }
        if let Some((code, qr)) = &self.created {
            let mut shown = column![
                text("Invite code").size(TEXT),
                muted("The new teammate pastes it in their welcome screen, or scans the QR code. It is shown only now."),
                container(
                    text(code.as_str())
                        .size(SMALL)
                        .wrapping(iced::widget::text::Wrapping::Glyph)
                )
                .padding(8)
                .width(Length::Fill)
                .style(theme::boxes::card),
                secondary("Copy", Message::Copy),
            ]
            .spacing(8)
            .width(Length::Fill);
            if qr.is_none() {
                shown = shown.push(muted(
                    "The code is too long for a QR code: copy it instead.",
                ));
            }
            let mut block = row![shown].spacing(16).align_y(Alignment::Start);
            if let Some(qr) = qr {
                block = block.push(qr_code(qr).cell_size(3));
            }
            col = col.push(block);
        }
        col = col.push(text("Open invites").size(18));
        let open = team.team.open_invites(now);
        if open.is_empty() {
            col = col.push(muted("No open invites."));
        }
        for invite in open {
            let by = team
                .agents
                .iter()
                .find(|a| a.id == invite.created_by)
                .map(|a| a.name.as_str())
                .unwrap_or("someone");
            let into: Vec<&str> = invite
                .campaigns
                .iter()
                .filter_map(|c| team.team.campaigns.get(c).map(|c| c.name.as_str()))
                .collect();
            let into = if into.is_empty() {
                "the oldest campaign".to_string()
            } else {
                into.join(", ")
            };
            let about = format!(
                "by {by} · {} of {} used · expires in {} · into {into}",
                invite.used_by.len(),
                invite.max_uses,
                dates::clock(invite.expires_at - now),
            );
            col = col.push(
                container(
                    row![
                        column![text(invite.short_id()).size(TEXT), muted(about).size(SMALL)]
                            .spacing(2),
                        Space::new().width(Length::Fill),
                        button(text("Cancel invite").size(TEXT))
                            .on_press_maybe(
                                (!self.busy).then(|| Message::Cancel(invite.token_hash.clone()))
                            )
                            .style(theme::buttons::danger)
                            .padding([6, 12]),
                    ]
                    .align_y(Alignment::Center),
                )
                .padding(10)
                .style(theme::boxes::card),
            );
        }
        scrollable(col).height(Length::Fill).into()
    }
}
