//! Every operation an agent can ask for, as data, and the one function that
//! carries it out against a [`Store`].
//!
//! The CLI, the node's control socket, the GUI and the channel gateways all
//! send [`Request`]s: the same request gives the same result whichever way it
//! came in. Every request is checked in full before anything is written, so a
//! refused request leaves the store unchanged.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::doc::{self, DocId};
use crate::ids::*;
use crate::projection::*;
use crate::routing::{self, PresenceEntry, PresenceView, RoutingInput};
use crate::store::{DocChange, DocEdit, LocalIdentity, Page, SearchScope, Store, StoreError};
use crate::types::*;
use crate::validate::{self, InvalidInput};

/// The dispositions a new team's default campaign offers.
pub const DEFAULT_DISPOSITIONS: [&str; 3] = ["Resolved", "Callback", "No answer"];
/// Break reasons a new team starts with.
pub const DEFAULT_BREAK_REASONS: [&str; 3] = ["Lunch", "Training", "Meeting"];
/// The most rows a list request returns unless it asks for fewer.
pub const DEFAULT_LIST_LIMIT: usize = 500;
/// Phonebook entries whose words match a customer's phone that are compared
/// digit by digit (a phone is matched by search: there is no phone index).
const CUSTOMER_MATCHES: usize = 500;

/// Why a request was refused. Each message names what is wrong, in one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    #[error("no team yet: run `meshdesk team create --name NAME --agent NAME` or join one")]
    NoTeam,
    #[error("this data dir already holds team `{0}`")]
    TeamExists(String),
    #[error("unknown campaign `{0}`")]
    UnknownCampaign(String),
    #[error("unknown agent `{0}`")]
    UnknownAgent(String),
    #[error("unknown {what} id `{id}`")]
    UnknownId { what: &'static str, id: String },
    #[error("missing required field `{field}` for campaign `{campaign}`")]
    MissingField { field: String, campaign: String },
    #[error("campaign `{campaign}` has no field `{field}` (fields: {known})")]
    UnknownField {
        field: String,
        campaign: String,
        known: String,
    },
    #[error("disposition `{disposition}` is not in campaign `{campaign}`'s list ({allowed})")]
    BadDisposition {
        disposition: String,
        campaign: String,
        allowed: String,
    },
    #[error("campaign `{campaign}` runs on {actual}, not {requested}")]
    WrongChannel {
        campaign: String,
        actual: ChannelKind,
        requested: ChannelKind,
    },
    #[error("campaign `{0}` already exists")]
    DuplicateCampaign(String),
    #[error("you are not a member of campaign `{0}`")]
    NotMember(String),
    #[error("interaction {id} is {state}; {action} needs it {needed}")]
    WrongState {
        id: InteractionId,
        state: &'static str,
        action: &'static str,
        needed: &'static str,
    },
    #[error("interaction {0} is owned by {1}, not you")]
    NotOwner(InteractionId, String),
    #[error("only a supervisor can {0}")]
    NotSupervisor(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Input(#[from] InvalidInput),
    #[error(transparent)]
    Store(Box<StoreError>),
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        OpError::Store(Box::new(e))
    }
}

impl OpError {
    /// Whether the request itself was at fault (bad input), as opposed to the storage.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, OpError::Store(_))
    }
}

pub type OpResult<T> = Result<T, OpError>;

/// Where a chat message goes.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChatTarget {
    Agent(String),
    Campaign(String),
}

/// Where a transfer sends an interaction, by name.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransferTo {
    Agent(String),
    Campaign(String),
}

/// A new campaign's settings.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CampaignSpec {
    pub name: String,
    pub channel: ChannelKind,
    pub strategy: Strategy,
    /// Agent names; empty means just the creator.
    pub members: Vec<String>,
    /// Empty means the default dispositions.
    pub dispositions: Vec<String>,
    pub fields: Vec<FormField>,
    pub capacity: u32,
    pub auto_accept: bool,
    pub sla_seconds: u32,
    pub wrapup_seconds: u32,
    pub offer_timeout_seconds: Option<u32>,
}

/// A contact's fields as typed; `None` leaves a field unchanged on edit.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ContactSpec {
    pub name: Option<String>,
    pub phones: Option<Vec<String>>,
    pub emails: Option<Vec<String>>,
    pub company: Option<String>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<String>,
}

/// A customer as a gateway (webchat, API) knows them: any of a contact id,
/// a name, an email, a phone.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct CustomerSpec {
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Only what the customer typed (a webchat visitor, whom nobody has
    /// authenticated): a phonebook entry it matches is linked as unverified,
    /// and the interaction carries the typed name and address, never the
    /// entry's.
    #[serde(default)]
    pub unverified: bool,
}

/// Which interactions a list shows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tab {
    Active,
    Pending,
    History,
}

impl std::str::FromStr for Tab {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Ok(Tab::Active),
            "pending" => Ok(Tab::Pending),
            "history" => Ok(Tab::History),
            other => Err(format!(
                "unknown tab `{other}` (expected active, pending or history)"
            )),
        }
    }
}

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
    ListCampaigns,
    ShowCampaign {
        name: String,
    },
    // --- phonebook ---
    AddContact(ContactSpec),
    EditContact {
        id: String,
        changes: ContactSpec,
    },
    DeleteContact {
        id: String,
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
        id: String,
    },
    // --- interactions ---
    NewInteraction {
        channel: ChannelKind,
        campaign: String,
        contact: Option<String>,
        to: Option<String>,
        fields: BTreeMap<String, String>,
        message: Option<String>,
    },
    Enqueue {
        campaign: String,
        contact: Option<String>,
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
    },
    /// One page of a tab (or of what matches `search` in it), in the tab's
    /// order, with how many rows the whole list holds.
    PageInteractions {
        tab: Tab,
        search: Option<String>,
        offset: usize,
        limit: usize,
    },
    ShowInteraction {
        id: String,
    },
    /// Every interaction now in a campaign, in any state and whoever owns
    /// it, with activity at or after `since`: what a webhook catch-up reads
    /// (the tabs show an agent only their own active work).
    CampaignInteractions {
        campaign: String,
        since: Millis,
    },
    Send {
        id: String,
        text: String,
    },
    /// A message from the customer (webchat, API).
    CustomerMessage {
        id: String,
        text: String,
    },
    AddNote {
        id: String,
        text: String,
    },
    AddTag {
        id: String,
        tag: String,
    },
    Finalize {
        id: String,
        disposition: String,
        note: Option<String>,
    },
    Accept {
        id: String,
    },
    Decline {
        id: String,
    },
    Transfer {
        id: String,
        to: TransferTo,
        note: Option<String>,
    },
    MarkRead {
        id: String,
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
    // --- status ---
    SetStatus {
        status: AgentStatus,
    },
    ShowStatus,
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
                | Request::ShowStatus
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
    },
    Interactions(Vec<InteractionRow>),
    InteractionPage(Page<InteractionRow>),
    Interaction(Box<InteractionDetail>),
    Explanations(Vec<routing::Explanation>),
    Chat(Box<ChatView>),
    Rooms(Vec<RoomRow>),
    Status(Box<Agent>),
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

fn create_team(
    store: &mut Store,
    ctx: &Context,
    team_name: &str,
    agent_name: &str,
    device_name: &str,
) -> OpResult<Outcome> {
    let device = store.device();
    let device = device.as_str();
    if let Some(team) = store.team()? {
        return Err(OpError::TeamExists(team.name));
    }
    let team_name = validate::required("the team name", team_name)?;
    let agent_name = validate::required("the agent name", agent_name)?;
    let now = ctx.now;
    let agent = Agent {
        id: store.new_id(),
        name: agent_name,
        status: AgentStatus::Offline,
        status_since: now,
        capacity: 0,
        status_history: vec![],
    };
    let campaign = Campaign {
        id: store.new_id(),
        name: "General".into(),
        channel: ChannelKind::Phone,
        strategy: Strategy::RingAll,
        members: vec![agent.id],
        capacity: 0,
        auto_accept: false,
        offer_timeout_seconds: Campaign::DEFAULT_OFFER_TIMEOUT_SECONDS,
        dispositions: DEFAULT_DISPOSITIONS.iter().map(|s| s.to_string()).collect(),
        fields: vec![],
        sla_seconds: 0,
        wrapup_seconds: 0,
    };
    let member = Member {
        device: device.to_string(),
        agent: agent.id,
        role: Role::Supervisor,
        device_name: device_name.to_string(),
        joined_at: now,
        revoked: false,
        revoked_at: None,
    };
    let team = Team {
        id: store.new_id(),
        name: team_name,
        created_at: now,
        members: BTreeMap::from([(device.to_string(), member)]),
        campaigns: BTreeMap::from([(campaign.id, campaign)]),
        break_reasons: DEFAULT_BREAK_REASONS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        invites: BTreeMap::new(),
        canned_responses: vec![],
        keys: Default::default(),
    };
    let identity = LocalIdentity {
        team: team.id,
        agent: agent.id,
        device: device.to_string(),
    };
    let (team_doc, agent_doc) = (DocId::Team(team.id), DocId::Agent(agent.id));
    let team_id = team.id;
    let changes = store.write_many(vec![
        DocEdit::new(team_doc, true, move |d| doc::team::create(d, &team)),
        DocEdit::new(agent_doc, true, move |d| doc::agent::create(d, &agent)),
    ])?;
    store.set_identity(&identity)?;
    done(
        Reply::Created {
            id: team_id.to_string(),
        },
        changes,
    )
}

/// Admits a device to the team with a fresh agent (the member side of a join).
/// Checks the invite: known, unexpired, not used up, not already used by this device.
pub fn admit_device(
    store: &mut Store,
    now: Millis,
    token_hash: &str,
    device: &str,
    agent_name: &str,
    device_name: &str,
) -> OpResult<(AgentId, Vec<DocChange>)> {
    let team = store.team()?.ok_or(OpError::NoTeam)?;
    let invite = team
        .invites
        .get(token_hash)
        .ok_or_else(|| OpError::Invalid("unknown invite token".into()))?;
    if now >= invite.expires_at {
        return Err(OpError::Invalid("the invite has expired".into()));
    }
    if invite.used_by.len() >= invite.max_uses as usize {
        return Err(OpError::Invalid("the invite has already been used".into()));
    }
    if invite.issuer != store.device() {
        return Err(OpError::Invalid(
            "this invite was issued by another device; join through that one".into(),
        ));
    }
    if team.members.get(device).is_some_and(|m| m.revoked) {
        return Err(OpError::Invalid("this device was revoked".into()));
    }
    let agent_name = validate::required("the agent name", agent_name)?;
    let agent = Agent {
        id: store.new_id(),
        name: agent_name,
        status: AgentStatus::Offline,
        status_since: now,
        capacity: 0,
        status_history: vec![],
    };
    let member = Member {
        device: device.to_string(),
        agent: agent.id,
        role: Role::Agent,
        device_name: device_name.to_string(),
        joined_at: now,
        revoked: false,
        revoked_at: None,
    };
    // New agents join the team's default campaign so work can reach them at once.
    let general = team.campaigns.values().min_by_key(|c| c.id).map(|c| c.id);
    let agent_id = agent.id;
    let (hash, dev) = (token_hash.to_string(), device.to_string());
    let changes = store.write_many(vec![
        DocEdit::new(DocId::Agent(agent.id), true, move |d| {
            doc::agent::create(d, &agent)
        }),
        DocEdit::new(DocId::Team(team.id), false, move |d| {
            doc::team::use_invite(d, &hash, &dev)?;
            doc::team::add_member(d, &member)?;
            if let Some(c) = general {
                doc::team::add_campaign_member(d, c, agent_id)?;
            }
            Ok(())
        }),
    ])?;
    Ok((agent_id, changes))
}

struct Executor<'s, 'c> {
    store: &'s mut Store,
    ctx: &'c Context,
    me: LocalIdentity,
    team: Team,
}

fn parse_id<T: std::str::FromStr>(what: &'static str, raw: &str) -> OpResult<T> {
    raw.trim().parse().map_err(|_| OpError::UnknownId {
        what,
        id: raw.to_string(),
    })
}

impl Executor<'_, '_> {
    fn run(&mut self, request: Request) -> OpResult<Outcome> {
        match request {
            Request::CreateTeam { .. } => Err(OpError::Invalid("unreachable".into())),
            Request::ShowTeam => {
                let agents = self.store.agents()?.into_values().collect();
                let overview = TeamOverview {
                    team: self.team.clone(),
                    agents,
                    me: self.me.clone(),
                };
                done(Reply::Team(Box::new(overview)), vec![])
            }
            Request::AddCampaign(spec) => self.add_campaign(spec),
            Request::ListCampaigns => done(
                Reply::Campaigns(self.team.campaigns.values().cloned().collect()),
                vec![],
            ),
            Request::ShowCampaign { name } => {
                let c = self.campaign(&name)?.clone();
                done(Reply::Campaign(Box::new(c)), vec![])
            }
            Request::AddContact(spec) => self.add_contact(spec),
            Request::EditContact { id, changes } => self.edit_contact(&id, changes, false),
            Request::DeleteContact { id } => self.edit_contact(&id, ContactSpec::default(), true),
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
            Request::ShowContact { id } => {
                let id: ContactId = parse_id("contact", &id)?;
                let contact = self.store.contact(id)?.ok_or(OpError::UnknownId {
                    what: "contact",
                    id: id.to_string(),
                })?;
                let interactions = self.store.contact_interactions(id)?;
                done(
                    Reply::Contact {
                        contact: Box::new(contact),
                        interactions,
                    },
                    vec![],
                )
            }
            Request::NewInteraction {
                channel,
                campaign,
                contact,
                to,
                fields,
                message,
            } => self.new_interaction(
                channel,
                &campaign,
                contact.as_deref(),
                to.as_deref(),
                fields,
                message,
            ),
            Request::Enqueue {
                campaign,
                contact,
                from,
                name,
                message,
                priority,
            } => self.enqueue(
                &campaign,
                contact.as_deref(),
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
            Request::ListInteractions { tab, search, limit } => {
                let page = self.list(
                    tab,
                    search.as_deref(),
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
            } => {
                let page = self.list(tab, search.as_deref(), offset, limit)?;
                done(Reply::InteractionPage(page), vec![])
            }
            Request::ShowInteraction { id } => {
                let detail = self.detail(&id)?;
                done(Reply::Interaction(Box::new(detail)), vec![])
            }
            Request::CampaignInteractions { campaign, since } => {
                let campaign = self.campaign(&campaign)?.id;
                let names = self.agent_names()?;
                let mut rows = Vec::new();
                for state in [BaseState::Queued, BaseState::Active, BaseState::Finalized] {
                    for s in self.store.list_interactions(state, 0, usize::MAX)? {
                        if s.campaign == campaign && s.last_activity >= since {
                            rows.push(self.row(s, &names, None)?);
                        }
                    }
                }
                done(Reply::Interactions(rows), vec![])
            }
            Request::Send { id, text } => self.send(&id, &text, false),
            Request::CustomerMessage { id, text } => self.send(&id, &text, true),
            Request::AddNote { id, text } => {
                let text = validate::message(&text)?;
                let (i, _) = self.interaction_head(&id)?;
                let note = Note {
                    agent: self.me.agent,
                    at: self.ctx.now,
                    text,
                };
                self.write_interaction(i.id, move |d| doc::interaction::add_note(d, &note))
            }
            Request::AddTag { id, tag } => {
                let tag = validate::required("the tag", &tag)?;
                let (i, _) = self.interaction_head(&id)?;
                self.write_interaction(i.id, move |d| doc::interaction::add_tag(d, &tag))
            }
            Request::Finalize {
                id,
                disposition,
                note,
            } => self.finalize(&id, &disposition, note),
            Request::Accept { id } => self.accept(&id),
            Request::Decline { id } => self.decline(&id),
            Request::Transfer { id, to, note } => self.transfer(&id, to, note),
            Request::MarkRead { id } => {
                let (i, count) = self.interaction_head(&id)?;
                self.store
                    .mark_read(&i.id.to_string(), u32::try_from(count).unwrap_or(u32::MAX))?;
                done(Reply::Done, vec![])
            }
            Request::ExplainRouting { campaign } => {
                let campaign = match campaign {
                    Some(name) => Some(self.campaign(&name)?.id),
                    None => None,
                };
                let open = self.store.open_interactions()?;
                let agents = self.store.agents()?;
                let history = self.store.agent_history(self.ctx.now)?;
                let presence = self.presence(&agents);
                let input = RoutingInput {
                    team: &self.team,
                    agents: &agents,
                    open: &open,
                    history: &history,
                    presence: &presence,
                    now: self.ctx.now,
                };
                done(
                    Reply::Explanations(routing::explain(&input, campaign)),
                    vec![],
                )
            }
            Request::ChatSend { to, text } => self.chat_send(&to, &text),
            Request::ChatShow { with } => {
                let (room, title) = self.room(&with)?;
                let messages = self.store.room_messages(room)?;
                let agent_names = self.agent_names()?;
                done(
                    Reply::Chat(Box::new(ChatView {
                        room,
                        title,
                        messages,
                        agent_names,
                    })),
                    vec![],
                )
            }
            Request::ListRooms => {
                let me = self.me.agent;
                let mut rooms = Vec::new();
                for summary in self.store.rooms()? {
                    if !summary.room.includes(me) {
                        continue;
                    }
                    // The agent's own last word means they have seen the room.
                    let unread = if summary.last_author == Some(me) {
                        0
                    } else {
                        let read = self.store.read_mark(&summary.room.key())?;
                        summary.message_count.saturating_sub(read)
                    };
                    rooms.push(RoomRow { summary, unread });
                }
                done(Reply::Rooms(rooms), vec![])
            }
            Request::MarkRoomRead { with } => {
                let (room, _) = self.room(&with)?;
                self.mark_room_read(room)?;
                done(Reply::Done, vec![])
            }
            Request::SetStatus { status } => {
                let status = match status {
                    AgentStatus::Break { reason } => AgentStatus::Break {
                        reason: reason.trim().to_string(),
                    },
                    other => other,
                };
                let at = self.ctx.now;
                let change =
                    self.store
                        .write_doc(&DocId::Agent(self.me.agent), false, move |d| {
                            doc::agent::set_status(d, &status, at)
                        })?;
                let agent = self.my_agent()?;
                done(Reply::Status(Box::new(agent)), vec![change])
            }
            Request::ShowStatus => {
                let agent = self.my_agent()?;
                done(Reply::Status(Box::new(agent)), vec![])
            }
        }
    }

    fn my_agent(&self) -> OpResult<Agent> {
        self.store.agent(self.me.agent)?.ok_or(OpError::UnknownId {
            what: "agent",
            id: self.me.agent.to_string(),
        })
    }

    fn agent_names(&self) -> OpResult<BTreeMap<AgentId, String>> {
        Ok(self
            .store
            .agents()?
            .into_iter()
            .map(|(id, a)| (id, a.name))
            .collect())
    }

    fn agent_by_name(&self, name: &str) -> OpResult<Agent> {
        if let Ok(id) = name.trim().parse::<AgentId>()
            && let Some(agent) = self.store.agent(id)?
        {
            return Ok(agent);
        }
        self.store
            .agent_by_name(name)?
            .ok_or_else(|| OpError::UnknownAgent(name.to_string()))
    }

    fn campaign(&self, name: &str) -> OpResult<&Campaign> {
        if let Ok(id) = name.trim().parse::<CampaignId>()
            && let Some(c) = self.team.campaigns.get(&id)
        {
            return Ok(c);
        }
        self.team
            .campaign_by_name(name)
            .ok_or_else(|| OpError::UnknownCampaign(name.to_string()))
    }

    /// Presence as the node reports it; without a node, only this device is live.
    fn presence(&self, agents: &BTreeMap<AgentId, Agent>) -> PresenceView {
        if let Some(p) = &self.ctx.presence {
            return p.clone();
        }
        agents
            .get(&self.me.agent)
            .map(|a| {
                let entry = PresenceEntry {
                    live: true,
                    status: a.status.clone(),
                    since: a.status_since,
                };
                BTreeMap::from([(a.id, entry)])
            })
            .unwrap_or_default()
    }

    fn add_campaign(&mut self, spec: CampaignSpec) -> OpResult<Outcome> {
        let name = validate::required("the campaign name", &spec.name)?;
        if self.team.campaign_by_name(&name).is_some() {
            return Err(OpError::DuplicateCampaign(name));
        }
        let mut members = Vec::new();
        for m in &spec.members {
            let id = self.agent_by_name(m)?.id;
            if !members.contains(&id) {
                members.push(id);
            }
        }
        if members.is_empty() {
            members.push(self.me.agent);
        }
        let mut dispositions: Vec<String> = Vec::new();
        for d in &spec.dispositions {
            let d = validate::required("a disposition", d)?;
            if !dispositions.iter().any(|x| x.eq_ignore_ascii_case(&d)) {
                dispositions.push(d);
            }
        }
        if dispositions.is_empty() {
            dispositions = DEFAULT_DISPOSITIONS.iter().map(|s| s.to_string()).collect();
        }
        for f in &spec.fields {
            validate::required("a field name", &f.name)?;
        }
        let campaign = Campaign {
            id: self.store.new_id(),
            name,
            channel: spec.channel,
            strategy: spec.strategy,
            members,
            capacity: spec.capacity,
            auto_accept: spec.auto_accept,
            offer_timeout_seconds: spec
                .offer_timeout_seconds
                .unwrap_or(Campaign::DEFAULT_OFFER_TIMEOUT_SECONDS),
            dispositions,
            fields: spec.fields,
            sla_seconds: spec.sla_seconds,
            wrapup_seconds: spec.wrapup_seconds,
        };
        let id = campaign.id;
        let change = self
            .store
            .write_doc(&DocId::Team(self.team.id), false, move |d| {
                doc::team::add_campaign(d, &campaign)
            })?;
        done(Reply::Created { id: id.to_string() }, vec![change])
    }

    fn contact_from_spec(&self, base: Contact, spec: ContactSpec) -> OpResult<Contact> {
        let mut c = base;
        if let Some(name) = spec.name {
            c.name = validate::required("the contact name", &name)?;
        }
        if let Some(phones) = spec.phones {
            c.phones = phones
                .iter()
                .map(|p| validate::phone(p))
                .collect::<Result<_, _>>()?;
        }
        if let Some(emails) = spec.emails {
            c.emails = emails
                .iter()
                .map(|e| validate::email(e))
                .collect::<Result<_, _>>()?;
        }
        if let Some(company) = spec.company {
            c.company =
                validate::bounded("the company", company.trim(), validate::MAX_FIELD_CHARS)?;
        }
        if let Some(notes) = spec.notes {
            c.notes = validate::bounded("the notes", &notes, validate::MAX_MESSAGE_CHARS)?;
        }
        if let Some(tags) = spec.tags {
            c.tags = tags
                .iter()
                .map(|t| validate::required("a tag", t))
                .collect::<Result<_, _>>()?;
        }
        Ok(c)
    }

    fn add_contact(&mut self, spec: ContactSpec) -> OpResult<Outcome> {
        if spec.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(InvalidInput::Empty("the contact name").into());
        }
        let contact = self.new_contact(spec)?;
        let id = contact.id;
        let change = self.store.write_doc(&DocId::Contact(id), true, move |d| {
            doc::contact::create(d, &contact)
        })?;
        done(Reply::Created { id: id.to_string() }, vec![change])
    }

    /// A contact not yet stored, with a fresh id, from checked fields.
    fn new_contact(&self, spec: ContactSpec) -> OpResult<Contact> {
        let now = self.ctx.now;
        let blank = Contact {
            id: self.store.new_id(),
            name: String::new(),
            phones: vec![],
            emails: vec![],
            company: String::new(),
            notes: String::new(),
            tags: BTreeSet::new(),
            custom: BTreeMap::new(),
            created_at: now,
            updated_at: now,
            deleted: false,
        };
        self.contact_from_spec(blank, spec)
    }

    fn edit_contact(&mut self, id: &str, spec: ContactSpec, delete: bool) -> OpResult<Outcome> {
        let id: ContactId = parse_id("contact", id)?;
        let existing = self.store.contact(id)?.ok_or(OpError::UnknownId {
            what: "contact",
            id: id.to_string(),
        })?;
        let mut contact = self.contact_from_spec(existing, spec)?;
        contact.updated_at = self.ctx.now;
        contact.deleted = delete;
        let change = self.store.write_doc(&DocId::Contact(id), false, move |d| {
            doc::contact::update(d, &contact)
        })?;
        done(Reply::Done, vec![change])
    }

    fn lookup_contact(&self, raw: &str) -> OpResult<Contact> {
        let id: ContactId = parse_id("contact", raw)?;
        self.store.contact(id)?.ok_or(OpError::UnknownId {
            what: "contact",
            id: raw.to_string(),
        })
    }

    /// Checks an address typed for a channel: a phone number, an email, or a handle.
    fn check_address(channel: ChannelKind, raw: &str) -> OpResult<String> {
        Ok(match channel {
            ChannelKind::Phone => validate::phone(raw)?,
            ChannelKind::Email => validate::email(raw)?,
            _ => validate::required("the address", raw)?,
        })
    }

    fn contact_address(channel: ChannelKind, c: &Contact) -> String {
        let phone = c.phones.first().cloned();
        let email = c.emails.first().cloned();
        match channel {
            ChannelKind::Phone => phone.or(email),
            _ => email.or(phone),
        }
        .unwrap_or_else(|| c.name.clone())
    }

    fn new_interaction(
        &mut self,
        channel: ChannelKind,
        campaign: &str,
        contact: Option<&str>,
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
                let c = self.lookup_contact(c)?;
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
                return Err(OpError::Invalid(
                    "give a contact (--contact ID) or an address (--to)".into(),
                ));
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
            subject,
            fields,
            priority: 0,
            enqueued_at: now,
            created_at: now,
            created_by: Some(me),
            messages: message
                .into_iter()
                .map(|body| Message {
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
    fn check_fields(
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

    fn enqueue(
        &mut self,
        campaign: &str,
        contact: Option<&str>,
        from: Option<&str>,
        name: Option<&str>,
        message: Option<String>,
        priority: i32,
    ) -> OpResult<Outcome> {
        let campaign = self.campaign(campaign)?.clone();
        let channel = campaign.channel;
        let (contact, address, contact_name) = match (contact, from) {
            (Some(c), _) => {
                let c = self.lookup_contact(c)?;
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
                return Err(OpError::Invalid(
                    "give a contact (--contact ID) or an address (--from)".into(),
                ));
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
    fn queued_interaction(
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
            subject: String::new(),
            fields: BTreeMap::new(),
            priority,
            enqueued_at: now,
            created_at: now,
            created_by: None,
            messages: message
                .into_iter()
                .map(|body| Message {
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

    /// The phonebook entry a gateway's customer is: by id, email, then phone.
    fn known_customer(&self, customer: &CustomerSpec) -> OpResult<Option<Contact>> {
        if let Some(id) = &customer.id {
            return self.lookup_contact(id).map(Some);
        }
        if let Some(email) = &customer.email
            && let Some(c) = self.store.contacts_by_email(email)?.into_iter().next()
        {
            return Ok(Some(c));
        }
        if let Some(phone) = &customer.phone {
            let digits = |p: &str| p.chars().filter(char::is_ascii_digit).collect::<String>();
            let want = digits(phone);
            let found = self
                .store
                .search_contacts_page(phone, 0, CUSTOMER_MATCHES)?;
            return Ok(found
                .rows
                .into_iter()
                .find(|c| c.phones.iter().any(|p| digits(p) == want)));
        }
        Ok(None)
    }

    fn intake(
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
            id: blank(&customer.id),
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
    fn interaction_head(&mut self, raw: &str) -> OpResult<(Interaction, usize)> {
        let id: InteractionId = parse_id("interaction", raw)?;
        match self.store.interaction_head(id) {
            Ok(i) => Ok(i),
            Err(StoreError::NotFound(_)) => Err(OpError::UnknownId {
                what: "interaction",
                id: raw.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn interaction(&mut self, raw: &str) -> OpResult<Interaction> {
        let id: InteractionId = parse_id("interaction", raw)?;
        match self.store.interaction(id) {
            Ok(i) => Ok(i),
            Err(StoreError::NotFound(_)) => Err(OpError::UnknownId {
                what: "interaction",
                id: raw.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn write_interaction(
        &mut self,
        id: InteractionId,
        edit: impl FnOnce(&mut automerge::AutoCommit) -> Result<(), doc::DocError>,
    ) -> OpResult<Outcome> {
        let change = self.store.write_doc(&DocId::Interaction(id), false, edit)?;
        done(Reply::Done, vec![change])
    }

    fn name_of(&self, agent: AgentId) -> String {
        self.store
            .agent(agent)
            .ok()
            .flatten()
            .map(|a| a.name)
            .unwrap_or_else(|| agent.to_string())
    }

    fn require_owner(&self, i: &Interaction, action: &'static str) -> OpResult<()> {
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

    fn send(&mut self, raw: &str, text: &str, from_customer: bool) -> OpResult<Outcome> {
        let body = validate::message(text)?;
        let (i, count) = self.interaction_head(raw)?;
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

    fn finalize(
        &mut self,
        raw: &str,
        disposition: &str,
        note: Option<String>,
    ) -> OpResult<Outcome> {
        let (i, _) = self.interaction_head(raw)?;
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

    fn accept(&mut self, raw: &str) -> OpResult<Outcome> {
        let (i, count) = self.interaction_head(raw)?;
        let state = i.state_at(self.ctx.now);
        if state != InteractionState::Queued {
            if let Some(owner) = i.owner().filter(|_| state == InteractionState::Active) {
                if owner.agent == self.me.agent {
                    return Err(OpError::Invalid(format!(
                        "interaction {} is already yours",
                        i.id
                    )));
                }
                return Err(OpError::Invalid(format!(
                    "interaction {} was already taken by {}",
                    i.id,
                    self.name_of(owner.agent)
                )));
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

    fn decline(&mut self, raw: &str) -> OpResult<Outcome> {
        let (i, _) = self.interaction_head(raw)?;
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

    fn transfer(&mut self, raw: &str, to: TransferTo, note: Option<String>) -> OpResult<Outcome> {
        let (i, _) = self.interaction_head(raw)?;
        self.require_owner(&i, "transferring")?;
        let target = match &to {
            TransferTo::Agent(name) => {
                let agent = self.agent_by_name(name)?;
                if agent.id == self.me.agent {
                    return Err(OpError::Invalid(
                        "you cannot transfer an interaction to yourself".into(),
                    ));
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
        };
        self.write_interaction(i.id, move |d| doc::interaction::add_transfer(d, &t))
    }

    fn room(&self, target: &ChatTarget) -> OpResult<(RoomKey, String)> {
        match target {
            ChatTarget::Agent(name) => {
                let agent = self.agent_by_name(name)?;
                if agent.id == self.me.agent {
                    return Err(OpError::Invalid("you cannot chat with yourself".into()));
                }
                Ok((RoomKey::direct(self.me.agent, agent.id), agent.name))
            }
            ChatTarget::Campaign(name) => {
                let c = self.campaign(name)?;
                if !c.has_member(self.me.agent) {
                    return Err(OpError::NotMember(c.name.clone()));
                }
                Ok((RoomKey::Campaign { campaign: c.id }, format!("#{}", c.name)))
            }
        }
    }

    fn chat_send(&mut self, to: &ChatTarget, text: &str) -> OpResult<Outcome> {
        let body = validate::message(text)?;
        let (room, _) = self.room(to)?;
        let m = ChatMessage {
            id: self.store.new_id(),
            author: self.me.agent,
            at: self.ctx.now,
            body,
        };
        let id = m.id;
        let change = self
            .store
            .write_doc(&DocId::room_at(room, m.at), true, move |d| {
                doc::room::add_message(d, &m)
            })?;
        // Who writes in a room has read it.
        self.mark_room_read(room)?;
        done(Reply::Created { id: id.to_string() }, vec![change])
    }

    fn mark_room_read(&mut self, room: RoomKey) -> OpResult<()> {
        let count = self.store.room_message_count(room)?;
        self.store.mark_read(&room.key(), count)?;
        Ok(())
    }

    fn row(
        &self,
        s: InteractionSummary,
        names: &BTreeMap<AgentId, String>,
        offer: Option<&routing::Offer>,
    ) -> OpResult<InteractionRow> {
        let read = self.store.read_mark(&s.id.to_string())?;
        Ok(InteractionRow {
            state: s.state_at(self.ctx.now),
            campaign_name: self
                .team
                .campaigns
                .get(&s.campaign)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            owner_name: s.owner.and_then(|o| names.get(&o).cloned()),
            unread: s.message_count.saturating_sub(read),
            offer: offer.map(|o| o.kind),
            offer_expires_at: offer.and_then(|o| o.expires_at),
            summary: s,
        })
    }

    fn contact_page(
        &mut self,
        search: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> OpResult<Page<Contact>> {
        Ok(match search.map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) => self.store.search_contacts_page(q, offset, limit)?,
            None => self.store.contacts_page(offset, limit)?,
        })
    }

    fn list(
        &mut self,
        tab: Tab,
        search: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> OpResult<Page<InteractionRow>> {
        let names = self.agent_names()?;
        let query = search.map(str::trim).filter(|q| !q.is_empty());
        let me = self.me.agent;
        let page = match tab {
            // Only this agent's own: the per-owner index and the search's
            // owner filter never read anyone else's rows.
            Tab::Active => match query {
                Some(q) => {
                    let ids =
                        self.store
                            .search_page(SearchScope::Active, q, Some(me), offset, limit)?;
                    self.store.page_summaries(ids)?
                }
                None => self.store.active_page_of(me, offset, limit)?,
            },
            Tab::History => match query {
                Some(q) => {
                    let ids =
                        self.store
                            .search_page(SearchScope::History, q, None, offset, limit)?;
                    self.store.page_summaries(ids)?
                }
                None => self
                    .store
                    .interaction_page(BaseState::Finalized, offset, limit)?,
            },
            Tab::Pending => {
                let open = self.store.open_interactions()?;
                let agents = self.store.agents()?;
                let history = self.store.agent_history(self.ctx.now)?;
                let presence = self.presence(&agents);
                let input = RoutingInput {
                    team: &self.team,
                    agents: &agents,
                    open: &open,
                    history: &history,
                    presence: &presence,
                    now: self.ctx.now,
                };
                let routing = routing::route(&input);
                let matches: Option<BTreeSet<String>> = match query {
                    Some(q) => Some(
                        self.store
                            .search(SearchScope::Pending, q, usize::MAX)?
                            .into_iter()
                            .collect(),
                    ),
                    None => None,
                };
                let pending: Vec<&InteractionSummary> = routing
                    .pending_for(me, &self.team, &open)
                    .into_iter()
                    .filter(|s| {
                        matches
                            .as_ref()
                            .is_none_or(|m| m.contains(&s.id.to_string()))
                    })
                    .collect();
                let total = pending.len();
                let rows = pending
                    .into_iter()
                    .skip(offset)
                    .take(limit)
                    .map(|s| {
                        let offer = routing.offer_for(s.id);
                        self.row(s.clone(), &names, offer)
                    })
                    .collect::<OpResult<Vec<_>>>()?;
                return Ok(Page {
                    rows,
                    offset,
                    total,
                });
            }
        };
        page.try_map(|s| self.row(s, &names, None))
    }

    fn detail(&mut self, raw: &str) -> OpResult<InteractionDetail> {
        let interaction = self.interaction(raw)?;
        let names = self.agent_names()?;
        let contact = match interaction.contact {
            Some(c) => self.store.contact(c)?,
            None => None,
        };
        Ok(InteractionDetail {
            state: interaction.state_at(self.ctx.now),
            campaign: self.team.campaigns.get(&interaction.campaign()).cloned(),
            owner: interaction.owner().map(|c| c.agent),
            lost_claims: interaction.losing_claimants(),
            agent_names: names,
            contact,
            interaction,
        })
    }
}
