//! Interactions: starting, queueing and taking them in, messages, ownership,
//! transfer and finalize.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{ContactSpec, CustomerSpec, Executor, OpError, OpResult, Outcome, Reply, done};
use crate::blobs::{self, Attachment, BlobError};
use crate::bounds;
use crate::doc::{self, DocId};
use crate::ids::*;
use crate::store::{DocEdit, LocalMarks, StoreError};
use crate::types::*;
use crate::validate::{self, InvalidInput};

/// Where a transfer sends an interaction, by name.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransferTo {
    Agent(String),
    Campaign(String),
}

/// A store read of an interaction, with a missing one refused as unknown.
fn known_interaction<T>(id: InteractionId, read: Result<T, StoreError>) -> OpResult<T> {
    match read {
        Ok(found) => Ok(found),
        Err(StoreError::NotFound(_)) => Err(OpError::UnknownId {
            what: "interaction",
            id: id.to_string(),
        }),
        Err(e) => Err(e.into()),
    }
}

impl Executor<'_, '_> {
    pub(super) fn add_note(&mut self, id: InteractionId, text: &str) -> OpResult<Outcome> {
        let text = validate::message(text)?;
        let (i, _) = self.interaction_head(id)?;
        let note = Note {
            agent: self.me.agent,
            at: self.ctx.now,
            text,
        };
        self.write_interaction(i.id, move |d| doc::interaction::add_note(d, &note))
    }

    pub(super) fn add_tag(&mut self, id: InteractionId, tag: &str) -> OpResult<Outcome> {
        let tag = validate::tag(tag)?;
        let (i, _) = self.interaction_head(id)?;
        if i.tags.contains(&tag) {
            return done(Reply::Done, vec![]);
        }
        if i.tags.len() >= crate::bounds::MAX_TAGS_PER_INTERACTION {
            return Err(OpError::TooManyTags(
                i.id,
                crate::bounds::MAX_TAGS_PER_INTERACTION,
            ));
        }
        self.write_interaction(i.id, move |d| doc::interaction::add_tag(d, &tag))
    }

    pub(super) fn remove_tag(&mut self, id: InteractionId, tag: &str) -> OpResult<Outcome> {
        let tag = tag.trim();
        let (i, _) = self.interaction_head(id)?;
        if !i.tags.contains(tag) {
            return Err(OpError::NotTagged(i.id, tag.to_string()));
        }
        let tag = tag.to_string();
        self.write_interaction(i.id, move |d| doc::interaction::remove_tag(d, &tag))
    }

    pub(super) fn mark_read(&mut self, id: InteractionId) -> OpResult<Outcome> {
        let (i, count) = self.interaction_head(id)?;
        self.store
            .mark_read(&i.id.to_string(), u32::try_from(count).unwrap_or(u32::MAX))?;
        done(Reply::Done, vec![])
    }

    /// Checks an address typed for a channel: a phone number, an email, or a handle.
    pub(super) fn check_address(channel: ChannelKind, raw: &str) -> OpResult<String> {
        Ok(match channel {
            ChannelKind::Phone => validate::phone(raw)?,
            ChannelKind::Email => validate::email(raw)?,
            _ => validate::required("the address", raw)?,
        })
    }

    pub(super) fn contact_address(channel: ChannelKind, c: &Contact) -> String {
        let phone = c.phones.first().cloned();
        let email = c.emails.first().cloned();
        match channel {
            ChannelKind::Phone => phone.or(email),
            _ => email.or(phone),
        }
        .unwrap_or_else(|| c.name.clone())
    }

    pub(super) fn new_interaction(
        &mut self,
        channel: ChannelKind,
        campaign: &str,
        contact: Option<ContactId>,
        to: Option<&str>,
        fields: BTreeMap<String, String>,
        message: Option<String>,
    ) -> OpResult<Outcome> {
        let campaign = self.campaign(campaign)?.clone();
        if campaign.channel != channel {
            return Err(OpError::WrongChannel {
                campaign: campaign.name,
                actual: campaign.channel,
                requested: channel,
            });
        }
        if !campaign.has_member(self.me.agent) {
            return Err(OpError::NotMember(campaign.name));
        }
        let (contact, address, contact_name) = match (contact, to) {
            (Some(c), _) => {
                let c = self.resolved_contact(c)?;
                let address = match to {
                    Some(to) => Self::check_address(channel, to)?,
                    None => Self::contact_address(channel, &c),
                };
                (Some(c.id), address, c.name)
            }
            (None, Some(to)) => {
                let address = Self::check_address(channel, to)?;
                (None, address.clone(), address)
            }
            (None, None) => {
                return Err(OpError::NoCustomer("--to"));
            }
        };
        let fields = Self::check_fields(&campaign, fields)?;
        let message = message.map(|m| validate::message(&m)).transpose()?;
        let now = self.ctx.now;
        let me = self.me.agent;
        let subject = fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("subject"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let interaction = Interaction {
            id: self.store.new_id(),
            direction: Direction::Outbound,
            channel,
            origin_campaign: campaign.id,
            contact,
            address,
            contact_name,
            contact_unverified: false,
            snooze: None,
            subject,
            fields,
            priority: 0,
            enqueued_at: now,
            created_at: now,
            created_by: Some(me),
            messages: message
                .into_iter()
                .map(|body| Message {
                    attachments: Vec::new(),
                    id: self.store.new_id(),
                    author: Author::Agent(me),
                    at: now,
                    body,
                })
                .collect(),
            claims: vec![Claim {
                agent: me,
                claimed_at: now,
                epoch: 0,
            }],
            declines: vec![],
            transfers: vec![],
            finalization: None,
            notes: vec![],
            tags: BTreeSet::new(),
        };
        let id = interaction.id;
        let count = u32::try_from(interaction.messages.len()).unwrap_or(0);
        let change = self
            .store
            .write_doc(&DocId::Interaction(id), true, move |d| {
                doc::interaction::create(d, &interaction)
            })?;
        self.store.mark_read(&id.to_string(), count)?;
        done(Reply::Created { id: id.to_string() }, vec![change])
    }

    /// Matches given fields to the campaign's (case-insensitively) and enforces required ones.
    pub(super) fn check_fields(
        campaign: &Campaign,
        given: BTreeMap<String, String>,
    ) -> OpResult<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (key, value) in given {
            let Some(field) = campaign
                .fields
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(key.trim()))
            else {
                if key.trim().eq_ignore_ascii_case("subject") {
                    out.insert(
                        "Subject".to_string(),
                        validate::bounded("the subject", value.trim(), validate::MAX_FIELD_CHARS)?,
                    );
                    continue;
                }
                let known: Vec<&str> = campaign.fields.iter().map(|f| f.name.as_str()).collect();
                return Err(OpError::UnknownField {
                    field: key,
                    campaign: campaign.name.clone(),
                    known: if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    },
                });
            };
            out.insert(
                field.name.clone(),
                validate::bounded("a field", value.trim(), validate::MAX_MESSAGE_CHARS)?,
            );
        }
        for field in campaign.fields.iter().filter(|f| f.required) {
            if out.get(&field.name).is_none_or(|v| v.is_empty()) {
                return Err(OpError::MissingField {
                    field: field.name.clone(),
                    campaign: campaign.name.clone(),
                });
            }
        }
        Ok(out)
    }

    pub(super) fn enqueue(
        &mut self,
        campaign: &str,
        contact: Option<ContactId>,
        from: Option<&str>,
        name: Option<&str>,
        message: Option<String>,
        priority: i32,
    ) -> OpResult<Outcome> {
        let campaign = self.campaign(campaign)?.clone();
        let channel = campaign.channel;
        let (contact, address, contact_name) = match (contact, from) {
            (Some(c), _) => {
                let c = self.resolved_contact(c)?;
                let address = match from {
                    Some(f) => Self::check_address(channel, f)?,
                    None => Self::contact_address(channel, &c),
                };
                (Some(c.id), address, c.name)
            }
            (None, Some(from)) => {
                let address = if validate::looks_like_email(from) {
                    validate::email(from)?
                } else {
                    Self::check_address(channel, from)?
                };
                // A known email links the request to its phonebook entry.
                let known = if validate::looks_like_email(&address) {
                    self.store.contacts_by_email(&address)?.into_iter().next()
                } else {
                    None
                };
                let display = match name.map(str::trim).filter(|n| !n.is_empty()) {
                    Some(n) => validate::required("the name", n)?,
                    None => known
                        .as_ref()
                        .map(|c| c.name.clone())
                        .unwrap_or_else(|| address.clone()),
                };
                (known.map(|c| c.id), address, display)
            }
            (None, None) => {
                return Err(OpError::NoCustomer("--from"));
            }
        };
        let message = message.map(|m| validate::message(&m)).transpose()?;
        let interaction =
            self.queued_interaction(&campaign, contact, address, contact_name, message, priority);
        let id = interaction.id;
        let change = self
            .store
            .write_doc(&DocId::Interaction(id), true, move |d| {
                doc::interaction::create(d, &interaction)
            })?;
        done(Reply::Created { id: id.to_string() }, vec![change])
    }

    /// A new inbound interaction queued in `campaign`, opened by the
    /// customer's `message`.
    pub(super) fn queued_interaction(
        &self,
        campaign: &Campaign,
        contact: Option<ContactId>,
        address: String,
        contact_name: String,
        message: Option<String>,
        priority: i32,
    ) -> Interaction {
        let now = self.ctx.now;
        Interaction {
            id: self.store.new_id(),
            direction: Direction::Inbound,
            channel: campaign.channel,
            origin_campaign: campaign.id,
            contact,
            address,
            contact_name,
            contact_unverified: false,
            snooze: None,
            subject: String::new(),
            fields: BTreeMap::new(),
            priority,
            enqueued_at: now,
            created_at: now,
            created_by: None,
            messages: message
                .into_iter()
                .map(|body| Message {
                    attachments: Vec::new(),
                    id: self.store.new_id(),
                    author: Author::Contact,
                    at: now,
                    body,
                })
                .collect(),
            claims: vec![],
            declines: vec![],
            transfers: vec![],
            finalization: None,
            notes: vec![],
            tags: BTreeSet::new(),
        }
    }

    pub(super) fn intake(
        &mut self,
        campaign: &str,
        customer: CustomerSpec,
        message: &str,
        priority: i32,
    ) -> OpResult<Outcome> {
        let campaign = self.campaign(campaign)?.clone();
        let message = validate::message(message)?;
        let blank = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let customer = CustomerSpec {
            id: customer.id,
            name: blank(&customer.name)
                .map(|n| validate::required("the name", &n))
                .transpose()?,
            email: blank(&customer.email)
                .map(|e| validate::email(&e))
                .transpose()?,
            phone: blank(&customer.phone)
                .map(|p| validate::phone(&p))
                .transpose()?,
            unverified: customer.unverified,
        };
        let (contact, fresh) = match self.known_customer(&customer)? {
            Some(c) => (c, None),
            None => {
                let name = customer
                    .name
                    .clone()
                    .or_else(|| customer.email.clone())
                    .or_else(|| customer.phone.clone())
                    .ok_or(InvalidInput::Empty("the customer's name, email or phone"))?;
                let c = self.new_contact(ContactSpec {
                    name: Some(name),
                    phones: customer.phone.clone().map(|p| vec![p]),
                    emails: customer.email.clone().map(|e| vec![e]),
                    ..ContactSpec::default()
                })?;
                (c.clone(), Some(c))
            }
        };
        // An existing entry matched on a claim alone: linked, but marked, and
        // nothing of the entry is copied where the visitor could read it.
        let claimed = customer.unverified && fresh.is_none();
        let (address, contact_name) = if claimed {
            let address = customer
                .email
                .clone()
                .or_else(|| customer.phone.clone())
                .or_else(|| customer.name.clone())
                .unwrap_or_default();
            let name = customer.name.clone().unwrap_or_else(|| address.clone());
            (address, name)
        } else {
            (
                Self::contact_address(campaign.channel, &contact),
                contact.name.clone(),
            )
        };
        let mut interaction = self.queued_interaction(
            &campaign,
            Some(contact.id),
            address,
            contact_name,
            Some(message),
            priority,
        );
        interaction.contact_unverified = claimed;
        let id = interaction.id;
        let mut edits = Vec::with_capacity(2);
        if let Some(c) = fresh {
            edits.push(DocEdit::new(DocId::Contact(c.id), true, move |d| {
                doc::contact::create(d, &c)
            }));
        }
        edits.push(DocEdit::new(DocId::Interaction(id), true, move |d| {
            doc::interaction::create(d, &interaction)
        }));
        let changes = self.store.write_many(edits)?;
        done(Reply::Created { id: id.to_string() }, changes)
    }

    /// The interaction without its older messages, and its message count.
    pub(super) fn interaction_head(&mut self, id: InteractionId) -> OpResult<(Interaction, usize)> {
        known_interaction(id, self.store.interaction_head(id))
    }

    pub(super) fn interaction(&mut self, id: InteractionId) -> OpResult<Interaction> {
        known_interaction(id, self.store.interaction(id))
    }

    pub(super) fn write_interaction(
        &mut self,
        id: InteractionId,
        edit: impl FnOnce(&mut automerge::AutoCommit) -> Result<(), doc::DocError>,
    ) -> OpResult<Outcome> {
        let change = self.store.write_doc(&DocId::Interaction(id), false, edit)?;
        done(Reply::Done, vec![change])
    }

    pub(super) fn name_of(&self, agent: AgentId) -> String {
        self.store
            .agent(agent)
            .ok()
            .flatten()
            .map(|a| a.name)
            .unwrap_or_else(|| agent.to_string())
    }

    pub(super) fn require_owner(&self, i: &Interaction, action: &'static str) -> OpResult<()> {
        let state = i.state_at(self.ctx.now);
        if state != InteractionState::Active {
            return Err(OpError::WrongState {
                id: i.id,
                state: state.as_str(),
                action,
                needed: "active",
            });
        }
        match i.owner() {
            Some(c) if c.agent == self.me.agent => Ok(()),
            Some(c) => Err(OpError::NotOwner(i.id, self.name_of(c.agent))),
            None => Err(OpError::WrongState {
                id: i.id,
                state: "queued",
                action,
                needed: "active",
            }),
        }
    }

    pub(super) fn send(
        &mut self,
        id: InteractionId,
        text: &str,
        files: Vec<Attachment>,
        from_customer: bool,
    ) -> OpResult<Outcome> {
        let body = if files.is_empty() || !text.trim().is_empty() {
            validate::message(text)?
        } else {
            String::new()
        };
        let attachments = self.check_files(files)?;
        let (i, count) = self.interaction_head(id)?;
        if i.finalization.is_some() {
            let state = i.state_at(self.ctx.now).as_str();
            return Err(OpError::WrongState {
                id: i.id,
                state,
                action: "sending a message",
                needed: "open",
            });
        }
        let author = if from_customer {
            Author::Contact
        } else {
            self.require_owner(&i, "sending a message")?;
            Author::Agent(self.me.agent)
        };
        let message = Message {
            id: self.store.new_id(),
            author,
            at: self.ctx.now,
            body,
            attachments,
        };
        let id = i.id;
        let outcome =
            self.write_interaction(id, move |d| doc::interaction::append_message(d, &message))?;
        if !from_customer {
            // The agent has seen everything up to their own message.
            self.store.mark_read(
                &id.to_string(),
                u32::try_from(count + 1).unwrap_or(u32::MAX),
            )?;
        }
        Ok(outcome)
    }

    /// The files of a message, as it records them: at most
    /// [`bounds::MAX_ATTACHMENTS_PER_MESSAGE`], each in this node's blob
    /// store with the size named and within its limit, names cleaned and
    /// media types checked.
    pub(super) fn check_files(&self, files: Vec<Attachment>) -> OpResult<Vec<Attachment>> {
        if files.len() > bounds::MAX_ATTACHMENTS_PER_MESSAGE {
            return Err(OpError::TooManyFiles {
                max: bounds::MAX_ATTACHMENTS_PER_MESSAGE,
            });
        }
        if files.is_empty() {
            return Ok(files);
        }
        let blobs = self.store.blobs()?;
        files
            .into_iter()
            .map(|f| {
                blobs.check_size(f.size)?;
                match blobs.size_of(&f.hash) {
                    Some(size) if size == f.size => {}
                    _ => return Err(OpError::File(BlobError::Missing(f.hash))),
                }
                let mime = if f.mime.len() <= bounds::MAX_MIME_CHARS
                    && f.mime.contains('/')
                    && f.mime.bytes().all(|b| b.is_ascii_graphic())
                {
                    f.mime.to_ascii_lowercase()
                } else {
                    "application/octet-stream".to_string()
                };
                Ok(Attachment {
                    hash: f.hash,
                    size: f.size,
                    mime,
                    name: blobs::clean_name(&f.name),
                })
            })
            .collect()
    }

    pub(super) fn finalize(
        &mut self,
        id: InteractionId,
        disposition: &str,
        note: Option<String>,
    ) -> OpResult<Outcome> {
        let (i, _) = self.interaction_head(id)?;
        self.require_owner(&i, "finalizing")?;
        let campaign = self.team.campaigns.get(&i.campaign()).cloned();
        let campaign_name = campaign
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_else(|| i.campaign().to_string());
        let allowed = campaign
            .as_ref()
            .map(|c| c.dispositions.clone())
            .unwrap_or_default();
        let disposition = allowed
            .iter()
            .find(|d| d.eq_ignore_ascii_case(disposition.trim()))
            .cloned()
            .ok_or_else(|| OpError::BadDisposition {
                disposition: disposition.to_string(),
                campaign: campaign_name,
                allowed: allowed.join(", "),
            })?;
        let note = note
            .map(|n| validate::bounded("the note", &n, validate::MAX_MESSAGE_CHARS))
            .transpose()?;
        let now = self.ctx.now;
        let wrapup = i64::from(campaign.map(|c| c.wrapup_seconds).unwrap_or(0)) * 1000;
        let f = Finalization {
            agent: self.me.agent,
            at: now,
            disposition,
            note: note.unwrap_or_default(),
            wrapup_until: now + wrapup,
        };
        self.write_interaction(i.id, move |d| doc::interaction::finalize(d, &f))
    }

    pub(super) fn accept(&mut self, id: InteractionId) -> OpResult<Outcome> {
        let (i, count) = self.interaction_head(id)?;
        let state = i.state_at(self.ctx.now);
        if state != InteractionState::Queued {
            if let Some(owner) = i.owner().filter(|_| state == InteractionState::Active) {
                if owner.agent == self.me.agent {
                    return Err(OpError::AlreadyYours(i.id));
                }
                return Err(OpError::TakenBy(i.id, self.name_of(owner.agent)));
            }
            return Err(OpError::WrongState {
                id: i.id,
                state: state.as_str(),
                action: "accepting",
                needed: "queued",
            });
        }
        let campaign = self.team.campaigns.get(&i.campaign());
        let member = campaign.is_some_and(|c| c.has_member(self.me.agent));
        if !member && i.directed_to() != Some(self.me.agent) {
            let name = campaign
                .map(|c| c.name.clone())
                .unwrap_or_else(|| i.campaign().to_string());
            return Err(OpError::NotMember(name));
        }
        // Never before the round began (a clock behind the transferring
        // node's): the write rules refuse such a claim everywhere.
        let claim = Claim {
            agent: self.me.agent,
            claimed_at: self.ctx.now.max(i.round_started_at()),
            epoch: i.epoch(),
        };
        let id = i.id;
        let outcome =
            self.write_interaction(id, move |d| doc::interaction::add_claim(d, &claim))?;
        self.store
            .mark_read(&id.to_string(), u32::try_from(count).unwrap_or(u32::MAX))?;
        Ok(outcome)
    }

    pub(super) fn decline(&mut self, id: InteractionId) -> OpResult<Outcome> {
        let (i, _) = self.interaction_head(id)?;
        let state = i.state_at(self.ctx.now);
        if state != InteractionState::Queued {
            return Err(OpError::WrongState {
                id: i.id,
                state: state.as_str(),
                action: "declining",
                needed: "queued",
            });
        }
        let decline = Decline {
            agent: self.me.agent,
            at: self.ctx.now.max(i.round_started_at()),
            epoch: i.epoch(),
        };
        self.write_interaction(i.id, move |d| doc::interaction::add_decline(d, &decline))
    }

    pub(super) fn transfer(
        &mut self,
        id: InteractionId,
        to: TransferTo,
        note: Option<String>,
    ) -> OpResult<Outcome> {
        let (i, _) = self.interaction_head(id)?;
        self.require_owner(&i, "transferring")?;
        let target = match &to {
            TransferTo::Agent(name) => {
                let agent = self.agent_by_name(name)?;
                if agent.id == self.me.agent {
                    return Err(OpError::TransferToSelf);
                }
                TransferTarget::Agent(agent.id)
            }
            TransferTo::Campaign(name) => TransferTarget::Campaign(self.campaign(name)?.id),
        };
        let note = note
            .map(|n| validate::bounded("the note", n.trim(), validate::MAX_MESSAGE_CHARS))
            .transpose()?;
        let t = Transfer {
            from: self.me.agent,
            to: target,
            at: self.ctx.now,
            note: note.unwrap_or_default(),
            kind: TransferKind::Transfer,
            reason: String::new(),
        };
        self.write_interaction(i.id, move |d| doc::interaction::add_transfer(d, &t))
    }

    /// The owner gives the interaction back to its campaign's queue, where
    /// routing offers it again (to anyone but them, while others can take it).
    pub(super) fn return_to_queue(&mut self, id: InteractionId, reason: &str) -> OpResult<Outcome> {
        let reason = take_back_reason(reason)?;
        let (i, _) = self.interaction_head(id)?;
        self.refuse_finalized(&i, "returned to the queue")?;
        self.require_owner(&i, "returning to the queue")?;
        let to = TransferTarget::Campaign(i.campaign());
        self.take_back(i.id, to, TransferKind::Return, reason)
    }

    /// A supervisor takes the interaction from its owner back to its
    /// campaign's queue.
    pub(super) fn pull_back(&mut self, id: InteractionId, reason: &str) -> OpResult<Outcome> {
        self.require_supervisor("pull an interaction back to the queue")?;
        let reason = take_back_reason(reason)?;
        let (i, _) = self.interaction_head(id)?;
        self.someone_elses(&i, "pulled back")?;
        let to = TransferTarget::Campaign(i.campaign());
        self.take_back(i.id, to, TransferKind::PullBack, reason)
    }

    /// A supervisor takes the interaction from its owner and offers it to
    /// another agent (a directed offer, as a transfer to an agent makes).
    pub(super) fn hand_over(
        &mut self,
        id: InteractionId,
        to: &str,
        reason: &str,
    ) -> OpResult<Outcome> {
        self.require_supervisor("hand an interaction to another agent")?;
        let reason = take_back_reason(reason)?;
        let (i, _) = self.interaction_head(id)?;
        let owner = self.someone_elses(&i, "handed over")?;
        let agent = self.agent_by_name(to)?;
        if agent.id == owner {
            return Err(OpError::AlreadyTheirs(i.id, agent.name));
        }
        let to = TransferTarget::Agent(agent.id);
        self.take_back(i.id, to, TransferKind::Hand, reason)
    }

    fn refuse_finalized(&self, i: &Interaction, action: &'static str) -> OpResult<()> {
        match i.state_at(self.ctx.now) {
            state @ (InteractionState::WrapUp | InteractionState::Closed) => {
                Err(OpError::AlreadyFinalized {
                    id: i.id,
                    state: state.as_str(),
                    action,
                })
            }
            InteractionState::Queued | InteractionState::Active => Ok(()),
        }
    }

    /// The owner of an active interaction that is not this agent's: what a
    /// supervisor may take back.
    fn someone_elses(&self, i: &Interaction, action: &'static str) -> OpResult<AgentId> {
        self.refuse_finalized(i, action)?;
        match i.owner() {
            None => Err(OpError::NotTaken(i.id)),
            Some(c) if c.agent == self.me.agent => Err(OpError::YoursToReturn(i.id)),
            Some(c) => Ok(c.agent),
        }
    }

    fn take_back(
        &mut self,
        id: InteractionId,
        to: TransferTarget,
        kind: TransferKind,
        reason: String,
    ) -> OpResult<Outcome> {
        let t = Transfer {
            from: self.me.agent,
            to,
            at: self.ctx.now,
            note: String::new(),
            kind,
            reason,
        };
        self.write_interaction(id, move |d| doc::interaction::add_transfer(d, &t))
    }
}

/// A take-back's reason: required, one short text (`bounds::MAX_REASON_CHARS`).
fn take_back_reason(raw: &str) -> OpResult<String> {
    let reason = raw.trim();
    if reason.is_empty() {
        return Err(InvalidInput::Empty("the reason").into());
    }
    Ok(validate::bounded(
        "the reason",
        reason,
        crate::bounds::MAX_REASON_CHARS,
    )?)
}
