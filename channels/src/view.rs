//! The JSON shapes the gateways show: stable, documented in the OpenAPI
//! document, and independent of the model's internal types.

use std::collections::BTreeMap;

use meshdesk_model::ops::{InteractionDetail, InteractionRow};
use meshdesk_model::projection::InteractionSummary;
use meshdesk_model::{
    AgentId, Author, Campaign, CampaignId, Contact, InteractionState, Message, Millis,
};
use serde::{Deserialize, Serialize};

/// Who wrote a message, as the API shows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthorKind {
    Customer,
    Agent,
    System,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ApiMessage {
    pub id: String,
    pub author: AuthorKind,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub at: Millis,
    /// Plain text, never markup.
    pub body: String,
    /// The files it carries.
    pub files: Vec<crate::http::ApiFile>,
}

impl ApiMessage {
    pub fn new(m: &Message, names: &BTreeMap<AgentId, String>) -> Self {
        let (author, agent) = match m.author {
            Author::Agent(a) => (AuthorKind::Agent, Some(a)),
            Author::Contact => (AuthorKind::Customer, None),
            Author::System => (AuthorKind::System, None),
        };
        ApiMessage {
            id: m.id.to_string(),
            author,
            agent_id: agent.map(|a| a.to_string()),
            agent_name: agent.map(|a| names.get(&a).cloned().unwrap_or_else(|| a.to_string())),
            at: m.at,
            body: m.body.clone(),
            files: m.attachments.iter().map(Into::into).collect(),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ApiDisposition {
    pub disposition: String,
    pub note: String,
    pub at: Millis,
    pub agent_name: String,
}

/// One interaction with its messages.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ApiInteraction {
    pub id: String,
    pub campaign_id: String,
    pub campaign: String,
    pub channel: String,
    pub direction: String,
    pub state: InteractionState,
    pub contact_id: Option<String>,
    pub contact_name: String,
    /// The contact is only who a webchat visitor said they were.
    pub contact_unverified: bool,
    pub address: String,
    pub priority: i32,
    pub created_at: Millis,
    pub enqueued_at: Millis,
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub finalized: Option<ApiDisposition>,
    pub tags: Vec<String>,
    pub messages: Vec<ApiMessage>,
}

fn name_of(names: &BTreeMap<AgentId, String>, id: AgentId) -> String {
    names.get(&id).cloned().unwrap_or_else(|| id.to_string())
}

impl ApiInteraction {
    pub fn new(d: &InteractionDetail) -> Self {
        let i = &d.interaction;
        let names = &d.agent_names;
        ApiInteraction {
            id: i.id.to_string(),
            campaign_id: i.campaign().to_string(),
            campaign: d
                .campaign
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            channel: i.channel.to_string(),
            direction: i.direction.to_string(),
            state: d.state,
            contact_id: i.contact.map(|c| c.to_string()),
            contact_name: i.contact_name.clone(),
            contact_unverified: i.contact_unverified,
            address: i.address.clone(),
            priority: i.priority,
            created_at: i.created_at,
            enqueued_at: i.enqueued_at,
            owner_id: d.owner.map(|a| a.to_string()),
            owner_name: d.owner.map(|a| name_of(names, a)),
            finalized: i.finalization.as_ref().map(|f| ApiDisposition {
                disposition: f.disposition.clone(),
                note: f.note.clone(),
                at: f.at,
                agent_name: name_of(names, f.agent),
            }),
            tags: i.tags.iter().cloned().collect(),
            messages: i
                .messages_in_order()
                .into_iter()
                .map(|m| ApiMessage::new(m, names))
                .collect(),
        }
    }
}

/// One interaction as a list shows it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ApiInteractionRow {
    pub id: String,
    pub campaign_id: String,
    pub campaign: String,
    pub channel: String,
    pub state: InteractionState,
    pub contact_id: Option<String>,
    pub contact_name: String,
    pub address: String,
    pub owner_name: Option<String>,
    pub message_count: u32,
    pub last_message_preview: String,
    pub last_activity: Millis,
    pub enqueued_at: Millis,
}

impl ApiInteractionRow {
    pub fn from_row(r: &InteractionRow) -> Self {
        let mut row = Self::from_summary(&r.summary, r.state, &BTreeMap::new());
        row.campaign = r.campaign_name.clone();
        row.owner_name = r.owner_name.clone();
        row
    }

    pub fn from_summary(
        s: &InteractionSummary,
        state: InteractionState,
        campaigns: &BTreeMap<CampaignId, Campaign>,
    ) -> Self {
        ApiInteractionRow {
            id: s.id.to_string(),
            campaign_id: s.campaign.to_string(),
            campaign: campaigns
                .get(&s.campaign)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            channel: s.channel.to_string(),
            state,
            contact_id: s.contact.map(|c| c.to_string()),
            contact_name: s.contact_name.clone(),
            address: s.address.clone(),
            owner_name: None,
            message_count: s.message_count,
            last_message_preview: s.last_message_preview.clone(),
            last_activity: s.last_activity,
            enqueued_at: s.enqueued_at,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ApiContact {
    pub id: String,
    pub name: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub company: String,
    pub tags: Vec<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl From<&Contact> for ApiContact {
    fn from(c: &Contact) -> Self {
        ApiContact {
            id: c.id.to_string(),
            name: c.name.clone(),
            emails: c.emails.clone(),
            phones: c.phones.clone(),
            company: c.company.clone(),
            tags: c.tags.iter().cloned().collect(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ApiContactDetail {
    #[serde(flatten)]
    pub contact: ApiContact,
    pub interactions: Vec<ApiInteractionRow>,
    /// The ids of the contacts merged into this one.
    #[serde(default)]
    pub merged_from: Vec<String>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ApiCampaign {
    pub id: String,
    pub name: String,
    pub channel: String,
    pub webhook_url: Option<String>,
}

/// A canned response: its `/code`, its body with `{placeholders}` unfilled,
/// and the campaign it is offered in (`None`: every campaign).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ApiCanned {
    pub id: String,
    pub code: String,
    pub body: String,
    pub campaign: Option<String>,
}

// ---- webchat -----------------------------------------------------------------

/// Who wrote a message, as the visitor sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChatAuthor {
    Visitor,
    Agent,
    System,
}

/// A message as the visitor sees it: agents by name only.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: String,
    pub author: ChatAuthor,
    pub name: Option<String>,
    pub at: Millis,
    pub body: String,
    /// The files it carries (fetched with the visitor's token).
    pub files: Vec<crate::http::ApiFile>,
}

impl ChatMessage {
    pub fn new(m: &Message, names: &BTreeMap<AgentId, String>) -> Self {
        let (author, name) = match m.author {
            Author::Agent(a) => (ChatAuthor::Agent, Some(name_of(names, a))),
            Author::Contact => (ChatAuthor::Visitor, None),
            Author::System => (ChatAuthor::System, None),
        };
        ChatMessage {
            id: m.id.to_string(),
            author,
            name,
            at: m.at,
            body: m.body.clone(),
            files: m.attachments.iter().map(Into::into).collect(),
        }
    }
}

/// Where a chat is, as the visitor sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChatState {
    /// Waiting for an agent.
    Waiting,
    /// An agent has joined.
    Active,
    /// Finalized: no more messages.
    Closed,
}

impl From<InteractionState> for ChatState {
    fn from(s: InteractionState) -> Self {
        match s {
            InteractionState::Queued => ChatState::Waiting,
            InteractionState::Active => ChatState::Active,
            InteractionState::WrapUp | InteractionState::Closed => ChatState::Closed,
        }
    }
}

/// A whole conversation as the visitor sees it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Transcript {
    pub interaction: String,
    pub campaign: String,
    pub visitor_name: String,
    pub state: ChatState,
    /// The agent who has the chat now.
    pub agent: Option<String>,
    pub messages: Vec<ChatMessage>,
}

impl Transcript {
    pub fn new(d: &InteractionDetail) -> Self {
        let i = &d.interaction;
        Transcript {
            interaction: i.id.to_string(),
            campaign: d
                .campaign
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            visitor_name: i.contact_name.clone(),
            state: d.state.into(),
            agent: d.owner.map(|a| name_of(&d.agent_names, a)),
            messages: i
                .messages_in_order()
                .into_iter()
                .map(|m| ChatMessage::new(m, &d.agent_names))
                .collect(),
        }
    }
}
