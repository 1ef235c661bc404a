//! What the gateways need from the node, as a trait.
//!
//! The gateways talk to the node only: every read and write is a
//! [`Request`](meshdesk_model::ops::Request) sent through [`Client::call`]
//! (or one of its typed calls), and what changed comes back as
//! [`Event`]s. [`crate::NodeBackend`] implements it for the node's handle.

use meshdesk_model::blobs::BlobHash;
use meshdesk_model::doc::DocId;
use meshdesk_model::ops::{Client, OpError, UnexpectedReply};
use meshdesk_model::store::DocChange;
use meshdesk_model::{AgentId, InteractionId};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// How a refused or failed request should be reported to an HTTP client.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// An unknown campaign, interaction, contact or agent (404).
    NotFound,
    /// The request itself is wrong: a blank message, a malformed email (400).
    Invalid,
    /// The request is fine but the interaction is not in a state that allows it (409).
    Conflict,
    /// The node cannot serve requests now: stopped, or no team yet (503).
    Unavailable,
    /// Storage or another internal failure (500).
    Internal,
}

/// A request the node refused or could not carry out.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    pub kind: ErrorKind,
    /// One line, meant for the client (except for [`ErrorKind::Internal`], which is logged).
    pub message: String,
}

impl BackendError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        BackendError {
            kind,
            message: message.into(),
        }
    }

    /// The node is gone (its actor stopped).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
}

impl From<&OpError> for ErrorKind {
    fn from(e: &OpError) -> Self {
        match e {
            OpError::UnknownCampaign(_) | OpError::UnknownAgent(_) | OpError::UnknownId { .. } => {
                ErrorKind::NotFound
            }
            OpError::WrongState { .. }
            | OpError::NotOwner(..)
            | OpError::TeamExists(_)
            | OpError::DuplicateCampaign(_) => ErrorKind::Conflict,
            OpError::NoTeam => ErrorKind::Unavailable,
            OpError::Store(_) => ErrorKind::Internal,
            _ => ErrorKind::Invalid,
        }
    }
}

/// A reply of the wrong kind: the node's fault, logged, never the client's.
impl From<UnexpectedReply> for BackendError {
    fn from(e: UnexpectedReply) -> Self {
        Self::new(ErrorKind::Internal, e.to_string())
    }
}

impl From<OpError> for BackendError {
    fn from(e: OpError) -> Self {
        BackendError {
            kind: ErrorKind::from(&e),
            message: e.to_string(),
        }
    }
}

/// Who is typing in an interaction.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum Typist {
    Agent(AgentId),
    Visitor,
}

/// An ephemeral typing indicator (DESIGN §5: never stored).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Typing {
    pub interaction: InteractionId,
    pub who: Typist,
}

/// Something the gateways react to.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Event {
    /// A document changed, by a local request or by sync from a peer.
    Changed(DocChange),
    /// Someone is typing (from this node's GUI, a peer, or a visitor).
    Typing(Typing),
    /// Events may have been missed (an adapter's own subscription lagged):
    /// whoever watches something re-reads it.
    Resync,
}

impl Event {
    /// The interaction this event is about, if any.
    pub fn interaction(&self) -> Option<InteractionId> {
        match self {
            Event::Changed(change) => match change.doc_id {
                DocId::Interaction(id) => Some(id),
                _ => None,
            },
            Event::Resync => None,
            Event::Typing(t) => Some(t.interaction),
        }
    }
}

/// The node, as the gateways see it.
///
/// Implementations must be cheap to clone (a handle) and must broadcast an
/// [`Event::Changed`] for every document a request or sync changed, after the
/// change is durable and visible to [`Client::call`], which carries out a
/// request as the node's own agent.
pub trait Backend: Client<Error = BackendError> + Clone + Send + Sync + 'static {
    /// A new subscription to what changes from now on.
    fn events(&self) -> broadcast::Receiver<Event>;

    /// Publishes an ephemeral typing indicator (a visitor typing). The node
    /// forwards it to its peers and echoes it on [`Backend::events`].
    fn typing(&self, typing: Typing);

    /// The largest file the node takes (its `files.json`, 20 MiB by default).
    fn file_limit(&self) -> u64;

    /// Stores a file in the node's blobs (content-addressed); a message
    /// may then name it ([`meshdesk_model::ops::Request::SendFiles`]).
    fn put_file(
        &self,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<BlobHash, BackendError>> + Send;

    /// The bytes of a file, fetched from a teammate first if this node
    /// lacks it, checked against their hash.
    fn file(&self, hash: BlobHash) -> impl Future<Output = Result<Vec<u8>, BackendError>> + Send;
}
