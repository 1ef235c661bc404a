//! Mailbox… (the rail's Team menu, supervisors): a campaign's mailbox for
//! the email channel — where its IMAP and SMTP servers are, as whom — and
//! the password, kept on this device only. Test checks both servers with
//! what the form holds and says what failed (DNS, TLS, the login).

use iced::widget::{Space, column, pick_list, row, text, text_input};
use iced::{Length, Task};
use meshdesk_model::{CampaignId, ChannelKind, MailServer, MailTls, Mailbox};

use super::{Event, dialog_button, frame};
use crate::gui::backend::{Backend, Error};
use crate::gui::session::Session;
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, error_box, field, muted};

/// What `update` gives back: work to run, and maybe an event for the parent.
type Update = (Task<Message>, Option<Event>);

const TLS: [MailTls; 3] = [MailTls::Tls, MailTls::Starttls, MailTls::None];

/// One server's fields as typed.
#[derive(Debug, Clone, Default)]
pub struct ServerForm {
    pub host: String,
    pub port: String,
    pub tls: MailTls,
    pub user: String,
}

impl ServerForm {
    fn of(s: &MailServer) -> ServerForm {
        ServerForm {
            host: s.host.clone(),
            port: s.port.to_string(),
            tls: s.tls,
            user: s.user.clone(),
        }
    }

    fn server(&self, what: &str) -> Result<MailServer, String> {
        let port = self
            .port
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("The {what} port is a number from 1 to 65535."))?;
        if self.host.trim().is_empty() {
            return Err(format!("Give the {what} host."));
        }
        if self.user.trim().is_empty() {
            return Err(format!("Give the {what} user."));
        }
        Ok(MailServer {
            host: self.host.trim().to_string(),
            port,
            tls: self.tls,
            user: self.user.trim().to_string(),
        })
    }
}

#[derive(Debug)]
pub struct MailboxForm {
    campaign: Option<String>,
    address: String,
    imap: ServerForm,
    smtp: ServerForm,
    password: String,
    busy: bool,
    /// What Test found, a line per server.
    tested: Option<Vec<Result<String, String>>>,
    error: Option<String>,
}

/// Which field changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Address,
    ImapHost,
    ImapPort,
    ImapUser,
    SmtpHost,
    SmtpPort,
    SmtpUser,
    Password,
}

#[derive(Debug, Clone)]
pub enum Message {
    Campaign(String),
    Edit(Field, String),
    ImapTls(MailTls),
    SmtpTls(MailTls),
    Test,
    Tested(Vec<Result<String, String>>),
    Confirm,
    Saved(Result<(), Error>),
    Cancel,
}

fn email_campaigns(session: &Session) -> Vec<String> {
    session
        .team
        .as_ref()
        .map(|t| {
            t.team
                .campaigns
                .values()
                .filter(|c| c.channel == ChannelKind::Email)
                .map(|c| c.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn campaign_id(session: &Session, name: &str) -> Option<CampaignId> {
    session
        .team
        .as_ref()?
        .team
        .campaign_by_name(name)
        .map(|c| c.id)
}

impl MailboxForm {
    pub fn new(session: &Session) -> MailboxForm {
        let mut form = MailboxForm {
            campaign: None,
            address: String::new(),
            imap: ServerForm {
                port: "993".into(),
                tls: MailTls::Tls,
                ..ServerForm::default()
            },
            smtp: ServerForm {
                port: "587".into(),
                tls: MailTls::Starttls,
                ..ServerForm::default()
            },
            password: String::new(),
            busy: false,
            tested: None,
            error: None,
        };
        if let Some(first) = email_campaigns(session).into_iter().next() {
            form.pick(session, first);
        }
        form
    }

    /// Fills the form with a campaign's mailbox as the team holds it.
    fn pick(&mut self, session: &Session, name: String) {
        let mailbox = campaign_id(session, &name).and_then(|id| {
            session
                .team
                .as_ref()
                .and_then(|t| t.team.mailboxes.get(&id).cloned())
        });
        if let Some(m) = mailbox {
            self.address = m.address.clone();
            self.imap = ServerForm::of(&m.imap);
            self.smtp = ServerForm::of(&m.smtp);
        }
        self.campaign = Some(name);
        self.tested = None;
        self.error = None;
    }

    fn mailbox(&self) -> Result<Mailbox, String> {
        if self.address.trim().is_empty() {
            return Err("Give the mailbox's address.".into());
        }
        Ok(Mailbox {
            address: self.address.trim().to_string(),
            imap: self.imap.server("IMAP")?,
            smtp: self.smtp.server("SMTP")?,
            fetchers: Default::default(),
        })
    }

    /// The campaign (its name and id) and the mailbox the form holds; else
    /// `None`, with what is missing shown on the form.
    fn filled(&mut self, session: &Session) -> Option<(String, CampaignId, Mailbox)> {
        let filled = match self
            .campaign
            .clone()
            .and_then(|name| campaign_id(session, &name).map(|id| (name, id)))
        {
            None => Err("Pick a campaign on the email channel.".to_string()),
            Some((name, id)) => self.mailbox().map(|m| (name, id, m)),
        };
        filled.map_err(|e| self.error = Some(e)).ok()
    }

    pub fn update(&mut self, message: Message, backend: &Backend, session: &Session) -> Update {
        match message {
            Message::Campaign(name) => {
                self.pick(session, name);
                (Task::none(), None)
            }
            Message::Edit(field, value) => {
                let slot = match field {
                    Field::Address => &mut self.address,
                    Field::ImapHost => &mut self.imap.host,
                    Field::ImapPort => &mut self.imap.port,
                    Field::ImapUser => &mut self.imap.user,
                    Field::SmtpHost => &mut self.smtp.host,
                    Field::SmtpPort => &mut self.smtp.port,
                    Field::SmtpUser => &mut self.smtp.user,
                    Field::Password => &mut self.password,
                };
                *slot = value;
                self.error = None;
                (Task::none(), None)
            }
            Message::ImapTls(t) => {
                self.imap.tls = t;
                (Task::none(), None)
            }
            Message::SmtpTls(t) => {
                self.smtp.tls = t;
                (Task::none(), None)
            }
            Message::Test => {
                let Some((_, id, mailbox)) = self.filled(session) else {
                    return (Task::none(), None);
                };
                self.busy = true;
                self.tested = None;
                let backend = backend.clone();
                let password = self.password.clone();
                (
                    Task::perform(
                        async move { backend.test_mailbox(id, mailbox, password).await },
                        Message::Tested,
                    ),
                    None,
                )
            }
            Message::Tested(lines) => {
                self.busy = false;
                self.tested = Some(lines);
                (Task::none(), None)
            }
            Message::Confirm => {
                if self.busy {
                    return (Task::none(), None);
                }
                let Some((campaign, _, mailbox)) = self.filled(session) else {
                    return (Task::none(), None);
                };
                self.busy = true;
                let backend = backend.clone();
                let password = (!self.password.is_empty()).then(|| self.password.clone());
                (
                    Task::perform(
                        async move { backend.save_mailbox(campaign, mailbox, password).await },
                        Message::Saved,
                    ),
                    None,
                )
            }
            Message::Saved(Ok(())) => (
                Task::none(),
                Some(Event::Done {
                    toast: "Mailbox saved".into(),
                    open: None,
                }),
            ),
            Message::Saved(Err(e)) => {
                self.busy = false;
                self.error = Some(e.to_string());
                (Task::none(), None)
            }
            Message::Cancel => (Task::none(), Some(Event::Close)),
        }
    }

    fn server_view<'a>(
        &'a self,
        title: &'static str,
        s: &'a ServerForm,
        fields: [Field; 3],
        on_tls: fn(MailTls) -> Message,
    ) -> Element<'a, Message> {
        let [host, port, user] = fields;
        column![
            text(title).size(TEXT),
            row![
                field(
                    "Host",
                    text_input("imap.example.com", &s.host)
                        .on_input(move |v| Message::Edit(host, v))
                        .size(TEXT)
                        .padding(6),
                    None
                ),
                field(
                    "Port",
                    text_input("993", &s.port)
                        .on_input(move |v| Message::Edit(port, v))
                        .size(TEXT)
                        .padding(6)
                        .width(Length::Fixed(80.0)),
                    None
                ),
                field(
                    "Security",
                    pick_list(TLS, Some(s.tls), on_tls)
                        .text_size(TEXT)
                        .style(theme::inputs::pick),
                    None
                ),
            ]
            .spacing(8),
            field(
                "User",
                text_input("support@example.com", &s.user)
                    .on_input(move |v| Message::Edit(user, v))
                    .size(TEXT)
                    .padding(6),
                None
            ),
        ]
        .spacing(6)
        .into()
    }

    pub fn view<'a>(&'a self, session: &'a Session) -> Element<'a, Message> {
        let campaigns = email_campaigns(session);
        let mut col = column![
            text("Mailbox").size(18),
            muted(
                "The email channel: new mail in this mailbox's INBOX becomes a queued interaction, and replies go out through its SMTP server. The password stays on this device (sealed with its key); every device that sends replies needs it too."
            ),
        ]
        .spacing(12);
        if campaigns.is_empty() {
            col = col.push(error_box(
                "No campaign is on the email channel: add one first (meshdesk campaign add --channel email).",
            ));
        } else {
            col = col.push(field(
                "Campaign",
                pick_list(campaigns, self.campaign.clone(), Message::Campaign)
                    .text_size(TEXT)
                    .style(theme::inputs::pick),
                None,
            ));
        }
        col = col.push(field(
            "Address",
            text_input("support@example.com", &self.address)
                .on_input(|v| Message::Edit(Field::Address, v))
                .size(TEXT)
                .padding(6),
            None,
        ));
        col = col.push(self.server_view(
            "IMAP (incoming)",
            &self.imap,
            [Field::ImapHost, Field::ImapPort, Field::ImapUser],
            Message::ImapTls,
        ));
        col = col.push(self.server_view(
            "SMTP (outgoing)",
            &self.smtp,
            [Field::SmtpHost, Field::SmtpPort, Field::SmtpUser],
            Message::SmtpTls,
        ));
        col = col.push(field(
            "Password (empty: keep the one this device holds)",
            text_input("", &self.password)
                .secure(true)
                .on_input(|v| Message::Edit(Field::Password, v))
                .on_submit(Message::Confirm)
                .size(TEXT)
                .padding(6),
            None,
        ));
        if self.busy {
            col = col.push(text("Working…").size(SMALL).style(theme::texts::muted));
        }
        if let Some(lines) = &self.tested {
            let mut results = column![].spacing(4);
            for line in lines {
                results = results.push(match line {
                    Ok(ok) => Element::from(text(format!("✓ {ok}")).size(TEXT)),
                    Err(e) => error_box(e),
                });
            }
            col = col.push(results);
        }
        if let Some(e) = &self.error {
            col = col.push(error_box(e));
        }
        col = col.push(
            row![
                Space::new().width(Length::Fill),
                dialog_button("Cancel", Some(Message::Cancel), false),
                dialog_button("Test", (!self.busy).then_some(Message::Test), false),
                dialog_button("Save", (!self.busy).then_some(Message::Confirm), true),
            ]
            .spacing(8),
        );
        frame(col, 560.0)
    }
}
