//! Every operation an agent can ask for, as data, and the one function that
//! carries it out against a [`Store`].
//!
//! The CLI, the node's control socket, the GUI and the channel gateways all
//! send [`Request`]s: the same request gives the same result whichever way it
//! came in. Every request is checked in full before anything is written, so a
//! refused request leaves the store unchanged.

mod canned;
mod chat;
pub mod client;
mod contacts;
mod error;
mod interactions;
mod mail;
mod mentions;
mod query;
mod report;
mod snooze;
mod team;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::projection::*;
use crate::routing::{self, PresenceView};
use crate::store::{DocChange, LocalIdentity, Page, Store, TagUse};
use crate::types::*;

pub use canned::{CannedChanges, CannedSpec};
pub use chat::ChatTarget;
pub use client::{Client, FromReply, UnexpectedReply};
pub use contacts::{ContactProfile, ContactSpec, CustomerSpec};
pub use error::{InviteRefusal, OpError, OpResult};
pub use interactions::TransferTo;
pub use mentions::MentionRow;
pub use query::{HistoryFilter, RoutingFacts, Tab, Whose};
use team::create_team;
pub use team::{
    AgentEdit, CampaignEdit, CampaignSpec, DEFAULT_BREAK_REASONS, DEFAULT_DISPOSITIONS,
    MAX_BREAK_REASONS, admit_device,
};

/// The most rows a list request returns unless it asks for fewer.
pub const DEFAULT_LIST_LIMIT: usize = 500;

/// Everything a client can ask of a store.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "kebab-case")]
pub enum Request {
    // --- team ---
    CreateTeam {
        team_name: String,
        agent_name: String,
        device_name: String,
    },
    ShowTeam,
    AddCampaign(CampaignSpec),
    /// The live board (supervisors): queues, today's figures, agents now.
    Board,
    /// Changes a teammate's role, own capacity or campaigns (supervisors).
    EditAgent {
        /// Its name or id.
        agent: String,
        edit: AgentEdit,
    },
    /// Cancels an open invite (supervisors): its token hash, or a unique
    /// start of it of at least 8 characters.
    CancelInvite {
        invite: String,
    },
    /// Sets a teammate Offline whose machine is gone (supervisors).
    ForceOffline {
        agent: String,
    },
    /// Changes a campaign's settings (supervisors).
    EditCampaign {
        /// Its name or id.
        campaign: String,
        edit: CampaignEdit,
    },
    /// A break reason agents can pick (supervisors).
    AddBreakReason {
        name: String,
    },
    RemoveBreakReason {
        name: String,
    },
    ListCampaigns,
    ShowCampaign {
        name: String,
    },
    // --- phonebook ---
    AddContact(ContactSpec),
    EditContact {
        id: ContactId,
        changes: ContactSpec,
    },
    DeleteContact {
        id: ContactId,
    },
    ListContacts {
        search: Option<String>,
        limit: Option<usize>,
    },
    /// One page of the phonebook (or of what matches `search`), with the total.
    PageContacts {
        search: Option<String>,
        offset: usize,
        limit: usize,
    },
    ShowContact {
        id: ContactId,
    },
    /// Two entries of one customer become one: `absorbed` is listed no
    /// more, its interactions, phones, emails and tags show under
    /// `survivor`. Undone whole by `UnmergeContact`.
    MergeContacts {
        survivor: ContactId,
        absorbed: ContactId,
    },
    /// Undoes a merge: the contact is listed again with its own interactions.
    UnmergeContact {
        id: ContactId,
    },
    // --- interactions ---
    NewInteraction {
        channel: ChannelKind,
        campaign: String,
        contact: Option<ContactId>,
        to: Option<String>,
        fields: BTreeMap<String, String>,
        message: Option<String>,
    },
    Enqueue {
        campaign: String,
        contact: Option<ContactId>,
        from: Option<String>,
        /// A display name for a customer not in the phonebook (webchat visitors).
        name: Option<String>,
        message: Option<String>,
        priority: i32,
    },
    /// A customer's first message from a gateway: the contact is the one
    /// given by id, else the phonebook's entry with this email, else with
    /// this phone, else a new one; a new contact and the queued interaction
    /// are written in one commit, so neither is ever there without the other.
    Intake {
        campaign: String,
        customer: CustomerSpec,
        message: String,
        priority: i32,
    },
    ListInteractions {
        tab: Tab,
        search: Option<String>,
        limit: Option<usize>,
        /// What History shows (the agent's own by default); only History
        /// takes filters.
        #[serde(default)]
        history: HistoryFilter,
    },
    /// One page of a tab (or of what matches `search` in it), in the tab's
    /// order, with how many rows the whole list holds.
    PageInteractions {
        tab: Tab,
        search: Option<String>,
        offset: usize,
        limit: usize,
        #[serde(default)]
        history: HistoryFilter,
    },
    ShowInteraction {
        id: InteractionId,
    },
    /// Every interaction now in a campaign, in any state and whoever owns
    /// it, with activity at or after `since`: what a webhook catch-up reads
    /// (the tabs show an agent only their own active work).
    CampaignInteractions {
        campaign: String,
        since: Millis,
    },
    Send {
        id: InteractionId,
        text: String,
    },
    /// A message from the customer (webchat, API).
    CustomerMessage {
        id: InteractionId,
        text: String,
    },
    /// A message carrying files (the text may be empty). Each file must
    /// already be in this node's blob store (`blobs::BlobStore::put`), as
    /// the CLI and the gateways put it before asking; `customer`: written
    /// for the customer, as `CustomerMessage`, else as the agent's `Send`.
    SendFiles {
        id: InteractionId,
        #[serde(default)]
        text: String,
        files: Vec<crate::blobs::Attachment>,
        #[serde(default)]
        customer: bool,
    },
    AddNote {
        id: InteractionId,
        text: String,
    },
    AddTag {
        id: InteractionId,
        tag: String,
    },
    RemoveTag {
        id: InteractionId,
        tag: String,
    },
    /// The tags in use in the team (interactions' and contacts'), most used
    /// first, at most [`crate::bounds::MAX_TAGS_LISTED`]: what the tag
    /// field completes from.
    ListTags,
    Finalize {
        id: InteractionId,
        disposition: String,
        note: Option<String>,
    },
    Accept {
        id: InteractionId,
    },
    Decline {
        id: InteractionId,
    },
    Transfer {
        id: InteractionId,
        to: TransferTo,
        note: Option<String>,
    },
    /// The owner gives an interaction back to its campaign's queue.
    ReturnToQueue {
        id: InteractionId,
        reason: String,
    },
    /// Supervisors only: takes an interaction from whoever has it back to
    /// its campaign's queue.
    PullBack {
        id: InteractionId,
        reason: String,
    },
    /// Supervisors only: takes an interaction from whoever has it and
    /// offers it to another agent.
    HandOver {
        id: InteractionId,
        to: String,
        reason: String,
    },
    /// The owner sets an active interaction aside until `until` (ms since
    /// the epoch): out of their Active until then, back with a notice.
    Snooze {
        id: InteractionId,
        until: Millis,
        #[serde(default)]
        kind: SnoozeKind,
        #[serde(default)]
        note: Option<String>,
    },
    /// The owner brings a snoozed interaction back now.
    Unsnooze {
        id: InteractionId,
    },
    /// This agent's snoozes that came due and this device has not announced
    /// yet; marks them announced (once per device and due time).
    TakeDueSnoozes,
    MarkRead {
        id: InteractionId,
    },
    ExplainRouting {
        campaign: Option<String>,
    },
    // --- chat ---
    ChatSend {
        to: ChatTarget,
        text: String,
    },
    ChatShow {
        with: ChatTarget,
    },
    ListRooms,
    /// Marks every message of a room read on this device.
    MarkRoomRead {
        with: ChatTarget,
    },
    // --- mentions ---
    /// This agent's `@` mentions in notes and team chat, newest first.
    ListMentions {
        /// Only those not yet seen on this device.
        #[serde(default)]
        unseen: bool,
    },
    /// Marks mentions seen on this device: those named, or all when `ids` is empty.
    MarkMentionsSeen {
        #[serde(default)]
        ids: Vec<String>,
    },
    // --- status ---
    SetStatus {
        status: AgentStatus,
    },
    ShowStatus,
    // --- canned responses ---
    /// Supervisors only.
    AddCanned(CannedSpec),
    /// Supervisors only. `canned`: an id or a code.
    EditCanned {
        canned: String,
        changes: CannedChanges,
    },
    /// Supervisors only.
    RemoveCanned {
        canned: String,
    },
    /// Every canned response, or those offered in a campaign's interactions.
    ListCanned {
        campaign: Option<String>,
    },
    /// A canned response's body filled for an interaction.
    FillCanned {
        canned: String,
        interaction: InteractionId,
    },
    // --- email ---
    /// Sets or removes a campaign's mailbox (supervisors; the campaign is on
    /// the `email` channel). The password is never part of it.
    SetMailbox {
        campaign: String,
        mailbox: Option<Mailbox>,
    },
    ShowMailbox {
        campaign: String,
    },
    /// A mail fetched from a campaign's mailbox (the fetcher's node):
    /// stored once whatever how often it is fetched (by `Message-ID`).
    MailIntake(Box<crate::mail::InboundMail>),
    /// The highest UID of a mailbox (as of its UIDVALIDITY) the team holds.
    MailHighWater {
        campaign: CampaignId,
        uid_validity: u32,
    },
    /// An email conversation with its mail facts (the sender of replies).
    MailThread {
        id: InteractionId,
    },
    /// How sending an agent's message as mail ended (its author's node, or
    /// the mailbox's fetcher when the author's node is away).
    MarkMail {
        id: InteractionId,
        message: MessageId,
        outcome: crate::mail::MailOutcome,
    },
    // --- reports ---
    /// The figures of `[from, to)` (ms since the epoch, UTC) by campaign or
    /// by agent; by agent, supervisors see everyone, an agent only their
    /// own row.
    Report {
        from: Millis,
        to: Millis,
        by: crate::report::Grouping,
    },
}

impl Request {
    /// Whether the request only reads.
    pub fn is_query(&self) -> bool {
        matches!(
            self,
            Request::ShowTeam
                | Request::ListCampaigns
                | Request::ShowCampaign { .. }
                | Request::ListContacts { .. }
                | Request::PageContacts { .. }
                | Request::ShowContact { .. }
                | Request::ListInteractions { .. }
                | Request::PageInteractions { .. }
                | Request::ShowInteraction { .. }
                | Request::CampaignInteractions { .. }
                | Request::ExplainRouting { .. }
                | Request::ChatShow { .. }
                | Request::ListRooms
                | Request::ListMentions { .. }
                | Request::ListTags
                | Request::ShowStatus
                | Request::ListCanned { .. }
                | Request::FillCanned { .. }
                | Request::Report { .. }
                | Request::Board
                | Request::ShowMailbox { .. }
                | Request::MailThread { .. }
                | Request::MailHighWater { .. }
        )
    }
}

/// A chat room as this agent sees it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RoomRow {
    #[serde(flatten)]
    pub summary: RoomSummary,
    /// Teammates' messages this device has not shown.
    pub unread: u32,
}

/// An interaction list row as an agent sees it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InteractionRow {
    #[serde(flatten)]
    pub summary: InteractionSummary,
    pub state: InteractionState,
    pub campaign_name: String,
    pub owner_name: Option<String>,
    pub unread: u32,
    /// Ring-all, push offer, or directed transfer, for Pending rows.
    pub offer: Option<routing::OfferKind>,
    pub offer_expires_at: Option<Millis>,
}

/// An interaction with everything its detail view shows.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InteractionDetail {
    pub interaction: Interaction,
    pub state: InteractionState,
    pub campaign: Option<Campaign>,
    pub owner: Option<AgentId>,
    pub lost_claims: Vec<AgentId>,
    /// Agent names for every agent id in the interaction.
    pub agent_names: BTreeMap<AgentId, String>,
    pub contact: Option<Contact>,
}

/// A team overview.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TeamOverview {
    pub team: Team,
    pub agents: Vec<Agent>,
    pub me: LocalIdentity,
}

/// A chat room's messages with the author names.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ChatView {
    pub room: RoomKey,
    pub title: String,
    pub messages: Vec<ChatMessage>,
    pub agent_names: BTreeMap<AgentId, String>,
}

/// What a request gives back.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(tag = "reply", content = "value", rename_all = "kebab-case")]
pub enum Reply {
    Done,
    Created {
        id: String,
    },
    Team(Box<TeamOverview>),
    Campaigns(Vec<Campaign>),
    Campaign(Box<Campaign>),
    Contacts(Vec<Contact>),
    ContactPage(Page<Contact>),
    Contact {
        contact: Box<Contact>,
        interactions: Vec<InteractionSummary>,
        /// The contacts merged into it (see `merge`).
        #[serde(default)]
        absorbed: Vec<Contact>,
    },
    Interactions(Vec<InteractionRow>),
    InteractionPage(Page<InteractionRow>),
    Interaction(Box<InteractionDetail>),
    Explanations(Vec<routing::Explanation>),
    Chat(Box<ChatView>),
    Rooms(Vec<RoomRow>),
    Status(Box<Agent>),
    Canned(Vec<CannedResponse>),
    Mentions(Vec<MentionRow>),
    Tags(Vec<TagUse>),
    /// Text to show or send (a filled canned response).
    Text(String),
    Report(Box<crate::report::Report>),
    Board(Box<crate::board::Board>),
    Mailbox {
        campaign: CampaignId,
        mailbox: Option<Box<Mailbox>>,
    },
    MailThread(Box<crate::mail::MailThread>),
    MailHighWater(Option<u32>),
}

/// What the node knows beyond the store: the clock and who is live.
#[derive(Clone, Debug, Default)]
pub struct Context {
    pub now: Millis,
    /// Presence as the node sees it; `None` when no node runs (only this device is live).
    pub presence: Option<PresenceView>,
}

impl Context {
    pub fn now() -> Self {
        Context {
            now: now_ms(),
            presence: None,
        }
    }
}

/// The result of an executed request: the reply and the documents it changed.
#[derive(Debug)]
pub struct Outcome {
    pub reply: Reply,
    pub changes: Vec<DocChange>,
}

fn done(reply: Reply, changes: Vec<DocChange>) -> OpResult<Outcome> {
    Ok(Outcome { reply, changes })
}

/// Carries out one request.
pub fn execute(store: &mut Store, ctx: &Context, request: Request) -> OpResult<Outcome> {
    if let Request::CreateTeam {
        team_name,
        agent_name,
        device_name,
    } = request
    {
        return create_team(store, ctx, &team_name, &agent_name, &device_name);
    }
    let me = store.identity()?.ok_or(OpError::NoTeam)?;
    let team = store.team()?.ok_or(OpError::NoTeam)?;
    let mut ex = Executor {
        store,
        ctx,
        me,
        team,
    };
    ex.run(request)
}

struct Executor<'s, 'c> {
    store: &'s mut Store,
    ctx: &'c Context,
    me: LocalIdentity,
    team: Team,
}

/// An id as a user or an outside client typed it (the CLI's arguments, a
/// URL path), parsed at that edge: a malformed one is refused as unknown, as
/// a well-formed id that names nothing is.
pub fn parse_id<T: std::str::FromStr>(what: &'static str, raw: &str) -> OpResult<T> {
    raw.trim().parse().map_err(|_| OpError::UnknownId {
        what,
        id: raw.to_string(),
    })
}

impl Executor<'_, '_> {
    fn run(&mut self, request: Request) -> OpResult<Outcome> {
        match request {
            // An executor exists only once the store holds a team.
            Request::CreateTeam { .. } => Err(OpError::TeamExists(self.team.name.clone())),
            Request::ShowTeam => self.show_team(),
            Request::AddCampaign(spec) => self.add_campaign(spec),
            Request::EditCampaign { campaign, edit } => self.edit_campaign(&campaign, edit),
            Request::AddBreakReason { name } => self.add_break_reason(&name),
            Request::RemoveBreakReason { name } => self.remove_break_reason(&name),
            Request::ListCampaigns => self.list_campaigns(),
            Request::ShowCampaign { name } => self.show_campaign(&name),
            Request::AddContact(spec) => self.add_contact(spec),
            Request::EditContact { id, changes } => self.edit_contact(id, changes, false),
            Request::DeleteContact { id } => self.edit_contact(id, ContactSpec::default(), true),
            Request::ListContacts { search, limit } => {
                let page =
                    self.contact_page(search.as_deref(), 0, limit.unwrap_or(DEFAULT_LIST_LIMIT))?;
                done(Reply::Contacts(page.rows), vec![])
            }
            Request::PageContacts {
                search,
                offset,
                limit,
            } => {
                let page = self.contact_page(search.as_deref(), offset, limit)?;
                done(Reply::ContactPage(page), vec![])
            }
            Request::ShowContact { id } => self.show_contact(id),
            Request::MergeContacts { survivor, absorbed } => {
                self.merge_contacts(survivor, absorbed)
            }
            Request::UnmergeContact { id } => self.unmerge_contact(id),
            Request::NewInteraction {
                channel,
                campaign,
                contact,
                to,
                fields,
                message,
            } => self.new_interaction(channel, &campaign, contact, to.as_deref(), fields, message),
            Request::Enqueue {
                campaign,
                contact,
                from,
                name,
                message,
                priority,
            } => self.enqueue(
                &campaign,
                contact,
                from.as_deref(),
                name.as_deref(),
                message,
                priority,
            ),
            Request::Intake {
                campaign,
                customer,
                message,
                priority,
            } => self.intake(&campaign, customer, &message, priority),
            Request::ListInteractions {
                tab,
                search,
                limit,
                history,
            } => {
                let page = self.list(
                    tab,
                    search.as_deref(),
                    &history,
                    0,
                    limit.unwrap_or(DEFAULT_LIST_LIMIT),
                )?;
                done(Reply::Interactions(page.rows), vec![])
            }
            Request::PageInteractions {
                tab,
                search,
                offset,
                limit,
                history,
            } => {
                let page = self.list(tab, search.as_deref(), &history, offset, limit)?;
                done(Reply::InteractionPage(page), vec![])
            }
            Request::ShowInteraction { id } => {
                let detail = self.detail(id)?;
                done(Reply::Interaction(Box::new(detail)), vec![])
            }
            Request::CampaignInteractions { campaign, since } => {
                self.campaign_interactions(&campaign, since)
            }
            Request::Send { id, text } => self.send(id, &text, Vec::new(), false),
            Request::CustomerMessage { id, text } => self.send(id, &text, Vec::new(), true),
            Request::SendFiles {
                id,
                text,
                files,
                customer,
            } => self.send(id, &text, files, customer),
            Request::AddNote { id, text } => self.add_note(id, &text),
            Request::AddTag { id, tag } => self.add_tag(id, &tag),
            Request::RemoveTag { id, tag } => self.remove_tag(id, &tag),
            Request::ListTags => {
                let mut tags = self.store.tag_uses()?;
                tags.truncate(crate::bounds::MAX_TAGS_LISTED);
                done(Reply::Tags(tags), vec![])
            }
            Request::Finalize {
                id,
                disposition,
                note,
            } => self.finalize(id, &disposition, note),
            Request::Accept { id } => self.accept(id),
            Request::Decline { id } => self.decline(id),
            Request::Transfer { id, to, note } => self.transfer(id, to, note),
            Request::ReturnToQueue { id, reason } => self.return_to_queue(id, &reason),
            Request::PullBack { id, reason } => self.pull_back(id, &reason),
            Request::HandOver { id, to, reason } => self.hand_over(id, &to, &reason),
            Request::Snooze {
                id,
                until,
                kind,
                note,
            } => self.snooze(id, until, kind, note.as_deref()),
            Request::Unsnooze { id } => self.unsnooze(id),
            Request::TakeDueSnoozes => self.take_due_snoozes(),
            Request::MarkRead { id } => self.mark_read(id),
            Request::ExplainRouting { campaign } => self.explain_routing(campaign.as_deref()),
            Request::ChatSend { to, text } => self.chat_send(&to, &text),
            Request::ChatShow { with } => self.chat_show(&with),
            Request::ListRooms => self.list_rooms(),
            Request::MarkRoomRead { with } => {
                let (room, _) = self.room(&with)?;
                self.mark_room_read(room)?;
                done(Reply::Done, vec![])
            }
            Request::ListMentions { unseen } => self.list_mentions(unseen),
            Request::MarkMentionsSeen { ids } => self.mark_mentions_seen(&ids),
            Request::SetStatus { status } => self.set_status(status),
            Request::ShowStatus => self.show_status(),
            Request::AddCanned(spec) => self.add_canned(spec),
            Request::EditCanned { canned, changes } => self.edit_canned(&canned, changes),
            Request::RemoveCanned { canned } => self.remove_canned(&canned),
            Request::ListCanned { campaign } => self.list_canned(campaign.as_deref()),
            Request::FillCanned {
                canned,
                interaction,
            } => self.fill_canned(&canned, interaction),
            Request::Report { from, to, by } => self.report(crate::report::Range { from, to }, by),
            Request::Board => self.board(),
            Request::EditAgent { agent, edit } => self.edit_agent(&agent, edit),
            Request::CancelInvite { invite } => self.cancel_invite(&invite),
            Request::ForceOffline { agent } => self.force_offline(&agent),
            Request::SetMailbox { campaign, mailbox } => self.set_mailbox(&campaign, mailbox),
            Request::ShowMailbox { campaign } => self.show_mailbox(&campaign),
            Request::MailIntake(mail) => self.mail_intake(*mail),
            Request::MailThread { id } => self.mail_thread(id),
            Request::MailHighWater {
                campaign,
                uid_validity,
            } => self.mail_high_water(campaign, uid_validity),
            Request::MarkMail {
                id,
                message,
                outcome,
            } => self.mark_mail(id, message, outcome),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_ids_keep_the_wire_format() {
        let id = InteractionId::new();
        let contact = ContactId::new();
        let request = Request::Intake {
            campaign: "Support".into(),
            customer: CustomerSpec {
                id: Some(contact),
                ..CustomerSpec::default()
            },
            message: "hi".into(),
            priority: 0,
        };
        let json = serde_json::to_value(&request).expect("serializes");
        assert_eq!(json["customer"]["id"], contact.to_string());
        let json = serde_json::json!({"request": "show-interaction", "id": id.to_string()});
        let parsed: Request = serde_json::from_value(json).expect("parses");
        assert_eq!(parsed, Request::ShowInteraction { id });
        let json = serde_json::json!({"request": "accept", "id": "not-an-id"});
        assert!(serde_json::from_value::<Request>(json).is_err());
    }
}
