//! The email channel's requests: a campaign's mailbox (supervisors), a
//! fetched mail coming in, and the facts the sender of replies reads and
//! records.

use crate::doc::{self, DocId};
use crate::ids::*;
use crate::mail::{self, InboundMail, MailOutcome, MailThread, ThreadMessage};
use crate::types::*;
use crate::validate::{self, InvalidInput, MAX_MESSAGE_CHARS};

use super::*;

/// Text from outside (a mail's body or subject) as the validators accept
/// it: line breaks unified, control characters other than line feed and
/// tab dropped, cut to `max` characters.
pub(crate) fn clean_text(raw: &str, max: usize) -> String {
    let unified = raw.replace("\r\n", "\n").replace('\r', "\n");
    let kept = || {
        unified
            .chars()
            .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
    };
    if kept().count() <= max {
        return kept().collect::<String>().trim().to_string();
    }
    let mut out: String = kept().take(max.saturating_sub(1)).collect();
    out.push('…');
    out.trim().to_string()
}

fn check_server(what: &'static str, s: &MailServer) -> OpResult<MailServer> {
    let host = validate::required(what, &s.host)?;
    if host.chars().any(char::is_whitespace) {
        return Err(InvalidInput::Characters {
            what,
            allowed: "a host name or address",
            value: host,
        }
        .into());
    }
    if s.port == 0 {
        return Err(InvalidInput::Empty("the port").into());
    }
    Ok(MailServer {
        host,
        port: s.port,
        tls: s.tls,
        user: validate::required("the user", &s.user)?,
    })
}

impl Executor<'_, '_> {
    fn email_campaign(&self, name: &str) -> OpResult<Campaign> {
        let c = self.campaign(name)?.clone();
        if c.channel != ChannelKind::Email {
            return Err(OpError::WrongChannel {
                campaign: c.name,
                actual: c.channel,
                requested: ChannelKind::Email,
            });
        }
        Ok(c)
    }

    /// Sets (or removes) a campaign's mailbox: supervisors only, as the
    /// team document's write rule has it on every node.
    pub(super) fn set_mailbox(
        &mut self,
        campaign: &str,
        mailbox: Option<Mailbox>,
    ) -> OpResult<Outcome> {
        self.require_supervisor("set a campaign's mailbox")?;
        let c = self.email_campaign(campaign)?;
        let mailbox = match mailbox {
            None => None,
            Some(m) => Some(Mailbox {
                address: validate::email(&m.address)?,
                imap: check_server("the IMAP host", &m.imap)?,
                smtp: check_server("the SMTP host", &m.smtp)?,
                fetchers: m
                    .fetchers
                    .iter()
                    .map(|d| d.trim().to_string())
                    .filter(|d| !d.is_empty())
                    .collect(),
            }),
        };
        let reply = Reply::Mailbox {
            campaign: c.id,
            mailbox: mailbox.clone().map(Box::new),
        };
        let id = c.id;
        self.write_team(reply, move |d| {
            doc::team::set_mailbox(d, id, mailbox.as_ref())
        })
    }

    pub(super) fn show_mailbox(&self, campaign: &str) -> OpResult<Outcome> {
        let c = self.email_campaign(campaign)?;
        let mailbox = self.team.mailboxes.get(&c.id).cloned().map(Box::new);
        done(
            Reply::Mailbox {
                campaign: c.id,
                mailbox,
            },
            vec![],
        )
    }

    /// The open interaction a mail answers, if any: one of ours its
    /// headers name, else one a mail it answers came into, else the
    /// subject's token when the sender is that interaction's customer.
    fn thread_of(&mut self, m: &InboundMail, from: &str) -> OpResult<Option<Interaction>> {
        let mut named = Vec::new();
        for raw in &m.replies_to {
            let Some(id) = mail::normalize_mail_id(raw) else {
                continue;
            };
            if let Some(i) = mail::interaction_of_mail_id(&id) {
                named.push(i);
            }
            if let Some(i) = self.store.interaction_of_mail(&id)? {
                named.push(i);
            }
        }
        for id in named {
            if let Ok((i, _)) = self.interaction_head(id) {
                return Ok(Some(i));
            }
        }
        if let Some(id) = mail::token_in_subject(&m.subject)
            && let Ok((i, _)) = self.interaction_head(id)
            && i.channel == ChannelKind::Email
            && i.address.eq_ignore_ascii_case(from)
        {
            return Ok(Some(i));
        }
        Ok(None)
    }

    /// A mail fetched from a campaign's mailbox: nothing when its
    /// `Message-ID` is already stored (a second fetch, a second fetcher),
    /// a new customer message when it answers an open interaction, else a
    /// new queued interaction with the contact matched (or made) by the
    /// sender's address. Replies with the interaction's id.
    pub(super) fn mail_intake(&mut self, m: InboundMail) -> OpResult<Outcome> {
        let campaign = self.email_campaign(&m.campaign)?;
        let mail_id =
            mail::normalize_mail_id(&m.mail_id).ok_or(InvalidInput::Empty("the Message-ID"))?;
        if let Some(known) = self.store.interaction_of_mail(&mail_id)? {
            return done(
                Reply::Created {
                    id: known.to_string(),
                },
                vec![],
            );
        }
        let files = self.check_files(m.files.clone())?;
        let uid = m
            .uid
            .map(|(validity, uid)| mail::uid_mark(campaign.id, validity, uid));
        let mut text = clean_text(&m.text, MAX_MESSAGE_CHARS - 1);
        if text.is_empty() {
            text = if files.is_empty() {
                "(no text)".into()
            } else {
                String::new()
            };
        }
        let from = validate::email(&m.from_address).ok();
        let subject = clean_text(&m.subject, mail::MAX_SUBJECT_CHARS).replace('\n', " ");
        let now = self.ctx.now;
        let message = Message {
            id: self.store.new_id(),
            author: Author::Contact,
            at: now,
            body: text,
            attachments: files,
        };
        if let Some(addr) = &from
            && let Some(i) = self.thread_of(&m, addr)?
            && i.finalization.is_none()
        {
            let id = i.id;
            let message_id = message.id;
            let change = self
                .store
                .write_doc(&DocId::Interaction(id), false, move |d| {
                    doc::interaction::append_mail_message(d, &message, &mail_id)?;
                    match &uid {
                        Some(u) => doc::interaction::put_mail_uid(d, message_id, u),
                        None => Ok(()),
                    }
                })?;
            return done(Reply::Created { id: id.to_string() }, vec![change]);
        }
        let name = m
            .from_name
            .as_deref()
            .map(|n| clean_text(n, validate::MAX_FIELD_CHARS).replace('\n', " "))
            .filter(|n| !n.is_empty());
        let customer = CustomerSpec {
            id: None,
            name: name.clone().or_else(|| {
                from.is_none()
                    .then(|| clean_text(&m.from_address, validate::MAX_FIELD_CHARS))
                    .filter(|n| !n.is_empty())
                    .or_else(|| from.is_none().then(|| "Unknown sender".to_string()))
            }),
            email: from.clone(),
            phone: None,
            unverified: false,
        };
        let (contact, fresh) = match self.known_customer(&customer)? {
            Some(c) => (c, None),
            None => {
                let mut c = self.new_contact(ContactSpec {
                    name: customer.name.clone().or_else(|| customer.email.clone()),
                    emails: customer.email.clone().map(|e| vec![e]),
                    ..ContactSpec::default()
                })?;
                // Two fetchers apart may each make one for this address:
                // marked so, they stand for one (see `merge`).
                c.mail_sender = from.as_deref().map(str::to_lowercase);
                (c.clone(), Some(c))
            }
        };
        let mut interaction = self.queued_interaction(
            &campaign,
            Some(contact.id),
            from.clone().unwrap_or_default(),
            contact.name.clone(),
            None,
            0,
        );
        interaction.subject = subject;
        interaction.messages.push(message.clone());
        let id = interaction.id;
        let mut edits = Vec::with_capacity(2);
        if let Some(c) = fresh {
            edits.push(crate::store::DocEdit::new(
                DocId::Contact(c.id),
                true,
                move |d| doc::contact::create(d, &c),
            ));
        }
        edits.push(crate::store::DocEdit::new(
            DocId::Interaction(id),
            true,
            move |d| {
                doc::interaction::create(d, &interaction)?;
                doc::interaction::mark_mail(d, message.id, &mail_id, None, None)?;
                match &uid {
                    Some(u) => doc::interaction::put_mail_uid(d, message.id, u),
                    None => Ok(()),
                }
            },
        ));
        let changes = self.store.write_many(edits)?;
        done(Reply::Created { id: id.to_string() }, changes)
    }

    /// The highest UID of a mailbox (as of its UIDVALIDITY) that an
    /// interaction of the team holds: where a fetcher goes on from.
    pub(super) fn mail_high_water(
        &self,
        campaign: CampaignId,
        uid_validity: u32,
    ) -> OpResult<Outcome> {
        let uid = self.store.mail_high_water(campaign, uid_validity)?;
        done(Reply::MailHighWater(uid), vec![])
    }

    /// An email conversation with its mail facts (what the sender of
    /// replies reads).
    pub(super) fn mail_thread(&mut self, id: InteractionId) -> OpResult<Outcome> {
        let i = self.interaction(id)?;
        let doc_id = DocId::Interaction(id);
        let marks = self
            .store
            .with_doc(&doc_id, doc::interaction::mail_marks)?
            .map_err(|source| crate::store::StoreError::Doc {
                doc: doc_id.to_string(),
                source,
            })?;
        let messages = i
            .messages
            .iter()
            .map(|message| ThreadMessage {
                mark: marks
                    .iter()
                    .find(|m| m.message == message.id)
                    .cloned()
                    .unwrap_or_else(|| doc::interaction::MailMark {
                        message: message.id,
                        ..Default::default()
                    }),
                message: message.clone(),
            })
            .collect();
        let thread = MailThread {
            interaction: i.id,
            campaign: i.campaign(),
            subject: i.subject.clone(),
            address: i.address.clone(),
            contact_name: i.contact_name.clone(),
            messages,
        };
        done(Reply::MailThread(Box::new(thread)), vec![])
    }

    /// Records how sending an agent's message as mail ended; a
    /// failure also puts a system line in the conversation, so everyone
    /// sees that the customer did not get it.
    pub(super) fn mark_mail(
        &mut self,
        id: InteractionId,
        message: MessageId,
        outcome: MailOutcome,
    ) -> OpResult<Outcome> {
        let i = self.interaction(id)?;
        let Some(m) = i.messages.iter().find(|m| m.id == message) else {
            return Err(OpError::UnknownId {
                what: "message",
                id: message.to_string(),
            });
        };
        // Any agent's reply: the author's own node sends it, or the
        // mailbox's fetcher when the author's node is away.
        if !matches!(m.author, Author::Agent(_)) {
            return Err(OpError::NotOwner(
                id,
                "a message that is not an agent's".into(),
            ));
        }
        let domain = self
            .team
            .mailboxes
            .get(&i.campaign())
            .and_then(|mb| mb.address.rsplit_once('@').map(|(_, d)| d.to_string()))
            .unwrap_or_default();
        let mail_id = mail::outbound_mail_id(id, message, &domain);
        let now = self.ctx.now;
        let notice = match &outcome {
            MailOutcome::Sent => None,
            MailOutcome::Failed { reason } => Some(Message {
                id: self.store.new_id(),
                author: Author::System,
                at: now,
                body: clean_text(
                    &format!("This reply could not be sent by email: {reason}"),
                    MAX_MESSAGE_CHARS,
                ),
                attachments: Vec::new(),
            }),
        };
        let change =
            self.store
                .write_doc(&DocId::Interaction(id), false, move |d| match &outcome {
                    MailOutcome::Sent => {
                        doc::interaction::mark_mail(d, message, &mail_id, Some(now), None)
                    }
                    MailOutcome::Failed { reason } => {
                        let reason = clean_text(reason, 1000);
                        doc::interaction::mark_mail(d, message, &mail_id, None, Some(&reason))?;
                        match &notice {
                            Some(n) => doc::interaction::append_message(d, n),
                            None => Ok(()),
                        }
                    }
                })?;
        done(Reply::Done, vec![change])
    }
}

#[cfg(test)]
mod tests {
    use super::clean_text;

    #[test]
    fn outside_text_is_cleaned_and_cut_with_an_ellipsis() {
        assert_eq!(clean_text("a\r\nb\u{1b}[31mc", 100), "a\nb[31mc");
        assert_eq!(clean_text("abcdef", 4), "abc…");
        assert_eq!(clean_text("abcd", 4), "abcd");
    }
}
